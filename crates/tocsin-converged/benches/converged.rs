//! Enrichment + presence + every converged detector over a stream of mixed events, for an
//! organisation of 100,000 people and 20,000 assets generated here.
//!
//! `cargo bench -p tocsin-converged --bench converged` prints the organisation's memory (resident
//! set before and after building it, from /proc/self/statm) and criterion's events per second on
//! one core (the detect stage is one task). `TOCSIN_BENCH_EVENTS` changes the stream length.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tocsin_converged::{Converged, ConvergedConfig};
use tocsin_detect::Detector;
use tocsin_model::{Domain, Enricher, Event, Geo, Severity};
use tocsin_org::model::*;
use tocsin_org::{Org, OrgEnricher, OrgFiles, OrgHandle};

const PEOPLE: usize = 100_000;
const ASSETS: usize = 20_000;
const SITES: usize = 200;

fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn site_id(i: usize) -> String {
    format!("site-{i:03}")
}

fn build_org() -> Org {
    let sites = (0..SITES)
        .map(|i| Site {
            id: site_id(i),
            name: format!("Site {i}"),
            country: Some("FR".into()),
            address: None,
            location: Geo::point(40.0 + (i % 20) as f64 * 0.7, -5.0 + (i / 20) as f64 * 2.5),
            geofence: None,
            criticality: Criticality::Medium,
            aliases: vec![],
            entrances: vec![format!("S{i}-IN")],
            exits: vec![format!("S{i}-OUT")],
            zones: vec![
                Zone {
                    id: format!("s{i}-office"),
                    name: "Office".into(),
                    sensitivity: Sensitivity::Internal,
                    portals: vec![format!("S{i}-OFFICE")],
                    readers: vec![],
                },
                Zone {
                    id: format!("s{i}-server"),
                    name: "Server room".into(),
                    sensitivity: Sensitivity::ServerRoom,
                    portals: vec![format!("S{i}-SRV")],
                    readers: vec![],
                },
                Zone {
                    id: format!("s{i}-secure"),
                    name: "Secure room".into(),
                    sensitivity: Sensitivity::Classified,
                    portals: vec![format!("S{i}-SEC")],
                    readers: vec![],
                },
            ],
        })
        .collect();
    let people = (0..PEOPLE)
        .map(|i| Person {
            id: format!("p{i}"),
            name: format!("Person {i}"),
            badges: vec![format!("B{i:06X}")],
            accounts: vec![format!("CORP\\user{i}")],
            email: Some(format!("user{i}@example.com")),
            devices: vec![Device {
                host: Some(format!("WS-{i:06}")),
                ip: Some(format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)),
            }],
            home_site: Some(site_id(i % SITES)),
            team: None,
            status: if i % 97 == 0 {
                Status {
                    state: State::Terminated,
                    from: "2025-01-01".parse().ok(),
                    until: None,
                }
            } else {
                Status::default()
            },
            travel: vec![],
        })
        .collect();
    let kinds = [
        AssetKind::Server,
        AssetKind::Switch,
        AssetKind::Camera,
        AssetKind::BadgeReader,
        AssetKind::DoorController,
        AssetKind::AlarmPanel,
        AssetKind::Iot,
        AssetKind::Router,
    ];
    let assets = (0..ASSETS)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let site = i % SITES;
            Asset {
                id: format!("a{i}"),
                name: None,
                kind,
                vendor: Some("Vistacam".into()),
                product: Some(format!("M{}", i % 50)),
                version: Some("1.0".into()),
                cpe: None,
                site: Some(site_id(site)),
                zone: Some(format!("s{site}-server")),
                owner: None,
                criticality: if i % 3 == 0 {
                    Criticality::Critical
                } else {
                    Criticality::Medium
                },
                hosts: vec![format!("AS-{i:05}")],
                addresses: vec![format!("172.16.{}.{}", i / 256, i % 256)],
                aliases: vec![],
            }
        })
        .collect();
    let network = NetworkFile {
        networks: vec![Network {
            cidr: "203.0.113.0/24".into(),
            site: None,
            place: Some("Lagos".into()),
            country: Some("NG".into()),
            location: Some(Geo::point(6.52, 3.38)),
        }],
        countries: vec![],
    };
    let files = OrgFiles {
        sites: SitesFile { sites },
        people: PeopleFile { people },
        assets: AssetsFile { assets },
        teams: TeamsFile::default(),
        network,
    };
    Org::build(files, None).expect("the generated organisation is valid")
}

fn base(time: DateTime<Utc>, domain: Domain, class: &str, activity: &str) -> Event {
    let v = json!({"time": time.to_rfc3339(), "domain": domain.as_str(), "class": class, "activity": activity});
    let ctx = tocsin_model::IngestContext {
        source: "bench",
        tenant: "default",
        domain: None,
        ingested: time,
        id: ulid::Ulid::new(),
        limits: tocsin_model::Limits::default(),
    };
    Event::from_value(v, &ctx).expect("valid event")
}

/// A deterministic mix: badge passages (45 %), logons (25 %), network traffic (20 %), door and
/// device events (9 %), vulnerability entries (1 %).
fn stream(n: usize) -> Vec<Event> {
    let start: DateTime<Utc> = "2026-05-04T06:00:00Z".parse().expect("time");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let t = start + Duration::milliseconds(i as i64 * 20);
            let r = next();
            let p = (r % PEOPLE as u64) as usize;
            let site = p % SITES;
            let roll = (r >> 32) % 100;
            let mut e;
            match roll {
                0..=44 => {
                    let portals = [
                        format!("S{site}-IN"),
                        format!("S{site}-OFFICE"),
                        format!("S{site}-SRV"),
                        format!("S{site}-SEC"),
                        format!("S{site}-OUT"),
                    ];
                    let act = if roll % 15 == 0 { "denied" } else { "granted" };
                    e = base(t, Domain::Physical, "physical_access", act);
                    e.badge = Some(format!("B{p:06X}"));
                    e.portal = Some(portals[(r >> 40) as usize % portals.len()].clone());
                }
                45..=69 => {
                    e = base(t, Domain::Cyber, "authentication", "logon");
                    e.user = Some(format!("user{p}"));
                    e.host = Some(format!("WS-{p:06}"));
                    e.src_ip = Some(if roll == 45 {
                        "203.0.113.9".into()
                    } else {
                        format!("10.{}.{}.{}", p / 65536, (p / 256) % 256, p % 256)
                    });
                    e.fields.insert(
                        "LogonType".into(),
                        Value::from(if roll % 2 == 0 { 2 } else { 3 }),
                    );
                }
                70..=89 => {
                    e = base(t, Domain::Cyber, "network_activity", "traffic");
                    e.host = Some(format!("WS-{p:06}"));
                    e.dst_ip = Some(format!("172.16.{}.{}", (r >> 20) % 78, (r >> 28) % 256));
                }
                90..=93 => {
                    e = base(
                        t,
                        Domain::Physical,
                        "physical_access",
                        if roll == 90 { "forced" } else { "tailgate" },
                    );
                    e.portal = Some(format!("S{site}-SRV"));
                }
                94..=98 => {
                    let a = (r >> 16) as usize % ASSETS;
                    e = base(
                        t,
                        if roll < 96 {
                            Domain::Physical
                        } else {
                            Domain::Cyber
                        },
                        "device_status",
                        if roll < 96 { "offline" } else { "change" },
                    );
                    e.asset = Some(format!("AS-{a:05}"));
                }
                _ => {
                    e = base(t, Domain::Public, "vulnerability", "published");
                    e.fields.insert(
                        "cve".into(),
                        Value::from(format!("CVE-2026-{}", r % 10_000)),
                    );
                    e.fields.insert("vendor".into(), Value::from("Vistacam"));
                    e.fields
                        .insert("product".into(), Value::from(format!("M{}", r % 50)));
                    e.fields.insert("version".into(), Value::from("1.0"));
                }
            }
            e.severity = Severity::LOW;
            e
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("TOCSIN_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let before = resident_bytes();
    let org = build_org();
    let after = resident_bytes();
    eprintln!(
        "organisation: {PEOPLE} people, {ASSETS} assets, {SITES} sites: resident {:.1} MiB before, {:.1} MiB after, {:.1} MiB for the model",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        after.saturating_sub(before) as f64 / 1048576.0
    );
    let handle = Arc::new(OrgHandle::new(org, None));
    let enricher = OrgEnricher::new(handle.clone());
    let events = stream(n);
    let cfg = ConvergedConfig::default();

    let mut group = c.benchmark_group("converged");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("enrich+presence+detect/{n}"), |b| {
        b.iter_batched(
            || Converged::new(&cfg, handle.clone(), Converged::presence_book(&cfg)),
            |mut det| {
                let mut out = Vec::new();
                let mut alerts = 0usize;
                for e in &events {
                    let mut e = e.clone();
                    enricher.enrich(&mut e);
                    det.on_event(&e, &mut out);
                    alerts += out.len();
                    out.clear();
                }
                alerts
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
    eprintln!(
        "resident after the run: {:.1} MiB",
        resident_bytes() as f64 / 1048576.0
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
