//! The outbox and silences on PostgreSQL.
//!
//! [`Store::deliver`] locks the row `FOR UPDATE` in a transaction held across the send and
//! records the result in that same transaction. An acknowledgement cancels the alert's rows
//! with an `UPDATE` that waits for that lock, and re-reads the row when it is released (READ
//! COMMITTED): a row sent meanwhile is no longer `sending` and stays `sent`; a row the
//! acknowledgement cancelled first is found `cancelled` by the sender, which then sends nothing.
//! Rows are cancelled before the alert row is updated, and a sender locks its row before the
//! alert row, so the two never wait on each other in a cycle.
//!
//! [`Store::deliver`]: crate::Store::deliver

use chrono::{DateTime, Duration, Utc};
use sqlx::Row as _;
use ulid::Ulid;

use super::{PostgresStore, bind_args};
use crate::outbox::{
    DeliveryRow, bind_delivery, deliveries_page, delivery_row, matchers_text, select_deliveries,
    silence_from_columns,
};
use crate::sql::{Dialect, micros, page_size, scrub};
use crate::{
    AckOutcome, Delivered, Delivery, DeliveryQuery, DeliveryResult, DeliveryStatus, Page,
    SendFuture, StoreError, StoredSilence, conflict_or,
};

const INSERT_DELIVERY: &str = "INSERT INTO outbox (id, notify_key, tenant, alert_id, \
    incident_id, route, plan, step, repeat_index, audience, recipients, visibility, channels, \
    channel, status, reason, due_us, next_attempt_us, attempts, last_error, payload, created_us, \
    sent_us, claim, lease_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
    $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25) \
    ON CONFLICT (notify_key) DO NOTHING";
const CANCEL_CLOSED: &str = "UPDATE outbox SET status = 'cancelled', claim = NULL, \
    lease_us = NULL WHERE id IN (SELECT o.id FROM outbox o \
    WHERE o.status IN ('pending', 'failed') AND o.next_attempt_us <= $1 \
    AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.tenant = o.tenant \
    AND a.id = o.alert_id AND a.status = 'open') FOR UPDATE SKIP LOCKED)";
const CLAIM_DUE: &str = "UPDATE outbox SET status = 'sending', claim = $1 || id, lease_us = $2 \
    WHERE id IN (SELECT id FROM outbox \
    WHERE (status IN ('pending', 'failed') AND next_attempt_us <= $3) \
    OR (status = 'sending' AND lease_us <= $3) \
    ORDER BY next_attempt_us, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
    RETURNING id, notify_key, tenant, alert_id, incident_id, route, plan, step, repeat_index, \
    audience, recipients, visibility, channels, channel, status, reason, due_us, \
    next_attempt_us, attempts, last_error, payload, created_us, sent_us, claim, lease_us";
const LOCK_ROW: &str = "SELECT status, claim FROM outbox WHERE id = $1 FOR UPDATE";
const RECORD_SENT: &str = "UPDATE outbox SET status = 'sent', channel = $1, sent_us = $2, \
    payload = $3, attempts = attempts + 1, claim = NULL, lease_us = NULL WHERE id = $4";
const RECORD_FAILED: &str = "UPDATE outbox SET status = $1, last_error = $2, \
    next_attempt_us = $3, attempts = attempts + 1, claim = NULL, lease_us = NULL WHERE id = $4";
const RECORD_SUPPRESSED: &str = "UPDATE outbox SET status = 'suppressed', reason = $1, \
    claim = NULL, lease_us = NULL WHERE id = $2";
const SET_NOTIFIED: &str = "UPDATE alerts SET doc = jsonb_set(doc, '{notified}', \
    to_jsonb($1::text)) WHERE tenant = $2 AND id = $3 AND doc -> 'notified' IS NULL";
const RELEASE: &str = "UPDATE outbox SET status = 'failed', claim = NULL, lease_us = NULL, \
    next_attempt_us = $1 WHERE status = 'sending'";
const CANCEL_ALERT: &str = "UPDATE outbox SET status = 'cancelled', claim = NULL, \
    lease_us = NULL WHERE tenant = $1 AND alert_id = $2 \
    AND status IN ('pending', 'failed', 'sending')";
const ACK_ALERT: &str = "UPDATE alerts SET status = 'acknowledged', \
    doc = jsonb_set(jsonb_set(doc, '{status}', '\"acknowledged\"'), '{acknowledged}', \
    to_jsonb($1::text)) WHERE tenant = $2 AND id = $3 AND status = 'open'";
const INSERT_SILENCE: &str = "INSERT INTO silences \
    (id, tenant, matchers, starts_us, ends_us, created_by, comment) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
const LIST_SILENCES: &str = "SELECT id, tenant, matchers, starts_us, ends_us, created_by, \
    comment FROM silences WHERE tenant = $1 AND ends_us > $2 ORDER BY starts_us, id";
const DELETE_SILENCE: &str = "DELETE FROM silences WHERE tenant = $1 AND id = $2";

fn doc_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

impl PostgresStore {
    pub(crate) async fn outbox_enqueue(&self, ds: &[Delivery]) -> Result<u64, StoreError> {
        if ds.is_empty() {
            return Ok(0);
        }
        let rows = ds
            .iter()
            .map(DeliveryRow::new)
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(CANCEL_CLOSED)
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
        // One token per claim, made unique per row by appending the row id.
        let token = format!("{}:", Ulid::new());
        let rows = sqlx::query(CLAIM_DUE)
            .bind(&token)
            .bind(micros(until))
            .bind(micros(now))
            .bind(i64::from(limit.clamp(1, crate::MAX_PAGE_SIZE)))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(delivery_row!(row)?);
        }
        out.sort_by(|a, b| a.next_attempt.cmp(&b.next_attempt).then(a.id.cmp(&b.id)));
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
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query(LOCK_ROW)
            .bind(&d.id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(Delivered::Skipped);
        };
        let status: String = row.try_get("status")?;
        let current: Option<String> = row.try_get("claim")?;
        if status != DeliveryStatus::Sending.as_str() || current.as_deref() != Some(claim) {
            // Release the row lock now: a dropped transaction rolls back only when its
            // connection is next used, and until then a claim would skip the row as locked.
            tx.rollback().await?;
            return Ok(Delivered::Skipped);
        }
        // The row stays locked while the send runs: an acknowledgement waits for it.
        let result = send.await;
        let status = match &result {
            DeliveryResult::Sent {
                channel,
                at,
                payload,
            } => {
                sqlx::query(RECORD_SENT)
                    .bind(scrub(channel).as_ref())
                    .bind(micros(*at))
                    .bind(scrub(&payload.to_string()).as_ref())
                    .bind(&d.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(SET_NOTIFIED)
                    .bind(doc_time(*at))
                    .bind(&d.tenant)
                    .bind(d.alert_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                DeliveryStatus::Sent
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
                sqlx::query(RECORD_FAILED)
                    .bind(status.as_str())
                    .bind(scrub(error).as_ref())
                    .bind(micros(retry_at.unwrap_or(*at)))
                    .bind(&d.id)
                    .execute(&mut *tx)
                    .await?;
                status
            }
            DeliveryResult::Suppressed { reason } => {
                sqlx::query(RECORD_SUPPRESSED)
                    .bind(scrub(&reason.to_string()).as_ref())
                    .bind(&d.id)
                    .execute(&mut *tx)
                    .await?;
                DeliveryStatus::Suppressed
            }
        };
        tx.commit().await?;
        Ok(Delivered::Done(status))
    }

    pub(crate) async fn outbox_release(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(RELEASE)
            .bind(micros(now))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub(crate) async fn outbox_ack(
        &self,
        tenant: &str,
        alerts: &[Ulid],
        at: DateTime<Utc>,
    ) -> Result<AckOutcome, StoreError> {
        let mut sorted = alerts.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let tenant = scrub(tenant);
        let mut out = AckOutcome::default();
        let mut tx = self.pool.begin().await?;
        for a in &sorted {
            out.cancelled += sqlx::query(CANCEL_ALERT)
                .bind(tenant.as_ref())
                .bind(a.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
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
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(crate) async fn outbox_list(
        &self,
        q: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        let size = page_size(q.limit);
        let (text, args) = select_deliveries(Dialect::Postgres, q, size)?.into_parts();
        let rows = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.pool)
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
            .execute(&self.pool)
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
            .fetch_all(&self.pool)
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
            .execute(&self.pool)
            .await?
            .rows_affected()
            > 0)
    }
}
