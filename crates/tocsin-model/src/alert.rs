use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ulid::Ulid;

use crate::{Domain, Geo, Severity};

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    #[default]
    Open,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(AlertStatus::Open),
            "acknowledged" => Some(AlertStatus::Acknowledged),
            "closed" => Some(AlertStatus::Closed),
            _ => None,
        }
    }
}

/// What a detector raised. Repeats within the deduplication window update `count` and `last_seen`
/// of the same alert (same `dedup_key`) instead of raising a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: Ulid,
    pub tenant: String,
    /// The detector that raised it (e.g. `rule`, `sigma`, `presence_conflict`).
    pub detector: String,
    /// The rule within the detector, when it has rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub domain: Domain,
    pub severity: Severity,
    pub title: String,
    /// Plain-language summary written for both teams.
    pub summary: String,
    pub status: AlertStatus,
    /// Event time of the first event that triggered it.
    pub time: DateTime<Utc>,
    /// When the first triggering event was ingested.
    pub ingested: DateTime<Utc>,
    /// When the detector raised it.
    pub detected: DateTime<Utc>,
    /// Event time of the latest repeat.
    pub last_seen: DateTime<Utc>,
    /// How many times it fired within the deduplication window (1 for a fresh alert).
    pub count: u64,
    /// The grouping key: alerts with the same key inside the window are one alert.
    pub dedup_key: String,
    /// Ids of the evidence events (bounded by the detector).
    pub evidence: Vec<Ulid>,
    /// Entities named by the evidence (`user`, `host`, `badge`, `site`, ...).
    #[serde(default)]
    pub entities: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    /// When the first notification about it was delivered (time-to-alert breakdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified: Option<DateTime<Utc>>,
    /// When someone acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<DateTime<Utc>>,
}
