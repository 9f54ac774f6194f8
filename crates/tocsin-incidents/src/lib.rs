//! Incidents: what both teams work on together until it is reviewed.
//!
//! - [`Incident`] holds grouped alerts, a state moving along
//!   `new → acknowledged → investigating → contained → resolved → closed` (every change records
//!   who and when), an assignment, SLA clocks, a disposition and one shared [`TimelineEntry`] list.
//! - [`grouping`] decides which incident a new alert joins (same entity and/or site inside a time
//!   window) and merges or splits incidents by hand.
//! - [`report`] writes the after-action report, in Markdown and printable HTML, with the four
//!   review questions pre-filled from the timeline and the measured times.
//!
//! Architecture invariant: this crate does no IO and never reads the wall clock; every operation
//! takes `now` as an argument.

pub mod checklist;
pub mod grouping;
mod incident;
pub mod report;

pub use checklist::{ChecklistItem, Checklists};
pub use grouping::{GroupBy, GroupingConfig, group_key, merge, split};
pub use incident::{
    Assignment, Disposition, Incident, IncidentAlert, IncidentError, IncidentState, MAX_ALERTS,
    MAX_TEXT_BYTES, MAX_TIMELINE, REVIEW_KEYS, Review, SlaPolicy, SlaStatus, TimelineEntry,
    TimelineKind,
};
pub use report::{report_html, report_markdown};
