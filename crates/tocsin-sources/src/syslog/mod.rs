//! Syslog over UDP (one datagram, one message) and TCP (RFC 6587 framing), RFC 5424 and RFC 3164
//! with CEF and LEEF payloads.
//!
//! Socket loops never wait on the pipeline: when its queue is full a message is counted as
//! dropped and the loop reads on, so a flood costs records, never memory or a stuck listener.

mod framing;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use tocsin_model::{DeadLetter, Domain, Event, IngestContext, Limits};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

pub use framing::{Frame, SyslogFrameDecoder};

use crate::config::{BuildError, check_name, check_tenant, default_tenant};
use crate::http::ADMIN_SOURCE_NAME;
use crate::sink::log_lost_dead_letter;
use crate::source::{OverloadFlag, status_of};
use crate::{Sink, Source, SourceCounters, SourceInfo, SourceStatus};
use tocsin_parsers::mapping::Mapping;
use tocsin_parsers::normalise::syslog_to_input;
use tocsin_parsers::syslog::{SyslogOptions, parse};

fn default_domain() -> Domain {
    Domain::Cyber
}

fn default_max_message_bytes() -> usize {
    64 * 1024
}

fn default_max_connections() -> usize {
    256
}

fn default_idle_timeout_secs() -> u64 {
    300
}

/// A syslog listener, `[[sources]]` with `type = "syslog"`.
///
/// ```toml
/// [[sources]]
/// type = "syslog"
/// name = "firewalls"
/// udp = "0.0.0.0:5514"
/// tcp = "0.0.0.0:5514"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSourceConfig {
    /// Unique name of the source; events and dead letters carry it as `source`. Letters, digits,
    /// `-`, `_` and `.`.
    pub name: String,
    /// The tenant of every message. Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Domain of the events (`cyber`, `physical`, `public`) unless the mapping sets one.
    /// Default `cyber`.
    #[serde(default = "default_domain")]
    pub domain: Domain,
    /// UDP address to listen on, `IP:port` (e.g. `"0.0.0.0:514"`); port 0 picks a free one.
    /// One datagram is one message.
    #[serde(default)]
    pub udp: Option<SocketAddr>,
    /// TCP address to listen on, `IP:port`. Frames may be octet-counted (`<len> <msg>`) or end at
    /// a newline, mixed freely on one connection. At least one of `udp` and `tcp` is required.
    #[serde(default)]
    pub tcp: Option<SocketAddr>,
    /// Longest accepted message in bytes; longer ones go to the dead-letter store (cut) and the
    /// TCP stream resyncs at the next frame. Default 65536.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Most TCP connections open at once; more are closed as soon as they are accepted.
    /// Default 256.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A TCP connection that sends nothing for this many seconds is closed. Default 300.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Field mapping applied on top of what the syslog parser fills in (host, severity,
    /// message, the CEF/LEEF extensions in `fields`); optional.
    #[serde(default)]
    pub mapping: Option<Mapping>,
}

impl SyslogSourceConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if self.name == ADMIN_SOURCE_NAME {
            return Err(format!(
                "`name`: {ADMIN_SOURCE_NAME:?} is reserved for events posted with an admin token"
            ));
        }
        check_tenant(&self.tenant)?;
        if self.udp.is_none() && self.tcp.is_none() {
            return Err("set `udp`, `tcp` or both: the address to listen on".to_owned());
        }
        if self.max_message_bytes == 0 {
            return Err("`max_message_bytes`: must be more than 0".to_owned());
        }
        if self.max_connections == 0 {
            return Err("`max_connections`: must be more than 0".to_owned());
        }
        if self.idle_timeout_secs == 0 {
            return Err("`idle_timeout_secs`: must be more than 0".to_owned());
        }
        if let Some(m) = &self.mapping {
            m.validate().map_err(|e| format!("`mapping`: {e}"))?;
        }
        Ok(())
    }
}

/// A syslog listener.
pub struct SyslogSource {
    info: SourceInfo,
    config: SyslogSourceConfig,
    limits: Limits,
    counters: Arc<SourceCounters>,
    bound: Mutex<Bound>,
    started: AtomicBool,
    failed: Mutex<Option<String>>,
    overload: OverloadFlag,
    connections: Arc<Semaphore>,
    refused_connections: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Bound {
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
}

impl std::fmt::Debug for SyslogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSource")
            .field("info", &self.info)
            .field("udp", &self.config.udp)
            .field("tcp", &self.config.tcp)
            .finish_non_exhaustive()
    }
}

impl SyslogSource {
    pub fn from_config(cfg: &SyslogSourceConfig) -> Result<Self, BuildError> {
        cfg.validate().map_err(|reason| BuildError::Invalid {
            name: cfg.name.clone(),
            reason,
        })?;
        Ok(Self {
            info: SourceInfo {
                name: cfg.name.clone(),
                kind: "syslog",
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
            connections: Arc::new(Semaphore::new(cfg.max_connections)),
            refused_connections: AtomicU64::new(0),
        })
    }

    /// The UDP address actually bound, once started.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.bound().udp
    }

    /// The TCP address actually bound, once started.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.bound().tcp
    }

    /// TCP connections open now.
    pub fn open_connections(&self) -> usize {
        self.config
            .max_connections
            .saturating_sub(self.connections.available_permits())
    }

    /// TCP connections closed at once because `max_connections` were already open.
    pub fn refused_connections(&self) -> u64 {
        self.refused_connections.load(Ordering::Relaxed)
    }

    fn bound(&self) -> Bound {
        *self.bound.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn to_event(&self, raw: &[u8], sink: &Sink) -> Result<Event, String> {
        let now = sink.now();
        let mut opts = SyslogOptions::new(now);
        opts.max_bytes = self.config.max_message_bytes;
        let msg = parse(raw, &opts).map_err(|e| e.to_string())?;
        let mut input = syslog_to_input(&msg);
        if let Some(m) = &self.config.mapping {
            input = m.apply_to(input).map_err(|e| e.to_string())?;
        }
        // A message whose header and payload carry no time happened, as far as anyone knows,
        // when it arrived.
        if input.time.is_none() {
            input.time = Some(now);
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

    /// One message read from a socket: an event, a dead letter, or a counted drop.
    fn handle_message(&self, raw: &[u8], sink: &Sink) {
        self.counters.add_received(1);
        match self.to_event(raw, sink) {
            Ok(event) => match sink.try_send(event) {
                Ok(()) => {
                    self.counters.add_accepted(1);
                    if self.overload.clear() {
                        tracing::info!(source = %self.info.name, "pipeline has room again");
                    }
                }
                Err(_) => self.count_drop(),
            },
            Err(reason) => self.reject(raw, reason, sink),
        }
    }

    /// A frame that never became a message (too long, cut short).
    fn handle_invalid(&self, raw: &[u8], reason: String, sink: &Sink) {
        self.counters.add_received(1);
        self.reject(raw, reason, sink);
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
                self.count_drop();
            }
        }
    }

    fn count_drop(&self) {
        self.counters.add_dropped(1);
        if self.overload.set() {
            tracing::warn!(source = %self.info.name, "pipeline full: dropping syslog messages");
        }
    }

    fn fail(&self, reason: String) {
        tracing::error!(source = %self.info.name, "{reason}");
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }

    async fn run_udp(self: Arc<Self>, socket: UdpSocket, sink: Sink, shutdown: CancellationToken) {
        let max = self.config.max_message_bytes;
        // One byte more than the limit tells an oversized datagram from one of exactly the limit.
        let mut buf = vec![0u8; max.saturating_add(1).min(65_536)];
        loop {
            let received = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                r = socket.recv_from(&mut buf) => r,
            };
            match received {
                Ok((n, _peer)) => {
                    let datagram = buf.get(..n).unwrap_or_default();
                    if n > max {
                        let reason = format!(
                            "datagram is longer than the limit of {max} bytes (`max_message_bytes`)"
                        );
                        self.handle_invalid(datagram.get(..max).unwrap_or(datagram), reason, &sink);
                    } else {
                        self.handle_message(trim_message(datagram), &sink);
                    }
                }
                // Errors on a UDP socket (ICMP port unreachable echoes and the like) concern one
                // datagram, not the socket.
                Err(e) => tracing::debug!(source = %self.info.name, "udp receive: {e}"),
            }
        }
    }

    async fn run_tcp(
        self: Arc<Self>,
        listener: TcpListener,
        sink: Sink,
        shutdown: CancellationToken,
    ) {
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                r = listener.accept() => r,
            };
            match accepted {
                Ok((stream, peer)) => match self.connections.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let this = self.clone();
                        let sink = sink.clone();
                        let shutdown = shutdown.clone();
                        connections.spawn(async move {
                            this.run_connection(stream, permit, sink, shutdown).await;
                        });
                    }
                    Err(_) => {
                        self.refused_connections.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            source = %self.info.name,
                            %peer,
                            "connection refused: {} connections already open (`max_connections`)",
                            self.config.max_connections
                        );
                        drop(stream);
                    }
                },
                Err(e) => {
                    // Running out of file descriptors makes accept fail at once, again and again:
                    // pausing keeps the loop from spinning while connections close.
                    tracing::warn!(source = %self.info.name, "tcp accept: {e}");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            }
        }
        while connections.join_next().await.is_some() {}
    }

    async fn run_connection(
        &self,
        stream: TcpStream,
        _permit: OwnedSemaphorePermit,
        sink: Sink,
        shutdown: CancellationToken,
    ) {
        let idle = Duration::from_secs(self.config.idle_timeout_secs);
        let mut frames = FramedRead::new(
            stream,
            SyslogFrameDecoder::new(self.config.max_message_bytes),
        );
        loop {
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                n = tokio::time::timeout(idle, frames.next()) => n,
            };
            match next {
                Err(_) => {
                    tracing::debug!(source = %self.info.name, "closing idle connection");
                    return;
                }
                Ok(None) => return,
                Ok(Some(Err(e))) => {
                    tracing::debug!(source = %self.info.name, "tcp read: {e}");
                    return;
                }
                Ok(Some(Ok(Frame::Message(m)))) => self.handle_message(&m, &sink),
                Ok(Some(Ok(Frame::Invalid { reason, raw }))) => {
                    self.handle_invalid(&raw, reason, &sink);
                }
            }
        }
    }
}

/// Senders often end a datagram with a newline or NUL that is not part of the message.
fn trim_message(mut m: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r' | b'\0'] = m {
        m = rest;
    }
    m
}

#[async_trait]
impl Source for SyslogSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn counters(&self) -> &Arc<SourceCounters> {
        &self.counters
    }

    fn status(&self) -> SourceStatus {
        let bound = self.bound();
        let addrs = bound
            .udp
            .map(|a| format!("udp://{a}"))
            .into_iter()
            .chain(bound.tcp.map(|a| format!("tcp://{a}")))
            .collect();
        let health = crate::source::listener_health(
            &self.failed,
            &self.started,
            &self.overload,
            "dropping messages",
        );
        status_of(&self.info, &self.counters, addrs, health)
    }

    async fn start(
        self: Arc<Self>,
        sink: Sink,
        shutdown: CancellationToken,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        crate::source::mark_started(&self.started, &self.info)?;
        // Bind everything before spawning anything, so a failure leaves nothing half running.
        let bind =
            async {
                let udp =
                    match self.config.udp {
                        Some(addr) => Some(UdpSocket::bind(addr).await.map_err(|e| {
                            std::io::Error::new(e.kind(), format!("udp {addr}: {e}"))
                        })?),
                        None => None,
                    };
                let tcp =
                    match self.config.tcp {
                        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                            std::io::Error::new(e.kind(), format!("tcp {addr}: {e}"))
                        })?),
                        None => None,
                    };
                let bound = Bound {
                    udp: udp.as_ref().map(UdpSocket::local_addr).transpose()?,
                    tcp: tcp.as_ref().map(TcpListener::local_addr).transpose()?,
                };
                std::io::Result::Ok((udp, tcp, bound))
            };
        let (udp, tcp, bound) = match bind.await {
            Ok(b) => b,
            Err(e) => {
                self.fail(format!("cannot listen: {e}"));
                return Err(e);
            }
        };
        *self.bound.lock().unwrap_or_else(|e| e.into_inner()) = bound;
        tracing::info!(source = %self.info.name, udp = ?bound.udp, tcp = ?bound.tcp, "syslog listening");
        let mut handles = Vec::new();
        if let Some(socket) = udp {
            handles.push(tokio::spawn(self.clone().run_udp(
                socket,
                sink.clone(),
                shutdown.clone(),
            )));
        }
        if let Some(listener) = tcp {
            handles.push(tokio::spawn(self.clone().run_tcp(listener, sink, shutdown)));
        }
        Ok(handles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_line_ends_are_not_part_of_a_datagram() {
        assert_eq!(trim_message(b"<13>hi\r\n\0"), b"<13>hi");
        assert_eq!(trim_message(b"\n"), b"");
        assert_eq!(trim_message(b"<13>a\nb"), b"<13>a\nb");
    }

    #[test]
    fn config_needs_a_listen_address() {
        let cfg: SyslogSourceConfig =
            serde_json::from_value(serde_json::json!({"name": "fw"})).unwrap();
        let err = cfg.validate().unwrap_err();
        assert!(err.contains("udp"), "{err}");
        let cfg: SyslogSourceConfig = serde_json::from_value(
            serde_json::json!({"name": "fw", "tcp": "127.0.0.1:0", "max_connections": 0}),
        )
        .unwrap();
        let err = cfg.validate().unwrap_err();
        assert!(err.contains("max_connections"), "{err}");
        let err = serde_json::from_value::<SyslogSourceConfig>(
            serde_json::json!({"name": "fw", "tcp": "localhost"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("address"), "{err}");
    }
}
