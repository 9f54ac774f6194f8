//! Detection: the [`Detector`] trait and the built-in rule detector.
//!
//! Architecture invariant: detectors do no IO and never read the wall clock. They see events in
//! the order the pipeline gives them and judge by event time, so the same input always gives the
//! same detections. Their state is bounded by caps they report.

mod rules;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tocsin_model::{Domain, Event, Geo, Severity};
use ulid::Ulid;

pub use rules::{Condition, DedupConfig, Rule, RuleDetector, RuleError, Threshold};

/// Something a detector saw. The alert stage turns it into an alert or folds it into an open one
/// with the same `dedup_key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Which detector (e.g. `rule`).
    pub detector: &'static str,
    /// Which rule of the detector, when it has rules.
    pub rule: Option<String>,
    pub domain: Domain,
    pub severity: Severity,
    pub title: String,
    pub summary: String,
    /// Repeats with the same key inside `dedup_window_secs` are one alert.
    pub dedup_key: String,
    pub dedup_window_secs: u64,
    /// Event time of the triggering event.
    pub time: DateTime<Utc>,
    /// Ingest time of the triggering event.
    pub ingested: DateTime<Utc>,
    pub evidence: Vec<Ulid>,
    pub entities: Map<String, Value>,
    pub geo: Option<Geo>,
    pub site_id: Option<String>,
    pub tenant: String,
}

/// Counters a detector keeps about itself, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectorStats {
    /// Open groups (windows) held now.
    pub open_groups: u64,
    /// Groups evicted because the cap was reached.
    pub evicted: u64,
    /// Events that arrived after their window had closed.
    pub late: u64,
}

/// A detector on the live stream.
pub trait Detector: Send {
    /// Stable id, used as the alert's `detector` field.
    fn id(&self) -> &'static str;
    /// Looks at one event and appends what it detects.
    fn on_event(&mut self, event: &Event, out: &mut Vec<Detection>);
    fn stats(&self) -> DetectorStats {
        DetectorStats::default()
    }
}

/// The entities of an event, as alerts carry them.
pub fn entities_of(e: &Event) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("person", &e.person),
        ("person_id", &e.person_id),
        ("user", &e.user),
        ("badge", &e.badge),
        ("host", &e.host),
        ("ip", &e.ip),
        ("src_ip", &e.src_ip),
        ("dst_ip", &e.dst_ip),
        ("asset", &e.asset),
        ("asset_id", &e.asset_id),
        ("site", &e.site),
        ("site_id", &e.site_id),
        ("zone", &e.zone),
        ("portal", &e.portal),
    ] {
        if let Some(v) = v {
            m.insert(k.to_owned(), Value::String(v.clone()));
        }
    }
    m
}
