//! `tocsin replay FILE --speed N`: plays a timed NDJSON event file into a running server, keeping
//! the gaps between event times (divided by the speed).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// NDJSON file of events in Tocsin's own form, ordered by `time`.
    pub file: PathBuf,
    /// Playback speed: 1 is real time, 60 plays an hour in a minute.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API token (or set TOCSIN_TOKEN).
    #[arg(long, env = "TOCSIN_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Keep the original event times instead of shifting them so the first event is now.
    #[arg(long)]
    pub keep_times: bool,
}

/// Longest line read from the file.
const MAX_LINE: usize = 1024 * 1024;

pub async fn run(a: ReplayArgs) -> Result<()> {
    if !(a.speed.is_finite() && a.speed > 0.0) {
        bail!("--speed must be a positive number");
    }
    let file = tokio::fs::File::open(&a.file)
        .await
        .with_context(|| a.file.display().to_string())?;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/events", a.url.trim_end_matches('/'));
    let started = tokio::time::Instant::now();
    let wall_start = Utc::now();
    let mut first: Option<DateTime<Utc>> = None;
    let mut batch: Vec<String> = Vec::new();
    let mut batch_due = Duration::ZERO;
    let (mut sent, mut accepted, mut rejected, mut line_no) = (0u64, 0u64, 0u64, 0u64);
    while let Some(line) = lines.next_line().await? {
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            bail!(
                "{}:{line_no}: line longer than {MAX_LINE} bytes",
                a.file.display()
            );
        }
        let mut v: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{line_no}: not JSON", a.file.display()))?;
        let t: DateTime<Utc> = v
            .get("time")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{}:{line_no}: no valid `time`", a.file.display()))?;
        let t0 = *first.get_or_insert(t);
        let offset = (t - t0).to_std().unwrap_or_default().div_f64(a.speed);
        if !a.keep_times {
            let shifted = wall_start + chrono::Duration::from_std(offset).unwrap_or_default();
            v["time"] = Value::String(shifted.to_rfc3339());
        }
        // Events due within 20 ms of the batch's first go in one request.
        if !batch.is_empty() && offset > batch_due + Duration::from_millis(20) {
            let r = flush(&client, &url, &a.token, &mut batch, started + batch_due).await?;
            sent += r.0;
            accepted += r.1;
            rejected += r.2;
        }
        if batch.is_empty() {
            batch_due = offset;
        }
        batch.push(v.to_string());
    }
    let r = flush(&client, &url, &a.token, &mut batch, started + batch_due).await?;
    sent += r.0;
    accepted += r.1;
    rejected += r.2;
    println!("replayed {sent} events: {accepted} accepted, {rejected} rejected");
    Ok(())
}

async fn flush(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    batch: &mut Vec<String>,
    due: tokio::time::Instant,
) -> Result<(u64, u64, u64)> {
    if batch.is_empty() {
        return Ok((0, 0, 0));
    }
    tokio::time::sleep_until(due).await;
    let body = batch.join("\n");
    let n = batch.len() as u64;
    batch.clear();
    loop {
        let resp = client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await
            .context("sending to the server")?;
        if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            bail!("server answered {status}: {text}");
        }
        let v: Value = resp.json().await?;
        let accepted = v.get("accepted").and_then(Value::as_u64).unwrap_or(0);
        let rejected = v.get("rejected").and_then(Value::as_u64).unwrap_or(0);
        if let Some(errors) = v.get("errors").and_then(Value::as_array) {
            for e in errors {
                eprintln!("rejected: {e}");
            }
        }
        return Ok((n, accepted, rejected));
    }
}
