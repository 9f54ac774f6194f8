//! Sigma rules on Tocsin events: the SigmaHQ rule set and Sigma correlation rules, behind
//! Tocsin's [`Detector`](tocsin_detect::Detector) trait.
//!
//! Detection rules are parsed and compiled by `rsigma-parser`/`rsigma-eval`; this crate adds
//! what they lack for Tocsin: logsource routing (Windows channels and event ids, Tocsin's own
//! classes), configured placeholders, rejection reasons for every rule that cannot load, and
//! correlation in event time with lateness and bounded state. See `DESIGN.md`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tocsin_sigma::{SigmaDetector, SigmaOptions, SigmaRuleSet};
//!
//! let options = SigmaOptions::default();
//! let (rules, rejected) = SigmaRuleSet::load_dirs(&["rules".into()], &options);
//! for r in &rejected {
//!     eprintln!("{r}");
//! }
//! let detector = SigmaDetector::new(Arc::new(rules), &options);
//! # let _ = detector;
//! ```
//!
//! Architecture invariant: no IO but reading rule files in [`SigmaRuleSet::load_dirs`], and no
//! wall clock: windows run on event time.

mod candidates;
mod correlation;
mod detector;
mod handle;
pub mod logsource;
mod options;
mod placeholder;
mod ruleset;
mod view;

pub use correlation::{
    CorrelationCond, CorrelationDef, CorrelationHit, CorrelationKind, CorrelationStats, Correlator,
    EventMeta, RuleRef,
};
pub use detector::SigmaDetector;
pub use handle::{AddRuleError, AddedRule, ReloadError, ReloadSummary, SigmaHandle};
pub use logsource::{EventLogsource, RuleLogsource};
pub use options::SigmaOptions;
pub use rsigma_eval::event::JsonEvent;
pub use ruleset::{RejectKind, Rejected, RuleHits, RuleInfo, SigmaRuleSet, severity_of};
pub use view::{ModelEventView, event_logsource, json_logsource};
