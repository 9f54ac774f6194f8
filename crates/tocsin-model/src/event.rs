use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use ulid::Ulid;

use crate::{Geo, Limits};

/// Which world an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// Logs and telemetry from IT systems: logons, processes, network flows, vulnerabilities.
    Cyber,
    /// Access control, alarms, cameras, sensors, guards, travel.
    Physical,
    /// The world outside: news, social posts, official hazard and vulnerability feeds.
    Public,
}

impl Domain {
    pub const ALL: [Domain; 3] = [Domain::Cyber, Domain::Physical, Domain::Public];

    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Cyber => "cyber",
            Domain::Physical => "physical",
            Domain::Public => "public",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Domain {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cyber" => Ok(Domain::Cyber),
            "physical" => Ok(Domain::Physical),
            "public" => Ok(Domain::Public),
            other => Err(format!(
                "unknown domain {other:?}: expected cyber, physical or public"
            )),
        }
    }
}

/// OCSF severity id, 0 (unknown) to 6 (fatal).
///
/// Accepted in JSON as the number or as its OCSF name (`"informational"`, `"low"`, `"medium"`,
/// `"high"`, `"critical"`, `"fatal"`, `"unknown"`); always written as the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Severity(u8);

impl Severity {
    pub const UNKNOWN: Severity = Severity(0);
    pub const INFORMATIONAL: Severity = Severity(1);
    pub const LOW: Severity = Severity(2);
    pub const MEDIUM: Severity = Severity(3);
    pub const HIGH: Severity = Severity(4);
    pub const CRITICAL: Severity = Severity(5);
    pub const FATAL: Severity = Severity(6);

    const NAMES: [&'static str; 7] = [
        "unknown",
        "informational",
        "low",
        "medium",
        "high",
        "critical",
        "fatal",
    ];

    pub fn new(id: u8) -> Result<Self, String> {
        if id <= 6 {
            Ok(Severity(id))
        } else {
            Err(format!("severity {id} is outside the OCSF range 0..6"))
        }
    }

    pub fn id(self) -> u8 {
        self.0
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[usize::from(self.0)]
    }

    /// Parses a number (`"4"`) or an OCSF name (`"high"`, also `"info"`, `"warning"`, `"error"`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        if let Ok(n) = t.parse::<u8>() {
            return Self::new(n);
        }
        let id = match t.as_str() {
            "unknown" => 0,
            "informational" | "info" | "information" => 1,
            "low" | "notice" => 2,
            "medium" | "warning" | "warn" => 3,
            "high" | "error" => 4,
            "critical" | "crit" => 5,
            "fatal" | "emergency" => 6,
            _ => return Err(format!("unknown severity {s:?}")),
        };
        Ok(Severity(id))
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => {
                let id = n
                    .as_u64()
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or_else(|| serde::de::Error::custom(format!("severity {n} is not 0..6")))?;
                Severity::new(id).map_err(serde::de::Error::custom)
            }
            Value::String(s) => Severity::parse(&s).map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "severity must be a number or a name, not {other}"
            ))),
        }
    }
}

/// One normalised fact, whatever its source. This is also Tocsin's own JSON form, accepted as is by
/// `POST /api/v1/events` and returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id (ULID): sortable by ingest time. Kept when a record brings a valid one, so that a
    /// replay of the same file does not duplicate events.
    pub id: Ulid,
    /// The organisation (tenant) the event belongs to; `default` unless configured.
    pub tenant: String,
    /// The name of the configured source that received it.
    pub source: String,
    /// `cyber`, `physical` or `public`.
    pub domain: Domain,
    /// When it happened (event time). Detection windows use this time.
    pub time: DateTime<Utc>,
    /// When the sensor saw it, where that differs from `time` and is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<DateTime<Utc>>,
    /// When Tocsin received it (ingest time). `ingested - time` is the ingest lag.
    pub ingested: DateTime<Utc>,
    /// What kind of fact (OCSF class name in snake case, or a physical/public class):
    /// `authentication`, `physical_access`, `alarm`, `video_analytic`, `process_activity`,
    /// `network_activity`, `vulnerability`, `public_report`, `hazard_warning`, `log`, ...
    pub class: String,
    /// What happened within the class: `granted`, `denied`, `forced`, `held_open`, `tailgate`,
    /// `logon`, `logon_failed`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// OCSF severity id 0–6.
    #[serde(default)]
    pub severity: Severity,
    /// How sure the source is, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    /// For inferred events: how the event was derived (e.g. `geoparsed`, `correlated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derivation: Option<String>,

    /// A person as named by the source (name or employee number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// An account or user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A badge or credential number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge: Option<String>,
    /// A host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The IP address the event is about (the device's own address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Source address of network activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    /// Destination address of network activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<String>,
    /// An asset as named by the source (camera id, reader id, serial number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// A site as named by the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// A zone within a site as named by the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// A door, gate or turnstile (access point) as named by the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,

    /// Resolved person id from the organisation model (filled by enrichment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    /// Resolved asset id from the organisation model (filled by enrichment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    /// Resolved site id from the organisation model (filled by enrichment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    /// Resolved zone id from the organisation model (filled by enrichment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,

    /// Location: a point with optional radius, or a polygon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    /// A place name as written by the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// A link to the original item (news article, advisory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Human-readable one-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The original record's fields, kept whole. Sigma rules match against these.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

/// An event as a client or a mapping writes it: everything but `time`, `domain` and `class` may be
/// left out. Unknown top-level names are kept in `fields` rather than dropped.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventInput {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub observed: Option<DateTime<Utc>>,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub activity: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub confidence: Option<u8>,
    #[serde(default)]
    pub derivation: Option<String>,
    #[serde(default)]
    pub person: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub badge: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub src_ip: Option<String>,
    #[serde(default)]
    pub dst_ip: Option<String>,
    #[serde(default)]
    pub asset: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub portal: Option<String>,
    #[serde(default)]
    pub geo: Option<Geo>,
    #[serde(default)]
    pub place: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Enrichment output is never taken from the outside: these are read so they can be refused.
    #[serde(default)]
    pub person_id: Option<Value>,
    #[serde(default)]
    pub asset_id: Option<Value>,
    #[serde(default)]
    pub site_id: Option<Value>,
    #[serde(default)]
    pub zone_id: Option<Value>,
    #[serde(default)]
    pub ingested: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What the receiving source knows about a record, applied while it becomes an [`Event`].
#[derive(Debug, Clone)]
pub struct IngestContext<'a> {
    /// The configured source's name.
    pub source: &'a str,
    /// The source's tenant: a record naming another tenant is refused.
    pub tenant: &'a str,
    /// The source's domain, used when the record names none.
    pub domain: Option<Domain>,
    /// Receive time.
    pub ingested: DateTime<Utc>,
    /// Id for the event when the record brings none.
    pub id: Ulid,
    pub limits: Limits,
}

/// Why a record could not become an event. The message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("record is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid JSON: {0}")]
    Json(String),
}

impl ModelError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ModelError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

impl Event {
    /// Parses one record in Tocsin's own JSON form.
    pub fn from_json(bytes: &[u8], ctx: &IngestContext<'_>) -> Result<Event, ModelError> {
        if bytes.len() > ctx.limits.max_record_bytes {
            return Err(ModelError::TooLarge {
                size: bytes.len(),
                limit: ctx.limits.max_record_bytes,
            });
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let input: EventInput = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
        de.end().map_err(|e| ModelError::Json(e.to_string()))?;
        Event::from_input(input, ctx)
    }

    /// Parses one record already decoded as a JSON value, in Tocsin's own form.
    pub fn from_value(value: Value, ctx: &IngestContext<'_>) -> Result<Event, ModelError> {
        if !value.is_object() {
            return Err(ModelError::Json(
                "an event must be a JSON object".to_owned(),
            ));
        }
        let input: EventInput = serde_path_to_error::deserialize(value).map_err(json_error)?;
        Event::from_input(input, ctx)
    }

    /// Validates an input and fills in what the context knows.
    pub fn from_input(input: EventInput, ctx: &IngestContext<'_>) -> Result<Event, ModelError> {
        let limits = &ctx.limits;
        for (name, present) in [
            ("person_id", input.person_id.is_some()),
            ("asset_id", input.asset_id.is_some()),
            ("site_id", input.site_id.is_some()),
            ("zone_id", input.zone_id.is_some()),
        ] {
            if present {
                return Err(ModelError::Invalid {
                    field: "resolved id",
                    reason: format!(
                        "`{name}` is set by enrichment and cannot be sent; send `person`, `badge`, `user`, `host`, `site` ... instead"
                    ),
                });
            }
        }
        let id = match input.id.as_deref() {
            None => ctx.id,
            Some(s) => Ulid::from_string(s)
                .map_err(|e| ModelError::invalid("id", format!("not a ULID: {e}")))?,
        };
        let tenant = match input.tenant {
            None => ctx.tenant.to_owned(),
            Some(t) if t == ctx.tenant => t,
            Some(t) => {
                return Err(ModelError::invalid(
                    "tenant",
                    format!(
                        "tenant {t:?} is not allowed for source {:?} (tenant {:?})",
                        ctx.source, ctx.tenant
                    ),
                ));
            }
        };
        let domain = match input.domain.as_deref() {
            Some(d) => d
                .parse::<Domain>()
                .map_err(|e| ModelError::invalid("domain", e))?,
            None => ctx.domain.ok_or(ModelError::Missing("domain"))?,
        };
        let time = input.time.ok_or(ModelError::Missing("time"))?;
        let class = non_empty(input.class, "class", limits)?.ok_or(ModelError::Missing("class"))?;
        if let Some(c) = input.confidence
            && c > 100
        {
            return Err(ModelError::invalid(
                "confidence",
                format!("{c} is outside 0..100"),
            ));
        }
        if let Some(g) = &input.geo {
            g.validate(limits.max_polygon_points)
                .map_err(|r| ModelError::invalid("geo", r))?;
        }
        let mut fields = input.fields;
        for (k, v) in input.extra {
            fields.entry(k).or_insert(v);
        }
        check_fields(&fields, limits)?;
        Ok(Event {
            id,
            tenant,
            source: input
                .source
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| ctx.source.to_owned()),
            domain,
            time,
            observed: input.observed,
            ingested: ctx.ingested,
            class,
            activity: non_empty(input.activity, "activity", limits)?,
            severity: input.severity.unwrap_or_default(),
            confidence: input.confidence,
            derivation: non_empty(input.derivation, "derivation", limits)?,
            person: non_empty(input.person, "person", limits)?,
            user: non_empty(input.user, "user", limits)?,
            badge: non_empty(input.badge, "badge", limits)?,
            host: non_empty(input.host, "host", limits)?,
            ip: non_empty(input.ip, "ip", limits)?,
            src_ip: non_empty(input.src_ip, "src_ip", limits)?,
            dst_ip: non_empty(input.dst_ip, "dst_ip", limits)?,
            asset: non_empty(input.asset, "asset", limits)?,
            site: non_empty(input.site, "site", limits)?,
            zone: non_empty(input.zone, "zone", limits)?,
            portal: non_empty(input.portal, "portal", limits)?,
            person_id: None,
            asset_id: None,
            site_id: None,
            zone_id: None,
            geo: input.geo,
            place: non_empty(input.place, "place", limits)?,
            url: non_empty(input.url, "url", limits)?,
            message: non_empty(input.message, "message", limits)?,
            fields,
        })
    }

    /// Ingest lag: how long after it happened Tocsin received it (zero when the clocks disagree).
    pub fn ingest_lag(&self) -> chrono::Duration {
        (self.ingested - self.time).max(chrono::Duration::zero())
    }

    /// Looks a field up by name: a top-level model field (`user`, `class`, `severity`...) or a
    /// dotted path into `fields` (`fields.EventID` or just `EventID`).
    pub fn lookup(&self, name: &str) -> Option<Value> {
        let s = |v: &Option<String>| v.as_ref().map(|x| Value::String(x.clone()));
        match name {
            "id" => Some(Value::String(self.id.to_string())),
            "tenant" => Some(Value::String(self.tenant.clone())),
            "source" => Some(Value::String(self.source.clone())),
            "domain" => Some(Value::String(self.domain.as_str().to_owned())),
            "class" => Some(Value::String(self.class.clone())),
            "activity" => s(&self.activity),
            "severity" => Some(Value::from(self.severity.id())),
            "confidence" => self.confidence.map(Value::from),
            "person" => s(&self.person),
            "user" => s(&self.user),
            "badge" => s(&self.badge),
            "host" => s(&self.host),
            "ip" => s(&self.ip),
            "src_ip" => s(&self.src_ip),
            "dst_ip" => s(&self.dst_ip),
            "asset" => s(&self.asset),
            "site" => s(&self.site),
            "zone" => s(&self.zone),
            "portal" => s(&self.portal),
            "person_id" => s(&self.person_id),
            "asset_id" => s(&self.asset_id),
            "site_id" => s(&self.site_id),
            "zone_id" => s(&self.zone_id),
            "place" => s(&self.place),
            "url" => s(&self.url),
            "message" => s(&self.message),
            other => {
                let path = other.strip_prefix("fields.").unwrap_or(other);
                lookup_path(&self.fields, path).cloned()
            }
        }
    }
}

/// Names the field a JSON error is about, e.g. "field `time`: premature end of input".
fn json_error<E: fmt::Display>(e: serde_path_to_error::Error<E>) -> ModelError {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    if path.is_empty() || path == "." {
        ModelError::Json(inner)
    } else {
        ModelError::Json(format!("field `{path}`: {inner}"))
    }
}

/// Follows a dotted path through nested objects. A key that itself contains dots is tried whole
/// first, so `{"a.b": 1}` is found by `a.b` too.
pub(crate) fn lookup_path<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    match map.get(head)? {
        Value::Object(inner) => lookup_path(inner, rest),
        _ => None,
    }
}

fn non_empty(
    v: Option<String>,
    field: &'static str,
    limits: &Limits,
) -> Result<Option<String>, ModelError> {
    match v {
        Some(s) if s.len() > limits.max_string_bytes => Err(ModelError::invalid(
            field,
            format!(
                "{} bytes, more than the limit of {}",
                s.len(),
                limits.max_string_bytes
            ),
        )),
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn check_fields(fields: &Map<String, Value>, limits: &Limits) -> Result<(), ModelError> {
    fn walk(v: &Value, depth: usize, count: &mut usize, limits: &Limits) -> Result<(), String> {
        if depth > limits.max_depth {
            return Err(format!("nested deeper than {} levels", limits.max_depth));
        }
        match v {
            Value::Object(m) => {
                *count += m.len();
                if *count > limits.max_fields {
                    return Err(format!("more than {} keys", limits.max_fields));
                }
                for v in m.values() {
                    walk(v, depth + 1, count, limits)?;
                }
            }
            Value::Array(a) => {
                *count += a.len();
                if *count > limits.max_fields {
                    return Err(format!("more than {} values", limits.max_fields));
                }
                for v in a {
                    walk(v, depth + 1, count, limits)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    let mut count = fields.len();
    if count > limits.max_fields {
        return Err(ModelError::invalid(
            "fields",
            format!("more than {} keys", limits.max_fields),
        ));
    }
    for v in fields.values() {
        walk(v, 1, &mut count, limits).map_err(|r| ModelError::invalid("fields", r))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx() -> IngestContext<'static> {
        IngestContext {
            source: "hq-door-controller",
            tenant: "default",
            domain: None,
            ingested: "2026-05-04T02:13:08Z".parse().unwrap(),
            id: Ulid::from_parts(1, 1),
            limits: Limits::default(),
        }
    }

    const SPEC_EXAMPLE: &str = r#"{
      "time": "2026-05-04T02:13:07Z",
      "domain": "physical",
      "class": "physical_access",
      "activity": "denied",
      "severity": 3,
      "source": "hq-door-controller",
      "tenant": "default",
      "message": "Access denied at DC2 server room door",
      "badge": "0x3F21A9",
      "portal": "AP-DC2-SRV",
      "site": "dc2",
      "zone": "dc2-server-room",
      "fields": { "Topic": "tns1:AccessControl/Denied/CredentialNotFound/Card" }
    }"#;

    #[test]
    fn the_spec_example_parses_and_round_trips() {
        let e = Event::from_json(SPEC_EXAMPLE.as_bytes(), &ctx()).unwrap();
        assert_eq!(e.domain, Domain::Physical);
        assert_eq!(e.severity, Severity::MEDIUM);
        assert_eq!(e.badge.as_deref(), Some("0x3F21A9"));
        assert_eq!(e.ingest_lag(), chrono::Duration::seconds(1));
        assert_eq!(
            e.lookup("Topic"),
            Some(Value::String(
                "tns1:AccessControl/Denied/CredentialNotFound/Card".into()
            ))
        );
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn missing_and_invalid_fields_are_named() {
        let err = Event::from_json(br#"{"domain":"cyber","class":"x"}"#, &ctx()).unwrap_err();
        assert_eq!(err, ModelError::Missing("time"));
        let err = Event::from_json(
            br#"{"time":"2026-01-01T00:00:00Z","domain":"space","class":"x"}"#,
            &ctx(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("domain"), "{err}");
        let err = Event::from_json(
            br#"{"time":"2026-01-01T00:00:00Z","domain":"cyber","class":"x","severity":9}"#,
            &ctx(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("severity"), "{err}");
        let err = Event::from_json(
            br#"{"time":"2026-01-01T00:00:00Z","domain":"cyber","class":"x","tenant":"other"}"#,
            &ctx(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("tenant"), "{err}");
        let err = Event::from_json(
            br#"{"time":"2026-01-01T00:00:00Z","domain":"cyber","class":"x","person_id":"p1"}"#,
            &ctx(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("person_id"), "{err}");
    }

    #[test]
    fn severity_names_and_unknown_top_level_keys_are_kept() {
        let e = Event::from_json(
            br#"{"time":"2026-01-01T00:00:00Z","domain":"cyber","class":"x","severity":"high","vendor_code":7}"#,
            &ctx(),
        )
        .unwrap();
        assert_eq!(e.severity, Severity::HIGH);
        assert_eq!(e.fields.get("vendor_code"), Some(&Value::from(7)));
    }

    #[test]
    fn oversized_records_and_deep_fields_are_refused() {
        let mut c = ctx();
        c.limits.max_record_bytes = 10;
        assert!(matches!(
            Event::from_json(SPEC_EXAMPLE.as_bytes(), &c),
            Err(ModelError::TooLarge { .. })
        ));
        let mut c = ctx();
        c.limits.max_depth = 2;
        let err = Event::from_json(
            br#"{"time":"2026-01-01T00:00:00Z","domain":"cyber","class":"x","fields":{"a":{"b":{"c":{"d":1}}}}}"#,
            &c,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nested"), "{err}");
    }

    #[test]
    fn lookup_follows_dotted_paths() {
        let e = Event::from_json(
            br#"{"time":"2026-01-01T00:00:00Z","domain":"cyber","class":"x","fields":{"a":{"b":"c"},"x.y":1}}"#,
            &ctx(),
        )
        .unwrap();
        assert_eq!(e.lookup("fields.a.b"), Some(Value::from("c")));
        assert_eq!(e.lookup("x.y"), Some(Value::from(1)));
        assert_eq!(e.lookup("a.z"), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Event::from_json(&bytes, &ctx());
        }
    }
}
