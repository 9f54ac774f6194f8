//! Sigma rules on the live pipeline: a single-event rule and a correlation rule raise alerts with
//! their evidence, rules that cannot load are listed with their reason, hits are counted, and
//! rules are reloaded or added while the pipeline runs.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tocsin_server::{Config, ServerOptions};
use tower::ServiceExt;

const FAILED_LOGON: &str = r#"
title: Failed logon to a server
id: 5f1c6e1a-0000-4000-8000-000000000001
name: failed_logon
status: test
level: medium
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
"#;

const SPRAY: &str = r#"
title: Many failed logons for one account
id: 5f1c6e1a-0000-4000-8000-000000000002
status: test
level: high
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - TargetUserName
    timespan: 5m
    generate: true
    condition:
        gte: 3
"#;

const BROKEN: &str = "title: Broken\nid: 5f1c6e1a-0000-4000-8000-000000000003\nlogsource:\n    product: windows\ndetection:\n    condition: nothing_defined\n";

async fn call(app: &axum::Router, uri: &str, body: Option<String>) -> (StatusCode, Value) {
    let builder = Request::builder()
        .uri(uri)
        .header("authorization", "Bearer admin-token");
    let req = match body {
        Some(b) => builder.method("POST").body(Body::from(b)).unwrap(),
        None => builder.method("GET").body(Body::empty()).unwrap(),
    };
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn sigma_single_and_correlation_rules_raise_alerts_on_the_live_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("failed_logon.yml"), FAILED_LOGON).unwrap();
    std::fs::write(rules.join("spray.yml"), SPRAY).unwrap();
    std::fs::write(rules.join("broken.yml"), BROKEN).unwrap();
    std::fs::write(
        dir.path().join("tocsin.toml"),
        "version = 1\n[sigma]\nrules = [\"rules\"]\n",
    )
    .unwrap();
    let config = Config::load_dir(dir.path()).unwrap();
    let mut opts = ServerOptions::new(config);
    opts.listen = None;
    opts.start_sources = false;
    opts.data_dir = Some(dir.path().join("data"));
    opts.bootstrap_token = Some("admin-token".into());
    let mut server = tocsin_server::start(opts).await.unwrap();
    let app = tocsin_api::router(server.state.clone());

    let body: String = (0..4)
        .map(|i| {
            format!(
                r#"{{"time":"2026-05-04T02:00:0{i}Z","domain":"cyber","class":"authentication","activity":"logon_failed","user":"alice","host":"SRV-FRA-AD01","fields":{{"Channel":"Security","EventID":4625,"TargetUserName":"alice"}}}}"#
            ) + "\n"
        })
        .collect();
    let (s, v) = call(&app, "/api/v1/events", Some(body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    server.wait_processed(4).await;

    let (_, alerts) = call(&app, "/api/v1/alerts?detector=sigma", None).await;
    let items = alerts["items"].as_array().unwrap();
    let by_title = |t: &str| items.iter().find(|a| a["title"] == t).cloned();
    // `generate: true` on the correlation keeps the referenced rule's own alerts (Sigma's default
    // is to hide them).
    let single = by_title("Failed logon to a server").expect("the single-event rule fired");
    assert_eq!(
        single["count"], 4,
        "repeats for the same entities fold into one alert"
    );
    let corr = by_title("Many failed logons for one account").expect("the correlation fired");
    assert_eq!(corr["severity"], 4);
    assert!(corr["evidence"].as_array().unwrap().len() >= 3);

    let (_, rules) = call(&app, "/api/v1/rules", None).await;
    assert_eq!(rules["loaded"], 2, "{rules}");
    let rejected = rules["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("broken.yml")
    );
    assert!(!rejected[0]["reason"].as_str().unwrap().is_empty());
    let hits = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "Failed logon to a server")
        .unwrap()["hits"]
        .as_u64()
        .unwrap();
    assert_eq!(hits, 4);
}

const LOCKOUT: &str = r#"
title: Account locked out
id: 5f1c6e1a-0000-4000-8000-000000000004
status: test
level: high
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4740
    condition: selection
"#;

const DOOR_FORCED: &str = r#"
title: Door forced open
id: 5f1c6e1a-0000-4000-8000-000000000005
status: test
level: critical
logsource:
    product: pacs
    category: physical_access
detection:
    selection:
        activity: door_forced
    condition: selection
"#;

/// A server with the rules of `files` in `<dir>/rules`, driven through the router.
async fn server_with(
    dir: &std::path::Path,
    files: &[(&str, &str)],
) -> (tocsin_server::RunningServer, axum::Router) {
    let rules = dir.join("rules");
    std::fs::create_dir(&rules).unwrap();
    for (name, text) in files {
        std::fs::write(rules.join(name), text).unwrap();
    }
    std::fs::write(
        dir.join("tocsin.toml"),
        "version = 1\n[sigma]\nrules = [\"rules\"]\n",
    )
    .unwrap();
    let config = Config::load_dir(dir).unwrap();
    let mut opts = ServerOptions::new(config);
    opts.listen = None;
    opts.start_sources = false;
    opts.data_dir = Some(dir.join("data"));
    opts.bootstrap_token = Some("admin-token".into());
    let server = tocsin_server::start(opts).await.unwrap();
    let app = tocsin_api::router(server.state.clone());
    (server, app)
}

fn lockout_event(user: &str) -> String {
    format!(
        r#"{{"time":"2026-05-04T02:10:00Z","domain":"cyber","class":"authentication","activity":"account_locked","user":"{user}","host":"SRV-FRA-AD01","fields":{{"Channel":"Security","EventID":4740,"TargetUserName":"{user}"}}}}"#
    )
}

async fn sigma_titles(app: &axum::Router) -> Vec<String> {
    let (_, alerts) = call(app, "/api/v1/alerts?detector=sigma", None).await;
    alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_reload_brings_new_sigma_rules_into_the_running_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, app) = server_with(dir.path(), &[("failed_logon.yml", FAILED_LOGON)]).await;

    let (s, _) = call(&app, "/api/v1/events", Some(lockout_event("bob"))).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    server.wait_processed(1).await;
    assert!(sigma_titles(&app).await.is_empty());

    std::fs::write(dir.path().join("rules/lockout.yml"), LOCKOUT).unwrap();
    let (s, v) = call(&app, "/api/v1/reload", Some(String::new())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sigma"]["status"], "reloaded");
    assert_eq!(v["sigma"]["loaded"], 2);
    assert_eq!(v["sigma"]["generation"], 1);
    let (_, rules) = call(&app, "/api/v1/rules", None).await;
    assert_eq!(rules["loaded"], 2, "{rules}");
    assert_eq!(rules["generation"], 1);

    let (s, _) = call(&app, "/api/v1/events", Some(lockout_event("carol"))).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    server.wait_processed(2).await;
    assert_eq!(sigma_titles(&app).await, ["Account locked out"]);

    // A folder that cannot be read is refused and the rules in force keep running.
    std::fs::remove_dir_all(dir.path().join("rules")).unwrap();
    let (s, v) = call(&app, "/api/v1/reload", Some(String::new())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_sigma_rules");
    assert_eq!(v["sigma"]["status"], "refused");
    let (s, _) = call(&app, "/api/v1/events", Some(lockout_event("dave"))).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    server.wait_processed(3).await;
    let (_, rules) = call(&app, "/api/v1/rules", None).await;
    assert_eq!(rules["generation"], 1);
    let hits = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "Account locked out")
        .unwrap()["hits"]
        .clone();
    assert_eq!(hits, 2);
}

#[tokio::test]
async fn an_uploaded_sigma_rule_runs_at_once_and_is_stored_in_the_rule_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, app) = server_with(dir.path(), &[("failed_logon.yml", FAILED_LOGON)]).await;

    let (s, v) = call(&app, "/api/v1/rules", Some(DOOR_FORCED.to_owned())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["id"], "5f1c6e1a-0000-4000-8000-000000000005");
    assert_eq!(v["loaded"], 2);
    let stored = dir
        .path()
        .join("rules/5f1c6e1a-0000-4000-8000-000000000005.yml");
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), DOOR_FORCED);

    let door = r#"{"time":"2026-05-04T02:20:00Z","domain":"physical","class":"physical_access","activity":"door_forced","portal":"D-101"}"#;
    let (s, v) = call(&app, "/api/v1/events", Some(door.to_owned())).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    server.wait_processed(1).await;
    assert_eq!(sigma_titles(&app).await, ["Door forced open"]);

    // The same id again, and a rule that cannot compile, are refused with the reason; nothing
    // changes.
    let (s, v) = call(&app, "/api/v1/rules", Some(DOOR_FORCED.to_owned())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let reason = v["error"]["message"].as_str().unwrap();
    assert!(reason.contains("already used"), "{reason}");
    let (s, v) = call(&app, "/api/v1/rules", Some(BROKEN.to_owned())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing_defined"),
        "{v}"
    );
    let (s, _) = call(
        &app,
        "/api/v1/rules",
        Some(format!("{DOOR_FORCED}\n# {}", "x".repeat(300 * 1024))),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Only admins add rules.
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
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/rules")
        .header("authorization", "Bearer lead-token")
        .body(Body::from(LOCKOUT))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let (_, rules) = call(&app, "/api/v1/rules", None).await;
    assert_eq!(rules["loaded"], 2, "{rules}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("rules")).unwrap().count(),
        2
    );
}

#[test]
fn a_missing_rule_folder_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tocsin.toml"),
        "version = 1\n[sigma]\nrules = [\"nowhere\"]\n",
    )
    .unwrap();
    let err = Config::load_dir(dir.path()).unwrap_err();
    let e = &err.0[0];
    assert_eq!(e.field.as_deref(), Some("sigma.rules"));
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("nowhere"));
}
