//! `logon_without_presence`: an interactive logon on a workstation at a site where the person
//! has not badged in that day.
//!
//! **What it catches.** Someone at the keyboard who is not who the account says (a shared or
//! stolen password used on site), or a remote-control tool presenting as a local logon.
//!
//! **How it decides.** On an `authentication` logon whose logon type (`fields.LogonType` or
//! `fields.logon_type`) is interactive, on an asset of a listed kind placed at a site, by a
//! resolved person who holds a badge: the presence book must show that person badged into that
//! site on the same (UTC) day.
//!
//! **Tuning.** `interactive_logon_types` (default Windows types 2, 10 and 11 and the words
//! `interactive`, `remote_interactive`, `cached_interactive`; drop 10 if remote desktop from home is
//! normal); `asset_kinds` (default `workstation`; add `server` for console logons).

use serde::Deserialize;
use tocsin_detect::Detection;
use tocsin_model::{Event, Severity};
use tocsin_org::AssetKind;

use crate::alarm::{Alarm, field, is_one_of};
use crate::{Check, Cx, default_true, strings};

pub const ID: &str = "logon_without_presence";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub enabled: bool,
    pub logon_activities: Vec<String>,
    /// Values of the logon type that mean someone is at the machine.
    pub interactive_logon_types: Vec<String>,
    /// `fields` names holding the logon type.
    pub logon_type_fields: Vec<String>,
    pub asset_kinds: Vec<AssetKind>,
    pub severity: Severity,
    pub dedup_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            logon_activities: strings(&["logon", "logon_success"]),
            interactive_logon_types: strings(&[
                "2",
                "10",
                "11",
                "interactive",
                "remote_interactive",
                "cached_interactive",
            ]),
            logon_type_fields: strings(&["LogonType", "logon_type"]),
            asset_kinds: vec![AssetKind::Workstation],
            severity: Severity::MEDIUM,
            dedup_secs: 43_200,
        }
    }
}

pub struct LogonWithoutPresence {
    cfg: Config,
}

impl LogonWithoutPresence {
    pub fn new(cfg: Config) -> Self {
        Self { cfg }
    }
}

impl Check for LogonWithoutPresence {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>) {
        if e.class != "authentication"
            || !is_one_of(e.activity.as_deref(), &self.cfg.logon_activities)
        {
            return;
        }
        let interactive = self
            .cfg
            .logon_type_fields
            .iter()
            .find_map(|f| field(e, f))
            .is_some_and(|t| is_one_of(Some(&t), &self.cfg.interactive_logon_types));
        if !interactive {
            return;
        }
        let Some(asset) = e.asset_id.as_deref().and_then(|a| cx.org.asset(a)) else {
            return;
        };
        if !self.cfg.asset_kinds.contains(&asset.kind) {
            return;
        }
        let Some(site) = asset.site.as_deref().and_then(|s| cx.org.site_by_id(s)) else {
            return;
        };
        let Some(pid) = e.person_id.as_deref() else {
            return;
        };
        let Some(person) = cx.org.person(pid) else {
            return;
        };
        if person.badges.is_empty() {
            return;
        }
        let day = e.time.date_naive();
        let presence = cx.presence.get(pid);
        if presence.is_some_and(|p| p.badged_into_on(&site.id, day)) {
            return;
        }
        let host = e.host.as_deref().unwrap_or(&asset.id);
        let account = e.user.as_deref().unwrap_or("an account");
        let whereabouts = match presence.and_then(|p| p.site_id.as_deref().map(|s| (p, s))) {
            Some((p, s)) if p.day == day => format!(
                "Today the badge system saw {} at {s} ({}).",
                person.name,
                if p.inside { "inside" } else { "badged out" }
            ),
            _ => format!("The badge system has not seen {} today.", person.name),
        };
        let mut a = Alarm::new(ID, self.cfg.severity, e).entity("expected_site", site.id.clone());
        a.title = format!(
            "{account} logged on at {host} in {} without badging in",
            site.name
        );
        a.what = format!(
            "{account} ({}) logged on interactively at {host} in {}, but has not badged into {} today. {whereabouts}",
            person.name, site.name, site.name
        );
        a.guard = format!(
            "Go to {host} in {} and check who is at the keyboard; ask for identification.",
            site.name
        );
        a.analyst = format!(
            "Confirm with {} whether they are at {}; if not, lock {account} and look for remote-access tools on {host}.",
            person.name, site.name
        );
        a.people = format!(
            "{}'s account may be used by someone else on site.",
            person.name
        );
        a.physical = format!("Someone may be in {} without a badge record.", site.name);
        a.digital = format!("{host} and what {account} can reach.");
        a.site_id = Some(site.id.clone());
        a.dedup_key = format!("{pid}:{}", site.id);
        a.dedup_window_secs = self.cfg.dedup_secs;
        out.push(a.into_detection(e));
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;

    #[test]
    fn an_interactive_logon_without_a_badge_in_that_day_fires() {
        let mut r = Rig::new();
        let d = r.feed(logon("CORP\\asilva", "WS-PAR-01", "10.1.0.21", 2));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].detector, super::ID);
        assert!(
            d[0].summary.contains("has not seen Ana Silva today"),
            "{}",
            d[0].summary
        );
        // Badged in yesterday only: still fires today.
        let mut r = Rig::new();
        r.feed(badge("granted", "B-ANA", "HQ-LOBBY"));
        r.wait(86_400);
        assert_eq!(
            r.fired(vec![logon("asilva", "WS-PAR-01", "10.1.0.21", 11)]),
            vec![super::ID]
        );
    }

    #[test]
    fn badged_in_network_logons_and_servers_stay_silent() {
        let mut r = Rig::new();
        // A network logon (type 3) is not someone at the keyboard.
        assert!(
            r.fired(vec![logon("asilva", "WS-PAR-01", "10.1.0.21", 3)])
                .is_empty()
        );
        // A server is not a workstation.
        assert!(
            r.fired(vec![logon("bmeyer", "SRV-DB", "10.2.0.21", 2)])
                .is_empty()
        );
        r.feed(badge("granted", "B-ANA", "HQ-LOBBY"));
        r.wait(300);
        assert!(
            r.fired(vec![logon("asilva", "WS-PAR-01", "10.1.0.21", 2)])
                .is_empty()
        );
        // Badged out later the same day still counts as having been there.
        r.feed(badge("granted", "B-ANA", "HQ-EXIT"));
        r.wait(60);
        assert!(
            r.fired(vec![logon("asilva", "WS-PAR-01", "10.1.0.21", 2)])
                .is_empty()
        );
    }
}
