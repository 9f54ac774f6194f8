//! The notification outbox and silences: the records and queries both backends share.
//!
//! A [`Delivery`] is one notification of one alert to one audience at one step of its plan. The
//! alert writer enqueues them all at once ([`crate::Store::enqueue_deliveries`]); delivery
//! workers claim the due ones ([`crate::Store::claim_deliveries`]) and send each inside
//! [`crate::Store::deliver`], which re-checks the row under a fence that an acknowledgement
//! ([`crate::Store::acknowledge_alerts`]) must take too: once an acknowledgement has committed,
//! no row of its alerts is sent.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ulid::Ulid;

use crate::StoreError;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its due time.
    Pending,
    /// Claimed by a worker, which is sending it.
    Sending,
    /// Taken by a channel.
    Sent,
    /// The last attempt failed; it will be tried again at `next_attempt`.
    Failed,
    /// Every attempt failed; it will not be tried again.
    Dead,
    /// An acknowledgement came first.
    Cancelled,
    /// Never to be sent, for the `reason` given (silenced, inhibited, quiet hours, nobody).
    Suppressed,
}

impl DeliveryStatus {
    /// The name stored and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Cancelled => "cancelled",
            DeliveryStatus::Suppressed => "suppressed",
        }
    }

    /// The status named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryStatus::Pending,
            "sending" => DeliveryStatus::Sending,
            "sent" => DeliveryStatus::Sent,
            "failed" => DeliveryStatus::Failed,
            "dead" => DeliveryStatus::Dead,
            "cancelled" => DeliveryStatus::Cancelled,
            "suppressed" => DeliveryStatus::Suppressed,
            _ => return None,
        })
    }
}

/// One notification of one alert to one audience, as planned and as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Unique id (a ULID), sent with every attempt as the idempotency key
    /// (`X-Tocsin-Delivery`, the e-mail `Message-ID`) so receivers can drop a resend.
    pub id: String,
    /// The plan's stable key `<alert>/<route>/<step>/<repeat>/<audience>`; unique, so that
    /// planning an alert again enqueues nothing twice.
    pub key: String,
    /// The alert's tenant.
    pub tenant: String,
    /// The alert notified.
    pub alert_id: Ulid,
    /// The incident that holds the alert, when grouped.
    pub incident_id: Option<Ulid>,
    /// The matched route (its name or path).
    pub route: String,
    /// The escalation plan.
    pub plan: String,
    /// Index of the step in the plan.
    pub step: u32,
    /// 0 for the step, 1.. for repeats of the last step.
    pub repeat: u32,
    /// Who, as written in the plan (`team soc`, `on call for guards`, `person p-ana`).
    pub audience: String,
    /// Who that resolved to (`person:p-ana`, `channel:siem`).
    pub recipients: Vec<String>,
    /// The audience's visibility level (`full`, `internal`, `partner`, `public`).
    pub visibility: String,
    /// The channels to try, in failover order.
    pub channels: Vec<String>,
    /// The channel that took it, once sent.
    pub channel: Option<String>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Why it is suppressed (the routing reason as JSON), when it is.
    pub reason: Option<Value>,
    /// When the plan has it due.
    pub due: DateTime<Utc>,
    /// When a worker may next try it.
    pub next_attempt: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// The message as it will be sent (rendered when planned) or as it was sent, redacted for
    /// the audience.
    pub payload: Option<Value>,
    /// When it was enqueued.
    pub created: DateTime<Utc>,
    /// When a channel took it.
    pub sent: Option<DateTime<Utc>>,
    /// The token of the worker's current claim; only that claim may complete it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// Until when the claim holds; past it another worker may claim the row again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
}

/// What a send attempt came to, recorded in the same fenced step that made it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryResult {
    /// A channel took it.
    Sent {
        /// The channel's name.
        channel: String,
        /// When.
        at: DateTime<Utc>,
        /// The message as sent.
        payload: Value,
    },
    /// Every channel failed.
    Failed {
        /// The errors, joined.
        error: String,
        /// When.
        at: DateTime<Utc>,
        /// When to try again; `None` gives up (`dead`).
        retry_at: Option<DateTime<Utc>>,
    },
    /// Judged at send time not to be sent (a silence created or an alert raised since).
    Suppressed {
        /// The routing reason as JSON.
        reason: Value,
    },
}

/// What [`crate::Store::deliver`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// The send ran and its result is recorded with this status.
    Done(DeliveryStatus),
    /// The row was no longer this claim's to send (acknowledged and cancelled, or claimed
    /// again after the lease ran out): nothing was sent.
    Skipped,
}

/// The send of one claimed delivery, run by [`crate::Store::deliver`] only when the row is
/// still the claim's; dropped unpolled otherwise.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = DeliveryResult> + Send + 'a>>;

/// Filters for [`crate::Store::list_deliveries`]. Every filter that is set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// Only this tenant's deliveries; always applied.
    pub tenant: String,
    /// Only those of this alert.
    pub alert: Option<Ulid>,
    /// Only those of alerts in this incident.
    pub incident: Option<Ulid>,
    /// Only this audience, exactly as shown (`team soc`).
    pub audience: Option<String>,
    /// Only in this state.
    pub status: Option<DeliveryStatus>,
    /// Page size, clamped to 1..=[`crate::MAX_PAGE_SIZE`].
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl DeliveryQuery {
    /// All deliveries of `tenant`, [`crate::DEFAULT_PAGE_SIZE`] per page.
    pub fn new(tenant: impl Into<String>) -> Self {
        DeliveryQuery {
            tenant: tenant.into(),
            alert: None,
            incident: None,
            audience: None,
            status: None,
            limit: crate::DEFAULT_PAGE_SIZE,
            cursor: None,
        }
    }
}

/// What an acknowledgement changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AckOutcome {
    /// The alerts it moved from open to acknowledged.
    pub acknowledged: Vec<Ulid>,
    /// Deliveries it cancelled (pending, failed or being sent but not yet sent).
    pub cancelled: u64,
}

/// A silence as stored: alerts matching `matchers` (the routing matcher, as JSON) are not
/// notified from `starts` until `ends`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSilence {
    /// Unique id.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// The matcher, as JSON.
    pub matchers: Value,
    /// From when.
    pub starts: DateTime<Utc>,
    /// Until when (exclusive); required.
    pub ends: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

/// The columns of a delivery, as both backends bind and read them.
pub(crate) struct DeliveryRow {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) tenant: String,
    pub(crate) alert_id: String,
    pub(crate) incident_id: Option<String>,
    pub(crate) route: String,
    pub(crate) plan: String,
    pub(crate) step: i64,
    pub(crate) repeat: i64,
    pub(crate) audience: String,
    pub(crate) recipients: String,
    pub(crate) visibility: String,
    pub(crate) channels: String,
    pub(crate) channel: Option<String>,
    pub(crate) status: String,
    pub(crate) reason: Option<String>,
    pub(crate) due_us: i64,
    pub(crate) next_attempt_us: i64,
    pub(crate) attempts: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) payload: Option<String>,
    pub(crate) created_us: i64,
    pub(crate) sent_us: Option<i64>,
    pub(crate) claim: Option<String>,
    pub(crate) lease_us: Option<i64>,
}

fn json_text(v: &impl Serialize, field: &'static str) -> Result<String, StoreError> {
    let text = serde_json::to_string(v).map_err(|e| StoreError::Invalid {
        field,
        reason: e.to_string(),
    })?;
    Ok(crate::sql::scrub(&text).into_owned())
}

impl DeliveryRow {
    pub(crate) fn new(d: &Delivery) -> Result<Self, StoreError> {
        let s = |v: &str| crate::sql::scrub(v).into_owned();
        Ok(DeliveryRow {
            id: s(&d.id),
            key: s(&d.key),
            tenant: s(&d.tenant),
            alert_id: d.alert_id.to_string(),
            incident_id: d.incident_id.map(|i| i.to_string()),
            route: s(&d.route),
            plan: s(&d.plan),
            step: i64::from(d.step),
            repeat: i64::from(d.repeat),
            audience: s(&d.audience),
            recipients: json_text(&d.recipients, "recipients")?,
            visibility: s(&d.visibility),
            channels: json_text(&d.channels, "channels")?,
            channel: d.channel.as_deref().map(s),
            status: d.status.as_str().to_owned(),
            reason: d
                .reason
                .as_ref()
                .map(|r| json_text(r, "reason"))
                .transpose()?,
            due_us: crate::sql::micros(d.due),
            next_attempt_us: crate::sql::micros(d.next_attempt),
            attempts: i64::from(d.attempts),
            last_error: d.last_error.as_deref().map(s),
            payload: d
                .payload
                .as_ref()
                .map(|p| json_text(p, "payload"))
                .transpose()?,
            created_us: crate::sql::micros(d.created),
            sent_us: d.sent.map(crate::sql::micros),
            claim: d.claim.clone(),
            lease_us: d.lease_until.map(crate::sql::micros),
        })
    }

    pub(crate) fn into_delivery(self) -> Result<Delivery, StoreError> {
        let id = self.id;
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "delivery",
            id: id.clone(),
            reason,
        };
        let json = |t: &str| serde_json::from_str::<Value>(t).map_err(|e| corrupt(e.to_string()));
        let list =
            |t: &str| serde_json::from_str::<Vec<String>>(t).map_err(|e| corrupt(e.to_string()));
        let time = |us: i64| crate::sql::from_micros(us, "delivery", &id);
        let ulid = |t: &str| Ulid::from_string(t).map_err(|e| corrupt(e.to_string()));
        Ok(Delivery {
            key: self.key,
            tenant: self.tenant,
            alert_id: ulid(&self.alert_id)?,
            incident_id: self.incident_id.as_deref().map(ulid).transpose()?,
            route: self.route,
            plan: self.plan,
            step: u32::try_from(self.step).map_err(|e| corrupt(e.to_string()))?,
            repeat: u32::try_from(self.repeat).map_err(|e| corrupt(e.to_string()))?,
            audience: self.audience,
            recipients: list(&self.recipients)?,
            visibility: self.visibility,
            channels: list(&self.channels)?,
            channel: self.channel,
            status: DeliveryStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("unknown status {:?}", self.status)))?,
            reason: self.reason.as_deref().map(json).transpose()?,
            due: time(self.due_us)?,
            next_attempt: time(self.next_attempt_us)?,
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt(e.to_string()))?,
            last_error: self.last_error,
            payload: self.payload.as_deref().map(json).transpose()?,
            created: time(self.created_us)?,
            sent: self.sent_us.map(time).transpose()?,
            claim: self.claim,
            lease_until: self.lease_us.map(time).transpose()?,
            id,
        })
    }
}

/// Reads a [`DeliveryRow`] from a row of either backend.
macro_rules! delivery_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let r = $row;
        crate::outbox::DeliveryRow {
            id: r.try_get("id")?,
            key: r.try_get("notify_key")?,
            tenant: r.try_get("tenant")?,
            alert_id: r.try_get("alert_id")?,
            incident_id: r.try_get("incident_id")?,
            route: r.try_get("route")?,
            plan: r.try_get("plan")?,
            step: r.try_get("step")?,
            repeat: r.try_get("repeat_index")?,
            audience: r.try_get("audience")?,
            recipients: r.try_get("recipients")?,
            visibility: r.try_get("visibility")?,
            channels: r.try_get("channels")?,
            channel: r.try_get("channel")?,
            status: r.try_get("status")?,
            reason: r.try_get("reason")?,
            due_us: r.try_get("due_us")?,
            next_attempt_us: r.try_get("next_attempt_us")?,
            attempts: r.try_get("attempts")?,
            last_error: r.try_get("last_error")?,
            payload: r.try_get("payload")?,
            created_us: r.try_get("created_us")?,
            sent_us: r.try_get("sent_us")?,
            claim: r.try_get("claim")?,
            lease_us: r.try_get("lease_us")?,
        }
        .into_delivery()
    }};
}
pub(crate) use delivery_row;

/// Binds every column of a [`DeliveryRow`] in [`DELIVERY_COLUMNS`] order.
macro_rules! bind_delivery {
    ($q:expr, $r:expr) => {{
        let r = $r;
        $q.bind(&r.id)
            .bind(&r.key)
            .bind(&r.tenant)
            .bind(&r.alert_id)
            .bind(&r.incident_id)
            .bind(&r.route)
            .bind(&r.plan)
            .bind(r.step)
            .bind(r.repeat)
            .bind(&r.audience)
            .bind(&r.recipients)
            .bind(&r.visibility)
            .bind(&r.channels)
            .bind(&r.channel)
            .bind(&r.status)
            .bind(&r.reason)
            .bind(r.due_us)
            .bind(r.next_attempt_us)
            .bind(r.attempts)
            .bind(&r.last_error)
            .bind(&r.payload)
            .bind(r.created_us)
            .bind(r.sent_us)
            .bind(&r.claim)
            .bind(r.lease_us)
    }};
}
pub(crate) use bind_delivery;

/// The JSON text of a silence's matchers, checked to be an object.
pub(crate) fn matchers_text(s: &StoredSilence) -> Result<String, StoreError> {
    if !s.matchers.is_object() {
        return Err(StoreError::Invalid {
            field: "matchers",
            reason: "must be a JSON object".into(),
        });
    }
    if s.ends <= s.starts {
        return Err(StoreError::Invalid {
            field: "ends",
            reason: "must be after starts".into(),
        });
    }
    json_text(&s.matchers, "matchers")
}

/// A silence from its columns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn silence_from_columns(
    id: String,
    tenant: String,
    matchers: String,
    starts_us: i64,
    ends_us: i64,
    created_by: String,
    comment: String,
) -> Result<StoredSilence, StoreError> {
    let matchers = serde_json::from_str(&matchers).map_err(|e| StoreError::Corrupt {
        what: "silence",
        id: id.clone(),
        reason: e.to_string(),
    })?;
    Ok(StoredSilence {
        starts: crate::sql::from_micros(starts_us, "silence", &id)?,
        ends: crate::sql::from_micros(ends_us, "silence", &id)?,
        id,
        tenant,
        matchers,
        created_by,
        comment,
    })
}

/// The stripe of the in-process fence that guards `alert`'s deliveries (SQLite).
pub(crate) fn stripe(alert: &Ulid, stripes: usize) -> usize {
    (alert.0 % stripes as u128) as usize
}

/// The listing of [`DeliveryQuery`], newest first by id; the cursor is the last id handed out.
pub(crate) fn select_deliveries(
    dialect: crate::sql::Dialect,
    q: &DeliveryQuery,
    size: usize,
) -> Result<crate::sql::Select, StoreError> {
    use crate::sql::{Arg, Select, fetch_arg};
    let mut s = Select::new(dialect, SELECT_DELIVERIES_HEAD);
    s.arg(Arg::text(&q.tenant));
    if let Some(a) = q.alert {
        s.push(" AND alert_id = ").arg(Arg::Text(a.to_string()));
    }
    if let Some(i) = q.incident {
        s.push(" AND incident_id = ").arg(Arg::Text(i.to_string()));
    }
    if let Some(a) = &q.audience {
        s.push(" AND audience = ").arg(Arg::text(a));
    }
    if let Some(st) = q.status {
        s.push(" AND status = ").arg(Arg::text(st.as_str()));
    }
    if let Some(c) = &q.cursor {
        let id = Ulid::from_string(c).map_err(|_| StoreError::BadCursor)?;
        s.push(" AND id < ").arg(Arg::Text(id.to_string()));
    }
    s.push(" ORDER BY id DESC LIMIT ").arg(fetch_arg(size));
    Ok(s)
}

const SELECT_DELIVERIES_HEAD: &str = "SELECT id, notify_key, tenant, alert_id, incident_id, \
    route, plan, step, repeat_index, audience, recipients, visibility, channels, channel, status, \
    reason, due_us, next_attempt_us, attempts, last_error, payload, created_us, sent_us, claim, \
    lease_us FROM outbox WHERE tenant = ";

/// Cuts the extra row off; the next cursor is the last id kept.
pub(crate) fn deliveries_page(mut items: Vec<Delivery>, size: usize) -> crate::Page<Delivery> {
    let next_cursor = if items.len() > size {
        items.truncate(size);
        items.last().map(|d| d.id.clone())
    } else {
        None
    };
    crate::Page { items, next_cursor }
}
