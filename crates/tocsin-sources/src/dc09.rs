//! An alarm receiver: SIA DC-09 over TCP and UDP, as a monitoring station runs one.
//!
//! Every frame is answered: `ACK` when its events are in the pipeline, `NAK` when it is damaged
//! (CRC, length, framing) or when the pipeline cannot take all its events now (the panel sends
//! it again, so nothing is lost), and `DUH` when it is intact but not understood (unknown token,
//! no key, bad payload, unknown account when those are refused). Damaged and misunderstood
//! frames also go to the dead-letter store with the reason.
//!
//! A repeated sequence number from the same account is a retransmission: it is answered `ACK`
//! again and counted in [`Dc09Source::duplicates`], not ingested twice. `NULL` frames are
//! supervision polls: they make no event and are counted in [`Dc09Source::polls`].
//!
//! Supervision: an account with `supervision_secs` must be heard from (any frame) within that
//! many seconds; when it is not, one `alarm`/`communication_failure` event is raised for it,
//! and one `communication_failure_restore` when it is heard again. Time comes from the
//! [`Sink`]'s clock, so tests drive it with a fake clock and [`Dc09Source::check_supervision`].

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tocsin_model::{DeadLetter, Domain, Event, EventInput, IngestContext, Limits, Severity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

use crate::config::{BuildError, check_name, check_tenant, default_tenant};
use crate::http::ADMIN_SOURCE_NAME;
use crate::sink::log_lost_dead_letter;
use crate::source::{OverloadFlag, status_of};
use crate::{Health, Sink, Source, SourceCounters, SourceInfo, SourceStatus};
use tocsin_parsers::dc09::{self, AesKey, Answer};
use tocsin_parsers::mapping::Mapping;

fn default_domain() -> Domain {
    Domain::Physical
}
fn default_max_frame_bytes() -> usize {
    1024
}
fn default_max_connections() -> usize {
    256
}
fn default_idle_timeout_secs() -> u64 {
    300
}
fn default_check_every_secs() -> u64 {
    10
}
fn default_true() -> bool {
    true
}

/// One panel account, `[sources.accounts.<account>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dc09AccountConfig {
    /// AES key (32, 48 or 64 hex digits) for `*SIA-DCS` / `*ADM-CID` frames of this account.
    /// Prefer `key_env`: a key in the file is a secret in the file.
    #[serde(default)]
    pub key_hex: Option<String>,
    /// Name of an environment variable holding the key in hex, read when the source is built.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Site of the panel, given to its events.
    #[serde(default)]
    pub site: Option<String>,
    /// Zone given to events whose panel zone is not in `zones`.
    #[serde(default)]
    pub zone: Option<String>,
    /// Asset name of the panel; default the account number.
    #[serde(default)]
    pub asset: Option<String>,
    /// Seconds within which the panel must send something; overrides the source's default.
    #[serde(default)]
    pub supervision_secs: Option<u64>,
    /// Panel zone number (as sent, e.g. `"015"`) to zone name.
    #[serde(default)]
    pub zones: BTreeMap<String, String>,
    /// Panel door number to portal name.
    #[serde(default)]
    pub doors: BTreeMap<String, String>,
    /// Panel user number to person (name or employee number).
    #[serde(default)]
    pub users: BTreeMap<String, String>,
}

/// An alarm receiver, `[[sources]]` with `type = "dc09"`.
///
/// ```toml
/// [[sources]]
/// type = "dc09"
/// name = "alarm-receiver"
/// tcp = "0.0.0.0:9000"
/// udp = "0.0.0.0:9000"
/// supervision_secs = 300
///
/// [sources.accounts.1234]
/// key_env = "TOCSIN_PANEL_1234_KEY"
/// site = "dc-frankfurt"
/// zone = "dc-server-room"
/// zones = { "015" = "dc-loading-bay" }
/// doors = { "03" = "DC-SRV-ROOM-A" }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dc09SourceConfig {
    /// Unique name of the source. Letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// The tenant of every event. Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Domain of the events. Default `physical`.
    #[serde(default = "default_domain")]
    pub domain: Domain,
    /// TCP address to listen on; port 0 picks a free one.
    #[serde(default)]
    pub tcp: Option<SocketAddr>,
    /// UDP address to listen on. At least one of `tcp` and `udp` is required.
    #[serde(default)]
    pub udp: Option<SocketAddr>,
    /// Longest frame accepted, LF to CR. Default 1024.
    #[serde(default = "default_max_frame_bytes")]
    pub max_frame_bytes: usize,
    /// Most TCP connections open at once. Default 256.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A TCP connection silent for this many seconds is closed. Default 300.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// Take frames from accounts not listed in `accounts`. Default true; when false they are
    /// answered `DUH` and dead-lettered.
    #[serde(default = "default_true")]
    pub accept_unknown_accounts: bool,
    /// Default supervision interval of listed accounts, in seconds; none by default.
    #[serde(default)]
    pub supervision_secs: Option<u64>,
    /// How often supervision is checked, in seconds. Default 10.
    #[serde(default = "default_check_every_secs")]
    pub check_every_secs: u64,
    /// The panels, by account number (hex, as sent after `#`).
    #[serde(default)]
    pub accounts: BTreeMap<String, Dc09AccountConfig>,
    /// Field mapping applied after the built-in one; optional.
    #[serde(default)]
    pub mapping: Option<Mapping>,
}

impl Dc09SourceConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if self.name == ADMIN_SOURCE_NAME {
            return Err(format!("`name`: {ADMIN_SOURCE_NAME:?} is reserved"));
        }
        check_tenant(&self.tenant)?;
        if self.tcp.is_none() && self.udp.is_none() {
            return Err("set `tcp`, `udp` or both: the address to listen on".to_owned());
        }
        if self.max_frame_bytes < 32 || self.max_frame_bytes > dc09::MAX_FRAME_BYTES {
            return Err(format!(
                "`max_frame_bytes`: must be 32 to {}",
                dc09::MAX_FRAME_BYTES
            ));
        }
        if self.max_connections == 0 {
            return Err("`max_connections`: must be more than 0".to_owned());
        }
        if self.idle_timeout_secs == 0 || self.check_every_secs == 0 {
            return Err("`idle_timeout_secs` and `check_every_secs` must be more than 0".into());
        }
        if self.supervision_secs == Some(0) {
            return Err("`supervision_secs`: must be more than 0".to_owned());
        }
        for (acct, a) in &self.accounts {
            let at = |m: String| format!("`accounts.{acct}`: {m}");
            if acct.len() < 3 || acct.len() > 16 || !acct.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(at("an account is 3 to 16 hex digits".into()));
            }
            if a.key_hex.is_some() && a.key_env.is_some() {
                return Err(at("set `key_hex` or `key_env`, not both".into()));
            }
            if let Some(k) = &a.key_hex {
                AesKey::from_hex(k).map_err(|e| at(format!("`key_hex`: {e}")))?;
            }
            if a.supervision_secs == Some(0) {
                return Err(at("`supervision_secs`: must be more than 0".into()));
            }
        }
        if let Some(m) = &self.mapping {
            m.validate().map_err(|e| format!("`mapping`: {e}"))?;
        }
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Bound {
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
struct AccountState {
    last_seen: DateTime<Utc>,
    last_sequence: Option<u16>,
    failed: bool,
}

/// An alarm receiver.
pub struct Dc09Source {
    info: SourceInfo,
    config: Dc09SourceConfig,
    keys: HashMap<String, AesKey>,
    limits: Limits,
    counters: Arc<SourceCounters>,
    bound: Mutex<Bound>,
    started: AtomicBool,
    failed: Mutex<Option<String>>,
    overload: OverloadFlag,
    connections: Arc<Semaphore>,
    refused_connections: AtomicU64,
    duplicates: AtomicU64,
    polls: AtomicU64,
    supervision_events: AtomicU64,
    accounts: Mutex<HashMap<String, AccountState>>,
    pad_seed: AtomicU64,
}

impl std::fmt::Debug for Dc09Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dc09Source")
            .field("info", &self.info)
            .field("tcp", &self.config.tcp)
            .field("udp", &self.config.udp)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Dc09Source {
    /// Builds the receiver; `key_env` variables are read here.
    pub fn from_config(cfg: &Dc09SourceConfig) -> Result<Self, BuildError> {
        let invalid = |reason: String| BuildError::Invalid {
            name: cfg.name.clone(),
            reason,
        };
        cfg.validate().map_err(invalid)?;
        let mut keys = HashMap::new();
        for (acct, a) in &cfg.accounts {
            let hex_key = match (&a.key_hex, &a.key_env) {
                (Some(k), _) => Some(k.clone()),
                (None, Some(var)) => Some(
                    std::env::var(var)
                        .ok()
                        .filter(|v| !v.trim().is_empty())
                        .ok_or_else(|| BuildError::TokenEnv {
                            name: cfg.name.clone(),
                            var: var.clone(),
                        })?,
                ),
                (None, None) => None,
            };
            if let Some(k) = hex_key {
                let key = AesKey::from_hex(&k)
                    .map_err(|e| invalid(format!("`accounts.{acct}`: key: {e}")))?;
                keys.insert(acct.to_ascii_uppercase(), key);
            }
        }
        Ok(Self {
            info: SourceInfo {
                name: cfg.name.clone(),
                kind: "dc09",
                domain: cfg.domain,
                tenant: cfg.tenant.clone(),
            },
            config: cfg.clone(),
            keys,
            limits: Limits::default(),
            counters: Arc::default(),
            bound: Mutex::default(),
            started: AtomicBool::new(false),
            failed: Mutex::default(),
            overload: OverloadFlag::default(),
            connections: Arc::new(Semaphore::new(cfg.max_connections)),
            refused_connections: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            supervision_events: AtomicU64::new(0),
            accounts: Mutex::default(),
            pad_seed: AtomicU64::new(0x5EED),
        })
    }

    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.bound().tcp
    }

    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.bound().udp
    }

    /// Retransmitted frames answered again but not ingested twice.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// `NULL` supervision polls received.
    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// Communication-failure and restore events raised by supervision.
    pub fn supervision_events(&self) -> u64 {
        self.supervision_events.load(Ordering::Relaxed)
    }

    /// TCP connections closed at once because `max_connections` were open.
    pub fn refused_connections(&self) -> u64 {
        self.refused_connections.load(Ordering::Relaxed)
    }

    /// Accounts currently in communication failure.
    pub fn failed_accounts(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .lock_accounts()
            .iter()
            .filter(|(_, s)| s.failed)
            .map(|(a, _)| a.clone())
            .collect();
        v.sort();
        v
    }

    fn bound(&self) -> Bound {
        *self.bound.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_accounts(&self) -> std::sync::MutexGuard<'_, HashMap<String, AccountState>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn account(&self, acct: &str) -> Option<&Dc09AccountConfig> {
        self.config
            .accounts
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(acct))
            .map(|(_, v)| v)
    }

    fn supervision_of(&self, acct: &str) -> Option<u64> {
        let a = self.account(acct)?;
        a.supervision_secs.or(self.config.supervision_secs)
    }

    fn next_seed(&self) -> u64 {
        self.pad_seed.fetch_add(0x9E37_79B9, Ordering::Relaxed)
    }

    /// Handles one frame and returns the answer to send back.
    pub fn handle_frame(&self, raw: &[u8], sink: &Sink) -> Vec<u8> {
        let now = sink.now();
        let keys = &self.keys;
        let key_for = |acct: &str| keys.get(&acct.to_ascii_uppercase()).cloned();
        let msg = match dc09::parse(raw, &key_for) {
            Ok(m) => m,
            Err(e) => {
                self.counters.add_received(1);
                self.reject(raw, e.to_string(), sink);
                return match (e.answer(), dc09::header_of(raw)) {
                    (Answer::Duh, Some(h)) => dc09::duh(&h),
                    _ => dc09::nak(now),
                };
            }
        };
        let h = &msg.header;
        let duh = |this: &Self, reason: String| {
            this.counters.add_received(1);
            this.reject(raw, reason, sink);
            dc09::duh(h)
        };
        if matches!(h.token.as_str(), "ACK" | "NAK" | "DUH") {
            return duh(
                self,
                format!("dc09: a receiver does not take {:?} frames", h.token),
            );
        }
        let known = self.account(&h.account).is_some();
        if !known && !self.config.accept_unknown_accounts {
            return duh(
                self,
                format!("dc09: account {:?} is not configured", h.account),
            );
        }
        let events = match dc09::panel_events(&msg) {
            Ok(ev) => ev,
            Err(e) => return duh(self, e.to_string()),
        };
        let key = key_for(&h.account);
        let ack = || dc09::ack(h, now, key.as_ref(), self.next_seed());
        // Any frame counts as a sign of life, even a repeat.
        let (restored, duplicate) = self.heard_from(&h.account, h.sequence, now);
        if let Some(e) = restored {
            self.raise(e, sink);
        }
        if events.is_empty() {
            self.polls.fetch_add(1, Ordering::Relaxed);
            return ack();
        }
        if duplicate {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return ack();
        }
        let n = events.len() as u64;
        self.counters.add_received(n);
        let mut built = Vec::with_capacity(events.len());
        for pe in &events {
            let input = dc09::to_input(&msg, pe, now);
            match self.to_event(input, h.account.as_str(), pe, now) {
                Ok(e) => built.push(e),
                Err(reason) => self.reject(raw, reason, sink),
            }
        }
        // All of the frame's events or none: a NAK makes the panel send the whole frame again.
        let Some(permits) = sink.try_reserve_many(built.len()) else {
            self.counters.add_dropped(built.len() as u64);
            if self.overload.set() {
                tracing::warn!(source = %self.info.name, "pipeline full: answering NAK");
            }
            self.forget_sequence(&h.account);
            return dc09::nak(now);
        };
        self.counters.add_accepted(built.len() as u64);
        for (permit, e) in permits.into_iter().zip(built) {
            permit.send(e);
        }
        if self.overload.clear() {
            tracing::info!(source = %self.info.name, "pipeline has room again");
        }
        ack()
    }

    fn to_event(
        &self,
        mut input: EventInput,
        account: &str,
        pe: &tocsin_parsers::sia::PanelEvent,
        now: DateTime<Utc>,
    ) -> Result<Event, String> {
        if let Some(a) = self.account(account) {
            input.site.clone_from(&a.site);
            input.zone = pe
                .zone
                .as_ref()
                .and_then(|z| a.zones.get(z))
                .or(a.zone.as_ref())
                .cloned();
            if let Some(p) = pe.door.as_ref().and_then(|d| a.doors.get(d)) {
                input.portal = Some(p.clone());
            }
            if let Some(p) = pe.user.as_ref().and_then(|u| a.users.get(u)) {
                input.person = Some(p.clone());
            }
            if let Some(asset) = &a.asset {
                input.asset = Some(asset.clone());
            }
        }
        if let Some(m) = &self.config.mapping {
            input = m.apply_to(input).map_err(|e| e.to_string())?;
        }
        self.finish(input, now)
    }

    fn finish(&self, input: EventInput, now: DateTime<Utc>) -> Result<Event, String> {
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

    /// Records a frame from an account; returns a restore event if it was in failure, and
    /// whether the sequence repeats the last one.
    fn heard_from(
        &self,
        account: &str,
        sequence: u16,
        now: DateTime<Utc>,
    ) -> (Option<Event>, bool) {
        let mut accounts = self.lock_accounts();
        let key = account.to_ascii_uppercase();
        let st = accounts.entry(key).or_insert(AccountState {
            last_seen: now,
            last_sequence: None,
            failed: false,
        });
        st.last_seen = now;
        // Sequence 0 is what panels without numbering send: never a repeat.
        let duplicate = sequence != 0 && st.last_sequence == Some(sequence);
        st.last_sequence = Some(sequence);
        let restored = std::mem::take(&mut st.failed);
        drop(accounts);
        let restore = restored
            .then(|| self.supervision_event(account, now, true, None))
            .flatten();
        (restore, duplicate)
    }

    fn forget_sequence(&self, account: &str) {
        if let Some(st) = self.lock_accounts().get_mut(&account.to_ascii_uppercase()) {
            st.last_sequence = None;
        }
    }

    fn supervision_event(
        &self,
        account: &str,
        now: DateTime<Utc>,
        restore: bool,
        silent_secs: Option<i64>,
    ) -> Option<Event> {
        let a = self.account(account).cloned().unwrap_or_default();
        let mut fields = serde_json::Map::new();
        fields.insert("account".into(), Value::from(account));
        fields.insert("restore".into(), Value::from(restore));
        if let Some(s) = silent_secs {
            fields.insert("silent_secs".into(), Value::from(s));
        }
        if let Some(s) = self.supervision_of(account) {
            fields.insert("supervision_secs".into(), Value::from(s));
        }
        let input = EventInput {
            time: Some(now),
            domain: Some("physical".into()),
            class: Some("alarm".into()),
            activity: Some(
                if restore {
                    "communication_failure_restore"
                } else {
                    "communication_failure"
                }
                .into(),
            ),
            severity: Some(if restore {
                Severity::LOW
            } else {
                Severity::HIGH
            }),
            asset: Some(a.asset.clone().unwrap_or_else(|| account.to_owned())),
            site: a.site.clone(),
            zone: a.zone.clone(),
            message: Some(if restore {
                format!("alarm panel account {account} is reporting again")
            } else {
                format!(
                    "no supervision from alarm panel account {account} for {} s",
                    silent_secs.unwrap_or_default()
                )
            }),
            fields,
            ..EventInput::default()
        };
        match self.finish(input, now) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(source = %self.info.name, "supervision event refused: {e}");
                None
            }
        }
    }

    fn raise(&self, e: Event, sink: &Sink) {
        self.supervision_events.fetch_add(1, Ordering::Relaxed);
        if sink.try_send(e).is_err() {
            tracing::error!(source = %self.info.name, "pipeline full: supervision event lost");
        }
    }

    /// Raises a communication failure for every supervised account not heard from in time;
    /// returns how many were raised. Called by the run loop every `check_every_secs`.
    pub fn check_supervision(&self, sink: &Sink) -> usize {
        let now = sink.now();
        let mut due = Vec::new();
        {
            let mut accounts = self.lock_accounts();
            for acct in self.config.accounts.keys() {
                let Some(secs) = self.supervision_of(acct) else {
                    continue;
                };
                let st = accounts
                    .entry(acct.to_ascii_uppercase())
                    .or_insert(AccountState {
                        last_seen: now,
                        last_sequence: None,
                        failed: false,
                    });
                let silent = (now - st.last_seen).num_seconds();
                if !st.failed && silent > i64::try_from(secs).unwrap_or(i64::MAX) {
                    st.failed = true;
                    due.push((acct.clone(), silent));
                }
            }
        }
        for (acct, silent) in &due {
            if let Some(e) = self.supervision_event(acct, now, false, Some(*silent)) {
                self.raise(e, sink);
            }
        }
        due.len()
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

    fn fail(&self, reason: String) {
        tracing::error!(source = %self.info.name, "{reason}");
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }

    async fn run_udp(self: Arc<Self>, socket: UdpSocket, sink: Sink, shutdown: CancellationToken) {
        let max = self.config.max_frame_bytes;
        let mut buf = vec![0u8; max + 1];
        loop {
            let received = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                r = socket.recv_from(&mut buf) => r,
            };
            match received {
                Ok((n, peer)) => {
                    let frame = buf.get(..n).unwrap_or_default();
                    let answer = if n > max {
                        self.counters.add_received(1);
                        self.reject(
                            frame.get(..max).unwrap_or(frame),
                            format!("dc09: frame is longer than the limit of {max} bytes"),
                            &sink,
                        );
                        dc09::nak(sink.now())
                    } else {
                        self.handle_frame(frame, &sink)
                    };
                    if let Err(e) = socket.send_to(&answer, peer).await {
                        tracing::debug!(source = %self.info.name, "udp answer to {peer}: {e}");
                    }
                }
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
                        tracing::warn!(source = %self.info.name, %peer, "connection refused: `max_connections` open");
                        drop(stream);
                    }
                },
                Err(e) => {
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
        mut stream: TcpStream,
        _permit: OwnedSemaphorePermit,
        sink: Sink,
        shutdown: CancellationToken,
    ) {
        let idle = Duration::from_secs(self.config.idle_timeout_secs);
        let max = self.config.max_frame_bytes;
        let mut pending: Vec<u8> = Vec::with_capacity(max);
        let mut skipping = false;
        let mut chunk = [0u8; 2048];
        loop {
            let read = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                r = tokio::time::timeout(idle, stream.read(&mut chunk)) => r,
            };
            let n = match read {
                Err(_) | Ok(Ok(0)) => return,
                Ok(Err(e)) => {
                    tracing::debug!(source = %self.info.name, "tcp read: {e}");
                    return;
                }
                Ok(Ok(n)) => n,
            };
            let mut answers = Vec::new();
            for &b in chunk.get(..n).unwrap_or_default() {
                if skipping {
                    skipping = b != b'\r';
                    continue;
                }
                pending.push(b);
                if b == b'\r' {
                    let start = pending.iter().position(|&c| c == b'\n');
                    let frame = start.and_then(|s| pending.get(s..)).unwrap_or(&pending);
                    if frame.iter().any(|c| !c.is_ascii_whitespace()) {
                        answers.push(self.handle_frame(frame, &sink));
                    }
                    pending.clear();
                } else if pending.len() > max {
                    self.counters.add_received(1);
                    self.reject(
                        &pending,
                        format!("dc09: frame is longer than the limit of {max} bytes"),
                        &sink,
                    );
                    answers.push(dc09::nak(sink.now()));
                    pending.clear();
                    skipping = true;
                }
            }
            for a in answers {
                if stream.write_all(&a).await.is_err() {
                    return;
                }
            }
        }
    }

    async fn run_supervision(self: Arc<Self>, sink: Sink, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_secs(self.config.check_every_secs));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                _ = every.tick() => { self.check_supervision(&sink); }
            }
        }
    }
}

#[async_trait]
impl Source for Dc09Source {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn counters(&self) -> &Arc<SourceCounters> {
        &self.counters
    }

    fn status(&self) -> SourceStatus {
        let bound = self.bound();
        let addrs = bound
            .tcp
            .map(|a| format!("tcp://{a}"))
            .into_iter()
            .chain(bound.udp.map(|a| format!("udp://{a}")))
            .collect();
        let silent = self.failed_accounts();
        let health = match crate::source::listener_health(
            &self.failed,
            &self.started,
            &self.overload,
            "answering NAK",
        ) {
            Health::Healthy if !silent.is_empty() => Health::Degraded {
                reason: format!("no supervision from account(s) {}", silent.join(", ")),
            },
            other => other,
        };
        status_of(&self.info, &self.counters, addrs, health)
    }

    async fn start(
        self: Arc<Self>,
        sink: Sink,
        shutdown: CancellationToken,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        crate::source::mark_started(&self.started, &self.info)?;
        let bind =
            async {
                let tcp =
                    match self.config.tcp {
                        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                            std::io::Error::new(e.kind(), format!("tcp {addr}: {e}"))
                        })?),
                        None => None,
                    };
                let udp =
                    match self.config.udp {
                        Some(addr) => Some(UdpSocket::bind(addr).await.map_err(|e| {
                            std::io::Error::new(e.kind(), format!("udp {addr}: {e}"))
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
        // Supervision runs from now: a panel that never reports fails after its interval.
        self.check_supervision(&sink);
        tracing::info!(source = %self.info.name, udp = ?bound.udp, tcp = ?bound.tcp, "dc09 receiver listening");
        let mut handles = Vec::new();
        if let Some(socket) = udp {
            handles.push(tokio::spawn(self.clone().run_udp(
                socket,
                sink.clone(),
                shutdown.clone(),
            )));
        }
        if let Some(listener) = tcp {
            handles.push(tokio::spawn(self.clone().run_tcp(
                listener,
                sink.clone(),
                shutdown.clone(),
            )));
        }
        handles.push(tokio::spawn(self.run_supervision(sink, shutdown)));
        Ok(handles)
    }
}
