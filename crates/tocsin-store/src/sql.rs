//! What both backends share: the filter builder for listings, the column values derived from a
//! record, and the clean-up that makes every string storable in both databases.
//!
//! Listings are assembled from `&'static str` fragments only; every value a user supplies is a
//! bound parameter, and a free-text needle is escaped before it becomes a LIKE pattern.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tocsin_model::{Alert, DeadLetter, Event};
use ulid::Ulid;

use crate::cursor::{Cursor, CursorKind};
use crate::{AlertQuery, ApiToken, DeadLetterQuery, EventQuery, MAX_PAGE_SIZE, Page, StoreError};

/// Rows removed per statement by retention, so that a large purge never holds the write lock long.
pub(crate) const PURGE_BATCH: i64 = 5_000;

/// Placeholder syntax of the target database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

impl Arg {
    pub(crate) fn text(s: &str) -> Arg {
        Arg::Text(scrub(s).into_owned())
    }
}

/// A statement under construction: SQL from constant fragments, values kept apart for binding.
#[derive(Debug)]
pub(crate) struct Select {
    dialect: Dialect,
    sql: String,
    args: Vec<Arg>,
}

impl Select {
    pub(crate) fn new(dialect: Dialect, head: &'static str) -> Self {
        Select {
            dialect,
            sql: head.to_owned(),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, fragment: &'static str) -> &mut Self {
        self.sql.push_str(fragment);
        self
    }

    pub(crate) fn arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        match self.dialect {
            Dialect::Sqlite => self.sql.push('?'),
            Dialect::Postgres => {
                // Writing to a String cannot fail.
                let _ = write!(self.sql, "${}", self.args.len());
            }
        }
        self
    }

    pub(crate) fn into_parts(self) -> (String, Vec<Arg>) {
        (self.sql, self.args)
    }
}

/// Microseconds since the epoch: the stored form of every time.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(
    us: i64,
    what: &'static str,
    id: &str,
) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt {
        what,
        id: id.to_owned(),
        reason: format!("time {us} is out of range"),
    })
}

/// The page size actually used: 1 to [`MAX_PAGE_SIZE`].
pub(crate) fn page_size(limit: u32) -> usize {
    // u32 always fits usize on the targets Tocsin builds for; saturate rather than assume.
    usize::try_from(limit.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1)
}

/// Rows to fetch: one more than the page, to learn whether another page follows.
pub(crate) fn fetch_arg(size: usize) -> Arg {
    Arg::Int(i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1))
}

/// Cuts the extra row off and turns the last kept row into the next cursor.
pub(crate) fn into_page<T>(
    mut items: Vec<T>,
    size: usize,
    kind: CursorKind,
    key: impl Fn(&T) -> Cursor,
) -> Page<T> {
    let next_cursor = if items.len() > size {
        items.truncate(size);
        items.last().map(|last| key(last).encode(kind))
    } else {
        None
    };
    Page { items, next_cursor }
}

/// Escapes `\`, `%` and `_` so that a needle matches only itself inside `LIKE ... ESCAPE '\'`.
pub(crate) fn like_contains(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// PostgreSQL refuses NUL in text and in jsonb; both backends replace it with U+FFFD so that they
/// store and return the same thing.
pub(crate) fn scrub(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

fn scrub_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{FFFD}");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (k, mut inner) in old {
                    scrub_value(&mut inner);
                    map.insert(scrub(&k).into_owned(), inner);
                }
            } else {
                map.values_mut().for_each(scrub_value);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Serialises a record, replacing NUL characters when there are any. Returns the record as it
/// will be stored and its JSON.
pub(crate) fn clean_json<'a, T>(
    record: &'a T,
    what: &'static str,
) -> Result<(Cow<'a, T>, String), StoreError>
where
    T: Serialize + DeserializeOwned + Clone,
{
    let invalid = |e: serde_json::Error| StoreError::Invalid {
        field: what,
        reason: e.to_string(),
    };
    let doc = serde_json::to_string(record).map_err(invalid)?;
    // serde_json writes NUL only as this escape, so its absence proves the record clean.
    if !doc.contains("\\u0000") {
        return Ok((Cow::Borrowed(record), doc));
    }
    let mut value = serde_json::to_value(record).map_err(invalid)?;
    scrub_value(&mut value);
    let cleaned: T = serde_json::from_value(value).map_err(invalid)?;
    let doc = serde_json::to_string(&cleaned).map_err(invalid)?;
    Ok((Cow::Owned(cleaned), doc))
}

pub(crate) fn decode_doc<T: DeserializeOwned>(
    doc: &str,
    what: &'static str,
    id: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        what,
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

pub(crate) fn parse_id(id: &str, what: &'static str) -> Result<Ulid, StoreError> {
    Ulid::from_string(id).map_err(|e| StoreError::Corrupt {
        what,
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

/// The columns of one `events` row.
#[derive(Debug)]
pub(crate) struct EventRow {
    pub(crate) id: String,
    pub(crate) tenant: String,
    pub(crate) time_us: i64,
    pub(crate) ingested_us: i64,
    pub(crate) domain: &'static str,
    pub(crate) class: String,
    pub(crate) site: Option<String>,
    pub(crate) site_id: Option<String>,
    pub(crate) person: Option<String>,
    pub(crate) person_id: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) badge: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) search: String,
    pub(crate) doc: String,
}

impl EventRow {
    pub(crate) fn new(event: &Event) -> Result<Self, StoreError> {
        let (e, doc) = clean_json(event, "event")?;
        let fields = serde_json::to_string(&e.fields).map_err(|err| StoreError::Invalid {
            field: "fields",
            reason: err.to_string(),
        })?;
        let mut search = e.message.as_deref().unwrap_or_default().to_lowercase();
        search.push('\n');
        search.push_str(&fields.to_lowercase());
        Ok(EventRow {
            id: e.id.to_string(),
            tenant: e.tenant.clone(),
            time_us: micros(e.time),
            ingested_us: micros(e.ingested),
            domain: e.domain.as_str(),
            class: e.class.clone(),
            site: e.site.clone(),
            site_id: e.site_id.clone(),
            person: e.person.clone(),
            person_id: e.person_id.clone(),
            user: e.user.clone(),
            badge: e.badge.clone(),
            message: e.message.clone(),
            search,
            doc,
        })
    }
}

/// The columns of one `alerts` row.
#[derive(Debug)]
pub(crate) struct AlertRow {
    pub(crate) id: String,
    pub(crate) tenant: String,
    pub(crate) detector: String,
    pub(crate) status: &'static str,
    pub(crate) severity: i32,
    pub(crate) dedup_key: String,
    pub(crate) detected_us: i64,
    pub(crate) last_seen_us: i64,
    pub(crate) doc: String,
}

impl AlertRow {
    pub(crate) fn new(alert: &Alert) -> Result<Self, StoreError> {
        let (a, doc) = clean_json(alert, "alert")?;
        Ok(AlertRow {
            id: a.id.to_string(),
            tenant: a.tenant.clone(),
            detector: a.detector.clone(),
            status: a.status.as_str(),
            severity: i32::from(a.severity.id()),
            dedup_key: a.dedup_key.clone(),
            detected_us: micros(a.detected),
            last_seen_us: micros(a.last_seen),
            doc,
        })
    }
}

/// The columns of one `dead_letters` row.
#[derive(Debug)]
pub(crate) struct DeadLetterRow<'a> {
    pub(crate) id: String,
    pub(crate) tenant: Cow<'a, str>,
    pub(crate) source: Cow<'a, str>,
    pub(crate) received_us: i64,
    pub(crate) reason: Cow<'a, str>,
    pub(crate) line: Option<i64>,
    pub(crate) raw: &'a [u8],
    pub(crate) truncated: bool,
}

impl<'a> DeadLetterRow<'a> {
    pub(crate) fn new(d: &'a DeadLetter) -> Result<Self, StoreError> {
        let line = d
            .line
            .map(|n| {
                i64::try_from(n).map_err(|_| StoreError::Invalid {
                    field: "line",
                    reason: format!("{n} is too large to store"),
                })
            })
            .transpose()?;
        Ok(DeadLetterRow {
            id: d.id.to_string(),
            tenant: scrub(&d.tenant),
            source: scrub(&d.source),
            received_us: micros(d.received),
            reason: scrub(&d.reason),
            line,
            raw: &d.raw,
            truncated: d.truncated,
        })
    }
}

/// Rebuilds a dead letter from its columns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dead_letter_from_columns(
    id: String,
    tenant: String,
    source: String,
    received_us: i64,
    reason: String,
    line: Option<i64>,
    raw: Vec<u8>,
    truncated: bool,
) -> Result<DeadLetter, StoreError> {
    let what = "dead letter";
    let line = line
        .map(|n| {
            u64::try_from(n).map_err(|_| StoreError::Corrupt {
                what,
                id: id.clone(),
                reason: format!("line {n} is negative"),
            })
        })
        .transpose()?;
    Ok(DeadLetter {
        id: parse_id(&id, what)?,
        received: from_micros(received_us, what, &id)?,
        tenant,
        source,
        reason,
        line,
        raw,
        truncated,
    })
}

/// An API token with every string made storable.
pub(crate) fn clean_token(t: &ApiToken) -> ApiToken {
    ApiToken {
        id: scrub(&t.id).into_owned(),
        name: scrub(&t.name).into_owned(),
        token_hash: scrub(&t.token_hash).into_owned(),
        role: scrub(&t.role).into_owned(),
        tenant: scrub(&t.tenant).into_owned(),
        created: t.created,
    }
}

/// Builds the event listing for `q`.
pub(crate) fn select_events(
    dialect: Dialect,
    q: &EventQuery,
    cursor: Option<Cursor>,
    size: usize,
) -> Select {
    let mut s = Select::new(
        dialect,
        match dialect {
            Dialect::Sqlite => "SELECT id, doc FROM events WHERE tenant = ",
            Dialect::Postgres => "SELECT id, doc::text AS doc FROM events WHERE tenant = ",
        },
    );
    s.arg(Arg::text(&q.tenant));
    if let Some(from) = q.from {
        s.push(" AND time_us >= ").arg(Arg::Int(micros(from)));
    }
    if let Some(to) = q.to {
        s.push(" AND time_us < ").arg(Arg::Int(micros(to)));
    }
    if let Some(domain) = q.domain {
        s.push(" AND domain = ").arg(Arg::text(domain.as_str()));
    }
    if let Some(class) = &q.class {
        s.push(" AND class = ").arg(Arg::text(class));
    }
    if let Some(site) = &q.site {
        s.push(" AND (site = ")
            .arg(Arg::text(site))
            .push(" OR site_id = ")
            .arg(Arg::text(site))
            .push(")");
    }
    if let Some(person) = &q.person {
        s.push(" AND (person = ")
            .arg(Arg::text(person))
            .push(" OR person_id = ")
            .arg(Arg::text(person))
            .push(" OR user_name = ")
            .arg(Arg::text(person))
            .push(" OR badge = ")
            .arg(Arg::text(person))
            .push(")");
    }
    if let Some(text) = &q.text {
        s.push(" AND search LIKE ")
            .arg(Arg::text(&like_contains(&text.to_lowercase())))
            .push(" ESCAPE '\\'");
    }
    if let Some(c) = cursor {
        s.push(" AND (time_us, id) < (")
            .arg(Arg::Int(c.micros))
            .push(", ")
            .arg(Arg::Text(c.id.to_string()))
            .push(")");
    }
    s.push(" ORDER BY time_us DESC, id DESC LIMIT ")
        .arg(fetch_arg(size));
    s
}

/// Builds the dead-letter listing for `q`.
pub(crate) fn select_dead_letters(
    dialect: Dialect,
    q: &DeadLetterQuery,
    cursor: Option<Cursor>,
    size: usize,
) -> Select {
    let mut s = Select::new(
        dialect,
        "SELECT id, tenant, source, received_us, reason, line, raw, truncated \
         FROM dead_letters WHERE tenant = ",
    );
    s.arg(Arg::text(&q.tenant));
    if let Some(source) = &q.source {
        s.push(" AND source = ").arg(Arg::text(source));
    }
    if let Some(c) = cursor {
        s.push(" AND (received_us, id) < (")
            .arg(Arg::Int(c.micros))
            .push(", ")
            .arg(Arg::Text(c.id.to_string()))
            .push(")");
    }
    s.push(" ORDER BY received_us DESC, id DESC LIMIT ")
        .arg(fetch_arg(size));
    s
}

/// Builds the alert listing for `q`.
pub(crate) fn select_alerts(
    dialect: Dialect,
    q: &AlertQuery,
    cursor: Option<Cursor>,
    size: usize,
) -> Select {
    let mut s = Select::new(
        dialect,
        match dialect {
            Dialect::Sqlite => "SELECT id, doc FROM alerts WHERE tenant = ",
            Dialect::Postgres => "SELECT id, doc::text AS doc FROM alerts WHERE tenant = ",
        },
    );
    s.arg(Arg::text(&q.tenant));
    if let Some(detector) = &q.detector {
        s.push(" AND detector = ").arg(Arg::text(detector));
    }
    if let Some(status) = q.status {
        s.push(" AND status = ").arg(Arg::text(status.as_str()));
    }
    if let Some(min) = q.severity_min {
        s.push(" AND severity >= ").arg(Arg::Int(i64::from(min)));
    }
    if let Some(c) = cursor {
        s.push(" AND (detected_us, id) < (")
            .arg(Arg::Int(c.micros))
            .push(", ")
            .arg(Arg::Text(c.id.to_string()))
            .push(")");
    }
    s.push(" ORDER BY detected_us DESC, id DESC LIMIT ")
        .arg(fetch_arg(size));
    s
}

/// The sort key of an event, matching `ORDER BY time_us DESC, id DESC`.
pub(crate) fn event_key(e: &Event) -> Cursor {
    Cursor {
        micros: micros(e.time),
        id: e.id,
    }
}

/// The sort key of a dead letter, matching `ORDER BY received_us DESC, id DESC`.
pub(crate) fn dead_letter_key(d: &DeadLetter) -> Cursor {
    Cursor {
        micros: micros(d.received),
        id: d.id,
    }
}

/// The sort key of an alert, matching `ORDER BY detected_us DESC, id DESC`.
pub(crate) fn alert_key(a: &Alert) -> Cursor {
    Cursor {
        micros: micros(a.detected),
        id: a.id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_model::Domain;

    fn query() -> EventQuery {
        EventQuery::new("acme")
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_contains("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_contains(""), "%%");
    }

    #[test]
    fn placeholders_follow_the_dialect_and_values_stay_out_of_the_sql() {
        let mut q = query();
        q.class = Some("x' OR 1=1 --".into());
        q.domain = Some(Domain::Cyber);
        q.person = Some("jdoe".into());
        let (sql, args) = select_events(Dialect::Postgres, &q, None, 10).into_parts();
        assert!(!sql.contains("OR 1=1"), "{sql}");
        assert!(
            sql.contains("$7") && !sql.contains("$9") && !sql.contains('?'),
            "{sql}"
        );
        assert_eq!(args.len(), 8);
        assert_eq!(args.last(), Some(&Arg::Int(11)));
        let (sql, args) = select_events(Dialect::Sqlite, &q, None, 10).into_parts();
        assert_eq!(sql.matches('?').count(), args.len());
        assert!(!sql.contains('$'), "{sql}");
    }

    #[test]
    fn nul_is_replaced_everywhere_in_a_document() {
        let mut v = serde_json::json!({"a\u{0}b": ["x\u{0}", {"k": "\u{0}"}], "n": 1});
        scrub_value(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"a\u{FFFD}b": ["x\u{FFFD}", {"k": "\u{FFFD}"}], "n": 1})
        );
        assert_eq!(scrub("plain"), Cow::Borrowed("plain"));
    }

    #[test]
    fn page_size_is_clamped() {
        assert_eq!(page_size(0), 1);
        assert_eq!(page_size(50), 50);
        assert_eq!(page_size(u32::MAX), 1000);
    }
}
