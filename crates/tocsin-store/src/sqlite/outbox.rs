//! The outbox and silences on SQLite.
//!
//! SQLite has one writer, so a row lock held across a send would hold every write. Instead the
//! store keeps an in-process fence per alert (striped `RwLock`s): [`Store::deliver`] holds the
//! stripe shared from the check of the row until its result is committed, and an
//! acknowledgement holds the stripes of its alerts exclusively while its transaction runs. The
//! embedded store is used by one process, so the fence covers every sender.
//!
//! [`Store::deliver`]: crate::Store::deliver

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sqlx::Row as _;
use ulid::Ulid;

use super::{SqliteStore, bind_args};
use crate::outbox::{
    DeliveryRow, bind_delivery, deliveries_page, delivery_row, matchers_text, select_deliveries,
    silence_from_columns, stripe,
};
use crate::sql::{Dialect, micros, page_size, scrub};
use crate::{
    AckOutcome, Delivered, Delivery, DeliveryQuery, DeliveryResult, DeliveryStatus, Page,
    SendFuture, StoreError, StoredSilence, conflict_or,
};

/// Stripes of the delivery fence.
pub(crate) const FENCE_STRIPES: usize = 64;

const INSERT_DELIVERY: &str = "INSERT INTO outbox (id, notify_key, tenant, alert_id, \
    incident_id, route, plan, step, repeat_index, audience, recipients, visibility, channels, \
    channel, status, reason, due_us, next_attempt_us, attempts, last_error, payload, created_us, \
    sent_us, claim, lease_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
    ?, ?, ?, ?, ?) ON CONFLICT (notify_key) DO NOTHING";
const CANCEL_CLOSED: &str = "UPDATE outbox SET status = 'cancelled', claim = NULL, \
    lease_us = NULL WHERE status IN ('pending', 'failed') AND next_attempt_us <= ? \
    AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.tenant = outbox.tenant \
    AND a.id = outbox.alert_id AND a.status = 'open')";
const SELECT_DUE: &str = "SELECT id, notify_key, tenant, alert_id, incident_id, route, plan, \
    step, repeat_index, audience, recipients, visibility, channels, channel, status, reason, \
    due_us, next_attempt_us, attempts, last_error, payload, created_us, sent_us, claim, lease_us \
    FROM outbox WHERE (status IN ('pending', 'failed') AND next_attempt_us <= ?) \
    OR (status = 'sending' AND lease_us <= ?) ORDER BY next_attempt_us, id LIMIT ?";
const CLAIM: &str = "UPDATE outbox SET status = 'sending', claim = ?, lease_us = ? WHERE id = ?";
const ROW_STATE: &str = "SELECT status, claim FROM outbox WHERE id = ?";
const RECORD_SENT: &str = "UPDATE outbox SET status = 'sent', channel = ?, sent_us = ?, \
    payload = ?, attempts = attempts + 1, claim = NULL, lease_us = NULL \
    WHERE id = ? AND claim = ? AND status = 'sending'";
const RECORD_FAILED: &str = "UPDATE outbox SET status = ?, last_error = ?, next_attempt_us = ?, \
    attempts = attempts + 1, claim = NULL, lease_us = NULL \
    WHERE id = ? AND claim = ? AND status = 'sending'";
const RECORD_SUPPRESSED: &str = "UPDATE outbox SET status = 'suppressed', reason = ?, \
    claim = NULL, lease_us = NULL WHERE id = ? AND claim = ? AND status = 'sending'";
const SET_NOTIFIED: &str = "UPDATE alerts SET doc = json_set(doc, '$.notified', ?) \
    WHERE tenant = ? AND id = ? AND json_extract(doc, '$.notified') IS NULL";
const RELEASE: &str = "UPDATE outbox SET status = 'failed', claim = NULL, lease_us = NULL, \
    next_attempt_us = ? WHERE status = 'sending'";
const ACK_ALERT: &str = "UPDATE alerts SET status = 'acknowledged', \
    doc = json_set(doc, '$.status', 'acknowledged', '$.acknowledged', ?) \
    WHERE tenant = ? AND id = ? AND status = 'open'";
const CANCEL_ALERT: &str = "UPDATE outbox SET status = 'cancelled', claim = NULL, \
    lease_us = NULL WHERE tenant = ? AND alert_id = ? \
    AND status IN ('pending', 'failed', 'sending')";
const INSERT_SILENCE: &str = "INSERT INTO silences \
    (id, tenant, matchers, starts_us, ends_us, created_by, comment) VALUES (?, ?, ?, ?, ?, ?, ?)";
const LIST_SILENCES: &str = "SELECT id, tenant, matchers, starts_us, ends_us, created_by, \
    comment FROM silences WHERE tenant = ? AND ends_us > ? ORDER BY starts_us, id";
const DELETE_SILENCE: &str = "DELETE FROM silences WHERE tenant = ? AND id = ?";

/// A time as the alert document holds it.
pub(crate) fn doc_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl SqliteStore {
    pub(crate) async fn outbox_enqueue(&self, ds: &[Delivery]) -> Result<u64, StoreError> {
        if ds.is_empty() {
            return Ok(0);
        }
        let rows = ds
            .iter()
            .map(DeliveryRow::new)
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut n = 0;
        for r in &rows {
            n += bind_delivery!(sqlx::query(INSERT_DELIVERY), r)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    pub(crate) async fn outbox_claim(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let until = now.checked_add_signed(lease).unwrap_or(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(CANCEL_CLOSED)
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(SELECT_DUE)
            .bind(micros(now))
            .bind(micros(now))
            .bind(i64::from(limit.clamp(1, crate::MAX_PAGE_SIZE)))
            .fetch_all(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut d: Delivery = delivery_row!(row)?;
            let claim = Ulid::new().to_string();
            sqlx::query(CLAIM)
                .bind(&claim)
                .bind(micros(until))
                .bind(&d.id)
                .execute(&mut *tx)
                .await?;
            d.status = DeliveryStatus::Sending;
            d.claim = Some(claim);
            d.lease_until = Some(until);
            out.push(d);
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(crate) async fn outbox_deliver(
        &self,
        d: &Delivery,
        send: SendFuture<'_>,
    ) -> Result<Delivered, StoreError> {
        let Some(claim) = d.claim.as_deref() else {
            return Ok(Delivered::Skipped);
        };
        let _fence = self.fences[stripe(&d.alert_id, FENCE_STRIPES)].read().await;
        let Some(row) = sqlx::query(ROW_STATE)
            .bind(&d.id)
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(Delivered::Skipped);
        };
        let status: String = row.try_get("status")?;
        let current: Option<String> = row.try_get("claim")?;
        if status != DeliveryStatus::Sending.as_str() || current.as_deref() != Some(claim) {
            return Ok(Delivered::Skipped);
        }
        let result = send.await;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let (status, changed) = match &result {
            DeliveryResult::Sent {
                channel,
                at,
                payload,
            } => {
                let n = sqlx::query(RECORD_SENT)
                    .bind(scrub(channel).as_ref())
                    .bind(micros(*at))
                    .bind(scrub(&payload.to_string()).as_ref())
                    .bind(&d.id)
                    .bind(claim)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n > 0 {
                    sqlx::query(SET_NOTIFIED)
                        .bind(doc_time(*at))
                        .bind(&d.tenant)
                        .bind(d.alert_id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                (DeliveryStatus::Sent, n)
            }
            DeliveryResult::Failed {
                error,
                at,
                retry_at,
            } => {
                let status = if retry_at.is_some() {
                    DeliveryStatus::Failed
                } else {
                    DeliveryStatus::Dead
                };
                let n = sqlx::query(RECORD_FAILED)
                    .bind(status.as_str())
                    .bind(scrub(error).as_ref())
                    .bind(micros(retry_at.unwrap_or(*at)))
                    .bind(&d.id)
                    .bind(claim)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                (status, n)
            }
            DeliveryResult::Suppressed { reason } => {
                let n = sqlx::query(RECORD_SUPPRESSED)
                    .bind(scrub(&reason.to_string()).as_ref())
                    .bind(&d.id)
                    .bind(claim)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                (DeliveryStatus::Suppressed, n)
            }
        };
        tx.commit().await?;
        Ok(if changed > 0 {
            Delivered::Done(status)
        } else {
            Delivered::Skipped
        })
    }

    pub(crate) async fn outbox_release(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(RELEASE)
            .bind(micros(now))
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    pub(crate) async fn outbox_ack(
        &self,
        tenant: &str,
        alerts: &[Ulid],
        at: DateTime<Utc>,
    ) -> Result<AckOutcome, StoreError> {
        let mut stripes: Vec<usize> = alerts.iter().map(|a| stripe(a, FENCE_STRIPES)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        // Taken in index order, so that two acknowledgements never wait on each other.
        let mut guards = Vec::with_capacity(stripes.len());
        for i in stripes {
            guards.push(self.fences[i].write().await);
        }
        let mut out = AckOutcome::default();
        let tenant = scrub(tenant);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for a in alerts {
            let n = sqlx::query(ACK_ALERT)
                .bind(doc_time(at))
                .bind(tenant.as_ref())
                .bind(a.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                out.acknowledged.push(*a);
            }
            out.cancelled += sqlx::query(CANCEL_ALERT)
                .bind(tenant.as_ref())
                .bind(a.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        drop(guards);
        Ok(out)
    }

    pub(crate) async fn outbox_list(
        &self,
        q: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        let size = page_size(q.limit);
        let (text, args) = select_deliveries(Dialect::Sqlite, q, size)?.into_parts();
        let rows = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.reader)
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(delivery_row!(row)?);
        }
        Ok(deliveries_page(items, size))
    }

    pub(crate) async fn silence_insert(&self, s: &StoredSilence) -> Result<(), StoreError> {
        let matchers = matchers_text(s)?;
        sqlx::query(INSERT_SILENCE)
            .bind(scrub(&s.id).as_ref())
            .bind(scrub(&s.tenant).as_ref())
            .bind(matchers)
            .bind(micros(s.starts))
            .bind(micros(s.ends))
            .bind(scrub(&s.created_by).as_ref())
            .bind(scrub(&s.comment).as_ref())
            .execute(&self.writer)
            .await
            .map_err(|e| conflict_or(e, "silence id"))?;
        Ok(())
    }

    pub(crate) async fn silence_list(
        &self,
        tenant: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<StoredSilence>, StoreError> {
        let rows = sqlx::query(LIST_SILENCES)
            .bind(scrub(tenant).as_ref())
            .bind(micros(at))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                silence_from_columns(
                    r.try_get("id")?,
                    r.try_get("tenant")?,
                    r.try_get("matchers")?,
                    r.try_get("starts_us")?,
                    r.try_get("ends_us")?,
                    r.try_get("created_by")?,
                    r.try_get("comment")?,
                )
            })
            .collect()
    }

    pub(crate) async fn silence_delete(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(DELETE_SILENCE)
            .bind(scrub(tenant).as_ref())
            .bind(scrub(id).as_ref())
            .execute(&self.writer)
            .await?
            .rows_affected()
            > 0)
    }
}
