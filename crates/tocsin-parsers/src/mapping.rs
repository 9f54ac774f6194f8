//! A declarative field mapping from a flat (or nested) record to the event model, configured in
//! files. A mapping is a list of steps applied in order to one record; every step reads the
//! record as the earlier steps left it.
//!
//! In a source's TOML configuration the steps are an array of tables under `mapping.steps`:
//!
//! ```toml
//! [[sources]]
//! name = "hq-badges"
//!
//! [[sources.mapping.steps]]
//! op = "rename"
//! from = "EvtID"
//! to = "EventID"
//!
//! [[sources.mapping.steps]]
//! op = "timestamp"
//! from = "ts"
//! to = "time"
//! formats = ["%d/%m/%Y %H:%M:%S", "rfc3339"]
//! timezone = "+01:00"
//!
//! [[sources.mapping.steps]]
//! op = "lookup"
//! from = "result"
//! to = "activity"
//! table = { OK = "granted", NOK = "denied" }
//! default = "unknown"
//! ```
//!
//! Operations (`op`), each documented field by field on [`Step`]:
//! - `copy`: a record value to a target;
//! - `rename`: a key inside the record (`fields`) to another key;
//! - `constant`: a fixed value to a target;
//! - `timestamp`: a record value read with one of several layouts to `time`, `observed` or
//!   `fields.<path>`;
//! - `lookup`: a record value translated through a table to a target.
//!
//! `from` is a dotted path in the record: a key holding dots is matched whole first, so
//! `syslog.hostname` finds the flat key of that name and `door.name` finds `{"door": {"name":..}}`.
//! A `from` whose value is missing or `null` fails the record unless the step says
//! `optional = true`, in which case the step is skipped.
//!
//! A target (`to`) is a model field — `time`, `observed`, `domain`, `class`, `activity`,
//! `severity`, `confidence`, `derivation`, `person`, `user`, `badge`, `host`, `ip`, `src_ip`,
//! `dst_ip`, `asset`, `site`, `zone`, `portal`, `place`, `url`, `message`, `tenant`, `geo.lat`,
//! `geo.lon`, `geo.radius_m` — or `fields.<path>`, a key in the record. Unknown targets, bad
//! layouts and bad constants are found by [`Mapping::validate`] when the configuration is
//! loaded, not record by record.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use tocsin_model::{Domain, EventInput, Geo, Severity};

use crate::text;

/// A list of steps applied in order to each record.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The steps, applied in the order written.
    pub steps: Vec<Step>,
}

/// One mapping step, selected by its `op`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `{ op = "copy", from = "card", to = "badge" }`: copies a record value to a target. Strings,
    /// numbers and booleans become text for text fields; `time` and `observed` take RFC 3339
    /// text (use `timestamp` for other layouts); `severity` takes 0–6 or an OCSF name;
    /// `confidence` 0–100; `geo.*` numbers.
    Copy {
        /// Dotted path in the record.
        from: String,
        /// A model field or `fields.<path>`.
        to: String,
        /// Skip the step when `from` is missing, instead of failing the record.
        #[serde(default)]
        optional: bool,
    },
    /// `{ op = "rename", from = "EvtID", to = "EventID" }`: moves a value to another key inside
    /// the record (`fields`). `to` may be written with or without the `fields.` prefix.
    Rename {
        /// Dotted path in the record.
        from: String,
        /// The new key (a dotted path) in the record.
        to: String,
        /// Skip the step when `from` is missing, instead of failing the record.
        #[serde(default)]
        optional: bool,
    },
    /// `{ op = "constant", to = "class", value = "physical_access" }`: sets a target to a fixed
    /// value.
    Constant {
        /// A model field or `fields.<path>`.
        to: String,
        /// The value, as it would appear in the record (text, number or boolean).
        value: Value,
    },
    /// `{ op = "timestamp", from = "ts", to = "time", formats = [...], timezone = "+01:00" }`:
    /// reads a time with the first layout that fits.
    Timestamp {
        /// Dotted path in the record.
        from: String,
        /// `time` (the default), `observed`, or `fields.<path>` (written as RFC 3339 text).
        #[serde(default = "default_time_target")]
        to: String,
        /// Layouts tried in order: `rfc3339`, `rfc2822`, `unix` (seconds, may have a fraction),
        /// `unix_ms` (milliseconds), or a chrono `strftime` pattern such as
        /// `%d/%m/%Y %H:%M:%S`. A pattern with only a date reads midnight.
        formats: Vec<String>,
        /// Offset for layouts that carry none: `UTC`, `Z`, `+01:00`, `-0530`. Zone names such
        /// as `Europe/Paris` are not supported (they would need a time zone database). Default
        /// UTC.
        #[serde(default)]
        timezone: Option<String>,
        /// Skip the step when `from` is missing, instead of failing the record.
        #[serde(default)]
        optional: bool,
    },
    /// `{ op = "lookup", from = "result", to = "activity", table = { OK = "granted" },
    /// default = "unknown" }`: translates a value through a table. The record value is looked up
    /// as text (a number `1` matches the key `"1"`). A value not in the table takes `default`,
    /// or is copied unchanged when there is no default.
    Lookup {
        /// Dotted path in the record.
        from: String,
        /// A model field or `fields.<path>`.
        to: String,
        /// Record value (as text) to target value.
        table: Map<String, Value>,
        /// The target value for anything not in the table.
        #[serde(default)]
        default: Option<Value>,
        /// Skip the step when `from` is missing, instead of failing the record.
        #[serde(default)]
        optional: bool,
    },
}

fn default_time_target() -> String {
    "time".to_owned()
}

impl Step {
    pub fn op(&self) -> &'static str {
        match self {
            Step::Copy { .. } => "copy",
            Step::Rename { .. } => "rename",
            Step::Constant { .. } => "constant",
            Step::Timestamp { .. } => "timestamp",
            Step::Lookup { .. } => "lookup",
        }
    }
}

/// Why a record could not be mapped. Steps are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("step {step} ({op}): field `{from}` is missing")]
    Missing {
        step: usize,
        op: &'static str,
        from: String,
    },
    #[error("step {step} ({op}): cannot set `{to}` from {value}: {reason}")]
    Invalid {
        step: usize,
        op: &'static str,
        to: String,
        /// The offending value, shortened.
        value: String,
        reason: String,
    },
    /// The mapping itself is wrong; [`Mapping::validate`] reports this at load time.
    #[error("step {step} ({op}): {reason}")]
    Config {
        step: usize,
        op: &'static str,
        reason: String,
    },
    #[error("geo needs both geo.lat and geo.lon, but only {present} was set")]
    IncompleteGeo { present: &'static str },
}

/// The names a `to` may take, besides `fields.<path>`.
pub const TARGETS: &[&str] = &[
    "time",
    "observed",
    "domain",
    "class",
    "activity",
    "severity",
    "confidence",
    "derivation",
    "person",
    "user",
    "badge",
    "host",
    "ip",
    "src_ip",
    "dst_ip",
    "asset",
    "site",
    "zone",
    "portal",
    "place",
    "url",
    "message",
    "tenant",
    "geo.lat",
    "geo.lon",
    "geo.radius_m",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    Time,
    Observed,
    Severity,
    Confidence,
    GeoLat,
    GeoLon,
    GeoRadius,
    Text(&'a str),
    Field(&'a str),
}

fn target(to: &str) -> Option<Target<'_>> {
    Some(match to {
        "time" => Target::Time,
        "observed" => Target::Observed,
        "severity" => Target::Severity,
        "confidence" => Target::Confidence,
        "geo.lat" => Target::GeoLat,
        "geo.lon" => Target::GeoLon,
        "geo.radius_m" => Target::GeoRadius,
        _ => match to.strip_prefix("fields.") {
            Some(path) if !path.is_empty() => Target::Field(path),
            Some(_) => return None,
            None if TARGETS.contains(&to) => Target::Text(to),
            None => return None,
        },
    })
}

fn text_slot<'i>(input: &'i mut EventInput, name: &str) -> Option<&'i mut Option<String>> {
    Some(match name {
        "domain" => &mut input.domain,
        "class" => &mut input.class,
        "activity" => &mut input.activity,
        "derivation" => &mut input.derivation,
        "person" => &mut input.person,
        "user" => &mut input.user,
        "badge" => &mut input.badge,
        "host" => &mut input.host,
        "ip" => &mut input.ip,
        "src_ip" => &mut input.src_ip,
        "dst_ip" => &mut input.dst_ip,
        "asset" => &mut input.asset,
        "site" => &mut input.site,
        "zone" => &mut input.zone,
        "portal" => &mut input.portal,
        "place" => &mut input.place,
        "url" => &mut input.url,
        "message" => &mut input.message,
        "tenant" => &mut input.tenant,
        _ => return None,
    })
}

/// The geo point being assembled: `geo.lat` and `geo.lon` arrive in separate steps.
#[derive(Default)]
struct GeoParts {
    lat: Option<f64>,
    lon: Option<f64>,
    radius_m: Option<f64>,
    touched: bool,
}

impl GeoParts {
    fn from_input(geo: Option<&Geo>) -> Self {
        match geo {
            Some(g) => Self {
                lat: Some(g.lat),
                lon: Some(g.lon),
                radius_m: g.radius_m,
                touched: false,
            },
            None => Self::default(),
        }
    }

    fn finish(self, input: &mut EventInput) -> Result<(), MappingError> {
        if !self.touched {
            return Ok(());
        }
        match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => {
                let polygon = input.geo.take().and_then(|g| g.polygon);
                input.geo = Some(Geo {
                    lat,
                    lon,
                    radius_m: self.radius_m,
                    polygon,
                });
                Ok(())
            }
            (None, None) => {
                input.geo = None;
                Ok(())
            }
            (Some(_), None) => Err(MappingError::IncompleteGeo { present: "geo.lat" }),
            (None, Some(_)) => Err(MappingError::IncompleteGeo { present: "geo.lon" }),
        }
    }
}

impl Mapping {
    /// Checks every step: known targets, usable layouts and time zones, and constants and table
    /// values that fit their target. Returns every problem found, one per line.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            if let Err(reason) = validate_step(step) {
                problems.push(format!("step {} ({}): {reason}", i + 1, step.op()));
            }
        }
        let sets = |name: &str| {
            self.steps.iter().any(|s| match s {
                Step::Copy { to, .. } | Step::Constant { to, .. } | Step::Lookup { to, .. } => {
                    to == name
                }
                _ => false,
            })
        };
        match (sets("geo.lat"), sets("geo.lon")) {
            (true, false) => problems.push("geo.lat is set but geo.lon never is".to_owned()),
            (false, true) => problems.push("geo.lon is set but geo.lat never is".to_owned()),
            _ => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }

    /// Maps one record; the result's `fields` is the record (after any renames).
    pub fn apply(&self, record: Map<String, Value>) -> Result<EventInput, MappingError> {
        self.apply_to(EventInput {
            fields: record,
            ..EventInput::default()
        })
    }

    /// Maps starting from an existing input (e.g. the syslog defaults), whose `fields` is the
    /// record. Targets the steps do not touch keep their values.
    pub fn apply_to(&self, mut input: EventInput) -> Result<EventInput, MappingError> {
        let mut geo = GeoParts::from_input(input.geo.as_ref());
        for (i, step) in self.steps.iter().enumerate() {
            apply_step(i + 1, step, &mut input, &mut geo)?;
        }
        geo.finish(&mut input)?;
        Ok(input)
    }
}

fn validate_step(step: &Step) -> Result<(), String> {
    let check_from = |from: &str| {
        if from.is_empty() {
            Err("`from` is empty".to_owned())
        } else {
            Ok(())
        }
    };
    let check_to = |to: &str| {
        target(to).map(|_| ()).ok_or_else(|| {
            format!(
                "unknown target `{to}`: expected one of {} or fields.<path>",
                TARGETS.join(", ")
            )
        })
    };
    let check_value = |to: &str, value: &Value| {
        let t = target(to).ok_or_else(|| format!("unknown target `{to}`"))?;
        let mut scratch = EventInput::default();
        let mut geo = GeoParts::default();
        set(&mut scratch, &mut geo, t, value.clone())
            .map_err(|reason| format!("value {} for `{to}`: {reason}", short(value)))
    };
    match step {
        Step::Copy { from, to, .. } => {
            check_from(from)?;
            check_to(to)
        }
        Step::Rename { from, to, .. } => {
            check_from(from)?;
            if to.strip_prefix("fields.").unwrap_or(to).is_empty() {
                return Err("`to` is empty".to_owned());
            }
            Ok(())
        }
        Step::Constant { to, value } => {
            check_to(to)?;
            check_value(to, value)
        }
        Step::Timestamp {
            from,
            to,
            formats,
            timezone,
            ..
        } => {
            check_from(from)?;
            match target(to) {
                Some(Target::Time | Target::Observed | Target::Field(_)) => {}
                _ => {
                    return Err(format!(
                        "target `{to}` cannot hold a time: use time, observed or fields.<path>"
                    ));
                }
            }
            if formats.is_empty() {
                return Err("`formats` is empty".to_owned());
            }
            for f in formats {
                if !is_named_format(f)
                    && StrftimeItems::new(f).any(|item| matches!(item, Item::Error))
                {
                    return Err(format!("format {f:?} is not a valid strftime pattern"));
                }
            }
            parse_timezone(timezone.as_deref()).map(|_| ())
        }
        Step::Lookup {
            from,
            to,
            table,
            default,
            ..
        } => {
            check_from(from)?;
            check_to(to)?;
            for value in table.values().chain(default.iter()) {
                check_value(to, value)?;
            }
            Ok(())
        }
    }
}

fn resolve<'a>(n: usize, op: &'static str, to: &'a str) -> Result<Target<'a>, MappingError> {
    target(to).ok_or_else(|| MappingError::Config {
        step: n,
        op,
        reason: format!("unknown target `{to}`"),
    })
}

fn apply_step(
    n: usize,
    step: &Step,
    input: &mut EventInput,
    geo: &mut GeoParts,
) -> Result<(), MappingError> {
    let op = step.op();
    let config = |reason: String| MappingError::Config {
        step: n,
        op,
        reason,
    };
    let invalid = |to: &str, value: &Value, reason: String| MappingError::Invalid {
        step: n,
        op,
        to: to.to_owned(),
        value: short(value),
        reason: cut(reason),
    };
    // Ok(None): missing and optional, skip the step.
    let read =
        |input: &EventInput, from: &str, optional: bool| match lookup_path(&input.fields, from) {
            Some(v) if !v.is_null() => Ok(Some(v.clone())),
            _ if optional => Ok(None),
            _ => Err(MappingError::Missing {
                step: n,
                op,
                from: from.to_owned(),
            }),
        };
    match step {
        Step::Copy { from, to, optional } => {
            let t = resolve(n, op, to)?;
            let Some(value) = read(input, from, *optional)? else {
                return Ok(());
            };
            set(input, geo, t, value.clone()).map_err(|r| invalid(to, &value, r))
        }
        Step::Rename { from, to, optional } => {
            let Some(value) = remove_path(&mut input.fields, from) else {
                return if *optional {
                    Ok(())
                } else {
                    Err(MappingError::Missing {
                        step: n,
                        op,
                        from: from.clone(),
                    })
                };
            };
            let key = to.strip_prefix("fields.").unwrap_or(to);
            set_path(&mut input.fields, key, value);
            Ok(())
        }
        Step::Constant { to, value } => {
            let t = resolve(n, op, to)?;
            set(input, geo, t, value.clone()).map_err(|r| invalid(to, value, r))
        }
        Step::Timestamp {
            from,
            to,
            formats,
            timezone,
            optional,
        } => {
            let t = resolve(n, op, to)?;
            let tz = parse_timezone(timezone.as_deref()).map_err(config)?;
            let Some(value) = read(input, from, *optional)? else {
                return Ok(());
            };
            let time = parse_time(&value, formats, tz).ok_or_else(|| {
                invalid(
                    to,
                    &value,
                    format!("matches none of the formats {}", formats.join(" | ")),
                )
            })?;
            let out = match t {
                Target::Time => {
                    input.time = Some(time);
                    return Ok(());
                }
                Target::Observed => {
                    input.observed = Some(time);
                    return Ok(());
                }
                _ => Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            };
            set(input, geo, t, out).map_err(|r| invalid(to, &value, r))
        }
        Step::Lookup {
            from,
            to,
            table,
            default,
            optional,
        } => {
            let t = resolve(n, op, to)?;
            let Some(value) = read(input, from, *optional)? else {
                return Ok(());
            };
            let key = match &value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            let found = key
                .as_deref()
                .and_then(|k| table.get(k))
                .or(default.as_ref())
                .cloned();
            let out = found.unwrap_or_else(|| value.clone());
            set(input, geo, t, out).map_err(|r| invalid(to, &value, r))
        }
    }
}

/// Puts a value into a target. The error is the reason, for the caller to dress.
fn set(
    input: &mut EventInput,
    geo: &mut GeoParts,
    target: Target<'_>,
    value: Value,
) -> Result<(), String> {
    match target {
        Target::Time | Target::Observed => {
            let time = match &value {
                Value::Null => None,
                Value::String(s) => Some(
                    DateTime::parse_from_rfc3339(s.trim())
                        .map_err(|_| {
                            "not an RFC 3339 time (a timestamp step reads other layouts)".to_owned()
                        })?
                        .with_timezone(&Utc),
                ),
                _ => return Err(format!("expected RFC 3339 text, found {}", kind(&value))),
            };
            if target == Target::Time {
                input.time = time;
            } else {
                input.observed = time;
            }
        }
        Target::Severity => {
            input.severity = match &value {
                Value::Null => None,
                Value::Number(n) => Some(
                    n.as_u64()
                        .and_then(|v| u8::try_from(v).ok())
                        .ok_or_else(|| format!("severity {n} is outside the OCSF range 0..6"))
                        .and_then(Severity::new)?,
                ),
                Value::String(s) => Some(Severity::parse(s)?),
                _ => return Err(format!("expected a severity, found {}", kind(&value))),
            };
        }
        Target::Confidence => {
            input.confidence = match &value {
                Value::Null => None,
                other => {
                    let n = number(other).ok_or("expected a number 0..100")?;
                    if !(0.0..=100.0).contains(&n) || n.fract() != 0.0 {
                        return Err(format!("confidence {n} is not a whole number 0..100"));
                    }
                    // In range 0..=100 and whole, so the cast is exact.
                    Some(n as u8)
                }
            };
        }
        Target::GeoLat | Target::GeoLon | Target::GeoRadius => {
            let v = match &value {
                Value::Null => None,
                other => Some(number(other).ok_or("expected a number")?),
            };
            geo.touched = true;
            match target {
                Target::GeoLat => geo.lat = v,
                Target::GeoLon => geo.lon = v,
                _ => geo.radius_m = v,
            }
        }
        Target::Text(name) => {
            let text = match value {
                Value::Null => None,
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => return Err(format!("expected text, found {}", kind(&other))),
            };
            if name == "domain"
                && let Some(d) = &text
            {
                d.parse::<Domain>()?;
            }
            let slot = text_slot(input, name).ok_or_else(|| format!("unknown target `{name}`"))?;
            *slot = text;
        }
        Target::Field(path) => set_path(&mut input.fields, path, value),
    }
    Ok(())
}

fn number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message: JSON, cut to 80 characters so that a huge record field does
/// not end up in logs whole.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", s.get(..cut).unwrap_or_default()),
        None => s,
    }
}

/// A reason may quote the value (`unknown severity "..."`): keep it short too.
fn cut(reason: String) -> String {
    match reason.char_indices().nth(160) {
        Some((at, _)) => format!("{}...", reason.get(..at).unwrap_or_default()),
        None => reason,
    }
}

fn is_named_format(f: &str) -> bool {
    matches!(f, "rfc3339" | "rfc2822" | "unix" | "unix_ms")
}

fn parse_timezone(tz: Option<&str>) -> Result<FixedOffset, String> {
    match tz.map(str::trim) {
        None => Ok(Utc.fix()),
        Some(s) if s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("gmt") => Ok(Utc.fix()),
        Some(s) => text::numeric_offset(s).ok_or_else(|| {
            format!("timezone {s:?} is not UTC or an offset such as +01:00 (zone names are not supported)")
        }),
    }
}

/// Reads a time with the first layout that fits.
fn parse_time(v: &Value, formats: &[String], tz: FixedOffset) -> Option<DateTime<Utc>> {
    let owned;
    let text = match v {
        Value::String(s) => s.trim(),
        Value::Number(n) => {
            owned = n.to_string();
            owned.as_str()
        }
        _ => return None,
    };
    formats.iter().find_map(|f| match f.as_str() {
        "rfc3339" => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        "rfc2822" => DateTime::parse_from_rfc2822(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        "unix" => from_unix(number(v)?, 1.0),
        "unix_ms" => from_unix(number(v)?, 1000.0),
        pattern => strftime(text, pattern, tz),
    })
}

fn from_unix(n: f64, per_second: f64) -> Option<DateTime<Utc>> {
    let secs = n / per_second;
    if !secs.is_finite() || secs.abs() > 1e13 {
        return None;
    }
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round().clamp(0.0, 999_999_999.0);
    // Bounded above, so both casts are exact enough and cannot saturate.
    DateTime::from_timestamp(whole as i64, nanos as u32)
}

fn strftime(text: &str, pattern: &str, tz: FixedOffset) -> Option<DateTime<Utc>> {
    let has_offset = ["%z", "%:z", "%::z", "%#z", "%+"]
        .iter()
        .any(|s| pattern.contains(s));
    if has_offset {
        return DateTime::parse_from_str(text, pattern)
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    let naive = match NaiveDateTime::parse_from_str(text, pattern) {
        Ok(t) => t,
        Err(_) => NaiveDate::parse_from_str(text, pattern)
            .ok()?
            .and_hms_opt(0, 0, 0)?,
    };
    if pattern.contains("%s") {
        return Some(Utc.from_utc_datetime(&naive));
    }
    tz.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Follows a dotted path; a key that itself holds dots is tried whole first.
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

fn remove_path(map: &mut Map<String, Value>, path: &str) -> Option<Value> {
    if let Some(v) = map.shift_remove(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    match map.get_mut(head)? {
        Value::Object(inner) => remove_path(inner, rest),
        _ => None,
    }
}

/// Sets a dotted path the way [`lookup_path`] would find it: into an existing key or object,
/// else as a new flat key.
fn set_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    if let Some(slot) = map.get_mut(path) {
        *slot = value;
        return;
    }
    if let Some((head, rest)) = path.split_once('.')
        && let Some(Value::Object(inner)) = map.get_mut(head)
    {
        set_path(inner, rest, value);
        return;
    }
    map.insert(path.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(steps: Value) -> Mapping {
        serde_json::from_value(json!({ "steps": steps })).unwrap()
    }

    fn record(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn every_op_in_order() {
        let m = mapping(json!([
            {"op": "rename", "from": "EvtID", "to": "EventID"},
            {"op": "copy", "from": "card", "to": "badge"},
            {"op": "copy", "from": "door.name", "to": "portal"},
            {"op": "constant", "to": "class", "value": "physical_access"},
            {"op": "constant", "to": "domain", "value": "physical"},
            {"op": "timestamp", "from": "ts", "to": "time", "formats": ["rfc3339", "%d/%m/%Y %H:%M:%S"], "timezone": "+01:00"},
            {"op": "lookup", "from": "result", "to": "activity", "table": {"OK": "granted", "NOK": "denied"}, "default": "unknown"},
            {"op": "lookup", "from": "EventID", "to": "severity", "table": {"4": 3, "7": "high"}},
            {"op": "copy", "from": "EventID", "to": "fields.event_code"},
        ]));
        m.validate().unwrap();
        let i = m
            .apply(record(json!({
                "EvtID": 7, "card": 4242, "door": {"name": "Lobby"}, "ts": "04/05/2026 03:13:07", "result": "NOK"
            })))
            .unwrap();
        assert_eq!(i.badge.as_deref(), Some("4242"));
        assert_eq!(i.portal.as_deref(), Some("Lobby"));
        assert_eq!(i.class.as_deref(), Some("physical_access"));
        assert_eq!(i.domain.as_deref(), Some("physical"));
        assert_eq!(i.time, Some(utc("2026-05-04T02:13:07Z")));
        assert_eq!(i.activity.as_deref(), Some("denied"));
        assert_eq!(i.severity, Some(Severity::HIGH));
        assert_eq!(i.fields.get("EvtID"), None);
        assert_eq!(i.fields["EventID"], 7);
        assert_eq!(i.fields["event_code"], 7);
    }

    #[test]
    fn lookup_default_and_pass_through() {
        let m = mapping(json!([
            {"op": "lookup", "from": "r", "to": "activity", "table": {"OK": "granted"}, "default": "unknown"},
            {"op": "lookup", "from": "r", "to": "fields.r2", "table": {"OK": "granted"}},
        ]));
        let i = m.apply(record(json!({"r": "ERR7"}))).unwrap();
        assert_eq!(i.activity.as_deref(), Some("unknown"));
        assert_eq!(i.fields["r2"], "ERR7");
    }

    #[test]
    fn missing_from_fails_unless_optional_and_null_counts_as_missing() {
        let m = mapping(json!([{"op": "copy", "from": "user", "to": "user"}]));
        let err = m.apply(record(json!({"user": null}))).unwrap_err();
        assert_eq!(err.to_string(), "step 1 (copy): field `user` is missing");
        let m = mapping(json!([
            {"op": "copy", "from": "user", "to": "user", "optional": true},
            {"op": "rename", "from": "a", "to": "b", "optional": true},
            {"op": "timestamp", "from": "t", "formats": ["unix"], "optional": true},
            {"op": "lookup", "from": "r", "to": "activity", "table": {}, "optional": true},
        ]));
        let i = m.apply(Map::new()).unwrap();
        assert_eq!((i.user, i.time, i.activity), (None, None, None));
        let m = mapping(json!([{"op": "rename", "from": "a", "to": "b"}]));
        assert!(matches!(
            m.apply(Map::new()),
            Err(MappingError::Missing { step: 1, .. })
        ));
    }

    #[test]
    fn timestamp_layouts() {
        let cases = [
            (json!("2026-05-04T04:13:07+02:00"), "rfc3339"),
            (json!("Mon, 04 May 2026 02:13:07 +0000"), "rfc2822"),
            (json!(1777860787), "unix"),
            (json!("1777860787"), "unix"),
            (json!(1777860787000u64), "unix_ms"),
            (json!("20260504031307"), "%Y%m%d%H%M%S"),
            (json!("2026-05-04 04:13:07 +0200"), "%Y-%m-%d %H:%M:%S %z"),
        ];
        for (v, f) in cases {
            let m = mapping(
                json!([{"op": "timestamp", "from": "t", "formats": [f], "timezone": "+01:00"}]),
            );
            m.validate().unwrap();
            let i = m.apply(record(json!({"t": v}))).unwrap();
            assert_eq!(i.time, Some(utc("2026-05-04T02:13:07Z")), "{f} {v}");
        }
        let m = mapping(json!([{"op": "timestamp", "from": "t", "formats": ["unix"]}]));
        let i = m.apply(record(json!({"t": 1777860787.25}))).unwrap();
        assert_eq!(i.time, Some(utc("2026-05-04T02:13:07.25Z")));
        let m = mapping(
            json!([{"op": "timestamp", "from": "t", "to": "fields.day", "formats": ["%d.%m.%Y"]}]),
        );
        let i = m.apply(record(json!({"t": "04.05.2026"}))).unwrap();
        assert_eq!(i.fields["day"], "2026-05-04T00:00:00Z");
        let m = mapping(
            json!([{"op": "timestamp", "from": "t", "to": "observed", "formats": ["unix"]}]),
        );
        let i = m.apply(record(json!({"t": 0}))).unwrap();
        assert_eq!(i.observed, Some(utc("1970-01-01T00:00:00Z")));
    }

    #[test]
    fn timestamp_that_fits_no_layout_names_the_formats() {
        let m = mapping(json!([{"op": "timestamp", "from": "t", "formats": ["rfc3339", "unix"]}]));
        let err = m.apply(record(json!({"t": "yesterday"}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "step 1 (timestamp): cannot set `time` from \"yesterday\": matches none of the formats rfc3339 | unix"
        );
        let err = m.apply(record(json!({"t": 1e300}))).unwrap_err();
        assert!(matches!(err, MappingError::Invalid { .. }), "{err}");
    }

    #[test]
    fn value_conversions_and_their_errors() {
        let m = mapping(json!([
            {"op": "copy", "from": "c", "to": "confidence"},
            {"op": "copy", "from": "lat", "to": "geo.lat"},
            {"op": "copy", "from": "lon", "to": "geo.lon"},
            {"op": "copy", "from": "r", "to": "geo.radius_m"},
            {"op": "copy", "from": "ok", "to": "message"},
            {"op": "copy", "from": "t", "to": "observed"},
        ]));
        let i = m
            .apply(record(json!({"c": "80", "lat": 48.85, "lon": "2.35", "r": 250, "ok": true, "t": "2026-05-04T02:13:07Z"})))
            .unwrap();
        assert_eq!(i.confidence, Some(80));
        let g = i.geo.unwrap();
        assert_eq!((g.lat, g.lon, g.radius_m), (48.85, 2.35, Some(250.0)));
        assert_eq!(i.message.as_deref(), Some("true"));
        assert_eq!(i.observed, Some(utc("2026-05-04T02:13:07Z")));

        let bad = [
            (
                json!({"op": "copy", "from": "v", "to": "confidence"}),
                json!(101),
                "0..100",
            ),
            (
                json!({"op": "copy", "from": "v", "to": "severity"}),
                json!(9),
                "0..6",
            ),
            (
                json!({"op": "copy", "from": "v", "to": "severity"}),
                json!("loud"),
                "unknown severity",
            ),
            (
                json!({"op": "copy", "from": "v", "to": "user"}),
                json!({"a": 1}),
                "expected text, found an object",
            ),
            (
                json!({"op": "copy", "from": "v", "to": "time"}),
                json!("04/05/2026"),
                "RFC 3339",
            ),
            (
                json!({"op": "copy", "from": "v", "to": "geo.lat"}),
                json!("north"),
                "expected a number",
            ),
            (
                json!({"op": "copy", "from": "v", "to": "domain"}),
                json!("space"),
                "unknown domain",
            ),
        ];
        for (step, v, want) in bad {
            let m = mapping(json!([step]));
            let err = m.apply(record(json!({"v": v}))).unwrap_err();
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn geo_needs_both_coordinates() {
        let m = mapping(json!([{"op": "constant", "to": "geo.lat", "value": 1.0}]));
        let err = m.apply(Map::new()).unwrap_err();
        assert_eq!(err, MappingError::IncompleteGeo { present: "geo.lat" });
    }

    #[test]
    fn apply_to_keeps_what_steps_do_not_touch() {
        let m = mapping(json!([{"op": "copy", "from": "syslog.sd.meta.site", "to": "site"}]));
        let mut start = EventInput {
            host: Some("fw01".to_owned()),
            ..EventInput::default()
        };
        start.fields = record(json!({"syslog.sd.meta.site": "dc2"}));
        let i = m.apply_to(start).unwrap();
        assert_eq!(i.host.as_deref(), Some("fw01"));
        assert_eq!(i.site.as_deref(), Some("dc2"));
    }

    #[test]
    fn rename_into_and_out_of_nested_objects() {
        let m = mapping(json!([
            {"op": "rename", "from": "a.b", "to": "fields.top"},
            {"op": "rename", "from": "x", "to": "a.c"},
        ]));
        let i = m.apply(record(json!({"a": {"b": 1}, "x": 2}))).unwrap();
        assert_eq!(Value::Object(i.fields), json!({"a": {"c": 2}, "top": 1}));
    }

    #[test]
    fn validate_reports_every_problem_with_its_step() {
        let m = mapping(json!([
            {"op": "copy", "from": "a", "to": "colour"},
            {"op": "copy", "from": "", "to": "user"},
            {"op": "constant", "to": "severity", "value": 9},
            {"op": "timestamp", "from": "t", "to": "user", "formats": ["rfc3339"]},
            {"op": "timestamp", "from": "t", "formats": []},
            {"op": "timestamp", "from": "t", "formats": ["%Q"]},
            {"op": "timestamp", "from": "t", "formats": ["unix"], "timezone": "Europe/Paris"},
            {"op": "lookup", "from": "r", "to": "domain", "table": {"a": "cyber", "b": "space"}},
            {"op": "rename", "from": "a", "to": "fields."},
            {"op": "copy", "from": "a", "to": "fields."},
            {"op": "copy", "from": "a", "to": "geo.lat"},
        ]));
        let err = m.validate().unwrap_err();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 11, "{err}");
        assert!(
            lines[0].starts_with("step 1 (copy): unknown target `colour`"),
            "{err}"
        );
        assert_eq!(lines[1], "step 2 (copy): `from` is empty");
        assert!(
            lines[2].starts_with("step 3 (constant): value 9 for `severity`"),
            "{err}"
        );
        assert!(lines[3].contains("cannot hold a time"), "{err}");
        assert_eq!(lines[4], "step 5 (timestamp): `formats` is empty");
        assert!(lines[5].contains("\"%Q\""), "{err}");
        assert!(lines[6].contains("Europe/Paris"), "{err}");
        assert!(
            lines[7].starts_with("step 8 (lookup): value \"space\""),
            "{err}"
        );
        assert_eq!(lines[8], "step 9 (rename): `to` is empty");
        assert!(
            lines[9].starts_with("step 10 (copy): unknown target `fields.`"),
            "{err}"
        );
        assert_eq!(lines[10], "geo.lat is set but geo.lon never is");
    }

    #[test]
    fn unvalidated_unknown_target_is_a_config_error_per_record() {
        let m = mapping(json!([{"op": "constant", "to": "colour", "value": "red"}]));
        let err = m.apply(Map::new()).unwrap_err();
        assert!(matches!(err, MappingError::Config { step: 1, .. }), "{err}");
    }

    #[test]
    fn unknown_ops_and_keys_are_refused_when_deserialising() {
        let bad = serde_json::from_value::<Mapping>(
            json!({"steps": [{"op": "copy", "from": "a", "to": "user", "colour": 1}]}),
        );
        assert!(bad.unwrap_err().to_string().contains("colour"));
        let bad =
            serde_json::from_value::<Mapping>(json!({"steps": [{"op": "merge", "from": "a"}]}));
        assert!(bad.unwrap_err().to_string().contains("merge"));
        let bad = serde_json::from_value::<Mapping>(json!({"steps": [], "extra": 1}));
        assert!(bad.is_err());
    }

    #[test]
    fn long_values_are_shortened_in_errors() {
        let m = mapping(json!([{"op": "copy", "from": "v", "to": "severity"}]));
        let err = m.apply(record(json!({"v": "x".repeat(5000)}))).unwrap_err();
        assert!(err.to_string().len() < 400, "{err}");
        assert!(err.to_string().ends_with("..."), "{err}");
    }
}
