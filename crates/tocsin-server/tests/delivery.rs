//! Durable delivery through the running server: a new alert reaches every audience of its plan
//! through a local webhook sink, redacted per audience, with the idempotency key; a failing
//! channel fails over; repeats do not notify again; an acknowledgement cancels the later steps;
//! and no notification reaches the sink after the acknowledgement has committed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tocsin_server::{Config, ServerOptions};

const TOKEN: &str = "delivery-test-token";

/// One request the sink received: its sequence number, hook name, idempotency key and body.
#[derive(Debug, Clone)]
struct Arrival {
    seq: u64,
    hook: String,
    key: String,
    body: Value,
}

#[derive(Default)]
struct SinkState {
    seq: Mutex<u64>,
    arrivals: Mutex<Vec<Arrival>>,
    /// When set, the first request to any hook waits for this before being answered.
    hold_first: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    first_arrived: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    changed: tokio::sync::Notify,
}

impl SinkState {
    fn next_seq(&self) -> u64 {
        let mut s = self.seq.lock().unwrap();
        *s += 1;
        *s
    }
}

async fn hook(
    State(st): State<Arc<SinkState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let seq = st.next_seq();
    let key = headers
        .get("x-tocsin-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    st.arrivals.lock().unwrap().push(Arrival {
        seq,
        hook: name.clone(),
        key,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    });
    st.changed.notify_waiters();
    if let Some(tx) = st.first_arrived.lock().unwrap().take() {
        let _ = tx.send(());
    }
    let hold = st.hold_first.lock().unwrap().take();
    if let Some(rx) = hold {
        let _ = rx.await;
    }
    if name == "broken" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn start_sink(st: Arc<SinkState>) -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route("/hook/{name}", axum::routing::post(hook))
        .with_state(st);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

const ROUTES: &str = r#"
route:
  plan: main
plans:
  main:
    steps:
      - after: 0
        notify:
          - { channel: soc-hook, visibility: full }
          - { person: p-partner, via: [broken-hook, partner-hook], visibility: partner }
      - after: 1h
        notify:
          - { channel: soc-hook, visibility: full }
"#;

const ROUTES_TWO_NOW: &str = r#"
route:
  plan: main
plans:
  main:
    steps:
      - after: 0
        notify:
          - { channel: soc-hook, visibility: full }
          - { channel: partner-hook, visibility: partner }
"#;

fn channels(sink: std::net::SocketAddr) -> String {
    format!(
        r#"
[[channels]]
type = "webhook"
name = "soc-hook"
url = "http://{sink}/hook/soc"
visibility = "full"

[[channels]]
type = "webhook"
name = "partner-hook"
url = "http://{sink}/hook/partner"
visibility = "partner"

[[channels]]
type = "webhook"
name = "broken-hook"
url = "http://{sink}/hook/broken"
visibility = "partner"
"#
    )
}

const CONFIG: &str = r#"version = 1

[notify]
workers = 1
poll_interval = "50ms"
retry_base = "1s"
retry_max = "5s"

[[detect.rules]]
id = "console-login"
title = "Console login by {user}"
severity = "high"
when = { class = "authentication", activity = "logon" }
dedup = { key = ["user"], window_secs = 600 }
"#;

struct App {
    _dir: tempfile::TempDir,
    server: tocsin_server::RunningServer,
    base: String,
    client: reqwest::Client,
}

impl App {
    async fn start(routes: &str, sink: std::net::SocketAddr) -> App {
        Self::start_in(tempfile::tempdir().unwrap(), routes, sink).await
    }

    async fn start_in(dir: tempfile::TempDir, routes: &str, sink: std::net::SocketAddr) -> App {
        std::fs::write(dir.path().join("tocsin.toml"), CONFIG).unwrap();
        std::fs::write(dir.path().join("routes.yaml"), routes).unwrap();
        std::fs::write(dir.path().join("channels.toml"), channels(sink)).unwrap();
        let config = Config::load_dir(dir.path()).unwrap();
        let mut opts = ServerOptions::new(config);
        opts.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        opts.data_dir = Some(dir.path().join("data"));
        opts.bootstrap_token = Some(TOKEN.to_owned());
        let server = tocsin_server::start(opts).await.unwrap();
        let base = format!("http://{}", server.addr.unwrap());
        App {
            _dir: dir,
            server,
            base,
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn login_event(&self) {
        let r = self
            .post(
                "/api/v1/events",
                json!({"time": "2026-05-04T02:14:30Z", "domain": "cyber", "class": "authentication",
                       "activity": "logon", "user": "Ana Silva", "host": "dc2-console",
                       "message": "console logon"}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.status());
    }

    async fn deliveries(&self, query: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/deliveries?{query}")).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Polls the deliveries until `done` holds; fails after a generous deadline.
    async fn wait_deliveries(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let d = self.deliveries("").await;
            if done(&d) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {d:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

fn status_of<'a>(d: &'a [Value], audience: &str, step: u64) -> &'a str {
    d.iter()
        .find(|r| r["audience"] == audience && r["step"] == step)
        .and_then(|r| r["status"].as_str())
        .unwrap_or("missing")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_alert_reaches_each_audience_once_redacted_with_failover_until_acknowledged() {
    let sink = Arc::new(SinkState::default());
    let addr = start_sink(sink.clone()).await;
    let app = App::start(ROUTES, addr).await;
    app.login_event().await;

    let d = app
        .wait_deliveries("both immediate steps sent", |d| {
            status_of(d, "channel soc-hook", 0) == "sent"
                && status_of(d, "person p-partner", 0) == "sent"
        })
        .await;
    assert_eq!(d.len(), 3, "two audiences now and one step later: {d:#?}");
    assert_eq!(status_of(&d, "channel soc-hook", 1), "pending");

    let arrivals = sink.arrivals.lock().unwrap().clone();
    let soc: Vec<&Arrival> = arrivals.iter().filter(|a| a.hook == "soc").collect();
    let partner: Vec<&Arrival> = arrivals.iter().filter(|a| a.hook == "partner").collect();
    let broken: Vec<&Arrival> = arrivals.iter().filter(|a| a.hook == "broken").collect();
    assert_eq!(soc.len(), 1);
    assert_eq!(partner.len(), 1);
    assert_eq!(
        broken.len(),
        1,
        "the first channel of the failover list was tried"
    );
    // The SOC sees the name; the partner does not, anywhere in what it received.
    assert!(soc[0].body["title"].as_str().unwrap().contains("Ana Silva"));
    assert!(
        !partner[0].body.to_string().contains("Ana Silva"),
        "{}",
        partner[0].body
    );
    assert!(
        partner[0].body["title"]
            .as_str()
            .unwrap()
            .contains("[redacted]")
    );
    // The idempotency key is the outbox row id, and the same on the failed attempt.
    let row = d
        .iter()
        .find(|r| r["audience"] == "person p-partner")
        .unwrap();
    assert_eq!(partner[0].key, row["id"].as_str().unwrap());
    assert_eq!(broken[0].key, partner[0].key);
    assert_eq!(row["channel"], "partner-hook");
    assert_eq!(row["channels"], json!(["broken-hook", "partner-hook"]));
    assert!(!row["payload"].to_string().contains("Ana Silva"));
    let alert_id = row["alert_id"].as_str().unwrap().to_owned();
    let alert = app.get(&format!("/api/v1/alerts/{alert_id}")).await;
    assert!(alert["notified"].is_string(), "notified time set: {alert}");

    // Both teams see on the incident who was told, and when.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let incs = app.get("/api/v1/incidents").await;
        let notes: Vec<String> = incs["items"][0]["timeline"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter(|e| e["kind"] == "notification")
                    .map(|e| e["text"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if notes.len() == 2 {
            assert!(
                notes
                    .iter()
                    .any(|n| n.starts_with("notified person p-partner")),
                "{notes:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "notifications not on the incident timeline: {incs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A repeat folds into the alert and notifies nobody again.
    app.login_event().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get(&format!("/api/v1/alerts/{alert_id}")).await["count"] != 2 {
        assert!(Instant::now() < deadline, "repeat not folded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.deliveries("").await.len(), 3);

    // Acknowledging cancels the step still to come.
    let r = app
        .post(&format!("/api/v1/alerts/{alert_id}/ack"), json!({}))
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let d = app.deliveries(&format!("alert={alert_id}")).await;
    assert_eq!(status_of(&d, "channel soc-hook", 1), "cancelled");
    let alert = app.get(&format!("/api/v1/alerts/{alert_id}")).await;
    assert_eq!(alert["status"], "acknowledged");
    assert!(alert["acknowledged"].is_string());
    let cancelled = app.deliveries("status=cancelled").await;
    assert_eq!(cancelled.len(), 1);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tocsin_time_to_notify_seconds_count 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tocsin_time_to_acknowledge_seconds_count 1"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_notification_reaches_the_sink_after_the_acknowledgement_committed() {
    let sink = Arc::new(SinkState::default());
    let (release_tx, release_rx) = tokio::sync::oneshot::channel();
    let (arrived_tx, arrived_rx) = tokio::sync::oneshot::channel();
    *sink.hold_first.lock().unwrap() = Some(release_rx);
    *sink.first_arrived.lock().unwrap() = Some(arrived_tx);
    let addr = start_sink(sink.clone()).await;
    let app = Arc::new(App::start(ROUTES_TWO_NOW, addr).await);
    app.login_event().await;

    // The first notification is at the sink, held there: the send is in flight.
    arrived_rx.await.unwrap();
    let alert_id = app.deliveries("").await[0]["alert_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ack = {
        let (app, sink, alert_id) = (app.clone(), sink.clone(), alert_id.clone());
        tokio::spawn(async move {
            let r = app
                .post(&format!("/api/v1/alerts/{alert_id}/ack"), json!({}))
                .await;
            assert!(r.status().is_success(), "{}", r.status());
            sink.next_seq()
        })
    };
    let _ = release_tx.send(());
    let ack_seq = ack.await.unwrap();

    let d = app
        .wait_deliveries("every row settled", |d| {
            d.len() == 2
                && d.iter()
                    .all(|r| r["status"] == "sent" || r["status"] == "cancelled")
        })
        .await;
    let arrivals = sink.arrivals.lock().unwrap().clone();
    eprintln!(
        "outcome: {:?}",
        d.iter().map(|r| r["status"].clone()).collect::<Vec<_>>()
    );
    for a in &arrivals {
        assert!(
            a.seq < ack_seq,
            "{} reached the sink after the acknowledgement committed",
            a.hook
        );
    }
    // What arrived is exactly what is recorded as sent, each once; the rest was cancelled.
    let mut sent: Vec<&str> = d
        .iter()
        .filter(|r| r["status"] == "sent")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut got: Vec<&str> = arrivals.iter().map(|a| a.key.as_str()).collect();
    sent.sort_unstable();
    got.sort_unstable();
    assert_eq!(sent, got);
    assert!(!sent.is_empty(), "the held send completed");
    // Nothing is left that could still be sent.
    let later = app.deliveries("status=pending").await;
    assert!(later.is_empty());
    match Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("app still shared"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_stored_but_never_planned_before_a_stop_is_planned_at_start() {
    use tocsin_store::Store as _;
    let sink = Arc::new(SinkState::default());
    let addr = start_sink(sink.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // A previous run stored this alert and stopped before enqueueing its notifications.
    let now = chrono::Utc::now();
    let alert: tocsin_model::Alert = serde_json::from_value(json!({
        "id": ulid::Ulid::new().to_string(), "tenant": "default", "detector": "rule",
        "rule": "console-login", "domain": "cyber", "severity": 4,
        "title": "Console login by Ana Silva", "summary": "console logon", "status": "open",
        "time": now, "ingested": now, "detected": now, "last_seen": now, "count": 1,
        "dedup_key": "rule:console-login:x", "evidence": [], "entities": {"user": "Ana Silva"}
    }))
    .unwrap();
    {
        let store = tocsin_store::open_sqlite(&dir.path().join("data"))
            .await
            .unwrap();
        store.upsert_alert(&alert).await.unwrap();
        store.close().await;
    }
    let app = App::start_in(dir, ROUTES_TWO_NOW, addr).await;
    let d = app
        .wait_deliveries("the recovered alert delivered", |d| {
            d.len() == 2 && d.iter().all(|r| r["status"] == "sent")
        })
        .await;
    assert!(d.iter().all(|r| r["alert_id"] == alert.id.to_string()));
    assert_eq!(sink.arrivals.lock().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_routes_and_the_routing_dry_run_over_the_api() {
    let sink = Arc::new(SinkState::default());
    let addr = start_sink(sink.clone()).await;
    let app = App::start(ROUTES_TWO_NOW, addr).await;
    // A viewer may read but not silence.
    app.server
        .state
        .store
        .insert_token(&tocsin_store::ApiToken {
            id: "viewer".into(),
            name: "viewer".into(),
            token_hash: tocsin_api::hash_token("viewer-secret"),
            role: "viewer".into(),
            tenant: "default".into(),
            created: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let ends = chrono::Utc::now() + chrono::Duration::hours(1);
    let body =
        json!({"matchers": {"rule": ["console-login"]}, "ends": ends, "comment": "maintenance"});
    let r = app
        .client
        .post(format!("{}/api/v1/silences", app.base))
        .bearer_auth("viewer-secret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for bad in [
        json!({"matchers": {"rule": ["x"]}}),
        json!({"matchers": {}, "ends": ends}),
        json!({"matchers": {"rule": ["x"]}, "ends": "2020-01-01T00:00:00Z"}),
        json!({"matchers": {"nonsense": ["x"]}, "ends": ends}),
    ] {
        let r = app.post("/api/v1/silences", bad.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = app.post("/api/v1/silences", body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let silence: Value = r.json().await.unwrap();
    let listed = app.get("/api/v1/silences").await;
    assert_eq!(listed["items"][0]["id"], silence["id"]);

    // A matching alert is planned, and every notification is recorded as silenced.
    app.login_event().await;
    let d = app.wait_deliveries("silenced rows", |d| d.len() == 2).await;
    for r in &d {
        assert_eq!(r["status"], "suppressed", "{r}");
        assert_eq!(r["reason"]["reason"], "silenced");
        assert_eq!(r["reason"]["silence"], silence["id"]);
    }
    assert!(sink.arrivals.lock().unwrap().is_empty());

    // The routing tree and a dry run for an alert.
    let routes = app.get("/api/v1/routes").await;
    assert_eq!(routes["configured"], true);
    assert!(routes["routes"]["plans"]["main"].is_object());
    let alert_id = d[0]["alert_id"].as_str().unwrap().to_owned();
    let mut alert = app.get(&format!("/api/v1/alerts/{alert_id}")).await;
    alert["rule"] = json!("other-rule");
    let r = app.post("/api/v1/routes/test", alert).await;
    assert!(r.status().is_success());
    let plan: Value = r.json().await.unwrap();
    let notes = plan["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    assert!(
        notes.iter().all(|n| n["suppressed"].is_null()),
        "not silenced: {plan}"
    );
    let partner = notes.iter().find(|n| n["visibility"] == "partner").unwrap();
    assert!(!partner["message"].to_string().contains("Ana Silva"));

    // Only a lead or an admin ends a silence.
    let id = silence["id"].as_str().unwrap();
    let url = format!("{}/api/v1/silences/{id}", app.base);
    let r = app
        .client
        .delete(&url)
        .bearer_auth("viewer-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .client
        .delete(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .client
        .delete(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        app.get("/api/v1/silences").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = app
        .client
        .get(format!("{}/api/v1/deliveries?status=bogus", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}
