//! The shipped example must stay valid and route the way its comments say.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Map;
use tocsin_model::{Alert, AlertStatus, Domain, Severity};
use tocsin_routing::{Directory, Recipient, load, plan};
use ulid::Ulid;

struct Desk;

impl Directory for Desk {
    fn team_members(&self, team: &str) -> Option<Vec<String>> {
        (team == "guards").then(|| vec!["p-gus".to_owned(), "p-gil".to_owned()])
    }
    fn on_call(&self, team: &str, _at: DateTime<Utc>) -> Option<String> {
        Some(format!("{team}-duty"))
    }
}

#[test]
fn example_routes_load_and_route() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes.example.yaml");
    let routes = load(&path).unwrap();
    let now = DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let alert = Alert {
        id: Ulid::new(),
        tenant: "default".into(),
        detector: "door_forced".into(),
        rule: None,
        domain: Domain::Physical,
        severity: Severity::HIGH,
        title: "Door forced".into(),
        summary: "A door was forced open".into(),
        status: AlertStatus::Open,
        time: now,
        ingested: now,
        detected: now,
        last_seen: now,
        count: 1,
        dedup_key: "door".into(),
        evidence: Vec::new(),
        entities: Map::new(),
        geo: None,
        site_id: Some("hq-berlin".into()),
        notified: None,
        acknowledged: None,
    };
    let p = plan(&alert, &routes, &[], &[], &Desk, now);
    let routed: Vec<&str> = p.routes.iter().map(|m| m.route.as_str()).collect();
    assert_eq!(routed, ["physical-urgent", "hq-physical"]);
    let first: Vec<&Recipient> = p
        .to_send()
        .filter(|n| n.at == now)
        .flat_map(|n| &n.recipients)
        .collect();
    assert!(first.contains(&&Recipient::Person("guards-duty".into())));
    assert!(first.contains(&&Recipient::Person("p-gil".into())));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let e = load(Path::new("/nonexistent/routes.yaml")).unwrap_err();
    assert_eq!(e.0[0].file, Path::new("/nonexistent/routes.yaml"));
}
