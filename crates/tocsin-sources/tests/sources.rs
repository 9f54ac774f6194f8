//! Sources end to end: real sockets on 127.0.0.1, real files, a real bounded sink.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tocsin_model::{DeadLetter, Domain, Event, FakeClock, Severity};
use tocsin_sources::{
    BuiltSource, FileFormat, FileIngestOptions, Health, HttpFormat, HttpSource, IngestRefused,
    Sink, Source, SourceConfig, SyslogSource, admin_ingest_source, build_typed, ingest_file,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Upper bound on any wait in these tests: reached only when the behaviour under test is broken.
const PATIENCE: Duration = Duration::from_secs(20);

fn now() -> DateTime<Utc> {
    "2026-05-04T02:13:08Z".parse().unwrap()
}

struct TestSink {
    sink: Sink,
    events: mpsc::Receiver<Event>,
    dead: mpsc::Receiver<DeadLetter>,
}

fn test_sink(event_slots: usize, dead_slots: usize) -> TestSink {
    let (tx, events) = mpsc::channel(event_slots);
    let (dtx, dead) = mpsc::channel(dead_slots);
    TestSink {
        sink: Sink::new(tx, dtx, Arc::new(FakeClock::new(now()))),
        events,
        dead,
    }
}

impl TestSink {
    async fn event(&mut self) -> Event {
        tokio::time::timeout(PATIENCE, self.events.recv())
            .await
            .expect("no event arrived")
            .expect("event channel closed")
    }

    async fn dead_letter(&mut self) -> DeadLetter {
        tokio::time::timeout(PATIENCE, self.dead.recv())
            .await
            .expect("no dead letter arrived")
            .expect("dead-letter channel closed")
    }

    fn no_more(&mut self) {
        assert!(self.events.try_recv().is_err(), "unexpected event");
        assert!(self.dead.try_recv().is_err(), "unexpected dead letter");
    }
}

/// Polls `cond` until it holds; fails the test after [`PATIENCE`].
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn sources_from_toml(text: &str) -> Vec<SourceConfig> {
    #[derive(serde::Deserialize)]
    struct File {
        sources: Vec<SourceConfig>,
    }
    toml::from_str::<File>(text).unwrap().sources
}

fn syslog_source(extra: &str) -> Arc<SyslogSource> {
    let cfgs = sources_from_toml(&format!(
        "[[sources]]\ntype = \"syslog\"\nname = \"fw\"\nudp = \"127.0.0.1:0\"\ntcp = \"127.0.0.1:0\"\n{extra}"
    ));
    match build_typed(&cfgs[0]).unwrap() {
        BuiltSource::Syslog(s) => s,
        other => panic!("expected syslog, got {other:?}"),
    }
}

fn http_source(extra: &str) -> Arc<HttpSource> {
    let token_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"; // "test"
    let cfgs = sources_from_toml(&format!(
        "[[sources]]\ntype = \"http\"\nname = \"web\"\ntoken_sha256 = \"{token_hash}\"\n{extra}"
    ));
    match build_typed(&cfgs[0]).unwrap() {
        BuiltSource::Http(s) => s,
        other => panic!("expected http, got {other:?}"),
    }
}

const RFC5424: &str = "<34>1 2026-05-04T02:13:07Z fw01 sshd 4321 ID47 [origin ip=\"192.0.2.7\"] Failed password for root from 203.0.113.9 port 22 ssh2";
const RFC3164: &str =
    "<38>May  4 02:13:05 fw02 sshd[4321]: Accepted password for alice from 198.51.100.4";
const CEF: &str = "<134>May  4 02:13:06 gw01 CEF:0|Acme|Door Controller|2.1|400|Door forced open|8|src=10.0.0.5 dst=10.0.0.9 suser=jdoe";
const MALFORMED: &str = "<999>this priority does not exist";

fn by_host(events: Vec<Event>, host: &str) -> Event {
    events
        .into_iter()
        .find(|e| e.host.as_deref() == Some(host))
        .unwrap_or_else(|| panic!("no event from {host}"))
}

fn check_three_formats(events: Vec<Event>) {
    assert!(
        events
            .iter()
            .all(|e| e.source == "fw" && e.tenant == "default")
    );
    assert!(
        events
            .iter()
            .all(|e| e.domain == Domain::Cyber && e.ingested == now())
    );
    let e = by_host(events.clone(), "fw01");
    assert_eq!(
        e.time,
        "2026-05-04T02:13:07Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(e.severity, Severity::CRITICAL);
    assert_eq!(e.fields["syslog.format"], "rfc5424");
    assert_eq!(e.fields["syslog.sd.origin.ip"], "192.0.2.7");
    let e = by_host(events.clone(), "fw02");
    assert_eq!(
        e.time,
        "2026-05-04T02:13:05Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(e.fields["syslog.app_name"], "sshd");
    let e = by_host(events, "gw01");
    assert_eq!(e.src_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(e.user.as_deref(), Some("jdoe"));
    assert_eq!(e.message.as_deref(), Some("Door forced open"));
    assert_eq!(e.fields["cef.device_vendor"], "Acme");
}

async fn start(
    source: &Arc<SyslogSource>,
    sink: &Sink,
) -> (CancellationToken, Vec<tokio::task::JoinHandle<()>>) {
    let shutdown = CancellationToken::new();
    let handles = source
        .clone()
        .start(sink.clone(), shutdown.clone())
        .await
        .unwrap();
    (shutdown, handles)
}

async fn stop(shutdown: CancellationToken, handles: Vec<tokio::task::JoinHandle<()>>) {
    shutdown.cancel();
    for h in handles {
        tokio::time::timeout(PATIENCE, h).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn syslog_over_udp_parses_5424_3164_and_cef_and_dead_letters_the_malformed() {
    let mut t = test_sink(16, 16);
    let source = syslog_source("");
    assert_eq!(source.status().health, Health::Starting);
    let (shutdown, handles) = start(&source, &t.sink).await;
    let addr = source.udp_addr().unwrap();
    assert_ne!(addr.port(), 0);
    let status = source.status();
    assert_eq!(status.health, Health::Healthy);
    assert!(
        status.bound.contains(&format!("udp://{addr}")),
        "{:?}",
        status.bound
    );

    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for line in [RFC5424, RFC3164, CEF] {
        client.send_to(line.as_bytes(), addr).await.unwrap();
    }
    client
        .send_to(format!("{MALFORMED}\n").as_bytes(), addr)
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(t.event().await);
    }
    check_three_formats(events);
    let d = t.dead_letter().await;
    assert_eq!(d.source, "fw");
    assert_eq!(d.raw, MALFORMED.as_bytes());
    assert!(d.reason.contains("PRI"), "{}", d.reason);

    until("counters", || source.counters().snapshot().received == 4).await;
    let c = source.counters().snapshot();
    assert_eq!((c.accepted, c.rejected, c.dropped), (3, 1, 0));
    stop(shutdown, handles).await;
    t.no_more();
}

#[tokio::test]
async fn syslog_over_tcp_mixes_framings_and_resyncs_after_an_oversized_frame() {
    let mut t = test_sink(16, 16);
    let source = syslog_source("max_message_bytes = 300");
    let (shutdown, handles) = start(&source, &t.sink).await;
    let addr = source.tcp_addr().unwrap();
    assert!(source.status().bound.contains(&format!("tcp://{addr}")));

    let mut conn = TcpStream::connect(addr).await.unwrap();
    let mut stream = Vec::new();
    stream.extend_from_slice(format!("{} {RFC5424}", RFC5424.len()).as_bytes());
    stream.extend_from_slice(format!("{RFC3164}\n").as_bytes());
    stream.extend_from_slice(format!("{} {CEF}", CEF.len()).as_bytes());
    conn.write_all(&stream).await.unwrap();
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(t.event().await);
    }
    check_three_formats(events);

    // Longer than the limit, newline-framed, arriving in two writes: dead letter, then resync.
    let oversized = format!("<13>{}", "x".repeat(500));
    conn.write_all(&oversized.as_bytes()[..200]).await.unwrap();
    conn.write_all(&oversized.as_bytes()[200..]).await.unwrap();
    conn.write_all(b"\n<13>May  4 02:13:07 after-resync app: still here\n")
        .await
        .unwrap();
    let d = t.dead_letter().await;
    assert!(d.reason.contains("limit of 300"), "{}", d.reason);
    assert_eq!(d.raw.len(), 300);
    assert!(d.raw.starts_with(b"<13>xxx"));
    let e = t.event().await;
    assert_eq!(e.host.as_deref(), Some("after-resync"));

    // An oversized octet-counted frame is skipped by its declared length.
    let big = format!("<13>{}", "y".repeat(400));
    conn.write_all(format!("{} {big}", big.len()).as_bytes())
        .await
        .unwrap();
    conn.write_all(format!("{MALFORMED}\n").as_bytes())
        .await
        .unwrap();
    let d = t.dead_letter().await;
    assert!(d.reason.contains("404 bytes"), "{}", d.reason);
    let d = t.dead_letter().await;
    assert_eq!(d.raw, MALFORMED.as_bytes());
    assert!(d.reason.contains("syslog"), "{}", d.reason);

    drop(conn);
    until("the connection to close", || source.open_connections() == 0).await;
    let c = source.counters().snapshot();
    assert_eq!(
        (c.received, c.accepted, c.rejected, c.dropped),
        (7, 4, 3, 0)
    );
    stop(shutdown, handles).await;
    t.no_more();
}

#[tokio::test]
async fn syslog_tcp_connection_cap_closes_extra_connections() {
    let mut t = test_sink(16, 16);
    let source = syslog_source("max_connections = 1");
    let (shutdown, handles) = start(&source, &t.sink).await;
    let addr = source.tcp_addr().unwrap();

    let mut first = TcpStream::connect(addr).await.unwrap();
    first
        .write_all(format!("{RFC3164}\n").as_bytes())
        .await
        .unwrap();
    t.event().await;
    assert_eq!(source.open_connections(), 1);

    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(PATIENCE, second.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    until("the refusal to be counted", || {
        source.refused_connections() == 1
    })
    .await;

    // The first connection still works, and its slot is free again once it closes.
    first
        .write_all(format!("{CEF}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(t.event().await.host.as_deref(), Some("gw01"));
    drop(first);
    until("the slot to free", || source.open_connections() == 0).await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    third
        .write_all(format!("{RFC5424}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(t.event().await.host.as_deref(), Some("fw01"));
    stop(shutdown, handles).await;
}

#[tokio::test]
async fn syslog_counts_drops_when_the_pipeline_is_full() {
    // Nobody drains this sink: two events and one dead letter fit, the rest must be dropped.
    let t = test_sink(2, 1);
    let source = syslog_source("");
    let (shutdown, handles) = start(&source, &t.sink).await;

    // UDP: one datagram at a time, each awaited on the counters, so the kernel never drops one.
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp = source.udp_addr().unwrap();
    for i in 1..=5u64 {
        client.send_to(RFC3164.as_bytes(), udp).await.unwrap();
        until("the datagram", || {
            source.counters().snapshot().received == i
        })
        .await;
    }
    let c = source.counters().snapshot();
    assert_eq!((c.accepted, c.dropped), (2, 3));
    assert!(matches!(source.status().health, Health::Degraded { .. }));

    // TCP: a burst on one connection; once it has closed every frame has been counted.
    let mut conn = TcpStream::connect(source.tcp_addr().unwrap())
        .await
        .unwrap();
    let mut burst = String::new();
    for _ in 0..20 {
        burst.push_str(RFC5424);
        burst.push('\n');
    }
    for _ in 0..3 {
        burst.push_str(MALFORMED);
        burst.push('\n');
    }
    conn.write_all(burst.as_bytes()).await.unwrap();
    conn.shutdown().await.unwrap();
    drop(conn);
    until("the burst", || source.counters().snapshot().received == 28).await;
    until("the connection to close", || source.open_connections() == 0).await;
    let c = source.counters().snapshot();
    assert!(c.dropped > 0);
    assert_eq!(c.received, c.accepted + c.rejected + c.dropped);
    assert_eq!((c.accepted, c.rejected, c.dropped), (2, 1, 25));
    assert_eq!(t.sink.capacity(), 0);
    stop(shutdown, handles).await;
}

#[tokio::test]
async fn syslog_mapping_and_domain_apply_on_top_of_the_defaults() {
    let mut t = test_sink(4, 4);
    let source = syslog_source(
        r#"domain = "physical"
tenant = "acme"

[[sources.mapping.steps]]
op = "copy"
from = "syslog.app_name"
to = "asset"

[[sources.mapping.steps]]
op = "constant"
to = "class"
value = "alarm"

[[sources.mapping.steps]]
op = "lookup"
from = "syslog.msgid"
to = "activity"
table = { HOLD = "held_open", FORCE = "forced" }
"#,
    );
    let (shutdown, handles) = start(&source, &t.sink).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp = source.udp_addr().unwrap();
    client
        .send_to(
            b"<12>1 - panel-7 door-ctl 77 HOLD - Door held open: AP-DC2-SRV",
            udp,
        )
        .await
        .unwrap();
    let e = t.event().await;
    assert_eq!(e.domain, Domain::Physical);
    assert_eq!(e.tenant, "acme");
    assert_eq!(e.class, "alarm");
    assert_eq!(e.asset.as_deref(), Some("door-ctl"));
    assert_eq!(e.activity.as_deref(), Some("held_open"));
    assert_eq!(e.host.as_deref(), Some("panel-7"));
    // The message carries no time: the receive time stands in.
    assert_eq!(e.time, now());

    // A mapping step that cannot run sends the message to the dead-letter store.
    client
        .send_to(b"<12>1 - panel-7 - 78 - - no app name", udp)
        .await
        .unwrap();
    let d = t.dead_letter().await;
    assert!(d.reason.contains("syslog.app_name"), "{}", d.reason);
    assert_eq!(d.tenant, "acme");
    stop(shutdown, handles).await;
}

const DOOR_EVENT: &str = r#"{"time":"2026-05-04T02:13:07Z","domain":"physical","class":"physical_access","activity":"denied","severity":3,"badge":"0x3F21A9","portal":"AP-DC2-SRV","site":"dc2"}"#;
const LOGON_EVENT: &str = r#"{"time":"2026-05-04T02:12:59Z","domain":"cyber","class":"authentication","activity":"logon_failed","user":"jdoe","host":"ws-114"}"#;

#[tokio::test]
async fn http_ingests_an_object_an_array_and_ndjson_with_a_bad_line() {
    let mut t = test_sink(16, 16);
    let source = http_source("");
    assert!(source.verify_token("test"));
    assert!(!source.verify_token("test2"));
    assert_eq!(source.format(), HttpFormat::Tocsin);

    let r = source.ingest(DOOR_EVENT.as_bytes(), &t.sink).unwrap();
    assert_eq!((r.accepted, r.rejected), (1, 0));
    let e = t.event().await;
    assert_eq!(e.source, "web");
    assert_eq!(e.badge.as_deref(), Some("0x3F21A9"));
    assert_eq!(e.ingested, now());

    let array = format!("[{DOOR_EVENT},{LOGON_EVENT}]");
    let r = source.ingest(array.as_bytes(), &t.sink).unwrap();
    assert_eq!((r.accepted, r.rejected), (2, 0));
    let (a, b) = (t.event().await, t.event().await);
    assert_ne!(a.id, b.id);
    assert_eq!(b.user.as_deref(), Some("jdoe"));

    let ndjson = format!("{DOOR_EVENT}\n{{\"time\": oops}}\n{LOGON_EVENT}\n");
    let r = source.ingest(ndjson.as_bytes(), &t.sink).unwrap();
    assert_eq!((r.accepted, r.rejected), (2, 1));
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].line, 2);
    assert!(!r.truncated);
    let d = t.dead_letter().await;
    assert_eq!(d.line, Some(2));
    assert_eq!(d.raw, b"{\"time\": oops}");
    assert_eq!(d.reason, r.errors[0].reason);
    t.event().await;
    t.event().await;

    let c = source.counters().snapshot();
    assert_eq!(
        (c.received, c.accepted, c.rejected, c.dropped),
        (6, 5, 1, 0)
    );
    t.no_more();
}

#[tokio::test]
async fn http_refuses_records_of_another_tenant_and_missing_fields() {
    let mut t = test_sink(16, 16);
    let source = http_source("tenant = \"acme\"\ndomain = \"physical\"");
    let body = r#"[
        {"time":"2026-05-04T02:13:07Z","class":"alarm","tenant":"globex"},
        {"time":"2026-05-04T02:13:07Z","class":"alarm"},
        {"class":"alarm"}
    ]"#;
    let r = source.ingest(body.as_bytes(), &t.sink).unwrap();
    assert_eq!((r.accepted, r.rejected), (1, 2));
    assert!(r.errors[0].reason.contains("tenant"), "{:?}", r.errors);
    assert_eq!(r.errors[0].line, 1);
    assert!(r.errors[1].reason.contains("time"), "{:?}", r.errors);
    let e = t.event().await;
    assert_eq!(e.tenant, "acme");
    assert_eq!(e.domain, Domain::Physical);
    let d = t.dead_letter().await;
    assert_eq!(d.tenant, "acme");
    assert!(d.reason.contains("globex"), "{}", d.reason);
}

#[tokio::test]
async fn http_refuses_bodies_and_batches_over_the_limits() {
    let t = test_sink(16, 16);
    let source = http_source("max_body_bytes = 300\nmax_records = 2");
    let body = format!("[{DOOR_EVENT},{DOOR_EVENT}]");
    assert!(body.len() > 300);
    let err = source.ingest(body.as_bytes(), &t.sink).unwrap_err();
    assert!(
        matches!(
            err,
            IngestRefused::TooLarge {
                what: "body bytes",
                ..
            }
        ),
        "{err}"
    );
    let small = r#"{"time":"2026-05-04T02:13:07Z","domain":"cyber","class":"x"}"#;
    let three = format!("{small}\n{small}\n{small}\n");
    assert!(three.len() <= 300);
    let err = source.ingest(three.as_bytes(), &t.sink).unwrap_err();
    assert!(
        matches!(
            err,
            IngestRefused::TooLarge {
                what: "records",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(t.sink.capacity(), 16);
    let two = format!("{small}\n{small}\n");
    assert_eq!(source.ingest(two.as_bytes(), &t.sink).unwrap().accepted, 2);
}

#[tokio::test]
async fn http_batches_are_all_or_nothing_when_the_pipeline_is_full() {
    let mut t = test_sink(2, 1);
    let source = http_source("");
    let three = format!("{DOOR_EVENT}\n{DOOR_EVENT}\n{DOOR_EVENT}\n");
    let one = format!("{DOOR_EVENT}\n");
    source.ingest(one.as_bytes(), &t.sink).unwrap();
    // One slot left: a batch of two must not be half sent.
    let two = format!("{DOOR_EVENT}\n{LOGON_EVENT}\n");
    let err = source.ingest(two.as_bytes(), &t.sink).unwrap_err();
    assert!(matches!(err, IngestRefused::Overloaded { retry_after_secs } if retry_after_secs > 0));
    assert_eq!(t.sink.capacity(), 1);
    assert!(matches!(source.status().health, Health::Degraded { .. }));
    // A batch that can never fit is too large, not overloaded: retrying would not help.
    let err = source.ingest(three.as_bytes(), &t.sink).unwrap_err();
    assert!(matches!(err, IngestRefused::TooLarge { .. }), "{err}");

    // Dead letters count too: with the dead-letter queue full, a batch with a bad line waits.
    let bad = format!("{DOOR_EVENT}\nnot json\n");
    t.sink
        .try_dead_letter(DeadLetter::new(
            ulid::Ulid::nil(),
            "default",
            "web",
            now(),
            "filler",
            None,
            b"",
        ))
        .unwrap();
    let err = source.ingest(bad.as_bytes(), &t.sink).unwrap_err();
    assert!(matches!(err, IngestRefused::Overloaded { .. }));
    assert_eq!(t.sink.capacity(), 1);
    assert_eq!(t.dead_letter().await.reason, "filler");

    t.event().await;
    let r = source.ingest(two.as_bytes(), &t.sink).unwrap();
    assert_eq!(r.accepted, 2);
    assert_eq!(source.status().health, Health::Healthy);
    let c = source.counters().snapshot();
    assert_eq!(
        (c.received, c.accepted, c.rejected, c.dropped),
        (7, 3, 0, 4)
    );
}

#[tokio::test]
async fn http_error_lists_are_capped() {
    let t = test_sink(16, 2000);
    let source = http_source("");
    let body = "oops\n".repeat(1200);
    let r = source.ingest(body.as_bytes(), &t.sink).unwrap();
    assert_eq!(r.rejected, 1200);
    assert_eq!(r.errors.len(), 1000);
    assert!(r.truncated);
}

#[tokio::test]
async fn the_admin_source_takes_tocsin_events_and_no_token() {
    let mut t = test_sink(4, 4);
    let source = admin_ingest_source();
    assert_eq!(source.info().name, "api");
    assert!(!source.verify_token(""));
    source.ingest(LOGON_EVENT.as_bytes(), &t.sink).unwrap();
    assert_eq!(t.event().await.source, "api");
}

#[tokio::test]
async fn file_ingest_streams_ndjson_and_dead_letters_bad_lines() {
    let TestSink {
        sink,
        mut events,
        mut dead,
    } = test_sink(1, 4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{DOOR_EVENT}").unwrap();
    writeln!(f).unwrap();
    writeln!(f, "{{\"time\":\"2026-05-04T02:13:07Z\",\"class\":\"x\"}}").unwrap();
    writeln!(f, "{LOGON_EVENT}\r").unwrap();
    write!(f, "{DOOR_EVENT}").unwrap();
    drop(f);
    let size = std::fs::metadata(&path).unwrap().len();

    let opts = FileIngestOptions::new("import");
    let last_progress = std::sync::atomic::AtomicU64::new(0);
    // The sink holds one event: the reader must wait for this consumer, not drop.
    let consumer = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(e) = events.recv().await {
            got.push(e);
        }
        got
    });
    let report = ingest_file(&path, &opts, &sink, &|n| {
        last_progress.store(n, std::sync::atomic::Ordering::Relaxed);
    })
    .await
    .unwrap();
    drop(sink);
    let events = consumer.await.unwrap();
    assert_eq!(report.records, 4);
    assert_eq!((report.accepted, report.rejected), (3, 1));
    assert_eq!(report.bytes, size);
    assert_eq!(
        last_progress.load(std::sync::atomic::Ordering::Relaxed),
        size
    );
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.source == "import"));
    assert_eq!(events[1].user.as_deref(), Some("jdoe"));
    let d = dead.recv().await.unwrap();
    assert_eq!(d.line, Some(3));
    assert!(d.reason.contains("domain"), "{}", d.reason);
}

#[tokio::test]
async fn file_ingest_refuses_an_overlong_line_and_carries_on() {
    let mut t = test_sink(8, 8);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let long = format!(
        "{{\"time\":\"2026-05-04T02:13:07Z\",\"domain\":\"cyber\",\"class\":\"x\",\"message\":\"{}\"}}",
        "m".repeat(5000)
    );
    std::fs::write(&path, format!("{long}\n{LOGON_EVENT}\n")).unwrap();
    let mut opts = FileIngestOptions::new("import");
    opts.limits.max_record_bytes = 1024;
    let report = ingest_file(&path, &opts, &t.sink, &|_| {}).await.unwrap();
    assert_eq!(
        (report.records, report.accepted, report.rejected),
        (2, 1, 1)
    );
    let d = t.dead_letter().await;
    assert_eq!(d.line, Some(1));
    assert!(d.reason.contains("limit of 1024"), "{}", d.reason);
    assert_eq!(t.event().await.user.as_deref(), Some("jdoe"));
}

#[tokio::test]
async fn file_ingest_reads_csv_in_tocsins_own_columns() {
    let mut t = test_sink(8, 8);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("badges.csv");
    std::fs::write(
        &path,
        "time,domain,class,activity,badge,portal,message\n\
         2026-05-04T02:13:07Z,physical,physical_access,denied,0x3F21A9,AP-DC2-SRV,\n\
         not a time,physical,physical_access,granted,0x11,AP-1,hello\n\
         2026-05-04T02:14:00Z,physical,physical_access,granted,0x22,AP-2,door ok\n",
    )
    .unwrap();
    let mut opts = FileIngestOptions::new("badges");
    opts.domain = Some(Domain::Physical);
    let report = ingest_file(&path, &opts, &t.sink, &|_| {}).await.unwrap();
    assert_eq!(
        (report.records, report.accepted, report.rejected),
        (3, 2, 1)
    );
    let e = t.event().await;
    assert_eq!(e.badge.as_deref(), Some("0x3F21A9"));
    assert_eq!(e.message, None);
    assert_eq!(t.event().await.message.as_deref(), Some("door ok"));
    let d = t.dead_letter().await;
    assert_eq!(d.line, Some(3));
    assert!(!d.reason.is_empty());
    assert!(String::from_utf8_lossy(&d.raw).contains("not a time"));
}

#[tokio::test]
async fn file_ingest_refuses_unknown_extensions_and_oversized_whole_files() {
    let t = test_sink(8, 8);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.log");
    std::fs::write(&path, DOOR_EVENT).unwrap();
    let opts = FileIngestOptions::new("import");
    let err = ingest_file(&path, &opts, &t.sink, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("format"), "{err}");

    let path = dir.path().join("events.json");
    std::fs::write(&path, format!("[{DOOR_EVENT}]")).unwrap();
    let mut opts = FileIngestOptions::new("import");
    opts.max_whole_file_bytes = 10;
    let err = ingest_file(&path, &opts, &t.sink, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NDJSON"), "{err}");
    opts.format = FileFormat::Ndjson;
    let report = ingest_file(&path, &opts, &t.sink, &|_| {}).await.unwrap();
    assert_eq!(report.rejected, 1, "an array is not NDJSON");
}

/// A badge-controller export: its own names, mapped onto the event model.
const BADGE_MAPPING: &str = r#"
[[sources.mapping.steps]]
op = "timestamp"
from = "ts"
formats = ["%d/%m/%Y %H:%M:%S"]

[[sources.mapping.steps]]
op = "copy"
from = "card"
to = "badge"

[[sources.mapping.steps]]
op = "copy"
from = "door"
to = "portal"

[[sources.mapping.steps]]
op = "lookup"
from = "result"
to = "activity"
table = { OK = "granted", NOK = "denied" }

[[sources.mapping.steps]]
op = "constant"
to = "class"
value = "physical_access"
"#;

#[tokio::test]
async fn http_json_format_goes_through_the_mapping() {
    let mut t = test_sink(8, 8);
    let source = http_source(&format!(
        "format = \"json\"\ndomain = \"physical\"\n{BADGE_MAPPING}"
    ));
    let body = r#"[
        {"ts": "04/05/2026 02:13:07", "card": "0x3F21A9", "door": "AP-DC2-SRV", "result": "NOK"},
        {"ts": "04/05/2026 02:13:09", "door": "AP-DC2-SRV", "result": "OK"}
    ]"#;
    let r = source.ingest(body.as_bytes(), &t.sink).unwrap();
    assert_eq!((r.accepted, r.rejected), (1, 1));
    assert_eq!(r.errors[0].line, 2);
    assert!(r.errors[0].reason.contains("card"), "{:?}", r.errors);
    let e = t.event().await;
    assert_eq!(
        e.time,
        "2026-05-04T02:13:07Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(e.badge.as_deref(), Some("0x3F21A9"));
    assert_eq!(e.portal.as_deref(), Some("AP-DC2-SRV"));
    assert_eq!(e.activity.as_deref(), Some("denied"));
    assert_eq!(e.class, "physical_access");
    assert_eq!(e.domain, Domain::Physical);
    assert_eq!(e.fields["result"], "NOK");
    let d = t.dead_letter().await;
    assert_eq!(d.line, Some(2));
}

#[tokio::test]
async fn http_csv_format_goes_through_the_mapping() {
    let mut t = test_sink(8, 8);
    let source = http_source(&format!(
        "format = \"csv\"\ndomain = \"physical\"\n{BADGE_MAPPING}"
    ));
    let body = "ts,card,door,result\n\
                04/05/2026 02:13:07,0x3F21A9,AP-DC2-SRV,NOK\n\
                yesterday,0x11,AP-1,OK\n\
                04/05/2026 02:14:00,0x22,AP-2,OK\n";
    let r = source.ingest(body.as_bytes(), &t.sink).unwrap();
    assert_eq!((r.accepted, r.rejected), (2, 1));
    assert_eq!(r.errors[0].line, 3);
    assert!(r.errors[0].reason.contains("time"), "{:?}", r.errors);
    let a = t.event().await;
    assert_eq!(a.activity.as_deref(), Some("denied"));
    let b = t.event().await;
    assert_eq!(b.badge.as_deref(), Some("0x22"));
    assert_eq!(b.activity.as_deref(), Some("granted"));
    let d = t.dead_letter().await;
    assert_eq!(d.line, Some(3));
    assert!(String::from_utf8_lossy(&d.raw).contains("yesterday"));
}

#[tokio::test]
async fn file_ingest_applies_a_mapping_to_csv() {
    let mut t = test_sink(8, 8);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(
        &path,
        "ts,card,door,result\n04/05/2026 02:13:07,0x3F21A9,AP-DC2-SRV,NOK\n",
    )
    .unwrap();
    #[derive(serde::Deserialize)]
    struct Wrap {
        sources: Vec<WithMapping>,
    }
    #[derive(serde::Deserialize)]
    struct WithMapping {
        mapping: tocsin_parsers::mapping::Mapping,
    }
    let wrap: Wrap = toml::from_str(&format!("[[sources]]\n{BADGE_MAPPING}")).unwrap();
    let mut opts = FileIngestOptions::new("export");
    opts.domain = Some(Domain::Physical);
    opts.mapping = wrap.sources.into_iter().next().map(|s| s.mapping);
    let report = ingest_file(&path, &opts, &t.sink, &|_| {}).await.unwrap();
    assert_eq!((report.records, report.accepted), (1, 1));
    assert_eq!(t.event().await.portal.as_deref(), Some("AP-DC2-SRV"));
}

#[tokio::test]
async fn a_source_built_through_the_trait_starts_and_stops() {
    let t = test_sink(4, 4);
    let cfgs = sources_from_toml(
        "[[sources]]\ntype = \"syslog\"\nname = \"edge\"\ntcp = \"127.0.0.1:0\"\n\n\
         [[sources]]\ntype = \"http\"\nname = \"web\"\ntokens_sha256 = [\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"]\n",
    );
    tocsin_sources::validate_all(&cfgs).unwrap();
    let shutdown = CancellationToken::new();
    let mut handles = Vec::new();
    let mut sources: Vec<Arc<dyn Source>> = Vec::new();
    for cfg in &cfgs {
        let s = tocsin_sources::build(cfg).unwrap();
        handles.extend(
            s.clone()
                .start(t.sink.clone(), shutdown.clone())
                .await
                .unwrap(),
        );
        sources.push(s);
    }
    assert_eq!(handles.len(), 1, "only syslog has a run loop");
    let status = sources[0].status();
    assert_eq!(status.kind, "syslog");
    assert_eq!(status.bound.len(), 1);
    assert!(!status.bound[0].ends_with(":0"), "{:?}", status.bound);
    let json = serde_json::to_value(sources[1].status()).unwrap();
    assert_eq!(json["health"]["state"], "healthy");
    assert_eq!(json["counters"]["received"], 0);
    stop(shutdown, handles).await;
}
