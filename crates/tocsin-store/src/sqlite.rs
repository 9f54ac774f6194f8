//! The embedded backend: one SQLite file in the data folder.
//!
//! Writes go through a pool of one connection and start with `BEGIN IMMEDIATE`, so writers queue
//! in the pool instead of failing with `SQLITE_BUSY`; reads use a separate pool and, thanks to WAL,
//! never wait for a writer. Another process on the same file is covered by the busy timeout.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Executor as _, Row};
use tocsin_incidents::Incident;
use tocsin_model::{Alert, DeadLetter, Event};
use ulid::Ulid;

use crate::cursor::{Cursor, CursorKind};
use crate::incidents::{IncidentRow, incident_key, select_incidents};
use crate::sql::{
    self, AlertRow, Arg, DeadLetterRow, Dialect, EventRow, PURGE_BATCH, decode_doc, micros, scrub,
};
use crate::{
    AlertQuery, ApiToken, DeadLetterQuery, EventQuery, IncidentQuery, Page, Store, StoreError,
    conflict_or, migrate,
};

/// The database file's name inside the data folder.
pub const SQLITE_FILE_NAME: &str = "tocsin.db";

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Concurrent readers; WAL lets them run beside the single writer.
const READERS: u32 = 4;

mod outbox;

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

const INSERT_EVENT: &str = "INSERT INTO events \
    (id, tenant, time_us, ingested_us, domain, class, site, site_id, person, person_id, \
     user_name, badge, message, search, doc) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
    ON CONFLICT (id) DO NOTHING";
const GET_EVENT: &str = "SELECT id, doc FROM events WHERE tenant = ? AND id = ?";
const PURGE_EVENTS: &str =
    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_us < ? LIMIT ?)";
const INSERT_DEAD_LETTER: &str = "INSERT INTO dead_letters \
    (id, tenant, source, received_us, reason, line, raw, truncated) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
    ON CONFLICT (id) DO NOTHING";
const PURGE_DEAD_LETTERS: &str = "DELETE FROM dead_letters WHERE id IN \
    (SELECT id FROM dead_letters WHERE received_us < ? LIMIT ?)";
const UPSERT_ALERT: &str = "INSERT INTO alerts \
    (id, tenant, detector, status, severity, dedup_key, detected_us, last_seen_us, doc) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
    ON CONFLICT (id) DO UPDATE SET detector = excluded.detector, status = excluded.status, \
    severity = excluded.severity, dedup_key = excluded.dedup_key, \
    detected_us = excluded.detected_us, last_seen_us = excluded.last_seen_us, doc = excluded.doc \
    WHERE alerts.tenant = excluded.tenant";
const FIND_OPEN_ALERT: &str = "SELECT id, doc FROM alerts \
    WHERE tenant = ? AND dedup_key = ? AND last_seen_us >= ? AND status <> 'closed' \
    ORDER BY last_seen_us DESC, id DESC LIMIT 1";
const GET_ALERT: &str = "SELECT id, doc FROM alerts WHERE tenant = ? AND id = ?";
const UPSERT_INCIDENT: &str = "INSERT INTO incidents \
    (id, tenant, revision, state, severity, group_key, opened_us, last_alert_us, assigned_team, \
     assigned_person, doc) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
    ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, state = excluded.state, \
    severity = excluded.severity, group_key = excluded.group_key, \
    opened_us = excluded.opened_us, last_alert_us = excluded.last_alert_us, \
    assigned_team = excluded.assigned_team, assigned_person = excluded.assigned_person, \
    doc = excluded.doc \
    WHERE incidents.tenant = excluded.tenant AND incidents.revision = excluded.revision - 1";
/// Unmaps the alerts an incident no longer lists (the JSON array of those it does).
const CLEAR_INCIDENT_ALERTS: &str = "DELETE FROM incident_alerts WHERE incident_id = ? \
    AND alert_id NOT IN (SELECT value FROM json_each(?))";
/// Maps every listed alert to the incident in one statement; rows already right are untouched.
const MAP_INCIDENT_ALERTS: &str = "INSERT INTO incident_alerts (tenant, alert_id, incident_id) \
    SELECT ?, value, ? FROM json_each(?) WHERE true \
    ON CONFLICT (tenant, alert_id) DO UPDATE SET incident_id = excluded.incident_id \
    WHERE incident_alerts.incident_id <> excluded.incident_id";
const GET_INCIDENT: &str = "SELECT id, doc FROM incidents WHERE tenant = ? AND id = ?";
const FIND_OPEN_INCIDENT: &str = "SELECT id, doc FROM incidents \
    WHERE tenant = ? AND group_key = ? AND last_alert_us >= ? \
    AND state IN ('new', 'acknowledged', 'investigating', 'contained') \
    ORDER BY last_alert_us DESC, id DESC LIMIT 1";
const INCIDENT_OF_ALERT: &str = "SELECT i.id AS id, i.doc FROM incident_alerts m \
    JOIN incidents i ON i.id = m.incident_id AND i.tenant = m.tenant \
    WHERE m.tenant = ? AND m.alert_id = ?";
const INSERT_TOKEN: &str = "INSERT INTO api_tokens \
    (id, name, token_hash, role, tenant, created_us) VALUES (?, ?, ?, ?, ?, ?)";
const FIND_TOKEN: &str = "SELECT id, name, token_hash, role, tenant, created_us \
    FROM api_tokens WHERE token_hash = ?";
const LIST_TOKENS: &str = "SELECT id, name, token_hash, role, tenant, created_us \
    FROM api_tokens WHERE tenant = ? ORDER BY created_us, id";
const DELETE_TOKEN: &str = "DELETE FROM api_tokens WHERE tenant = ? AND id = ?";
const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_us INTEGER NOT NULL)";
const APPLIED_MIGRATIONS: &str = "SELECT version FROM schema_migrations ORDER BY version";
const RECORD_MIGRATION: &str =
    "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)";

/// The SQLite store. Cheap to share behind an `Arc`; its pools are internally synchronised.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    path: PathBuf,
    /// The delivery fence, striped by alert (see `sqlite/outbox.rs`).
    fences: std::sync::Arc<Vec<tokio::sync::RwLock<()>>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Opens (creating when needed) `tocsin.db` in `data_dir` and brings its schema up to date.
///
/// The folder is created if missing. The database runs in WAL mode with `synchronous=NORMAL`, a
/// busy timeout and foreign keys on.
pub async fn open_sqlite(data_dir: &Path) -> Result<SqliteStore, StoreError> {
    tokio::fs::create_dir_all(data_dir)
        .await
        .map_err(|e| StoreError::Io {
            path: data_dir.to_owned(),
            reason: e.to_string(),
        })?;
    let path = data_dir.join(SQLITE_FILE_NAME);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await?;
    migrate_sqlite(&writer).await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(READERS)
        .connect_with(options.create_if_missing(false))
        .await?;
    Ok(SqliteStore {
        writer,
        reader,
        path,
        fences: std::sync::Arc::new(
            (0..outbox::FENCE_STRIPES)
                .map(|_| tokio::sync::RwLock::new(()))
                .collect(),
        ),
    })
}

impl SqliteStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    (&mut *tx).execute(CREATE_MIGRATIONS_TABLE).await?;
    let applied: Vec<i64> = sqlx::query_scalar(APPLIED_MIGRATIONS)
        .fetch_all(&mut *tx)
        .await?;
    for m in migrate::pending(migrate::SQLITE, &applied)? {
        (&mut *tx)
            .execute(m.sql)
            .await
            .map_err(|e| migrate::failed(m, e))?;
        sqlx::query(RECORD_MIGRATION)
            .bind(m.version)
            .bind(m.name)
            .bind(micros(Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(|e| migrate::failed(m, e))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied sqlite migration"
        );
    }
    tx.commit().await?;
    Ok(())
}

fn bind_args(mut q: SqliteQuery<'_>, args: Vec<Arg>) -> SqliteQuery<'_> {
    for arg in args {
        q = match arg {
            Arg::Text(s) => q.bind(s),
            Arg::Int(n) => q.bind(n),
        };
    }
    q
}

fn doc_of<T: serde::de::DeserializeOwned>(
    row: &SqliteRow,
    what: &'static str,
) -> Result<T, StoreError> {
    let id: String = row.try_get("id")?;
    let doc: String = row.try_get("doc")?;
    decode_doc(&doc, what, &id)
}

fn dead_letter_of(row: &SqliteRow) -> Result<DeadLetter, StoreError> {
    sql::dead_letter_from_columns(
        row.try_get("id")?,
        row.try_get("tenant")?,
        row.try_get("source")?,
        row.try_get("received_us")?,
        row.try_get("reason")?,
        row.try_get("line")?,
        row.try_get("raw")?,
        row.try_get("truncated")?,
    )
}

fn token_of(row: &SqliteRow) -> Result<ApiToken, StoreError> {
    let id: String = row.try_get("id")?;
    let created = sql::from_micros(row.try_get("created_us")?, "api token", &id)?;
    Ok(ApiToken {
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        role: row.try_get("role")?,
        tenant: row.try_get("tenant")?,
        created,
        id,
    })
}

impl SqliteStore {
    async fn purge(
        &self,
        statement: &'static str,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let n = sqlx::query(statement)
                .bind(micros(before))
                .bind(PURGE_BATCH)
                .execute(&self.writer)
                .await?
                .rows_affected();
            total += n;
            if i64::try_from(n).unwrap_or(i64::MAX) < PURGE_BATCH {
                return Ok(total);
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let rows = events
            .iter()
            .map(EventRow::new)
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut inserted = 0;
        for r in &rows {
            inserted += sqlx::query(INSERT_EVENT)
                .bind(r.id.as_str())
                .bind(r.tenant.as_str())
                .bind(r.time_us)
                .bind(r.ingested_us)
                .bind(r.domain)
                .bind(r.class.as_str())
                .bind(r.site.as_deref())
                .bind(r.site_id.as_deref())
                .bind(r.person.as_deref())
                .bind(r.person_id.as_deref())
                .bind(r.user.as_deref())
                .bind(r.badge.as_deref())
                .bind(r.message.as_deref())
                .bind(r.search.as_str())
                .bind(r.doc.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn get_event(&self, tenant: &str, id: Ulid) -> Result<Option<Event>, StoreError> {
        sqlx::query(GET_EVENT)
            .bind(scrub(tenant).as_ref())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| doc_of(&row, "event"))
            .transpose()
    }

    async fn query_events(&self, q: &EventQuery) -> Result<Page<Event>, StoreError> {
        let cursor = Cursor::parse(q.cursor.as_deref(), CursorKind::Event)?;
        let size = sql::page_size(q.limit);
        let (text, args) = sql::select_events(Dialect::Sqlite, q, cursor, size).into_parts();
        let items = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|row| doc_of(row, "event"))
            .collect::<Result<Vec<Event>, _>>()?;
        Ok(sql::into_page(
            items,
            size,
            CursorKind::Event,
            sql::event_key,
        ))
    }

    async fn purge_events_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.purge(PURGE_EVENTS, before).await
    }

    async fn insert_dead_letter(&self, d: &DeadLetter) -> Result<(), StoreError> {
        let r = DeadLetterRow::new(d)?;
        sqlx::query(INSERT_DEAD_LETTER)
            .bind(r.id.as_str())
            .bind(r.tenant.as_ref())
            .bind(r.source.as_ref())
            .bind(r.received_us)
            .bind(r.reason.as_ref())
            .bind(r.line)
            .bind(r.raw)
            .bind(r.truncated)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn list_dead_letters(&self, q: &DeadLetterQuery) -> Result<Page<DeadLetter>, StoreError> {
        let cursor = Cursor::parse(q.cursor.as_deref(), CursorKind::DeadLetter)?;
        let size = sql::page_size(q.limit);
        let (text, args) = sql::select_dead_letters(Dialect::Sqlite, q, cursor, size).into_parts();
        let items = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(dead_letter_of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(sql::into_page(
            items,
            size,
            CursorKind::DeadLetter,
            sql::dead_letter_key,
        ))
    }

    async fn purge_dead_letters_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.purge(PURGE_DEAD_LETTERS, before).await
    }

    async fn upsert_alert(&self, a: &Alert) -> Result<(), StoreError> {
        let r = AlertRow::new(a)?;
        let changed = sqlx::query(UPSERT_ALERT)
            .bind(r.id.as_str())
            .bind(r.tenant.as_str())
            .bind(r.detector.as_str())
            .bind(r.status)
            .bind(r.severity)
            .bind(r.dedup_key.as_str())
            .bind(r.detected_us)
            .bind(r.last_seen_us)
            .bind(r.doc.as_str())
            .execute(&self.writer)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict { what: "alert id" });
        }
        Ok(())
    }

    async fn find_open_alert(
        &self,
        tenant: &str,
        dedup_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Alert>, StoreError> {
        sqlx::query(FIND_OPEN_ALERT)
            .bind(scrub(tenant).as_ref())
            .bind(scrub(dedup_key).as_ref())
            .bind(micros(since))
            .fetch_optional(&self.reader)
            .await?
            .map(|row| doc_of(&row, "alert"))
            .transpose()
    }

    async fn get_alert(&self, tenant: &str, id: Ulid) -> Result<Option<Alert>, StoreError> {
        sqlx::query(GET_ALERT)
            .bind(scrub(tenant).as_ref())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| doc_of(&row, "alert"))
            .transpose()
    }

    async fn query_alerts(&self, q: &AlertQuery) -> Result<Page<Alert>, StoreError> {
        let cursor = Cursor::parse(q.cursor.as_deref(), CursorKind::Alert)?;
        let size = sql::page_size(q.limit);
        let (text, args) = sql::select_alerts(Dialect::Sqlite, q, cursor, size).into_parts();
        let items = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|row| doc_of(row, "alert"))
            .collect::<Result<Vec<Alert>, _>>()?;
        Ok(sql::into_page(
            items,
            size,
            CursorKind::Alert,
            sql::alert_key,
        ))
    }

    async fn upsert_incidents(&self, incidents: &[Incident]) -> Result<(), StoreError> {
        if incidents.is_empty() {
            return Ok(());
        }
        let rows = incidents
            .iter()
            .map(IncidentRow::new)
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for r in &rows {
            let changed = sqlx::query(UPSERT_INCIDENT)
                .bind(r.id.as_str())
                .bind(r.tenant.as_str())
                .bind(r.revision)
                .bind(r.state)
                .bind(r.severity)
                .bind(r.group_key.as_str())
                .bind(r.opened_us)
                .bind(r.last_alert_us)
                .bind(r.team.as_deref())
                .bind(r.person.as_deref())
                .bind(r.doc.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed == 0 {
                // Dropping the transaction rolls back the incidents already written.
                return Err(StoreError::Conflict {
                    what: "incident id",
                });
            }
            sqlx::query(CLEAR_INCIDENT_ALERTS)
                .bind(r.id.as_str())
                .bind(alert_ids_json(&r.alerts))
                .execute(&mut *tx)
                .await?;
        }
        // Mapping after every clear, so that an alert moved between two incidents of the same
        // batch ends up with the one that lists it. One statement per incident: a busy incident
        // is rewritten at every alert, and a round trip per alert would hold the writer for long.
        for r in &rows {
            sqlx::query(MAP_INCIDENT_ALERTS)
                .bind(r.tenant.as_str())
                .bind(r.id.as_str())
                .bind(alert_ids_json(&r.alerts))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_incident(&self, tenant: &str, id: Ulid) -> Result<Option<Incident>, StoreError> {
        sqlx::query(GET_INCIDENT)
            .bind(scrub(tenant).as_ref())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| doc_of(&row, "incident"))
            .transpose()
    }

    async fn find_open_incident(
        &self,
        tenant: &str,
        group_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Incident>, StoreError> {
        sqlx::query(FIND_OPEN_INCIDENT)
            .bind(scrub(tenant).as_ref())
            .bind(scrub(group_key).as_ref())
            .bind(micros(since))
            .fetch_optional(&self.reader)
            .await?
            .map(|row| doc_of(&row, "incident"))
            .transpose()
    }

    async fn incident_of_alert(
        &self,
        tenant: &str,
        alert: Ulid,
    ) -> Result<Option<Incident>, StoreError> {
        sqlx::query(INCIDENT_OF_ALERT)
            .bind(scrub(tenant).as_ref())
            .bind(alert.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| doc_of(&row, "incident"))
            .transpose()
    }

    async fn query_incidents(&self, q: &IncidentQuery) -> Result<Page<Incident>, StoreError> {
        let cursor = Cursor::parse(q.cursor.as_deref(), CursorKind::Incident)?;
        let size = sql::page_size(q.limit);
        let (text, args) = select_incidents(Dialect::Sqlite, q, cursor, size).into_parts();
        let items = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|row| doc_of(row, "incident"))
            .collect::<Result<Vec<Incident>, _>>()?;
        Ok(sql::into_page(
            items,
            size,
            CursorKind::Incident,
            incident_key,
        ))
    }

    async fn insert_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        let t = sql::clean_token(t);
        sqlx::query(INSERT_TOKEN)
            .bind(t.id.as_str())
            .bind(t.name.as_str())
            .bind(t.token_hash.as_str())
            .bind(t.role.as_str())
            .bind(t.tenant.as_str())
            .bind(micros(t.created))
            .execute(&self.writer)
            .await
            .map_err(|e| conflict_or(e, "api token"))?;
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        sqlx::query(FIND_TOKEN)
            .bind(scrub(token_hash).as_ref())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| token_of(&row))
            .transpose()
    }

    async fn list_tokens(&self, tenant: &str) -> Result<Vec<ApiToken>, StoreError> {
        sqlx::query(LIST_TOKENS)
            .bind(scrub(tenant).as_ref())
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(token_of)
            .collect()
    }

    async fn delete_token(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(DELETE_TOKEN)
            .bind(scrub(tenant).as_ref())
            .bind(scrub(id).as_ref())
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    async fn upsert_user(&self, u: &crate::User) -> Result<(), StoreError> {
        self.user_upsert_user(u).await
    }

    async fn find_user(&self, username: &str) -> Result<Option<crate::User>, StoreError> {
        self.user_find_user(username).await
    }

    async fn list_users(&self, tenant: &str) -> Result<Vec<crate::User>, StoreError> {
        self.user_list_users(tenant).await
    }

    async fn delete_user(&self, tenant: &str, username: &str) -> Result<bool, StoreError> {
        self.user_delete_user(tenant, username).await
    }

    async fn insert_session(&self, s: &crate::Session) -> Result<(), StoreError> {
        self.user_insert_session(s).await
    }

    async fn find_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::Session>, StoreError> {
        self.user_find_session(id_hash, now).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        self.user_delete_session(id_hash).await
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.user_purge_sessions(now).await
    }

    async fn enqueue_deliveries(&self, deliveries: &[crate::Delivery]) -> Result<u64, StoreError> {
        self.outbox_enqueue(deliveries).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: chrono::Duration,
    ) -> Result<Vec<crate::Delivery>, StoreError> {
        self.outbox_claim(now, limit, lease).await
    }

    async fn deliver(
        &self,
        d: &crate::Delivery,
        send: crate::SendFuture<'_>,
    ) -> Result<crate::Delivered, StoreError> {
        self.outbox_deliver(d, send).await
    }

    async fn release_deliveries(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.outbox_release(now).await
    }

    async fn acknowledge_alerts(
        &self,
        tenant: &str,
        alerts: &[Ulid],
        at: DateTime<Utc>,
    ) -> Result<crate::AckOutcome, StoreError> {
        self.outbox_ack(tenant, alerts, at).await
    }

    async fn list_deliveries(
        &self,
        q: &crate::DeliveryQuery,
    ) -> Result<Page<crate::Delivery>, StoreError> {
        self.outbox_list(q).await
    }

    async fn insert_silence(&self, s: &crate::StoredSilence) -> Result<(), StoreError> {
        self.silence_insert(s).await
    }

    async fn list_silences(
        &self,
        tenant: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<crate::StoredSilence>, StoreError> {
        self.silence_list(tenant, at).await
    }

    async fn delete_silence(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        self.silence_delete(tenant, id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

crate::users::user_methods!(
    SqliteStore,
    Dialect::Sqlite,
    sqlx::sqlite::SqliteRow,
    reader,
    writer
);

/// Alert ids as a JSON array, for `json_each`.
fn alert_ids_json(ids: &[String]) -> String {
    serde_json::Value::from(ids.to_vec()).to_string()
}
