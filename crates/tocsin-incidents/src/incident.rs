use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::checklist::ChecklistItem;
use serde_json::{Map, Value};
use tocsin_model::{Alert, Domain, Severity};
use ulid::Ulid;

/// Longest note, actor or assignee accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Most timeline entries an incident keeps; older alert entries are dropped first.
///
/// An incident is stored as one document, rewritten at every change; these caps keep a busy
/// incident (an alert storm at one site) cheap to write, so grouping keeps up with detection.
pub const MAX_TIMELINE: usize = 1_000;

/// Most alerts one incident holds; later alerts still count (`alerts_dropped`) but are not
/// listed — their own records stay in the alert store.
pub const MAX_ALERTS: usize = 250;

/// Longest span any clock or window is taken to be (about 290 years): chrono refuses larger
/// spans, and no SLA or grouping window needs more.
pub(crate) const MAX_SPAN_SECS: i64 = i64::MAX / 1_000_000;

/// Seconds as a span, clamped to [`MAX_SPAN_SECS`] so that no configured value can panic.
pub(crate) fn span(secs: u64) -> Duration {
    Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX).min(MAX_SPAN_SECS))
}

/// Why an incident operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("field `state`: cannot move from {from} to {to}")]
    IllegalTransition {
        from: IncidentState,
        to: IncidentState,
    },
    #[error("incident {0} is closed")]
    Closed(Ulid),
    #[error("field `alerts`: alert {0} is not in the incident")]
    UnknownAlert(Ulid),
    #[error("field `alerts`: a split must leave at least one alert on each side")]
    EmptySplit,
    #[error("field `id`: an incident cannot be merged into itself")]
    SameIncident,
    #[error("field `tenant`: incidents belong to different tenants")]
    TenantMismatch,
    #[error("field `{field}`: longer than {max} bytes")]
    TooLong { field: &'static str, max: usize },
    #[error("field `{field}`: must not be empty")]
    Empty { field: &'static str },
    #[error("field `answers.{0}`: not one of exploited, threat, impact, improve")]
    UnknownQuestion(String),
    #[error("field `checklist`: there is no step {0}")]
    UnknownStep(usize),
}

/// Where an incident stands. The order of the variants is the order of the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    New,
    Acknowledged,
    Investigating,
    Contained,
    Resolved,
    Closed,
}

impl IncidentState {
    pub const ALL: [IncidentState; 6] = [
        IncidentState::New,
        IncidentState::Acknowledged,
        IncidentState::Investigating,
        IncidentState::Contained,
        IncidentState::Resolved,
        IncidentState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::New => "new",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::Investigating => "investigating",
            IncidentState::Contained => "contained",
            IncidentState::Resolved => "resolved",
            IncidentState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the incident still takes new alerts and runs its clocks.
    pub fn is_open(self) -> bool {
        self < IncidentState::Resolved
    }

    /// Moves go forward (steps may be skipped, e.g. resolving a false alarm at once); a resolved
    /// incident may be reopened to `investigating`. Closed is final.
    pub fn can_move_to(self, to: IncidentState) -> bool {
        match (self, to) {
            (IncidentState::Closed, _) => false,
            (IncidentState::Resolved, IncidentState::Investigating) => true,
            (from, to) => to > from,
        }
    }
}

impl std::fmt::Display for IncidentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an acknowledged alert or incident turned out to be; feeds per-rule noise statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    TruePositive,
    Benign,
    FalsePositive,
    Duplicate,
    Exercise,
}

impl Disposition {
    pub const ALL: [Disposition; 5] = [
        Disposition::TruePositive,
        Disposition::Benign,
        Disposition::FalsePositive,
        Disposition::Duplicate,
        Disposition::Exercise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::TruePositive => "true_positive",
            Disposition::Benign => "benign",
            Disposition::FalsePositive => "false_positive",
            Disposition::Duplicate => "duplicate",
            Disposition::Exercise => "exercise",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// The alert as the incident remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentAlert {
    pub id: Ulid,
    pub detector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub title: String,
    pub domain: Domain,
    pub severity: Severity,
    /// Event time of the first triggering event.
    pub time: DateTime<Utc>,
    pub ingested: DateTime<Utc>,
    pub detected: DateTime<Utc>,
    #[serde(default)]
    pub entities: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<DateTime<Utc>>,
}

impl IncidentAlert {
    pub fn from_alert(a: &Alert) -> Self {
        IncidentAlert {
            id: a.id,
            detector: a.detector.clone(),
            rule: a.rule.clone(),
            title: a.title.clone(),
            domain: a.domain,
            severity: a.severity,
            time: a.time,
            ingested: a.ingested,
            detected: a.detected,
            entities: a.entities.clone(),
            site_id: a.site_id.clone(),
            disposition: None,
            acknowledged: None,
        }
    }

    /// `detector/rule`, the key of the per-rule statistics.
    pub fn rule_key(&self) -> String {
        match &self.rule {
            Some(r) => format!("{}/{}", self.detector, r),
            None => self.detector.clone(),
        }
    }
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Alert,
    Acknowledgement,
    Note,
    StateChange,
    Assignment,
    ChecklistStep,
    Merge,
    Split,
    Review,
    Notification,
}

impl TimelineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Alert => "alert",
            TimelineKind::Acknowledgement => "acknowledgement",
            TimelineKind::Note => "note",
            TimelineKind::StateChange => "state_change",
            TimelineKind::Assignment => "assignment",
            TimelineKind::ChecklistStep => "checklist_step",
            TimelineKind::Merge => "merge",
            TimelineKind::Split => "split",
            TimelineKind::Review => "review",
            TimelineKind::Notification => "notification",
        }
    }
}

/// One line of the shared timeline, in the order things happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    /// Who did it: a user name, or `tocsin` for the system.
    pub actor: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Ulid>,
}

/// Who works on the incident.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Assignment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
}

/// How long acknowledging and resolving may take, from the moment the incident opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicy {
    pub acknowledge_secs: u64,
    pub resolve_secs: u64,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            acknowledge_secs: 15 * 60,
            resolve_secs: 4 * 3600,
        }
    }
}

impl SlaPolicy {
    /// Tighter clocks for severe incidents: a critical one must be acknowledged in 5 minutes.
    pub fn for_severity(s: Severity) -> Self {
        if s >= Severity::CRITICAL {
            SlaPolicy {
                acknowledge_secs: 5 * 60,
                resolve_secs: 3600,
            }
        } else if s >= Severity::HIGH {
            SlaPolicy {
                acknowledge_secs: 15 * 60,
                resolve_secs: 4 * 3600,
            }
        } else {
            SlaPolicy {
                acknowledge_secs: 3600,
                resolve_secs: 24 * 3600,
            }
        }
    }
}

/// The SLA clocks at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaStatus {
    pub acknowledge_due: DateTime<Utc>,
    /// Seconds taken to acknowledge, once acknowledged.
    pub acknowledge_secs: Option<i64>,
    /// Past due: acknowledged late, or not acknowledged and the deadline has passed.
    pub acknowledge_breached: bool,
    pub resolve_due: DateTime<Utc>,
    pub resolve_secs: Option<i64>,
    pub resolve_breached: bool,
}

/// A group of alerts that both teams handle as one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: Ulid,
    /// How many times it was stored. A write carries the revision it was read at, and the store
    /// refuses it when someone else wrote meanwhile, so no change is lost silently.
    #[serde(default)]
    pub revision: u64,
    pub tenant: String,
    pub title: String,
    pub state: IncidentState,
    pub severity: Severity,
    /// What grouped its alerts (see [`crate::group_key`]); manual incidents have their own.
    pub group_key: String,
    /// When the incident was opened (the clock, not event time).
    pub opened: DateTime<Utc>,
    /// When it last changed.
    pub updated: DateTime<Utc>,
    /// Event time of the latest alert, for the grouping window.
    pub last_alert: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contained: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    #[serde(default)]
    pub assignment: Assignment,
    pub sla: SlaPolicy,
    /// Set when merged into another incident (this one is then closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<Ulid>,
    /// Alerts that joined beyond [`MAX_ALERTS`].
    #[serde(default)]
    pub alerts_dropped: u64,
    pub alerts: Vec<IncidentAlert>,
    pub timeline: Vec<TimelineEntry>,
    /// The procedure for this type of incident (see [`crate::Checklists`]), ticked as it goes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<ChecklistItem>,
    /// The post-incident review, as the responders wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
}

/// The keys of the four review questions ([`crate::report::QUESTIONS`]), in order.
pub const REVIEW_KEYS: [&str; 4] = ["exploited", "threat", "impact", "improve"];

/// The responders' answers to the four review questions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// Answer per question key ([`REVIEW_KEYS`]); a missing key is not answered yet.
    pub answers: std::collections::BTreeMap<String, String>,
    /// Who wrote it last, and when.
    pub by: String,
    pub updated: DateTime<Utc>,
}

fn checked(field: &'static str, s: &str) -> Result<(), IncidentError> {
    if s.trim().is_empty() {
        return Err(IncidentError::Empty { field });
    }
    if s.len() > MAX_TEXT_BYTES {
        return Err(IncidentError::TooLong {
            field,
            max: MAX_TEXT_BYTES,
        });
    }
    Ok(())
}

fn alert_line(a: &IncidentAlert) -> String {
    format!(
        "{} alert ({}, {}): {}",
        a.domain,
        a.severity.name(),
        a.rule_key(),
        a.title
    )
}

impl Incident {
    /// Opens an incident around its first alert.
    pub fn open(id: Ulid, alert: &Alert, group_key: String, now: DateTime<Utc>) -> Self {
        let mut inc = Incident {
            id,
            revision: 0,
            tenant: alert.tenant.clone(),
            title: alert.title.clone(),
            state: IncidentState::New,
            severity: alert.severity,
            group_key,
            opened: now,
            updated: now,
            last_alert: alert.time,
            acknowledged: None,
            acknowledged_by: None,
            contained: None,
            resolved: None,
            closed: None,
            disposition: None,
            assignment: Assignment::default(),
            sla: SlaPolicy::for_severity(alert.severity),
            merged_into: None,
            alerts_dropped: 0,
            alerts: Vec::new(),
            timeline: Vec::new(),
            checklist: Vec::new(),
            review: None,
        };
        inc.add_alert(alert, now);
        inc
    }

    /// Whether `alert` belongs here by the grouping window: the incident is open and the alert's
    /// event time is within `window` of the latest alert's.
    pub fn accepts(&self, alert: &Alert, window: Duration) -> bool {
        self.state.is_open()
            && self.tenant == alert.tenant
            && (alert.time - self.last_alert).abs() <= window
    }

    /// Adds an alert (a repeat of one already here changes nothing) and records it on the
    /// timeline at its detection time. Returns whether it was new here.
    pub fn add_alert(&mut self, alert: &Alert, now: DateTime<Utc>) -> bool {
        if self.alerts.iter().any(|a| a.id == alert.id) {
            return false;
        }
        let entry = IncidentAlert::from_alert(alert);
        self.push_entry(TimelineEntry {
            at: alert.detected,
            kind: TimelineKind::Alert,
            actor: "tocsin".into(),
            text: alert_line(&entry),
            domain: Some(alert.domain),
            alert: Some(alert.id),
        });
        if self.alerts.len() < MAX_ALERTS {
            self.alerts.push(entry);
        } else {
            self.alerts_dropped += 1;
        }
        self.severity = self.severity.max(alert.severity);
        self.last_alert = self.last_alert.max(alert.time);
        self.updated = now;
        true
    }

    fn push_entry(&mut self, e: TimelineEntry) {
        // Entries arrive nearly in order; inserting by time keeps the timeline sorted even when
        // an alert's detection time is earlier than the last human action.
        let at = self
            .timeline
            .iter()
            .rposition(|x| x.at <= e.at)
            .map_or(0, |i| i + 1);
        self.timeline.insert(at, e);
        if self.timeline.len() > MAX_TIMELINE {
            let drop = self
                .timeline
                .iter()
                .position(|x| x.kind == TimelineKind::Alert)
                .unwrap_or(0);
            self.timeline.remove(drop);
        }
    }

    fn entry(&mut self, kind: TimelineKind, actor: &str, text: String, now: DateTime<Utc>) {
        self.push_entry(TimelineEntry {
            at: now,
            kind,
            actor: actor.to_owned(),
            text,
            domain: None,
            alert: None,
        });
        self.updated = now;
    }

    fn ensure_not_closed(&self) -> Result<(), IncidentError> {
        if self.state == IncidentState::Closed {
            return Err(IncidentError::Closed(self.id));
        }
        Ok(())
    }

    /// Moves the incident to `to`, recording who and when.
    pub fn transition(
        &mut self,
        to: IncidentState,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IncidentError> {
        checked("actor", by)?;
        let from = self.state;
        if !from.can_move_to(to) {
            return Err(IncidentError::IllegalTransition { from, to });
        }
        self.state = to;
        if to >= IncidentState::Acknowledged && self.acknowledged.is_none() {
            self.acknowledged = Some(now);
            self.acknowledged_by = Some(by.to_owned());
        }
        if to >= IncidentState::Contained && self.contained.is_none() {
            self.contained = Some(now);
        }
        match to {
            IncidentState::Resolved => self.resolved = Some(now),
            IncidentState::Closed => {
                self.resolved.get_or_insert(now);
                self.closed = Some(now);
            }
            IncidentState::Investigating if from == IncidentState::Resolved => {
                self.resolved = None;
            }
            _ => {}
        }
        self.entry(
            TimelineKind::StateChange,
            by,
            format!("state {from} → {to}"),
            now,
        );
        Ok(())
    }

    /// Acknowledges the incident (and each of its alerts not yet acknowledged) with an optional
    /// disposition. Acknowledging again only records the disposition.
    pub fn acknowledge(
        &mut self,
        by: &str,
        disposition: Option<Disposition>,
        now: DateTime<Utc>,
    ) -> Result<(), IncidentError> {
        checked("actor", by)?;
        self.ensure_not_closed()?;
        if self.state == IncidentState::New {
            self.transition(IncidentState::Acknowledged, by, now)?;
        }
        if let Some(d) = disposition {
            self.disposition = Some(d);
        }
        for a in &mut self.alerts {
            a.acknowledged.get_or_insert(now);
            if let Some(d) = disposition {
                a.disposition.get_or_insert(d);
            }
        }
        let text = match disposition {
            Some(d) => format!("acknowledged as {}", d.as_str()),
            None => "acknowledged".to_owned(),
        };
        self.entry(TimelineKind::Acknowledgement, by, text, now);
        Ok(())
    }

    /// Acknowledges one alert of the incident with an optional disposition; the first alert
    /// acknowledged also acknowledges a new incident.
    pub fn acknowledge_alert(
        &mut self,
        alert: Ulid,
        by: &str,
        disposition: Option<Disposition>,
        now: DateTime<Utc>,
    ) -> Result<(), IncidentError> {
        checked("actor", by)?;
        self.ensure_not_closed()?;
        let a = self
            .alerts
            .iter_mut()
            .find(|a| a.id == alert)
            .ok_or(IncidentError::UnknownAlert(alert))?;
        a.acknowledged.get_or_insert(now);
        if let Some(d) = disposition {
            a.disposition = Some(d);
        }
        let title = a.title.clone();
        let domain = a.domain;
        if self.state == IncidentState::New {
            self.transition(IncidentState::Acknowledged, by, now)?;
        }
        let text = match disposition {
            Some(d) => format!("alert \"{title}\" acknowledged as {}", d.as_str()),
            None => format!("alert \"{title}\" acknowledged"),
        };
        self.push_entry(TimelineEntry {
            at: now,
            kind: TimelineKind::Acknowledgement,
            actor: by.to_owned(),
            text,
            domain: Some(domain),
            alert: Some(alert),
        });
        self.updated = now;
        Ok(())
    }

    /// Assigns a team and/or a person (`None` leaves that part as it was).
    pub fn assign(
        &mut self,
        team: Option<&str>,
        person: Option<&str>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IncidentError> {
        checked("actor", by)?;
        self.ensure_not_closed()?;
        if let Some(t) = team {
            checked("team", t)?;
            self.assignment.team = Some(t.to_owned());
        }
        if let Some(p) = person {
            checked("person", p)?;
            self.assignment.person = Some(p.to_owned());
        }
        let text = format!(
            "assigned to team {} and person {}",
            self.assignment.team.as_deref().unwrap_or("-"),
            self.assignment.person.as_deref().unwrap_or("-")
        );
        self.entry(TimelineKind::Assignment, by, text, now);
        Ok(())
    }

    /// Adds a note to the timeline.
    pub fn note(&mut self, text: &str, by: &str, now: DateTime<Utc>) -> Result<(), IncidentError> {
        checked("actor", by)?;
        checked("text", text)?;
        self.entry(TimelineKind::Note, by, text.to_owned(), now);
        Ok(())
    }

    /// Records a checklist step as done.
    pub fn checklist_step(
        &mut self,
        step: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IncidentError> {
        checked("actor", by)?;
        checked("step", step)?;
        self.ensure_not_closed()?;
        self.entry(
            TimelineKind::ChecklistStep,
            by,
            format!("done: {step}"),
            now,
        );
        Ok(())
    }

    /// Records a notification sent about one of the incident's alerts (by Tocsin, at `now`).
    pub fn record_notification(
        &mut self,
        alert: Ulid,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IncidentError> {
        checked("text", text)?;
        self.ensure_not_closed()?;
        self.push_entry(TimelineEntry {
            at: now,
            kind: TimelineKind::Notification,
            actor: "tocsin".into(),
            text: text.to_owned(),
            domain: None,
            alert: Some(alert),
        });
        self.updated = now;
        Ok(())
    }

    /// Adds steps to the checklist (those not already on it), e.g. when an alert of another
    /// kind joins. Returns how many were added.
    pub fn add_checklist(&mut self, items: Vec<ChecklistItem>) -> usize {
        let mut added = 0;
        for i in items {
            if crate::checklist::push_step(&mut self.checklist, &i.step, i.from.as_deref()) {
                added += 1;
            }
        }
        added
    }

    /// Ticks (or unticks) step `index` of the checklist, on the timeline too.
    pub fn set_checklist_item(
        &mut self,
        index: usize,
        done: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IncidentError> {
        checked("actor", by)?;
        self.ensure_not_closed()?;
        let item = self
            .checklist
            .get_mut(index)
            .ok_or(IncidentError::UnknownStep(index))?;
        if item.done == done {
            return Ok(());
        }
        item.done = done;
        item.by = Some(by.to_owned());
        item.at = Some(now);
        let text = format!("{}: {}", if done { "done" } else { "reopened" }, item.step);
        self.entry(TimelineKind::ChecklistStep, by, text, now);
        Ok(())
    }

    /// Writes the responders' answers to the review questions. Keys are [`REVIEW_KEYS`]; an
    /// empty answer clears that question. Other answers already given stay.
    pub fn set_review(
        &mut self,
        answers: &std::collections::BTreeMap<String, String>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IncidentError> {
        checked("actor", by)?;
        for (k, v) in answers {
            if !REVIEW_KEYS.contains(&k.as_str()) {
                return Err(IncidentError::UnknownQuestion(k.clone()));
            }
            if v.len() > MAX_TEXT_BYTES {
                return Err(IncidentError::TooLong {
                    field: "answers",
                    max: MAX_TEXT_BYTES,
                });
            }
        }
        let review = self.review.get_or_insert_with(|| Review {
            answers: Default::default(),
            by: by.to_owned(),
            updated: now,
        });
        for (k, v) in answers {
            if v.trim().is_empty() {
                review.answers.remove(k);
            } else {
                review.answers.insert(k.clone(), v.clone());
            }
        }
        review.by = by.to_owned();
        review.updated = now;
        let answered = review.answers.len();
        self.entry(
            TimelineKind::Review,
            by,
            format!("review updated ({answered} of 4 questions answered)"),
            now,
        );
        Ok(())
    }

    /// The SLA clocks at `now`.
    pub fn sla_status(&self, now: DateTime<Utc>) -> SlaStatus {
        let due = |s: u64| {
            self.opened
                .checked_add_signed(span(s))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        let acknowledge_due = due(self.sla.acknowledge_secs);
        let resolve_due = due(self.sla.resolve_secs);
        let taken = |t: Option<DateTime<Utc>>| t.map(|t| (t - self.opened).num_seconds());
        SlaStatus {
            acknowledge_due,
            acknowledge_secs: taken(self.acknowledged),
            acknowledge_breached: self.acknowledged.unwrap_or(now) > acknowledge_due,
            resolve_due,
            resolve_secs: taken(self.resolved),
            resolve_breached: self.resolved.unwrap_or(now) > resolve_due,
        }
    }

    /// The domains its alerts come from, in [`Domain::ALL`] order.
    pub fn domains(&self) -> Vec<Domain> {
        Domain::ALL
            .into_iter()
            .filter(|d| self.alerts.iter().any(|a| a.domain == *d))
            .collect()
    }

    pub(crate) fn note_merge_or_split(
        &mut self,
        kind: TimelineKind,
        by: &str,
        text: String,
        now: DateTime<Utc>,
    ) {
        self.entry(kind, by, text, now);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, 2, 13, 7).unwrap()
    }

    pub(crate) fn alert(n: u128, secs: i64, domain: Domain, entities: &[(&str, &str)]) -> Alert {
        let time = t0() + Duration::seconds(secs);
        Alert {
            id: Ulid::from_parts(1_777_860_787_000, n),
            tenant: "default".into(),
            detector: "rule".into(),
            rule: Some(format!("r{n}")),
            domain,
            severity: Severity::HIGH,
            title: format!("alert {n}"),
            summary: String::new(),
            status: tocsin_model::AlertStatus::Open,
            time,
            ingested: time + Duration::seconds(1),
            detected: time + Duration::seconds(2),
            last_seen: time,
            count: 1,
            dedup_key: format!("rule:r{n}"),
            evidence: vec![],
            entities: entities
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                .collect(),
            geo: None,
            site_id: None,
            notified: None,
            acknowledged: None,
        }
    }

    fn incident() -> Incident {
        let a = alert(1, 0, Domain::Physical, &[("site", "dc2")]);
        Incident::open(Ulid::from_parts(1, 1), &a, "site=dc2".into(), t0())
    }

    #[test]
    fn checklist_steps_tick_on_the_timeline_and_stay_unique() {
        let mut inc = incident();
        let item = |s: &str| ChecklistItem {
            step: s.into(),
            from: Some("Intrusion".into()),
            done: false,
            by: None,
            at: None,
        };
        assert_eq!(
            inc.add_checklist(vec![item("Send a guard"), item("Check the camera")]),
            2
        );
        assert_eq!(inc.add_checklist(vec![item("Send a guard")]), 0);
        let t = t0() + Duration::minutes(3);
        inc.set_checklist_item(1, true, "ben", t).unwrap();
        assert!(inc.checklist[1].done);
        assert_eq!(inc.checklist[1].by.as_deref(), Some("ben"));
        assert_eq!(inc.checklist[1].at, Some(t));
        let last = inc.timeline.last().unwrap();
        assert_eq!(last.kind, TimelineKind::ChecklistStep);
        assert_eq!(last.text, "done: Check the camera");
        // Ticking again records nothing new; unticking does.
        let n = inc.timeline.len();
        inc.set_checklist_item(1, true, "ben", t).unwrap();
        assert_eq!(inc.timeline.len(), n);
        inc.set_checklist_item(1, false, "ana", t).unwrap();
        assert_eq!(inc.timeline.len(), n + 1);
        assert_eq!(
            inc.set_checklist_item(7, true, "ana", t),
            Err(IncidentError::UnknownStep(7))
        );
    }

    #[test]
    fn states_move_forward_record_who_and_when_and_closed_is_final() {
        let mut inc = incident();
        let t = |m| t0() + Duration::minutes(m);
        inc.transition(IncidentState::Acknowledged, "ana", t(3))
            .unwrap();
        inc.transition(IncidentState::Investigating, "ben", t(5))
            .unwrap();
        assert_eq!(
            inc.transition(IncidentState::Acknowledged, "ben", t(6)),
            Err(IncidentError::IllegalTransition {
                from: IncidentState::Investigating,
                to: IncidentState::Acknowledged
            })
        );
        inc.transition(IncidentState::Contained, "ben", t(20))
            .unwrap();
        inc.transition(IncidentState::Resolved, "ana", t(40))
            .unwrap();
        inc.transition(IncidentState::Investigating, "ana", t(41))
            .unwrap();
        assert_eq!(inc.resolved, None);
        inc.transition(IncidentState::Resolved, "ana", t(50))
            .unwrap();
        inc.transition(IncidentState::Closed, "lead", t(60))
            .unwrap();
        assert_eq!(inc.acknowledged, Some(t(3)));
        assert_eq!(inc.acknowledged_by.as_deref(), Some("ana"));
        assert_eq!(inc.contained, Some(t(20)));
        assert_eq!(inc.resolved, Some(t(50)));
        assert_eq!(inc.closed, Some(t(60)));
        let changes: Vec<_> = inc
            .timeline
            .iter()
            .filter(|e| e.kind == TimelineKind::StateChange)
            .map(|e| (e.actor.as_str(), e.at))
            .collect();
        assert_eq!(changes.len(), 7);
        assert_eq!(changes[0], ("ana", t(3)));
        assert_eq!(changes[6], ("lead", t(60)));
        for to in IncidentState::ALL {
            assert!(inc.transition(to, "x", t(61)).is_err());
        }
        assert_eq!(
            inc.note("", "x", t(61)),
            Err(IncidentError::Empty { field: "text" })
        );
    }

    #[test]
    fn skipping_forward_sets_the_acknowledgement_once() {
        let mut inc = incident();
        let t = t0() + Duration::minutes(2);
        inc.transition(IncidentState::Resolved, "ana", t).unwrap();
        assert_eq!(inc.acknowledged, Some(t));
        assert_eq!(inc.contained, Some(t));
        assert_eq!(inc.resolved, Some(t));
    }

    #[test]
    fn acknowledge_sets_dispositions_and_sla_clocks_follow_the_clock_argument() {
        let mut inc = incident();
        assert_eq!(inc.sla.acknowledge_secs, 15 * 60);
        let early = inc.sla_status(t0() + Duration::minutes(10));
        assert!(!early.acknowledge_breached);
        assert_eq!(early.acknowledge_due, t0() + Duration::minutes(15));
        let late = inc.sla_status(t0() + Duration::minutes(16));
        assert!(late.acknowledge_breached);
        inc.acknowledge(
            "ana",
            Some(Disposition::Exercise),
            t0() + Duration::minutes(20),
        )
        .unwrap();
        let s = inc.sla_status(t0() + Duration::minutes(21));
        assert_eq!(s.acknowledge_secs, Some(20 * 60));
        assert!(s.acknowledge_breached);
        assert!(!s.resolve_breached);
        assert_eq!(inc.state, IncidentState::Acknowledged);
        assert_eq!(inc.alerts[0].disposition, Some(Disposition::Exercise));
        let other = inc.alerts[0].id;
        inc.acknowledge_alert(other, "ben", Some(Disposition::Benign), t0())
            .unwrap();
        assert_eq!(inc.alerts[0].disposition, Some(Disposition::Benign));
        assert_eq!(
            inc.acknowledge_alert(Ulid::nil(), "ben", None, t0()),
            Err(IncidentError::UnknownAlert(Ulid::nil()))
        );
    }

    #[test]
    fn timeline_stays_in_time_order_and_repeats_are_ignored() {
        let mut inc = incident();
        inc.note("door checked", "ana", t0() + Duration::minutes(5))
            .unwrap();
        let late = alert(2, 60, Domain::Cyber, &[]);
        assert!(inc.add_alert(&late, t0() + Duration::minutes(6)));
        assert!(!inc.add_alert(&late, t0() + Duration::minutes(7)));
        let times: Vec<_> = inc.timeline.iter().map(|e| e.at).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted);
        assert_eq!(inc.alerts.len(), 2);
        assert_eq!(inc.domains(), vec![Domain::Cyber, Domain::Physical]);
    }

    #[test]
    fn huge_clocks_saturate_instead_of_panicking() {
        let mut inc = incident();
        inc.sla = SlaPolicy {
            acknowledge_secs: u64::MAX,
            resolve_secs: u64::try_from(i64::MAX).unwrap(),
        };
        let s = inc.sla_status(t0());
        assert!(!s.acknowledge_breached && !s.resolve_breached);
        assert!(s.acknowledge_due > t0() + Duration::days(365 * 200));
        let far = alert(5, 0, Domain::Cyber, &[]);
        assert!(inc.accepts(&far, span(u64::MAX)));
    }

    #[test]
    fn names_round_trip() {
        for s in IncidentState::ALL {
            assert_eq!(IncidentState::parse(s.as_str()), Some(s));
        }
        for d in Disposition::ALL {
            assert_eq!(Disposition::parse(d.as_str()), Some(d));
            assert_eq!(
                serde_json::to_value(d).unwrap(),
                Value::String(d.as_str().into())
            );
        }
        assert_eq!(IncidentState::parse("done"), None);
    }
}
