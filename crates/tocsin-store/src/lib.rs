//! Tocsin's storage: one [`Store`] trait with two backends behind it.
//!
//! - [`SqliteStore`] ([`open_sqlite`]): the embedded default, one `tocsin.db` file in the data
//!   folder, in WAL mode.
//! - [`PostgresStore`] ([`open_postgres`]): the cluster backend, shared by every node.
//!
//! [`open`] and [`open_in`] pick one from a [`StorageConfig`]. Both backends pass the same
//! conformance suite (`tests/conformance.rs`), so the rest of Tocsin never asks which one it has.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tocsin_store::StoreError> {
//! use tocsin_store::{EventQuery, Store, StorageConfig};
//!
//! let store = tocsin_store::open_in(&StorageConfig::default(), "/tmp/tocsin".as_ref()).await?;
//! let mut q = EventQuery::new("default");
//! q.text = Some("server room".into());
//! let page = store.query_events(&q).await?;
//! for event in &page.items {
//!     println!("{} {}", event.time, event.message.as_deref().unwrap_or(""));
//! }
//! # Ok(()) }
//! ```
//!
//! Architecture invariants:
//!
//! - Every read names a tenant and filters on it; only retention ([`Store::purge_events_before`])
//!   spans tenants.
//! - SQL comes from constants and `.sql` files only; every user value is a bound parameter and a
//!   free-text needle is escaped before it becomes a `LIKE` pattern.
//! - Listings are newest first with keyset cursors, so a page never repeats or skips a row when
//!   others are inserted meanwhile.
//! - Times are stored as microseconds since the epoch in both backends: ordering, range filters
//!   and cursors are exact at that precision. The stored JSON keeps the full time.
//! - Records are stored as JSON and returned whole. NUL characters, which PostgreSQL cannot
//!   store in text, are replaced with U+FFFD by both backends alike. Dead letters keep their raw
//!   bytes exactly.

#![warn(missing_docs)]

mod config;
mod cursor;
mod error;
mod incidents;
mod migrate;
mod outbox;
mod postgres;
mod sql;
mod sqlite;
mod users;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tocsin_incidents::Incident;
use tocsin_model::{Alert, AlertStatus, DeadLetter, Domain, Event};
use ulid::Ulid;

pub use config::{DEFAULT_DATA_DIR, StorageConfig, open, open_in, redact_url};
pub use error::StoreError;
pub(crate) use error::conflict_or;
pub use incidents::IncidentQuery;
pub use outbox::{
    AckOutcome, Delivered, Delivery, DeliveryQuery, DeliveryResult, DeliveryStatus, SendFuture,
    StoredSilence,
};
pub use postgres::{
    ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, PostgresStore, open_postgres, open_postgres_with,
};
pub use sqlite::{SQLITE_FILE_NAME, SqliteStore, open_sqlite};
pub use users::{Session, User};

/// The largest page a listing returns; larger limits are cut to it.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The page size of the query constructors.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Where Tocsin keeps events, dead letters, alerts, incidents and API tokens.
///
/// Listings return newest first, at most `limit` items (clamped to 1..=[`MAX_PAGE_SIZE`]), and a
/// `next_cursor` when more follow; pass it back unchanged as `cursor` for the next page. A cursor
/// that the same listing did not hand out is [`StoreError::BadCursor`].
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Stores a batch in one transaction and returns how many were new. An event whose id is
    /// already stored is ignored and not counted, so a replayed batch stores nothing twice.
    async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError>;

    /// One event of `tenant` by id.
    async fn get_event(&self, tenant: &str, id: Ulid) -> Result<Option<Event>, StoreError>;

    /// Events matching every filter of `q`, newest first by `(time, id)`.
    async fn query_events(&self, q: &EventQuery) -> Result<Page<Event>, StoreError>;

    /// Retention: deletes events of every tenant whose event time is before `before`, in small
    /// batches so that ingest is not held up. Returns how many were deleted.
    async fn purge_events_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Stores a dead letter with its raw bytes exactly; a replayed id is ignored.
    async fn insert_dead_letter(&self, d: &DeadLetter) -> Result<(), StoreError>;

    /// Dead letters of a tenant, newest first by `(received, id)`.
    async fn list_dead_letters(&self, q: &DeadLetterQuery) -> Result<Page<DeadLetter>, StoreError>;

    /// Retention for dead letters: deletes those received before `before`, of every tenant.
    ///
    /// The default answers [`StoreError::Unsupported`]; both backends and any wrapper should
    /// implement or forward it.
    async fn purge_dead_letters_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let _ = before;
        Err(StoreError::Unsupported {
            operation: "purge_dead_letters_before",
        })
    }

    /// Inserts the alert, or replaces the stored alert with the same id. An id that belongs to
    /// another tenant is [`StoreError::Conflict`] and changes nothing.
    async fn upsert_alert(&self, a: &Alert) -> Result<(), StoreError>;

    /// The deduplication lookup: the alert of `tenant` with `dedup_key` seen most recently, if its
    /// `last_seen` is at or after `since` and it is not closed. A closed alert is never reopened
    /// by a repeat; the detector raises a new one.
    async fn find_open_alert(
        &self,
        tenant: &str,
        dedup_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Alert>, StoreError>;

    /// One alert of `tenant` by id.
    async fn get_alert(&self, tenant: &str, id: Ulid) -> Result<Option<Alert>, StoreError>;

    /// Alerts matching every filter of `q`, newest first by `(detected, id)`.
    async fn query_alerts(&self, q: &AlertQuery) -> Result<Page<Alert>, StoreError>;

    /// Inserts or replaces incidents, all in one transaction (a merge or a split writes both
    /// sides at once), and maps each listed alert to its incident.
    ///
    /// Each incident carries the `revision` it was read at (0 when new); it is stored with the
    /// next one. When the stored revision is not the one read (someone else wrote meanwhile), or
    /// the id belongs to another tenant, the answer is [`StoreError::Conflict`] and nothing is
    /// written: read again, reapply the change and retry.
    ///
    /// The default answers [`StoreError::Unsupported`]; both backends implement it.
    async fn upsert_incidents(&self, incidents: &[Incident]) -> Result<(), StoreError> {
        let _ = incidents;
        Err(StoreError::Unsupported {
            operation: "upsert_incidents",
        })
    }

    /// One incident of `tenant` by id. The default answers [`StoreError::Unsupported`].
    async fn get_incident(&self, tenant: &str, id: Ulid) -> Result<Option<Incident>, StoreError> {
        let _ = (tenant, id);
        Err(StoreError::Unsupported {
            operation: "get_incident",
        })
    }

    /// The grouping lookup: the open incident (not resolved or closed) of `tenant` with
    /// `group_key` whose latest alert is at or after `since`, the most recent first. The default
    /// answers [`StoreError::Unsupported`].
    async fn find_open_incident(
        &self,
        tenant: &str,
        group_key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Incident>, StoreError> {
        let _ = (tenant, group_key, since);
        Err(StoreError::Unsupported {
            operation: "find_open_incident",
        })
    }

    /// The incident that holds alert `alert` of `tenant`. The default answers
    /// [`StoreError::Unsupported`].
    async fn incident_of_alert(
        &self,
        tenant: &str,
        alert: Ulid,
    ) -> Result<Option<Incident>, StoreError> {
        let _ = (tenant, alert);
        Err(StoreError::Unsupported {
            operation: "incident_of_alert",
        })
    }

    /// Incidents matching every filter of `q`, newest opened first by `(opened, id)`. The default
    /// answers [`StoreError::Unsupported`].
    async fn query_incidents(&self, q: &IncidentQuery) -> Result<Page<Incident>, StoreError> {
        let _ = q;
        Err(StoreError::Unsupported {
            operation: "query_incidents",
        })
    }

    /// Stores an API token. A token hash or id that is already stored is
    /// [`StoreError::Conflict`].
    async fn insert_token(&self, t: &ApiToken) -> Result<(), StoreError>;

    /// The token with this hash (hex SHA-256 of the secret), of whatever tenant.
    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError>;

    /// The tokens of a tenant, oldest first. The default answers [`StoreError::Unsupported`].
    async fn list_tokens(&self, tenant: &str) -> Result<Vec<ApiToken>, StoreError> {
        let _ = tenant;
        Err(StoreError::Unsupported {
            operation: "list_tokens",
        })
    }

    /// Revokes a token of `tenant`; `false` when there was none with that id. The default
    /// answers [`StoreError::Unsupported`].
    async fn delete_token(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let _ = (tenant, id);
        Err(StoreError::Unsupported {
            operation: "delete_token",
        })
    }

    /// Creates a dashboard user, or replaces the password, role and tenant of the one with that
    /// username. The default answers [`StoreError::Unsupported`], as do the other user and
    /// session methods; both backends implement them.
    async fn upsert_user(&self, user: &User) -> Result<(), StoreError> {
        let _ = user;
        Err(StoreError::Unsupported {
            operation: "upsert_user",
        })
    }

    /// The user with this username, of whatever tenant.
    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let _ = username;
        Err(StoreError::Unsupported {
            operation: "find_user",
        })
    }

    /// The users of a tenant, by username.
    async fn list_users(&self, tenant: &str) -> Result<Vec<User>, StoreError> {
        let _ = tenant;
        Err(StoreError::Unsupported {
            operation: "list_users",
        })
    }

    /// Deletes a user of `tenant` and their sessions; `false` when there was none.
    async fn delete_user(&self, tenant: &str, username: &str) -> Result<bool, StoreError> {
        let _ = (tenant, username);
        Err(StoreError::Unsupported {
            operation: "delete_user",
        })
    }

    /// Stores a new login session. Its user must exist.
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let _ = session;
        Err(StoreError::Unsupported {
            operation: "insert_session",
        })
    }

    /// The session with this hash if it has not expired at `now`.
    async fn find_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let _ = (id_hash, now);
        Err(StoreError::Unsupported {
            operation: "find_session",
        })
    }

    /// Ends a session (logout); `false` when there was none.
    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let _ = id_hash;
        Err(StoreError::Unsupported {
            operation: "delete_session",
        })
    }

    /// Deletes the sessions expired at `now`, returning how many.
    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let _ = now;
        Err(StoreError::Unsupported {
            operation: "purge_sessions",
        })
    }

    /// Enqueues planned notifications, all in one transaction; a delivery whose `key` is
    /// already stored is ignored. Returns how many were new. The default answers
    /// [`StoreError::Unsupported`].
    async fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<u64, StoreError> {
        let _ = deliveries;
        Err(StoreError::Unsupported {
            operation: "enqueue_deliveries",
        })
    }

    /// Claims up to `limit` deliveries due at `now` (pending or failed with `next_attempt` at
    /// or before `now`, or `sending` whose lease ran out), oldest due first, for `lease`: each
    /// becomes `sending` with a fresh `claim` token. Due rows of alerts that are no longer open
    /// are cancelled instead. The default answers [`StoreError::Unsupported`].
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: chrono::Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let _ = (now, limit, lease);
        Err(StoreError::Unsupported {
            operation: "claim_deliveries",
        })
    }

    /// Sends one claimed delivery under the fence that [`Store::acknowledge_alerts`] takes too:
    /// `send` runs only if the row is still `sending` under `d.claim`, and its result is
    /// recorded before the fence is released (a sent row also sets the alert's `notified` time
    /// when unset). So an acknowledgement either commits before (and `send` never runs) or waits
    /// until the send is over. The default answers [`StoreError::Unsupported`].
    async fn deliver(&self, d: &Delivery, send: SendFuture<'_>) -> Result<Delivered, StoreError> {
        let _ = (d, send);
        Err(StoreError::Unsupported {
            operation: "deliver",
        })
    }

    /// Makes every `sending` delivery due again (after a restart: nobody is sending any more).
    /// Only for a backend used by one process. The default answers [`StoreError::Unsupported`].
    async fn release_deliveries(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let _ = now;
        Err(StoreError::Unsupported {
            operation: "release_deliveries",
        })
    }

    /// Acknowledges the open alerts among `alerts` of `tenant` at `at` and cancels every
    /// pending, failed or sending delivery of them, in one transaction, after any send in flight
    /// for them has been recorded. The default answers [`StoreError::Unsupported`].
    async fn acknowledge_alerts(
        &self,
        tenant: &str,
        alerts: &[Ulid],
        at: DateTime<Utc>,
    ) -> Result<AckOutcome, StoreError> {
        let _ = (tenant, alerts, at);
        Err(StoreError::Unsupported {
            operation: "acknowledge_alerts",
        })
    }

    /// Deliveries matching every filter of `q`, newest first by id. The default answers
    /// [`StoreError::Unsupported`].
    async fn list_deliveries(&self, q: &DeliveryQuery) -> Result<Page<Delivery>, StoreError> {
        let _ = q;
        Err(StoreError::Unsupported {
            operation: "list_deliveries",
        })
    }

    /// Stores a silence; an id already stored is [`StoreError::Conflict`]. The default answers
    /// [`StoreError::Unsupported`].
    async fn insert_silence(&self, s: &StoredSilence) -> Result<(), StoreError> {
        let _ = s;
        Err(StoreError::Unsupported {
            operation: "insert_silence",
        })
    }

    /// The silences of `tenant` that have not ended at `at`, by start. The default answers
    /// [`StoreError::Unsupported`].
    async fn list_silences(
        &self,
        tenant: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<StoredSilence>, StoreError> {
        let _ = (tenant, at);
        Err(StoreError::Unsupported {
            operation: "list_silences",
        })
    }

    /// Deletes a silence of `tenant`; `false` when there was none with that id. The default
    /// answers [`StoreError::Unsupported`].
    async fn delete_silence(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let _ = (tenant, id);
        Err(StoreError::Unsupported {
            operation: "delete_silence",
        })
    }

    /// Checks that the database answers (for health checks).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the connections, waiting for queries in flight. Later calls fail with
    /// [`StoreError::Unavailable`]. The default does nothing (connections close when dropped).
    async fn close(&self) {}
}

/// Filters for [`Store::query_events`]. Every filter that is set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Only this tenant's events; always applied.
    pub tenant: String,
    /// Event time at or after this (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Event time before this (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Only this domain.
    pub domain: Option<Domain>,
    /// Only this class, exactly.
    pub class: Option<String>,
    /// Matches `site` or the resolved `site_id`, exactly.
    pub site: Option<String>,
    /// Matches `person`, the resolved `person_id`, `user` or `badge`, exactly.
    pub person: Option<String>,
    /// Case-insensitive substring of `message` or of the serialised `fields` (JSON text).
    pub text: Option<String>,
    /// Page size, clamped to 1..=[`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl EventQuery {
    /// All events of `tenant`, [`DEFAULT_PAGE_SIZE`] per page.
    pub fn new(tenant: impl Into<String>) -> Self {
        EventQuery {
            tenant: tenant.into(),
            from: None,
            to: None,
            domain: None,
            class: None,
            site: None,
            person: None,
            text: None,
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
        }
    }
}

/// Filters for [`Store::list_dead_letters`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQuery {
    /// Only this tenant's dead letters; always applied.
    pub tenant: String,
    /// Only those received by this configured source.
    pub source: Option<String>,
    /// Page size, clamped to 1..=[`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl DeadLetterQuery {
    /// All dead letters of `tenant`, [`DEFAULT_PAGE_SIZE`] per page.
    pub fn new(tenant: impl Into<String>) -> Self {
        DeadLetterQuery {
            tenant: tenant.into(),
            source: None,
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
        }
    }
}

/// Filters for [`Store::query_alerts`]. Every filter that is set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only this tenant's alerts; always applied.
    pub tenant: String,
    /// Only alerts raised by this detector.
    pub detector: Option<String>,
    /// Only alerts in this state.
    pub status: Option<AlertStatus>,
    /// Only alerts at least this severe (OCSF id 0–6).
    pub severity_min: Option<u8>,
    /// Page size, clamped to 1..=[`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl AlertQuery {
    /// All alerts of `tenant`, [`DEFAULT_PAGE_SIZE`] per page.
    pub fn new(tenant: impl Into<String>) -> Self {
        AlertQuery {
            tenant: tenant.into(),
            detector: None,
            status: None,
            severity_min: None,
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A machine credential. Only the hash of the secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Stable id, shown to admins and used to revoke it.
    pub id: String,
    /// What the token is for, e.g. `hq-door-controller ingest`.
    pub name: String,
    /// Lower-case hex SHA-256 of the secret; unique.
    pub token_hash: String,
    /// The role it acts with (`viewer`, `admin`, `ingest`, ...).
    pub role: String,
    /// The tenant it is confined to.
    pub tenant: String,
    /// When it was created.
    pub created: DateTime<Utc>,
}
