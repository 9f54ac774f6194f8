//! `activity_while_away`: network activity from a person's own workstation while they are in a
//! classified zone or badged out of the building — the insider pattern of a machine working for
//! someone who is not at it.
//!
//! **What it catches.** Scheduled exfiltration, a remote-access tool, or a colleague using an
//! unlocked workstation while its owner is elsewhere.
//!
//! **How it decides.** An event of a listed class (default `network_activity`) whose host or
//! address is a person's device (the `devices` of `org/people.yaml`), while the presence book
//! shows that person inside a zone of a listed sensitivity (default `classified`), or badged out
//! for longer than `out_grace_secs`.
//!
//! **Tuning.** Add `server_room` to `zone_sensitivities` where people never need their desktops
//! while inside; raise `out_grace_secs` (default 600) when updates or backups run after hours;
//! narrow `classes` to the traffic your firewall reports.

use serde::Deserialize;
use tocsin_detect::Detection;
use tocsin_model::{Event, Severity};
use tocsin_org::Sensitivity;

use crate::alarm::{Alarm, human, secs};
use crate::{Check, Cx, default_true, strings};

pub const ID: &str = "activity_while_away";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub enabled: bool,
    pub classes: Vec<String>,
    pub zone_sensitivities: Vec<Sensitivity>,
    /// Seconds after badging out during which activity is still expected (shutting down).
    pub out_grace_secs: i64,
    /// Fire on activity while badged out of the site.
    pub when_out: bool,
    pub severity: Severity,
    pub dedup_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            classes: strings(&["network_activity"]),
            zone_sensitivities: vec![Sensitivity::Classified],
            out_grace_secs: 600,
            when_out: true,
            severity: Severity::HIGH,
            dedup_secs: 3600,
        }
    }
}

pub struct ActivityWhileAway {
    cfg: Config,
}

impl ActivityWhileAway {
    pub fn new(cfg: Config) -> Self {
        Self { cfg }
    }
}

impl Check for ActivityWhileAway {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>) {
        if !self
            .cfg
            .classes
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&e.class))
        {
            return;
        }
        let owner = e
            .host
            .as_deref()
            .and_then(|h| cx.org.device_owner_by_host(h))
            .or_else(|| {
                e.src_ip
                    .as_deref()
                    .and_then(|ip| cx.org.device_owner_by_ip(ip))
            })
            .or_else(|| e.ip.as_deref().and_then(|ip| cx.org.device_owner_by_ip(ip)));
        let Some(person) = owner.and_then(|i| cx.org.people.get(i)) else {
            return;
        };
        let Some(p) = cx.presence.get(&person.id) else {
            return;
        };
        let site = p.site_id.as_deref().and_then(|s| cx.org.site_by_id(s));
        let site_name = site.map_or("the site", |s| s.name.as_str());
        let away = secs(p.since, e.time);
        let situation = if p.inside {
            let Some(zone) = p.zone_id.as_deref().and_then(|z| cx.org.zone_by_id(z)) else {
                return;
            };
            if !self.cfg.zone_sensitivities.contains(&zone.sensitivity) {
                return;
            }
            format!(
                "inside {} ({}, {}) for {}",
                zone.name,
                zone.sensitivity.as_str(),
                site_name,
                human(away)
            )
        } else {
            if !self.cfg.when_out || away < self.cfg.out_grace_secs {
                return;
            }
            format!("badged out of {site_name} {} ago", human(away))
        };
        let device = e
            .host
            .as_deref()
            .or(e.src_ip.as_deref())
            .or(e.ip.as_deref())
            .unwrap_or("their workstation");
        let dst = e
            .dst_ip
            .as_deref()
            .map_or(String::new(), |d| format!(" to {d}"));
        let mut a = Alarm::new(ID, self.cfg.severity, e)
            .evidence(p.event_id)
            .entity("owner_person_id", person.id.clone());
        a.title = format!("{device} is active while {} is away", person.name);
        a.what = format!(
            "{device}, the workstation of {}, sent {} traffic{dst} while {} was {situation}. Nobody should be using it.",
            person.name, e.class, person.name
        );
        a.guard = format!(
            "Go to {device} and check whether someone is using it; photograph the screen and keep people away until the analyst says so. Confirm where {} is.",
            person.name
        );
        a.analyst = format!(
            "Look at what {device} is sending and where; isolate it if the traffic is not a known scheduled task; check for remote-access tools."
        );
        a.people = format!(
            "{} may be the target of impersonation, or an insider.",
            person.name
        );
        a.physical = format!("The desk of {} in {site_name}.", person.name);
        a.digital = format!("{device} and the data it can reach.");
        a.dedup_key = person.id.clone();
        a.dedup_window_secs = self.cfg.dedup_secs;
        out.push(a.into_detection(e));
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;

    #[test]
    fn traffic_while_in_a_classified_zone_or_badged_out_fires() {
        let mut r = Rig::new();
        r.feed(badge("granted", "B-ANA", "HQ-LOBBY"));
        r.feed(badge("granted", "B-ANA", "HQ-VAULT"));
        r.wait(300);
        let d = r.feed(traffic("WS-PAR-01"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].detector, super::ID);
        assert!(
            d[0].summary.contains("Classified archive"),
            "{}",
            d[0].summary
        );

        let mut r = Rig::new();
        r.feed(badge("granted", "B-ANA", "HQ-EXIT"));
        r.wait(3600);
        assert_eq!(
            r.fired(vec![traffic("10.1.0.21")]).len(),
            0,
            "an address in host is not a host"
        );
        let mut e = traffic("unknown");
        e.host = None;
        e.src_ip = Some("10.1.0.21".into());
        assert_eq!(r.fired(vec![e]), vec![super::ID]);
    }

    #[test]
    fn traffic_at_the_desk_or_just_after_leaving_stays_silent() {
        let mut r = Rig::new();
        r.feed(badge("granted", "B-ANA", "HQ-LOBBY"));
        r.feed(badge("granted", "B-ANA", "HQ-OFFICE"));
        r.wait(60);
        assert!(r.fired(vec![traffic("WS-PAR-01")]).is_empty());
        r.feed(badge("granted", "B-ANA", "HQ-EXIT"));
        r.wait(120);
        assert!(
            r.fired(vec![traffic("WS-PAR-01")]).is_empty(),
            "inside the grace period"
        );
        // Ben's machine, while Ben is unknown to the badge system: nothing to compare with.
        assert!(r.fired(vec![traffic("WS-FRA-01")]).is_empty());
    }
}
