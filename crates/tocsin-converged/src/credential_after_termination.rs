//! `credential_after_termination`: a badge or an account used by someone whose status says they
//! have left the organisation, or are on leave.
//!
//! **What it catches.** Credentials that were not revoked at departure, badges kept by former
//! staff or contractors, and accounts of people on leave used by someone else.
//!
//! **How it decides.** Any event whose `badge` or `user` resolves to a person whose `status` in
//! `org/people.yaml` is `terminated` (or `leave`, when `include_leave`) on the event's day. A
//! refused attempt (`denied`, `logon_failed`) still fires, at a lower severity: the credential is
//! being tried.
//!
//! **Tuning.** Set `include_leave = false` if people on leave often work anyway; adjust
//! `severity_terminated` / `severity_leave`.

use serde::Deserialize;
use tocsin_detect::Detection;
use tocsin_model::{Event, Severity};
use tocsin_org::State;

use crate::alarm::{Alarm, is_one_of};
use crate::{Check, Cx, default_true, strings};

pub const ID: &str = "credential_after_termination";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub enabled: bool,
    pub include_leave: bool,
    pub severity_terminated: Severity,
    pub severity_leave: Severity,
    /// Activities that mean the credential was refused; they lower the severity by one step.
    pub refused_activities: Vec<String>,
    pub dedup_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            include_leave: true,
            severity_terminated: Severity::CRITICAL,
            severity_leave: Severity::MEDIUM,
            refused_activities: strings(&["denied", "logon_failed", "failed"]),
            dedup_secs: 3600,
        }
    }
}

pub struct CredentialAfterTermination {
    cfg: Config,
}

impl CredentialAfterTermination {
    pub fn new(cfg: Config) -> Self {
        Self { cfg }
    }
}

impl Check for CredentialAfterTermination {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>) {
        let (pi, kind, credential) = if let Some((b, i)) = e
            .badge
            .as_deref()
            .and_then(|b| Some((b, cx.org.person_by_badge(b)?)))
        {
            (i, "badge", b)
        } else if let Some((u, i)) = e
            .user
            .as_deref()
            .and_then(|u| Some((u, cx.org.person_by_account(u)?)))
        {
            (i, "account", u)
        } else {
            return;
        };
        let Some(person) = cx.org.people.get(pi) else {
            return;
        };
        let state = cx.org.state_on(pi, e.time.date_naive());
        let mut severity = match state {
            State::Terminated => self.cfg.severity_terminated,
            State::Leave if self.cfg.include_leave => self.cfg.severity_leave,
            _ => return,
        };
        let refused = is_one_of(e.activity.as_deref(), &self.cfg.refused_activities);
        if refused && severity.id() > 1 {
            severity = Severity::new(severity.id() - 1).unwrap_or(severity);
        }
        let since = person
            .status
            .from
            .map_or(String::new(), |d| format!(" since {d}"));
        let where_ = e
            .portal
            .as_deref()
            .or(e.host.as_deref())
            .or(e.site_id.as_deref())
            .unwrap_or("an unknown place");
        let outcome = if refused {
            "was tried (and refused)"
        } else {
            "was used"
        };
        let status = if state == State::Terminated {
            "left the organisation"
        } else {
            "on leave"
        };
        let mut a = Alarm::new(ID, severity, e)
            .entity("status", state.as_str())
            .entity("credential_kind", kind);
        a.rule = Some(state.as_str().to_owned());
        a.title = format!(
            "{} of {} ({status}) {outcome} at {where_}",
            cap(kind),
            person.name
        );
        a.what = format!(
            "The {kind} {credential} of {}, {status}{since}, {outcome} at {where_} ({} {}).",
            person.name,
            e.class,
            e.activity.as_deref().unwrap_or("")
        );
        a.guard = if kind == "badge" {
            format!(
                "Find whoever holds badge {credential} at {where_}, check their identity and take the badge; confirm on camera."
            )
        } else {
            format!(
                "If {} is seen on site, escort them and inform the security lead.",
                person.name
            )
        };
        a.analyst = format!(
            "Disable every credential of {} now (badges, {}, VPN), then review what {credential} did{since}.",
            person.name,
            if person.accounts.is_empty() {
                "accounts".to_owned()
            } else {
                person.accounts.join(", ")
            }
        );
        a.people = format!(
            "{} should not be active; someone may be using their identity.",
            person.name
        );
        a.physical = if kind == "badge" {
            format!("Access through {where_}.")
        } else {
            "none identified".into()
        };
        a.digital = if kind == "account" {
            format!("Everything {credential} can reach.")
        } else {
            "none identified".into()
        };
        a.dedup_key = format!("{}:{credential}", person.id);
        a.dedup_window_secs = self.cfg.dedup_secs;
        out.push(a.into_detection(e));
    }
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use tocsin_model::Severity;

    use crate::testkit::*;

    #[test]
    fn a_terminated_badge_or_an_account_on_leave_fires() {
        let mut r = Rig::new();
        let d = r.feed(badge("granted", "B-CAT", "HQ-LOBBY"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].detector, super::ID);
        assert_eq!(d[0].severity, Severity::CRITICAL);
        assert_eq!(d[0].rule.as_deref(), Some("terminated"));
        let d = r.feed(badge("denied", "B-CAT", "HQ-LOBBY"));
        assert_eq!(
            d[0].severity,
            Severity::HIGH,
            "a refused try is one step lower"
        );
        let d = r.feed(logon("droy", "WS-PAR-01", "10.1.0.21", 3));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].rule.as_deref(), Some("leave"));
    }

    #[test]
    fn active_people_and_statuses_outside_their_dates_stay_silent() {
        let mut r = Rig::new();
        assert!(
            r.fired(vec![badge("granted", "B-ANA", "HQ-LOBBY")])
                .is_empty()
        );
        // Before Cat's termination date.
        r.clock.set("2026-04-30T12:00:00Z".parse().unwrap());
        assert!(
            r.fired(vec![badge("granted", "B-CAT", "HQ-LOBBY")])
                .is_empty()
        );
        // After Dan's leave.
        r.clock.set("2026-05-21T09:00:00Z".parse().unwrap());
        assert!(
            r.fired(vec![logon("droy", "WS-PAR-01", "10.1.0.21", 3)])
                .is_empty()
        );
        let mut cfg = crate::ConvergedConfig::default();
        cfg.credential_after_termination.include_leave = false;
        let mut r = Rig::with(cfg);
        assert!(
            r.fired(vec![logon("droy", "SRV-DB", "10.1.0.21", 3)])
                .is_empty()
        );
    }
}
