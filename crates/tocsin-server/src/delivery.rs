//! Durable notification delivery: planning a new alert into the outbox, and the workers that
//! send what is due.
//!
//! When the alert writer has persisted and grouped a new alert, [`Notifier::enqueue`] asks
//! `tocsin-routing` for its plan (silences from the store, inhibition against the open alerts,
//! quiet hours, on-call rotations from the organisation) and writes every notification of every
//! step, with its due time, to the outbox in one store call; suppressed ones are written as
//! `suppressed` with the reason. Repeats of an alert never plan again.
//!
//! [`Notifier::run_worker`] claims due rows, re-checks silences and inhibition at send time,
//! renders the alert for the audience's visibility (never more than its channels may show),
//! sends it through the audience's channels in failover order (each with its rate limit and
//! allowed destination) with the row id as idempotency key, and records the outcome inside
//! [`Store::deliver`]'s fence, so that no row is sent after an acknowledgement committed.
//! Failures are retried with exponential back-off and jitter up to `max_attempts`, then the row
//! is `dead`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{Value, json};
use tocsin_api::Metrics;
use tocsin_model::{Alert, AlertStatus, Clock};
use tocsin_notify::{ChannelGroup, Message, Notifier as Channel, Visibility};
use tocsin_org::OrgHandle;
use tocsin_routing::{Routes, Silence};
use tocsin_store::{
    AlertQuery, Delivered, Delivery, DeliveryQuery, DeliveryResult, DeliveryStatus, Store,
    StoreError, StoredSilence,
};
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

use crate::config::{NotifyConfig, NotifySetup};

/// Rows one worker claims at a time.
const CLAIM_BATCH: u32 = 4;

/// Most open alerts read to judge inhibition.
const MAX_ACTIVE_ALERTS: u32 = 1000;

/// Routing, channels and delivery settings, shared by the alert writer and the workers.
pub struct Notifier {
    cfg: NotifyConfig,
    routes: Arc<Routes>,
    setup: NotifySetup,
    channels: HashMap<String, Arc<dyn Channel>>,
    org: Arc<OrgHandle>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("channels", &self.channels.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The visibility level named `s`; an unknown name is taken as the most restrictive.
fn visibility(s: &str) -> Visibility {
    serde_json::from_value(Value::String(s.to_owned())).unwrap_or(Visibility::Public)
}

fn seconds(d: Duration) -> f64 {
    d.num_microseconds()
        .map_or(0.0, |us| us as f64 / 1e6)
        .max(0.0)
}

/// The names, accounts, badges and e-mail addresses of the people the alert's entities name by
/// id, for redaction: an alert may carry only `person_id` while its title gives the name.
pub fn people_of(alert: &Alert, org: &tocsin_org::Org) -> Vec<String> {
    fn walk(v: &Value, org: &tocsin_org::Org, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(p) = org.person(s) {
                    out.push(p.name.clone());
                    out.extend(p.accounts.iter().cloned());
                    out.extend(p.badges.iter().cloned());
                    out.extend(p.email.iter().cloned());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, org, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, org, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for v in alert.entities.values() {
        walk(v, org, &mut out);
    }
    out
}

/// A stored silence as routing knows it; `None` when its matcher no longer parses.
pub fn silence_of(s: &StoredSilence) -> Option<Silence> {
    Some(Silence {
        id: s.id.clone(),
        matcher: serde_json::from_value(s.matchers.clone()).ok()?,
        starts: s.starts,
        expires: s.ends,
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
    })
}

impl Notifier {
    /// Builds every channel of `setup` (secrets from the environment, rate limits on `clock`).
    pub fn new(
        cfg: NotifyConfig,
        setup: NotifySetup,
        org: Arc<OrgHandle>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, tocsin_notify::BuildError> {
        let mut channels = HashMap::new();
        for c in &setup.channels.channels {
            channels.insert(c.name().to_owned(), tocsin_notify::build(c, clock.clone())?);
        }
        Ok(Self {
            cfg,
            routes: Arc::new(setup.routes.clone()),
            setup,
            channels,
            org,
            clock,
            metrics,
            wake: tokio::sync::Notify::new(),
        })
    }

    /// The routing tree in force.
    pub fn routes(&self) -> Arc<Routes> {
        self.routes.clone()
    }

    /// The channel names of every configured channel.
    pub fn channel_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.channels.keys().cloned().collect();
        v.sort();
        v
    }

    async fn silences(&self, store: &dyn Store, tenant: &str, at: DateTime<Utc>) -> Vec<Silence> {
        match store.list_silences(tenant, at).await {
            Ok(list) => list.iter().filter_map(silence_of).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "silences could not be read; none applied");
                Vec::new()
            }
        }
    }

    async fn active(&self, store: &dyn Store, alert: &Alert) -> Vec<Alert> {
        if self.routes.inhibit.is_empty() {
            return Vec::new();
        }
        let mut q = AlertQuery::new(alert.tenant.clone());
        q.status = Some(AlertStatus::Open);
        q.limit = MAX_ACTIVE_ALERTS;
        match store.query_alerts(&q).await {
            Ok(page) => page.items,
            Err(e) => {
                tracing::warn!(error = %e, "open alerts could not be read; no inhibition");
                Vec::new()
            }
        }
    }

    /// The level a message to `audience_visibility` through `channels` is rendered at: the most
    /// restrictive of the audience's and its channels'.
    fn level(&self, audience_visibility: Visibility, channels: &[String]) -> Visibility {
        channels
            .iter()
            .filter_map(|c| self.channels.get(c))
            .map(|c| c.visibility())
            .fold(audience_visibility, Visibility::max)
    }

    /// The outbox rows of `alert`'s plan at `now`.
    pub fn rows(
        &self,
        alert: &Alert,
        incident: Option<Ulid>,
        plan: &tocsin_routing::Plan,
        now: DateTime<Utc>,
    ) -> Vec<Delivery> {
        let people = people_of(alert, &self.org.current());
        plan.notifications
            .iter()
            .map(|n| {
                let channels = self.setup.channels.channels_for(&n.audience);
                let level = self.level(n.visibility, &channels);
                let id = Ulid::new().to_string();
                let payload = serde_json::to_value(
                    Message::from_alert_hiding(alert, level, false, &people)
                        .with_delivery_id(id.clone()),
                )
                .ok();
                Delivery {
                    id,
                    key: n.key.clone(),
                    tenant: alert.tenant.clone(),
                    alert_id: alert.id,
                    incident_id: incident,
                    route: n.route.clone(),
                    plan: n.plan.clone(),
                    step: u32::try_from(n.step).unwrap_or(u32::MAX),
                    repeat: n.repeat,
                    audience: n
                        .audience
                        .target()
                        .map_or_else(|| "nobody".to_owned(), |t| t.to_string()),
                    recipients: n
                        .recipients
                        .iter()
                        .map(|r| match r {
                            tocsin_routing::Recipient::Person(p) => format!("person:{p}"),
                            tocsin_routing::Recipient::Channel(c) => format!("channel:{c}"),
                        })
                        .collect(),
                    visibility: n.visibility.as_str().to_owned(),
                    channels,
                    channel: None,
                    status: if n.suppressed.is_some() {
                        DeliveryStatus::Suppressed
                    } else {
                        DeliveryStatus::Pending
                    },
                    reason: n
                        .suppressed
                        .as_ref()
                        .and_then(|s| serde_json::to_value(s).ok()),
                    due: n.at,
                    next_attempt: n.at,
                    attempts: 0,
                    last_error: None,
                    payload,
                    created: now,
                    sent: None,
                    claim: None,
                    lease_until: None,
                }
            })
            .collect()
    }

    /// Plans a new alert and writes its notifications to the outbox in one call; wakes a worker.
    pub async fn enqueue(
        &self,
        store: &dyn Store,
        alert: &Alert,
        incident: Option<Ulid>,
    ) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let silences = self.silences(store, &alert.tenant, now).await;
        let active = self.active(store, alert).await;
        let org = self.org.current();
        let plan = tocsin_routing::plan(alert, &self.routes, &silences, &active, &*org, now);
        let rows = self.rows(alert, incident, &plan, now);
        if rows.is_empty() {
            return Ok(0);
        }
        let n = store.enqueue_deliveries(&rows).await?;
        self.wake.notify_one();
        Ok(n)
    }

    /// The wait before attempt `attempts + 1`: `retry_base` doubled per failure, at most
    /// `retry_max`, less a random part of up to half (so that failing rows spread out).
    pub fn backoff(&self, attempts: u32) -> StdDuration {
        let base = u64::try_from(self.cfg.retry_base.0.as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(self.cfg.retry_max.0.as_millis()).unwrap_or(u64::MAX);
        let shift = attempts.saturating_sub(1).min(32);
        let full = base.saturating_mul(1u64 << shift).min(max).max(1);
        let ms = rand::thread_rng().gen_range(full.div_ceil(2)..=full);
        StdDuration::from_millis(ms)
    }

    fn retry_at(&self, row: &Delivery, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let attempts = row.attempts.saturating_add(1);
        if attempts >= self.cfg.max_attempts {
            return None;
        }
        let wait = Duration::from_std(self.backoff(attempts)).unwrap_or(Duration::zero());
        Some(at.checked_add_signed(wait).unwrap_or(at))
    }

    /// One attempt at `row`, run inside the store's fence.
    async fn attempt(&self, store: &dyn Store, row: &Delivery) -> DeliveryResult {
        let now = self.clock.now();
        let alert = match store.get_alert(&row.tenant, row.alert_id).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                return DeliveryResult::Suppressed {
                    reason: json!({"reason": "alert_missing"}),
                };
            }
            Err(e) => {
                return DeliveryResult::Failed {
                    error: format!("reading the alert: {e}"),
                    at: now,
                    retry_at: self.retry_at(row, now),
                };
            }
        };
        if alert.status != AlertStatus::Open {
            return DeliveryResult::Suppressed {
                reason: json!({"reason": "alert_not_open", "status": alert.status.as_str()}),
            };
        }
        let silences = self.silences(store, &row.tenant, now).await;
        let active = self.active(store, &alert).await;
        if let Some(s) =
            tocsin_routing::suppression_at(&alert, &self.routes, &silences, &active, now)
        {
            return DeliveryResult::Suppressed {
                reason: serde_json::to_value(s).unwrap_or(Value::Null),
            };
        }
        let channels: Vec<Arc<dyn Channel>> = row
            .channels
            .iter()
            .filter_map(|c| self.channels.get(c).cloned())
            .collect();
        if channels.is_empty() {
            return DeliveryResult::Failed {
                error: format!(
                    "none of the channels {:?} is configured any more",
                    row.channels
                ),
                at: now,
                retry_at: None,
            };
        }
        let level = self.level(visibility(&row.visibility), &row.channels);
        let group = ChannelGroup::new(row.audience.clone(), channels);
        let people = people_of(&alert, &self.org.current());
        let message = Message::from_alert_hiding(&alert, level, false, &people)
            .with_delivery_id(row.id.clone());
        match group.send_report(&message).await {
            Ok(channel) => {
                let at = self.clock.now();
                if alert.notified.is_none() {
                    self.metrics
                        .time_to_notify
                        .observe(seconds(at - alert.detected));
                }
                DeliveryResult::Sent {
                    channel,
                    at,
                    payload: serde_json::to_value(&message).unwrap_or(Value::Null),
                }
            }
            Err(e) => {
                let at = self.clock.now();
                tracing::warn!(delivery = %row.id, audience = %row.audience, error = %e, "notification failed");
                DeliveryResult::Failed {
                    error: e.to_string(),
                    at,
                    retry_at: self.retry_at(row, at),
                }
            }
        }
    }

    /// Sends one claimed row and records the outcome.
    pub async fn send_one(&self, store: &dyn Store, row: &Delivery) -> Option<DeliveryStatus> {
        match store.deliver(row, Box::pin(self.attempt(store, row))).await {
            Ok(Delivered::Done(status)) => {
                self.metrics
                    .deliveries
                    .get_or_create(&Metrics::label("status", status.as_str()))
                    .inc();
                if status == DeliveryStatus::Sent {
                    self.note_on_incident(store, row).await;
                }
                Some(status)
            }
            Ok(Delivered::Skipped) => None,
            Err(e) => {
                tracing::warn!(error = %e, delivery = %row.id, "delivery could not be recorded");
                None
            }
        }
    }

    /// Puts a sent notification on the timeline of the alert's incident, so both teams see who
    /// was told and when. The incident is read again when someone wrote it meanwhile.
    async fn note_on_incident(&self, store: &dyn Store, row: &Delivery) {
        let text = format!(
            "notified {} (step {}{}, {} visibility)",
            row.audience,
            row.step + 1,
            if row.repeat > 0 {
                format!(", repeat {}", row.repeat)
            } else {
                String::new()
            },
            row.visibility
        );
        for _ in 0..5 {
            let mut inc = match store.incident_of_alert(&row.tenant, row.alert_id).await {
                Ok(Some(inc)) => inc,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, delivery = %row.id, "incident lookup failed");
                    return;
                }
            };
            if inc
                .record_notification(row.alert_id, &text, self.clock.now())
                .is_err()
            {
                return;
            }
            match store.upsert_incidents(std::slice::from_ref(&inc)).await {
                Ok(()) => return,
                Err(tocsin_store::StoreError::Conflict { .. }) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, delivery = %row.id, "incident timeline not updated");
                    return;
                }
            }
        }
    }

    /// Claims and sends due rows until `shutdown`; idles for `poll_interval` (or until a new
    /// alert is enqueued) when nothing is due.
    pub async fn run_worker(self: Arc<Self>, store: Arc<dyn Store>, shutdown: CancellationToken) {
        let lease = Duration::from_std(self.cfg.lease.0).unwrap_or(Duration::minutes(15));
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match store
                .claim_deliveries(self.clock.now(), CLAIM_BATCH, lease)
                .await
            {
                Ok(rows) if !rows.is_empty() => {
                    for row in &rows {
                        self.send_one(store.as_ref(), row).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "claiming deliveries failed"),
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.cfg.poll_interval.0) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Plans the open alerts of the last day that have no notification in the outbox: a stop
    /// between storing an alert and enqueueing its plan (the two are separate writes) would
    /// otherwise leave it untold. Enqueueing is one transaction, so an alert has all its rows or
    /// none. Returns how many alerts were planned.
    pub async fn recover_unplanned(&self, store: &dyn Store, tenants: &[&str]) -> usize {
        let since = self.clock.now() - Duration::days(1);
        let mut planned = 0;
        for tenant in tenants {
            let mut q = AlertQuery::new(*tenant);
            q.status = Some(AlertStatus::Open);
            q.limit = MAX_ACTIVE_ALERTS;
            let Ok(page) = store.query_alerts(&q).await else {
                continue;
            };
            for alert in page.items.iter().filter(|a| a.detected >= since) {
                let mut dq = DeliveryQuery::new(alert.tenant.clone());
                dq.alert = Some(alert.id);
                dq.limit = 1;
                match store.list_deliveries(&dq).await {
                    Ok(p) if p.items.is_empty() => {}
                    _ => continue,
                }
                let incident = store
                    .incident_of_alert(&alert.tenant, alert.id)
                    .await
                    .ok()
                    .flatten()
                    .map(|i| i.id);
                if let Ok(n) = self.enqueue(store, alert, incident).await
                    && n > 0
                {
                    planned += 1;
                }
            }
        }
        if planned > 0 {
            tracing::info!(
                alerts = planned,
                "planned alerts stored before a stop but never planned"
            );
        }
        planned
    }

    /// Starts `workers` delivery workers. On an embedded (single-process) store, rows left
    /// `sending` by a previous run are made due again first: nobody is sending them any more,
    /// and the receiver drops a resend by its idempotency key. Open alerts stored but never
    /// planned are planned ([`Notifier::recover_unplanned`], default tenant).
    pub async fn start(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        shutdown: CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.recover_unplanned(store.as_ref(), &[tocsin_model::DEFAULT_TENANT])
            .await;
        if store.backend() == "sqlite" {
            match store.release_deliveries(self.clock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "resending notifications interrupted by a stop"),
                Err(e) => tracing::warn!(error = %e, "interrupted notifications not released"),
            }
        }
        (0..self.cfg.workers)
            .map(|_| tokio::spawn(self.clone().run_worker(store.clone(), shutdown.clone())))
            .collect()
    }
}
