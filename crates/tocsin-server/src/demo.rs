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

use chrono::NaiveDate;
use tocsin_org::{Org, OrgErrors, OrgSources, Sensitivity, parse_sources};

use crate::config::{Config, ConfigErrors, OrgLocation};

pub mod physical;
pub mod sinks;
pub use sinks::DemoSinks;

/// The demo's `tocsin.toml`.
pub const DEMO_CONFIG: &str = include_str!("demo/tocsin.toml");

/// The demo's checklists per incident type.
pub const DEMO_CHECKLISTS: &str = include_str!("demo/checklists.yaml");

/// Name of the feeder's source in events and metrics.
pub const DEMO_SOURCE: &str = "demo-feed";

/// The demo configuration, parsed.
pub fn demo_config() -> Result<Config, ConfigErrors> {
    demo_config_with(None)
}

/// The demo configuration, with an MQTT source subscribed to the simulator's topics when a broker
/// is given.
pub fn demo_config_with(mqtt: Option<std::net::SocketAddr>) -> Result<Config, ConfigErrors> {
    let mut text = DEMO_CONFIG.to_owned();
    if let Some(broker) = mqtt {
        text.push_str(&format!(
            r#"
[[sources]]
type = "mqtt"
name = "site-sensors"
domain = "physical"
host = "{}"
port = {}
[[sources.subscriptions]]
topic = "tocsin-demo/doors/+"
preset = "door_contact"
[[sources.subscriptions]]
topic = "tocsin-demo/env/+"
preset = "environment"
zone = "dc-server-room"
[[sources.subscriptions]]
topic = "tocsin-demo/frigate/events"
preset = "frigate"
"#,
            broker.ip(),
            broker.port()
        ));
    }
    let mut c = Config::parse(&text, Path::new("<built-in demo>/tocsin.toml"))?;
    c.org = OrgLocation::Embedded(demo_org_files(Utc::now()));
    c.incidents.loaded = tocsin_incidents::Checklists::parse(
        DEMO_CHECKLISTS,
        Path::new("<built-in demo>/checklists.yaml"),
    )
    .map_err(|e| {
        ConfigErrors(vec![crate::config::ConfigError {
            file: e.file,
            line: e.line,
            field: e.field,
            message: e.message,
        }])
    })?;
    Ok(c)
}

/// The demo organisation, `(file name, text)`: three sites in three countries (a head office, a
/// data centre with a server room, an office), fifty people, assets of every kind, teams with
/// on-call rotations and a network table. `tocsin demo` writes it to `<data>/org`.
pub const DEMO_ORG: &[(&str, &str)] = &[
    ("sites.yaml", include_str!("demo/org/sites.yaml")),
    ("people.yaml", include_str!("demo/org/people.yaml")),
    ("assets.yaml", include_str!("demo/org/assets.yaml")),
    ("teams.yaml", include_str!("demo/org/teams.yaml")),
    ("network.yaml", include_str!("demo/org/network.yaml")),
];

/// The demo organisation, parsed and checked.
/// The demo organisation's files with one trip under way at `now` (Priya Shah, of the London
/// SOC, in Frankfurt from the day before until three days after), so that the map and the
/// public-signal detector have a traveller whatever the date.
pub fn demo_org_files(now: DateTime<Utc>) -> Vec<(String, String)> {
    const ANCHOR: &str = "    home_site: office-london\n    team: soc\n  - id: p-tokafor\n";
    let stamp = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:00:00Z").to_string();
    let trip = format!(
        "    home_site: office-london\n    team: soc\n    travel:\n      - {{ place: Frankfurt, location: {{ lat: 50.1109, lon: 8.6821 }}, from: {}, until: {} }}\n  - id: p-tokafor\n",
        stamp(now - chrono::Duration::days(1)),
        stamp(now + chrono::Duration::days(3)),
    );
    DEMO_ORG
        .iter()
        .map(|(name, text)| {
            let text = if *name == "people.yaml" {
                text.replacen(ANCHOR, &trip, 1)
            } else {
                (*text).to_owned()
            };
            ((*name).to_owned(), text)
        })
        .collect()
}

pub fn demo_org() -> Result<Org, OrgErrors> {
    parse_sources(&OrgSources {
        dir: "<built-in demo>/org".into(),
        files: DEMO_ORG
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect(),
    })
}

/// People who appear only in incident scenarios, never in the background traffic.
const SCENARIO_PEOPLE: [&str; 6] = [
    "p-mkoch",
    "p-evasquez",
    "p-vlang",
    "p-nhart",
    "p-rmenon",
    "p-ohaddad",
];

/// Servers people log on to over the network.
const SERVERS: &[&str] = &[
    "SRV-FRA-FILE01",
    "SRV-FRA-DB02",
    "SRV-FRA-AD01",
    "SRV-LON-PRINT",
];

/// A site as the feeder uses it.
#[derive(Debug, Clone)]
struct Site {
    id: String,
    name: String,
    lat: f64,
    lon: f64,
    entrance: String,
    /// `(portal, zone)` inside the site, outside classified zones.
    inner: Vec<(String, String)>,
    zones: Vec<String>,
    portals: Vec<String>,
}

/// A person as the feeder uses it.
#[derive(Debug, Clone)]
struct Member {
    id: String,
    name: String,
    user: String,
    badge: String,
    host: String,
    ip: String,
    site: usize,
}

fn sites_of(org: &Org) -> Vec<Site> {
    org.sites
        .iter()
        .map(|s| {
            let perimeter: Vec<&String> = s.entrances.iter().chain(&s.exits).collect();
            let mut inner = Vec::new();
            let mut portals = Vec::new();
            for z in &s.zones {
                for p in &z.portals {
                    portals.push(p.clone());
                    if z.sensitivity != Sensitivity::Classified && !perimeter.contains(&p) {
                        inner.push((p.clone(), z.id.clone()));
                    }
                }
            }
            Site {
                id: s.id.clone(),
                name: s.name.clone(),
                lat: s.location.lat,
                lon: s.location.lon,
                entrance: s.entrances.first().cloned().unwrap_or_default(),
                inner,
                zones: s.zones.iter().map(|z| z.id.clone()).collect(),
                portals,
            }
        })
        .collect()
}

fn members_of(org: &Org, sites: &[Site]) -> Vec<Member> {
    org.people
        .iter()
        .filter_map(|p| {
            let device = p.devices.first()?;
            Some(Member {
                id: p.id.clone(),
                name: p.name.clone(),
                user: p.accounts.first()?.clone(),
                badge: p.badges.first()?.clone(),
                host: device.host.clone()?,
                ip: device.ip.clone()?,
                site: sites
                    .iter()
                    .position(|s| Some(&s.id) == p.home_site.as_ref())?,
            })
        })
        .collect()
}

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

/// Posts witnesses write about one incident; `{city}` is the site's city.
const SOCIAL: &[&[&str]] = &[
    &[
        "Huge fire in {city} right now, black smoke over the whole area",
        "Firefighters battling a large blaze in {city}, several buildings burning",
        "Fire in {city}: flames and smoke visible from miles away, stay clear",
        "Still burning in {city}, the fire has spread to a second building",
    ],
    &[
        "Thousands of protesters marching in {city}, police have closed the main roads",
        "Protest in {city} turning tense, riot police blocking the streets",
        "Huge demonstration in {city} today, traffic at a standstill",
    ],
    &[
        "Explosion heard in {city}, windows shaking, emergency services on the way",
        "Loud blast in {city} a few minutes ago, smoke rising, people evacuating",
        "Explosion in {city}: police cordon and ambulances everywhere",
    ],
];

/// The hazard an official (CAP) warning names for each [`SOCIAL`] story, when one is issued.
const OFFICIAL_HAZARD: [Option<&str>; 3] = [Some("Fire"), None, Some("Explosion")];

/// The city a demo site is in, as people name it in posts.
fn city_of(site: &str) -> &'static str {
    match site {
        "dc-frankfurt" => "Frankfurt",
        "office-london" => "London",
        _ => "Paris",
    }
}

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
/// the incident scenarios. The background is coherent with the demo organisation — people badge
/// into their home site before they log on to their own workstation — so that the converged
/// detectors stay silent on it and fire only on the scenarios.
pub struct Feeder {
    rng: StdRng,
    ticks: u64,
    scenarios_run: u64,
    with_scenarios: bool,
    sites: Vec<Site>,
    /// Background people.
    people: Vec<Member>,
    /// People of the scenarios, by id.
    cast: Vec<Member>,
    /// The day each person last badged in, so that they arrive once a day.
    arrived: std::collections::HashMap<String, NaiveDate>,
}

/// How many scenarios there are; they are played in turn.
const SCENARIOS: u64 = 14;

impl Feeder {
    pub fn new(seed: u64) -> Self {
        let org = demo_org().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the built-in demo organisation does not load");
            Org::empty()
        });
        let sites = sites_of(&org);
        let all = members_of(&org, &sites);
        let (cast, people) = all
            .into_iter()
            .partition(|m| SCENARIO_PEOPLE.contains(&m.id.as_str()));
        Self {
            rng: StdRng::seed_from_u64(seed),
            ticks: 0,
            scenarios_run: 0,
            with_scenarios: true,
            sites,
            people,
            cast,
            arrived: std::collections::HashMap::new(),
        }
    }

    /// Only the everyday traffic, no incidents: what the converged detectors must stay silent on.
    pub fn background_only(seed: u64) -> Self {
        Self {
            with_scenarios: false,
            ..Self::new(seed)
        }
    }

    /// The events of one tick (a quarter of a second), in Tocsin's own JSON form.
    pub fn next_batch(&mut self, now: DateTime<Utc>) -> Vec<Value> {
        self.ticks += 1;
        let mut out = Vec::new();
        let background = self.rng.gen_range(1..=4);
        for _ in 0..background {
            out.extend(self.background(now));
        }
        // A scenario about every 7.5 seconds, starting 2 seconds in, each in turn.
        if self.with_scenarios && self.ticks % 30 == 8 {
            let n = self.scenarios_run % SCENARIOS;
            self.scenarios_run += 1;
            out.extend(self.scenario(n, now));
        }
        out
    }

    fn pick<T: Clone>(&mut self, items: &[T], fallback: T) -> T {
        items.choose(&mut self.rng).cloned().unwrap_or(fallback)
    }

    fn member(&self, id: &str) -> Option<Member> {
        self.cast
            .iter()
            .chain(&self.people)
            .find(|m| m.id == id)
            .cloned()
    }

    fn badge_event(&self, m: &Member, portal: &str, activity: &str, time: &str) -> Value {
        let site = self.sites.get(m.site).map_or("", |s| s.id.as_str());
        let (severity, verb) = if activity == "granted" {
            (1, "granted to")
        } else {
            (3, "denied to")
        };
        json!({"time": time, "domain": "physical", "class": "physical_access",
            "activity": activity, "severity": severity, "badge": m.badge, "person": m.name,
            "portal": portal, "site": site,
            "message": format!("Access {verb} {} at {portal}", m.name),
            "fields": {"Topic": "tns1:AccessControl/AccessGranted/Credential", "reader": format!("{portal}-R1")}})
    }

    /// The badge-in at the home site's entrance, once a day.
    fn arrive(&mut self, m: &Member, now: DateTime<Utc>) -> Option<Value> {
        let today = now.date_naive();
        if self.arrived.get(&m.id) == Some(&today) {
            return None;
        }
        self.arrived.insert(m.id.clone(), today);
        let portal = self.sites.get(m.site)?.entrance.clone();
        Some(self.badge_event(m, &portal, "granted", &now.to_rfc3339()))
    }

    fn background(&mut self, now: DateTime<Utc>) -> Option<Value> {
        let time = now.to_rfc3339();
        let m = self.people.choose(&mut self.rng)?.clone();
        if let Some(arrival) = self.arrive(&m, now) {
            return Some(arrival);
        }
        let site = self.sites.get(m.site)?.clone();
        Some(match self.rng.gen_range(0..10) {
            0..=3 => {
                let (portal, _) = self.pick(&site.inner, (site.entrance.clone(), String::new()));
                if portal == site.entrance {
                    return None;
                }
                self.badge_event(&m, &portal, "granted", &time)
            }
            4 | 5 => json!({"time": time, "domain": "cyber", "class": "authentication",
                "activity": "logon", "severity": 1, "user": m.user, "host": m.host, "src_ip": m.ip,
                "message": format!("{} logged on at {}", m.user, m.host),
                "fields": {"EventID": 4624, "LogonType": "2", "Channel": "Security"}}),
            6 => {
                let server = self.pick(SERVERS, "SRV-FRA-FILE01");
                json!({"time": time, "domain": "cyber", "class": "authentication",
                    "activity": "logon", "severity": 1, "user": m.user, "host": server, "src_ip": m.ip,
                    "message": format!("{} logged on to {server}", m.user),
                    "fields": {"EventID": 4624, "LogonType": "3", "Channel": "Security"}})
            }
            7 | 8 => json!({"time": time, "domain": "cyber", "class": "network_activity",
                "activity": "traffic", "severity": 1, "host": m.host, "src_ip": m.ip,
                "dst_ip": format!("192.0.2.{}", self.rng.gen_range(1..254)),
                "message": format!("Outbound HTTPS from {}", m.host),
                "fields": {"dst_port": 443, "bytes_out": self.rng.gen_range(200..90_000)}}),
            _ => {
                let zone = self.pick(&site.zones, String::new());
                json!({"time": time, "domain": "physical", "class": "environment",
                    "activity": "reading", "severity": 1, "site": site.id, "zone": zone,
                    "message": format!("Temperature {:.1} °C in {}", self.rng.gen_range(19.0..24.0), site.name),
                    "fields": {"sensor": "temp", "unit": "celsius"}})
            }
        })
    }

    fn scenario(&mut self, n: u64, now: DateTime<Utc>) -> Vec<Value> {
        let time = now.to_rfc3339();
        let Some(site) = self.sites.choose(&mut self.rng).cloned() else {
            return Vec::new();
        };
        let Some(m) = self.people.choose(&mut self.rng).cloned() else {
            return Vec::new();
        };
        match n {
            0 => {
                // A badge nobody knows, tried again and again: also shows as an unresolved badge.
                let portal = self.pick(&site.portals, String::new());
                (0..4)
                    .map(|_| {
                        json!({"time": time, "domain": "physical", "class": "physical_access",
                        "activity": "denied", "severity": 3, "badge": "0x5A0017",
                        "portal": portal, "site": site.id,
                        "message": format!("Access denied to badge 0x5A0017 at {portal}"),
                        "fields": {"Topic": "tns1:AccessControl/Denied/CredentialNotFound/Card"}})
                    })
                    .collect()
            }
            1 => {
                let portal = self.pick(&site.portals, String::new());
                vec![
                    json!({"time": time, "domain": "physical", "class": "physical_access",
                    "activity": "held_open", "severity": 4, "portal": portal, "site": site.id,
                    "message": format!("Door held open at {portal}"),
                    "fields": {"Topic": "tns1:Door/DoorAlarm", "State": "HeldOpen"}}),
                ]
            }
            2 => {
                let host = self.pick(SERVERS, "SRV-FRA-AD01");
                let src = format!("198.51.100.{}", self.rng.gen_range(2..120));
                (0..6)
                    .map(|_| {
                        json!({"time": time, "domain": "cyber", "class": "authentication",
                        "activity": "logon_failed", "severity": 2, "user": m.user, "host": host,
                        "src_ip": src, "message": format!("Failed logon for {} on {host}", m.user),
                        "fields": {"EventID": 4625, "Status": "0xC000006D", "Channel": "Security"}})
                    })
                    .collect()
            }
            3 => {
                let threat = self.pick(THREATS, THREATS[0]);
                vec![
                    json!({"time": time, "domain": "cyber", "class": "malware_detection",
                    "activity": "detected", "severity": 5, "user": m.user, "host": m.host,
                    "message": format!("{threat} detected on {}", m.host),
                    "fields": {"threat": threat, "action": "quarantined"}}),
                ]
            }
            4 => {
                let (topic, text, sev) = self.pick(NEWS, NEWS[0]);
                let mut out = vec![
                    json!({"time": time, "domain": "public", "class": "public_report",
                    "activity": "reported", "severity": sev, "site": site.id,
                    "place": site.name, "message": text,
                    "geo": {"lat": site.lat + self.rng.gen_range(-0.02..0.02), "lon": site.lon + self.rng.gen_range(-0.02..0.02), "radius_m": 1500.0},
                    "url": "https://news.example/item",
                    "fields": {"topic": topic, "feed": "demo-news"}}),
                ];
                // Witnesses post about an incident in the site's city: the public-signal
                // detector clusters them into one event and places it near the site.
                let city = city_of(&site.id);
                let k = self.rng.gen_range(0..SOCIAL.len());
                for (i, template) in SOCIAL[k].iter().enumerate() {
                    out.push(json!({"time": time, "domain": "public", "class": "public_report",
                        "activity": "posted", "severity": 2,
                        "message": template.replace("{city}", city),
                        "fields": {"author": format!("witness{}", self.rng.gen_range(100..999) * 10 + i), "feed": "demo-social"}}));
                }
                // Civil protection confirms fires and explosions with a CAP warning for the
                // area, which joins the witnesses' event and marks it confirmed.
                if let Some(hazard) = OFFICIAL_HAZARD[k] {
                    out.push(json!({"time": time, "domain": "public", "class": "hazard_warning",
                        "activity": "alert", "severity": 4, "place": city,
                        "message": format!("{hazard} warning for {city}: avoid the area and follow the instructions of the emergency services"),
                        "geo": {"lat": site.lat + self.rng.gen_range(-0.01..0.01), "lon": site.lon + self.rng.gen_range(-0.01..0.01), "radius_m": 3000.0},
                        "fields": {"event": hazard, "cap_status": "Actual", "cap_msg_type": "Alert",
                            "cap_sender": "civil-protection.example", "urgency": "Immediate",
                            "severity_text": "Severe", "certainty": "Observed", "exercise": false,
                            "feed": "demo-cap"}}));
                }
                out
            }
            5 => {
                let zone = self.pick(&site.zones, String::new());
                vec![json!({"time": time, "domain": "physical", "class": "alarm",
                    "activity": "intrusion", "severity": 5, "site": site.id, "zone": zone,
                    "message": format!("Intrusion alarm in {zone}"),
                    "fields": {"sia_code": "BA", "account": "1234", "zone_number": 7}})]
            }
            6 => {
                // presence_conflict: badged in at Paris, then a logon from Lagos.
                let Some(r) = self.member("p-rmenon") else {
                    return Vec::new();
                };
                let mut out: Vec<Value> = self.arrive(&r, now).into_iter().collect();
                let src = format!("203.0.113.{}", self.rng.gen_range(2..254));
                out.push(json!({"time": time, "domain": "cyber", "class": "authentication",
                    "activity": "logon", "severity": 2, "user": r.user, "host": "SRV-FRA-AD01",
                    "src_ip": src, "message": format!("{} logged on to SRV-FRA-AD01 from {src}", r.user),
                    "fields": {"EventID": 4624, "LogonType": "3", "Channel": "Security"}}));
                out
            }
            7 => {
                // logon_without_presence: at the keyboard in London, never badged in.
                let Some(v) = self.member("p-vlang") else {
                    return Vec::new();
                };
                vec![
                    json!({"time": time, "domain": "cyber", "class": "authentication",
                    "activity": "logon", "severity": 1, "user": v.user, "host": v.host, "src_ip": v.ip,
                    "message": format!("{} logged on at {}", v.user, v.host),
                    "fields": {"EventID": 4624, "LogonType": "2", "Channel": "Security"}}),
                ]
            }
            8 => {
                // activity_while_away: in the secure room while the desktop sends data out.
                let Some(h) = self.member("p-nhart") else {
                    return Vec::new();
                };
                let mut out: Vec<Value> = self.arrive(&h, now).into_iter().collect();
                out.push(self.badge_event(&h, "HQ-SECURE", "granted", &time));
                out.push(json!({"time": time, "domain": "cyber", "class": "network_activity",
                    "activity": "traffic", "severity": 2, "host": h.host, "src_ip": h.ip,
                    "dst_ip": "203.0.113.77", "message": format!("Upload from {} to 203.0.113.77", h.host),
                    "fields": {"dst_port": 443, "bytes_out": 48_000_000}}));
                out
            }
            9 => {
                // credential_after_termination: a leaver's VPN logon, or a badge on leave.
                if self.scenarios_run.is_multiple_of(2) {
                    let Some(k) = self.member("p-mkoch") else {
                        return Vec::new();
                    };
                    vec![
                        json!({"time": time, "domain": "cyber", "class": "authentication",
                        "activity": "logon", "severity": 2, "user": k.user, "host": "SRV-FRA-FILE01",
                        "src_ip": "198.51.100.201", "message": format!("{} logged on to SRV-FRA-FILE01", k.user),
                        "fields": {"EventID": 4624, "LogonType": "3", "Channel": "Security"}}),
                    ]
                } else {
                    let Some(e) = self.member("p-evasquez") else {
                        return Vec::new();
                    };
                    vec![self.badge_event(&e, "HQ-LOBBY-2", "denied", &time)]
                }
            }
            10 => vec![
                // intrusion_with_cyber_impact: the server room door forced, then a change.
                json!({"time": time, "domain": "physical", "class": "physical_access",
                    "activity": "forced", "severity": 4, "portal": "DC-SRV-ROOM-B", "site": "dc-frankfurt",
                    "message": "Door forced open at DC-SRV-ROOM-B",
                    "fields": {"Topic": "tns1:Door/DoorAlarm", "State": "Forced"}}),
                json!({"time": time, "domain": "cyber", "class": "config_change",
                    "activity": "change", "severity": 3, "host": "SRV-FRA-DB02",
                    "message": "Boot configuration changed on SRV-FRA-DB02",
                    "fields": {"EventID": 4657, "object": "HKLM\\SYSTEM\\CurrentControlSet\\Control"}}),
            ],
            11 => {
                // tailgating: a camera sees two people pass, and a badge refused then accepted.
                let mut out = vec![
                    json!({"time": time, "domain": "physical", "class": "video_analytic",
                    "activity": "tailgate", "severity": 3, "portal": "DC-MANTRAP", "site": "dc-frankfurt",
                    "asset": "CAM-FRA-01", "message": "Two people passed DC-MANTRAP on one badge",
                    "fields": {"Topic": "tns1:RuleEngine/Tailgating", "objects": 2}}),
                ];
                if let Some(o) = self.member("p-ohaddad") {
                    for _ in 0..3 {
                        out.push(self.badge_event(&o, "LON-COMMS", "denied", &time));
                    }
                    out.push(self.badge_event(&o, "LON-COMMS", "granted", &time));
                }
                out
            }
            12 => vec![
                // security_system_attack: a camera goes dark while its reader is scanned.
                json!({"time": time, "domain": "physical", "class": "device_status",
                    "activity": "offline", "severity": 3, "asset": "CAM-LON-02", "site": "office-london",
                    "message": "Camera CAM-LON-02 stopped streaming",
                    "fields": {"Topic": "tns1:VideoSource/SignalLoss"}}),
                json!({"time": time, "domain": "cyber", "class": "network_activity",
                    "activity": "port_scan", "severity": 3, "src_ip": "10.3.4.250", "dst_ip": "10.3.90.32",
                    "message": "Port scan from 10.3.4.250 against 10.3.90.32",
                    "fields": {"ports": [22, 80, 443, 4070]}}),
            ],
            _ => vec![
                // vulnerable_security_device: a KEV entry for the cameras' model.
                json!({"time": time, "domain": "public", "class": "vulnerability",
                    "activity": "published", "severity": 3,
                    "message": "CVE-2026-31337: Vistacam VC-4100 authentication bypass",
                    "url": "https://advisories.example/CVE-2026-31337",
                    "fields": {"cveID": "CVE-2026-31337", "vendorProject": "Vistacam", "product": "VC-4100",
                        "dateAdded": "2026-05-01", "shortDescription": "Authentication bypass in the web interface"}}),
            ],
        }
    }
}

/// Starts the physical-protocol simulator against the demo's own receivers: DC-09 frames to the
/// alarm receiver (TCP and UDP), ONVIF Notify pushes to the ONVIF endpoint, and MQTT messages to
/// `mqtt` when a broker is given. Addresses are read from the sources' bound addresses.
pub fn spawn_physical_simulator(
    server: &crate::RunningServer,
    mqtt: Option<std::net::SocketAddr>,
    seed: u64,
) -> JoinHandle<()> {
    let mut targets = physical::PhysicalTargets {
        mqtt,
        ..physical::PhysicalTargets::default()
    };
    for s in &server.state.sources {
        let st = s.status();
        for b in &st.bound {
            let addr = |prefix: &str| {
                b.strip_prefix(prefix)
                    .and_then(|rest| rest.split('/').next())
                    .and_then(|a| a.parse().ok())
            };
            match st.kind.as_str() {
                "dc09" if b.starts_with("tcp://") => targets.dc09_tcp = addr("tcp://"),
                "dc09" if b.starts_with("udp://") => targets.dc09_udp = addr("udp://"),
                "onvif" => targets.onvif = addr("http://"),
                _ => {}
            }
        }
    }
    tokio::spawn(physical::run_physical_simulator(
        targets,
        seed,
        server.shutdown_token(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_with_a_broker_adds_the_mqtt_source() {
        let c = demo_config_with(Some("127.0.0.1:1883".parse().unwrap())).unwrap();
        let kinds: Vec<_> = c.sources.iter().map(|s| s.kind()).collect();
        for kind in ["syslog", "dc09", "onvif", "mqtt"] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
        assert!(
            !demo_config()
                .unwrap()
                .sources
                .iter()
                .any(|s| s.kind() == "mqtt")
        );
    }

    #[test]
    fn the_demo_organisation_has_a_traveller_under_way_now() {
        let now: DateTime<Utc> = "2026-12-03T19:30:00Z".parse().unwrap();
        let org = parse_sources(&OrgSources {
            dir: "<built-in demo>/org".into(),
            files: demo_org_files(now),
        })
        .unwrap();
        let (_, travellers) = crate::public::public_targets(&org, now);
        assert_eq!(travellers.len(), 1, "{travellers:?}");
        assert_eq!(travellers[0].id, "p-pshah");
        let (_, later) = crate::public::public_targets(&org, now + chrono::Duration::days(5));
        assert!(later.is_empty());
    }

    #[test]
    fn the_demo_config_is_valid() {
        let c = demo_config().unwrap();
        assert!(c.detect.rules.len() >= 6);
        // Every converged detector and the public-signal detector have a procedure.
        let named: std::collections::HashSet<&str> = c
            .incidents
            .loaded
            .checklists
            .iter()
            .flat_map(|cl| cl.when.detector.iter().map(String::as_str))
            .collect();
        for d in [
            "tailgating",
            "presence_conflict",
            "logon_without_presence",
            "activity_while_away",
            "credential_after_termination",
            "intrusion_with_cyber_impact",
            "security_system_attack",
            "vulnerable_security_device",
            "public_signal",
        ] {
            assert!(named.contains(d), "no checklist for {d}");
        }
        assert!(!c.incidents.loaded.default.is_empty());
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

    #[test]
    fn the_demo_public_stream_raises_public_signal_alerts_near_a_site() {
        use tocsin_detect::Detector;
        let c = demo_config().unwrap();
        let mut public = c
            .public_signal
            .clone()
            .expect("the demo enables public signals");
        let start: DateTime<Utc> = "2026-05-04T02:00:00Z".parse().unwrap();
        let (sites, travellers) = crate::public::public_targets(&demo_org().unwrap(), start);
        public.sites = sites;
        public.travellers = travellers;
        let mut det = tocsin_public::PublicSignalDetector::new(public).unwrap();
        let mut feeder = Feeder::new(1);
        let mut out = Vec::new();
        for i in 0..4800 {
            let now = start + chrono::Duration::milliseconds(250 * i);
            for v in feeder.next_batch(now) {
                let ctx = IngestContext {
                    source: DEMO_SOURCE,
                    tenant: "default",
                    domain: None,
                    ingested: now,
                    id: Ulid::new(),
                    limits: Limits::default(),
                };
                det.on_event(&Event::from_value(v, &ctx).unwrap(), &mut out);
            }
        }
        assert!(
            !out.is_empty(),
            "no public-signal alert in 20 simulated minutes"
        );
        for d in &out {
            assert!(d.site_id.is_some(), "{d:?}");
            assert!(
                d.geo.as_ref().is_some_and(|g| g.radius_m.is_some()),
                "{d:?}"
            );
        }
        assert!(
            out.iter()
                .any(|d| d.entities.get("official") == Some(&Value::Bool(true))),
            "no event confirmed by the official feed: {out:?}"
        );
    }

    /// Runs `feeder` for ten simulated minutes through the demo organisation's enrichment and the
    /// converged detectors; returns the detections.
    fn converged_on(mut feeder: Feeder) -> Vec<tocsin_detect::Detection> {
        use tocsin_detect::Detector;
        let c = demo_config().unwrap();
        let org = std::sync::Arc::new(tocsin_org::OrgHandle::new(demo_org().unwrap(), None));
        let enricher = tocsin_org::OrgEnricher::new(org.clone());
        let mut det = tocsin_converged::Converged::new(
            &c.converged,
            org,
            tocsin_converged::Converged::presence_book(&c.converged),
        );
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
                    id: Ulid::new(),
                    limits: Limits::default(),
                };
                let mut e = Event::from_value(v, &ctx).unwrap();
                tocsin_model::Enricher::enrich(&enricher, &mut e);
                det.on_event(&e, &mut out);
            }
        }
        out
    }

    #[test]
    fn the_demo_organisation_loads_with_every_kind_of_asset() {
        let org = demo_org().unwrap();
        let s = org.summary();
        assert!(s.sites >= 3 && s.people >= 50 && s.teams >= 5, "{s:?}");
        let countries: std::collections::HashSet<_> =
            org.sites.iter().filter_map(|s| s.country.clone()).collect();
        assert!(countries.len() >= 3);
        let kinds: std::collections::HashSet<_> = org.assets.iter().map(|a| a.kind).collect();
        assert_eq!(kinds.len(), 10, "{kinds:?}");
    }

    #[test]
    fn every_converged_detector_fires_on_the_demo_stream() {
        let out = converged_on(Feeder::new(1));
        let fired: std::collections::HashSet<_> = out.iter().map(|d| d.detector).collect();
        for id in tocsin_converged::DETECTOR_IDS {
            assert!(fired.contains(id), "{id} did not fire; fired: {fired:?}");
        }
        for d in &out {
            assert!(
                d.summary.contains("Guard:") && d.summary.contains("Analyst:"),
                "{}",
                d.summary
            );
            assert!(d.summary.contains("Impact on people"), "{}", d.summary);
            assert!(!d.evidence.is_empty());
        }
    }

    #[test]
    fn the_demo_background_raises_no_converged_alert() {
        let out = converged_on(Feeder::background_only(1));
        let titles: Vec<_> = out.iter().map(|d| (d.detector, d.title.clone())).collect();
        assert!(titles.is_empty(), "{titles:?}");
    }
}
