//! `tocsin bench`: end-to-end latency of the real pipeline on this machine. A server runs in
//! process on an embedded store; a client posts a steady mixed stream over HTTP, with one marker
//! event per batch that a rule turns into an alert; the latency of each marker is the time from
//! the start of its POST to its alert arriving on the live stream.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tocsin_server::ServerOptions;
use tocsin_server::config::Config;
use tokio::sync::mpsc;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Events per second to send.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Events per HTTP request.
    #[arg(long, default_value_t = 100)]
    pub batch: u64,
    /// Also run the Sigma rules of these folders in the pipeline (e.g. SigmaHQ's rules/windows).
    #[arg(long)]
    pub sigma: Vec<std::path::PathBuf>,
}

const BENCH_CONFIG: &str = r#"
retention_days = 0
[pipeline]
ingest_queue = 50000
store_queue = 50000
detect_queue = 50000

[[detect.rules]]
id = "bench-marker"
title = "Marker {fields.seq}"
severity = "high"
when = { class = "bench_marker" }
dedup = { key = ["fields.seq"], window_secs = 1 }

[[detect.rules]]
id = "denied-burst"
title = "Denied burst {badge}"
severity = "medium"
when = { class = "physical_access", activity = "denied" }
threshold = { count = 5, window_secs = 60, group_by = ["badge"] }
"#;

pub async fn run(a: BenchArgs) -> Result<()> {
    if a.rate == 0 || a.seconds == 0 || a.batch == 0 {
        bail!("--rate, --seconds and --batch must be positive");
    }
    let dir = tempfile::tempdir()?;
    let mut config = Config::parse(BENCH_CONFIG, Path::new("<bench>/tocsin.toml"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for dir in &a.sigma {
        anyhow::ensure!(dir.is_dir(), "{} is not a folder", dir.display());
        config.sigma.rules.push(std::fs::canonicalize(dir)?);
    }
    let mut opts = ServerOptions::new(config);
    opts.listen = Some("127.0.0.1:0".parse()?);
    opts.data_dir = Some(dir.path().to_owned());
    let token = "bench-token".to_owned();
    opts.bootstrap_token = Some(token.clone());
    let server = tocsin_server::start(opts).await?;
    let addr = server.addr.context("no listener")?;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    // Alerts arrive on the live stream; the collector matches them to markers by sequence number.
    let stream = client
        .get(format!("{base}/api/v1/stream"))
        .bearer_auth(&token)
        .send()
        .await?;
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    tokio::spawn(async move {
        let mut body = stream.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = buf.find("\n\n") {
                let block: String = buf.drain(..i + 2).collect();
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<Value>(data.trim()) else {
                    continue;
                };
                let seq = v
                    .get("title")
                    .and_then(Value::as_str)
                    .and_then(|t| t.strip_prefix("Marker "))
                    .and_then(|s| s.parse::<u64>().ok());
                if let Some(seq) = seq {
                    let _ = seen_tx.send((seq, Instant::now()));
                }
            }
        }
    });

    let batches_per_sec = (a.rate / a.batch).max(1);
    let interval = Duration::from_secs_f64(1.0 / batches_per_sec as f64);
    let total_batches = batches_per_sec * a.seconds;
    let mut sent_at: HashMap<u64, Instant> = HashMap::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let (mut accepted, mut refused) = (0u64, 0u64);
    let mut inflight = tokio::task::JoinSet::new();
    for seq in 0..total_batches {
        ticker.tick().await;
        let body = batch_body(seq, a.batch);
        sent_at.insert(seq, Instant::now());
        let req = client
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&token)
            .body(body);
        inflight.spawn(async move { req.send().await.map(|r| r.status()) });
        while inflight.len() > 64 {
            if let Some(r) = inflight.join_next().await {
                count(r, a.batch, &mut accepted, &mut refused);
            }
        }
    }
    while let Some(r) = inflight.join_next().await {
        count(r, a.batch, &mut accepted, &mut refused);
    }
    let send_secs = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while latencies.len() < sent_at.len() {
        match tokio::time::timeout_at(deadline, seen_rx.recv()).await {
            Ok(Some((seq, at))) => {
                if let Some(sent) = sent_at.get(&seq) {
                    latencies.push(at.duration_since(*sent));
                }
            }
            _ => break,
        }
    }
    latencies.sort();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i.min(latencies.len() - 1)].as_secs_f64() * 1000.0
    };
    println!(
        "machine:        {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if let Some(rules) = &server.state.sigma {
        println!("sigma rules:    {} in the pipeline", rules.current().len());
    }
    println!(
        "sent:           {} events in {:.1} s ({:.0} events/s), {} accepted, {} refused (429)",
        total_batches * a.batch,
        send_secs,
        (total_batches * a.batch) as f64 / send_secs,
        accepted,
        refused
    );
    println!(
        "alerts:         {} of {} markers seen on the live stream",
        latencies.len(),
        sent_at.len()
    );
    println!(
        "HTTP in -> alert out: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        pct(1.0)
    );
    server.stop().await;
    Ok(())
}

fn count(
    r: std::result::Result<reqwest::Result<reqwest::StatusCode>, tokio::task::JoinError>,
    batch: u64,
    accepted: &mut u64,
    refused: &mut u64,
) {
    match r {
        Ok(Ok(s)) if s.is_success() => *accepted += batch,
        _ => *refused += batch,
    }
}

/// One request: a marker and `n - 1` ordinary events of every domain.
fn batch_body(seq: u64, n: u64) -> String {
    let now = chrono::Utc::now().to_rfc3339();
    let mut lines = Vec::with_capacity(n as usize);
    lines.push(
        json!({"time": now, "domain": "cyber", "class": "bench_marker", "fields": {"seq": seq}})
            .to_string(),
    );
    for i in 1..n {
        let v = match i % 4 {
            0 => {
                json!({"time": now, "domain": "physical", "class": "physical_access", "activity": "granted", "badge": format!("B{}", i % 97), "portal": "P1"})
            }
            1 => {
                json!({"time": now, "domain": "cyber", "class": "authentication", "activity": "logon", "user": format!("u{}", i % 89), "host": "WS-1", "fields": {"EventID": 4624}})
            }
            2 => {
                json!({"time": now, "domain": "physical", "class": "physical_access", "activity": "denied", "badge": format!("B{}", i % 97), "portal": "P2"})
            }
            _ => {
                json!({"time": now, "domain": "public", "class": "public_report", "severity": 2, "message": "Road closed"})
            }
        };
        lines.push(v.to_string());
    }
    lines.join("\n")
}
