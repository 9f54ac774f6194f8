//! Turning an alert into scheduled notifications, and cancelling them on acknowledgement.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tocsin_model::{Alert, AlertStatus};
use tocsin_notify::Visibility;
use ulid::Ulid;

use crate::config::{Audience, QuietAction, QuietHours, Route, Routes, Target};
use crate::matcher::{Matcher, label};

/// Who belongs to a team and who is on call; [`tocsin_org::Org`] answers from `teams.yaml`.
pub trait Directory {
    /// The members of a team, or `None` when there is no such team.
    fn team_members(&self, team: &str) -> Option<Vec<String>>;
    /// Who is on call in the team's rotation at `at`.
    fn on_call(&self, team: &str, at: DateTime<Utc>) -> Option<String>;
}

impl Directory for tocsin_org::Org {
    fn team_members(&self, team: &str) -> Option<Vec<String>> {
        self.team(team).map(|t| t.members.clone())
    }

    fn on_call(&self, team: &str, at: DateTime<Utc>) -> Option<String> {
        self.team(team)?
            .on_call
            .as_ref()?
            .on_call_at(at)
            .map(str::to_owned)
    }
}

/// A silence: alerts matching `matcher` are not notified from `starts` until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    pub id: String,
    pub matcher: Matcher,
    pub starts: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
}

impl Silence {
    pub fn is_active(&self, at: DateTime<Utc>) -> bool {
        self.starts <= at && at < self.expires
    }

    /// Whether this silence mutes `alert` at `at`.
    pub fn mutes(&self, alert: &Alert, at: DateTime<Utc>) -> bool {
        self.is_active(at) && self.matcher.matches(alert)
    }
}

/// Someone or something that receives a notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Recipient {
    Person(String),
    Channel(String),
}

/// Why a notification will not be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Suppression {
    /// Another active alert explains this one.
    Inhibited { by: Ulid, rule: usize },
    Silenced {
        silence: String,
        expires: DateTime<Utc>,
    },
    /// The notification fell in quiet hours whose action is `suppress`.
    QuietHours { window: String },
    /// The audience resolved to nobody (unknown team, nobody on call, an empty team).
    NoRecipient { detail: String },
}

/// One notification to send at `at` unless the alert is acknowledged first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable within the alert: `<alert>/<route>/<step>/<repeat>/<audience>`, for the outbox to
    /// send each once.
    pub key: String,
    /// The matched route (its name, or its path such as `route.routes[1]`).
    pub route: String,
    pub plan: String,
    /// Index of the step in the plan.
    pub step: usize,
    /// 0 for the step itself, 1.. for repeats of the last step.
    pub repeat: u32,
    pub at: DateTime<Utc>,
    /// When quiet hours moved it, the time it was first due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_from: Option<DateTime<Utc>>,
    pub audience: Audience,
    pub recipients: Vec<Recipient>,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

impl Notification {
    pub fn is_suppressed(&self) -> bool {
        self.suppressed.is_some()
    }
}

/// Everything routing decided for one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub alert: Ulid,
    pub planned_at: DateTime<Utc>,
    /// Matched routes with their plans, in tree order.
    pub routes: Vec<MatchedRoute>,
    /// Set when another alert inhibits this one; every notification then carries it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inhibited: Option<Suppression>,
    /// Sorted by `at`, then by key.
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedRoute {
    pub route: String,
    /// `None` when the matched node and its ancestors name no plan: nobody is notified.
    pub plan: Option<String>,
}

impl Plan {
    /// The notifications that will be sent (not suppressed).
    pub fn to_send(&self) -> impl Iterator<Item = &Notification> {
        self.notifications.iter().filter(|n| !n.is_suppressed())
    }
}

/// The routes an alert matches, Alertmanager style.
pub fn matching_routes(alert: &Alert, routes: &Routes) -> Vec<MatchedRoute> {
    let mut out = Vec::new();
    walk(&routes.route, alert, None, "route".into(), &mut out);
    out
}

fn walk(
    node: &Route,
    alert: &Alert,
    inherited: Option<&str>,
    path: String,
    out: &mut Vec<MatchedRoute>,
) -> bool {
    if !node.matcher.matches(alert) {
        return false;
    }
    let plan = node.plan.as_deref().or(inherited);
    let mut any = false;
    for (i, child) in node.routes.iter().enumerate() {
        if walk(child, alert, plan, format!("{path}.routes[{i}]"), out) {
            any = true;
            if !child.continue_matching {
                break;
            }
        }
    }
    if !any {
        out.push(MatchedRoute {
            route: node.name.clone().unwrap_or(path),
            plan: plan.map(str::to_owned),
        });
    }
    true
}

/// The first active alert (not closed, not `alert` itself) that inhibits `alert`.
pub fn inhibited_by(alert: &Alert, routes: &Routes, active: &[Alert]) -> Option<Suppression> {
    for (i, rule) in routes.inhibit.iter().enumerate() {
        if !rule.target.matches(alert) {
            continue;
        }
        let source = active.iter().find(|other| {
            other.id != alert.id
                && other.status != AlertStatus::Closed
                && rule.source.matches(other)
                // As in Alertmanager: an alert matching both sides cannot be inhibited by
                // another that does too, so that a pair never silences each other.
                && !(rule.source.matches(alert) && rule.target.matches(other))
                && rule
                    .equal
                    .iter()
                    .all(|l| label(other, l) == label(alert, l))
        });
        if let Some(src) = source {
            return Some(Suppression::Inhibited {
                by: src.id,
                rule: i,
            });
        }
    }
    None
}

/// The end of the quiet window that holds `at`, if any.
pub fn quiet_until(q: &QuietHours, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = at.with_timezone(&q.offset.0);
    let (from, until) = (q.from.0, q.until.0);
    let tod = local.time();
    let start_day = if from < until {
        (from <= tod && tod < until).then_some(local.date_naive())?
    } else if tod >= from {
        local.date_naive()
    } else if tod < until {
        local.date_naive().pred_opt()?
    } else {
        return None;
    };
    if !q.days.is_empty() && !q.days.iter().any(|d| d.0 == start_day.weekday()) {
        return None;
    }
    let mut len = until - from;
    if len <= Duration::zero() {
        len += Duration::days(1);
    }
    let start = q
        .offset
        .0
        .from_local_datetime(&start_day.and_time(from))
        .single()?;
    Some(start.checked_add_signed(len)?.with_timezone(&Utc))
}

/// Schedules the notifications for `alert`, starting at `now`: for each matched route, each step
/// of its plan at `now + after`, then the repeats of the last step. On-call rotations are
/// resolved at the time each notification is due; silences and quiet hours are judged at that
/// time too, inhibition against `active` as it stands now.
pub fn plan(
    alert: &Alert,
    routes: &Routes,
    silences: &[Silence],
    active: &[Alert],
    directory: &dyn Directory,
    now: DateTime<Utc>,
) -> Plan {
    let matched = matching_routes(alert, routes);
    let inhibited = inhibited_by(alert, routes, active);
    let mut notifications = Vec::new();
    for m in &matched {
        let Some(plan_name) = &m.plan else { continue };
        let Some(ep) = routes.plans.get(plan_name) else {
            continue;
        };
        // Times beyond chrono's range cannot be scheduled; they are left out rather than wrap.
        let mut due: Vec<(usize, u32, DateTime<Utc>)> = ep
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, 0, now.checked_add_signed(s.after.0)?)))
            .collect();
        if let (Some(r), Some((last_i, _, last_at))) = (ep.repeat, due.last().copied())
            && last_i + 1 == ep.steps.len()
        {
            let mut at = last_at;
            for k in 1..=r.times.min(crate::config::MAX_REPEATS) {
                let Some(next) = at.checked_add_signed(r.every.0) else {
                    break;
                };
                at = next;
                due.push((last_i, k, at));
            }
        }
        for (step_i, repeat, first_at) in due {
            let Some(step) = ep.steps.get(step_i) else {
                continue;
            };
            let (at, deferred_from, quiet) = apply_quiet(alert, routes, &ep.quiet_hours, first_at);
            for (ai, audience) in step.notify.iter().enumerate() {
                let (recipients, unresolved) = resolve(audience, directory, at);
                let suppressed = inhibited
                    .clone()
                    .or_else(|| silenced(alert, silences, at))
                    .or_else(|| quiet.clone())
                    .or(unresolved);
                notifications.push(Notification {
                    key: format!("{}/{}/{step_i}/{repeat}/{ai}", alert.id, m.route),
                    route: m.route.clone(),
                    plan: plan_name.clone(),
                    step: step_i,
                    repeat,
                    at,
                    deferred_from,
                    audience: audience.clone(),
                    recipients,
                    visibility: audience.visibility,
                    suppressed,
                });
            }
        }
    }
    notifications.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
    Plan {
        alert: alert.id,
        planned_at: now,
        routes: matched,
        inhibited,
        notifications,
    }
}

/// Whether a notification due at `at` must still be held back, judged again at send time:
/// silences created and alerts raised since the plan was made count too.
pub fn suppression_at(
    alert: &Alert,
    routes: &Routes,
    silences: &[Silence],
    active: &[Alert],
    at: DateTime<Utc>,
) -> Option<Suppression> {
    inhibited_by(alert, routes, active).or_else(|| silenced(alert, silences, at))
}

fn silenced(alert: &Alert, silences: &[Silence], at: DateTime<Utc>) -> Option<Suppression> {
    silences
        .iter()
        .find(|s| s.mutes(alert, at))
        .map(|s| Suppression::Silenced {
            silence: s.id.clone(),
            expires: s.expires,
        })
}

/// Teams named by the plans that `directory` does not know, as `(field, message)`, for
/// `tocsin check` to report next to the file's own errors.
pub fn unknown_teams(routes: &Routes, directory: &dyn Directory) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, ep) in &routes.plans {
        for (i, step) in ep.steps.iter().enumerate() {
            for (j, a) in step.notify.iter().enumerate() {
                let (key, team) = match a.target() {
                    Some(Target::Team(t)) => ("team", t),
                    Some(Target::OnCall(t)) => ("oncall", t),
                    _ => continue,
                };
                if directory.team_members(team).is_none() {
                    out.push((
                        format!("plans.{name}.steps[{i}].notify[{j}].{key}"),
                        format!("unknown team {team:?}"),
                    ));
                }
            }
        }
    }
    out
}

/// Moves `at` past deferring quiet windows; the suppression when a `suppress` window holds it.
fn apply_quiet(
    alert: &Alert,
    routes: &Routes,
    names: &[String],
    first_at: DateTime<Utc>,
) -> (DateTime<Utc>, Option<DateTime<Utc>>, Option<Suppression>) {
    let mut at = first_at;
    // Windows may chain (one ends as another starts); a few passes settle every real config.
    for _ in 0..8 {
        let mut moved = false;
        for name in names {
            let Some(q) = routes.quiet_hours.get(name) else {
                continue;
            };
            if q.break_through.is_some_and(|s| alert.severity >= s) {
                continue;
            }
            let Some(end) = quiet_until(q, at) else {
                continue;
            };
            match q.action {
                QuietAction::Suppress => {
                    let deferred = (at != first_at).then_some(first_at);
                    return (
                        at,
                        deferred,
                        Some(Suppression::QuietHours {
                            window: name.clone(),
                        }),
                    );
                }
                QuietAction::Defer => {
                    at = end;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    (at, (at != first_at).then_some(first_at), None)
}

fn resolve(
    audience: &Audience,
    directory: &dyn Directory,
    at: DateTime<Utc>,
) -> (Vec<Recipient>, Option<Suppression>) {
    let none = |detail: String| (Vec::new(), Some(Suppression::NoRecipient { detail }));
    match audience.target() {
        None => none("the audience names no single target".into()),
        Some(Target::Person(p)) => (vec![Recipient::Person(p.to_owned())], None),
        Some(Target::Channel(c)) => (vec![Recipient::Channel(c.to_owned())], None),
        Some(Target::OnCall(t)) => match directory.on_call(t, at) {
            Some(p) => (vec![Recipient::Person(p)], None),
            None => none(format!("nobody is on call for team {t} at {at}")),
        },
        Some(Target::Team(t)) => match directory.team_members(t) {
            None => none(format!("unknown team {t}")),
            Some(m) if m.is_empty() => none(format!("team {t} has no members")),
            Some(m) => (m.into_iter().map(Recipient::Person).collect(), None),
        },
    }
}

/// The notifications an acknowledgement at `acked_at` cancels: every one not suppressed that is
/// not in `sent` (keys the outbox has delivered), whether due later or due and still queued.
pub fn cancel_on_ack<'a>(
    plan: &'a Plan,
    acked_at: DateTime<Utc>,
    sent: &HashSet<String>,
) -> Vec<&'a Notification> {
    plan.to_send()
        .filter(|n| n.at > acked_at || !sent.contains(&n.key))
        .collect()
}
