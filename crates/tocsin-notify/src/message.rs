//! What one audience is told about an alert, redacted for its visibility level.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tocsin_model::{Alert, AlertStatus, Geo, Severity};

/// Replaces every hidden value, in the entities and wherever it appears in the text.
pub const REDACTED: &str = "[redacted]";

/// How much of an alert an audience may see. Each level hides everything the level above hides.
///
/// - `full`: everything (the security operations team).
/// - `internal`: personal contact details (entities such as `email`, `phone`, `address`) are
///   replaced by `[redacted]`; for staff outside the security team.
/// - `partner`: also person names, user names, accounts, badges, hosts, devices and IP addresses,
///   in the entities and in the title, summary and grouping key; for an outside partner such as
///   a guarding contractor or a managed SOC.
/// - `public`: also the exact location (site, zone, door and other place entities, the site id,
///   a geo point is rounded to 0.1° (about 10 km) and its polygon dropped) and the evidence
///   event ids; for a public warning or a regulator.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Full,
    #[default]
    Internal,
    Partner,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Full => "full",
            Visibility::Internal => "internal",
            Visibility::Partner => "partner",
            Visibility::Public => "public",
        }
    }
}

/// Which level first hides an entity, by its key.
fn hidden_from(key: &str) -> Option<Visibility> {
    let k = key.to_ascii_lowercase();
    let is = |names: &[&str]| {
        names
            .iter()
            .any(|n| k == *n || k.ends_with(&format!("_{n}")) || k.starts_with(&format!("{n}_")))
    };
    if is(&[
        "email", "emails", "phone", "phones", "mobile", "address", "home",
    ]) {
        return Some(Visibility::Internal);
    }
    if is(&[
        "person",
        "name",
        "user",
        "username",
        "account",
        "badge",
        "card",
        "host",
        "hostname",
        "device",
        "ip",
        "mac",
        "employee",
        "owner",
        "actor",
        "src",
        "dst",
        "people",
        "persons",
        "users",
        "accounts",
        "badges",
        "hosts",
        "devices",
        "ips",
        "employees",
        "witness",
    ]) {
        return Some(Visibility::Partner);
    }
    if is(&[
        "site", "zone", "portal", "door", "room", "floor", "building", "location", "geo", "lat",
        "lon", "camera", "reader",
    ]) {
        return Some(Visibility::Public);
    }
    None
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Replaces each hidden value in free text. Longest first, so a value that contains another is
/// replaced whole; values shorter than 3 characters are left alone because they would match
/// inside ordinary words.
fn scrub(text: &str, hidden: &[String]) -> String {
    let mut out = text.to_string();
    for h in hidden {
        if h.chars().count() >= 3 {
            out = out.replace(h.as_str(), REDACTED);
        }
    }
    out
}

/// [`scrub`] on every string inside `v`.
fn scrub_value(v: &mut Value, hidden: &[String]) {
    match v {
        Value::String(s) if s != REDACTED => *s = scrub(s, hidden),
        Value::Array(a) => a.iter_mut().for_each(|x| scrub_value(x, hidden)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub_value(x, hidden)),
        _ => {}
    }
}

/// An alert as one audience sees it: every channel formats this, never the raw [`Alert`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub visibility: Visibility,
    pub alert_id: String,
    pub tenant: String,
    pub detector: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub domain: String,
    #[serde(skip)]
    pub severity: Severity,
    #[serde(rename = "severity")]
    pub severity_name: String,
    pub status: String,
    pub title: String,
    pub summary: String,
    /// Event time of the first triggering event.
    pub time: DateTime<Utc>,
    pub detected: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: u64,
    /// Empty at `public` level: the key may be built from hidden values.
    pub dedup_key: String,
    pub evidence: Vec<String>,
    pub entities: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    /// True when this is a repeat folded into an open alert.
    pub repeat: bool,
    /// True when the alert comes from a drill (entity `exercise: true`).
    pub exercise: bool,
    /// Plain-language text for both teams, the body of e-mails and chat posts.
    pub text: String,
    /// The outbox row this message delivers, when it comes from the outbox: the idempotency key
    /// sent as `X-Tocsin-Delivery` (HTTP) or in the `Message-ID` (e-mail), the same on every
    /// attempt, so that a receiver can drop a resend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
}

impl Message {
    pub fn from_alert(alert: &Alert, visibility: Visibility, repeat: bool) -> Self {
        Self::from_alert_hiding(alert, visibility, repeat, &[])
    }

    /// [`Message::from_alert`], also hiding `people`, from `partner` level on: the names,
    /// accounts and badges of the people the alert's hidden entities name, which the caller
    /// knows from the organisation (an entity may give only a person id while the title gives
    /// the name). Every string inside the entities that are kept is scrubbed too.
    pub fn from_alert_hiding(
        alert: &Alert,
        visibility: Visibility,
        repeat: bool,
        people: &[String],
    ) -> Self {
        let mut hidden = Vec::new();
        if visibility >= Visibility::Partner {
            hidden.extend(people.iter().cloned());
        }
        let mut entities = Map::new();
        for (k, v) in &alert.entities {
            match hidden_from(k) {
                Some(level) if visibility >= level => {
                    collect_strings(v, &mut hidden);
                    entities.insert(k.clone(), Value::String(REDACTED.into()));
                }
                _ => {
                    entities.insert(k.clone(), v.clone());
                }
            }
        }
        let public = visibility >= Visibility::Public;
        let mut site_id = alert.site_id.clone();
        if public && let Some(s) = site_id.take() {
            hidden.push(s);
        }
        hidden.sort_by_key(|s| std::cmp::Reverse(s.len()));
        hidden.dedup();
        if !hidden.is_empty() {
            for v in entities.values_mut() {
                scrub_value(v, &hidden);
            }
        }
        let geo = alert.geo.as_ref().map(|g| {
            if public {
                Geo {
                    lat: (g.lat * 10.0).round() / 10.0,
                    lon: (g.lon * 10.0).round() / 10.0,
                    radius_m: Some(g.radius_m.unwrap_or(0.0).max(10_000.0)),
                    polygon: None,
                }
            } else {
                g.clone()
            }
        });
        let exercise = alert
            .entities
            .get("exercise")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut m = Message {
            visibility,
            alert_id: alert.id.to_string(),
            tenant: alert.tenant.clone(),
            detector: alert.detector.clone(),
            rule: alert.rule.clone(),
            domain: alert.domain.as_str().to_string(),
            severity: alert.severity,
            severity_name: alert.severity.name().to_string(),
            status: alert.status.as_str().to_string(),
            title: scrub(&alert.title, &hidden),
            summary: scrub(&alert.summary, &hidden),
            time: alert.time,
            detected: alert.detected,
            last_seen: alert.last_seen,
            count: alert.count,
            dedup_key: if public {
                String::new()
            } else {
                scrub(&alert.dedup_key, &hidden)
            },
            evidence: if public {
                Vec::new()
            } else {
                alert.evidence.iter().map(ToString::to_string).collect()
            },
            entities,
            site_id,
            geo,
            repeat,
            exercise,
            text: String::new(),
            delivery_id: None,
        };
        m.text = m.render_text();
        m
    }

    /// The same message, marked as the delivery of outbox row `id`.
    pub fn with_delivery_id(mut self, id: impl Into<String>) -> Self {
        self.delivery_id = Some(id.into());
        self
    }

    pub fn is_open(&self) -> bool {
        self.status == AlertStatus::Open.as_str()
    }

    /// One line: `[EXERCISE] HIGH: title`.
    pub fn headline(&self) -> String {
        format!(
            "{}{}{}: {}",
            if self.exercise { "[EXERCISE] " } else { "" },
            if self.repeat { "(repeat) " } else { "" },
            self.severity_name.to_uppercase(),
            self.title
        )
    }

    fn render_text(&self) -> String {
        let mut t = format!("{}\n\n{}\n\n", self.headline(), self.summary);
        t.push_str(&format!(
            "What: {} alert from {}{}, status {}.\n",
            self.domain,
            self.detector,
            self.rule
                .as_deref()
                .map(|r| format!(" (rule {r})"))
                .unwrap_or_default(),
            self.status
        ));
        t.push_str(&format!(
            "When: first seen {}, last seen {}, {} time(s).\n",
            self.time.to_rfc3339(),
            self.last_seen.to_rfc3339(),
            self.count
        ));
        if let Some(site) = &self.site_id {
            t.push_str(&format!("Where: site {site}.\n"));
        }
        if !self.entities.is_empty() {
            let parts: Vec<String> = self
                .entities
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect();
            t.push_str(&format!("Who and what: {}.\n", parts.join(", ")));
        }
        t.push_str(&format!("Alert id: {}.\n", self.alert_id));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;
    use tocsin_model::Domain;
    use ulid::Ulid;

    fn alert() -> Alert {
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 8, 15, 0).unwrap();
        let entities = json!({
            "person_name": "Maria Lindqvist",
            "user": "mlindqvist",
            "badge": "B-20417",
            "host": "ws-fin-023",
            "email": "maria@example.org",
            "site": "hq-stockholm",
            "zone": "server-room",
            "class": "logon",
            "people": [{"id": "p-77", "role": "escort"}]
        });
        Alert {
            id: Ulid::from_parts(1_700_000_000_000, 7),
            tenant: "default".into(),
            detector: "logon_without_presence".into(),
            rule: None,
            domain: Domain::Cyber,
            severity: Severity::HIGH,
            title: "mlindqvist logged on at ws-fin-023 while badged out".into(),
            summary: "Maria Lindqvist (badge B-20417) left hq-stockholm at 07:50; user mlindqvist logged on to ws-fin-023 at 08:15.".into(),
            status: AlertStatus::Open,
            time: t,
            ingested: t,
            detected: t,
            last_seen: t,
            count: 1,
            dedup_key: "mlindqvist|ws-fin-023".into(),
            evidence: vec![Ulid::from_parts(1_700_000_000_000, 1)],
            entities: entities.as_object().unwrap().clone(),
            geo: Some(Geo { lat: 59.33258, lon: 18.06490, radius_m: None, polygon: None }),
            site_id: Some("hq-stockholm".into()),
            notified: None,
            acknowledged: None,
        }
    }

    #[test]
    fn full_hides_nothing() {
        let m = Message::from_alert(&alert(), Visibility::Full, false);
        assert_eq!(m.entities, alert().entities);
        assert!(m.text.contains("Maria Lindqvist"));
        assert!(m.text.contains("maria@example.org"));
        assert_eq!(m.evidence.len(), 1);
    }

    #[test]
    fn internal_hides_contact_details_only() {
        let m = Message::from_alert(&alert(), Visibility::Internal, false);
        assert_eq!(m.entities["email"], REDACTED);
        assert_eq!(m.entities["user"], "mlindqvist");
        assert!(!m.text.contains("maria@example.org"));
    }

    #[test]
    fn partner_hides_people_and_hosts_everywhere() {
        let m = Message::from_alert(&alert(), Visibility::Partner, false);
        for key in ["person_name", "user", "badge", "host", "email", "people"] {
            assert_eq!(m.entities[key], REDACTED, "{key}");
        }
        assert_eq!(m.entities["site"], "hq-stockholm");
        let all = serde_json::to_string(&m).unwrap();
        for secret in ["Maria", "mlindqvist", "B-20417", "ws-fin-023", "maria@"] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
        assert!(m.summary.contains("hq-stockholm"));
        assert_eq!(m.site_id.as_deref(), Some("hq-stockholm"));
    }

    #[test]
    fn public_also_hides_location_and_evidence() {
        let m = Message::from_alert(&alert(), Visibility::Public, false);
        let all = serde_json::to_string(&m).unwrap();
        for secret in ["hq-stockholm", "server-room", "59.33258", "mlindqvist"] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
        assert!(m.evidence.is_empty());
        assert!(m.dedup_key.is_empty());
        let g = m.geo.unwrap();
        assert_eq!((g.lat, g.lon), (59.3, 18.1));
        assert_eq!(m.entities["class"], "logon");
    }

    #[test]
    fn names_known_from_the_organisation_are_hidden_from_partners_everywhere() {
        let mut a = alert();
        a.title = "Anti-passback: Tom Okafor entered twice".into();
        a.entities.insert("person_id".into(), json!("p-tokafor"));
        a.entities
            .insert("impact".into(), json!({"people": "Tom Okafor and a guest"}));
        let people = vec!["Tom Okafor".to_owned()];
        let m = Message::from_alert_hiding(&a, Visibility::Partner, false, &people);
        let text = serde_json::to_string(&m).unwrap();
        assert!(!text.contains("Tom Okafor"), "{text}");
        assert!(m.title.contains(REDACTED));
        // Internal audiences still see the name.
        let m = Message::from_alert_hiding(&a, Visibility::Internal, false, &people);
        assert!(m.title.contains("Tom Okafor"));
    }

    #[test]
    fn exercise_and_repeat_show_in_headline() {
        let mut a = alert();
        a.entities.insert("exercise".into(), json!(true));
        let m = Message::from_alert(&a, Visibility::Full, true);
        assert!(m.exercise);
        assert!(m.headline().starts_with("[EXERCISE] (repeat) HIGH: "));
    }
}
