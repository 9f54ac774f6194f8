//! Incidents over HTTP: a physical and a cyber alert at the same site open one incident, which is
//! acknowledged with a disposition, noted, contained and resolved; the after-action report comes
//! in Markdown and HTML with the four questions and the measured times, marked DRAFT only before
//! resolution; per-rule statistics count the disposition; a viewer may read but not change.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tocsin_server::{Config, ServerOptions};
use tower::ServiceExt;

const CONFIG: &str = r#"version = 1

[[detect.rules]]
id = "door-forced"
title = "Door forced: {portal}"
severity = "high"
when = { class = "physical_access", activity = "forced" }

[[detect.rules]]
id = "console-login"
title = "Console login by {user}"
severity = "medium"
when = { class = "authentication", activity = "logon" }
dedup = { key = ["user"], window_secs = 600 }
"#;

const QUESTIONS: [&str; 4] = [
    "How were we exploited?",
    "Who or what threatened us?",
    "What impacted the security of our people, physical assets and digital assets?",
    "How should we work together to prevent, mitigate and respond next time?",
];

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: &str,
) -> (StatusCode, String) {
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
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn call_json(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: &str,
) -> (StatusCode, Value) {
    let (s, text) = call(app, method, uri, token, body).await;
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The Markdown table row that starts with `label`.
fn row<'a>(md: &'a str, label: &str) -> &'a str {
    md.lines()
        .find(|l| l.starts_with(&format!("| {label} |")))
        .unwrap_or_else(|| panic!("no row {label} in\n{md}"))
}

#[tokio::test]
async fn alerts_open_an_incident_that_is_acknowledged_resolved_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tocsin.toml"), CONFIG).unwrap();
    let config = Config::load_dir(dir.path()).unwrap();
    let mut opts = ServerOptions::new(config);
    opts.listen = None;
    opts.start_sources = false;
    opts.data_dir = Some(dir.path().join("data"));
    opts.bootstrap_token = Some("admin-token".into());
    let mut server = tocsin_server::start(opts).await.unwrap();
    let app = tocsin_api::router(server.state.clone());
    server
        .state
        .store
        .insert_token(&tocsin_store::ApiToken {
            id: "tok-viewer".into(),
            name: "wall screen".into(),
            token_hash: tocsin_api::hash_token("viewer-token"),
            role: "viewer".into(),
            tenant: "default".into(),
            created: chrono::Utc::now(),
        })
        .await
        .unwrap();

    let events = r#"[
        {"time": "2026-05-04T02:13:07Z", "domain": "physical", "class": "physical_access", "activity": "forced", "portal": "DC2-SRV", "site": "dc2", "message": "door forced"},
        {"time": "2026-05-04T02:14:30Z", "domain": "cyber", "class": "authentication", "activity": "logon", "user": "svc-backup", "host": "dc2-console", "site": "dc2", "message": "console logon"},
        {"time": "2026-05-04T02:15:10Z", "domain": "cyber", "class": "authentication", "activity": "logon", "user": "svc-backup", "host": "dc2-console", "site": "dc2", "message": "console logon again"},
        {"time": "2026-05-04T02:20:00Z", "domain": "cyber", "class": "authentication", "activity": "logon", "user": "asilva", "site": "hq", "message": "console logon"}
    ]"#;
    let (s, v) = call_json(&app, "POST", "/api/v1/events", "admin-token", events).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    server.wait_processed(4).await;

    // Two sites, two incidents; the DC2 one holds both domains, and the repeated logon stays one
    // alert.
    let (s, list) = call_json(&app, "GET", "/api/v1/incidents", "admin-token", "").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let dc2 = items
        .iter()
        .find(|i| i["group_key"] == "site=dc2")
        .expect("an incident for dc2");
    let id = dc2["id"].as_str().unwrap().to_owned();
    assert_eq!(dc2["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(dc2["state"], "new");

    let (s, one) = call_json(
        &app,
        "GET",
        &format!("/api/v1/incidents/{id}"),
        "viewer-token",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["sla_status"]["acknowledge_breached"], false);
    assert_eq!(one["sla_status"]["acknowledge_secs"], Value::Null);

    // A viewer reads but does not act; bad input is refused with its reason.
    let ack = format!("/api/v1/incidents/{id}/ack");
    let (s, _) = call_json(&app, "POST", &ack, "viewer-token", "{}").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call_json(
        &app,
        "POST",
        &ack,
        "admin-token",
        r#"{"disposition": "maybe"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("true_positive")
    );

    let (_, md) = call(
        &app,
        "GET",
        &format!("/api/v1/incidents/{id}/report"),
        "admin-token",
        "",
    )
    .await;
    assert!(md.contains("DRAFT"), "{md}");
    assert!(row(&md, "Opened → acknowledged").contains("not yet"));

    let (s, v) = call_json(
        &app,
        "POST",
        &ack,
        "admin-token",
        r#"{"disposition": "true_positive"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "acknowledged");
    assert_eq!(v["acknowledged_by"], "bootstrap");
    let (s, v) = call_json(
        &app,
        "POST",
        &format!("/api/v1/incidents/{id}/assign"),
        "admin-token",
        r#"{"team": "soc", "person": "p-ana"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = call_json(
        &app,
        "POST",
        &format!("/api/v1/incidents/{id}/notes"),
        "admin-token",
        r#"{"text": "Guard dispatched to the DC2 server room"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let state = format!("/api/v1/incidents/{id}/state");
    let (s, v) = call_json(&app, "POST", &state, "admin-token", r#"{"state": "new"}"#).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    for to in ["investigating", "contained", "resolved"] {
        let (s, v) = call_json(
            &app,
            "POST",
            &state,
            "admin-token",
            &format!(r#"{{"state": "{to}"}}"#),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["state"], to);
    }

    let (s, inc) = call_json(
        &app,
        "GET",
        &format!("/api/v1/incidents/{id}"),
        "admin-token",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let ack_secs = inc["sla_status"]["acknowledge_secs"].as_i64().unwrap();
    let resolve_secs = inc["sla_status"]["resolve_secs"].as_i64().unwrap();
    assert!(ack_secs >= 0 && resolve_secs >= ack_secs);
    let kinds: Vec<&str> = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "alert",
        "acknowledgement",
        "assignment",
        "note",
        "state_change",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let filtered = call_json(
        &app,
        "GET",
        "/api/v1/incidents?state=resolved&team=soc",
        "admin-token",
        "",
    )
    .await
    .1;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);

    // The report: no longer a draft, the four questions, the real times and both domains.
    let (s, md) = call(
        &app,
        "GET",
        &format!("/api/v1/incidents/{id}/report?format=md"),
        "admin-token",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!md.contains("DRAFT"), "{md}");
    for q in QUESTIONS {
        assert!(md.contains(q), "{q} missing");
    }
    let human = tocsin_incidents::report::human_duration;
    assert!(row(&md, "Opened → acknowledged").contains(&format!("| {} (SLA", human(ack_secs))));
    assert!(row(&md, "Opened → resolved").contains(&format!("| {} (SLA", human(resolve_secs))));
    assert!(md.contains("Door forced: DC2-SRV"));
    assert!(md.contains("Console login by svc-backup"));
    assert!(md.contains("user: svc-backup"));
    assert!(md.contains("spans 2 domains (cyber, physical)"));
    assert!(md.contains("Guard dispatched to the DC2 server room"));
    assert!(md.contains("2026-05-04 02:13:07 UTC"), "event times appear");

    let (s, html) = call(
        &app,
        "GET",
        &format!("/api/v1/incidents/{id}/report?format=html"),
        "admin-token",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("DRAFT"));
    assert!(html.contains("How were we exploited?"));
    assert!(html.contains("Who or what threatened us?"));
    assert!(
        html.contains(
            "What impacted the security of our people, physical assets and digital assets?"
        )
    );
    assert!(
        html.contains("How should we work together to prevent, mitigate and respond next time?")
    );
    assert!(html.contains(&human(resolve_secs)));
    let (s, _) = call(
        &app,
        "GET",
        &format!("/api/v1/incidents/{id}/report?format=pdf"),
        "admin-token",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Acknowledging the other site's alert on its own feeds the rule statistics too.
    let other = items.iter().find(|i| i["group_key"] == "site=hq").unwrap();
    let alert_id = other["alerts"][0]["id"].as_str().unwrap();
    let (s, v) = call_json(
        &app,
        "POST",
        &format!("/api/v1/alerts/{alert_id}/ack"),
        "admin-token",
        r#"{"disposition": "false_positive"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["alert"]["status"], "acknowledged");
    assert_eq!(v["incident"], other["id"]);
    let (_, stats) = call_json(&app, "GET", "/api/v1/rules/stats", "admin-token", "").await;
    let rule = |r: &str| {
        stats["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["rule"] == r)
            .cloned()
            .unwrap_or_else(|| panic!("{r} missing from {stats}"))
    };
    let door = rule("rule/door-forced");
    assert_eq!(door["raised"], 1);
    assert_eq!(door["repeats_suppressed"], 0);
    assert_eq!(door["alerts"], 1);
    assert_eq!(door["dispositions"]["true_positive"], 1);
    assert_eq!(door["noise_ratio"], 0.0);
    let login = rule("rule/console-login");
    assert_eq!(login["raised"], 2);
    assert_eq!(login["repeats_suppressed"], 1, "svc-backup logged on twice");
    assert_eq!(login["alerts"], 2);
    assert_eq!(login["acknowledged"], 2);
    assert_eq!(login["dispositions"]["true_positive"], 1);
    assert_eq!(login["dispositions"]["false_positive"], 1);
    assert_eq!(login["noise_ratio"], 0.5);

    // Merging the HQ incident into the DC2 one moves its alert over and closes it as merged.
    let (s, v) = call_json(
        &app,
        "POST",
        &format!("/api/v1/incidents/{id}/merge"),
        "admin-token",
        &format!(r#"{{"from": "{}"}}"#, other["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["alerts"].as_array().unwrap().len(), 3);
    let (_, merged) = call_json(
        &app,
        "GET",
        &format!("/api/v1/incidents/{}", other["id"].as_str().unwrap()),
        "admin-token",
        "",
    )
    .await;
    assert_eq!(merged["state"], "closed");
    assert_eq!(merged["merged_into"], id.as_str());
    let (s, _) = call_json(
        &app,
        "GET",
        "/api/v1/incidents/not-an-id",
        "admin-token",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call_json(
        &app,
        "GET",
        "/api/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "admin-token",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    server.stop().await;
}
