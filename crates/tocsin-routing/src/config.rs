//! The `routes.yaml` format: parsed with `deny_unknown_fields`, then cross-checked; every error
//! names file, line and field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{Duration, FixedOffset, NaiveTime, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use tocsin_model::Severity;
use tocsin_notify::Visibility;

use crate::matcher::{LABELS, Matcher};
use crate::{RoutesError, RoutesErrors};

/// The file, in the config folder, that holds the routing tree and the escalation plans.
pub const ROUTES_FILE: &str = "routes.yaml";

/// Largest routes file read.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Most repeats a plan may ask for, so that every plan stays finite.
pub const MAX_REPEATS: u32 = 100;

/// A whole routes file, checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// The root of the routing tree; it usually matches everything and names the default plan.
    pub route: Route,
    /// Escalation plans by name.
    #[serde(default)]
    pub plans: BTreeMap<String, EscalationPlan>,
    /// Quiet-hour windows by name, referred to by plans.
    #[serde(default)]
    pub quiet_hours: BTreeMap<String, QuietHours>,
    /// An alert matching `source` inhibits alerts matching `target` whose `equal` labels agree.
    #[serde(default)]
    pub inhibit: Vec<InhibitRule>,
}

/// A node of the routing tree, matched like Alertmanager's: the first matching child wins
/// unless it says `continue: true`; a node none of whose children match is itself the match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Shown in plans instead of the node's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "match")]
    pub matcher: Matcher,
    /// The escalation plan; inherited from the parent when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Keep trying the following siblings after this node matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// Steps that notify further audiences until someone acknowledges.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPlan {
    pub steps: Vec<Step>,
    /// After the last step, notify its audiences again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    /// Names of `quiet_hours` windows that apply to this plan.
    #[serde(default)]
    pub quiet_hours: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Delay from the start of the plan (`0`, `90s`, `5m`, `1h30m`).
    pub after: Span,
    pub notify: Vec<Audience>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    pub every: Span,
    /// How many repeats at most (up to [`MAX_REPEATS`]).
    pub times: u32,
}

/// Who a step notifies: exactly one of `team`, `oncall`, `person` or `channel`, with the
/// visibility level that decides which fields the audience sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Every member of a team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Whoever is on call in the team's rotation when the step fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oncall: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// A configured notification channel by name (a partner webhook, a SIEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default)]
    pub visibility: Visibility,
    /// Preferred channels for people, in failover order; empty means the person's default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
}

/// An audience with its one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Team(&'a str),
    OnCall(&'a str),
    Person(&'a str),
    Channel(&'a str),
}

impl Audience {
    /// The target, when exactly one is set (always so once the file is checked).
    pub fn target(&self) -> Option<Target<'_>> {
        let set: Vec<Target<'_>> = [
            self.team.as_deref().map(Target::Team),
            self.oncall.as_deref().map(Target::OnCall),
            self.person.as_deref().map(Target::Person),
            self.channel.as_deref().map(Target::Channel),
        ]
        .into_iter()
        .flatten()
        .collect();
        match set.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Team(t) => write!(f, "team {t}"),
            Target::OnCall(t) => write!(f, "on call for {t}"),
            Target::Person(p) => write!(f, "person {p}"),
            Target::Channel(c) => write!(f, "channel {c}"),
        }
    }
}

/// A daily window, in a fixed UTC offset, during which notifications wait (or are dropped)
/// unless the alert is severe enough to break through.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `+01:00`, `-05:00` or `Z`.
    pub offset: Offset,
    /// Start, `HH:MM` local to `offset`.
    pub from: TimeOfDay,
    /// End, `HH:MM`; earlier than `from` means the window crosses midnight.
    pub until: TimeOfDay,
    /// Days on which the window starts (`mon` .. `sun`); every day when empty.
    #[serde(default)]
    pub days: Vec<Day>,
    /// Alerts of this severity or above notify anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_through: Option<Severity>,
    #[serde(default)]
    pub action: QuietAction,
}

/// What happens to a notification that falls in quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuietAction {
    /// Sent when the window ends.
    #[default]
    Defer,
    /// Not sent at all.
    Suppress,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRule {
    pub source: Matcher,
    pub target: Matcher,
    /// Labels (see [`LABELS`]) whose values must be the same on both alerts.
    #[serde(default)]
    pub equal: Vec<String>,
}

/// A length of time written `0`, `45s`, `5m`, `1h30m` or `2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl Span {
    pub fn parse(s: &str) -> Result<Span, String> {
        let t = s.trim();
        if t == "0" {
            return Ok(Span(Duration::zero()));
        }
        if t.is_empty() {
            return Err("empty duration".into());
        }
        let mut total: i64 = 0;
        let mut digits = String::new();
        for c in t.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit: i64 = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => {
                    return Err(format!(
                        "bad duration {s:?}: unknown unit {c:?}, use s, m, h or d"
                    ));
                }
            };
            let n: i64 = digits
                .parse()
                .map_err(|_| format!("bad duration {s:?}: expected a whole number before {c:?}"))?;
            digits.clear();
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .filter(|v| *v <= 366 * 86_400)
                .ok_or_else(|| format!("duration {s:?} is longer than a year"))?;
        }
        if !digits.is_empty() {
            return Err(format!(
                "bad duration {s:?}: {digits} has no unit (s, m, h or d)"
            ));
        }
        Ok(Span(Duration::seconds(total)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0.num_seconds();
        if s == 0 {
            return f.write_str("0");
        }
        for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if s >= len {
                write!(f, "{}{unit}", s / len)?;
                s %= len;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) if n.as_u64() == Some(0) => Ok(Span(Duration::zero())),
            Value::String(s) => Span::parse(&s).map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "duration must be written like 5m or 1h30m, not {other}"
            ))),
        }
    }
}

/// `HH:MM` (or `HH:MM:SS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay(pub NaiveTime);

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%H:%M"))
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M:%S"))
            .map(TimeOfDay)
            .map_err(|_| serde::de::Error::custom(format!("bad time of day {s:?}: use HH:MM")))
    }
}

/// A fixed UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(pub FixedOffset);

impl Serialize for Offset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim();
        if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
            return FixedOffset::east_opt(0)
                .map(Offset)
                .ok_or_else(|| serde::de::Error::custom("bad offset"));
        }
        t.parse::<FixedOffset>()
            .map(Offset)
            .map_err(|_| serde::de::Error::custom(format!("bad offset {s:?}: use +HH:MM or Z")))
    }
}

/// A day of the week, written `mon` .. `sun` (or in full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub Weekday);

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format!("{}", self.0).to_ascii_lowercase())
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.trim()
            .parse::<Weekday>()
            .map(Day)
            .map_err(|_| serde::de::Error::custom(format!("bad day {s:?}: use mon .. sun")))
    }
}

/// Reads and checks `path` (usually `<config>/routes.yaml`). The only IO in this crate.
pub fn load(path: &Path) -> Result<Routes, RoutesErrors> {
    let fail = |message: String| {
        RoutesErrors(vec![RoutesError {
            file: path.to_path_buf(),
            line: None,
            field: None,
            message,
        }])
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!(
            "file is {} bytes, more than the {MAX_FILE_BYTES} allowed",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    parse(&text, path)
}

/// Parses and checks the text of a routes file; `file` only names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<Routes, RoutesErrors> {
    let de = yaml_serde::Deserializer::from_str(text);
    let routes: Routes = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.location().map(|l| l.line());
        let mut message = inner.to_string();
        // The location is reported on its own; keep the message free of it.
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        if let Some((head, rest)) = message.split_once(": ")
            && !head.contains(char::is_whitespace)
            && (head.contains('[') || head.contains('.'))
        {
            message = rest.to_owned();
        }
        let field = (field != "." && !field.is_empty() && field != "?").then_some(field);
        RoutesErrors(vec![RoutesError {
            file: file.to_path_buf(),
            line,
            field,
            message,
        }])
    })?;
    let errors = check(&routes, text, file);
    if errors.is_empty() {
        Ok(routes)
    } else {
        Err(RoutesErrors(errors))
    }
}

struct Checker<'a> {
    text: &'a str,
    file: PathBuf,
    errors: Vec<RoutesError>,
}

impl Checker<'_> {
    fn push(&mut self, field: String, line_hint: Option<(&str, &str)>, message: String) {
        let line = line_hint.and_then(|(k, v)| line_of(self.text, k, v));
        self.errors.push(RoutesError {
            file: self.file.clone(),
            line,
            field: Some(field),
            message,
        });
    }

    fn matcher(&mut self, m: &Matcher, field: &str) {
        for d in &m.domain {
            if d.parse::<tocsin_model::Domain>().is_err() {
                self.push(
                    format!("{field}.domain"),
                    Some(("domain", d)),
                    format!("unknown domain {d:?}: expected cyber, physical or public"),
                );
            }
        }
    }

    fn route(&mut self, r: &Route, field: &str, routes: &Routes) {
        self.matcher(&r.matcher, &format!("{field}.match"));
        if let Some(p) = &r.plan
            && !routes.plans.contains_key(p)
        {
            self.push(
                format!("{field}.plan"),
                Some(("plan", p)),
                format!("unknown plan {p:?}"),
            );
        }
        for (i, c) in r.routes.iter().enumerate() {
            self.route(c, &format!("{field}.routes[{i}]"), routes);
        }
    }
}

fn check(routes: &Routes, text: &str, file: &Path) -> Vec<RoutesError> {
    let mut c = Checker {
        text,
        file: file.to_path_buf(),
        errors: Vec::new(),
    };
    c.route(&routes.route, "route", routes);
    for (name, plan) in &routes.plans {
        let f = format!("plans.{name}");
        if plan.steps.is_empty() {
            c.push(
                format!("{f}.steps"),
                Some((name, "")),
                "a plan needs at least one step".into(),
            );
        }
        let mut last = Duration::zero();
        for (i, step) in plan.steps.iter().enumerate() {
            if step.after.0 < last {
                c.push(
                    format!("{f}.steps[{i}].after"),
                    Some(("after", &step.after.to_string())),
                    format!(
                        "steps must come in order: {} is before the step above it",
                        step.after
                    ),
                );
            }
            last = step.after.0;
            if step.notify.is_empty() {
                c.push(
                    format!("{f}.steps[{i}].notify"),
                    None,
                    "a step needs at least one audience".into(),
                );
            }
            for (j, a) in step.notify.iter().enumerate() {
                if a.target().is_none() {
                    c.push(
                        format!("{f}.steps[{i}].notify[{j}]"),
                        None,
                        "an audience needs exactly one of team, oncall, person or channel".into(),
                    );
                }
            }
        }
        if let Some(r) = plan.repeat {
            if r.every.0 <= Duration::zero() {
                c.push(
                    format!("{f}.repeat.every"),
                    Some(("every", "0")),
                    "repeat interval must be longer than 0".into(),
                );
            }
            if r.times > MAX_REPEATS {
                c.push(
                    format!("{f}.repeat.times"),
                    Some(("times", &r.times.to_string())),
                    format!("at most {MAX_REPEATS} repeats"),
                );
            }
        }
        for (i, q) in plan.quiet_hours.iter().enumerate() {
            if !routes.quiet_hours.contains_key(q) {
                c.push(
                    format!("{f}.quiet_hours[{i}]"),
                    Some(("quiet_hours", q)),
                    format!("unknown quiet hours {q:?}"),
                );
            }
        }
    }
    for (name, q) in &routes.quiet_hours {
        if q.from == q.until {
            c.push(
                format!("quiet_hours.{name}.until"),
                Some((name, "")),
                "from and until are the same time".into(),
            );
        }
    }
    for (i, rule) in routes.inhibit.iter().enumerate() {
        let f = format!("inhibit[{i}]");
        c.matcher(&rule.source, &format!("{f}.source"));
        c.matcher(&rule.target, &format!("{f}.target"));
        if rule.source.is_empty() {
            c.push(
                format!("{f}.source"),
                None,
                "an empty source would let any alert inhibit others".into(),
            );
        }
        for (j, l) in rule.equal.iter().enumerate() {
            if !LABELS.contains(&l.as_str()) && !l.starts_with("entities.") {
                c.push(
                    format!("{f}.equal[{j}]"),
                    Some(("equal", l)),
                    format!(
                        "unknown label {l:?}: expected one of {} or entities.<key>",
                        LABELS.join(", ")
                    ),
                );
            }
        }
    }
    c.errors
}

/// The 1-based line of the first `key: value` (or `key:` with an empty value, or `value` in a
/// flow list after `key:`) in `text`.
fn line_of(text: &str, key: &str, value: &str) -> Option<usize> {
    let unquote = |s: &str| s.trim().trim_matches(['"', '\'']).to_owned();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim_start().trim_start_matches("- ").trim_start();
        let l = l.trim_start_matches('{').trim_start();
        for part in l.split([',', '{']) {
            let Some((k, v)) = part.split_once(':') else {
                continue;
            };
            if unquote(k) != key {
                continue;
            }
            let v = v.trim().trim_end_matches('}').trim();
            if unquote(v) == value
                || (v.starts_with('[') && v.split([',', '[', ']']).any(|p| unquote(p) == value))
            {
                return Some(i + 1);
            }
        }
    }
    None
}
