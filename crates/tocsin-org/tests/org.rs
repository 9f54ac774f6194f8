use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tocsin_model::{Domain, Enricher, Event, Severity};
use tocsin_org::*;

const SITES: &str = r#"sites:
  - id: hq-paris
    name: Paris HQ
    country: FR
    location: { lat: 48.8925, lon: 2.2369 }
    geofence: { radius_m: 200 }
    entrances: [HQ-LOBBY]
    exits: [HQ-EXIT]
    zones:
      - id: hq-office
        name: Offices
        portals: [HQ-OFFICE]
        readers: [HQ-OFFICE-R1]
  - id: dc-frankfurt
    name: Frankfurt DC
    country: DE
    aliases: [FRA1]
    location: { lat: 50.1109, lon: 8.6821 }
    zones:
      - id: dc-server-room
        name: Server room
        sensitivity: server_room
        portals: [DC-SRV]
"#;

const PEOPLE: &str = r#"people:
  - id: p-adurand
    name: Amélie Durand
    badges: ["0x3F21A9"]
    accounts: ['CORP\adurand']
    email: amelie.durand@example.com
    devices: [{ host: WS-PAR-0142, ip: 10.1.4.21 }]
    home_site: hq-paris
    team: soc
  - id: p-jbecker
    name: Jonas Becker
    badges: ["0x3F21B2"]
    accounts: [jbecker]
    home_site: dc-frankfurt
    team: soc
    status: { state: terminated, from: 2026-04-30 }
"#;

const ASSETS: &str = r#"assets:
  - id: srv-fra-db02
    kind: server
    vendor: Acme
    product: DB
    site: dc-frankfurt
    zone: dc-server-room
    owner: soc
    criticality: critical
    hosts: [SRV-FRA-DB02]
    addresses: [10.2.0.12]
"#;

const TEAMS: &str = r#"teams:
  - id: soc
    name: Security operations
    members: [p-adurand, p-jbecker]
    on_call:
      rotation: [p-adurand, p-jbecker]
      start: 2026-05-04T08:00:00Z
      shift_hours: 12
      overrides:
        - { person: p-jbecker, from: 2026-05-10T00:00:00Z, until: 2026-05-11T00:00:00Z }
"#;

const NETWORK: &str = r#"networks:
  - { cidr: 10.1.0.0/16, site: hq-paris }
  - { cidr: 203.0.113.0/24, place: Lagos, country: NG, location: { lat: 6.5244, lon: 3.3792 } }
countries:
  - { code: SG, location: { lat: 1.3521, lon: 103.8198 } }
"#;

fn write(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (n, t) in files {
        std::fs::write(dir.join(n), t).unwrap();
    }
}

fn full(dir: &Path) {
    write(
        dir,
        &[
            ("sites.yaml", SITES),
            ("people.yaml", PEOPLE),
            ("assets.yaml", ASSETS),
            ("teams.yaml", TEAMS),
            ("network.yaml", NETWORK),
        ],
    );
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn event(class: &str, activity: &str) -> Event {
    Event {
        id: ulid::Ulid::nil(),
        tenant: "default".into(),
        source: "test".into(),
        domain: Domain::Physical,
        time: t("2026-05-04T08:00:00Z"),
        observed: None,
        ingested: t("2026-05-04T08:00:00Z"),
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

#[test]
fn a_complete_folder_loads_and_indexes_every_kind_of_identity() {
    let dir = tempfile::tempdir().unwrap();
    full(dir.path());
    let org = load_dir(dir.path()).unwrap();
    let s = org.summary();
    assert_eq!(
        (s.sites, s.zones, s.people, s.assets, s.teams, s.networks),
        (2, 2, 2, 1, 1, 2)
    );
    let ad = org.person_index("p-adurand").unwrap();
    assert_eq!(org.person_by_account("adurand"), Some(ad));
    assert_eq!(org.person_by_account("CORP\\ADurand"), Some(ad));
    assert_eq!(org.person_by_account("adurand@corp.example"), Some(ad));
    assert_eq!(org.person_by_account("Amelie.Durand@example.com"), Some(ad));
    assert_eq!(org.person_by_badge("0x3f21a9"), Some(ad));
    assert_eq!(org.device_owner_by_host("ws-par-0142"), Some(ad));
    assert_eq!(org.site_index("fra1"), org.site_index("dc-frankfurt"));
    assert_eq!(org.portal("HQ-LOBBY").unwrap().role, PortalRole::Entrance);
    assert_eq!(org.portal("HQ-EXIT").unwrap().role, PortalRole::Exit);
    assert_eq!(org.locate_ip("203.0.113.9").unwrap().place, "Lagos");
    assert_eq!(
        org.locate_ip("10.1.9.9").unwrap().site,
        org.site_index("hq-paris")
    );
    assert!(org.country("sg").is_some());
    let jb = org.person_index("p-jbecker").unwrap();
    assert_eq!(
        org.state_on(jb, "2026-04-29".parse().unwrap()),
        State::Active
    );
    assert_eq!(
        org.state_on(jb, "2026-05-01".parse().unwrap()),
        State::Terminated
    );
    let oc = org.team("soc").unwrap().on_call.as_ref().unwrap();
    assert_eq!(oc.on_call_at(t("2026-05-04T09:00:00Z")), Some("p-adurand"));
    assert_eq!(oc.on_call_at(t("2026-05-04T21:00:00Z")), Some("p-jbecker"));
    assert_eq!(oc.on_call_at(t("2026-05-05T09:00:00Z")), Some("p-adurand"));
    assert_eq!(oc.on_call_at(t("2026-05-10T09:00:00Z")), Some("p-jbecker"));
    assert_eq!(oc.on_call_at(t("2026-05-01T09:00:00Z")), None);
}

#[test]
fn an_unknown_field_is_refused_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    full(dir.path());
    let bad = PEOPLE.replace(
        "    home_site: dc-frankfurt",
        "    home_site: dc-frankfurt\n    hom_site: x",
    );
    write(dir.path(), &[("people.yaml", &bad)]);
    let errs = load_dir(dir.path()).unwrap_err().0;
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert!(e.file.ends_with("people.yaml"));
    assert_eq!(e.line, Some(15), "{e}");
    assert!(!e.message.starts_with("people"), "{e}");
    assert_eq!(e.field.as_deref(), Some("people[1].hom_site"), "{e}");
    assert!(e.message.contains("hom_site"), "{e}");
}

#[test]
fn a_type_error_names_its_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[("sites.yaml", &SITES.replace("lat: 50.1109", "lat: north"))],
    );
    let e = &load_dir(dir.path()).unwrap_err().0[0];
    assert_eq!(e.line, Some(18), "{e}");
    assert_eq!(e.field.as_deref(), Some("sites[1].location.lat"), "{e}");
}

#[test]
fn cross_references_and_duplicates_are_checked_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    full(dir.path());
    let people = PEOPLE
        .replace(
            "    team: soc\n    status",
            "    team: red-team\n    status",
        )
        .replace("badges: [\"0x3F21B2\"]", "badges: [\"0x3F21A9\"]");
    let assets = ASSETS.replace("zone: dc-server-room", "zone: hq-office");
    write(
        dir.path(),
        &[("people.yaml", &people), ("assets.yaml", &assets)],
    );
    let errs = load_dir(dir.path()).unwrap_err().0;
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 3, "{text:?}");
    let badge = errs
        .iter()
        .find(|e| e.message.contains("already held"))
        .unwrap();
    assert_eq!(badge.line, Some(12), "{badge}");
    assert_eq!(badge.field.as_deref(), Some("people[1].badges[0]"));
    let team = errs
        .iter()
        .find(|e| e.message.contains("unknown team"))
        .unwrap();
    assert_eq!(team.line, Some(15), "{team}");
    let zone = errs
        .iter()
        .find(|e| e.message.contains("not in site"))
        .unwrap();
    assert!(zone.file.ends_with("assets.yaml"));
    assert_eq!(zone.line, Some(7), "{zone}");
}

#[test]
fn a_misspelt_file_name_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("person.yaml", PEOPLE)]);
    let e = &load_dir(dir.path()).unwrap_err().0[0];
    assert!(
        e.file.ends_with("person.yaml") && e.message.contains("unknown"),
        "{e}"
    );
    assert!(load_dir(&dir.path().join("missing")).unwrap().is_empty());
}

#[test]
fn enrichment_resolves_identities_and_counts_what_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    full(dir.path());
    let handle = Arc::new(OrgHandle::load(dir.path().to_owned()).unwrap());
    let enricher = OrgEnricher::new(handle.clone());

    let mut e = event("physical_access", "granted");
    e.badge = Some("0x3F21A9".into());
    e.portal = Some("HQ-OFFICE-R1".into());
    enricher.enrich(&mut e);
    assert_eq!(e.person_id.as_deref(), Some("p-adurand"));
    assert_eq!(e.site_id.as_deref(), Some("hq-paris"));
    assert_eq!(e.zone_id.as_deref(), Some("hq-office"));
    assert_eq!(e.geo.as_ref().unwrap().radius_m, Some(200.0));

    let mut e = event("authentication", "logon");
    e.user = Some("CORP\\jbecker".into());
    e.host = Some("srv-fra-db02".into());
    enricher.enrich(&mut e);
    assert_eq!(e.person_id.as_deref(), Some("p-jbecker"));
    assert_eq!(e.asset_id.as_deref(), Some("srv-fra-db02"));
    assert_eq!(e.site_id.as_deref(), Some("dc-frankfurt"));
    assert_eq!(e.zone_id.as_deref(), Some("dc-server-room"));

    let mut e = event("network_activity", "traffic");
    e.host = Some("WS-PAR-0142".into());
    enricher.enrich(&mut e);
    assert_eq!(
        e.person_id.as_deref(),
        Some("p-adurand"),
        "a device names its owner"
    );

    let mut e = event("physical_access", "granted");
    e.badge = Some("0xDEAD".into());
    e.portal = Some("NOWHERE".into());
    e.host = Some("ghost".into());
    enricher.enrich(&mut e);
    assert_eq!(e.person_id, None);
    let counts: std::collections::HashMap<_, _> =
        enricher.unresolved().counts().into_iter().collect();
    assert_eq!(counts[&IdentityKind::Badge], 1);
    assert_eq!(counts[&IdentityKind::Portal], 1);
    assert_eq!(counts[&IdentityKind::Host], 1);
    assert_eq!(counts[&IdentityKind::Account], 0);
    assert_eq!(enricher.unresolved().recent().len(), 3);
}

#[test]
fn a_bad_reload_keeps_the_old_model_in_force() {
    let dir = tempfile::tempdir().unwrap();
    full(dir.path());
    let handle = OrgHandle::load(dir.path().to_owned()).unwrap();
    write(
        dir.path(),
        &[("teams.yaml", "teams:\n  - id: soc\n    nme: x\n")],
    );
    let errs = handle.reload().unwrap_err();
    assert_eq!(errs.0[0].line, Some(3));
    assert_eq!(handle.current().summary().people, 2);
    assert_eq!(handle.reloads(), 0);
    write(
        dir.path(),
        &[
            ("teams.yaml", TEAMS),
            (
                "people.yaml",
                &PEOPLE[..PEOPLE.find("  - id: p-jbecker").unwrap()],
            ),
        ],
    );
    // Teams still name p-jbecker, who is gone: refused as a whole.
    assert!(
        handle
            .reload()
            .unwrap_err()
            .to_string()
            .contains("unknown person \"p-jbecker\"")
    );
    write(dir.path(), &[("people.yaml", PEOPLE)]);
    assert_eq!(handle.reload().unwrap().people, 2);
    assert_eq!(handle.reloads(), 1);
}

#[test]
fn presence_follows_badge_passages_and_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    full(dir.path());
    let handle = OrgHandle::load(dir.path().to_owned()).unwrap();
    let org = handle.current();
    let unresolved = Unresolved::default();
    let mut book = PresenceBook::new(1);
    let pass = |portal: &str, badge: &str, at: &str| {
        let mut e = event("physical_access", "granted");
        e.badge = Some(badge.into());
        e.portal = Some(portal.into());
        e.time = t(at);
        enrich_with(&org, &mut e, &unresolved);
        e
    };
    let ch = book
        .observe(&org, &pass("HQ-LOBBY", "0x3F21A9", "2026-05-04T08:00:00Z"))
        .unwrap();
    assert_eq!(ch.role, PortalRole::Entrance);
    assert!(ch.before.is_none());
    book.observe(&org, &pass("HQ-OFFICE", "0x3F21A9", "2026-05-04T08:05:00Z"));
    let p = book.get("p-adurand").unwrap();
    assert!(p.inside);
    assert_eq!(p.zone_id.as_deref(), Some("hq-office"));
    assert_eq!(p.since, t("2026-05-04T08:05:00Z"));
    assert!(p.badged_into_on("hq-paris", "2026-05-04".parse().unwrap()));
    assert!(!p.badged_into_on("hq-paris", "2026-05-05".parse().unwrap()));
    // An older event does not rewind the book.
    assert!(
        book.observe(&org, &pass("HQ-EXIT", "0x3F21A9", "2026-05-04T07:00:00Z"))
            .is_none()
    );
    assert_eq!(book.late(), 1);
    book.observe(&org, &pass("HQ-EXIT", "0x3F21A9", "2026-05-04T18:00:00Z"));
    let p = book.get("p-adurand").unwrap();
    assert!(!p.inside);
    assert_eq!(p.zone_id, None);
    // The cap is one person: the next person pushes the first out.
    book.observe(&org, &pass("DC-SRV", "0x3F21B2", "2026-05-04T18:01:00Z"));
    assert_eq!(book.len(), 1);
    assert_eq!(book.evicted(), 1);
    assert!(book.get("p-adurand").is_none());
}
