//! HTTP ingest: batches posted to `POST /api/v1/events`. The source does not listen itself; the
//! API authenticates the request with [`HttpSource::verify_token`] and hands the body to
//! [`HttpSource::ingest`].

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tocsin_model::{DEFAULT_TENANT, DeadLetter, Domain, Event, IngestContext, Limits};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

use crate::config::{BuildError, check_name, check_tenant, default_tenant};
use crate::convert::{Record, Shape, record_to_event};
use crate::source::{OverloadFlag, status_of};
use crate::{Health, Sink, Source, SourceCounters, SourceInfo, SourceStatus};
use tocsin_parsers::body::{split_csv, split_json};
use tocsin_parsers::mapping::Mapping;

/// The name of the built-in source used when an admin API token posts events.
pub const ADMIN_SOURCE_NAME: &str = "api";

/// Per-line errors listed in one [`IngestReport`], at most.
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// Seconds a client is asked to wait after a 429.
const RETRY_AFTER_SECS: u64 = 1;

fn default_max_body_bytes() -> usize {
    4 * 1024 * 1024
}

fn default_max_records() -> usize {
    10_000
}

/// How the records of a request body are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpFormat {
    /// Events in Tocsin's own JSON form: a JSON object, a JSON array of objects, or NDJSON.
    #[default]
    Tocsin,
    /// Any JSON objects (object, array or NDJSON), turned into events by `mapping`.
    Json,
    /// CSV with a header row, each row turned into an event by `mapping`.
    Csv,
}

/// An HTTP ingest source, `[[sources]]` with `type = "http"`.
///
/// ```toml
/// [[sources]]
/// type = "http"
/// name = "badge-export"
/// domain = "physical"
/// token_env = "TOCSIN_BADGE_TOKEN"
/// format = "csv"
/// mapping = { ... }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// Unique name of the source; events and dead letters carry it as `source`. Letters, digits,
    /// `-`, `_` and `.`; `api` is reserved for events posted with an admin token.
    pub name: String,
    /// The tenant of every record; a record naming another tenant is refused. Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Domain (`cyber`, `physical`, `public`) for records that name none. Without it, every
    /// record must name its own domain.
    #[serde(default)]
    pub domain: Option<Domain>,
    /// Hex SHA-256 of the bearer token clients present (`sha256sum` of the token without a
    /// trailing newline). The token itself is never stored in the config.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// More accepted token hashes, for rotation: any of them is accepted.
    #[serde(default)]
    pub tokens_sha256: Vec<String>,
    /// Name of an environment variable holding the plain token, read when the server starts.
    /// At least one of `token_sha256`, `tokens_sha256` and `token_env` is required.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Largest accepted request body in bytes; larger requests get 413. Default 4 MiB.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most records in one request; more get 413. Default 10000.
    #[serde(default = "default_max_records")]
    pub max_records: usize,
    /// `tocsin` (default: events in Tocsin's own JSON form), `json` (any JSON objects through
    /// `mapping`) or `csv` (CSV with a header row through `mapping`).
    #[serde(default)]
    pub format: HttpFormat,
    /// Field mapping from the records' own names to event fields; required for `json` and
    /// `csv`, not allowed with `tocsin`.
    #[serde(default)]
    pub mapping: Option<Mapping>,
}

impl HttpSourceConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if self.name == ADMIN_SOURCE_NAME {
            return Err(format!(
                "`name`: {ADMIN_SOURCE_NAME:?} is reserved for events posted with an admin token"
            ));
        }
        check_tenant(&self.tenant)?;
        if let Some(hash) = &self.token_sha256 {
            parse_digest(hash).map_err(|e| format!("`token_sha256`: {e}"))?;
        }
        for (i, hash) in self.tokens_sha256.iter().enumerate() {
            parse_digest(hash).map_err(|e| format!("`tokens_sha256[{i}]`: {e}"))?;
        }
        match &self.token_env {
            Some(var) if var.trim().is_empty() => {
                return Err("`token_env`: must name an environment variable".to_owned());
            }
            _ => {}
        }
        if self.token_sha256.is_none() && self.tokens_sha256.is_empty() && self.token_env.is_none()
        {
            return Err(
                "no token: set `token_sha256`, `tokens_sha256` or `token_env` so that clients can authenticate"
                    .to_owned(),
            );
        }
        if self.max_body_bytes == 0 {
            return Err("`max_body_bytes`: must be more than 0".to_owned());
        }
        if self.max_records == 0 {
            return Err("`max_records`: must be more than 0".to_owned());
        }
        match (&self.format, &self.mapping) {
            (HttpFormat::Tocsin, Some(_)) => Err(
                "`mapping`: only used with `format = \"json\"` or `format = \"csv\"`; records in the tocsin format need none"
                    .to_owned(),
            ),
            (HttpFormat::Json | HttpFormat::Csv, None) => Err(format!(
                "`mapping`: required with `format = \"{}\"`",
                match self.format {
                    HttpFormat::Csv => "csv",
                    _ => "json",
                }
            )),
            (_, Some(m)) => m.validate().map_err(|e| format!("`mapping`: {e}")),
            (HttpFormat::Tocsin, None) => Ok(()),
        }
    }
}

fn parse_digest(hex_digest: &str) -> Result<[u8; 32], String> {
    let bytes =
        hex::decode(hex_digest.trim()).map_err(|e| format!("not a hex SHA-256 digest: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "a SHA-256 digest is 64 hex characters, this one has {}",
            hex_digest.trim().len()
        )
    })
}

/// One record that could not be ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// Line (NDJSON, CSV) or record number (JSON array) within the body, counting from 1.
    pub line: u64,
    pub reason: String,
}

/// The answer to one ingest request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Records that became events.
    pub accepted: u64,
    /// Records written to the dead-letter store.
    pub rejected: u64,
    /// Why each rejected record was refused, at most [`MAX_REPORTED_ERRORS`] of them.
    pub errors: Vec<LineError>,
    /// Whether `errors` was cut at [`MAX_REPORTED_ERRORS`].
    pub truncated: bool,
}

/// Why a whole request was refused. Nothing of it was ingested or dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestRefused {
    /// Answered with 413.
    #[error("{what}: more than the limit of {limit}")]
    TooLarge {
        /// What was over the limit: `"body bytes"`, `"records"`, ...
        what: &'static str,
        /// How much was seen; records are counted only up to one past the limit.
        size: u64,
        limit: u64,
    },
    /// The pipeline cannot take the whole batch right now; answered with 429 and `Retry-After`.
    #[error("the pipeline is full: retry in {retry_after_secs} s")]
    Overloaded { retry_after_secs: u64 },
}

/// An HTTP ingest source.
pub struct HttpSource {
    info: SourceInfo,
    /// Whether the configured domain was set; `info.domain` must show something either way.
    default_domain: Option<Domain>,
    format: HttpFormat,
    mapping: Option<Mapping>,
    token_digests: Vec<[u8; 32]>,
    max_body_bytes: usize,
    max_records: usize,
    limits: Limits,
    counters: Arc<SourceCounters>,
    overload: OverloadFlag,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Token digests stay out of logs.
        f.debug_struct("HttpSource")
            .field("info", &self.info)
            .field("format", &self.format)
            .field("tokens", &self.token_digests.len())
            .finish_non_exhaustive()
    }
}

impl HttpSource {
    /// Builds the source, reading the token from `token_env` if set.
    pub fn from_config(cfg: &HttpSourceConfig) -> Result<Self, BuildError> {
        let invalid = |reason: String| BuildError::Invalid {
            name: cfg.name.clone(),
            reason,
        };
        cfg.validate().map_err(invalid)?;
        let mut token_digests = Vec::new();
        for hash in cfg.token_sha256.iter().chain(cfg.tokens_sha256.iter()) {
            token_digests.push(parse_digest(hash).map_err(invalid)?);
        }
        if let Some(var) = &cfg.token_env {
            match std::env::var(var) {
                Ok(token) if !token.is_empty() => token_digests.push(digest(&token)),
                _ => {
                    return Err(BuildError::TokenEnv {
                        name: cfg.name.clone(),
                        var: var.clone(),
                    });
                }
            }
        }
        Ok(Self {
            info: SourceInfo {
                name: cfg.name.clone(),
                kind: "http",
                domain: cfg.domain.unwrap_or(Domain::Cyber),
                tenant: cfg.tenant.clone(),
            },
            default_domain: cfg.domain,
            format: cfg.format,
            mapping: cfg.mapping.clone(),
            token_digests,
            max_body_bytes: cfg.max_body_bytes,
            max_records: cfg.max_records,
            limits: Limits::default(),
            counters: Arc::default(),
            overload: OverloadFlag::default(),
        })
    }

    /// The built-in source, named [`ADMIN_SOURCE_NAME`], that takes events in Tocsin's own form
    /// posted with an admin API token (checked by the API, not here: it has no token of its own).
    pub fn admin(tenant: &str) -> Self {
        Self {
            info: SourceInfo {
                name: ADMIN_SOURCE_NAME.to_owned(),
                kind: "http",
                domain: Domain::Cyber,
                tenant: tenant.to_owned(),
            },
            default_domain: None,
            format: HttpFormat::Tocsin,
            mapping: None,
            token_digests: Vec::new(),
            max_body_bytes: default_max_body_bytes(),
            max_records: default_max_records(),
            limits: Limits::default(),
            counters: Arc::default(),
            overload: OverloadFlag::default(),
        }
    }

    pub fn format(&self) -> HttpFormat {
        self.format
    }

    /// The domain given to records that name none, if configured.
    pub fn default_domain(&self) -> Option<Domain> {
        self.default_domain
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Whether `presented` (the bearer token) is one of this source's tokens. Compares SHA-256
    /// digests in constant time and checks every configured digest, so the answer's timing says
    /// nothing about which token came close.
    pub fn verify_token(&self, presented: &str) -> bool {
        if presented.is_empty() {
            return false;
        }
        let d = digest(presented);
        self.token_digests
            .iter()
            .fold(false, |found, known| found | constant_time_eq(known, &d))
    }

    /// Ingests one request body: every record becomes an event or a dead letter, and the whole
    /// batch enters the pipeline at once or not at all.
    ///
    /// Parsing is synchronous and bounded by `max_body_bytes`; callers on an async runtime may
    /// run it in `spawn_blocking` for large bodies.
    pub fn ingest(&self, body: &[u8], sink: &Sink) -> Result<IngestReport, IngestRefused> {
        if body.len() > self.max_body_bytes {
            return Err(IngestRefused::TooLarge {
                what: "body bytes",
                size: body.len() as u64,
                limit: self.max_body_bytes as u64,
            });
        }
        // The splitters stop after `max_records` with one extra error item: more items than
        // `max_records` means the batch is too big.
        let scan = self.max_records;
        let max_record_bytes = self.limits.max_record_bytes;
        let (records, shape): (Vec<Record<'_>>, Shape) = match self.format {
            HttpFormat::Tocsin | HttpFormat::Json => (
                split_json(body, scan, max_record_bytes)
                    .into_iter()
                    .map(|r| Record {
                        line: r.line,
                        raw: Cow::Borrowed(r.raw),
                        parsed: r.parsed,
                    })
                    .collect(),
                Shape::Json,
            ),
            HttpFormat::Csv => (
                split_csv(body, scan, max_record_bytes)
                    .into_iter()
                    .map(|r| Record {
                        line: r.line,
                        raw: Cow::Owned(r.raw),
                        parsed: r.parsed,
                    })
                    .collect(),
                Shape::Csv,
            ),
        };
        if records.len() > self.max_records {
            return Err(IngestRefused::TooLarge {
                what: "records",
                size: self.max_records as u64 + 1,
                limit: self.max_records as u64,
            });
        }

        let now = sink.now();
        let received = records.len() as u64;
        let mut events: Vec<Event> = Vec::with_capacity(records.len());
        let mut dead: Vec<DeadLetter> = Vec::new();
        let mut report = IngestReport::default();
        for record in records {
            let ctx = IngestContext {
                source: &self.info.name,
                tenant: &self.info.tenant,
                domain: self.default_domain,
                ingested: now,
                id: Ulid::new(),
                limits: self.limits,
            };
            let result = record
                .parsed
                .and_then(|map| record_to_event(map, shape, self.mapping.as_ref(), &ctx));
            match result {
                Ok(event) => events.push(event),
                Err(reason) => {
                    if report.errors.len() < MAX_REPORTED_ERRORS {
                        report.errors.push(LineError {
                            line: record.line,
                            reason: reason.clone(),
                        });
                    } else {
                        report.truncated = true;
                    }
                    dead.push(DeadLetter::new(
                        Ulid::new(),
                        &self.info.tenant,
                        &self.info.name,
                        now,
                        reason,
                        Some(record.line),
                        &record.raw,
                    ));
                }
            }
        }

        if events.len() > sink.max_capacity() {
            return Err(IngestRefused::TooLarge {
                what: "events in one request (the size of the pipeline queue)",
                size: events.len() as u64,
                limit: sink.max_capacity() as u64,
            });
        }
        if dead.len() > sink.dead_letter_max_capacity() {
            return Err(IngestRefused::TooLarge {
                what: "rejected records in one request (the size of the dead-letter queue)",
                size: dead.len() as u64,
                limit: sink.dead_letter_max_capacity() as u64,
            });
        }
        let reserved = sink.try_reserve_many(events.len()).and_then(|event_slots| {
            sink.try_reserve_dead_letters(dead.len())
                .map(|dead_slots| (event_slots, dead_slots))
        });
        let Some((event_slots, dead_slots)) = reserved else {
            self.counters.add_received(received);
            self.counters.add_dropped(received);
            if self.overload.set() {
                tracing::warn!(source = %self.info.name, "pipeline full: refusing batches with 429");
            }
            return Err(IngestRefused::Overloaded {
                retry_after_secs: RETRY_AFTER_SECS,
            });
        };
        if self.overload.clear() {
            tracing::info!(source = %self.info.name, "pipeline has room again");
        }
        report.accepted = events.len() as u64;
        report.rejected = dead.len() as u64;
        for (slot, event) in event_slots.into_iter().zip(events) {
            slot.send(event);
        }
        for (slot, d) in dead_slots.into_iter().zip(dead) {
            slot.send(d);
        }
        self.counters.add_received(received);
        self.counters.add_accepted(report.accepted);
        self.counters.add_rejected(report.rejected);
        Ok(report)
    }
}

/// The built-in source for events posted with an admin API token, tenant `default`.
pub fn admin_ingest_source() -> HttpSource {
    HttpSource::admin(DEFAULT_TENANT)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[async_trait]
impl Source for HttpSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn counters(&self) -> &Arc<SourceCounters> {
        &self.counters
    }

    fn status(&self) -> SourceStatus {
        let health = if self.overload.is_set() {
            Health::Degraded {
                reason: "pipeline full: batches refused with 429".to_owned(),
            }
        } else {
            Health::Healthy
        };
        status_of(&self.info, &self.counters, Vec::new(), health)
    }

    async fn start(
        self: Arc<Self>,
        _sink: Sink,
        _shutdown: CancellationToken,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_like: serde_json::Value) -> HttpSourceConfig {
        serde_json::from_value(toml_like).unwrap()
    }

    #[test]
    fn tokens_are_checked_against_every_digest() {
        let a = hex::encode(digest("alpha-token"));
        let b = hex::encode(digest("bravo-token"));
        let cfg = config(serde_json::json!({
            "name": "door-export", "token_sha256": a, "tokens_sha256": [b]
        }));
        let src = HttpSource::from_config(&cfg).unwrap();
        assert!(src.verify_token("alpha-token"));
        assert!(src.verify_token("bravo-token"));
        assert!(!src.verify_token("charlie-token"));
        assert!(!src.verify_token(""));
        assert!(!admin_ingest_source().verify_token("alpha-token"));
    }

    #[test]
    fn config_errors_name_the_field() {
        let err = config(serde_json::json!({"name": "x", "token_sha256": "abc"}))
            .validate()
            .unwrap_err();
        assert!(err.contains("token_sha256"), "{err}");
        let good = hex::encode(digest("t"));
        let err = config(serde_json::json!({"name": "x", "tokens_sha256": [good, "zz"]}))
            .validate()
            .unwrap_err();
        assert!(err.contains("tokens_sha256[1]"), "{err}");
        let err = config(serde_json::json!({"name": "x"}))
            .validate()
            .unwrap_err();
        assert!(err.contains("no token"), "{err}");
        let err = config(serde_json::json!({"name": "api", "token_env": "T"}))
            .validate()
            .unwrap_err();
        assert!(err.contains("reserved"), "{err}");
        let err = config(serde_json::json!({"name": "x", "token_env": "T", "format": "csv"}))
            .validate()
            .unwrap_err();
        assert!(err.contains("mapping"), "{err}");
        let err = serde_json::from_value::<HttpSourceConfig>(
            serde_json::json!({"name": "x", "token_env": "T", "colour": "red"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn a_missing_token_variable_fails_the_build() {
        let cfg = config(serde_json::json!({
            "name": "x", "token_env": "TOCSIN_TEST_TOKEN_THAT_IS_NEVER_SET"
        }));
        let err = HttpSource::from_config(&cfg).unwrap_err();
        assert!(
            err.to_string()
                .contains("TOCSIN_TEST_TOKEN_THAT_IS_NEVER_SET"),
            "{err}"
        );
    }
}
