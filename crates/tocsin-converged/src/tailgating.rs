//! `tailgating`: badge anomalies at doors, in three rules (the alert's `rule`):
//!
//! - `passage_without_grant`: a door reports someone passing (`tailgate` from video analytics or
//!   a door sensor, or the door opening) with no granted badge at that door just before;
//! - `denials_then_success`: a badge refused `denials_before_success` times within
//!   `denial_window_secs`, then accepted — guessing, or a borrowed badge after trying one's own;
//! - `anti_passback`: a badge entering a site through a perimeter entrance while the presence book
//!   says its holder is already inside that site (no exit since) — the badge was passed back to
//!   someone outside.
//!
//! **Tuning.** `grant_window_secs` (default 15) is how long after a grant a door may open;
//! `door_open_activities` lists the door events that mean an opening (leave it empty if your doors
//! report openings for exits too); `anti_passback = false` where sites have no exit readers.
//! State is bounded by `max_tracked` doors and badges.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tocsin_detect::Detection;
use tocsin_model::{Event, Severity};
use tocsin_org::PortalRole;
use ulid::Ulid;

use crate::alarm::{Alarm, human, is_one_of, secs};
use crate::{Check, Cx, default_true, strings};

pub const ID: &str = "tailgating";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub enabled: bool,
    /// Activities reporting a passage nobody badged for.
    pub tailgate_activities: Vec<String>,
    /// Door events meaning the door opened; checked against the last grant at the door.
    pub door_open_activities: Vec<String>,
    pub grant_window_secs: i64,
    pub denials_before_success: usize,
    pub denial_window_secs: u64,
    pub anti_passback: bool,
    pub anti_passback_severity: Severity,
    pub max_tracked: usize,
    pub severity: Severity,
    pub dedup_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            tailgate_activities: strings(&["tailgate", "tailgating", "piggyback"]),
            door_open_activities: strings(&["door_opened", "opened", "taken"]),
            grant_window_secs: 15,
            denials_before_success: 3,
            denial_window_secs: 300,
            anti_passback: true,
            anti_passback_severity: Severity::MEDIUM,
            max_tracked: 100_000,
            severity: Severity::HIGH,
            dedup_secs: 900,
        }
    }
}

pub struct Tailgating {
    cfg: Config,
    last_grant: HashMap<String, DateTime<Utc>>,
    denials: HashMap<String, VecDeque<(DateTime<Utc>, Ulid)>>,
    evicted: u64,
}

impl Tailgating {
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            last_grant: HashMap::new(),
            denials: HashMap::new(),
            evicted: 0,
        }
    }

    fn bound(&mut self, now: DateTime<Utc>) {
        let cap = self.cfg.max_tracked.max(1);
        let window = i64::try_from(self.cfg.denial_window_secs).unwrap_or(i64::MAX);
        if self.last_grant.len() > cap {
            let g = self.cfg.grant_window_secs;
            let before = self.last_grant.len();
            self.last_grant.retain(|_, t| secs(*t, now) <= g);
            if self.last_grant.len() > cap {
                self.last_grant.clear();
            }
            self.evicted += (before - self.last_grant.len()) as u64;
        }
        if self.denials.len() > cap {
            let before = self.denials.len();
            self.denials
                .retain(|_, d| d.back().is_some_and(|(t, _)| secs(*t, now) <= window));
            if self.denials.len() > cap {
                self.denials.clear();
            }
            self.evicted += (before - self.denials.len()) as u64;
        }
    }
}

impl Check for Tailgating {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>) {
        // Door state from alarm inputs (ONVIF DoorPhysicalState) counts as an opening too.
        if e.class != "physical_access" && e.class != "video_analytic" && e.class != "alarm" {
            return;
        }
        let Some(activity) = e.activity.as_deref() else {
            return;
        };
        let portal = e.portal.as_deref().unwrap_or("an unnamed door");
        let site = e.site_id.as_deref().and_then(|s| cx.org.site_by_id(s));
        let site_name = site.map_or("the site", |s| s.name.as_str());
        let zone = e.zone_id.as_deref().and_then(|z| cx.org.zone_by_id(z));
        let zone_name = zone.map_or(site_name, |z| z.name.as_str());
        let granted = activity.eq_ignore_ascii_case("granted");
        let person = e
            .person_id
            .as_deref()
            .and_then(|p| cx.org.person(p))
            .map(|p| p.name.clone());
        let holder = person.clone().unwrap_or_else(|| {
            e.badge
                .as_deref()
                .map_or("an unknown person".into(), |b| format!("badge {b}"))
        });

        // Passage without a grant.
        let reported = is_one_of(Some(activity), &self.cfg.tailgate_activities);
        let opened = is_one_of(Some(activity), &self.cfg.door_open_activities);
        if reported || opened {
            let last = e.portal.as_deref().and_then(|p| self.last_grant.get(p));
            let covered =
                last.is_some_and(|t| (0..=self.cfg.grant_window_secs).contains(&secs(*t, e.time)));
            if reported || !covered {
                let mut a = Alarm::new(ID, self.cfg.severity, e);
                a.rule = Some("passage_without_grant".into());
                a.title = format!("Passage without a badge at {portal}");
                a.what = if reported {
                    format!(
                        "{portal} ({zone_name}, {site_name}) reported someone passing behind another person ({activity})."
                    )
                } else {
                    format!(
                        "{portal} ({zone_name}, {site_name}) opened with no badge granted there in the {} s before.",
                        self.cfg.grant_window_secs
                    )
                };
                a.guard = format!(
                    "Check the camera at {portal} and find who went through; challenge anyone without a visible badge in {zone_name}."
                );
                a.analyst = format!(
                    "Watch for new devices and logons in {zone_name} in the next hour; correlate with network access from that zone."
                );
                a.people = format!("An unidentified person is inside {zone_name}.");
                a.physical = format!("{zone_name} at {site_name}.");
                a.digital = zone.map_or("none identified".into(), |_| {
                    format!("Equipment in {zone_name}.")
                });
                a.dedup_key = format!("pass:{portal}");
                a.dedup_window_secs = self.cfg.dedup_secs;
                out.push(a.into_detection(e));
            }
            return;
        }

        let Some(badge) = e.badge.clone() else { return };
        if activity.eq_ignore_ascii_case("denied") {
            let window = i64::try_from(self.cfg.denial_window_secs).unwrap_or(i64::MAX);
            let d = self.denials.entry(badge).or_default();
            while d.front().is_some_and(|(t, _)| secs(*t, e.time) > window) {
                d.pop_front();
            }
            d.push_back((e.time, e.id));
            // Only the last few matter.
            while d.len() > self.cfg.denials_before_success.max(1) {
                d.pop_front();
            }
            self.bound(e.time);
            return;
        }
        if !granted {
            return;
        }
        if let Some(p) = &e.portal {
            self.last_grant.insert(p.clone(), e.time);
        }
        if let Some(d) = self.denials.remove(&badge) {
            let window = i64::try_from(self.cfg.denial_window_secs).unwrap_or(i64::MAX);
            let recent: Vec<_> = d
                .iter()
                .filter(|(t, _)| secs(*t, e.time) <= window)
                .collect();
            if recent.len() >= self.cfg.denials_before_success {
                let first = recent.first().map_or(e.time, |(t, _)| *t);
                let mut a = Alarm::new(ID, self.cfg.severity, e);
                for (_, id) in &recent {
                    a = a.evidence(*id);
                }
                a.rule = Some("denials_then_success".into());
                a.title = format!(
                    "{holder} got through {portal} after {} refusals",
                    recent.len()
                );
                a.what = format!(
                    "Badge {badge} ({holder}) was refused {} times in {} and then accepted at {portal} ({zone_name}, {site_name}).",
                    recent.len(),
                    human(secs(first, e.time))
                );
                a.guard = format!(
                    "Check on camera who used badge {badge} at {portal} and whether it is {holder}; verify identity in {zone_name}."
                );
                a.analyst = format!(
                    "Check whether {holder}'s badge rights changed just before; look for the same person's account being used unusually."
                );
                a.people = format!("{holder}, or someone using their badge.");
                a.physical = format!("{zone_name} at {site_name}.");
                a.digital = "none identified".into();
                a.dedup_key = format!("deny:{badge}");
                a.dedup_window_secs = self.cfg.dedup_secs;
                out.push(a.into_detection(e));
            }
        }
        if self.cfg.anti_passback
            && let (Some(pid), Some(r)) = (
                e.person_id.as_deref(),
                e.portal.as_deref().and_then(|p| cx.org.portal(p)),
            )
            && r.role == PortalRole::Entrance
            && let Some(p) = cx.presence.get(pid)
            && p.inside
            && p.site_id.as_deref() == e.site_id.as_deref()
            && p.day == e.time.date_naive()
        {
            let mut a = Alarm::new(ID, self.cfg.anti_passback_severity, e).evidence(p.event_id);
            a.rule = Some("anti_passback".into());
            a.title = format!("Anti-passback: {holder} entered {site_name} twice");
            a.what = format!(
                "Badge {badge} ({holder}) entered {site_name} at {portal}, but it had entered {} ago at {} and never badged out. The badge may have been passed back to someone outside.",
                human(secs(p.last_seen, e.time)),
                p.portal.as_deref().unwrap_or("another door")
            );
            a.guard = format!(
                "Check the camera at {portal}: who came in? Find {holder} inside {site_name} and check both people."
            );
            a.analyst = format!(
                "If two people share {holder}'s badge, expect the account to be shared too: check concurrent sessions."
            );
            a.people = format!("{holder} and the person they let in.");
            a.physical = format!("{site_name}.");
            a.digital = "none identified".into();
            a.dedup_key = format!("apb:{badge}");
            a.dedup_window_secs = self.cfg.dedup_secs;
            out.push(a.into_detection(e));
        }
        self.bound(e.time);
    }

    fn held(&self) -> u64 {
        u64::try_from(self.last_grant.len() + self.denials.len()).unwrap_or(u64::MAX)
    }

    fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;

    fn rules(r: &mut Rig, events: Vec<tocsin_model::Event>) -> Vec<String> {
        let mut out = Vec::new();
        for e in events {
            out.extend(r.feed(e).into_iter().filter_map(|d| d.rule));
        }
        out
    }

    #[test]
    fn each_badge_anomaly_fires_its_rule() {
        let mut r = Rig::new();
        assert_eq!(
            rules(&mut r, vec![badge("tailgate", "", "DC-SRV")]),
            vec!["passage_without_grant"]
        );
        r.wait(60);
        assert_eq!(
            rules(&mut r, vec![badge("door_opened", "", "HQ-OFFICE")]),
            vec!["passage_without_grant"]
        );
        let mut seq = Vec::new();
        for _ in 0..3 {
            seq.push(badge("denied", "B-BEN", "DC-SRV"));
        }
        seq.push(badge("granted", "B-BEN", "DC-SRV"));
        assert_eq!(rules(&mut r, seq), vec!["denials_then_success"]);
        r.feed(badge("granted", "B-ANA", "HQ-LOBBY"));
        r.wait(1200);
        assert_eq!(
            rules(&mut r, vec![badge("granted", "B-ANA", "HQ-LOBBY")]),
            vec!["anti_passback"]
        );
    }

    #[test]
    fn normal_passages_stay_silent() {
        let mut r = Rig::new();
        // Door opens right after a grant.
        r.feed(badge("granted", "B-ANA", "HQ-LOBBY"));
        r.wait(5);
        assert!(rules(&mut r, vec![badge("door_opened", "", "HQ-LOBBY")]).is_empty());
        // Two denials then a success: under the threshold.
        let seq = vec![
            badge("denied", "B-BEN", "DC-SRV"),
            badge("denied", "B-BEN", "DC-SRV"),
            badge("granted", "B-BEN", "DC-SRV"),
        ];
        assert!(rules(&mut r, seq).is_empty());
        // Three denials long ago, then a success.
        for _ in 0..3 {
            r.feed(badge("denied", "B-BEN", "DC-SRV"));
        }
        r.wait(3600);
        assert!(rules(&mut r, vec![badge("granted", "B-BEN", "DC-SRV")]).is_empty());
        // Out, then in again: no passback.
        r.feed(badge("granted", "B-ANA", "HQ-EXIT"));
        r.wait(600);
        assert!(rules(&mut r, vec![badge("granted", "B-ANA", "HQ-LOBBY")]).is_empty());
        // Internal doors after entering are not entrances.
        assert!(
            rules(
                &mut r,
                vec![
                    badge("granted", "B-ANA", "HQ-OFFICE"),
                    badge("granted", "B-ANA", "HQ-OFFICE")
                ]
            )
            .is_empty()
        );
    }
}
