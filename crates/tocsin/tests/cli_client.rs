//! The command-line client against a running server: list alerts and incidents, note, answer the
//! review, read the report, acknowledge with a disposition; API errors come back as clear
//! messages and a non-zero exit.

use std::time::Duration;

use serde_json::Value;
use tocsin_testkit::{TestApp, spawn_app};

const RULES: &str = r#"
[[detect.rules]]
id = "door-forced"
title = "Door forced: {portal}"
severity = "high"
when = { class = "physical_access", activity = "forced" }
"#;

async fn tocsin(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .env("TOCSIN_URL", app.url(""))
        .env("TOCSIN_TOKEN", &app.token)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls the incident listing until one is there: grouping runs after the alert is stored.
async fn first_incident(app: &TestApp) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page: Value = app.get("/api/v1/incidents").await.json().await.unwrap();
        if let Some(i) = page["items"].as_array().and_then(|a| a.first()) {
            return i.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no incident opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn responders_work_an_incident_from_the_command_line() {
    let mut app = spawn_app(RULES).await;
    let event = r#"{"time":"2026-05-04T02:00:00Z","domain":"physical","class":"physical_access","activity":"forced","portal":"D-3","site":"hq"}"#;
    assert_eq!(app.post("/api/v1/events", event).await.status(), 202);
    app.wait_processed(1).await;
    let inc = first_incident(&app).await;
    let id = inc["id"].as_str().unwrap().to_owned();

    let (ok, out, err) = tocsin(&app, &["alerts", "list", "--lines"]).await;
    assert!(ok, "{err}");
    let alerts: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["title"], "Door forced: D-3");
    let alert_id = alerts[0]["id"].as_str().unwrap().to_owned();

    let (ok, out, err) = tocsin(&app, &["incidents", "list", "--state", "new"]).await;
    assert!(ok, "{err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["items"][0]["id"], id.as_str());

    let (ok, _, err) = tocsin(&app, &["incidents", "note", &id, "Guard sent to door D-3"]).await;
    assert!(ok, "{err}");
    let (ok, out, err) = tocsin(
        &app,
        &[
            "incidents",
            "review",
            &id,
            "--exploited",
            "The door was forced with a bar",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let after: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        after["review"]["answers"]["exploited"],
        "The door was forced with a bar"
    );

    let (ok, report, err) = tocsin(&app, &["incidents", "report", &id]).await;
    assert!(ok, "{err}");
    assert!(
        report.contains("> The door was forced with a bar"),
        "{report}"
    );
    assert!(report.contains("Guard sent to door D-3"), "{report}");

    let (ok, out, err) = tocsin(
        &app,
        &["alerts", "ack", &alert_id, "--disposition", "true_positive"],
    )
    .await;
    assert!(ok, "{err}");
    let acked: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(acked["alert"]["status"], "acknowledged");

    // API errors are reported, with a failing exit status.
    let (ok, _, err) = tocsin(&app, &["incidents", "show", "not-an-id"]).await;
    assert!(!ok);
    assert!(
        err.contains("400") && err.contains("not a valid id"),
        "{err}"
    );
    let (ok, _, err) = tocsin(&app, &["incidents", "state", &id, "sideways"]).await;
    assert!(!ok);
    assert!(err.contains("sideways"), "{err}");
}

#[tokio::test]
async fn the_client_needs_a_token() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["alerts", "list", "--url", "http://127.0.0.1:9"])
        .env_remove("TOCSIN_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no API token"));
}
