//! `security_system_attack`: cameras, readers, door controllers or alarm panels going offline or
//! reporting tampering at a site, together with scans or logons against security devices there.
//!
//! **What it catches.** The preparation of a physical intrusion through the security system's
//! own network — blinding cameras or unlocking doors from the network — or an attacker who reached
//! the physical security network and is probing it.
//!
//! **How it decides.** Two kinds of signal are kept per site for `window_secs`: a security device
//! going down (`device_down_activities` on an asset whose kind is camera, badge reader, door
//! controller or alarm panel) and a cyber probe (`probe_activities`) whose target (`dst_ip`,
//! `host`, `ip` or `asset`) is such a device. When both kinds are present within the window, in
//! either order, it fires once per site (deduplicated).
//!
//! **Tuning.** Lengthen `window_secs` (default 900) for slow reconnaissance; drop `logon` from
//! `probe_activities` if maintenance staff log on to cameras routinely; list the statuses your
//! video management system sends in `device_down_activities`.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tocsin_detect::Detection;
use tocsin_model::{Domain, Event, Severity};
use ulid::Ulid;

use crate::alarm::{Alarm, is_one_of, secs};
use crate::{Check, Cx, default_true, strings};

pub const ID: &str = "security_system_attack";

/// Signals kept per site and kind.
const PER_SITE: usize = 16;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub enabled: bool,
    pub device_down_activities: Vec<String>,
    pub probe_activities: Vec<String>,
    pub window_secs: u64,
    pub severity: Severity,
    pub dedup_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            device_down_activities: strings(&[
                "offline",
                "tamper",
                "tampered",
                "video_loss",
                "disconnected",
                "signal_lost",
            ]),
            probe_activities: strings(&[
                "scan",
                "port_scan",
                "probe",
                "logon",
                "logon_failed",
                "brute_force",
                "exploit",
            ]),
            window_secs: 900,
            severity: Severity::CRITICAL,
            dedup_secs: 3600,
        }
    }
}

#[derive(Clone)]
struct Signal {
    time: DateTime<Utc>,
    event: Ulid,
    asset: String,
    text: String,
}

#[derive(Default)]
struct SiteSignals {
    down: VecDeque<Signal>,
    probes: VecDeque<Signal>,
}

pub struct SecuritySystemAttack {
    cfg: Config,
    sites: HashMap<usize, SiteSignals>,
}

impl SecuritySystemAttack {
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            sites: HashMap::new(),
        }
    }
}

impl Check for SecuritySystemAttack {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>) {
        let activity = e.activity.as_deref();
        let is_down = e.domain != Domain::Cyber || e.class == "device_status";
        let (kind_down, kind_probe) = (
            is_down && is_one_of(activity, &self.cfg.device_down_activities),
            e.domain == Domain::Cyber && is_one_of(activity, &self.cfg.probe_activities),
        );
        if !kind_down && !kind_probe {
            return;
        }
        let target = if kind_probe {
            e.dst_ip
                .as_deref()
                .and_then(|ip| cx.org.asset_by_ip(ip))
                .or_else(|| e.asset_id.as_deref().and_then(|a| cx.org.asset_index(a)))
        } else {
            e.asset_id.as_deref().and_then(|a| cx.org.asset_index(a))
        };
        let Some(ai) = target.filter(|a| cx.org.is_security_device(*a)) else {
            return;
        };
        let Some(asset) = cx.org.assets.get(ai) else {
            return;
        };
        let Some(site) = asset.site.as_deref().and_then(|s| cx.org.site_index(s)) else {
            return;
        };
        let window = i64::try_from(self.cfg.window_secs).unwrap_or(i64::MAX);
        let text = format!(
            "{} {} {} {}",
            asset.kind.as_str(),
            asset.id,
            e.class,
            activity.unwrap_or("")
        );
        let signal = Signal {
            time: e.time,
            event: e.id,
            asset: asset.id.clone(),
            text: match (kind_probe, e.src_ip.as_deref()) {
                (true, Some(src)) => format!("{text} from {src}"),
                _ => text,
            },
        };
        let state = self.sites.entry(site).or_default();
        for q in [&mut state.down, &mut state.probes] {
            while q.front().is_some_and(|s| secs(s.time, e.time) > window) {
                q.pop_front();
            }
        }
        let (mine, other) = if kind_probe {
            (&mut state.probes, &state.down)
        } else {
            (&mut state.down, &state.probes)
        };
        if mine.len() >= PER_SITE {
            mine.pop_front();
        }
        mine.push_back(signal.clone());
        let matched: Vec<Signal> = other
            .iter()
            .filter(|s| secs(s.time, e.time).abs() <= window)
            .cloned()
            .collect();
        if matched.is_empty() {
            return;
        }
        let Some(site_ref) = cx.org.site(site) else {
            return;
        };
        let (downs, probes): (Vec<&Signal>, Vec<&Signal>) = if kind_probe {
            (matched.iter().collect(), vec![&signal])
        } else {
            (vec![&signal], matched.iter().collect())
        };
        let mut devices: Vec<String> = downs
            .iter()
            .chain(&probes)
            .map(|s| s.asset.clone())
            .collect();
        devices.sort();
        devices.dedup();
        let mut a =
            Alarm::new(ID, self.cfg.severity, e).entity("security_devices", devices.clone());
        for s in &matched {
            a = a.evidence(s.event);
        }
        a.title = format!("Attack on the security system at {}", site_ref.name);
        a.what = format!(
            "At {}, security devices went down or reported tampering ({}) while security devices were probed from the network ({}). Someone may be blinding cameras or opening doors through the network.",
            site_ref.name,
            downs
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            probes
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        a.guard = format!(
            "Send a patrol to the blind spots at {} ({}); guard the doors by hand until the devices are back, and check the equipment for tampering.",
            site_ref.name,
            devices.join(", ")
        );
        a.analyst = "Block the probing source from the security-device network, check the devices' logs and firmware for changes, and reset their credentials.".into();
        a.people = format!(
            "People at {} are less protected while the system is impaired.",
            site_ref.name
        );
        a.physical = format!(
            "Cameras, readers and doors of {}: {}.",
            site_ref.name,
            devices.join(", ")
        );
        a.digital = "The physical security network and its management servers.".into();
        a.site_id = Some(site_ref.id.clone());
        a.geo = Some(site_ref.location.clone());
        a.dedup_key = site_ref.id.clone();
        a.dedup_window_secs = self.cfg.dedup_secs;
        out.push(a.into_detection(e));
    }

    fn held(&self) -> u64 {
        self.sites
            .values()
            .map(|s| (s.down.len() + s.probes.len()) as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use tocsin_model::{Domain, Event};

    use crate::testkit::*;

    fn camera_offline() -> Event {
        let mut e = ev(Domain::Physical, "device_status", "offline");
        e.asset = Some("CAM-DC-01".into());
        e
    }

    fn scan(dst: &str) -> Event {
        let mut e = ev(Domain::Cyber, "network_activity", "port_scan");
        e.src_ip = Some("10.2.0.99".into());
        e.dst_ip = Some(dst.into());
        e
    }

    #[test]
    fn a_camera_going_dark_around_a_scan_of_a_reader_fires_in_either_order() {
        let mut r = Rig::new();
        assert!(r.feed(camera_offline()).is_empty());
        r.wait(120);
        let d = r.feed(scan("10.2.9.21"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].detector, super::ID);
        assert_eq!(d[0].site_id.as_deref(), Some("dc-frankfurt"));
        assert_eq!(d[0].evidence.len(), 2);

        let mut r = Rig::new();
        r.feed(scan("10.2.9.11"));
        r.wait(300);
        assert_eq!(r.fired(vec![camera_offline()]), vec![super::ID]);
    }

    #[test]
    fn one_signal_alone_far_apart_or_against_other_devices_stays_silent() {
        let mut r = Rig::new();
        assert!(r.fired(vec![camera_offline()]).is_empty());
        r.wait(3600);
        assert!(
            r.fired(vec![scan("10.2.9.21")]).is_empty(),
            "outside the window"
        );
        r.wait(3600);
        r.feed(camera_offline());
        // A scan of a server is not a scan of the security system.
        assert!(r.fired(vec![scan("10.2.1.10")]).is_empty());
    }
}
