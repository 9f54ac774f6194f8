//! Ingest sources behind one trait: HTTP batches, syslog over UDP and TCP, and files.
//!
//! Every source turns what it receives into [`tocsin_model::Event`]s or
//! [`tocsin_model::DeadLetter`]s and hands them to a [`Sink`], the pipeline's bounded input.
//! Each kind decides what to do when the sink is full, and says so:
//!
//! | source | when the pipeline is full |
//! |---|---|
//! | HTTP | the whole batch is refused with 429 (nothing half-ingested) and counted as dropped |
//! | syslog | the message is counted as dropped; the socket loop never waits |
//! | file | reading waits (back-pressure); nothing is dropped |
//!
//! Every record seen is counted once as accepted, rejected (dead letter) or dropped, so
//! `received == accepted + rejected + dropped` for every source.
//!
//! A source is configured under `[[sources]]` in `tocsin.toml` ([`SourceConfig`]) and built with
//! [`build`].

mod config;
mod convert;
pub mod dc09;
pub mod feed;
pub mod file;
pub mod http;
pub mod mqtt;
pub mod onvif;
pub mod presets;
mod sink;
mod source;
pub mod syslog;

pub use config::{
    BuildError, BuiltSource, RESERVED_NAMES, SourceConfig, build, build_typed, validate_all,
};
pub use file::{FileFormat, FileIngestOptions, FileReport, ingest_file};
pub use http::{
    ADMIN_SOURCE_NAME, HttpFormat, HttpSource, HttpSourceConfig, IngestRefused, IngestReport,
    LineError, admin_ingest_source,
};
pub use sink::{Closed, Sink};
pub use source::{CounterSnapshot, Health, Source, SourceCounters, SourceInfo, SourceStatus};
pub use syslog::{SyslogSource, SyslogSourceConfig};
/// The field mapping used by `mapping` in source configs and by file ingest.
pub use tocsin_parsers::mapping::Mapping;
