//! `intrusion_with_cyber_impact`: a door forced, held open or tampered with (or an intrusion
//! alarm) in a zone holding critical assets, then a change, an outage or a logon on one of those
//! assets within a window.
//!
//! **What it catches.** Someone breaking into a server room or comms room to plug in, reboot,
//! reconfigure or steal — seen as two facts by two teams that only mean something together.
//!
//! **How it decides.** A physical event with one of `physical_activities` in a zone that holds at
//! least one asset of `min_criticality` opens a window for that zone. A cyber event with one of
//! `cyber_activities` on an asset in that zone inside `window_secs` fires. At most
//! `max_pending` zones are watched at once (older windows are dropped first).
//!
//! **Tuning.** Lower `min_criticality` to watch more zones; lengthen `window_secs` (default 1800)
//! for slow attacks; add the activities your change and monitoring tools report.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tocsin_detect::Detection;
use tocsin_model::{Domain, Event, Severity};
use tocsin_org::Criticality;
use ulid::Ulid;

use crate::alarm::{Alarm, human, is_one_of, secs};
use crate::{Check, Cx, default_true, strings};

pub const ID: &str = "intrusion_with_cyber_impact";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub enabled: bool,
    pub physical_activities: Vec<String>,
    pub cyber_activities: Vec<String>,
    pub min_criticality: Criticality,
    pub window_secs: u64,
    pub max_pending: usize,
    pub severity: Severity,
    pub dedup_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            physical_activities: strings(&[
                "forced",
                "held_open",
                "tamper",
                "tampered",
                "intrusion",
            ]),
            cyber_activities: strings(&[
                "change",
                "config_change",
                "modified",
                "logon",
                "offline",
                "outage",
                "down",
                "reboot",
                "shutdown",
                "usb_inserted",
            ]),
            min_criticality: Criticality::High,
            window_secs: 1800,
            max_pending: 10_000,
            severity: Severity::CRITICAL,
            dedup_secs: 3600,
        }
    }
}

struct Breach {
    time: DateTime<Utc>,
    event: Ulid,
    what: String,
}

pub struct IntrusionWithCyberImpact {
    cfg: Config,
    pending: HashMap<(usize, usize), Breach>,
    evicted: u64,
}

impl IntrusionWithCyberImpact {
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            pending: HashMap::new(),
            evicted: 0,
        }
    }

    fn window(&self) -> i64 {
        i64::try_from(self.cfg.window_secs).unwrap_or(i64::MAX)
    }
}

impl Check for IntrusionWithCyberImpact {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>) {
        let Some(zone) = e.zone_id.as_deref().and_then(|z| cx.org.zone_index(z)) else {
            return;
        };
        if e.domain == Domain::Physical
            && is_one_of(e.activity.as_deref(), &self.cfg.physical_activities)
        {
            let critical = cx.org.assets_in_zone(zone).iter().any(|a| {
                cx.org
                    .assets
                    .get(*a)
                    .is_some_and(|a| a.criticality >= self.cfg.min_criticality)
            });
            if !critical {
                return;
            }
            if self.pending.len() >= self.cfg.max_pending && !self.pending.contains_key(&zone) {
                let w = self.window();
                self.pending.retain(|_, b| secs(b.time, e.time) <= w);
                if self.pending.len() >= self.cfg.max_pending {
                    self.evicted += 1;
                    return;
                }
            }
            let what = format!(
                "{} {}{}",
                e.class,
                e.activity.as_deref().unwrap_or(""),
                e.portal
                    .as_deref()
                    .map_or(String::new(), |p| format!(" at {p}"))
            );
            self.pending.insert(
                zone,
                Breach {
                    time: e.time,
                    event: e.id,
                    what,
                },
            );
            return;
        }
        if e.domain != Domain::Cyber
            || !is_one_of(e.activity.as_deref(), &self.cfg.cyber_activities)
        {
            return;
        }
        let Some(asset) = e.asset_id.as_deref().and_then(|a| cx.org.asset(a)) else {
            return;
        };
        let Some(b) = self.pending.get(&zone) else {
            return;
        };
        let gap = secs(b.time, e.time);
        if gap < 0 || gap > self.window() {
            return;
        }
        let (Some(site), Some(z)) = (cx.org.site(zone.0), cx.org.zone(zone)) else {
            return;
        };
        let others: Vec<String> = cx
            .org
            .assets_in_zone(zone)
            .iter()
            .filter_map(|i| cx.org.assets.get(*i))
            .filter(|a| a.criticality >= self.cfg.min_criticality)
            .map(|a| a.id.clone())
            .take(20)
            .collect();
        let name = asset.name.as_deref().unwrap_or(&asset.id);
        let mut a = Alarm::new(ID, self.cfg.severity, e)
            .evidence(b.event)
            .entity("zone_id", z.id.clone())
            .entity("zone_assets", others.clone());
        a.title = format!(
            "Break-in at {} followed by {} on {name}",
            z.name,
            e.activity.as_deref().unwrap_or("activity")
        );
        a.what = format!(
            "{} in {} ({}) was followed {} later by {} {} on {name} ({}, criticality {}), which stands in that zone.",
            b.what,
            z.name,
            site.name,
            human(gap),
            e.class,
            e.activity.as_deref().unwrap_or(""),
            asset.kind.as_str(),
            asset.criticality.as_str()
        );
        a.guard = format!(
            "Send a patrol to {} in {} now; secure the door, check the cameras for the last {} and hold anyone inside.",
            z.name,
            site.name,
            human(gap)
        );
        a.analyst = format!(
            "Treat {name} as physically compromised: look for new devices, console logons and configuration changes; isolate it if the change was not planned."
        );
        a.people = format!("Anyone working in {} may meet the intruder.", z.name);
        a.physical = format!("{} and the equipment in it.", z.name);
        a.digital = format!("{}.", others.join(", "));
        a.site_id = Some(site.id.clone());
        a.dedup_key = z.id.clone();
        a.dedup_window_secs = self.cfg.dedup_secs;
        out.push(a.into_detection(e));
    }

    fn held(&self) -> u64 {
        u64::try_from(self.pending.len()).unwrap_or(u64::MAX)
    }

    fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use tocsin_model::Domain;

    use crate::testkit::*;

    fn change_on(host: &str) -> tocsin_model::Event {
        let mut e = ev(Domain::Cyber, "config_change", "change");
        e.host = Some(host.into());
        e
    }

    #[test]
    fn a_forced_server_room_door_then_a_change_on_its_server_fires() {
        let mut r = Rig::new();
        assert!(r.feed(badge("forced", "", "DC-SRV")).is_empty());
        r.wait(420);
        let d = r.feed(change_on("SRV-DB"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].detector, super::ID);
        assert_eq!(d[0].evidence.len(), 2);
        assert!(d[0].summary.contains("7 min"), "{}", d[0].summary);
    }

    #[test]
    fn too_late_elsewhere_or_without_a_break_in_stays_silent() {
        let mut r = Rig::new();
        assert!(r.fired(vec![change_on("SRV-DB")]).is_empty(), "no break-in");
        r.feed(badge("forced", "", "DC-SRV"));
        r.wait(3600);
        assert!(
            r.fired(vec![change_on("SRV-DB")]).is_empty(),
            "outside the window"
        );
        // A forced door in an office with no critical asset opens no window.
        r.feed(badge("forced", "", "HQ-OFFICE"));
        r.wait(60);
        assert!(r.fired(vec![change_on("WS-PAR-01")]).is_empty());
    }
}
