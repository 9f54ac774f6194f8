//! End to end through real sockets: HTTP ingest, syslog over UDP and TCP, the dead letter,
//! back-pressure (429), alerts and the live stream, metrics, auth, and the CLI.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tocsin_testkit::{spawn_app, spawn_gated_app};

const RULES: &str = r#"
[[detect.rules]]
id = "denied-burst"
title = "Repeated denials: {badge}"
summary = "Badge {badge} refused {count} times in {window}"
severity = "high"
when = { class = "physical_access", activity = "denied" }
threshold = { count = 3, window_secs = 60, group_by = ["badge"] }
dedup = { key = ["badge"], window_secs = 600 }
"#;

fn event(secs: u32, activity: &str, badge: &str) -> String {
    format!(
        r#"{{"time":"2026-05-04T02:00:{secs:02}Z","domain":"physical","class":"physical_access","activity":"{activity}","badge":"{badge}","portal":"AP-1","site":"hq","message":"badge {badge} {activity}"}}"#
    )
}

async fn json(resp: reqwest::Response) -> Value {
    resp.json().await.expect("json body")
}

#[tokio::test]
async fn http_ingest_stores_good_lines_and_dead_letters_the_bad_one_with_its_line() {
    let mut app = spawn_app("").await;
    let body = format!(
        "{}\n{{\"time\": \"yesterday\", \"domain\": \"cyber\"}}\n{}\n",
        event(1, "granted", "B1"),
        event(2, "granted", "B2")
    );
    let resp = app.post("/api/v1/events", body).await;
    assert_eq!(resp.status(), 202);
    let report = json(resp).await;
    assert_eq!(report["accepted"], 2);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["errors"][0]["line"], 2);
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("time"),
        "{report}"
    );
    app.wait_processed(2).await;

    let page = json(app.get("/api/v1/events?domain=physical").await).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["badge"], "B2", "newest first");
    assert_eq!(items[0]["source"], "api");
    let id = items[0]["id"].as_str().unwrap();
    let one = json(app.get(&format!("/api/v1/events/{id}")).await).await;
    assert_eq!(one["badge"], "B2");

    let found = json(app.get("/api/v1/events?person=B1").await).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);

    app.wait_dead_letters(1).await;
    let dead = json(app.get("/api/v1/deadletters").await).await;
    let d = &dead["items"][0];
    assert_eq!(d["source"], "api");
    assert_eq!(d["line"], 2);
    assert!(d["raw"].as_str().unwrap().contains("yesterday"));
}

#[tokio::test]
async fn every_api_route_needs_a_token_but_health() {
    let app = spawn_app("").await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    for path in [
        "/api/v1/events",
        "/api/v1/alerts",
        "/api/v1/deadletters",
        "/api/v1/sources",
        "/metrics",
        "/api/v1/openapi.json",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without a token");
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with a wrong token");
    }
    let r = app.get("/api/v1/events?cursor=garbage").await;
    assert_eq!(r.status(), 400);
    let body = json(r).await;
    assert_eq!(body["error"]["code"], "bad_request");
}

#[tokio::test]
async fn a_source_token_may_post_to_its_source_only() {
    // sha256("partner-secret")
    let digest = tocsin_api::hash_token("partner-secret");
    let app = spawn_app(&format!(
        r#"
[[sources]]
type = "http"
name = "partner"
domain = "physical"
token_sha256 = "{digest}"
"#
    ))
    .await;
    let resp = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth("partner-secret")
        .body(event(3, "granted", "B9"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let r = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth("partner-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a source token cannot read");
    let sources = json(app.get("/api/v1/sources").await).await;
    let partner = sources["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "partner")
        .expect("partner listed");
    assert_eq!(partner["counters"]["accepted"], 1);
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let app = spawn_app(
        r#"
[[sources]]
type = "http"
name = "small"
token_sha256 = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
max_body_bytes = 100
"#,
    )
    .await;
    // sha256("secret") is the digest above.
    let resp = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth("secret")
        .body("x".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(json(resp).await["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn a_full_pipeline_answers_429_with_retry_after_and_loses_nothing_it_accepted() {
    let (mut app, gate) = spawn_gated_app(
        r#"
[pipeline]
ingest_queue = 2
store_queue = 1
detect_queue = 1
"#,
    )
    .await;
    let mut accepted = 0u64;
    let mut refused = None;
    // The store holds its first write, so the queues fill and ingest must refuse within a few
    // requests; the bound only stops a broken server from looping for ever.
    for i in 0..200u32 {
        let resp = app
            .post("/api/v1/events", event(i % 60, "granted", "B1"))
            .await;
        if resp.status() == 429 {
            refused = Some(resp);
            break;
        }
        assert_eq!(resp.status(), 202);
        accepted += json(resp).await["accepted"].as_u64().unwrap();
    }
    let resp = refused.expect("the pipeline filled up and refused");
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(json(resp).await["error"]["code"], "overloaded");
    assert!(accepted >= 1);
    gate.open();
    app.wait_processed(accepted).await;
    let page = json(app.get("/api/v1/events?limit=1000").await).await;
    assert_eq!(page["items"].as_array().unwrap().len() as u64, accepted);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("tocsin_source_dropped_total{source=\"api\""),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_threshold_rule_raises_one_alert_and_folds_repeats_into_it() {
    let mut app = spawn_app(RULES).await;
    let mut stream = app
        .client
        .get(app.url("/api/v1/stream"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let body: String = (1..=6)
        .map(|s| event(s, "denied", "B7") + "\n")
        .collect::<String>()
        + &event(7, "denied", "OTHER");
    let resp = app.post("/api/v1/events", body).await;
    assert_eq!(json(resp).await["accepted"], 7);
    app.wait_processed(7).await;

    // Detection (and the alert stage) has handled all seven events once they count as processed.
    let alerts = json(app.get("/api/v1/alerts").await).await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(alerts.len(), 1, "six denials of one badge are one alert");
    let a = &alerts[0];
    assert_eq!(a["rule"], "denied-burst");
    assert_eq!(a["title"], "Repeated denials: B7");
    assert_eq!(
        a["count"], 2,
        "the second window folded into the first alert"
    );
    assert_eq!(a["evidence"].as_array().unwrap().len(), 6);
    assert_eq!(a["summary"], "Badge B7 refused 3 times in 1 min");

    // The live stream carried the new alert and then its update.
    let mut text = String::new();
    while !(text.contains("event: alert.new") && text.contains("event: alert.updated")) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("live stream answered")
            .unwrap()
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("Repeated denials: B7"));

    let filtered = json(app.get("/api/v1/alerts?detector=nothing").await).await;
    assert!(filtered["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn syslog_over_udp_and_tcp_reaches_the_api_and_bad_frames_the_dead_letter() {
    let mut app = spawn_app(
        r#"
[[sources]]
type = "syslog"
name = "fw"
udp = "127.0.0.1:0"
tcp = "127.0.0.1:0"
"#,
    )
    .await;
    let sources = json(app.get("/api/v1/sources").await).await;
    let fw = sources["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "fw")
        .unwrap()
        .clone();
    let bound: Vec<String> = fw["bound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap()
                .trim_start_matches("udp://")
                .trim_start_matches("tcp://")
                .to_owned()
        })
        .collect();
    assert_eq!(bound.len(), 2, "{fw}");
    let udp_addr = fw["bound"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .find(|s| s.starts_with("udp"))
        .map(|s| s.trim_start_matches("udp://").to_owned())
        .unwrap_or_else(|| bound[0].clone());
    let tcp_addr = fw["bound"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .find(|s| s.starts_with("tcp"))
        .map(|s| s.trim_start_matches("tcp://").to_owned())
        .unwrap_or_else(|| bound[1].clone());

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(
        b"<34>1 2026-05-04T02:13:07Z fw01 kernel - - - CEF:0|Acme|FW|1.0|100|Blocked connection|5|src=10.0.0.1 dst=192.0.2.7 suser=alice",
        &udp_addr,
    )
    .await
    .unwrap();
    use tokio::io::AsyncWriteExt;
    let mut tcp = tokio::net::TcpStream::connect(&tcp_addr).await.unwrap();
    let m1 = "<13>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8";
    tcp.write_all(format!("{} {}", m1.len(), m1).as_bytes())
        .await
        .unwrap();
    tcp.write_all(b"<999>not syslog at all\n").await.unwrap();
    tcp.flush().await.unwrap();
    app.wait_processed(2).await;

    let page = json(app.get("/api/v1/events?q=lonvick").await).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let cef = json(app.get("/api/v1/events?q=Blocked").await).await;
    let e = &cef["items"][0];
    assert_eq!(e["src_ip"], "10.0.0.1");
    assert_eq!(e["user"], "alice");
    assert_eq!(e["source"], "fw");

    app.wait_dead_letters(1).await;
    let dead = json(app.get("/api/v1/deadletters?source=fw").await).await;
    assert!(
        dead["items"][0]["raw"]
            .as_str()
            .unwrap()
            .contains("not syslog")
    );
}

#[tokio::test]
async fn metrics_export_source_counters_queue_depths_and_lag() {
    let mut app = spawn_app("").await;
    app.post("/api/v1/events", event(1, "granted", "B1")).await;
    app.wait_processed(1).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for needle in [
        "tocsin_source_received_total{source=\"api\",type=\"http\"} 1",
        "tocsin_source_accepted_total{source=\"api\",type=\"http\"} 1",
        "tocsin_queue_depth{stage=\"ingest\"}",
        "tocsin_queue_depth{stage=\"store\"}",
        "tocsin_queue_depth{stage=\"detect\"}",
        "tocsin_ingest_lag_seconds_count 1",
        "tocsin_events_stored_total 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

fn tocsin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tocsin"))
}

#[test]
fn check_reports_every_error_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tocsin.toml"),
        "version = 1\n[pipeline]\ningest_queue = \"many\"\n",
    )
    .unwrap();
    let out = tocsin()
        .args(["check", "--config"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tocsin.toml:3: field pipeline.ingest_queue"),
        "{err}"
    );

    std::fs::write(dir.path().join("tocsin.toml"), RULES).unwrap();
    let out = tocsin()
        .args(["check", "--config"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rules"));
}

#[test]
fn ingest_imports_ndjson_and_csv_and_reports_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("events.ndjson");
    std::fs::write(
        &nd,
        format!(
            "{}\nnot json\n{}\n",
            event(1, "granted", "B1"),
            event(2, "denied", "B2")
        ),
    )
    .unwrap();
    let csv = dir.path().join("events.csv");
    std::fs::write(
        &csv,
        "time,domain,class,activity,badge\n2026-05-04T02:00:03Z,physical,physical_access,granted,B3\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = tocsin()
        .arg("ingest")
        .arg(&nd)
        .arg(&csv)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("events.ndjson: 3 records, 2 accepted, 1 rejected"),
        "{stdout}"
    );
    assert!(
        stdout.contains("total: 4 records, 3 accepted, 1 rejected"),
        "{stdout}"
    );
    assert!(data.join("tocsin.db").exists());
}

#[test]
fn every_command_has_help() {
    for cmd in [
        "serve",
        "demo",
        "check",
        "ingest",
        "replay",
        "bench",
        "token",
        "user",
        "alerts",
        "incidents",
        "silences",
    ] {
        let out = tocsin().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
}

#[tokio::test]
async fn replay_plays_a_timed_file_into_a_running_server_shifted_to_now() {
    let mut app = spawn_app("").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("timed.ndjson");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n{}\n",
            event(0, "granted", "R1"),
            event(1, "granted", "R2"),
            event(3, "denied", "R3")
        ),
    )
    .unwrap();
    let before = chrono::Utc::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .arg("replay")
        .arg(&file)
        .args([
            "--speed",
            "100",
            "--url",
            &app.url(""),
            "--token",
            &app.token,
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("replayed 3 events: 3 accepted, 0 rejected"),
        "{stdout}"
    );
    app.wait_processed(3).await;
    let page = json(app.get("/api/v1/events").await).await;
    let items = page["items"].as_array().unwrap();
    let badges: Vec<_> = items.iter().map(|e| e["badge"].as_str().unwrap()).collect();
    assert_eq!(badges, ["R3", "R2", "R1"], "the order of the file is kept");
    for e in items {
        let t: chrono::DateTime<chrono::Utc> = e["time"].as_str().unwrap().parse().unwrap();
        assert!(
            t >= before - chrono::Duration::seconds(1),
            "time shifted to now: {t}"
        );
    }
}

#[test]
fn token_create_stores_only_the_hash_of_a_working_token() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tocsin.toml"), "").unwrap();
    let data = dir.path().join("data");
    let out = tocsin()
        .args([
            "token", "create", "--name", "ops", "--role", "lead", "--config",
        ])
        .arg(dir.path())
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("tcs_") && token.len() > 40, "{token}");
    let db = std::fs::read(data.join("tocsin.db")).unwrap();
    assert!(
        !db.windows(token.len()).any(|w| w == token.as_bytes()),
        "the plain token is not in the database"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let found = rt.block_on(async {
        use tocsin_store::Store;
        let store = tocsin_store::open_sqlite(&data).await.unwrap();
        store
            .find_token(&tocsin_api::hash_token(&token))
            .await
            .unwrap()
    });
    let found = found.expect("token stored");
    assert_eq!((found.name.as_str(), found.role.as_str()), ("ops", "lead"));

    let bad = tocsin()
        .args([
            "token", "create", "--name", "x", "--role", "root", "--config",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown role"));
}

#[tokio::test]
async fn a_repeat_after_acknowledgement_keeps_the_alert_acknowledged() {
    let mut app = spawn_app(RULES).await;
    let first: String = (1..=3).map(|s| event(s, "denied", "B5") + "\n").collect();
    app.post("/api/v1/events", first).await;
    app.wait_processed(3).await;
    let alerts = json(app.get("/api/v1/alerts").await).await;
    let id = alerts["items"][0]["id"].as_str().unwrap().to_owned();
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/alerts/{id}/ack")))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({ "disposition": "true_positive" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let again: String = (4..=6).map(|s| event(s, "denied", "B5") + "\n").collect();
    app.post("/api/v1/events", again).await;
    app.wait_processed(6).await;
    let a = json(app.get(&format!("/api/v1/alerts/{id}")).await).await;
    assert_eq!(a["count"], 2, "the repeat folded into the alert");
    assert_eq!(a["status"], "acknowledged", "and did not reopen it");
}
