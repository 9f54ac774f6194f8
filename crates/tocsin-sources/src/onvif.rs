//! ONVIF events: an HTTP endpoint of its own that receives WS-BaseNotification `Notify` pushes
//! from cameras and access controllers, one `NotificationMessage` one event.
//!
//! Answers: `200` when every message of the body is in the pipeline or the dead-letter store;
//! `400` for a body that is not a Notify (dead-lettered with the reason); `413` for a body over
//! `max_body_bytes` (dead-lettered, cut); `503` when the pipeline cannot take the whole body now
//! (counted as dropped: the device may send it again); `404`/`405` for other paths and methods.
//! A connection must send its request headers within `header_timeout_secs`, and at most
//! `max_connections` are open at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use tocsin_model::{DeadLetter, Domain, Event, IngestContext, Limits};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

use crate::config::{BuildError, check_name, check_tenant, default_tenant};
use crate::http::ADMIN_SOURCE_NAME;
use crate::sink::log_lost_dead_letter;
use crate::source::{OverloadFlag, status_of};
use crate::{Sink, Source, SourceCounters, SourceInfo, SourceStatus};
use tocsin_parsers::mapping::Mapping;
use tocsin_parsers::onvif::{self, OnvifLimits};

fn default_domain() -> Domain {
    Domain::Physical
}
fn default_path() -> String {
    "/onvif/events".to_owned()
}
fn default_max_body_bytes() -> usize {
    256 * 1024
}
fn default_max_connections() -> usize {
    64
}
fn default_header_timeout_secs() -> u64 {
    10
}

/// An ONVIF event endpoint, `[[sources]]` with `type = "onvif"`.
///
/// ```toml
/// [[sources]]
/// type = "onvif"
/// name = "onvif-events"
/// listen = "0.0.0.0:8089"
/// path = "/onvif/events"
/// site = "hq-paris"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnvifSourceConfig {
    /// Unique name of the source. Letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// The tenant of every event. Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Domain of the events. Default `physical`.
    #[serde(default = "default_domain")]
    pub domain: Domain,
    /// Address to listen on, `IP:port`; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The path devices post to (their subscription's consumer reference). Default
    /// `/onvif/events`.
    #[serde(default = "default_path")]
    pub path: String,
    /// Largest accepted body in bytes. Default 262144.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most connections open at once; more are closed when accepted. Default 64.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a connection has to send its request headers. Default 10.
    #[serde(default = "default_header_timeout_secs")]
    pub header_timeout_secs: u64,
    /// Site given to every event (devices do not know it); optional.
    #[serde(default)]
    pub site: Option<String>,
    /// Field mapping applied after the built-in one; optional.
    #[serde(default)]
    pub mapping: Option<Mapping>,
}

impl OnvifSourceConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if self.name == ADMIN_SOURCE_NAME {
            return Err(format!("`name`: {ADMIN_SOURCE_NAME:?} is reserved"));
        }
        check_tenant(&self.tenant)?;
        if !self.path.starts_with('/') {
            return Err("`path`: must start with '/'".to_owned());
        }
        if self.max_body_bytes == 0 || self.max_connections == 0 || self.header_timeout_secs == 0 {
            return Err(
                "`max_body_bytes`, `max_connections` and `header_timeout_secs` must be more than 0"
                    .to_owned(),
            );
        }
        if let Some(m) = &self.mapping {
            m.validate().map_err(|e| format!("`mapping`: {e}"))?;
        }
        Ok(())
    }
}

/// An ONVIF event endpoint.
pub struct OnvifSource {
    info: SourceInfo,
    config: OnvifSourceConfig,
    limits: Limits,
    counters: Arc<SourceCounters>,
    bound: Mutex<Option<SocketAddr>>,
    started: AtomicBool,
    failed: Mutex<Option<String>>,
    overload: OverloadFlag,
    connections: Arc<tokio::sync::Semaphore>,
    refused_connections: AtomicU64,
}

impl std::fmt::Debug for OnvifSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnvifSource")
            .field("info", &self.info)
            .field("listen", &self.config.listen)
            .finish_non_exhaustive()
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, text: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
    *r.status_mut() = status;
    r
}

impl OnvifSource {
    pub fn from_config(cfg: &OnvifSourceConfig) -> Result<Self, BuildError> {
        cfg.validate().map_err(|reason| BuildError::Invalid {
            name: cfg.name.clone(),
            reason,
        })?;
        Ok(Self {
            info: SourceInfo {
                name: cfg.name.clone(),
                kind: "onvif",
                domain: cfg.domain,
                tenant: cfg.tenant.clone(),
            },
            config: cfg.clone(),
            limits: Limits::default(),
            counters: Arc::default(),
            bound: Mutex::default(),
            started: AtomicBool::new(false),
            failed: Mutex::default(),
            overload: OverloadFlag::default(),
            connections: Arc::new(tokio::sync::Semaphore::new(cfg.max_connections)),
            refused_connections: AtomicU64::new(0),
        })
    }

    /// The address actually bound, once started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *self.bound.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections closed at once because `max_connections` were open.
    pub fn refused_connections(&self) -> u64 {
        self.refused_connections.load(Ordering::Relaxed)
    }

    /// Takes one Notify body: every message becomes an event or a dead letter, or the whole
    /// body is refused when the pipeline cannot take it. Returns the HTTP status to answer.
    pub fn ingest(&self, body: &[u8], sink: &Sink) -> StatusCode {
        let now = sink.now();
        let limits = OnvifLimits {
            max_bytes: self.config.max_body_bytes,
            ..OnvifLimits::default()
        };
        let notes = match onvif::parse_notify(body, &limits) {
            Ok(n) => n,
            Err(e) => {
                self.counters.add_received(1);
                self.reject(body, e.to_string(), sink);
                return StatusCode::BAD_REQUEST;
            }
        };
        let mut events = Vec::with_capacity(notes.len());
        let mut refused = Vec::new();
        for (i, n) in notes.iter().enumerate() {
            match self.to_event(n, now) {
                Ok(e) => events.push(e),
                Err(reason) => refused.push(format!("NotificationMessage {}: {reason}", i + 1)),
            }
        }
        let total = (events.len() + refused.len()) as u64;
        let Some(permits) = sink.try_reserve_many(events.len()) else {
            self.counters.add_received(total);
            self.counters.add_dropped(total);
            if self.overload.set() {
                tracing::warn!(source = %self.info.name, "pipeline full: refusing ONVIF pushes");
            }
            return StatusCode::SERVICE_UNAVAILABLE;
        };
        self.counters.add_received(total);
        self.counters.add_accepted(events.len() as u64);
        for (p, e) in permits.into_iter().zip(events) {
            p.send(e);
        }
        for reason in refused {
            self.reject(body, reason, sink);
        }
        if self.overload.clear() {
            tracing::info!(source = %self.info.name, "pipeline has room again");
        }
        StatusCode::OK
    }

    fn to_event(
        &self,
        n: &onvif::Notification,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Event, String> {
        let mut input = onvif::to_input(n, now);
        if input.site.is_none() {
            input.site.clone_from(&self.config.site);
        }
        if let Some(m) = &self.config.mapping {
            input = m.apply_to(input).map_err(|e| e.to_string())?;
        }
        let ctx = IngestContext {
            source: &self.info.name,
            tenant: &self.info.tenant,
            domain: Some(self.info.domain),
            ingested: now,
            id: Ulid::new(),
            limits: self.limits,
        };
        Event::from_input(input, &ctx).map_err(|e| e.to_string())
    }

    fn reject(&self, raw: &[u8], reason: String, sink: &Sink) {
        let d = DeadLetter::new(
            Ulid::new(),
            &self.info.tenant,
            &self.info.name,
            sink.now(),
            reason,
            None,
            raw,
        );
        match sink.try_dead_letter(d) {
            Ok(()) => self.counters.add_rejected(1),
            Err(d) => {
                log_lost_dead_letter(&d, "the dead-letter queue is full");
                self.counters.add_dropped(1);
            }
        }
    }

    async fn serve(&self, req: Request<Incoming>, sink: &Sink) -> Reply {
        if req.uri().path() != self.config.path {
            return reply(StatusCode::NOT_FOUND, "not found");
        }
        if req.method() != Method::POST {
            return reply(StatusCode::METHOD_NOT_ALLOWED, "post a Notify");
        }
        let max = self.config.max_body_bytes;
        let declared = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = |this: &Self, raw: &[u8]| {
            this.counters.add_received(1);
            this.reject(
                raw,
                format!("onvif: body is more than the limit of {max} bytes (`max_body_bytes`)"),
                sink,
            );
            reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large")
        };
        if declared.is_some_and(|n| n > max as u64) {
            return too_large(self, b"");
        }
        let body = match Limited::new(req.into_body(), max).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return too_large(self, b"");
                }
                tracing::debug!(source = %self.info.name, "onvif body read: {e}");
                return reply(StatusCode::BAD_REQUEST, "cannot read body");
            }
        };
        let status = self.ingest(&body, sink);
        reply(
            status,
            if status == StatusCode::OK {
                ""
            } else {
                "refused"
            },
        )
    }

    async fn run(self: Arc<Self>, listener: TcpListener, sink: Sink, shutdown: CancellationToken) {
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                r = listener.accept() => r,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(source = %self.info.name, "accept: {e}");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                    continue;
                }
            };
            let Ok(permit) = self.connections.clone().try_acquire_owned() else {
                self.refused_connections.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = %self.info.name, %peer, "connection refused: `max_connections` open");
                drop(stream);
                continue;
            };
            let this = self.clone();
            let sink = sink.clone();
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                let _permit = permit;
                let svc_this = this.clone();
                let service = hyper::service::service_fn(move |req| {
                    let this = svc_this.clone();
                    let sink = sink.clone();
                    async move { Ok::<_, Infallible>(this.serve(req, &sink).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(this.config.header_timeout_secs))
                    .serve_connection(TokioIo::new(stream), service);
                let mut conn = std::pin::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(source = %this.info.name, "onvif connection: {e}");
                        }
                    }
                    () = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
        while connections.join_next().await.is_some() {}
    }
}

#[async_trait]
impl Source for OnvifSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn counters(&self) -> &Arc<SourceCounters> {
        &self.counters
    }

    fn status(&self) -> SourceStatus {
        let addrs = self
            .local_addr()
            .map(|a| format!("http://{a}{}", self.config.path))
            .into_iter()
            .collect();
        let health = crate::source::listener_health(
            &self.failed,
            &self.started,
            &self.overload,
            "refusing pushes",
        );
        status_of(&self.info, &self.counters, addrs, health)
    }

    async fn start(
        self: Arc<Self>,
        sink: Sink,
        shutdown: CancellationToken,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        crate::source::mark_started(&self.started, &self.info)?;
        let addr = self.config.listen;
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                let e = std::io::Error::new(e.kind(), format!("tcp {addr}: {e}"));
                tracing::error!(source = %self.info.name, "cannot listen: {e}");
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("cannot listen: {e}"));
                return Err(e);
            }
        };
        let local = listener.local_addr()?;
        *self.bound.lock().unwrap_or_else(|e| e.into_inner()) = Some(local);
        tracing::info!(source = %self.info.name, %local, "onvif endpoint listening");
        Ok(vec![tokio::spawn(self.run(listener, sink, shutdown))])
    }
}
