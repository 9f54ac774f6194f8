//! A small organisation and event builders for the detectors' tests.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use tocsin_detect::{Detection, Detector};
use tocsin_model::{Domain, Event, FakeClock, Severity};
use tocsin_org::{OrgHandle, OrgSources, Unresolved, enrich_with, parse_sources};

use crate::{Converged, ConvergedConfig};

const SITES: &str = r#"sites:
  - id: hq-paris
    name: Paris HQ
    country: FR
    location: { lat: 48.8925, lon: 2.2369 }
    entrances: [HQ-LOBBY]
    exits: [HQ-EXIT]
    zones:
      - { id: hq-office, name: Offices, portals: [HQ-OFFICE] }
      - { id: hq-vault, name: Classified archive, sensitivity: classified, portals: [HQ-VAULT] }
  - id: dc-frankfurt
    name: Frankfurt data centre
    country: DE
    location: { lat: 50.1109, lon: 8.6821 }
    entrances: [DC-MANTRAP]
    exits: [DC-EXIT]
    zones:
      - { id: dc-server-room, name: Server room, sensitivity: server_room, portals: [DC-SRV] }
"#;

const PEOPLE: &str = r#"people:
  - id: p-ana
    name: Ana Silva
    badges: [B-ANA]
    accounts: ['CORP\asilva']
    devices: [{ host: WS-PAR-01, ip: 10.1.0.21 }]
    home_site: hq-paris
  - id: p-ben
    name: Ben Meyer
    badges: [B-BEN]
    accounts: [bmeyer]
    devices: [{ host: WS-FRA-01, ip: 10.2.0.21 }]
    home_site: dc-frankfurt
  - id: p-cat
    name: Cat Nguyen
    badges: [B-CAT]
    accounts: [cnguyen]
    home_site: hq-paris
    status: { state: terminated, from: 2026-05-01 }
  - id: p-dan
    name: Dan Roy
    badges: [B-DAN]
    accounts: [droy]
    home_site: hq-paris
    status: { state: leave, from: 2026-05-03, until: 2026-05-20 }
    travel:
      - { place: Singapore, location: { lat: 1.3521, lon: 103.8198 }, from: 2026-05-04T00:00:00Z, until: 2026-05-08T00:00:00Z }
"#;

const ASSETS: &str = r#"assets:
  - { id: ws-par-01, kind: workstation, site: hq-paris, zone: hq-office, owner: p-ana, hosts: [WS-PAR-01], addresses: [10.1.0.21] }
  - { id: ws-fra-01, kind: workstation, site: dc-frankfurt, owner: p-ben, hosts: [WS-FRA-01], addresses: [10.2.0.21] }
  - { id: srv-db, kind: server, site: dc-frankfurt, zone: dc-server-room, criticality: critical, hosts: [SRV-DB], addresses: [10.2.1.10] }
  - { id: cam-dc-01, kind: camera, vendor: Axis, product: P1375, version: "10.12.1", site: dc-frankfurt, zone: dc-server-room, addresses: [10.2.9.11], aliases: [CAM-DC-01] }
  - { id: rdr-dc-01, kind: badge_reader, vendor: HID, product: Signo 40, version: "1.2.0", site: dc-frankfurt, addresses: [10.2.9.21] }
  - { id: sw-dc-01, kind: switch, vendor: Axis, product: P1375, version: "10.12.1", site: dc-frankfurt }
"#;

const NETWORK: &str = r#"networks:
  - { cidr: 10.1.0.0/16, site: hq-paris }
  - { cidr: 10.2.0.0/16, site: dc-frankfurt }
  - { cidr: 203.0.113.0/24, place: Lagos, country: NG, location: { lat: 6.5244, lon: 3.3792 } }
countries:
  - { code: SG, location: { lat: 1.3521, lon: 103.8198 } }
"#;

pub fn t0() -> DateTime<Utc> {
    "2026-05-04T08:00:00Z".parse().unwrap()
}

/// Enrichment plus the converged detectors, driven by a fake clock.
pub struct Rig {
    pub clock: FakeClock,
    pub det: Converged,
    org: Arc<OrgHandle>,
    unresolved: Unresolved,
    seq: u128,
}

impl Rig {
    pub fn new() -> Self {
        Self::with(ConvergedConfig::default())
    }

    pub fn with(cfg: ConvergedConfig) -> Self {
        let src = OrgSources {
            dir: "org".into(),
            files: vec![
                ("sites.yaml".into(), SITES.into()),
                ("people.yaml".into(), PEOPLE.into()),
                ("assets.yaml".into(), ASSETS.into()),
                ("network.yaml".into(), NETWORK.into()),
            ],
        };
        let org = Arc::new(OrgHandle::new(parse_sources(&src).unwrap(), None));
        let det = Converged::new(&cfg, org.clone(), Converged::presence_book(&cfg));
        Self {
            clock: FakeClock::new(t0()),
            det,
            org,
            unresolved: Unresolved::default(),
            seq: 0,
        }
    }

    /// Moves the clock on by `secs` seconds.
    pub fn wait(&self, secs: i64) {
        self.clock.advance(Duration::seconds(secs));
    }

    /// Enriches and detects one event stamped with the clock's time; returns its detections.
    pub fn feed(&mut self, mut e: Event) -> Vec<Detection> {
        use tocsin_model::Clock;
        e.time = self.clock.now();
        e.ingested = e.time;
        self.seq += 1;
        e.id = ulid::Ulid::from_parts(u64::try_from(e.time.timestamp_millis()).unwrap(), self.seq);
        enrich_with(&self.org.current(), &mut e, &self.unresolved);
        let mut out = Vec::new();
        self.det.on_event(&e, &mut out);
        out
    }

    /// Feeds events and returns the ids of the detectors that fired.
    pub fn fired(&mut self, events: Vec<Event>) -> Vec<&'static str> {
        let mut ids = Vec::new();
        for e in events {
            for d in self.feed(e) {
                ids.push(d.detector);
            }
        }
        ids
    }
}

pub fn ev(domain: Domain, class: &str, activity: &str) -> Event {
    Event {
        id: ulid::Ulid::nil(),
        tenant: "default".into(),
        source: "test".into(),
        domain,
        time: t0(),
        observed: None,
        ingested: t0(),
        class: class.into(),
        activity: Some(activity.into()),
        severity: Severity::LOW,
        confidence: None,
        derivation: None,
        person: None,
        user: None,
        badge: None,
        host: None,
        ip: None,
        src_ip: None,
        dst_ip: None,
        asset: None,
        site: None,
        zone: None,
        portal: None,
        person_id: None,
        asset_id: None,
        site_id: None,
        zone_id: None,
        geo: None,
        place: None,
        url: None,
        message: None,
        fields: Default::default(),
    }
}

/// A badge event at a portal.
pub fn badge(activity: &str, badge: &str, portal: &str) -> Event {
    let mut e = ev(Domain::Physical, "physical_access", activity);
    e.badge = (!badge.is_empty()).then(|| badge.to_owned());
    e.portal = Some(portal.into());
    e
}

/// A logon of `user` on `host` from `src_ip`, with a Windows logon type.
pub fn logon(user: &str, host: &str, src_ip: &str, logon_type: u32) -> Event {
    let mut e = ev(Domain::Cyber, "authentication", "logon");
    e.user = Some(user.into());
    e.host = Some(host.into());
    e.src_ip = Some(src_ip.into());
    e.fields.insert("LogonType".into(), Value::from(logon_type));
    e
}

/// Network traffic from a host.
pub fn traffic(host: &str) -> Event {
    let mut e = ev(Domain::Cyber, "network_activity", "traffic");
    e.host = Some(host.into());
    e.dst_ip = Some("192.0.2.10".into());
    e
}
