//! Delivery survives `kill -9`: the real `tocsin serve` sends an alert's notifications to a
//! webhook sink in this test; the sink holds one request unanswered, the process is killed with
//! SIGKILL while that send is in flight, and a second process on the same data folder finishes
//! the job. Every notification arrives, the interrupted one is sent again with the same
//! idempotency key, and the sink (which deduplicates by that key, as receivers are asked to)
//! acknowledges each key exactly once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

const TOKEN: &str = "crash-test-bootstrap-token";

/// What the sink saw, per idempotency key.
#[derive(Default)]
struct Sink {
    /// Requests received per key (resends included).
    arrivals: Mutex<HashMap<String, u32>>,
    /// Times each key was answered 200 as new; must end at exactly 1 per key.
    acknowledged: Mutex<HashMap<String, u32>>,
    /// Requests answered as duplicates of an acknowledged key.
    duplicates: Mutex<u32>,
    /// The key held unanswered, once chosen (the first request).
    held: Mutex<Option<String>>,
    held_tx: Mutex<Option<tokio::sync::oneshot::Sender<String>>>,
}

/// Reads one HTTP/1.1 request; returns the `X-Tocsin-Delivery` header.
async fn read_request(stream: &mut BufReader<tokio::net::TcpStream>) -> Option<String> {
    let mut key = None;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "x-tocsin-delivery" => key = Some(value.trim().to_owned()),
                "content-length" => length = value.trim().parse().ok()?,
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    key
}

async fn serve_sink(listener: TcpListener, sink: Arc<Sink>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let sink = sink.clone();
        tokio::spawn(async move {
            let mut stream = BufReader::new(stream);
            let Some(key) = read_request(&mut stream).await else {
                return;
            };
            *sink
                .arrivals
                .lock()
                .unwrap()
                .entry(key.clone())
                .or_default() += 1;
            let hold = {
                let mut held = sink.held.lock().unwrap();
                let first = held.is_none();
                if first {
                    *held = Some(key.clone());
                }
                first
            };
            if hold {
                // The first request is held unanswered: the sender is killed meanwhile.
                if let Some(tx) = sink.held_tx.lock().unwrap().take() {
                    let _ = tx.send(key);
                }
                std::future::pending::<()>().await;
                return;
            }
            {
                let mut acked = sink.acknowledged.lock().unwrap();
                let n = acked.entry(key).or_default();
                if *n > 0 {
                    *sink.duplicates.lock().unwrap() += 1;
                } else {
                    *n += 1;
                }
            }
            let _ = stream
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        });
    }
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn write_config(dir: &Path, sink: SocketAddr) {
    std::fs::write(
        dir.join("tocsin.toml"),
        r#"version = 1

[notify]
workers = 1
poll_interval = "50ms"
retry_base = "100ms"
retry_max = "1s"

[[detect.rules]]
id = "door-forced"
title = "Door forced: {portal}"
severity = "high"
when = { class = "physical_access", activity = "forced" }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("routes.yaml"),
        r#"route:
  plan: all-hands
plans:
  all-hands:
    steps:
      - after: 0
        notify:
          - { channel: soc, visibility: full }
          - { channel: guards, visibility: partner }
          - { channel: facilities, visibility: internal }
"#,
    )
    .unwrap();
    let mut channels = String::new();
    for name in ["soc", "guards", "facilities"] {
        channels.push_str(&format!(
            "[[channels]]\ntype = \"webhook\"\nname = \"{name}\"\nurl = \"http://{sink}/{name}\"\ntimeout_secs = 300\n\n"
        ));
    }
    std::fs::write(dir.join("channels.toml"), channels).unwrap();
}

fn serve(config: &Path, data: &Path, listen: SocketAddr) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["serve", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(listen.to_string())
        .env("TOCSIN_BOOTSTRAP_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tocsin serve starts")
}

async fn wait_healthy(client: &reqwest::Client, listen: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("http://{listen}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "server did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_arrives_once_across_a_kill_9_mid_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sink = Arc::new(Sink::default());
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    *sink.held_tx.lock().unwrap() = Some(held_tx);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = listener.local_addr().unwrap();
    tokio::spawn(serve_sink(listener, sink.clone()));
    write_config(dir.path(), sink_addr);
    let client = reqwest::Client::new();

    let listen = free_port();
    let mut first = serve(dir.path(), &data, listen);
    wait_healthy(&client, listen).await;
    let r = client
        .post(format!("http://{listen}/api/v1/events"))
        .bearer_auth(TOKEN)
        .body(
            r#"{"time": "2026-05-04T02:13:07Z", "domain": "physical", "class": "physical_access",
                "activity": "forced", "portal": "DC2-SRV", "site": "dc2", "message": "door forced"}"#,
        )
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // A notification is in flight, held by the sink: kill the process now.
    let held = held_rx.await.unwrap();
    first.kill().await.expect("SIGKILL");
    let _ = first.wait().await;

    let listen = free_port();
    let mut second = serve(dir.path(), &data, listen);
    wait_healthy(&client, listen).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = {
            let acked = sink.acknowledged.lock().unwrap();
            acked.len() == 3 && acked.contains_key(&held)
        };
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every notification arrived: {:?}",
            sink.acknowledged.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The outbox agrees: three rows, all sent, the interrupted one after a second attempt.
    let page: serde_json::Value = client
        .get(format!("http://{listen}/api/v1/deliveries"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{page:#}");
    assert!(items.iter().all(|d| d["status"] == "sent"), "{page:#}");
    let resent = items.iter().find(|d| d["id"] == held.as_str()).unwrap();
    assert!(resent["attempts"].as_u64().unwrap() >= 1);

    let acked = sink.acknowledged.lock().unwrap().clone();
    assert!(acked.values().all(|n| *n == 1), "{acked:?}");
    assert_eq!(
        *sink.duplicates.lock().unwrap(),
        0,
        "nothing accepted twice"
    );
    let arrivals = sink.arrivals.lock().unwrap().clone();
    assert_eq!(
        arrivals[&held], 2,
        "the interrupted notification was sent again once"
    );
    for (key, n) in &arrivals {
        if *key != held {
            assert_eq!(
                *n, 1,
                "{key} was sent before the crash or after it, not both"
            );
        }
    }
    second.kill().await.ok();
}
