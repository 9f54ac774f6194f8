//! Notification delivery: new alerts through grouping → routing → outbox on the embedded SQLite
//! store with a routing tree of 1,000 routes (alerts per second), and the latency from an alert
//! raised to its webhook delivered on loopback (p50/p99 printed), with the real delivery worker
//! and a local webhook receiver.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use tocsin_api::Metrics;
use tocsin_incidents::GroupingConfig;
use tocsin_model::{Alert, AlertStatus, Clock, Domain, Severity, SystemClock};
use tocsin_org::{Org, OrgHandle};
use tocsin_server::config::{ChannelsFile, Interval, NotifyConfig, NotifySetup, parse_channels};
use tocsin_server::delivery::Notifier;
use tocsin_server::pipeline::IncidentSettings;
use tocsin_server::pipeline::group_into_incident;
use tocsin_store::Store;
use tokio::sync::mpsc;
use ulid::Ulid;

const ROUTES: usize = 1_000;
const ALERTS: usize = 1_000;
const LATENCY_ALERTS: usize = 500;

/// A tree of 1,000 routes, one per rule, each with a two-step plan (the second step an hour
/// later, so that only the first is sent during the run).
fn routes_yaml() -> String {
    let mut y = String::from("route:\n  plan: p0\n  routes:\n");
    for i in 0..ROUTES {
        y.push_str(&format!(
            "    - {{ name: r{i}, match: {{ rule: rule-{i} }}, plan: p{} }}\n",
            i % 10
        ));
    }
    y.push_str("plans:\n");
    for p in 0..10 {
        y.push_str(&format!(
            "  p{p}:\n    steps:\n      - after: 0\n        notify:\n          - {{ channel: hook, visibility: full }}\n      - after: 1h\n        notify:\n          - {{ channel: hook, visibility: partner }}\n"
        ));
    }
    y
}

fn setup(hook: std::net::SocketAddr) -> NotifySetup {
    let routes =
        tocsin_routing::parse(&routes_yaml(), std::path::Path::new("routes.yaml")).expect("routes");
    let channels: ChannelsFile = parse_channels(
        &format!(
            "[[channels]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"http://{hook}/hook\"\nvisibility = \"full\"\n"
        ),
        std::path::Path::new("channels.toml"),
    )
    .expect("channels");
    NotifySetup { routes, channels }
}

fn alert(i: usize, now: DateTime<Utc>) -> Alert {
    Alert {
        id: Ulid::new(),
        tenant: "default".into(),
        detector: "rule".into(),
        rule: Some(format!("rule-{}", i % ROUTES)),
        domain: Domain::Physical,
        severity: Severity::HIGH,
        title: format!("Door forced open: DC-{i}"),
        summary: "The server room door was forced open.".into(),
        status: AlertStatus::Open,
        time: now,
        ingested: now,
        detected: now,
        last_seen: now,
        count: 1,
        dedup_key: format!("rule:door-forced:{i}"),
        evidence: vec![],
        entities: Map::from_iter([("portal".to_owned(), json!(format!("DC-{i}")))]),
        geo: None,
        site_id: Some(format!("site-{}", i % 50)),
        notified: None,
        acknowledged: None,
    }
}

fn incidents() -> IncidentSettings {
    IncidentSettings {
        grouping: GroupingConfig::default(),
        checklists: Default::default(),
        live: tocsin_bus::LiveBus::new(16),
    }
}

/// What the alert writer does for a new alert once detection has raised it.
async fn write_and_plan(
    store: &dyn Store,
    settings: &IncidentSettings,
    notifier: &Notifier,
    a: &Alert,
) {
    store.upsert_alert(a).await.expect("alert");
    let incident = group_into_incident(store, a, settings, Utc::now()).await;
    notifier.enqueue(store, a, incident).await.expect("enqueue");
}

/// A webhook receiver that reports the arrival time of each alert id.
async fn start_sink(tx: mpsc::UnboundedSender<(String, Instant)>) -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let at = Instant::now();
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let id = v["alert_id"].as_str().unwrap_or("").to_owned();
                let _ = tx.send((id, at));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn notifier(setup: NotifySetup, workers: usize) -> Arc<Notifier> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cfg = NotifyConfig {
        workers,
        poll_interval: Interval(Duration::from_millis(200)),
        ..NotifyConfig::default()
    };
    Arc::new(
        Notifier::new(
            cfg,
            setup,
            Arc::new(OrgHandle::new(Org::empty(), None)),
            clock,
            Arc::new(Metrics::new(Vec::new(), Vec::new(), None)),
        )
        .expect("channels"),
    )
}

/// Alert raised → webhook delivered, one alert at a time, with the real worker.
fn latency(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let hook = start_sink(tx).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> =
            Arc::new(tocsin_store::open_sqlite(dir.path()).await.expect("store"));
        let n = notifier(setup(hook), 2);
        let settings = incidents();
        let stop = tokio_util::sync::CancellationToken::new();
        let workers = n.start(store.clone(), stop.clone()).await;
        let mut took: Vec<Duration> = Vec::with_capacity(LATENCY_ALERTS);
        let mut early: HashMap<String, Instant> = HashMap::new();
        for i in 0..LATENCY_ALERTS {
            let a = alert(i, Utc::now());
            let id = a.id.to_string();
            let start = Instant::now();
            write_and_plan(store.as_ref(), &settings, &n, &a).await;
            let arrived = loop {
                if let Some(at) = early.remove(&id) {
                    break at;
                }
                let (got, at) = rx.recv().await.expect("sink");
                if got == id {
                    break at;
                }
                early.insert(got, at);
            };
            took.push(arrived - start);
        }
        stop.cancel();
        for w in workers {
            let _ = w.await;
        }
        took.sort_unstable();
        let pct = |p: f64| took[((took.len() as f64 * p).ceil() as usize).saturating_sub(1)];
        println!(
            "delivery/latency: alert raised → webhook delivered on loopback over {} alerts: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            took.len(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            took.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    latency(&rt);

    let mut group = c.benchmark_group("delivery");
    group.throughput(Throughput::Elements(ALERTS as u64));
    group.sample_size(10);
    // Nothing listens on port 9 of loopback; no worker runs, so nothing is sent.
    let n = notifier(setup("127.0.0.1:9".parse().expect("addr")), 1);
    let settings = incidents();
    group.bench_function("group_route_enqueue_sqlite_1000_routes", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let store: Arc<dyn Store> = Arc::new(
                    rt.block_on(tocsin_store::open_sqlite(dir.path()))
                        .expect("store"),
                );
                let now = Utc::now();
                let alerts: Vec<Alert> = (0..ALERTS).map(|i| alert(i, now)).collect();
                (dir, store, alerts)
            },
            |(dir, store, alerts)| {
                rt.block_on(async {
                    for a in &alerts {
                        write_and_plan(store.as_ref(), &settings, &n, a).await;
                    }
                });
                black_box(&alerts);
                drop(dir);
            },
            criterion::BatchSize::PerIteration,
        )
    });
    // The same without routing and the outbox: what the alert writer did before, for the
    // marginal cost of planning and enqueueing.
    group.bench_function("group_only_sqlite", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let store: Arc<dyn Store> = Arc::new(
                    rt.block_on(tocsin_store::open_sqlite(dir.path()))
                        .expect("store"),
                );
                let now = Utc::now();
                let alerts: Vec<Alert> = (0..ALERTS).map(|i| alert(i, now)).collect();
                (dir, store, alerts)
            },
            |(dir, store, alerts)| {
                rt.block_on(async {
                    for a in &alerts {
                        store.upsert_alert(a).await.expect("alert");
                        group_into_incident(store.as_ref(), a, &settings, Utc::now()).await;
                    }
                });
                black_box(&alerts);
                drop(dir);
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
