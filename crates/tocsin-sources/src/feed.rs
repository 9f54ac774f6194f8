//! Public feeds polled over HTTP(S) or read from files and folders: RSS/Atom, CAP, USGS, GDACS,
//! KEV, NVD and social-post JSON, parsed by [`tocsin_public::parse_feed`].
//!
//! HTTP polls are conditional: the `ETag` and `Last-Modified` of the last answer go back as
//! `If-None-Match` and `If-Modified-Since`, and `304 Not Modified` costs nothing. Failures (network
//! errors, 429, 5xx, unreadable documents) push the next poll out exponentially, with jitter so
//! that many sources do not retry in step, and never earlier than a `Retry-After` asks. Requests go
//! only to the configured URL's host: a redirect elsewhere is refused. Bodies are read up to
//! `max_bytes` and no further.
//!
//! Items already seen (same dedup key and version) are not sent again, across polls and files;
//! an updated item is sent once more. Items the parser skips become dead letters with the reason.
//!
//! Time comes from the [`Sink`]'s clock, so tests drive the schedule with a fake clock and
//! [`FeedSource::poll_if_due`] instead of waiting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::{
    CONTENT_LENGTH, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tocsin_model::{DeadLetter, Domain};
use tocsin_public::feeds::{FeedKind, FeedOptions, ParsedFeed, SeenSet, sniff};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

use crate::config::{BuildError, check_name, check_tenant, default_tenant};
use crate::http::ADMIN_SOURCE_NAME;
use crate::source::status_of;
use crate::{Health, Sink, Source, SourceCounters, SourceInfo, SourceStatus};

/// Shortest accepted poll interval: public feeds ask for no more than this.
pub const MIN_INTERVAL_SECS: u64 = 30;
/// Longest accepted poll interval: a week.
pub const MAX_INTERVAL_SECS: u64 = 7 * 86_400;
/// Largest accepted `max_bytes`.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;
/// Longest wait after repeated failures.
pub const MAX_BACKOFF_SECS: u64 = 6 * 3600;
/// File name endings read from a folder.
pub const FILE_EXTENSIONS: &[&str] = &[
    "xml", "rss", "atom", "cap", "json", "geojson", "ndjson", "jsonl",
];
/// Most redirects followed (all to the configured host).
const MAX_REDIRECTS: usize = 5;
/// Bytes of a refused document kept in its dead letter.
const DEAD_LETTER_HEAD: usize = 4096;

fn default_domain() -> Domain {
    Domain::Public
}
fn default_interval_secs() -> u64 {
    300
}
fn default_max_bytes() -> usize {
    8 * 1024 * 1024
}
fn default_timeout_secs() -> u64 {
    30
}
fn default_seen_cap() -> usize {
    50_000
}

/// A polled feed, `[[sources]]` with `type = "feed"`.
///
/// ```toml
/// [[sources]]
/// type = "feed"
/// name = "usgs-hour"
/// url = "https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/all_hour.geojson"
/// kind = "usgs"
/// interval_secs = 120
///
/// [[sources]]
/// type = "feed"
/// name = "cap-drop"
/// path = "/var/lib/tocsin/cap-inbox"   # a folder: every new or changed file is read
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSourceConfig {
    /// Unique name of the source. Letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// The tenant of every event. Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Domain of the events. Default `public`.
    #[serde(default = "default_domain")]
    pub domain: Domain,
    /// `http://` or `https://` URL to poll. Set `url` or `path`, not both.
    #[serde(default)]
    pub url: Option<String>,
    /// A file, or a folder whose files ending in one of [`FILE_EXTENSIONS`] are read.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `rss` (or `atom`), `cap`, `usgs`, `gdacs`, `kev`, `nvd` or `social`; guessed from each
    /// document when absent.
    #[serde(default)]
    pub kind: Option<String>,
    /// Seconds between polls when all is well. Default 300, at least 30.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// Largest document read, in bytes; a larger one is refused. Default 8 MiB.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Seconds one HTTP request may take, body included. Default 30.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// How many item keys are remembered to recognise items seen before; about ten times the
    /// items of one document. Default 50 000.
    #[serde(default = "default_seen_cap")]
    pub seen_cap: usize,
}

impl FeedSourceConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if self.name == ADMIN_SOURCE_NAME {
            return Err(format!("`name`: {ADMIN_SOURCE_NAME:?} is reserved"));
        }
        check_tenant(&self.tenant)?;
        match (&self.url, &self.path) {
            (Some(_), Some(_)) => return Err("set `url` or `path`, not both".to_owned()),
            (None, None) => return Err("set `url` or `path`: where the feed is read".to_owned()),
            (Some(u), None) => {
                parse_url(u).map_err(|e| format!("`url`: {e}"))?;
            }
            (None, Some(p)) => {
                if p.as_os_str().is_empty() {
                    return Err("`path`: must not be empty".to_owned());
                }
            }
        }
        if let Some(k) = &self.kind {
            k.parse::<FeedKind>().map_err(|e| format!("`kind`: {e}"))?;
        }
        if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&self.interval_secs) {
            return Err(format!(
                "`interval_secs`: {} is outside {MIN_INTERVAL_SECS} to {MAX_INTERVAL_SECS}",
                self.interval_secs
            ));
        }
        if self.max_bytes == 0 || self.max_bytes > MAX_DOCUMENT_BYTES {
            return Err(format!("`max_bytes`: must be 1 to {MAX_DOCUMENT_BYTES}"));
        }
        if self.timeout_secs == 0 {
            return Err("`timeout_secs`: must be more than 0".to_owned());
        }
        if self.seen_cap == 0 {
            return Err("`seen_cap`: must be more than 0".to_owned());
        }
        Ok(())
    }
}

fn parse_url(u: &str) -> Result<Url, String> {
    let url = Url::parse(u).map_err(|e| format!("{u:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{u:?} has no host"));
    }
    Ok(url)
}

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// A document (or at least one file) was read.
    Read,
    /// The server answered 304, or no file is new or changed.
    NotModified,
    /// The poll failed; the next one is backed off.
    Failed { reason: String },
}

/// The result of [`FeedSource::poll_once`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub outcome: PollOutcome,
    /// Events sent to the pipeline (new or updated items).
    pub sent: u64,
    /// Items already seen with the same version, not sent again.
    pub unchanged: u64,
    /// Items or documents dead-lettered.
    pub rejected: u64,
    /// When the next poll is due.
    pub next_poll: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

#[derive(Debug)]
struct PollState {
    validators: Validators,
    seen: SeenSet,
    /// Files already read, with the modification time and size they had.
    files: HashMap<PathBuf, (SystemTime, u64)>,
    failures: u32,
    next_poll: Option<DateTime<Utc>>,
    jitter: u64,
}

/// A polled public feed (HTTP or files).
pub struct FeedSource {
    info: SourceInfo,
    config: FeedSourceConfig,
    url: Option<Url>,
    kind: Option<FeedKind>,
    client: Option<reqwest::Client>,
    counters: Arc<SourceCounters>,
    started: AtomicBool,
    polled: AtomicBool,
    unchanged: AtomicU64,
    not_modified: AtomicU64,
    failures: AtomicU64,
    degraded: Mutex<Option<String>>,
    state: tokio::sync::Mutex<PollState>,
}

impl std::fmt::Debug for FeedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSource")
            .field("info", &self.info)
            .field("endpoint", &self.endpoint())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl FeedSource {
    pub fn from_config(cfg: &FeedSourceConfig) -> Result<Self, BuildError> {
        let invalid = |reason: String| BuildError::Invalid {
            name: cfg.name.clone(),
            reason,
        };
        cfg.validate().map_err(invalid)?;
        let url = cfg
            .url
            .as_deref()
            .map(parse_url)
            .transpose()
            .map_err(|e| invalid(format!("`url`: {e}")))?;
        let kind = cfg
            .kind
            .as_deref()
            .map(str::parse::<FeedKind>)
            .transpose()
            .map_err(|e| invalid(format!("`kind`: {e}")))?;
        let client = url
            .as_ref()
            .map(|u| http_client(u, Duration::from_secs(cfg.timeout_secs)))
            .transpose()
            .map_err(|e| invalid(format!("`url`: cannot build the HTTP client: {e}")))?;
        let jitter = cfg.name.bytes().fold(0x9E37_79B9_7F4A_7C15u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        }) | 1;
        Ok(Self {
            info: SourceInfo {
                name: cfg.name.clone(),
                kind: "feed",
                domain: cfg.domain,
                tenant: cfg.tenant.clone(),
            },
            config: cfg.clone(),
            url,
            kind,
            client,
            counters: Arc::default(),
            started: AtomicBool::new(false),
            polled: AtomicBool::new(false),
            unchanged: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            degraded: Mutex::default(),
            state: tokio::sync::Mutex::new(PollState {
                validators: Validators::default(),
                seen: SeenSet::new(cfg.seen_cap),
                files: HashMap::new(),
                failures: 0,
                next_poll: None,
                jitter,
            }),
        })
    }

    /// Where the feed is read: the URL without its query (which may hold a key), or the path.
    pub fn endpoint(&self) -> String {
        match (&self.url, &self.config.path) {
            (Some(u), _) => {
                let mut u = u.clone();
                u.set_query(None);
                u.set_fragment(None);
                let _ = u.set_password(None);
                let _ = u.set_username("");
                u.to_string()
            }
            (None, Some(p)) => format!("file://{}", p.display()),
            (None, None) => String::new(),
        }
    }

    /// Items seen again unchanged and not re-sent.
    pub fn unchanged(&self) -> u64 {
        self.unchanged.load(Ordering::Relaxed)
    }

    /// Polls answered `304 Not Modified`.
    pub fn not_modified(&self) -> u64 {
        self.not_modified.load(Ordering::Relaxed)
    }

    /// Failed polls since the source was built.
    pub fn failed_polls(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// When the next poll is due; `None` before the first.
    pub async fn next_poll(&self) -> Option<DateTime<Utc>> {
        self.state.lock().await.next_poll
    }

    /// Polls when the next poll is due by the sink's clock; `None` when it is not yet.
    pub async fn poll_if_due(&self, sink: &Sink) -> Option<PollReport> {
        let due = self.state.lock().await.next_poll;
        match due {
            Some(t) if sink.now() < t => None,
            _ => Some(self.poll_once(sink).await),
        }
    }

    /// Polls now, whatever the schedule, and sets when the next poll is due.
    pub async fn poll_once(&self, sink: &Sink) -> PollReport {
        let mut st = self.state.lock().await;
        self.polled.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        let result = if self.url.is_some() {
            self.poll_http(&mut st, sink, &mut tally).await
        } else {
            self.poll_files(&mut st, sink, &mut tally).await
        };
        let now = sink.now();
        let (outcome, wait) = match result {
            Ok(outcome) => {
                st.failures = 0;
                *self.degraded.lock().unwrap_or_else(|e| e.into_inner()) = None;
                (outcome, Duration::from_secs(self.config.interval_secs))
            }
            Err(Failure {
                reason,
                retry_after,
            }) => {
                st.failures = st.failures.saturating_add(1);
                self.failures.fetch_add(1, Ordering::Relaxed);
                let wait = backoff(
                    self.config.interval_secs,
                    st.failures,
                    &mut st.jitter,
                    retry_after,
                );
                tracing::warn!(
                    source = %self.info.name,
                    failures = st.failures,
                    retry_in_secs = wait.as_secs(),
                    "feed poll failed: {reason}"
                );
                *self.degraded.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
                    "{} failed poll(s) in a row, next in {} s: {reason}",
                    st.failures,
                    wait.as_secs()
                ));
                (PollOutcome::Failed { reason }, wait)
            }
        };
        let next = chrono::Duration::from_std(wait)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        st.next_poll = Some(next);
        PollReport {
            outcome,
            sent: tally.sent,
            unchanged: tally.unchanged,
            rejected: tally.rejected,
            next_poll: next,
        }
    }

    async fn poll_http(
        &self,
        st: &mut PollState,
        sink: &Sink,
        tally: &mut Tally,
    ) -> Result<PollOutcome, Failure> {
        let (Some(url), Some(client)) = (&self.url, &self.client) else {
            return Err(Failure::new("no url configured".to_owned()));
        };
        let mut req = client.get(url.clone());
        if let Some(e) = &st.validators.etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        if let Some(m) = &st.validators.last_modified {
            req = req.header(IF_MODIFIED_SINCE, m);
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| Failure::new(format!("request failed: {}", error_chain(&e))))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
            return Ok(PollOutcome::NotModified);
        }
        if !status.is_success() {
            let retry_after = retry_after(resp.headers(), sink.now());
            let reason = if status.is_redirection() {
                let to = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?");
                format!("http {status}: redirect to {to:?} refused (only the configured host)")
            } else {
                format!("http {status}")
            };
            return Err(Failure {
                reason,
                retry_after,
            });
        }
        let max = self.config.max_bytes;
        let too_large = |size: u64| {
            Failure::new(format!(
                "document is {size} bytes or more, more than `max_bytes` = {max}"
            ))
        };
        if let Some(len) = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            && len > max as u64
        {
            return Err(too_large(len));
        }
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Failure::new(format!("reading the body: {}", error_chain(&e))))?
        {
            if body.len().saturating_add(chunk.len()) > max {
                return Err(too_large((body.len() + chunk.len()) as u64));
            }
            body.extend_from_slice(&chunk);
        }
        let validators = Validators {
            etag: header_string(resp.headers(), &ETAG),
            last_modified: header_string(resp.headers(), &LAST_MODIFIED),
        };
        self.ingest_document(&body, None, st, sink, tally)
            .await
            .map_err(Failure::new)?;
        // Only a document that was read moves the validators on, so a failed one is fetched again.
        st.validators = validators;
        Ok(PollOutcome::Read)
    }

    async fn poll_files(
        &self,
        st: &mut PollState,
        sink: &Sink,
        tally: &mut Tally,
    ) -> Result<PollOutcome, Failure> {
        let Some(root) = &self.config.path else {
            return Err(Failure::new("no path configured".to_owned()));
        };
        let meta = tokio::fs::metadata(root)
            .await
            .map_err(|e| Failure::new(format!("{}: {e}", root.display())))?;
        let files = if meta.is_dir() {
            list_folder(root)
                .await
                .map_err(|e| Failure::new(format!("{}: {e}", root.display())))?
        } else {
            vec![root.clone()]
        };
        let mut read_any = false;
        let mut errors = Vec::new();
        for file in files {
            let Ok(m) = tokio::fs::metadata(&file).await else {
                continue;
            };
            let stamp = (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len());
            if st.files.get(&file) == Some(&stamp) {
                continue;
            }
            st.files.insert(file.clone(), stamp);
            read_any = true;
            let max = self.config.max_bytes;
            if m.len() > max as u64 {
                self.reject_document(
                    &[],
                    format!(
                        "{}: file is {} bytes, more than `max_bytes` = {max}",
                        file.display(),
                        m.len()
                    ),
                    sink,
                    tally,
                )
                .await;
                continue;
            }
            let bytes = match read_capped(&file, max).await {
                Ok(b) => b,
                Err(e) => {
                    // Forget the stamp so that the file is tried again next time.
                    st.files.remove(&file);
                    errors.push(format!("{}: {e}", file.display()));
                    continue;
                }
            };
            // A bad file is dead-lettered; the others are still read.
            let _ = self
                .ingest_document(&bytes, Some(&file), st, sink, tally)
                .await;
        }
        if let Some(first) = errors.first() {
            return Err(Failure::new(format!(
                "{} file(s) could not be read, first: {first}",
                errors.len()
            )));
        }
        Ok(if read_any {
            PollOutcome::Read
        } else {
            PollOutcome::NotModified
        })
    }

    /// Parses one document and sends its new items; a document that cannot be read at all is
    /// dead-lettered and its reason returned.
    async fn ingest_document(
        &self,
        bytes: &[u8],
        file: Option<&Path>,
        st: &mut PollState,
        sink: &Sink,
        tally: &mut Tally,
    ) -> Result<(), String> {
        let at = |m: String| match file {
            Some(f) => format!("{}: {m}", f.display()),
            None => m,
        };
        let Some(kind) = self.kind.or_else(|| sniff(bytes)) else {
            let reason = at("feed: cannot tell the kind of document; set `kind`".to_owned());
            self.reject_document(bytes, reason.clone(), sink, tally)
                .await;
            return Err(reason);
        };
        let mut opts = FeedOptions::new(&self.info.name, sink.now());
        opts.tenant.clone_from(&self.info.tenant);
        opts.max_bytes = self.config.max_bytes;
        let ParsedFeed { items, skipped } = match tocsin_public::parse_feed(kind, bytes, &opts) {
            Ok(p) => p,
            Err(e) => {
                let reason = at(format!("feed ({kind}): {e}"));
                self.reject_document(bytes, reason.clone(), sink, tally)
                    .await;
                return Err(reason);
            }
        };
        let total = items.len() as u64;
        let fresh = st.seen.filter(ParsedFeed {
            items,
            skipped: Vec::new(),
        });
        let unchanged = total - fresh.len() as u64;
        tally.unchanged += unchanged;
        self.unchanged.fetch_add(unchanged, Ordering::Relaxed);
        self.counters
            .add_received(fresh.len() as u64 + skipped.len() as u64);
        for item in skipped {
            let d = DeadLetter::new(
                Ulid::new(),
                &self.info.tenant,
                &self.info.name,
                sink.now(),
                at(format!(
                    "feed ({kind}) item {}: {}",
                    item.index, item.reason
                )),
                Some(item.index as u64 + 1),
                &[],
            );
            sink.dead_letter(d).await;
            self.counters.add_rejected(1);
            tally.rejected += 1;
        }
        let mut fresh = fresh.into_iter();
        while let Some(item) = fresh.next() {
            let mut event = item.event;
            event.domain = self.info.domain;
            if sink.send(event).await.is_err() {
                // Shutting down: what was not sent is lost, and counted.
                self.counters.add_dropped(1 + fresh.len() as u64);
                break;
            }
            self.counters.add_accepted(1);
            tally.sent += 1;
        }
        Ok(())
    }

    async fn reject_document(&self, bytes: &[u8], reason: String, sink: &Sink, tally: &mut Tally) {
        self.counters.add_received(1);
        let d = DeadLetter::new(
            Ulid::new(),
            &self.info.tenant,
            &self.info.name,
            sink.now(),
            reason,
            None,
            bytes.get(..DEAD_LETTER_HEAD).unwrap_or(bytes),
        );
        sink.dead_letter(d).await;
        self.counters.add_rejected(1);
        tally.rejected += 1;
    }

    async fn run(self: Arc<Self>, sink: Sink, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let poll = self.poll_if_due(&sink);
            let report = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                r = poll => r,
            };
            let wait = match report {
                Some(r) => (r.next_poll - sink.now()).to_std().unwrap_or_default(),
                None => match self.next_poll().await {
                    Some(t) => (t - sink.now()).to_std().unwrap_or_default(),
                    None => Duration::ZERO,
                },
            };
            // A clock that does not move (tests) must not spin.
            let wait = wait.max(Duration::from_secs(1));
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    unchanged: u64,
    rejected: u64,
}

#[derive(Debug)]
struct Failure {
    reason: String,
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(reason: String) -> Self {
        Self {
            reason,
            retry_after: None,
        }
    }
}

/// The wait after `failures` failures in a row: the interval doubled per failure up to
/// [`MAX_BACKOFF_SECS`], with its upper half drawn at random, and never less than `Retry-After`
/// (itself capped, so that a hostile server cannot stop the source for good).
fn backoff(
    interval_secs: u64,
    failures: u32,
    seed: &mut u64,
    retry_after: Option<Duration>,
) -> Duration {
    let shift = failures.saturating_sub(1).min(20);
    let full = interval_secs
        .saturating_mul(1u64 << shift)
        .min(MAX_BACKOFF_SECS);
    // xorshift64: jitter needs spread, not secrecy.
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let half = full / 2;
    let wait = half + *seed % (full - half + 1);
    let floor = retry_after.map_or(0, |d| d.as_secs().min(MAX_BACKOFF_SECS));
    Duration::from_secs(wait.max(floor))
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

fn header_string(headers: &HeaderMap, name: &reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

fn http_client(url: &Url, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        let same_host = attempt.url().host_str() == Some(host.as_str());
        if same_host && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let mut b = reqwest::Client::builder()
        .redirect(policy)
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")));
    // A proxy for the wider internet has no business with a feed on this machine.
    if is_loopback(url.host_str().unwrap_or_default()) {
        b = b.no_proxy();
    }
    b.build()
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// The error and its causes, which is where reqwest says what actually went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn list_folder(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut rd = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = rd.next_entry().await? {
        let p = entry.path();
        let known = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| FILE_EXTENSIONS.iter().any(|k| e.eq_ignore_ascii_case(k)));
        let is_file = entry.file_type().await.is_ok_and(|t| t.is_file());
        if known && is_file {
            out.push(p);
        }
    }
    // Oldest name first, so numbered or dated drops are read in order.
    out.sort();
    Ok(out)
}

/// Reads at most `max + 1` bytes, so a file that grew after its size was checked is still
/// caught by the parser's size limit rather than read whole.
async fn read_capped(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let f = tokio::fs::File::open(path).await?;
    let mut out = Vec::new();
    f.take((max as u64).saturating_add(1))
        .read_to_end(&mut out)
        .await?;
    Ok(out)
}

#[async_trait]
impl Source for FeedSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn counters(&self) -> &Arc<SourceCounters> {
        &self.counters
    }

    fn status(&self) -> SourceStatus {
        let degraded = self
            .degraded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let health = if let Some(reason) = degraded {
            Health::Degraded { reason }
        } else if !self.started.load(Ordering::Relaxed) && !self.polled.load(Ordering::Relaxed) {
            Health::Starting
        } else {
            Health::Healthy
        };
        status_of(&self.info, &self.counters, vec![self.endpoint()], health)
    }

    async fn start(
        self: Arc<Self>,
        sink: Sink,
        shutdown: CancellationToken,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        crate::source::mark_started(&self.started, &self.info)?;
        Ok(vec![tokio::spawn(self.run(sink, shutdown))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let mut seed = 0x1234_5678;
        for failures in 1..=12u32 {
            let full = (300u64 << (failures - 1)).min(MAX_BACKOFF_SECS);
            let w = backoff(300, failures, &mut seed, None).as_secs();
            assert!(w >= full / 2 && w <= full, "{failures}: {w} of {full}");
        }
        let w = backoff(300, 1, &mut seed, Some(Duration::from_secs(3000)));
        assert_eq!(w.as_secs(), 3000);
        let w = backoff(300, 1, &mut seed, Some(Duration::from_secs(u64::MAX)));
        assert_eq!(w.as_secs(), MAX_BACKOFF_SECS);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: DateTime<Utc> = "2026-05-04T02:13:08Z".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            "Mon, 04 May 2026 02:15:08 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn config_needs_url_or_path_and_a_sane_interval() {
        let base = |url: Option<&str>, path: Option<&str>| FeedSourceConfig {
            name: "f".into(),
            tenant: "default".into(),
            domain: Domain::Public,
            url: url.map(str::to_owned),
            path: path.map(PathBuf::from),
            kind: None,
            interval_secs: 300,
            max_bytes: 1024,
            timeout_secs: 10,
            seen_cap: 100,
        };
        assert!(
            base(Some("https://example.org/a.xml"), None)
                .validate()
                .is_ok()
        );
        assert!(base(None, Some("/tmp/x")).validate().is_ok());
        assert!(
            base(None, None)
                .validate()
                .unwrap_err()
                .contains("`url` or `path`")
        );
        assert!(base(Some("https://a/"), Some("/x")).validate().is_err());
        assert!(
            base(Some("ftp://a/x"), None)
                .validate()
                .unwrap_err()
                .contains("`url`")
        );
        let mut c = base(None, Some("/x"));
        c.interval_secs = 5;
        assert!(c.validate().unwrap_err().contains("`interval_secs`"));
        c.interval_secs = 60;
        c.kind = Some("tweets".into());
        assert!(c.validate().unwrap_err().contains("`kind`"));
    }
}
