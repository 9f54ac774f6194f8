//! Public signals on the live pipeline: posts about a fire in the city of a site raise one
//! `public_signal` alert that names the site, and later posts update it instead of alerting again.

use tocsin_server::{Config, ServerOptions};

const SITES: &str = "sites:\n  - id: dc-frankfurt\n    name: Frankfurt data centre\n    location: { lat: 50.1109, lon: 8.6821 }\n    geofence: { radius_m: 800 }\n";

#[tokio::test]
async fn posts_about_a_fire_near_a_site_raise_one_public_signal_alert() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tocsin.toml"),
        "version = 1\n[public_signal]\nmin_sources = 2\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("org")).unwrap();
    std::fs::write(dir.path().join("org/sites.yaml"), SITES).unwrap();
    let config = Config::load_dir(dir.path()).unwrap();
    let mut opts = ServerOptions::new(config);
    opts.listen = None;
    opts.start_sources = false;
    opts.data_dir = Some(dir.path().join("data"));
    let mut server = tocsin_server::start(opts).await.unwrap();
    let texts = [
        "Huge fire in Frankfurt right now, black smoke over the city",
        "Firefighters battling a large blaze in Frankfurt, buildings burning",
        "Fire in Frankfurt: flames and smoke visible from the river, stay away",
        "Still burning in Frankfurt, the fire has spread to a second warehouse",
    ];
    let body: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                r#"{{"time":"2026-05-04T02:0{i}:00Z","domain":"public","class":"public_report","message":"{t}","fields":{{"author":"user{i}"}}}}"#
            ) + "\n"
        })
        .collect();
    let report = server
        .state
        .api_source
        .ingest(body.as_bytes(), &server.sink)
        .unwrap();
    assert_eq!(report.accepted, 4);
    server.wait_processed(4).await;
    let page = server
        .state
        .store
        .query_alerts(&tocsin_store::AlertQuery {
            detector: Some("public_signal".into()),
            ..tocsin_store::AlertQuery::new("default")
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "{:?}", page.items);
    let a = &page.items[0];
    assert_eq!(a.rule.as_deref(), Some("fire"));
    assert_eq!(a.site_id.as_deref(), Some("dc-frankfurt"));
    assert!(a.geo.as_ref().is_some_and(|g| g.radius_m.is_some()));
    assert!(a.title.contains("Frankfurt"), "{}", a.title);
}
