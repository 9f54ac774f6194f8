//! The feed source against a real HTTP server on 127.0.0.1 and real files, with a fake clock.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tocsin_model::{DeadLetter, Domain, Event, FakeClock};
use tocsin_sources::feed::{FeedSource, FeedSourceConfig, PollOutcome};
use tocsin_sources::{BuiltSource, Health, Sink, Source, SourceConfig};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn start_time() -> DateTime<Utc> {
    "2026-05-04T02:13:08Z".parse().unwrap()
}

/// What the test server answers on `/feed`.
#[derive(Clone)]
enum Answer {
    /// The document, with its validators; a request carrying the same ETag gets 304.
    Doc {
        body: String,
        etag: &'static str,
        last_modified: &'static str,
    },
    Status(u16, Option<&'static str>),
    /// `n` bytes sent in chunks with no Content-Length.
    Stream(usize),
    /// A redirect to this location.
    Redirect(String),
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
}

#[derive(Clone)]
struct Server {
    addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server {
            addr: listener.local_addr().unwrap(),
            answer: Arc::new(Mutex::new(answer)),
            seen: Arc::default(),
        };
        let s = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, Infallible>(s.handle(&req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn set(&self, a: Answer) {
        *self.answer.lock().unwrap() = a;
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn handle(&self, req: &Request<Incoming>) -> Response<BoxBody<Bytes, Infallible>> {
        let header = |n: &str| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let seen = Seen {
            path: req.uri().path().to_owned(),
            if_none_match: header("if-none-match"),
            if_modified_since: header("if-modified-since"),
        };
        self.seen.lock().unwrap().push(seen.clone());
        let full = |s: String| Full::new(Bytes::from(s)).boxed();
        if seen.path == "/old" {
            return Response::builder()
                .status(StatusCode::MOVED_PERMANENTLY)
                .header("location", "/feed")
                .body(full(String::new()))
                .unwrap();
        }
        match self.answer.lock().unwrap().clone() {
            Answer::Doc {
                body,
                etag,
                last_modified,
            } => {
                if seen.if_none_match.as_deref() == Some(etag) {
                    return Response::builder()
                        .status(StatusCode::NOT_MODIFIED)
                        .header("etag", etag)
                        .body(full(String::new()))
                        .unwrap();
                }
                Response::builder()
                    .header("etag", etag)
                    .header("last-modified", last_modified)
                    .header("content-type", "application/atom+xml")
                    .body(full(body))
                    .unwrap()
            }
            Answer::Status(code, retry_after) => {
                let mut b = Response::builder().status(code);
                if let Some(r) = retry_after {
                    b = b.header("retry-after", r);
                }
                b.body(full("try later".into())).unwrap()
            }
            Answer::Stream(n) => {
                let chunks = (0..n.div_ceil(1024))
                    .map(|_| Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b' '; 1024]))));
                Response::new(StreamBody::new(futures::stream::iter(chunks)).boxed())
            }
            Answer::Redirect(to) => Response::builder()
                .status(StatusCode::FOUND)
                .header("location", to)
                .body(full(String::new()))
                .unwrap(),
        }
    }
}

struct Harness {
    sink: Sink,
    clock: FakeClock,
    events: mpsc::Receiver<Event>,
    dead: mpsc::Receiver<DeadLetter>,
}

impl Harness {
    fn new() -> Self {
        let (tx, events) = mpsc::channel(64);
        let (dtx, dead) = mpsc::channel(64);
        let clock = FakeClock::new(start_time());
        Harness {
            sink: Sink::new(tx, dtx, Arc::new(clock.clone())),
            clock,
            events,
            dead,
        }
    }

    fn drain_events(&mut self) -> Vec<Event> {
        let mut v = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            v.push(e);
        }
        v
    }

    fn drain_dead(&mut self) -> Vec<DeadLetter> {
        let mut v = Vec::new();
        while let Ok(d) = self.dead.try_recv() {
            v.push(d);
        }
        v
    }

    fn advance_to(&self, t: DateTime<Utc>) {
        self.clock.set(t);
    }
}

fn config(name: &str, url: Option<String>, path: Option<std::path::PathBuf>) -> FeedSourceConfig {
    FeedSourceConfig {
        name: name.into(),
        tenant: "default".into(),
        domain: Domain::Public,
        url,
        path,
        kind: None,
        interval_secs: 300,
        max_bytes: 64 * 1024,
        timeout_secs: 10,
        seen_cap: 1000,
    }
}

fn entry(id: &str, title: &str, updated: &str) -> String {
    format!(
        "<entry><id>{id}</id><title>{title}</title><updated>{updated}</updated>\
         <published>2026-05-04T01:50:00Z</published>\
         <summary>Emergency services are at the scene.</summary>\
         <link href=\"https://news.example.org/{id}\"/></entry>"
    )
}

fn atom(entries: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Regional news</title>\
         <id>urn:example:regional</id><updated>2026-05-04T02:00:00Z</updated>{}</feed>",
        entries.concat()
    )
}

fn messages(events: &[Event]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .map(|e| e.message.clone().unwrap_or_default())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn polls_conditionally_and_ingests_new_and_updated_items_once() {
    let doc1 = atom(&[
        entry("a1", "Warehouse fire in Lyon", "2026-05-04T02:00:00Z"),
        entry(
            "a2",
            "Road closed after crash near Grenoble",
            "2026-05-04T02:00:00Z",
        ),
    ]);
    let server = Server::start(Answer::Doc {
        body: doc1.clone(),
        etag: "\"v1\"",
        last_modified: "Mon, 04 May 2026 02:00:00 GMT",
    })
    .await;
    let mut h = Harness::new();
    let src = FeedSource::from_config(&config("news", Some(server.url("/feed")), None)).unwrap();
    assert_eq!(src.status().health, Health::Starting);
    assert_eq!(src.status().bound, vec![server.url("/feed")]);

    let r = src.poll_once(&h.sink).await;
    assert_eq!(r.outcome, PollOutcome::Read);
    assert_eq!(r.sent, 2);
    let events = h.drain_events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.source == "news"));
    assert!(events.iter().all(|e| e.domain == Domain::Public));
    assert!(messages(&events)[1].starts_with("Warehouse fire in Lyon"));
    assert_eq!(src.status().health, Health::Healthy);
    let interval = chrono::Duration::seconds(300);
    assert_eq!(r.next_poll, start_time() + interval);

    // Not due yet: nothing is fetched.
    assert!(src.poll_if_due(&h.sink).await.is_none());
    assert_eq!(server.requests().len(), 1);

    // Second poll: validators go back, 304, nothing new.
    h.advance_to(r.next_poll);
    let r = src.poll_if_due(&h.sink).await.unwrap();
    assert_eq!(r.outcome, PollOutcome::NotModified);
    assert_eq!(r.sent, 0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].if_none_match, None);
    assert_eq!(reqs[1].if_none_match.as_deref(), Some("\"v1\""));
    assert_eq!(
        reqs[1].if_modified_since.as_deref(),
        Some("Mon, 04 May 2026 02:00:00 GMT")
    );
    assert_eq!(src.not_modified(), 1);
    assert!(h.drain_events().is_empty());

    // The publisher updates one item and adds one: exactly those two arrive.
    let doc2 = atom(&[
        entry(
            "a1",
            "Warehouse fire in Lyon spreads",
            "2026-05-04T02:20:00Z",
        ),
        entry(
            "a2",
            "Road closed after crash near Grenoble",
            "2026-05-04T02:00:00Z",
        ),
        entry("a3", "Power cut in Annecy", "2026-05-04T02:20:00Z"),
    ]);
    server.set(Answer::Doc {
        body: doc2.clone(),
        etag: "\"v2\"",
        last_modified: "Mon, 04 May 2026 02:20:00 GMT",
    });
    h.advance_to(r.next_poll);
    let r = src.poll_if_due(&h.sink).await.unwrap();
    assert_eq!(
        (r.outcome.clone(), r.sent, r.unchanged),
        (PollOutcome::Read, 2, 1)
    );
    let m = messages(&h.drain_events());
    assert!(m[0].starts_with("Power cut in Annecy"), "{m:?}");
    assert!(m[1].starts_with("Warehouse fire in Lyon spreads"), "{m:?}");

    // A server that ignores the validators and sends the same document again: still nothing new.
    server.set(Answer::Doc {
        body: doc2,
        etag: "\"v3\"",
        last_modified: "Mon, 04 May 2026 02:20:00 GMT",
    });
    h.advance_to(r.next_poll);
    let r = src.poll_if_due(&h.sink).await.unwrap();
    assert_eq!((r.outcome, r.sent, r.unchanged), (PollOutcome::Read, 0, 3));
    assert!(h.drain_events().is_empty());
    let c = src.counters().snapshot();
    assert_eq!(
        (c.received, c.accepted, c.rejected, c.dropped),
        (4, 4, 0, 0)
    );
    assert_eq!(src.unchanged(), 4);
}

#[tokio::test]
async fn a_bad_item_is_dead_lettered_and_the_rest_ingested() {
    let bad = "<entry><id>b1</id><published>yesterday-ish</published>\
               <title>Flooding reported</title></entry>"
        .to_owned();
    let doc = atom(&[
        entry(
            "g1",
            "Gas leak evacuates school in Lyon",
            "2026-05-04T02:00:00Z",
        ),
        bad,
    ]);
    let server = Server::start(Answer::Doc {
        body: doc,
        etag: "\"x\"",
        last_modified: "Mon, 04 May 2026 02:00:00 GMT",
    })
    .await;
    let mut h = Harness::new();
    let src = FeedSource::from_config(&config("news", Some(server.url("/feed")), None)).unwrap();
    let r = src.poll_once(&h.sink).await;
    assert_eq!((r.sent, r.rejected), (1, 1));
    assert_eq!(h.drain_events().len(), 1);
    let dead = h.drain_dead();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].source, "news");
    assert_eq!(dead[0].line, Some(2));
    assert!(
        dead[0].reason.contains("yesterday-ish"),
        "{}",
        dead[0].reason
    );
    let c = src.counters().snapshot();
    assert_eq!((c.received, c.accepted, c.rejected), (2, 1, 1));
}

#[tokio::test]
async fn errors_back_off_exponentially_and_honour_retry_after() {
    let server = Server::start(Answer::Status(500, None)).await;
    let mut h = Harness::new();
    let src = FeedSource::from_config(&config("news", Some(server.url("/feed")), None)).unwrap();

    let mut waits = Vec::new();
    for failures in 1..=3u32 {
        let r = src.poll_if_due(&h.sink).await.unwrap();
        let PollOutcome::Failed { reason } = &r.outcome else {
            panic!("{:?}", r.outcome)
        };
        assert!(reason.contains("500"), "{reason}");
        let wait = (r.next_poll - h.sink.now()).num_seconds();
        // Full back-off doubles per failure; jitter draws from its upper half.
        let full = 300 << (failures - 1);
        assert!(wait >= full / 2 && wait <= full, "{failures}: {wait}");
        waits.push(wait);
        let Health::Degraded { reason } = src.status().health else {
            panic!("{:?}", src.status().health)
        };
        assert!(
            reason.contains(&format!("{failures} failed poll")),
            "{reason}"
        );
        // Just before it is due, the source does not call again.
        h.advance_to(r.next_poll - chrono::Duration::seconds(1));
        assert!(src.poll_if_due(&h.sink).await.is_none());
        h.advance_to(r.next_poll);
    }
    assert_eq!(server.requests().len(), 3);
    assert_eq!(src.failed_polls(), 3);

    // 429 with Retry-After longer than the back-off: the source waits that long.
    server.set(Answer::Status(429, Some("5000")));
    let r = src.poll_if_due(&h.sink).await.unwrap();
    assert!(matches!(r.outcome, PollOutcome::Failed { .. }));
    assert_eq!((r.next_poll - h.sink.now()).num_seconds(), 5000);

    // Recovery resets the schedule and the health.
    server.set(Answer::Doc {
        body: atom(&[entry("r1", "Bridge reopened", "2026-05-04T02:00:00Z")]),
        etag: "\"r\"",
        last_modified: "Mon, 04 May 2026 02:00:00 GMT",
    });
    h.advance_to(r.next_poll);
    let r = src.poll_if_due(&h.sink).await.unwrap();
    assert_eq!((r.outcome, r.sent), (PollOutcome::Read, 1));
    assert_eq!((r.next_poll - h.sink.now()).num_seconds(), 300);
    assert_eq!(src.status().health, Health::Healthy);
    assert_eq!(h.drain_events().len(), 1);
    assert!(h.drain_dead().is_empty());
}

#[tokio::test]
async fn oversize_bodies_are_refused_with_or_without_length() {
    let big = atom(&[entry("z", &"x".repeat(2000), "2026-05-04T02:00:00Z")]);
    let server = Server::start(Answer::Doc {
        body: big,
        etag: "\"z\"",
        last_modified: "Mon, 04 May 2026 02:00:00 GMT",
    })
    .await;
    let mut h = Harness::new();
    let mut cfg = config("news", Some(server.url("/feed")), None);
    cfg.max_bytes = 1024;
    let src = FeedSource::from_config(&cfg).unwrap();
    let r = src.poll_once(&h.sink).await;
    let PollOutcome::Failed { reason } = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(reason.contains("max_bytes"), "{reason}");

    // Chunked, no Content-Length: refused while reading.
    server.set(Answer::Stream(1024 * 1024));
    let r = src.poll_once(&h.sink).await;
    let PollOutcome::Failed { reason } = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(reason.contains("max_bytes"), "{reason}");
    assert!(h.drain_events().is_empty());
    // Validators of a refused document are not kept.
    assert!(server.requests().iter().all(|s| s.if_none_match.is_none()));
}

#[tokio::test]
async fn redirects_stay_on_the_configured_host() {
    let server = Server::start(Answer::Doc {
        body: atom(&[entry("m1", "Market evacuated", "2026-05-04T02:00:00Z")]),
        etag: "\"m\"",
        last_modified: "Mon, 04 May 2026 02:00:00 GMT",
    })
    .await;
    let mut h = Harness::new();
    // Same host: followed.
    let src = FeedSource::from_config(&config("news", Some(server.url("/old")), None)).unwrap();
    let r = src.poll_once(&h.sink).await;
    assert_eq!((r.outcome, r.sent), (PollOutcome::Read, 1));
    assert_eq!(h.drain_events().len(), 1);

    // Another host (same machine, other name): refused, not followed.
    let elsewhere = format!("http://localhost:{}/feed", server.addr.port());
    server.set(Answer::Redirect(elsewhere));
    let before = server.requests().len();
    let src = FeedSource::from_config(&config("news2", Some(server.url("/feed")), None)).unwrap();
    let r = src.poll_once(&h.sink).await;
    let PollOutcome::Failed { reason } = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(reason.contains("redirect"), "{reason}");
    assert_eq!(server.requests().len(), before + 1);
}

#[tokio::test]
async fn a_folder_is_read_once_per_file_version() {
    let dir = tempfile::tempdir().unwrap();
    let quake = r#"{"type":"FeatureCollection","metadata":{"title":"USGS All Earthquakes, Past Hour"},
      "features":[{"type":"Feature","id":"nc75001234",
        "properties":{"mag":4.1,"place":"10 km NE of Gilroy, CA","time":1777860000000,
          "updated":1777860300000,"type":"earthquake","title":"M 4.1 - 10 km NE of Gilroy, CA",
          "status":"automatic"},
        "geometry":{"type":"Point","coordinates":[-121.5,37.05,8.2]}}]}"#;
    std::fs::write(dir.path().join("usgs.geojson"), quake).unwrap();
    std::fs::write(
        dir.path().join("news.xml"),
        atom(&[entry(
            "f1",
            "Chemical spill on the A7",
            "2026-05-04T02:00:00Z",
        )]),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a feed").unwrap();
    std::fs::write(dir.path().join("junk.json"), "{ not json").unwrap();
    std::fs::write(dir.path().join("plain.json"), "hello").unwrap();
    std::fs::write(dir.path().join("huge.xml"), vec![b' '; 70 * 1024]).unwrap();

    let mut h = Harness::new();
    let src = FeedSource::from_config(&config("drop", None, Some(dir.path().into()))).unwrap();
    let r = src.poll_once(&h.sink).await;
    assert_eq!((r.outcome, r.sent, r.rejected), (PollOutcome::Read, 2, 3));
    let events = h.drain_events();
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = events.iter().map(|e| e.class.as_str()).collect();
        k.sort_unstable();
        k
    };
    assert_eq!(kinds, ["hazard_warning", "public_report"]);
    // Files are read in name order: huge.xml, junk.json, news.xml, plain.json, usgs.geojson.
    let dead = h.drain_dead();
    assert_eq!(dead.len(), 3);
    assert!(dead[0].reason.contains("huge.xml"), "{}", dead[0].reason);
    assert!(dead[0].reason.contains("max_bytes"), "{}", dead[0].reason);
    assert!(dead[1].reason.contains("junk.json"), "{}", dead[1].reason);
    // Read as social NDJSON (it starts with `{`): its one line is an item the parser skips.
    assert!(
        dead[1].reason.contains("(social) item 0"),
        "{}",
        dead[1].reason
    );
    assert_eq!(dead[1].line, Some(1));
    assert!(dead[2].reason.contains("plain.json"), "{}", dead[2].reason);
    assert!(dead[2].reason.contains("kind"), "{}", dead[2].reason);
    assert_eq!(dead[2].raw, b"hello");
    let c = src.counters().snapshot();
    assert_eq!((c.received, c.accepted, c.rejected), (5, 2, 3));

    // Nothing changed: nothing is read again.
    h.clock.advance(chrono::Duration::seconds(300));
    let r = src.poll_once(&h.sink).await;
    assert_eq!(
        (r.outcome, r.sent, r.rejected),
        (PollOutcome::NotModified, 0, 0)
    );

    // A new file and a rewritten one (the same item again plus a new one).
    std::fs::write(
        dir.path().join("news.xml"),
        atom(&[
            entry("f1", "Chemical spill on the A7", "2026-05-04T02:00:00Z"),
            entry("f2", "A7 reopened after the spill", "2026-05-04T02:30:00Z"),
        ]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("later.rss"),
        "<rss version=\"2.0\"><channel><title>Local</title><item><guid>l1</guid>\
         <title>Protest march blocks city centre</title>\
         <pubDate>Mon, 04 May 2026 02:40:00 GMT</pubDate></item></channel></rss>",
    )
    .unwrap();
    let r = src.poll_once(&h.sink).await;
    assert_eq!((r.outcome, r.sent, r.unchanged), (PollOutcome::Read, 2, 1));
    let m = messages(&h.drain_events());
    assert!(m[0].starts_with("A7 reopened"), "{m:?}");
    assert!(m[1].starts_with("Protest march"), "{m:?}");
}

#[tokio::test]
async fn config_is_read_from_toml_and_the_source_runs_until_shutdown() {
    let server = Server::start(Answer::Doc {
        body: atom(&[entry(
            "t1",
            "Storm warning for the coast",
            "2026-05-04T02:00:00Z",
        )]),
        etag: "\"t\"",
        last_modified: "Mon, 04 May 2026 02:00:00 GMT",
    })
    .await;
    #[derive(serde::Deserialize)]
    struct File {
        sources: Vec<SourceConfig>,
    }
    let text = format!(
        "[[sources]]\ntype = \"feed\"\nname = \"coast\"\nurl = \"{}\"\nkind = \"atom\"\n\
         interval_secs = 60\n",
        server.url("/feed?key=secret")
    );
    let file: File = toml::from_str(&text).unwrap();
    assert_eq!(file.sources[0].kind(), "feed");
    let built = tocsin_sources::build_typed(&file.sources[0]).unwrap();
    let BuiltSource::Feed(src) = &built else {
        panic!("not a feed source")
    };
    // The query may hold a key: it is not shown.
    assert_eq!(src.status().bound, vec![server.url("/feed")]);

    let bad = toml::from_str::<File>(
        "[[sources]]\ntype = \"feed\"\nname = \"x\"\nurl = \"http://a/\"\nintervall = 60\n",
    );
    assert!(bad.is_err_and(|e| e.to_string().contains("intervall")));
    let short = toml::from_str::<File>(
        "[[sources]]\ntype = \"feed\"\nname = \"x\"\nurl = \"http://a/\"\ninterval_secs = 5\n",
    )
    .unwrap();
    let err = tocsin_sources::build_typed(&short.sources[0]).unwrap_err();
    assert!(err.to_string().contains("interval_secs"), "{err}");

    let mut h = Harness::new();
    let shutdown = CancellationToken::new();
    let tasks = built
        .as_source()
        .start(h.sink.clone(), shutdown.clone())
        .await
        .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(20), h.events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.source, "coast");
    shutdown.cancel();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(server.requests()[0].path, "/feed");
}
