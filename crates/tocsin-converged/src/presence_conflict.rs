//! `presence_conflict`: a person is badged in at one site while their account logs on from a
//! place they cannot have reached in the time since.
//!
//! **What it catches.** Stolen credentials used from afar while the owner is at work, or a cloned
//! badge used while the owner is abroad. The logon's place comes from the network table
//! (`org/network.yaml`: the organisation's own networks and known outside networks) or, for VPN
//! gateways that report only a country, from a `fields` value such as `country` looked up in the
//! table's `countries`.
//!
//! **How it decides.** On a logon by a resolved person whose presence book entry names a site:
//! distance from that site to the logon's place, divided by the time since the last badge event,
//! must not exceed `max_speed_kmh`. Places closer than `min_distance_km` never conflict, and a
//! logon from a place on the person's travel itinerary at that time is expected.
//!
//! **Tuning.** Raise `max_speed_kmh` (default 900, an airliner) to be more lenient; raise
//! `min_distance_km` (default 100) if geo-IP for your outside networks is coarse; list the fields
//! your VPN writes the country into in `country_fields`.

use serde::Deserialize;
use tocsin_detect::Detection;
use tocsin_model::{Event, Geo, Severity};

use crate::alarm::{Alarm, field, human, is_one_of, secs};
use crate::{Check, Cx, default_true, strings};

pub const ID: &str = "presence_conflict";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub enabled: bool,
    /// Fastest plausible travel between two places.
    pub max_speed_kmh: f64,
    /// Places closer than this never conflict.
    pub min_distance_km: f64,
    /// A logon within this distance of a current travel segment is expected.
    pub travel_radius_km: f64,
    /// Activities of `authentication` events that count as a logon.
    pub logon_activities: Vec<String>,
    /// `fields` names that may hold a country code reported by a VPN gateway.
    pub country_fields: Vec<String>,
    pub severity: Severity,
    pub dedup_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            max_speed_kmh: 900.0,
            min_distance_km: 100.0,
            travel_radius_km: 100.0,
            logon_activities: strings(&["logon", "logon_success", "vpn_connect"]),
            country_fields: strings(&["country", "geo_country", "src_country"]),
            severity: Severity::HIGH,
            dedup_secs: 3600,
        }
    }
}

pub struct PresenceConflict {
    cfg: Config,
}

impl PresenceConflict {
    pub fn new(cfg: Config) -> Self {
        Self { cfg }
    }
}

impl Check for PresenceConflict {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>) {
        if e.class != "authentication"
            || !is_one_of(e.activity.as_deref(), &self.cfg.logon_activities)
        {
            return;
        }
        let Some(pid) = e.person_id.as_deref() else {
            return;
        };
        let Some(pi) = cx.org.person_index(pid) else {
            return;
        };
        let Some(presence) = cx.presence.get(pid) else {
            return;
        };
        let Some(site) = presence
            .site_id
            .as_deref()
            .and_then(|s| cx.org.site_by_id(s))
        else {
            return;
        };
        let (place, at, same_site): (String, Geo, bool) =
            if let Some(np) = e.src_ip.as_deref().and_then(|ip| cx.org.locate_ip(ip)) {
                let same = np
                    .site
                    .and_then(|i| cx.org.site(i))
                    .is_some_and(|s| s.id == site.id);
                (np.place.clone(), np.location.clone(), same)
            } else if let Some((code, c)) = self.cfg.country_fields.iter().find_map(|f| {
                let code = field(e, f)?;
                let c = cx.org.country(&code)?;
                Some((code.into_owned(), c))
            }) {
                (format!("country {code}"), c.location.clone(), false)
            } else {
                return;
            };
        if same_site {
            return;
        }
        let km = site.location.distance_m(&at) / 1000.0;
        if km < self.cfg.min_distance_km {
            return;
        }
        let elapsed = secs(presence.last_seen, e.time).abs();
        let hours = (elapsed as f64 / 3600.0).max(1.0 / 60.0);
        let speed = km / hours;
        if speed <= self.cfg.max_speed_kmh {
            return;
        }
        if cx
            .org
            .travel_at(pi, e.time)
            .any(|t| t.location.distance_m(&at) / 1000.0 <= self.cfg.travel_radius_km)
        {
            return;
        }
        let name = cx.org.people.get(pi).map_or(pid, |p| p.name.as_str());
        let account = e.user.as_deref().unwrap_or("their account");
        let state = if presence.inside {
            "badged in at"
        } else {
            "badged out of"
        };
        let mut a = Alarm::new(ID, self.cfg.severity, e)
            .evidence(presence.event_id)
            .entity("presence_site", site.id.clone())
            .entity("logon_place", place.clone())
            .entity("distance_km", km.round());
        a.title = format!(
            "{name} is at {} but {account} logged on from {place}",
            site.name
        );
        a.what = format!(
            "{name} {state} {} {} before {account} logged on from {place}, {km:.0} km away. Getting there would take {speed:.0} km/h; at most {:.0} km/h is plausible. Either the badge or the account is being used by someone else.",
            site.name,
            human(elapsed),
            self.cfg.max_speed_kmh
        );
        a.guard = format!(
            "Check whether {name} is on site at {} now (camera, reception, call them); if not, the badge may be cloned or lent: disable it.",
            site.name
        );
        a.analyst = format!(
            "Treat {account} as compromised until {name} confirms the logon: end its sessions, reset the password and review what it touched from {place}."
        );
        a.people = format!("{name}'s identity is being misused.");
        a.physical = format!("Access to {} may be in the wrong hands.", site.name);
        a.digital = format!("Everything {account} can reach.");
        a.dedup_key = pid.to_owned();
        a.dedup_window_secs = self.cfg.dedup_secs;
        out.push(a.into_detection(e));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::testkit::*;

    #[test]
    fn a_logon_from_lagos_minutes_after_a_paris_badge_fires() {
        let mut r = Rig::new();
        assert!(r.feed(badge("granted", "B-ANA", "HQ-LOBBY")).is_empty());
        r.wait(600);
        let d = r.feed(logon("CORP\\asilva", "VPN-GW", "203.0.113.7", 3));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].detector, super::ID);
        assert!(d[0].title.contains("Lagos"), "{}", d[0].title);
        assert!(d[0].summary.contains("Guard:") && d[0].summary.contains("Analyst:"));
        assert_eq!(d[0].evidence.len(), 2);
    }

    #[test]
    fn a_vpn_country_is_located_through_the_country_table() {
        let mut r = Rig::new();
        r.feed(badge("granted", "B-BEN", "DC-MANTRAP"));
        r.wait(1800);
        let mut e = logon("bmeyer", "VPN-GW", "198.51.100.4", 3);
        e.fields.insert("country".into(), Value::from("SG"));
        assert_eq!(r.fired(vec![e]), vec![super::ID]);
    }

    #[test]
    fn reachable_nearby_or_planned_logons_stay_silent() {
        let mut r = Rig::new();
        r.feed(badge("granted", "B-ANA", "HQ-LOBBY"));
        r.wait(60);
        // Same site network.
        assert!(
            r.fired(vec![logon("asilva", "WS-PAR-01", "10.1.0.21", 2)])
                .is_empty()
        );
        // Frankfurt is 480 km from Paris: fine after a day.
        r.wait(86_400);
        assert!(
            r.fired(vec![logon("asilva", "SRV-DB", "10.2.0.50", 3)])
                .is_empty()
        );
        // No presence at all: nothing to conflict with.
        assert!(
            r.fired(vec![logon("bmeyer", "SRV-DB", "203.0.113.7", 3)])
                .is_empty()
        );
        // Dan is on a planned trip to Singapore.
        r.feed(badge("granted", "B-DAN", "HQ-LOBBY"));
        r.wait(300);
        let mut e = logon("droy", "VPN-GW", "198.51.100.4", 3);
        e.fields.insert("country".into(), Value::from("SG"));
        let ids = r.fired(vec![e]);
        assert!(!ids.contains(&super::ID), "{ids:?}");
    }
}
