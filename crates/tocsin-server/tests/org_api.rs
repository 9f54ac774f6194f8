//! The organisation over HTTP: read endpoints, presence from badge events, reload with a bad file
//! refused (422, file and line) while the old model stays, and reload reserved to admins.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tocsin_server::{Config, ServerOptions};
use tower::ServiceExt;

const SITES: &str = "sites:\n  - id: hq\n    name: HQ\n    location: { lat: 48.89, lon: 2.24 }\n    entrances: [HQ-IN]\n    zones:\n      - { id: hq-office, name: Office, portals: [HQ-OFFICE] }\n";
const PEOPLE: &str = "people:\n  - id: p-ana\n    name: Ana Silva\n    badges: [B-ANA]\n    accounts: [asilva]\n    home_site: hq\n";

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: &str,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, json)
}

#[tokio::test]
async fn org_endpoints_presence_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tocsin.toml"), "version = 1\n").unwrap();
    let org = dir.path().join("org");
    std::fs::create_dir(&org).unwrap();
    std::fs::write(org.join("sites.yaml"), SITES).unwrap();
    std::fs::write(org.join("people.yaml"), PEOPLE).unwrap();
    let config = Config::load_dir(dir.path()).unwrap();
    let mut opts = ServerOptions::new(config);
    opts.listen = None;
    opts.start_sources = false;
    opts.data_dir = Some(dir.path().join("data"));
    opts.bootstrap_token = Some("admin-token".into());
    let mut server = tocsin_server::start(opts).await.unwrap();
    let app = tocsin_api::router(server.state.clone());

    let (s, v) = call(&app, "GET", "/api/v1/sites", "admin-token", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["items"][0]["id"], "hq");
    for path in [
        "/api/v1/people",
        "/api/v1/assets",
        "/api/v1/teams",
        "/api/v1/org",
    ] {
        assert_eq!(
            call(&app, "GET", path, "admin-token", "").await.0,
            StatusCode::OK,
            "{path}"
        );
    }

    let (s, v) = call(
        &app,
        "GET",
        "/api/v1/people/p-ana/presence",
        "admin-token",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["presence"], Value::Null);
    let event = r#"[{"time": "2026-05-04T08:00:00Z", "domain": "physical", "class": "physical_access", "activity": "granted", "badge": "B-ANA", "portal": "HQ-OFFICE"},
        {"time": "2026-05-04T08:00:01Z", "domain": "physical", "class": "physical_access", "activity": "granted", "badge": "B-NOBODY", "portal": "HQ-OFFICE"}]"#;
    assert_eq!(
        call(&app, "POST", "/api/v1/events", "admin-token", event)
            .await
            .0,
        StatusCode::ACCEPTED
    );
    server.wait_processed(2).await;
    let (_, v) = call(
        &app,
        "GET",
        "/api/v1/people/p-ana/presence",
        "admin-token",
        "",
    )
    .await;
    assert_eq!(v["presence"]["site_id"], "hq");
    assert_eq!(v["presence"]["zone_id"], "hq-office");
    assert_eq!(v["presence"]["inside"], true);
    assert_eq!(
        call(
            &app,
            "GET",
            "/api/v1/people/nobody/presence",
            "admin-token",
            ""
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, v) = call(&app, "GET", "/api/v1/org", "admin-token", "").await;
    assert_eq!(v["unresolved"]["badge"], 1);
    let (_, metrics) = call(&app, "GET", "/metrics", "admin-token", "").await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("tocsin_unresolved_identities_total{kind=\"badge\"} 1"),
        "{metrics}"
    );

    // A bad file: refused with its file and line, the old model stays.
    std::fs::write(org.join("people.yaml"), format!("{PEOPLE}    team: red\n")).unwrap();
    let (s, v) = call(&app, "POST", "/api/v1/reload", "admin-token", "").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let e = &v["error"]["errors"][0];
    assert!(e["file"].as_str().unwrap().ends_with("people.yaml"), "{v}");
    assert_eq!(e["line"], 7);
    assert_eq!(e["field"], "people[0].team");
    let (_, v) = call(&app, "GET", "/api/v1/people", "admin-token", "").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);

    // Fixed: reloaded without a restart.
    std::fs::write(
        org.join("people.yaml"),
        format!("{PEOPLE}  - {{ id: p-ben, name: Ben, badges: [B-BEN] }}\n"),
    )
    .unwrap();
    let (s, v) = call(&app, "POST", "/api/v1/reload", "admin-token", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["summary"]["people"], 2);
    let (_, v) = call(&app, "GET", "/api/v1/people", "admin-token", "").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 2);

    // Only admins reload.
    server
        .state
        .store
        .insert_token(&tocsin_store::ApiToken {
            id: "t1".into(),
            name: "lead".into(),
            token_hash: tocsin_api::hash_token("lead-token"),
            role: "lead".into(),
            tenant: "default".into(),
            created: chrono::Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(
        call(&app, "POST", "/api/v1/reload", "lead-token", "")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    server.stop().await;
}
