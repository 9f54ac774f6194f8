//! Escalation plans as data: a routing tree matches alerts by their labels to escalation plans
//! whose steps notify audiences (a team, a team's on-call rotation, a person, a channel), each at
//! its visibility level, until someone acknowledges.
//!
//! ```yaml
//! # routes.yaml
//! route:
//!   plan: soc-default
//!   routes:
//!     - match: { domain: physical, severity: high }
//!       plan: guards-first
//!       continue: true
//! plans:
//!   soc-default:
//!     steps:
//!       - after: 0
//!         notify: [{ oncall: soc, visibility: internal }]
//! ```
//!
//! [`load`] reads and checks the file (errors name file, line and field); [`plan`] schedules the
//! notifications for one alert, with the reasons when some are suppressed (inhibited, silenced,
//! quiet hours, nobody to notify); [`cancel_on_ack`] says which of them an acknowledgement
//! cancels. Pure apart from [`load`]; time comes in as `now`.

mod config;
mod error;
mod matcher;
mod plan;
mod render;

pub use config::{
    Audience, Day, EscalationPlan, InhibitRule, MAX_REPEATS, Offset, QuietAction, QuietHours,
    ROUTES_FILE, Repeat, Route, Routes, Span, Step, Target, TimeOfDay, load, parse,
};
pub use error::{RoutesError, RoutesErrors};
pub use matcher::{LABELS, Matcher, label, site, tags};
pub use plan::{
    Directory, MatchedRoute, Notification, Plan, Recipient, Silence, Suppression, cancel_on_ack,
    inhibited_by, matching_routes, plan, quiet_until, suppression_at, unknown_teams,
};
pub use render::render_plan;

#[cfg(test)]
mod tests;
