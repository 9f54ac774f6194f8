//! Matching alerts by their labels.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tocsin_model::{Alert, Severity};

/// Label names usable in `equal` of inhibition rules, besides `entities.<key>`.
pub const LABELS: [&str; 7] = [
    "tenant", "domain", "detector", "class", "rule", "severity", "site",
];

/// Label conditions; every field given must hold, a list means any of its values. An empty
/// matcher matches every alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tenant: Vec<String>,
    /// `cyber`, `physical` or `public`.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub domain: Vec<String>,
    /// The detector (its class: `rule`, `sigma`, `presence_conflict`, ...); `class` is accepted
    /// as another name.
    #[serde(
        default,
        alias = "class",
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub detector: Vec<String>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rule: Vec<String>,
    /// The alert's severity must be at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub site: Vec<String>,
    /// The alert must carry every one of these tags.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
}

impl Matcher {
    pub fn is_empty(&self) -> bool {
        self == &Matcher::default()
    }

    pub fn matches(&self, alert: &Alert) -> bool {
        let any = |want: &[String], have: Option<&str>| {
            want.is_empty() || have.is_some_and(|h| want.iter().any(|w| w == h))
        };
        any(&self.tenant, Some(&alert.tenant))
            && any(&self.domain, Some(alert.domain.as_str()))
            && any(&self.detector, Some(&alert.detector))
            && any(&self.rule, alert.rule.as_deref())
            && self.severity.is_none_or(|s| alert.severity >= s)
            && any(&self.site, site(alert))
            && {
                let have = tags(alert);
                self.tags.iter().all(|t| have.contains(&t.as_str()))
            }
    }
}

/// The alert's site: `site_id`, else a string `site` entity.
pub fn site(alert: &Alert) -> Option<&str> {
    alert
        .site_id
        .as_deref()
        .or_else(|| alert.entities.get("site").and_then(Value::as_str))
}

/// The alert's tags: the `tags` entity, a string or a list of strings.
pub fn tags(alert: &Alert) -> Vec<&str> {
    match alert.entities.get("tags") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The value of a label (see [`LABELS`], or `entities.<key>` for a scalar entity).
pub fn label(alert: &Alert, name: &str) -> Option<String> {
    match name {
        "tenant" => Some(alert.tenant.clone()),
        "domain" => Some(alert.domain.as_str().to_owned()),
        "detector" | "class" => Some(alert.detector.clone()),
        "rule" => alert.rule.clone(),
        "severity" => Some(alert.severity.name().to_owned()),
        "site" => site(alert).map(str::to_owned),
        _ => {
            let key = name.strip_prefix("entities.")?;
            match alert.entities.get(key)? {
                Value::String(s) => Some(s.clone()),
                v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
                _ => None,
            }
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(v)) => Ok(v),
        Err(_) => Err(serde::de::Error::custom(
            "expected a string or a list of strings",
        )),
    }
}
