//! Sigma rules on the live pipeline: a single-event rule and a correlation rule raise alerts with
//! their evidence, rules that cannot load are listed with their reason, hits are counted.

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
