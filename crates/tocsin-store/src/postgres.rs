//! The cluster backend: PostgreSQL, shared by every node.
//!
//! Tables live in the first schema of the connection's `search_path`, so one database can hold
//! several installations (or test runs) side by side. Event batches go in as one `UNNEST` statement
//! per chunk, inside one transaction per call.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow, Postgres};
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

/// Pool size when the configuration names none.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// How long a query waits for a free connection, and how long opening retries an unreachable
/// server, before answering [`StoreError::Unavailable`].
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Events per `INSERT ... UNNEST` statement; bounds the size of one protocol message.
const INSERT_CHUNK: usize = 1_000;

/// Serialises concurrent migrations from nodes starting together (an arbitrary, fixed key).
const MIGRATION_LOCK: i64 = 0x746f_6373_696e_0001;

mod outbox;

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

const INSERT_EVENTS: &str = "INSERT INTO events \
    (id, tenant, time_us, ingested_us, domain, class, site, site_id, person, person_id, \
     user_name, badge, message, search, doc) \
    SELECT id, tenant, time_us, ingested_us, domain, class, site, site_id, person, person_id, \
     user_name, badge, message, search, doc::jsonb \
    FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[], $6::text[], \
     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
     $14::text[], $15::text[]) \
    AS t(id, tenant, time_us, ingested_us, domain, class, site, site_id, person, person_id, \
     user_name, badge, message, search, doc) \
    ON CONFLICT (id) DO NOTHING";
const GET_EVENT: &str = "SELECT id, doc::text AS doc FROM events WHERE tenant = $1 AND id = $2";
const PURGE_EVENTS: &str =
    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_us < $1 LIMIT $2)";
const INSERT_DEAD_LETTER: &str = "INSERT INTO dead_letters \
    (id, tenant, source, received_us, reason, line, raw, truncated) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
    ON CONFLICT (id) DO NOTHING";
const PURGE_DEAD_LETTERS: &str = "DELETE FROM dead_letters WHERE id IN \
    (SELECT id FROM dead_letters WHERE received_us < $1 LIMIT $2)";
const UPSERT_ALERT: &str = "INSERT INTO alerts \
    (id, tenant, detector, status, severity, dedup_key, detected_us, last_seen_us, doc) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) \
    ON CONFLICT (id) DO UPDATE SET detector = excluded.detector, status = excluded.status, \
    severity = excluded.severity, dedup_key = excluded.dedup_key, \
    detected_us = excluded.detected_us, last_seen_us = excluded.last_seen_us, doc = excluded.doc \
    WHERE alerts.tenant = excluded.tenant";
const FIND_OPEN_ALERT: &str = "SELECT id, doc::text AS doc FROM alerts \
    WHERE tenant = $1 AND dedup_key = $2 AND last_seen_us >= $3 AND status <> 'closed' \
    ORDER BY last_seen_us DESC, id DESC LIMIT 1";
const GET_ALERT: &str = "SELECT id, doc::text AS doc FROM alerts WHERE tenant = $1 AND id = $2";
const UPSERT_INCIDENT: &str = "INSERT INTO incidents \
    (id, tenant, revision, state, severity, group_key, opened_us, last_alert_us, assigned_team, \
     assigned_person, doc) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb) \
    ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, state = excluded.state, \
    severity = excluded.severity, group_key = excluded.group_key, \
    opened_us = excluded.opened_us, last_alert_us = excluded.last_alert_us, \
    assigned_team = excluded.assigned_team, assigned_person = excluded.assigned_person, \
    doc = excluded.doc \
    WHERE incidents.tenant = excluded.tenant AND incidents.revision = excluded.revision - 1";
/// Unmaps the alerts an incident no longer lists.
const CLEAR_INCIDENT_ALERTS: &str = "DELETE FROM incident_alerts WHERE incident_id = $1 \
    AND NOT (alert_id = ANY($2))";
/// Maps every listed alert to the incident in one statement; rows already right are untouched.
const MAP_INCIDENT_ALERTS: &str = "INSERT INTO incident_alerts (tenant, alert_id, incident_id) \
    SELECT $1, a, $2 FROM unnest($3::text[]) AS a \
    ON CONFLICT (tenant, alert_id) DO UPDATE SET incident_id = excluded.incident_id \
    WHERE incident_alerts.incident_id <> excluded.incident_id";
const GET_INCIDENT: &str =
    "SELECT id, doc::text AS doc FROM incidents WHERE tenant = $1 AND id = $2";
const FIND_OPEN_INCIDENT: &str = "SELECT id, doc::text AS doc FROM incidents \
    WHERE tenant = $1 AND group_key = $2 AND last_alert_us >= $3 \
    AND state IN ('new', 'acknowledged', 'investigating', 'contained') \
    ORDER BY last_alert_us DESC, id DESC LIMIT 1";
const INCIDENT_OF_ALERT: &str = "SELECT i.id AS id, i.doc::text AS doc FROM incident_alerts m \
    JOIN incidents i ON i.id = m.incident_id AND i.tenant = m.tenant \
    WHERE m.tenant = $1 AND m.alert_id = $2";
const INSERT_TOKEN: &str = "INSERT INTO api_tokens \
    (id, name, token_hash, role, tenant, created_us) VALUES ($1, $2, $3, $4, $5, $6)";
const FIND_TOKEN: &str = "SELECT id, name, token_hash, role, tenant, created_us \
    FROM api_tokens WHERE token_hash = $1";
const LIST_TOKENS: &str = "SELECT id, name, token_hash, role, tenant, created_us \
    FROM api_tokens WHERE tenant = $1 ORDER BY created_us, id";
const DELETE_TOKEN: &str = "DELETE FROM api_tokens WHERE tenant = $1 AND id = $2";
const LOCK_MIGRATIONS: &str = "SELECT pg_advisory_xact_lock($1)";
const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_us BIGINT NOT NULL)";
const APPLIED_MIGRATIONS: &str = "SELECT version FROM schema_migrations ORDER BY version";
const RECORD_MIGRATION: &str =
    "INSERT INTO schema_migrations (version, name, applied_us) VALUES ($1, $2, $3)";

/// The PostgreSQL store. Cheap to share behind an `Arc`; the pool is internally synchronised.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl fmt::Debug for PostgresStore {
    // The URL may hold a password, so it is not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

/// Connects to `url` with [`DEFAULT_MAX_CONNECTIONS`] and brings the schema up to date.
pub async fn open_postgres(url: &str) -> Result<PostgresStore, StoreError> {
    open_postgres_with(url, None).await
}

/// Connects to `url` with a pool of at most `max_connections` (default
/// [`DEFAULT_MAX_CONNECTIONS`]) and brings the schema up to date.
///
/// Standard libpq URL parameters apply, e.g. `?options=-c%20search_path%3Dtocsin` to use a schema
/// other than `public`.
pub async fn open_postgres_with(
    url: &str,
    max_connections: Option<u32>,
) -> Result<PostgresStore, StoreError> {
    let max = max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max == 0 {
        return Err(StoreError::Config(
            "`max_connections` must be at least 1".to_owned(),
        ));
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("postgres `url`: {e}")))?
        .application_name("tocsin");
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?;
    migrate_postgres(&pool).await?;
    Ok(PostgresStore { pool })
}

async fn migrate_postgres(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(LOCK_MIGRATIONS)
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    (&mut *tx).execute(CREATE_MIGRATIONS_TABLE).await?;
    let applied: Vec<i64> = sqlx::query_scalar(APPLIED_MIGRATIONS)
        .fetch_all(&mut *tx)
        .await?;
    for m in migrate::pending(migrate::POSTGRES, &applied)? {
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
            "applied postgres migration"
        );
    }
    tx.commit().await?;
    Ok(())
}

fn bind_args(mut q: PgQuery<'_>, args: Vec<Arg>) -> PgQuery<'_> {
    for arg in args {
        q = match arg {
            Arg::Text(s) => q.bind(s),
            Arg::Int(n) => q.bind(n),
        };
    }
    q
}

fn doc_of<T: serde::de::DeserializeOwned>(
    row: &PgRow,
    what: &'static str,
) -> Result<T, StoreError> {
    let id: String = row.try_get("id")?;
    let doc: String = row.try_get("doc")?;
    decode_doc(&doc, what, &id)
}

fn dead_letter_of(row: &PgRow) -> Result<DeadLetter, StoreError> {
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

fn token_of(row: &PgRow) -> Result<ApiToken, StoreError> {
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

/// One column array per event column, for `UNNEST`.
#[derive(Default)]
struct EventColumns {
    id: Vec<String>,
    tenant: Vec<String>,
    time_us: Vec<i64>,
    ingested_us: Vec<i64>,
    domain: Vec<&'static str>,
    class: Vec<String>,
    site: Vec<Option<String>>,
    site_id: Vec<Option<String>>,
    person: Vec<Option<String>>,
    person_id: Vec<Option<String>>,
    user: Vec<Option<String>>,
    badge: Vec<Option<String>>,
    message: Vec<Option<String>>,
    search: Vec<String>,
    doc: Vec<String>,
}

impl EventColumns {
    fn push(&mut self, r: EventRow) {
        self.id.push(r.id);
        self.tenant.push(r.tenant);
        self.time_us.push(r.time_us);
        self.ingested_us.push(r.ingested_us);
        self.domain.push(r.domain);
        self.class.push(r.class);
        self.site.push(r.site);
        self.site_id.push(r.site_id);
        self.person.push(r.person);
        self.person_id.push(r.person_id);
        self.user.push(r.user);
        self.badge.push(r.badge);
        self.message.push(r.message);
        self.search.push(r.search);
        self.doc.push(r.doc);
    }
}

impl PostgresStore {
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
                .execute(&self.pool)
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
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut chunks = Vec::new();
        for chunk in events.chunks(INSERT_CHUNK) {
            let mut cols = EventColumns::default();
            for e in chunk {
                cols.push(EventRow::new(e)?);
            }
            chunks.push(cols);
        }
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for c in chunks {
            inserted += sqlx::query(INSERT_EVENTS)
                .bind(c.id)
                .bind(c.tenant)
                .bind(c.time_us)
                .bind(c.ingested_us)
                .bind(c.domain)
                .bind(c.class)
                .bind(c.site)
                .bind(c.site_id)
                .bind(c.person)
                .bind(c.person_id)
                .bind(c.user)
                .bind(c.badge)
                .bind(c.message)
                .bind(c.search)
                .bind(c.doc)
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
            .fetch_optional(&self.pool)
            .await?
            .map(|row| doc_of(&row, "event"))
            .transpose()
    }

    async fn query_events(&self, q: &EventQuery) -> Result<Page<Event>, StoreError> {
        let cursor = Cursor::parse(q.cursor.as_deref(), CursorKind::Event)?;
        let size = sql::page_size(q.limit);
        let (text, args) = sql::select_events(Dialect::Postgres, q, cursor, size).into_parts();
        let items = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.pool)
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_dead_letters(&self, q: &DeadLetterQuery) -> Result<Page<DeadLetter>, StoreError> {
        let cursor = Cursor::parse(q.cursor.as_deref(), CursorKind::DeadLetter)?;
        let size = sql::page_size(q.limit);
        let (text, args) =
            sql::select_dead_letters(Dialect::Postgres, q, cursor, size).into_parts();
        let items = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.pool)
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
            .execute(&self.pool)
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
            .fetch_optional(&self.pool)
            .await?
            .map(|row| doc_of(&row, "alert"))
            .transpose()
    }

    async fn get_alert(&self, tenant: &str, id: Ulid) -> Result<Option<Alert>, StoreError> {
        sqlx::query(GET_ALERT)
            .bind(scrub(tenant).as_ref())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| doc_of(&row, "alert"))
            .transpose()
    }

    async fn query_alerts(&self, q: &AlertQuery) -> Result<Page<Alert>, StoreError> {
        let cursor = Cursor::parse(q.cursor.as_deref(), CursorKind::Alert)?;
        let size = sql::page_size(q.limit);
        let (text, args) = sql::select_alerts(Dialect::Postgres, q, cursor, size).into_parts();
        let items = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
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
                .bind(&r.alerts)
                .execute(&mut *tx)
                .await?;
        }
        // Mapping after every clear, so that an alert moved between two incidents of the same
        // batch ends up with the one that lists it. One statement per incident: a busy incident
        // is rewritten at every alert, and a round trip per alert would hold the pool for long.
        for r in &rows {
            sqlx::query(MAP_INCIDENT_ALERTS)
                .bind(r.tenant.as_str())
                .bind(r.id.as_str())
                .bind(&r.alerts)
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
            .fetch_optional(&self.pool)
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
            .fetch_optional(&self.pool)
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
            .fetch_optional(&self.pool)
            .await?
            .map(|row| doc_of(&row, "incident"))
            .transpose()
    }

    async fn query_incidents(&self, q: &IncidentQuery) -> Result<Page<Incident>, StoreError> {
        let cursor = Cursor::parse(q.cursor.as_deref(), CursorKind::Incident)?;
        let size = sql::page_size(q.limit);
        let (text, args) = select_incidents(Dialect::Postgres, q, cursor, size).into_parts();
        let items = bind_args(sqlx::query(&text), args)
            .fetch_all(&self.pool)
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
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, "api token"))?;
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        sqlx::query(FIND_TOKEN)
            .bind(scrub(token_hash).as_ref())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| token_of(&row))
            .transpose()
    }

    async fn list_tokens(&self, tenant: &str) -> Result<Vec<ApiToken>, StoreError> {
        sqlx::query(LIST_TOKENS)
            .bind(scrub(tenant).as_ref())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(token_of)
            .collect()
    }

    async fn delete_token(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(DELETE_TOKEN)
            .bind(scrub(tenant).as_ref())
            .bind(scrub(id).as_ref())
            .execute(&self.pool)
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
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

crate::users::user_methods!(
    PostgresStore,
    Dialect::Postgres,
    sqlx::postgres::PgRow,
    pool,
    pool
);
