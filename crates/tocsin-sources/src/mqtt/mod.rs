//! MQTT: subscriptions on a broker (QoS 0 or 1), JSON payloads turned into events by a preset
//! ([`presets`]), a declarative mapping, or read as Tocsin's own JSON form.
//!
//! The session is persistent by default (`clean_session = false` with a fixed client id), so
//! QoS 1 messages published while Tocsin was away are delivered when it reconnects. A lost
//! connection is retried with exponential back-off between `reconnect_min_ms` and
//! `reconnect_max_ms`. The loop never waits on the pipeline: a message it cannot queue is
//! counted as dropped.

pub mod presets;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use serde::Deserialize;
use serde_json::{Map, Value};
use tocsin_model::{DeadLetter, Domain, Event, EventInput, IngestContext, Limits};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

pub use presets::{FrigateTracks, MqttPreset, Thresholds};

use crate::config::{BuildError, check_name, check_tenant, default_tenant};
use crate::http::ADMIN_SOURCE_NAME;
use crate::sink::log_lost_dead_letter;
use crate::source::{OverloadFlag, status_of};
use crate::{Health, Sink, Source, SourceCounters, SourceInfo, SourceStatus};
use tocsin_parsers::mapping::Mapping;

fn default_domain() -> Domain {
    Domain::Physical
}
fn default_host() -> String {
    "127.0.0.1".to_owned()
}
fn default_port() -> u16 {
    1883
}
fn default_qos() -> u8 {
    1
}
fn default_keep_alive_secs() -> u64 {
    30
}
fn default_reconnect_min_ms() -> u64 {
    500
}
fn default_reconnect_max_ms() -> u64 {
    30_000
}
fn default_max_payload_bytes() -> usize {
    256 * 1024
}
fn default_max_tracks() -> usize {
    4096
}

/// One subscription, `[[sources.subscriptions]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSubscription {
    /// Topic filter, wildcards `+` and `#` allowed.
    pub topic: String,
    /// 0 or 1. Default 1.
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// A ready-made reading: `door_contact`, `motion`, `tamper`, `environment`, `frigate`.
    #[serde(default)]
    pub preset: Option<MqttPreset>,
    /// A field mapping from the JSON payload (plus `mqtt_topic`); used instead of a preset.
    /// With neither, payloads are events in Tocsin's own JSON form.
    #[serde(default)]
    pub mapping: Option<Mapping>,
    /// Site given to the events when they name none.
    #[serde(default)]
    pub site: Option<String>,
    /// Zone given to the events when they name none.
    #[serde(default)]
    pub zone: Option<String>,
    /// `environment` preset: above this temperature (°C) a reading is an alarm. Default 32.
    #[serde(default)]
    pub max_temperature: Option<f64>,
    /// `environment` preset: above this relative humidity (%) a reading is an alarm. Default 80.
    #[serde(default)]
    pub max_humidity: Option<f64>,
}

/// An MQTT subscriber, `[[sources]]` with `type = "mqtt"`.
///
/// ```toml
/// [[sources]]
/// type = "mqtt"
/// name = "site-sensors"
/// host = "127.0.0.1"
/// port = 1883
///
/// [[sources.subscriptions]]
/// topic = "zigbee2mqtt/doors/+"
/// preset = "door_contact"
/// site = "dc-frankfurt"
///
/// [[sources.subscriptions]]
/// topic = "frigate/events"
/// preset = "frigate"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSourceConfig {
    /// Unique name of the source. Letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// The tenant of every event. Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Domain of the events unless the payload names one. Default `physical`.
    #[serde(default = "default_domain")]
    pub domain: Domain,
    /// Broker host name or address. Default `127.0.0.1`.
    #[serde(default = "default_host")]
    pub host: String,
    /// Broker port. Default 1883.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Client id; the broker keeps the session under it. Default `tocsin-<name>`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// User name, when the broker wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the password, read when the source is built.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Start a fresh session on every connection (messages sent while away are lost).
    /// Default false: a persistent session.
    #[serde(default)]
    pub clean_session: bool,
    /// Keep-alive interval in seconds. Default 30.
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: u64,
    /// First wait before reconnecting, in milliseconds; doubles up to `reconnect_max_ms`.
    /// Default 500.
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// Longest wait before reconnecting, in milliseconds. Default 30000.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// Largest payload accepted; larger ones are dead-lettered (cut). Default 262144.
    #[serde(default = "default_max_payload_bytes")]
    pub max_payload_bytes: usize,
    /// Most Frigate object tracks open at once. Default 4096.
    #[serde(default = "default_max_tracks")]
    pub max_tracks: usize,
    /// What to subscribe to; at least one.
    pub subscriptions: Vec<MqttSubscription>,
}

impl MqttSourceConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if self.name == ADMIN_SOURCE_NAME {
            return Err(format!("`name`: {ADMIN_SOURCE_NAME:?} is reserved"));
        }
        check_tenant(&self.tenant)?;
        if self.host.trim().is_empty() {
            return Err("`host`: must not be empty".to_owned());
        }
        if self.subscriptions.is_empty() {
            return Err("`subscriptions`: at least one is needed".to_owned());
        }
        if self.keep_alive_secs < 5 {
            return Err("`keep_alive_secs`: at least 5".to_owned());
        }
        if self.reconnect_min_ms == 0 || self.reconnect_max_ms < self.reconnect_min_ms {
            return Err(
                "`reconnect_min_ms` must be more than 0 and at most `reconnect_max_ms`".into(),
            );
        }
        if self.max_payload_bytes == 0 || self.max_tracks == 0 {
            return Err("`max_payload_bytes` and `max_tracks` must be more than 0".to_owned());
        }
        for (i, s) in self.subscriptions.iter().enumerate() {
            let at = |m: &str| format!("`subscriptions[{i}]`: {m}");
            if s.topic.is_empty() || !valid_filter(&s.topic) {
                return Err(at(&format!(
                    "`topic` {:?} is not a valid topic filter",
                    s.topic
                )));
            }
            if s.qos > 1 {
                return Err(at("`qos`: 0 or 1"));
            }
            if s.preset.is_some() && s.mapping.is_some() {
                return Err(at("set `preset` or `mapping`, not both"));
            }
            if let Some(m) = &s.mapping {
                m.validate().map_err(|e| at(&format!("`mapping`: {e}")))?;
            }
        }
        Ok(())
    }
}

fn valid_filter(f: &str) -> bool {
    let levels: Vec<&str> = f.split('/').collect();
    levels.iter().enumerate().all(|(i, l)| match *l {
        "#" => i + 1 == levels.len(),
        "+" => true,
        other => !other.contains(['#', '+']),
    })
}

/// Whether a topic matches a filter (`+` one level, `#` the rest).
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut t = topic.split('/');
    for f in filter.split('/') {
        match f {
            "#" => return !topic.starts_with('$') || !filter.starts_with('#'),
            "+" => {
                if t.next().is_none() {
                    return false;
                }
            }
            lit => {
                if t.next() != Some(lit) {
                    return false;
                }
            }
        }
    }
    t.next().is_none()
}

/// An MQTT subscriber.
pub struct MqttSource {
    info: SourceInfo,
    config: MqttSourceConfig,
    password: Option<String>,
    limits: Limits,
    counters: Arc<SourceCounters>,
    started: AtomicBool,
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
    overload: OverloadFlag,
    tracks: Mutex<FrigateTracks>,
    merged: AtomicU64,
    connections: AtomicU64,
}

impl std::fmt::Debug for MqttSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSource")
            .field("info", &self.info)
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .finish_non_exhaustive()
    }
}

impl MqttSource {
    pub fn from_config(cfg: &MqttSourceConfig) -> Result<Self, BuildError> {
        cfg.validate().map_err(|reason| BuildError::Invalid {
            name: cfg.name.clone(),
            reason,
        })?;
        let password = match &cfg.password_env {
            Some(var) => Some(
                std::env::var(var)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| BuildError::TokenEnv {
                        name: cfg.name.clone(),
                        var: var.clone(),
                    })?,
            ),
            None => None,
        };
        Ok(Self {
            info: SourceInfo {
                name: cfg.name.clone(),
                kind: "mqtt",
                domain: cfg.domain,
                tenant: cfg.tenant.clone(),
            },
            config: cfg.clone(),
            password,
            limits: Limits::default(),
            counters: Arc::default(),
            started: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            last_error: Mutex::default(),
            overload: OverloadFlag::default(),
            tracks: Mutex::new(FrigateTracks::new(cfg.max_tracks)),
            merged: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        })
    }

    /// Whether the broker connection is up now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Successful connections (ConnAck) so far: more than one means it reconnected.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Frigate `new`/`update` messages folded into a track, not yet an event.
    pub fn merged(&self) -> u64 {
        self.merged.load(Ordering::Relaxed)
    }

    fn client_id(&self) -> String {
        self.config
            .client_id
            .clone()
            .unwrap_or_else(|| format!("tocsin-{}", self.config.name))
    }

    /// Takes one published message: events, a dead letter, or counted drops.
    pub fn handle_publish(&self, topic: &str, payload: &[u8], sink: &Sink) {
        let now = sink.now();
        let Some(sub) = self
            .config
            .subscriptions
            .iter()
            .find(|s| topic_matches(&s.topic, topic))
        else {
            // Retained or in-flight messages of a subscription no longer configured.
            tracing::debug!(source = %self.info.name, topic, "message on an unsubscribed topic");
            return;
        };
        let max = self.config.max_payload_bytes;
        if payload.len() > max {
            self.counters.add_received(1);
            self.reject(
                payload,
                format!(
                    "mqtt {topic}: payload is {} bytes, more than the limit of {max}",
                    payload.len()
                ),
                sink,
            );
            return;
        }
        let record = match serde_json::from_slice::<Value>(payload) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                self.counters.add_received(1);
                self.reject(
                    payload,
                    format!("mqtt {topic}: payload is not a JSON object"),
                    sink,
                );
                return;
            }
            Err(e) => {
                self.counters.add_received(1);
                self.reject(payload, format!("mqtt {topic}: invalid JSON: {e}"), sink);
                return;
            }
        };
        let inputs = match self.to_inputs(sub, topic, record, now) {
            Ok(v) => v,
            Err(reason) => {
                self.counters.add_received(1);
                self.reject(payload, format!("mqtt {topic}: {reason}"), sink);
                return;
            }
        };
        if inputs.is_empty() {
            self.merged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        for mut input in inputs {
            self.counters.add_received(1);
            if input.site.is_none() {
                input.site.clone_from(&sub.site);
            }
            if input.zone.is_none() {
                input.zone.clone_from(&sub.zone);
            }
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
            match Event::from_input(input, &ctx) {
                Ok(e) => match sink.try_send(e) {
                    Ok(()) => {
                        self.counters.add_accepted(1);
                        if self.overload.clear() {
                            tracing::info!(source = %self.info.name, "pipeline has room again");
                        }
                    }
                    Err(_) => {
                        self.counters.add_dropped(1);
                        if self.overload.set() {
                            tracing::warn!(source = %self.info.name, "pipeline full: dropping MQTT messages");
                        }
                    }
                },
                Err(e) => self.reject(payload, format!("mqtt {topic}: {e}"), sink),
            }
        }
    }

    fn to_inputs(
        &self,
        sub: &MqttSubscription,
        topic: &str,
        mut record: Map<String, Value>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<EventInput>, String> {
        match (sub.preset, &sub.mapping) {
            (Some(MqttPreset::Frigate), _) => self
                .tracks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .handle(&record, now),
            (Some(p), _) => {
                let defaults = Thresholds::default();
                let t = Thresholds {
                    max_temperature: sub.max_temperature.unwrap_or(defaults.max_temperature),
                    max_humidity: sub.max_humidity.unwrap_or(defaults.max_humidity),
                };
                let mut input = presets::sensor(p, topic, record, t, now)?;
                input.fields.insert("mqtt_topic".into(), Value::from(topic));
                Ok(vec![input])
            }
            (None, Some(m)) => {
                record.insert("mqtt_topic".into(), Value::from(topic));
                m.apply(record).map(|i| vec![i]).map_err(|e| e.to_string())
            }
            (None, None) => {
                let input: EventInput = serde_json::from_value(Value::Object(record))
                    .map_err(|e| format!("not an event in Tocsin's form: {e}"))?;
                Ok(vec![input])
            }
        }
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

    fn subscribe_all(&self, client: &AsyncClient) {
        for s in &self.config.subscriptions {
            let qos = if s.qos == 0 {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            };
            if let Err(e) = client.try_subscribe(s.topic.clone(), qos) {
                tracing::warn!(source = %self.info.name, topic = %s.topic, "subscribe: {e}");
            }
        }
    }

    async fn run(self: Arc<Self>, sink: Sink, shutdown: CancellationToken) {
        let mut opts =
            MqttOptions::new(self.client_id(), self.config.host.clone(), self.config.port);
        opts.set_keep_alive(Duration::from_secs(self.config.keep_alive_secs));
        opts.set_clean_session(self.config.clean_session);
        opts.set_max_packet_size(self.config.max_payload_bytes + 1024, 64 * 1024);
        if let Some(user) = &self.config.username {
            opts.set_credentials(user.clone(), self.password.clone().unwrap_or_default());
        }
        let (client, mut eventloop) = AsyncClient::new(opts, 64);
        let min = Duration::from_millis(self.config.reconnect_min_ms);
        let max = Duration::from_millis(self.config.reconnect_max_ms);
        let mut backoff = min;
        loop {
            let polled = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                p = eventloop.poll() => p,
            };
            match polled {
                Ok(MqttEvent::Incoming(Packet::ConnAck(ack))) => {
                    backoff = min;
                    self.connected.store(true, Ordering::Relaxed);
                    self.connections.fetch_add(1, Ordering::Relaxed);
                    *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    tracing::info!(source = %self.info.name, session_present = ack.session_present, "mqtt connected");
                    // Subscribing again is harmless when the broker kept the session, and
                    // needed when it did not.
                    self.subscribe_all(&client);
                }
                Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                    self.handle_publish(&p.topic, &p.payload, &sink);
                }
                Ok(_) => {}
                Err(e) => {
                    self.connected.store(false, Ordering::Relaxed);
                    let reason = format!("broker {}:{}: {e}", self.config.host, self.config.port);
                    tracing::warn!(source = %self.info.name, "{reason}; retrying in {backoff:?}");
                    *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(max);
                }
            }
        }
        let _ = client.try_disconnect();
        self.connected.store(false, Ordering::Relaxed);
    }
}

#[async_trait]
impl Source for MqttSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn counters(&self) -> &Arc<SourceCounters> {
        &self.counters
    }

    fn status(&self) -> SourceStatus {
        let error = self
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let health = if !self.started.load(Ordering::Relaxed) {
            Health::Starting
        } else if self.overload.is_set() {
            Health::Degraded {
                reason: "pipeline full: dropping messages".to_owned(),
            }
        } else if self.is_connected() {
            Health::Healthy
        } else if let Some(reason) = error {
            Health::Degraded {
                reason: format!("not connected: {reason}"),
            }
        } else {
            Health::Starting
        };
        let addr = format!("mqtt://{}:{}", self.config.host, self.config.port);
        status_of(&self.info, &self.counters, vec![addr], health)
    }

    /// Nothing to bind: the connection is made by the run loop, which retries until shutdown.
    async fn start(
        self: Arc<Self>,
        sink: Sink,
        shutdown: CancellationToken,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        crate::source::mark_started(&self.started, &self.info)?;
        Ok(vec![tokio::spawn(self.run(sink, shutdown))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_filters() {
        assert!(topic_matches("a/+/c", "a/b/c"));
        assert!(!topic_matches("a/+/c", "a/b/d"));
        assert!(topic_matches("a/#", "a/b/c"));
        assert!(topic_matches("a/#", "a"));
        assert!(!topic_matches("a/b", "a/b/c"));
        assert!(!topic_matches("#", "$SYS/x"));
        assert!(valid_filter("a/+/#"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a/b+"));
    }
}
