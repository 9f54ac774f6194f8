//! Alert text written for both teams: what happened, what the guard and the analyst should do
//! next, and what is at stake for people, physical assets and digital assets.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tocsin_detect::{Detection, entities_of};
use tocsin_model::{Domain, Event, Geo, Severity};
use ulid::Ulid;

/// Most evidence events an alert names.
const MAX_EVIDENCE: usize = 20;

/// A converged alert before it becomes a [`Detection`].
#[derive(Debug, Clone)]
pub(crate) struct Alarm {
    pub detector: &'static str,
    pub rule: Option<String>,
    pub severity: Severity,
    pub title: String,
    pub what: String,
    pub guard: String,
    pub analyst: String,
    pub people: String,
    pub physical: String,
    pub digital: String,
    pub evidence: Vec<Ulid>,
    pub entities: Map<String, Value>,
    pub dedup_key: String,
    pub dedup_window_secs: u64,
    pub site_id: Option<String>,
    pub geo: Option<Geo>,
}

impl Alarm {
    pub fn new(detector: &'static str, severity: Severity, e: &Event) -> Self {
        Self {
            detector,
            rule: None,
            severity,
            title: String::new(),
            what: String::new(),
            guard: String::new(),
            analyst: String::new(),
            people: "none identified".into(),
            physical: "none identified".into(),
            digital: "none identified".into(),
            evidence: vec![e.id],
            entities: entities_of(e),
            dedup_key: String::new(),
            dedup_window_secs: 3600,
            site_id: e.site_id.clone(),
            geo: e.geo.clone(),
        }
    }

    pub fn entity(mut self, k: &str, v: impl Into<Value>) -> Self {
        self.entities.insert(k.to_owned(), v.into());
        self
    }

    pub fn evidence(mut self, id: Ulid) -> Self {
        if !self.evidence.contains(&id) && self.evidence.len() < MAX_EVIDENCE {
            // Earlier evidence first: it is what led up to the triggering event.
            self.evidence.insert(0, id);
        }
        self
    }

    /// The plain-language summary: one block for both teams.
    pub fn summary(&self) -> String {
        format!(
            "{}\n\nGuard: {}\nAnalyst: {}\n\nImpact on people: {}\nImpact on physical assets: {}\nImpact on digital assets: {}",
            self.what, self.guard, self.analyst, self.people, self.physical, self.digital
        )
    }

    pub fn into_detection(self, e: &Event) -> Detection {
        let summary = self.summary();
        let mut entities = self.entities;
        entities.insert(
            "impact".into(),
            serde_json::json!({
                "people": self.people,
                "physical": self.physical,
                "digital": self.digital,
            }),
        );
        Detection {
            detector: self.detector,
            rule: self.rule,
            domain: domain_of(e),
            severity: self.severity,
            title: self.title,
            summary,
            dedup_key: self.dedup_key,
            dedup_window_secs: self.dedup_window_secs,
            time: e.time,
            ingested: e.ingested,
            evidence: self.evidence,
            entities,
            geo: self.geo,
            site_id: self.site_id,
            tenant: e.tenant.clone(),
        }
    }
}

fn domain_of(e: &Event) -> Domain {
    e.domain
}

/// Whole seconds between two times, negative when `b` is before `a`.
pub(crate) fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_seconds()
}

/// A duration in words for summaries.
pub(crate) fn human(secs: i64) -> String {
    let s = secs.unsigned_abs();
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else {
        format!("{:.1} h", s as f64 / 3600.0)
    }
}

/// Case-insensitive membership.
pub(crate) fn is_one_of(value: Option<&str>, list: &[String]) -> bool {
    value.is_some_and(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
}

/// A string field of the original record (`fields.<name>`), also when given as a number.
pub(crate) fn field<'a>(e: &'a Event, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    match e.fields.get(name)? {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Owned(b.to_string())),
        _ => None,
    }
}
