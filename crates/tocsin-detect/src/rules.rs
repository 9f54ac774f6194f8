//! The rule detector: field conditions, optionally counted over a window of event time.
//!
//! A rule in `tocsin.toml`:
//!
//! ```toml
//! [[detect.rules]]
//! id = "badge-denied-burst"
//! title = "Repeated badge denials at {portal}"
//! summary = "Badge {badge} was refused {count} times in {window} at {portal}."
//! severity = "high"
//! when = { class = "physical_access", activity = ["denied"] }
//! threshold = { count = 5, window_secs = 120, group_by = ["badge", "portal"] }
//! dedup = { key = ["badge"], window_secs = 600 }
//! ```

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use tocsin_model::{Event, Severity};
use ulid::Ulid;

use crate::{Detection, Detector, DetectorStats, entities_of};

/// Most evidence event ids kept per alert.
const MAX_EVIDENCE: usize = 50;

/// A rule as written in config.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique id, shown as the alert's `rule`.
    pub id: String,
    /// Alert title; `{field}` is replaced by the triggering event's value of that field.
    pub title: String,
    /// Plain-language summary for both teams; same placeholders, plus `{count}` and `{window}`.
    #[serde(default)]
    pub summary: Option<String>,
    /// OCSF severity of the alert (number or name).
    pub severity: Severity,
    /// Every listed field must match: a value, or a list of accepted values (case-insensitive).
    /// Keys are model fields (`class`, `activity`, `user`...) or paths into `fields`.
    pub when: HashMap<String, Condition>,
    /// Fire only when this many matching events fall inside the window.
    #[serde(default)]
    pub threshold: Option<Threshold>,
    /// How repeats fold into one alert.
    #[serde(default)]
    pub dedup: DedupConfig,
    /// Set to false to keep a rule in config without running it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// What a field must be.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Condition {
    // Order matters: serde tries the variants in turn and `One` accepts anything.
    AnyOf(Vec<Value>),
    Compare(Compare),
    One(Value),
}

/// A numeric comparison, e.g. `{ gte = 4 }`, or a presence test `{ exists = true }`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    #[serde(default)]
    pub gt: Option<f64>,
    #[serde(default)]
    pub gte: Option<f64>,
    #[serde(default)]
    pub lt: Option<f64>,
    #[serde(default)]
    pub lte: Option<f64>,
    #[serde(default)]
    pub exists: Option<bool>,
}

/// Count matching events per group over a sliding window of event time.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// How many events fire the rule (at least 2).
    pub count: usize,
    /// Window length in seconds of event time.
    pub window_secs: u64,
    /// Fields that split the count into groups (e.g. per badge and door).
    #[serde(default)]
    pub group_by: Vec<String>,
}

/// Deduplication: detections with the same key within the window update one alert.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DedupConfig {
    /// 1–3 fields whose values form the key; empty means the whole rule is one key.
    #[serde(default)]
    pub key: Vec<String>,
    /// Window in seconds after the last repeat.
    #[serde(default = "default_dedup_window")]
    pub window_secs: u64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            key: Vec::new(),
            window_secs: default_dedup_window(),
        }
    }
}

fn default_dedup_window() -> u64 {
    600
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("rule {id:?}: {reason}")]
    Invalid { id: String, reason: String },
    #[error("rule id {0:?} is used twice")]
    Duplicate(String),
}

impl Rule {
    pub fn validate(&self) -> Result<(), RuleError> {
        let bad = |reason: &str| {
            Err(RuleError::Invalid {
                id: self.id.clone(),
                reason: reason.to_owned(),
            })
        };
        if self.id.trim().is_empty() {
            return bad("field id: must not be empty");
        }
        if self.when.is_empty() {
            return bad("field when: needs at least one condition");
        }
        if self.dedup.key.len() > 3 {
            return bad("field dedup.key: at most 3 fields");
        }
        if let Some(t) = &self.threshold {
            if t.count < 2 {
                return bad("field threshold.count: must be at least 2");
            }
            if t.window_secs == 0 {
                return bad("field threshold.window_secs: must be more than 0");
            }
        }
        Ok(())
    }

    fn matches(&self, e: &Event) -> bool {
        self.when.iter().all(|(field, cond)| {
            let value = e.lookup(field);
            match cond {
                Condition::One(want) => value.is_some_and(|v| same(&v, want)),
                Condition::AnyOf(list) => value.is_some_and(|v| list.iter().any(|w| same(&v, w))),
                Condition::Compare(c) => {
                    if let Some(want) = c.exists
                        && want != value.is_some()
                    {
                        return false;
                    }
                    let n = value.as_ref().and_then(as_number);
                    let cmp = |bound: Option<f64>, ok: fn(f64, f64) -> bool| match bound {
                        None => true,
                        Some(b) => n.is_some_and(|n| ok(n, b)),
                    };
                    cmp(c.gt, |n, b| n > b)
                        && cmp(c.gte, |n, b| n >= b)
                        && cmp(c.lt, |n, b| n < b)
                        && cmp(c.lte, |n, b| n <= b)
                }
            }
        })
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn same(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (a, b) if a == b => true,
        (a, b) => match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn text_of(e: &Event, field: &str) -> String {
    match e.lookup(field) {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn render(template: &str, e: &Event, count: usize, window: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match name {
                    "count" => out.push_str(&count.to_string()),
                    "window" => out.push_str(window),
                    _ => out.push_str(&text_of(e, name)),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn human_window(secs: u64) -> String {
    if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[derive(Debug, Default)]
struct Group {
    /// (event time, event id), oldest first, at most `count` long.
    hits: VecDeque<(DateTime<Utc>, Ulid)>,
    newest: Option<DateTime<Utc>>,
}

/// Runs every configured [`Rule`] on the stream.
#[derive(Debug)]
pub struct RuleDetector {
    rules: Vec<Rule>,
    /// Per rule index, per group key.
    groups: Vec<HashMap<String, Group>>,
    max_groups: usize,
    open: usize,
    stats: DetectorStats,
}

impl RuleDetector {
    /// Checks every rule and builds the detector; `max_groups` caps the open windows of all rules.
    pub fn new(rules: Vec<Rule>, max_groups: usize) -> Result<Self, RuleError> {
        let mut seen = std::collections::HashSet::new();
        for r in &rules {
            r.validate()?;
            if !seen.insert(r.id.clone()) {
                return Err(RuleError::Duplicate(r.id.clone()));
            }
        }
        let rules: Vec<Rule> = rules.into_iter().filter(|r| r.enabled).collect();
        Ok(Self {
            groups: rules.iter().map(|_| HashMap::new()).collect(),
            rules,
            max_groups: max_groups.max(1),
            open: 0,
            stats: DetectorStats::default(),
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn key(fields: &[String], e: &Event) -> String {
        fields
            .iter()
            .map(|f| text_of(e, f))
            .collect::<Vec<_>>()
            .join("|")
    }

    fn evict_one(&mut self) {
        // The group whose newest event is oldest goes first.
        let mut victim: Option<(usize, String, DateTime<Utc>)> = None;
        for (i, groups) in self.groups.iter().enumerate() {
            for (k, g) in groups {
                let t = g.newest.unwrap_or(DateTime::<Utc>::MIN_UTC);
                if victim.as_ref().is_none_or(|(_, _, vt)| t < *vt) {
                    victim = Some((i, k.clone(), t));
                }
            }
        }
        if let Some((i, k, _)) = victim
            && let Some(groups) = self.groups.get_mut(i)
            && groups.remove(&k).is_some()
        {
            self.open -= 1;
            self.stats.evicted += 1;
        }
    }

    fn detection(rule: &Rule, e: &Event, evidence: Vec<Ulid>, count: usize) -> Detection {
        let window = rule
            .threshold
            .as_ref()
            .map(|t| human_window(t.window_secs))
            .unwrap_or_default();
        let summary = match &rule.summary {
            Some(s) => render(s, e, count, &window),
            None => e.message.clone().unwrap_or_else(|| rule.title.clone()),
        };
        let mut key = format!("{}:{}", rule.id, Self::key(&rule.dedup.key, e));
        if rule.dedup.key.is_empty() {
            key.pop();
        }
        Detection {
            detector: "rule",
            rule: Some(rule.id.clone()),
            domain: e.domain,
            severity: rule.severity,
            title: render(&rule.title, e, count, &window),
            summary,
            dedup_key: key,
            dedup_window_secs: rule.dedup.window_secs,
            time: e.time,
            ingested: e.ingested,
            evidence,
            entities: entities_of(e),
            geo: e.geo.clone(),
            site_id: e.site_id.clone(),
            tenant: e.tenant.clone(),
        }
    }
}

impl Detector for RuleDetector {
    fn id(&self) -> &'static str {
        "rule"
    }

    fn on_event(&mut self, e: &Event, out: &mut Vec<Detection>) {
        for i in 0..self.rules.len() {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            if !rule.matches(e) {
                continue;
            }
            let Some(t) = rule.threshold.clone() else {
                out.push(Self::detection(rule, e, vec![e.id], 1));
                continue;
            };
            let window = Duration::seconds(i64::try_from(t.window_secs).unwrap_or(i64::MAX));
            let key = format!("{}\u{1f}{}", e.tenant, Self::key(&t.group_by, e));
            let is_new = self.groups.get(i).is_some_and(|g| !g.contains_key(&key));
            if is_new {
                if self.open >= self.max_groups {
                    self.evict_one();
                }
                self.open += 1;
            }
            let Some(groups) = self.groups.get_mut(i) else {
                continue;
            };
            let group = groups.entry(key.clone()).or_default();
            if let Some(newest) = group.newest
                && e.time < newest - window
            {
                // The window this event belonged to has already moved on.
                self.stats.late += 1;
                continue;
            }
            group.newest = Some(group.newest.map_or(e.time, |n| n.max(e.time)));
            let newest = group.newest.unwrap_or(e.time);
            group.hits.push_back((e.time, e.id));
            group.hits.retain(|(t, _)| *t >= newest - window);
            while group.hits.len() > t.count {
                group.hits.pop_front();
            }
            if group.hits.len() >= t.count {
                let mut evidence: Vec<Ulid> = group.hits.iter().map(|(_, id)| *id).collect();
                evidence.truncate(MAX_EVIDENCE);
                let count = group.hits.len();
                groups.remove(&key);
                self.open -= 1;
                if let Some(rule) = self.rules.get(i) {
                    out.push(Self::detection(rule, e, evidence, count));
                }
            }
        }
        self.stats.open_groups = self.open as u64;
    }

    fn stats(&self) -> DetectorStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_model::{Domain, IngestContext, Limits};

    fn event(secs: i64, json: &str) -> Event {
        let base: DateTime<Utc> = "2026-05-04T02:00:00Z".parse().unwrap();
        let ctx = IngestContext {
            source: "test",
            tenant: "default",
            domain: Some(Domain::Physical),
            ingested: base + Duration::seconds(secs),
            id: Ulid::from_parts(u64::try_from(secs).unwrap(), 7),
            limits: Limits::default(),
        };
        let mut v: Value = serde_json::from_str(json).unwrap();
        v["time"] = Value::String((base + Duration::seconds(secs)).to_rfc3339());
        Event::from_value(v, &ctx).unwrap()
    }

    fn burst_rule() -> Rule {
        toml::from_str(
            r#"
            id = "denied-burst"
            title = "Repeated denials at {portal}"
            summary = "Badge {badge} refused {count} times in {window} at {portal}"
            severity = "high"
            when = { class = "physical_access", activity = ["denied", "DENIED_PIN"] }
            threshold = { count = 3, window_secs = 60, group_by = ["badge"] }
            dedup = { key = ["badge"], window_secs = 600 }
            "#,
        )
        .unwrap()
    }

    const DENIED: &str =
        r#"{"class":"physical_access","activity":"denied","badge":"B1","portal":"P1"}"#;

    #[test]
    fn a_single_match_rule_fires_on_every_match_and_renders_its_text() {
        let rule: Rule = toml::from_str(
            r#"
            id = "forced"
            title = "Door forced at {portal}"
            severity = 4
            when = { activity = "forced", severity = { gte = 3 } }
            "#,
        )
        .unwrap();
        let mut d = RuleDetector::new(vec![rule], 10).unwrap();
        let mut out = vec![];
        d.on_event(
            &event(
                0,
                r#"{"class":"physical_access","activity":"Forced","severity":4,"portal":"AP-1"}"#,
            ),
            &mut out,
        );
        d.on_event(
            &event(
                1,
                r#"{"class":"physical_access","activity":"forced","severity":2,"portal":"AP-1"}"#,
            ),
            &mut out,
        );
        assert_eq!(out.len(), 1, "the low-severity event does not match");
        assert_eq!(out[0].title, "Door forced at AP-1");
        assert_eq!(
            out[0].dedup_key, "forced",
            "no key fields: the rule is one key"
        );
    }

    #[test]
    fn a_threshold_fires_once_the_count_is_reached_inside_the_window() {
        let mut d = RuleDetector::new(vec![burst_rule()], 10).unwrap();
        let mut out = vec![];
        d.on_event(&event(0, DENIED), &mut out);
        d.on_event(&event(10, DENIED), &mut out);
        assert!(out.is_empty());
        d.on_event(&event(20, DENIED), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].evidence.len(), 3);
        assert_eq!(out[0].summary, "Badge B1 refused 3 times in 1 min at P1");
        assert_eq!(out[0].dedup_key, "denied-burst:B1");
        assert_eq!(d.stats().open_groups, 0, "a fired window starts afresh");
    }

    #[test]
    fn events_spread_wider_than_the_window_do_not_fire() {
        let mut d = RuleDetector::new(vec![burst_rule()], 10).unwrap();
        let mut out = vec![];
        for t in [0, 50, 100, 150] {
            d.on_event(&event(t, DENIED), &mut out);
        }
        assert!(out.is_empty());
    }

    #[test]
    fn groups_count_apart_and_late_events_are_counted() {
        let mut d = RuleDetector::new(vec![burst_rule()], 10).unwrap();
        let mut out = vec![];
        d.on_event(&event(100, DENIED), &mut out);
        d.on_event(
            &event(
                101,
                r#"{"class":"physical_access","activity":"denied","badge":"B2"}"#,
            ),
            &mut out,
        );
        d.on_event(&event(10, DENIED), &mut out);
        assert!(out.is_empty());
        assert_eq!(d.stats().late, 1);
        assert_eq!(d.stats().open_groups, 2);
    }

    #[test]
    fn the_group_cap_evicts_the_stalest_group() {
        let mut d = RuleDetector::new(vec![burst_rule()], 2).unwrap();
        let mut out = vec![];
        for (t, b) in [(0, "A"), (1, "B"), (2, "C")] {
            let json =
                format!(r#"{{"class":"physical_access","activity":"denied","badge":"{b}"}}"#);
            d.on_event(&event(t, &json), &mut out);
        }
        let s = d.stats();
        assert_eq!((s.open_groups, s.evicted), (2, 1));
    }

    #[test]
    fn invalid_rules_are_refused_with_the_field_named() {
        let mut r = burst_rule();
        r.threshold = Some(Threshold {
            count: 1,
            window_secs: 10,
            group_by: vec![],
        });
        let err = RuleDetector::new(vec![r], 10).unwrap_err();
        assert!(err.to_string().contains("threshold.count"), "{err}");
        let err = RuleDetector::new(vec![burst_rule(), burst_rule()], 10).unwrap_err();
        assert_eq!(err, RuleError::Duplicate("denied-burst".into()));
    }
}
