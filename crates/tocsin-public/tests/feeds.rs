use std::path::PathBuf;

use proptest::prelude::*;
use tocsin_model::{Domain, Severity};
use tocsin_public::feeds::{FeedKind, FeedOptions, Novelty, SeenSet, parse_feed, sniff};

fn opts() -> FeedOptions {
    FeedOptions::new("feeds-test", "2026-05-04T03:00:00Z".parse().unwrap())
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn field<'a>(e: &'a tocsin_model::Event, k: &str) -> &'a serde_json::Value {
    e.fields.get(k).unwrap_or(&serde_json::Value::Null)
}

#[test]
fn rss_items_become_public_reports_and_bad_items_are_reported() {
    let feed = parse_feed(FeedKind::Rss, &fixture("rss.xml"), &opts()).unwrap();
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.skipped.len(), 1);
    assert!(
        feed.skipped[0].reason.contains("date"),
        "{:?}",
        feed.skipped
    );
    let fire = &feed.items[0].event;
    assert_eq!(fire.domain, Domain::Public);
    assert_eq!(fire.class, "public_report");
    assert_eq!(fire.activity.as_deref(), Some("news"));
    assert_eq!(
        fire.time,
        "2026-05-04T02:10:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    let msg = fire.message.as_deref().unwrap();
    assert!(msg.starts_with("Warehouse fire forces evacuation"), "{msg}");
    assert!(msg.contains("Waalhaven") && !msg.contains("<b>"), "{msg}");
    let g = fire.geo.as_ref().unwrap();
    assert!((g.lat - 51.8897).abs() < 1e-9 && (g.lon - 4.4376).abs() < 1e-9);
    assert_eq!(fire.person.as_deref(), Some("Night desk"));
    assert_eq!(feed.items[0].dedup_key, "news:courier-88121");
    assert_eq!(
        feed.items[1].event.time,
        "2026-05-03T14:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
}

#[test]
fn atom_entries_use_alternate_links_and_published_time() {
    let feed = parse_feed(FeedKind::Rss, &fixture("atom.xml"), &opts()).unwrap();
    assert_eq!(feed.items.len(), 1);
    let it = &feed.items[0];
    assert_eq!(
        it.event.url.as_deref(),
        Some("https://wire.example/lyon-outage")
    );
    assert_eq!(it.dedup_key, "news:tag:wire.example,2026:lyon-outage");
    assert_eq!(it.version, "2026-05-04T02:58:00Z");
    assert!(it.event.message.as_deref().unwrap().contains("substation"));
}

#[test]
fn cap_alert_takes_the_english_info_all_areas_and_maps_severity() {
    let feed = parse_feed(FeedKind::Cap, &fixture("cap_alert.xml"), &opts()).unwrap();
    assert_eq!(feed.items.len(), 1);
    let e = &feed.items[0].event;
    assert_eq!(e.class, "hazard_warning");
    assert_eq!(e.severity, Severity::HIGH);
    assert_eq!(e.confidence, Some(75));
    assert_eq!(field(e, "event"), "Flash Flood Warning");
    assert_eq!(field(e, "urgency"), "Immediate");
    assert_eq!(field(e, "cap_status"), "Actual");
    assert_eq!(field(e, "exercise"), false);
    assert_eq!(e.place.as_deref(), Some("Lower River Valley; River mouth"));
    assert_eq!(
        e.time,
        "2026-05-04T06:30:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    let g = e.geo.as_ref().unwrap();
    assert_eq!(g.polygon.as_ref().unwrap().len(), 5);
    assert!((g.lat - 29.74).abs() < 0.01, "centroid {g:?}");
    assert!(g.radius_m.unwrap() > 5_000.0 && g.radius_m.unwrap() < 10_000.0);
    assert_eq!(field(e, "area_circles"), 1);
    assert_eq!(field(e, "geocodes")[0]["value"], "048201");
    assert_eq!(
        feed.items[0].dedup_key,
        "cap:alerts@river-authority.example|EXAMPLE-FLOOD-2026-0142"
    );
}

#[test]
fn atom_index_of_cap_reads_summaries_and_embedded_alerts_and_keeps_status() {
    let feed = parse_feed(FeedKind::Cap, &fixture("cap_atom_index.xml"), &opts()).unwrap();
    assert_eq!(feed.items.len(), 2, "{:?}", feed.skipped);
    let tornado = &feed.items[0].event;
    assert_eq!(field(tornado, "cap_status"), "Exercise");
    assert_eq!(field(tornado, "exercise"), true);
    assert_eq!(tornado.severity, Severity::CRITICAL);
    assert_eq!(tornado.confidence, Some(95));
    assert_eq!(field(tornado, "geocodes").as_array().unwrap().len(), 2);
    assert!(tornado.geo.as_ref().unwrap().polygon.is_some());
    assert_eq!(
        tornado.url.as_deref(),
        Some("https://alerts.example/cap/TORNADO-77")
    );
    let embedded = &feed.items[1].event;
    assert_eq!(field(embedded, "cap_status"), "Test");
    assert_eq!(embedded.place.as_deref(), Some("Statewide"));
    assert!(embedded.geo.is_none());
    assert_eq!(
        embedded.url.as_deref(),
        Some("https://alerts.example/cap/EMBEDDED-1")
    );
}

#[test]
fn gdacs_items_carry_hazard_level_point_and_radius() {
    let feed = parse_feed(FeedKind::Gdacs, &fixture("gdacs.xml"), &opts()).unwrap();
    assert_eq!(feed.items.len(), 2);
    let eq = &feed.items[0];
    assert_eq!(eq.dedup_key, "gdacs:EQ1400001");
    assert_eq!(eq.version, "1500002/2");
    assert_eq!(eq.event.activity.as_deref(), Some("earthquake"));
    assert_eq!(eq.event.severity, Severity::HIGH);
    assert_eq!(eq.event.place.as_deref(), Some("Indonesia"));
    let g = eq.event.geo.as_ref().unwrap();
    assert_eq!((g.lat, g.lon), (-7.25, 112.75));
    let r = g.radius_m.unwrap();
    assert!(r > 100_000.0 && r < 200_000.0, "{r}");
    let fl = &feed.items[1].event;
    assert_eq!(fl.activity.as_deref(), Some("flood"));
    assert_eq!(fl.severity, Severity::LOW);
    assert_eq!(fl.geo.as_ref().unwrap().lat, -19.8);
}

#[test]
fn usgs_features_map_magnitude_to_severity_and_radius() {
    let feed = parse_feed(FeedKind::UsgsGeoJson, &fixture("usgs.json"), &opts()).unwrap();
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.skipped.len(), 1);
    assert!(feed.skipped[0].reason.contains("time"));
    let it = &feed.items[0];
    assert_eq!(it.dedup_key, "usgs:ci40000001");
    assert_eq!(it.version, "1777857600000");
    assert_eq!(it.event.severity, Severity::MEDIUM);
    assert_eq!(
        it.event.place.as_deref(),
        Some("12 km SSW of Ridgecrest, CA")
    );
    assert_eq!(field(&it.event, "depth_km"), 8.1);
    let g = it.event.geo.as_ref().unwrap();
    assert_eq!((g.lat, g.lon), (35.52, -117.72));
}

#[test]
fn kev_and_nvd_become_vulnerabilities_with_vendor_product_and_cpe() {
    let kev = parse_feed(FeedKind::Kev, &fixture("kev.json"), &opts()).unwrap();
    assert_eq!(kev.items.len(), 2);
    let e = &kev.items[0].event;
    assert_eq!(e.class, "vulnerability");
    assert_eq!(
        e.severity,
        Severity::CRITICAL,
        "ransomware use raises severity"
    );
    assert_eq!(field(e, "vendor"), "Acme");
    assert_eq!(field(e, "product"), "Door Controller");
    assert_eq!(kev.items[1].event.severity, Severity::HIGH);

    let nvd = parse_feed(FeedKind::Nvd, &fixture("nvd.json"), &opts()).unwrap();
    assert_eq!(nvd.items.len(), 1);
    let e = &nvd.items[0].event;
    assert_eq!(e.severity, Severity::CRITICAL);
    assert_eq!(field(e, "vendor"), "acme");
    assert_eq!(field(e, "product"), "camera_firmware");
    assert_eq!(field(e, "cpes").as_array().unwrap().len(), 1);
    assert!(
        field(e, "description")
            .as_str()
            .unwrap()
            .starts_with("A buffer overflow")
    );
    assert_eq!(nvd.items[0].version, "2026-05-04T01:00:00.000");
}

#[test]
fn social_ndjson_reads_posts_and_reports_bad_lines() {
    let feed = parse_feed(FeedKind::Social, &fixture("social.ndjson"), &opts()).unwrap();
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.skipped.len(), 2);
    let p = &feed.items[1].event;
    assert_eq!(p.person.as_deref(), Some("anna_k"));
    assert_eq!(field(p, "lang"), "nl");
    let g = p.geo.as_ref().unwrap();
    assert_eq!((g.lat, g.lon), (51.89, 4.44));
    assert_eq!(feed.items[1].dedup_key, "post:social:1002");
}

#[test]
fn repeated_polls_yield_only_new_or_updated_items() {
    let mut seen = SeenSet::new(100);
    let first = parse_feed(FeedKind::Gdacs, &fixture("gdacs.xml"), &opts()).unwrap();
    assert_eq!(seen.filter(first.clone()).len(), 2);
    assert_eq!(seen.filter(first.clone()).len(), 0);
    let mut updated = first;
    updated.items[0].version = "1500003/3".into();
    assert_eq!(seen.filter(updated).len(), 1);
    assert_eq!(seen.observe("gdacs:FL1100222", "1/"), Novelty::Seen);
}

#[test]
fn documents_are_size_limited_and_sniffed() {
    let mut o = opts();
    o.max_bytes = 100;
    assert!(parse_feed(FeedKind::Rss, &fixture("rss.xml"), &o).is_err());
    assert_eq!(sniff(&fixture("cap_alert.xml")), Some(FeedKind::Cap));
    assert_eq!(sniff(&fixture("cap_atom_index.xml")), Some(FeedKind::Cap));
    assert_eq!(sniff(&fixture("gdacs.xml")), Some(FeedKind::Gdacs));
    assert_eq!(sniff(&fixture("usgs.json")), Some(FeedKind::UsgsGeoJson));
    assert_eq!(sniff(&fixture("kev.json")), Some(FeedKind::Kev));
    assert_eq!(sniff(&fixture("nvd.json")), Some(FeedKind::Nvd));
    assert_eq!(sniff(&fixture("rss.xml")), Some(FeedKind::Rss));
}

fn reference(sub: &str) -> Option<PathBuf> {
    match std::env::var_os("TOCSIN_REFERENCE_DATA") {
        Some(d) => Some(PathBuf::from(d).join(sub)),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "TOCSIN_REFERENCE_DATA must be set in CI"
            );
            eprintln!("skipped: TOCSIN_REFERENCE_DATA is not set");
            None
        }
    }
}

#[test]
fn real_cap_gdacs_and_kev_documents_parse_without_loss() {
    let Some(base) = reference("feeds") else {
        return;
    };
    let mut cap_items = 0;
    for entry in std::fs::read_dir(base.join("cap")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let feed = parse_feed(FeedKind::Cap, &bytes, &opts()).unwrap();
        assert!(feed.skipped.is_empty(), "{path:?}: {:?}", feed.skipped);
        assert_eq!(feed.items.len(), 1, "{path:?}");
        let e = &feed.items[0].event;
        assert!(!field(e, "cap_status").as_str().unwrap().is_empty());
        cap_items += 1;
    }
    assert!(cap_items >= 5);
    for name in ["gdacs-1.xml", "gdacs-rss.xml"] {
        let bytes = std::fs::read(base.join("gdacs").join(name)).unwrap();
        let feed = parse_feed(FeedKind::Gdacs, &bytes, &opts()).unwrap();
        assert!(!feed.items.is_empty());
        assert!(feed.skipped.is_empty(), "{name}: {:?}", feed.skipped);
        assert!(feed.items.iter().all(|i| i.event.geo.is_some()), "{name}");
    }
    let bytes = std::fs::read(base.join("kev/known_exploited_vulnerabilities.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let feed = parse_feed(FeedKind::Kev, &bytes, &opts()).unwrap();
    assert_eq!(feed.items.len() as u64, doc["count"].as_u64().unwrap());
    assert!(feed.skipped.is_empty());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        for kind in FeedKind::ALL {
            let _ = parse_feed(kind, &bytes, &opts());
        }
        let _ = sniff(&bytes);
    }

    #[test]
    fn mangled_fixtures_never_panic(cut in 0usize..2000, flip in 0usize..2000) {
        for (kind, name) in [(FeedKind::Cap, "cap_alert.xml"), (FeedKind::Gdacs, "gdacs.xml"), (FeedKind::UsgsGeoJson, "usgs.json"), (FeedKind::Nvd, "nvd.json")] {
            let mut b = fixture(name);
            if let Some(x) = b.get_mut(flip) { *x ^= 0x5a; }
            b.truncate(cut);
            let _ = parse_feed(kind, &b, &opts());
        }
    }
}
