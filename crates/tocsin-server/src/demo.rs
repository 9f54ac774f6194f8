//! `tocsin demo`: a built-in configuration and a feeder that plays a realistic, mixed stream of
//! cyber, physical and public events into the pipeline, with incidents woven in so that alerts
//! keep arriving.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tocsin_model::{Event, IngestContext, Limits};
use tocsin_sources::{Health, Sink, Source, SourceCounters, SourceInfo, SourceStatus};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

use crate::config::{Config, ConfigErrors};

/// The demo's `tocsin.toml`.
pub const DEMO_CONFIG: &str = include_str!("demo/tocsin.toml");

/// Name of the feeder's source in events and metrics.
pub const DEMO_SOURCE: &str = "demo-feed";

/// The demo configuration, parsed.
pub fn demo_config() -> Result<Config, ConfigErrors> {
    Config::parse(DEMO_CONFIG, Path::new("<built-in demo>/tocsin.toml"))
}

struct Site {
    id: &'static str,
    name: &'static str,
    lat: f64,
    lon: f64,
    portals: &'static [&'static str],
    zones: &'static [&'static str],
}

const SITES: &[Site] = &[
    Site {
        id: "hq-paris",
        name: "Paris HQ",
        lat: 48.8925,
        lon: 2.2369,
        portals: &["HQ-LOBBY-1", "HQ-LOBBY-2", "HQ-GARAGE", "HQ-EXEC-FLOOR"],
        zones: &["hq-lobby", "hq-office", "hq-exec"],
    },
    Site {
        id: "dc-frankfurt",
        name: "Frankfurt data centre",
        lat: 50.1109,
        lon: 8.6821,
        portals: &["DC-MANTRAP", "DC-SRV-ROOM-A", "DC-SRV-ROOM-B", "DC-LOADING"],
        zones: &["dc-reception", "dc-server-room", "dc-loading-bay"],
    },
    Site {
        id: "office-london",
        name: "London office",
        lat: 51.5155,
        lon: -0.0922,
        portals: &["LON-MAIN", "LON-SIDE", "LON-COMMS"],
        zones: &["lon-office", "lon-comms-room"],
    },
];

const PEOPLE: &[(&str, &str, &str)] = &[
    ("Amélie Durand", "adurand", "0x3F21A9"),
    ("Jonas Becker", "jbecker", "0x3F21B2"),
    ("Priya Shah", "pshah", "0x3F21C7"),
    ("Tom Okafor", "tokafor", "0x3F21D0"),
    ("Léa Martin", "lmartin", "0x3F21E4"),
    ("Max Weber", "mweber", "0x3F21F1"),
    ("Sofia Rossi", "srossi", "0x3F2203"),
    ("Daniel Kim", "dkim", "0x3F2219"),
    ("Hannah Schulz", "hschulz", "0x3F2224"),
    ("Olivier Petit", "opetit", "0x3F2230"),
    ("Grace Adeyemi", "gadeyemi", "0x3F2241"),
    ("Lukas Braun", "lbraun", "0x3F2257"),
];

const HOSTS: &[&str] = &[
    "WS-PAR-0142",
    "WS-PAR-0177",
    "WS-LON-0031",
    "SRV-FRA-FILE01",
    "SRV-FRA-DB02",
    "SRV-FRA-AD01",
    "WS-FRA-0009",
];

const NEWS: &[(&str, &str, u8)] = &[
    (
        "protest",
        "Large demonstration gathering near La Défense, roads closed",
        4,
    ),
    (
        "fire",
        "Fire reported in a warehouse close to the Frankfurt Ostend data centre district",
        4,
    ),
    (
        "transport",
        "Tube line suspended after a signalling failure in the City of London",
        3,
    ),
    (
        "weather",
        "Severe thunderstorm warning issued for Hesse this evening",
        4,
    ),
    (
        "outage",
        "Power cut affecting parts of Puteaux and Courbevoie",
        4,
    ),
    (
        "cyber",
        "Ransomware group claims attack on a European logistics firm",
        3,
    ),
];

const THREATS: &[&str] = &[
    "Trojan:Win32/Emotet",
    "Ransom:Win32/LockBit",
    "HackTool:Win32/Mimikatz",
];

/// The demo's event generator, run as a source so that it shows in `/api/v1/sources` and in the
/// per-source metrics like any other.
#[derive(Debug)]
pub struct DemoSource {
    info: SourceInfo,
    counters: Arc<SourceCounters>,
    seed: u64,
}

impl DemoSource {
    pub fn new(seed: u64) -> Self {
        Self {
            info: SourceInfo {
                name: DEMO_SOURCE.to_owned(),
                kind: "generator",
                domain: tocsin_model::Domain::Physical,
                tenant: tocsin_model::DEFAULT_TENANT.to_owned(),
            },
            counters: Arc::default(),
            seed,
        }
    }
}

#[async_trait::async_trait]
impl Source for DemoSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn counters(&self) -> &Arc<SourceCounters> {
        &self.counters
    }

    fn status(&self) -> SourceStatus {
        SourceStatus {
            name: self.info.name.clone(),
            kind: self.info.kind.to_owned(),
            domain: self.info.domain,
            tenant: self.info.tenant.clone(),
            bound: Vec::new(),
            health: Health::Healthy,
            counters: self.counters.snapshot(),
        }
    }

    async fn start(
        self: Arc<Self>,
        sink: Sink,
        shutdown: CancellationToken,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        Ok(vec![tokio::spawn(run_feeder(self, sink, shutdown))])
    }
}

/// Plays the demo stream until cancelled.
async fn run_feeder(source: Arc<DemoSource>, sink: Sink, shutdown: CancellationToken) {
    let mut feeder = Feeder::new(source.seed);
    let counters = &source.counters;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let now = sink.now();
        for value in feeder.next_batch(now) {
            counters.received.fetch_add(1, Ordering::Relaxed);
            let ctx = IngestContext {
                source: DEMO_SOURCE,
                tenant: tocsin_model::DEFAULT_TENANT,
                domain: None,
                ingested: now,
                id: Ulid::new(),
                limits: Limits::default(),
            };
            match Event::from_value(value, &ctx) {
                Ok(event) => {
                    if sink.send(event).await.is_err() {
                        return;
                    }
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    counters.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "demo feeder made an invalid event");
                }
            }
        }
    }
}

/// Generates the demo's events: a few background events every tick and, every so often, one of
/// the incident scenarios.
pub struct Feeder {
    rng: StdRng,
    ticks: u64,
}

impl Feeder {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            ticks: 0,
        }
    }

    /// The events of one tick (a quarter of a second), in Tocsin's own JSON form.
    pub fn next_batch(&mut self, now: DateTime<Utc>) -> Vec<Value> {
        self.ticks += 1;
        let mut out = Vec::new();
        let background = self.rng.gen_range(1..=4);
        for _ in 0..background {
            let e = self.background(now);
            out.push(e);
        }
        // A scenario about every 7.5 seconds, starting 2 seconds in.
        if self.ticks % 30 == 8 {
            let n = self.rng.gen_range(0..6);
            out.extend(self.scenario(n, now));
        }
        out
    }

    fn site(&mut self) -> &'static Site {
        SITES.choose(&mut self.rng).unwrap_or(&SITES[0])
    }

    fn person(&mut self) -> (&'static str, &'static str, &'static str) {
        *PEOPLE.choose(&mut self.rng).unwrap_or(&PEOPLE[0])
    }

    fn pick<T: Copy>(&mut self, items: &[T], fallback: T) -> T {
        items.choose(&mut self.rng).copied().unwrap_or(fallback)
    }

    fn background(&mut self, now: DateTime<Utc>) -> Value {
        let time = now.to_rfc3339();
        let site = self.site();
        let (name, user, badge) = self.person();
        match self.rng.gen_range(0..10) {
            0..=3 => {
                let portal = self.pick(site.portals, "DOOR");
                json!({"time": time, "domain": "physical", "class": "physical_access",
                    "activity": "granted", "severity": 1, "badge": badge, "person": name,
                    "portal": portal, "site": site.id, "zone": self.pick(site.zones, "zone"),
                    "message": format!("Access granted to {name} at {portal}"),
                    "fields": {"Topic": "tns1:AccessControl/AccessGranted/Credential", "reader": format!("{portal}-R1")}})
            }
            4..=6 => {
                let host = self.pick(HOSTS, "WS-PAR-0142");
                json!({"time": time, "domain": "cyber", "class": "authentication",
                    "activity": "logon", "severity": 1, "user": user, "host": host,
                    "src_ip": format!("10.{}.{}.{}", self.rng.gen_range(1..4), self.rng.gen_range(0..255), self.rng.gen_range(2..254)),
                    "message": format!("{user} logged on to {host}"),
                    "fields": {"EventID": 4624, "LogonType": "3", "Channel": "Security"}})
            }
            7 | 8 => {
                let host = self.pick(HOSTS, "WS-PAR-0142");
                json!({"time": time, "domain": "cyber", "class": "network_activity",
                    "activity": "traffic", "severity": 1, "host": host,
                    "src_ip": format!("10.1.{}.{}", self.rng.gen_range(0..255), self.rng.gen_range(2..254)),
                    "dst_ip": format!("192.0.2.{}", self.rng.gen_range(1..254)),
                    "message": format!("Outbound HTTPS from {host}"),
                    "fields": {"dst_port": 443, "bytes_out": self.rng.gen_range(200..90_000)}})
            }
            _ => {
                json!({"time": time, "domain": "physical", "class": "environment",
                    "activity": "reading", "severity": 1, "site": site.id,
                    "zone": self.pick(site.zones, "zone"),
                    "message": format!("Temperature {:.1} °C in {}", self.rng.gen_range(19.0..24.0), site.name),
                    "fields": {"sensor": "temp", "unit": "celsius"}})
            }
        }
    }

    fn scenario(&mut self, n: u32, now: DateTime<Utc>) -> Vec<Value> {
        let time = now.to_rfc3339();
        let site = self.site();
        let (name, user, badge) = self.person();
        match n {
            0 => {
                let portal = self.pick(site.portals, "DOOR");
                (0..4)
                    .map(|_| {
                        json!({"time": time, "domain": "physical", "class": "physical_access",
                        "activity": "denied", "severity": 3, "badge": badge, "person": name,
                        "portal": portal, "site": site.id,
                        "message": format!("Access denied to badge {badge} at {portal}"),
                        "fields": {"Topic": "tns1:AccessControl/Denied/CredentialNotEnabled/Card"}})
                    })
                    .collect()
            }
            1 => {
                let portal = self.pick(site.portals, "DOOR");
                vec![
                    json!({"time": time, "domain": "physical", "class": "physical_access",
                    "activity": "forced", "severity": 4, "portal": portal, "site": site.id,
                    "zone": self.pick(site.zones, "zone"),
                    "message": format!("Door forced open at {portal}"),
                    "fields": {"Topic": "tns1:Door/DoorAlarm", "State": "Forced"}}),
                ]
            }
            2 => {
                let host = self.pick(HOSTS, "SRV-FRA-AD01");
                let src = format!("198.51.100.{}", self.rng.gen_range(2..254));
                (0..6)
                    .map(|_| {
                        json!({"time": time, "domain": "cyber", "class": "authentication",
                        "activity": "logon_failed", "severity": 2, "user": user, "host": host,
                        "src_ip": src, "message": format!("Failed logon for {user} on {host}"),
                        "fields": {"EventID": 4625, "Status": "0xC000006D", "Channel": "Security"}})
                    })
                    .collect()
            }
            3 => {
                let host = self.pick(HOSTS, "SRV-FRA-FILE01");
                let threat = self.pick(THREATS, THREATS[0]);
                vec![
                    json!({"time": time, "domain": "cyber", "class": "malware_detection",
                    "activity": "detected", "severity": 5, "user": user, "host": host,
                    "message": format!("{threat} detected on {host}"),
                    "fields": {"threat": threat, "action": "quarantined"}}),
                ]
            }
            4 => {
                let (topic, text, sev) = self.pick(NEWS, NEWS[0]);
                vec![
                    json!({"time": time, "domain": "public", "class": "public_report",
                    "activity": "reported", "severity": sev, "site": site.id,
                    "place": site.name, "message": text,
                    "geo": {"lat": site.lat + self.rng.gen_range(-0.02..0.02), "lon": site.lon + self.rng.gen_range(-0.02..0.02), "radius_m": 1500.0},
                    "url": "https://news.example/item",
                    "fields": {"topic": topic, "feed": "demo-news"}}),
                ]
            }
            _ => {
                let zone = self.pick(site.zones, "zone");
                vec![json!({"time": time, "domain": "physical", "class": "alarm",
                    "activity": "intrusion", "severity": 5, "site": site.id, "zone": zone,
                    "message": format!("Intrusion alarm in {zone}"),
                    "fields": {"sia_code": "BA", "account": "1234", "zone_number": 7}})]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_is_valid() {
        let c = demo_config().unwrap();
        assert!(c.detect.rules.len() >= 6);
        tocsin_detect::RuleDetector::new(c.detect.rules, 10).unwrap();
    }

    #[test]
    fn the_feeder_makes_valid_events_of_every_domain_and_is_repeatable() {
        let now: DateTime<Utc> = "2026-05-04T02:00:00Z".parse().unwrap();
        let mut a = Feeder::new(7);
        let mut b = Feeder::new(7);
        let mut domains = std::collections::HashSet::new();
        for _ in 0..600 {
            let batch = a.next_batch(now);
            assert_eq!(batch, b.next_batch(now));
            for v in batch {
                let ctx = IngestContext {
                    source: DEMO_SOURCE,
                    tenant: "default",
                    domain: None,
                    ingested: now,
                    id: Ulid::nil(),
                    limits: Limits::default(),
                };
                let e = Event::from_value(v, &ctx).unwrap();
                domains.insert(e.domain);
            }
        }
        assert_eq!(domains.len(), 3);
    }

    #[test]
    fn the_feeder_stream_raises_alerts_from_the_demo_rules() {
        use tocsin_detect::Detector;
        let c = demo_config().unwrap();
        let mut det = tocsin_detect::RuleDetector::new(c.detect.rules, 1000).unwrap();
        let mut feeder = Feeder::new(1);
        let mut out = Vec::new();
        let start: DateTime<Utc> = "2026-05-04T02:00:00Z".parse().unwrap();
        for i in 0..2400 {
            let now = start + chrono::Duration::milliseconds(250 * i);
            for v in feeder.next_batch(now) {
                let ctx = IngestContext {
                    source: DEMO_SOURCE,
                    tenant: "default",
                    domain: None,
                    ingested: now,
                    id: Ulid::nil(),
                    limits: Limits::default(),
                };
                det.on_event(&Event::from_value(v, &ctx).unwrap(), &mut out);
            }
        }
        let rules: std::collections::HashSet<_> =
            out.iter().filter_map(|d| d.rule.clone()).collect();
        assert!(
            rules.len() >= 4,
            "only {rules:?} fired in 10 simulated minutes"
        );
    }
}
