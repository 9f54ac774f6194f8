//! Tocsin's event model: the one envelope that every source normalises into.
//!
//! The envelope is shaped after OCSF (class, activity, severity, time, actor, device, endpoints,
//! metadata) with a physical profile for what OCSF lacks (site, zone, portal, credential, alarm
//! point). See [`Event`] for every field.
//!
//! Architecture invariant: this crate does no IO and never reads the wall clock. Times come in
//! through [`Clock`] or as arguments.

mod alert;
mod clock;
mod deadletter;
mod enrich;
mod event;
mod geo;
mod limits;

pub use alert::{Alert, AlertStatus};
pub use clock::{Clock, FakeClock, SystemClock};
pub use deadletter::{DEAD_LETTER_RAW_LIMIT, DeadLetter};
pub use enrich::{Enricher, NoEnrichment};
pub use event::{Domain, Event, EventInput, IngestContext, ModelError, Severity};
pub use geo::Geo;
pub use limits::Limits;

/// The tenant used when a record names none.
pub const DEFAULT_TENANT: &str = "default";
