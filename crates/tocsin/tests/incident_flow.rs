//! New alerts open incidents with the checklist their type calls for, under the configured
//! grouping, and every incident change reaches the live stream (`incident.new`,
//! `incident.updated`).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tocsin_server::config::Config;
use tocsin_testkit::spawn_app_with;

const CONFIG: &str = r#"version = 1

[incidents]
grouping = { by = ["entity"], window_secs = 600 }

[[detect.rules]]
id = "door-forced"
title = "Door forced: {portal}"
severity = "high"
when = { class = "physical_access", activity = "forced" }
dedup = { key = ["badge"], window_secs = 600 }
"#;

const CHECKLISTS: &str = "
checklists:
  - name: Door forced
    when: { domain: [physical], rule: [door-forced] }
    steps: [Send a guard to the door, Pull the camera footage]
default: [Confirm with the other team]
";

/// Reads the stream until `pred` holds for the text so far (keep-alive comments included, so
/// the deadline is for the whole wait, not per chunk).
async fn read_until(
    stream: &mut reqwest::Response,
    text: &mut String,
    pred: impl Fn(&str) -> bool,
) {
    let read = async {
        while !pred(text) {
            let chunk = stream.chunk().await.unwrap().expect("the stream is open");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .is_err()
    {
        panic!("the live stream did not say it in time; it said:\n{text}");
    }
}

#[tokio::test]
async fn an_alert_opens_an_incident_with_its_checklist_and_changes_go_live() {
    let mut config = Config::parse(CONFIG, Path::new("<test>/tocsin.toml")).unwrap();
    config.incidents.loaded =
        tocsin_incidents::Checklists::parse(CHECKLISTS, Path::new("checklists.yaml")).unwrap();
    let mut app = spawn_app_with(config).await;
    let mut stream = app
        .client
        .get(app.url("/api/v1/stream"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let door = |portal: &str, badge: &str| {
        json!({"time": "2026-05-04T02:00:00Z", "domain": "physical", "class": "physical_access",
            "activity": "forced", "portal": portal, "badge": badge, "site": "hq"})
        .to_string()
    };
    let body = format!("{}\n{}", door("D-1", "B-1"), door("D-2", "B-2"));
    assert_eq!(app.post("/api/v1/events", body).await.status(), 202);
    app.wait_processed(2).await;

    let mut text = String::new();
    read_until(&mut stream, &mut text, |t| {
        t.matches("event: incident.new").count() >= 2
    })
    .await;
    assert!(text.contains("Send a guard to the door"), "{text}");

    // Grouped by entity (the badge), not by site: two incidents at the same site.
    let page: Value = app.get("/api/v1/incidents").await.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let inc = &items[0];
    let steps: Vec<&str> = inc["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["Send a guard to the door", "Pull the camera footage"]
    );

    let id = inc["id"].as_str().unwrap();
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/incidents/{id}/checklist/0")))
        .bearer_auth(&app.token)
        .json(&json!({"done": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["checklist"][0]["done"], true);
    assert_eq!(after["checklist"][0]["by"], "bootstrap");
    read_until(&mut stream, &mut text, |t| {
        t.contains("event: incident.updated")
    })
    .await;
    assert!(text.contains("done: Send a guard to the door"), "{text}");

    let resp = app
        .client
        .post(app.url(&format!("/api/v1/incidents/{id}/checklist/9")))
        .bearer_auth(&app.token)
        .json(&json!({"done": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}
