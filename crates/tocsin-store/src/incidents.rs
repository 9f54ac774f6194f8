//! What both backends share for incidents: the query, the row columns and the listing builder.

use chrono::{DateTime, Utc};
use tocsin_incidents::{Incident, IncidentState};

use crate::cursor::Cursor;
use crate::sql::{Arg, Dialect, Select, clean_json, fetch_arg, micros};
use crate::{DEFAULT_PAGE_SIZE, StoreError};

/// Filters for [`crate::Store::query_incidents`]. Every filter that is set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentQuery {
    /// Only this tenant's incidents; always applied.
    pub tenant: String,
    /// Only incidents in this state.
    pub state: Option<IncidentState>,
    /// Only incidents at least this severe (OCSF id 0–6).
    pub severity_min: Option<u8>,
    /// Only incidents assigned to this team.
    pub team: Option<String>,
    /// Only incidents assigned to this person.
    pub person: Option<String>,
    /// Opened at or after this (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Opened before this (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Page size, clamped to 1..=[`crate::MAX_PAGE_SIZE`].
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl IncidentQuery {
    /// All incidents of `tenant`, [`DEFAULT_PAGE_SIZE`] per page.
    pub fn new(tenant: impl Into<String>) -> Self {
        IncidentQuery {
            tenant: tenant.into(),
            state: None,
            severity_min: None,
            team: None,
            person: None,
            from: None,
            to: None,
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
        }
    }
}

/// The columns of one `incidents` row, and the alert ids for `incident_alerts`.
#[derive(Debug)]
pub(crate) struct IncidentRow {
    pub(crate) id: String,
    pub(crate) tenant: String,
    /// The revision this write creates: one past the one the incident was read at.
    pub(crate) revision: i64,
    pub(crate) state: &'static str,
    pub(crate) severity: i32,
    pub(crate) group_key: String,
    pub(crate) opened_us: i64,
    pub(crate) last_alert_us: i64,
    pub(crate) team: Option<String>,
    pub(crate) person: Option<String>,
    pub(crate) doc: String,
    pub(crate) alerts: Vec<String>,
}

impl IncidentRow {
    pub(crate) fn new(inc: &Incident) -> Result<Self, StoreError> {
        let too_many = || StoreError::Invalid {
            field: "revision",
            reason: "out of range".to_owned(),
        };
        let mut next = inc.clone();
        next.revision = inc.revision.checked_add(1).ok_or_else(too_many)?;
        let revision = i64::try_from(next.revision).map_err(|_| too_many())?;
        let (i, doc) = clean_json(&next, "incident")?;
        Ok(IncidentRow {
            id: i.id.to_string(),
            tenant: i.tenant.clone(),
            revision,
            state: i.state.as_str(),
            severity: i32::from(i.severity.id()),
            group_key: i.group_key.clone(),
            opened_us: micros(i.opened),
            last_alert_us: micros(i.last_alert),
            team: i.assignment.team.clone(),
            person: i.assignment.person.clone(),
            doc,
            alerts: i.alerts.iter().map(|a| a.id.to_string()).collect(),
        })
    }
}

/// Builds the incident listing for `q`, newest opened first.
pub(crate) fn select_incidents(
    dialect: Dialect,
    q: &IncidentQuery,
    cursor: Option<Cursor>,
    size: usize,
) -> Select {
    let mut s = Select::new(
        dialect,
        match dialect {
            Dialect::Sqlite => "SELECT id, doc FROM incidents WHERE tenant = ",
            Dialect::Postgres => "SELECT id, doc::text AS doc FROM incidents WHERE tenant = ",
        },
    );
    s.arg(Arg::text(&q.tenant));
    if let Some(state) = q.state {
        s.push(" AND state = ").arg(Arg::text(state.as_str()));
    }
    if let Some(min) = q.severity_min {
        s.push(" AND severity >= ").arg(Arg::Int(i64::from(min)));
    }
    if let Some(team) = &q.team {
        s.push(" AND assigned_team = ").arg(Arg::text(team));
    }
    if let Some(person) = &q.person {
        s.push(" AND assigned_person = ").arg(Arg::text(person));
    }
    if let Some(from) = q.from {
        s.push(" AND opened_us >= ").arg(Arg::Int(micros(from)));
    }
    if let Some(to) = q.to {
        s.push(" AND opened_us < ").arg(Arg::Int(micros(to)));
    }
    if let Some(c) = cursor {
        s.push(" AND (opened_us, id) < (")
            .arg(Arg::Int(c.micros))
            .push(", ")
            .arg(Arg::Text(c.id.to_string()))
            .push(")");
    }
    s.push(" ORDER BY opened_us DESC, id DESC LIMIT ")
        .arg(fetch_arg(size));
    s
}

/// The sort key of an incident, matching `ORDER BY opened_us DESC, id DESC`.
pub(crate) fn incident_key(i: &Incident) -> Cursor {
    Cursor {
        micros: micros(i.opened),
        id: i.id,
    }
}
