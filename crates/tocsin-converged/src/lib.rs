//! Converged detectors: patterns that only show when physical and cyber events are read together
//! against one model of the organisation.
//!
//! | id | catches |
//! |---|---|
//! | [`presence_conflict`] | badged in at one site while the account logs on from a place that cannot be reached in the time |
//! | [`logon_without_presence`] | interactive logon on a site's workstation by someone who has not badged into that site that day |
//! | [`activity_while_away`] | network activity from a person's own workstation while they are in a classified zone or badged out |
//! | [`credential_after_termination`] | a badge or account used after its holder left, or during leave |
//! | [`intrusion_with_cyber_impact`] | door forced, held open or tampered in a zone with critical assets, then a change, outage or logon on those assets |
//! | [`tailgating`] | passage without a grant, denials then a success, anti-passback |
//! | [`security_system_attack`] | cameras or readers offline or tampered together with scans or logons against security devices |
//! | [`vulnerable_security_device`] | a KEV or NVD entry that matches a security device's vendor, product and version |
//!
//! Every detector is configured in the `[converged]` section of `tocsin.toml` (see [`ConvergedConfig`])
//! and documented, with how to tune it, in its module and in `docs/detectors.md`.
//!
//! Architecture invariant: like all detection, no IO and no wall clock: windows are measured in
//! event time, and all state is bounded by caps.

pub mod activity_while_away;
mod alarm;
pub mod credential_after_termination;
pub mod intrusion_with_cyber_impact;
pub mod logon_without_presence;
pub mod presence_conflict;
pub mod security_system_attack;
pub mod tailgating;
pub mod vulnerable_security_device;

#[cfg(test)]
mod testkit;

use std::sync::Arc;

use serde::Deserialize;
use tocsin_detect::{Detection, Detector, DetectorStats};
use tocsin_model::Event;
use tocsin_org::{Org, OrgHandle, PresenceBook, SharedPresence};

/// The ids of the converged detectors, as alerts carry them in `detector`.
pub const DETECTOR_IDS: [&str; 8] = [
    presence_conflict::ID,
    logon_without_presence::ID,
    activity_while_away::ID,
    credential_after_termination::ID,
    intrusion_with_cyber_impact::ID,
    tailgating::ID,
    security_system_attack::ID,
    vulnerable_security_device::ID,
];

/// The `[converged]` section of `tocsin.toml`. Every detector is on by default with the
/// settings documented on its config type.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConvergedConfig {
    /// Most people whose whereabouts are kept; the least recently seen is dropped first.
    pub presence_cap: usize,
    pub presence_conflict: presence_conflict::Config,
    pub logon_without_presence: logon_without_presence::Config,
    pub activity_while_away: activity_while_away::Config,
    pub credential_after_termination: credential_after_termination::Config,
    pub intrusion_with_cyber_impact: intrusion_with_cyber_impact::Config,
    pub tailgating: tailgating::Config,
    pub security_system_attack: security_system_attack::Config,
    pub vulnerable_security_device: vulnerable_security_device::Config,
}

impl Default for ConvergedConfig {
    fn default() -> Self {
        Self {
            presence_cap: 1_000_000,
            presence_conflict: Default::default(),
            logon_without_presence: Default::default(),
            activity_while_away: Default::default(),
            credential_after_termination: Default::default(),
            intrusion_with_cyber_impact: Default::default(),
            tailgating: Default::default(),
            security_system_attack: Default::default(),
            vulnerable_security_device: Default::default(),
        }
    }
}

impl ConvergedConfig {
    /// Checks ranges; each error names its field.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.presence_cap == 0 || self.presence_cap > 100_000_000 {
            errors.push((
                "converged.presence_cap".to_owned(),
                format!("{} is outside 1..100000000", self.presence_cap),
            ));
        }
        let c = &self.presence_conflict;
        if !(c.max_speed_kmh.is_finite() && c.max_speed_kmh > 0.0) {
            errors.push((
                "converged.presence_conflict.max_speed_kmh".into(),
                "must be a positive number".into(),
            ));
        }
        if self.tailgating.denials_before_success == 0 {
            errors.push((
                "converged.tailgating.denials_before_success".into(),
                "must be at least 1".into(),
            ));
        }
        for (name, v) in [
            (
                "converged.intrusion_with_cyber_impact.window_secs",
                self.intrusion_with_cyber_impact.window_secs,
            ),
            (
                "converged.security_system_attack.window_secs",
                self.security_system_attack.window_secs,
            ),
            (
                "converged.tailgating.denial_window_secs",
                self.tailgating.denial_window_secs,
            ),
        ] {
            if v == 0 {
                errors.push((name.to_owned(), "must be more than 0".to_owned()));
            }
        }
        errors
    }
}

/// What every detector sees besides the event: the organisation in force and the presence book
/// as it was before this event.
pub(crate) struct Cx<'a> {
    pub org: &'a Org,
    pub presence: &'a PresenceBook,
}

/// One converged detector.
pub(crate) trait Check: Send {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>);
    /// Entries of bounded state held now.
    fn held(&self) -> u64 {
        0
    }
    /// Entries dropped because a cap was reached.
    fn evicted(&self) -> u64 {
        0
    }
}

/// All converged detectors behind one [`Detector`]: each event is checked by every enabled
/// detector against the presence book as it stood before the event, then the book is updated.
pub struct Converged {
    org: Arc<OrgHandle>,
    presence: SharedPresence,
    checks: Vec<Box<dyn Check>>,
}

impl std::fmt::Debug for Converged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Converged")
            .field("checks", &self.checks.len())
            .finish_non_exhaustive()
    }
}

impl Converged {
    pub fn new(cfg: &ConvergedConfig, org: Arc<OrgHandle>, presence: SharedPresence) -> Self {
        let mut checks: Vec<Box<dyn Check>> = Vec::new();
        if cfg.presence_conflict.enabled {
            checks.push(Box::new(presence_conflict::PresenceConflict::new(
                cfg.presence_conflict.clone(),
            )));
        }
        if cfg.logon_without_presence.enabled {
            checks.push(Box::new(logon_without_presence::LogonWithoutPresence::new(
                cfg.logon_without_presence.clone(),
            )));
        }
        if cfg.activity_while_away.enabled {
            checks.push(Box::new(activity_while_away::ActivityWhileAway::new(
                cfg.activity_while_away.clone(),
            )));
        }
        if cfg.credential_after_termination.enabled {
            checks.push(Box::new(
                credential_after_termination::CredentialAfterTermination::new(
                    cfg.credential_after_termination.clone(),
                ),
            ));
        }
        if cfg.intrusion_with_cyber_impact.enabled {
            checks.push(Box::new(
                intrusion_with_cyber_impact::IntrusionWithCyberImpact::new(
                    cfg.intrusion_with_cyber_impact.clone(),
                ),
            ));
        }
        if cfg.tailgating.enabled {
            checks.push(Box::new(tailgating::Tailgating::new(
                cfg.tailgating.clone(),
            )));
        }
        if cfg.security_system_attack.enabled {
            checks.push(Box::new(security_system_attack::SecuritySystemAttack::new(
                cfg.security_system_attack.clone(),
            )));
        }
        if cfg.vulnerable_security_device.enabled {
            checks.push(Box::new(
                vulnerable_security_device::VulnerableSecurityDevice::new(
                    cfg.vulnerable_security_device.clone(),
                ),
            ));
        }
        Self {
            org,
            presence,
            checks,
        }
    }

    /// A fresh presence book sized by the config.
    pub fn presence_book(cfg: &ConvergedConfig) -> SharedPresence {
        PresenceBook::shared(cfg.presence_cap)
    }
}

impl Detector for Converged {
    fn id(&self) -> &'static str {
        "converged"
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Detection>) {
        let org = self.org.current();
        if org.is_empty() {
            return;
        }
        let mut book = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        let cx = Cx {
            org: &org,
            presence: &book,
        };
        for c in &mut self.checks {
            c.check(&cx, event, out);
        }
        book.observe(&org, event);
    }

    fn stats(&self) -> DetectorStats {
        let book = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        DetectorStats {
            open_groups: self.checks.iter().map(|c| c.held()).sum::<u64>()
                + u64::try_from(book.len()).unwrap_or(u64::MAX),
            evicted: self.checks.iter().map(|c| c.evicted()).sum::<u64>() + book.evicted(),
            late: book.late(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
