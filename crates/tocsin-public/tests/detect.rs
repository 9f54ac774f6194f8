use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tocsin_detect::{Detection, Detector};
use tocsin_model::Event;
use tocsin_public::feeds::{FeedKind, FeedOptions, parse_feed, social_post_from_value};
use tocsin_public::{
    PublicSignalConfig, PublicSignalDetector, SiteRef, TravellerRef, WatchItem, WatchKind,
};

fn t0() -> DateTime<Utc> {
    "2026-05-04T02:00:00Z".parse().unwrap()
}

fn post(id: &str, author: &str, minutes: i64, text: &str) -> Event {
    let v = json!({
        "id": id,
        "time": (t0() + Duration::minutes(minutes)).to_rfc3339(),
        "author": author,
        "text": text,
    });
    social_post_from_value(
        &v,
        &FeedOptions::new("social", t0() + Duration::minutes(minutes)),
    )
    .unwrap()
    .event
}

fn lyon_site() -> SiteRef {
    SiteRef {
        id: "lyon-dc".into(),
        name: "Lyon data centre".into(),
        lat: 45.7485,
        lon: 4.8467,
        radius_m: 500.0,
    }
}

fn detector(cfg: PublicSignalConfig) -> PublicSignalDetector {
    PublicSignalDetector::new(cfg).unwrap()
}

fn feed(d: &mut PublicSignalDetector, events: &[Event]) -> Vec<Detection> {
    let mut out = Vec::new();
    for e in events {
        d.on_event(e, &mut out);
    }
    out
}

const FIRE: [&str; 5] = [
    "Huge fire at a warehouse in Lyon, thick black smoke everywhere",
    "Firefighters battling a big blaze in Lyon right now, the whole street evacuated",
    "Massive fire near the river in Lyon, you can see the flames from across town",
    "Lyon: the warehouse fire is still burning, roads closed around it",
    "Incendie spectaculaire dans un entrepôt à Lyon, les pompiers sur place",
];

#[test]
fn independent_reports_near_a_site_raise_one_alert_then_update_it() {
    let mut d = detector(PublicSignalConfig {
        sites: vec![lyon_site()],
        ..PublicSignalConfig::default()
    });
    let events: Vec<Event> = FIRE
        .iter()
        .enumerate()
        .map(|(i, t)| post(&format!("p{i}"), &format!("user{i}"), i as i64 * 3, t))
        .collect();
    let early = feed(&mut d, &events[..2]);
    assert!(early.is_empty(), "two reports are not enough: {early:?}");
    let out = feed(&mut d, &events[2..]);
    assert!(!out.is_empty());
    let first = &out[0];
    assert_eq!(first.detector, "public_signal");
    assert_eq!(first.rule.as_deref(), Some("fire"));
    assert_eq!(first.site_id.as_deref(), Some("lyon-dc"));
    assert_eq!(first.entities["update"], false);
    assert_eq!(first.entities["place"], "Lyon");
    let m = &first.entities["matches"][0];
    assert_eq!(m["kind"], "site");
    assert!(m["distance_m"].as_f64().unwrap() < 10_000.0, "{m}");
    let geo = first.geo.as_ref().unwrap();
    assert!(geo.radius_m.unwrap() > 1_000.0 && geo.radius_m.unwrap() < 50_000.0);
    assert_eq!(first.evidence.len(), 3);
    assert!(
        first.title.contains("Fire") && first.title.contains("Lyon data centre"),
        "{}",
        first.title
    );
    // Everything after the first detection is about the same event: same key, marked as update.
    for later in &out[1..] {
        assert_eq!(later.dedup_key, first.dedup_key);
        assert_eq!(later.entities["update"], true);
    }
}

#[test]
fn re_posts_of_one_text_count_as_one_source() {
    let mut d = detector(PublicSignalConfig {
        sites: vec![lyon_site()],
        ..PublicSignalConfig::default()
    });
    let events: Vec<Event> = (0..6)
        .map(|i| {
            post(
                &format!("r{i}"),
                &format!("fan{i}"),
                i,
                &format!("RT @news: {}", FIRE[0]),
            )
        })
        .collect();
    assert!(feed(&mut d, &events).is_empty());
}

#[test]
fn events_far_from_sites_alert_only_when_asked_or_watched() {
    let events: Vec<Event> = FIRE
        .iter()
        .enumerate()
        .map(|(i, t)| {
            post(
                &format!("q{i}"),
                &format!("u{i}"),
                i as i64,
                &t.replace("Lyon", "Lisbon"),
            )
        })
        .collect();
    let mut quiet = detector(PublicSignalConfig {
        sites: vec![lyon_site()],
        ..PublicSignalConfig::default()
    });
    assert!(feed(&mut quiet, &events).is_empty());

    let mut global = detector(PublicSignalConfig {
        alert_unmatched: true,
        ..PublicSignalConfig::default()
    });
    let out = feed(&mut global, &events);
    assert!(!out.is_empty());
    assert_eq!(out[0].entities["country"], "PT");

    let mut watched = detector(PublicSignalConfig {
        watch: vec![WatchItem {
            id: "w-warehouses".into(),
            kind: WatchKind::Keyword,
            terms: vec!["warehouse".into()],
        }],
        ..PublicSignalConfig::default()
    });
    let out = feed(&mut watched, &events);
    assert!(!out.is_empty());
    assert_eq!(out[0].entities["matches"][0]["kind"], "watch_keyword");
}

#[test]
fn an_actual_official_warning_near_a_traveller_alerts_at_once_and_exercises_do_not() {
    let cap = |status: &str| {
        format!(
            r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>FL-{status}</identifier>
            <sender>wx@example.org</sender><sent>2026-05-04T02:00:00Z</sent><status>{status}</status>
            <msgType>Alert</msgType><scope>Public</scope><info><event>Flash Flood Warning</event>
            <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
            <headline>Flash flood warning</headline><area><areaDesc>Houston</areaDesc>
            <circle>29.76,-95.37 8</circle></area></info></alert>"#
        )
    };
    let traveller = TravellerRef {
        id: "p-ana".into(),
        name: "Ana".into(),
        lat: 29.75,
        lon: -95.36,
    };
    let opts = FeedOptions::new("cap", t0());
    let exercise = parse_feed(FeedKind::Cap, cap("Exercise").as_bytes(), &opts).unwrap();
    let actual = parse_feed(FeedKind::Cap, cap("Actual").as_bytes(), &opts).unwrap();
    let mut d = detector(PublicSignalConfig {
        travellers: vec![traveller],
        ..PublicSignalConfig::default()
    });
    assert!(feed(&mut d, &[exercise.items[0].event.clone()]).is_empty());
    let out = feed(&mut d, &[actual.items[0].event.clone()]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].rule.as_deref(), Some("flood"));
    assert_eq!(out[0].entities["official"], true);
    assert_eq!(out[0].entities["matches"][0]["kind"], "traveller");
    assert_eq!(out[0].geo.as_ref().unwrap().radius_m, Some(8000.0));
}

#[test]
fn known_exploited_vulnerabilities_alert_when_they_match_the_watch_list() {
    let kev = br#"{"vulnerabilities":[
      {"cveID":"CVE-2026-1","vendorProject":"Acme","product":"Door Controller","vulnerabilityName":"x","dateAdded":"2026-05-01"},
      {"cveID":"CVE-2026-2","vendorProject":"Other","product":"Thing","vulnerabilityName":"y","dateAdded":"2026-05-01"}]}"#;
    let items = parse_feed(FeedKind::Kev, kev, &FeedOptions::new("kev", t0())).unwrap();
    let mut d = detector(PublicSignalConfig {
        watch: vec![WatchItem {
            id: "assets".into(),
            kind: WatchKind::Company,
            terms: vec!["acme door controller".into(), "Acme".into()],
        }],
        ..PublicSignalConfig::default()
    });
    let events: Vec<Event> = items.items.into_iter().map(|i| i.event).collect();
    let out = feed(&mut d, &events);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].entities["cve"], "CVE-2026-1");
    assert_eq!(out[0].dedup_key, "public_signal:vuln:CVE-2026-1");
}

#[test]
fn different_kinds_of_event_at_one_place_are_separate() {
    let mut d = detector(PublicSignalConfig {
        sites: vec![lyon_site()],
        ..PublicSignalConfig::default()
    });
    let mut events: Vec<Event> = FIRE
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, t)| post(&format!("f{i}"), &format!("a{i}"), i as i64, t))
        .collect();
    for (i, t) in [
        "Massive power outage in Lyon, whole districts without electricity",
        "Blackout across Lyon, traffic lights out and trams stopped",
        "Still no power in Lyon after the substation failure, thousands without electricity",
    ]
    .iter()
    .enumerate()
    {
        events.push(post(&format!("o{i}"), &format!("b{i}"), 10 + i as i64, t));
    }
    let out = feed(&mut d, &events);
    let keys: std::collections::HashSet<&str> = out.iter().map(|d| d.dedup_key.as_str()).collect();
    let rules: std::collections::HashSet<&str> =
        out.iter().filter_map(|d| d.rule.as_deref()).collect();
    assert_eq!(keys.len(), 2, "{out:#?}");
    assert!(
        rules.contains("fire") && rules.contains("infrastructure_outage"),
        "{rules:?}"
    );
}

#[test]
fn open_clusters_stay_bounded() {
    let mut d = detector(PublicSignalConfig {
        max_clusters: 32,
        alert_unmatched: true,
        ..PublicSignalConfig::default()
    });
    let cities = [
        "Paris", "Madrid", "Berlin", "Rome", "Vienna", "Warsaw", "Prague", "Budapest", "Lisbon",
        "Athens",
    ];
    let mut out = Vec::new();
    for i in 0..400 {
        let city = cities[i % cities.len()];
        let e = post(
            &format!("m{i}"),
            &format!("x{i}"),
            i as i64,
            &format!("Huge fire reported in {city} number {i}"),
        );
        d.on_event(&e, &mut out);
        assert!(d.stats().open_groups <= 32);
    }
    assert!(d.stats().open_groups > 0);
}

#[test]
fn other_domains_and_empty_posts_are_ignored() {
    let mut d = detector(PublicSignalConfig {
        alert_unmatched: true,
        ..PublicSignalConfig::default()
    });
    let mut e = post("c1", "x", 0, FIRE[0]);
    e.domain = tocsin_model::Domain::Cyber;
    let mut empty = post("c2", "x", 0, "x");
    empty.message = None;
    assert!(feed(&mut d, &[e, empty]).is_empty());
    assert_eq!(d.id(), "public_signal");
}

#[test]
fn the_same_stream_gives_the_same_detections() {
    let texts = [
        "Huge fire at a warehouse in Lyon, thick black smoke everywhere",
        "Flooding in Lyon after heavy rain, streets under water",
        "Fire in Lyon spreading to a second building",
        "Lyon flood: the river burst its banks",
        "Firefighters battling a big blaze in Lyon right now",
        "Streets flooded in Lyon, cars stuck in water",
        "Massive fire near the station in Lyon",
        "Flood warning for Lyon, evacuations under way",
    ];
    let run = || {
        let mut d = detector(PublicSignalConfig {
            alert_unmatched: true,
            ..PublicSignalConfig::default()
        });
        let events: Vec<Event> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| post(&format!("d{i}"), &format!("v{i}"), i as i64, t))
            .collect();
        feed(&mut d, &events)
    };
    let first = run();
    assert!(!first.is_empty());
    for _ in 0..5 {
        assert_eq!(run(), first);
    }
}
