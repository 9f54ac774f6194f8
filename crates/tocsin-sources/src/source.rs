use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tocsin_model::Domain;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Sink;

/// What every source shares, whatever its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The configured name; events and dead letters carry it as `source`.
    pub name: String,
    /// `"http"`, `"syslog"` or `"file"`.
    pub kind: &'static str,
    /// The domain given to records that name none.
    pub domain: Domain,
    /// The tenant every record of this source belongs to.
    pub tenant: String,
}

/// Record counts of one source since it was built. Every record seen ends in exactly one of
/// `accepted`, `rejected` or `dropped`, so `received == accepted + rejected + dropped` once the
/// source is idle.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Records seen (one syslog message, one JSON object, one CSV row).
    pub received: AtomicU64,
    /// Records that became events and entered the pipeline.
    pub accepted: AtomicU64,
    /// Records that could not be parsed or mapped and went to the dead-letter store.
    pub rejected: AtomicU64,
    /// Records lost to overload or limits (pipeline queue full, oversized batch).
    pub dropped: AtomicU64,
}

/// A copy of [`SourceCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSnapshot {
    pub received: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub dropped: u64,
}

impl SourceCounters {
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            received: self.received.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add_received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_accepted(&self, n: u64) {
        self.accepted.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_rejected(&self, n: u64) {
        self.rejected.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }
}

/// How a source is doing, as shown by the API and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Health {
    /// Built but not yet listening.
    Starting,
    Healthy,
    /// Working, but losing or refusing records.
    Degraded {
        reason: String,
    },
    /// Not working at all.
    Failed {
        reason: String,
    },
}

/// Everything the API shows about one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub name: String,
    pub kind: String,
    pub domain: Domain,
    pub tenant: String,
    /// Socket addresses the source listens on (the real port when `0` was configured).
    pub bound: Vec<String>,
    pub health: Health,
    pub counters: CounterSnapshot,
}

/// One ingest source. Each kind lives in its own module; the server starts every configured
/// source with the same [`Sink`] and one shutdown token.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    fn info(&self) -> &SourceInfo;
    fn counters(&self) -> &Arc<SourceCounters>;
    fn status(&self) -> SourceStatus;
    /// Binds its sockets (so the bound addresses are known when this returns), then spawns its
    /// run loops, which end when `shutdown` is cancelled. Sources without sockets (http) return
    /// at once with no tasks.
    async fn start(
        self: Arc<Self>,
        sink: Sink,
        shutdown: CancellationToken,
    ) -> std::io::Result<Vec<JoinHandle<()>>>;
}

/// Tracks whether a source is currently losing records because the pipeline is full, so that
/// status shows it and the log says it once per episode rather than once per record.
#[derive(Debug, Default)]
pub(crate) struct OverloadFlag(AtomicBool);

impl OverloadFlag {
    /// Marks the source as dropping; returns true when this starts a new episode.
    pub(crate) fn set(&self) -> bool {
        !self.0.swap(true, Ordering::Relaxed)
    }

    /// Marks the source as keeping up again; returns true when this ends an episode.
    pub(crate) fn clear(&self) -> bool {
        // A load first keeps the common path (not overloaded) free of writes to a shared line.
        self.0.load(Ordering::Relaxed) && self.0.swap(false, Ordering::Relaxed)
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Marks a source started; a second start is refused, since its sockets are already bound.
pub(crate) fn mark_started(started: &AtomicBool, info: &SourceInfo) -> std::io::Result<()> {
    if started.swap(true, Ordering::SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("source {:?} is already started", info.name),
        ));
    }
    Ok(())
}

/// The health every listening source shares: failed (with why), starting, degraded while the
/// pipeline is full (`overloaded` says what the source does then), else healthy.
pub(crate) fn listener_health(
    failed: &std::sync::Mutex<Option<String>>,
    started: &AtomicBool,
    overload: &OverloadFlag,
    overloaded: &str,
) -> Health {
    let failed = failed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(reason) = failed {
        Health::Failed { reason }
    } else if !started.load(Ordering::Relaxed) {
        Health::Starting
    } else if overload.is_set() {
        Health::Degraded {
            reason: format!("pipeline full: {overloaded}"),
        }
    } else {
        Health::Healthy
    }
}

pub(crate) fn status_of(
    info: &SourceInfo,
    counters: &SourceCounters,
    bound: Vec<String>,
    health: Health,
) -> SourceStatus {
    SourceStatus {
        name: info.name.clone(),
        kind: info.kind.to_owned(),
        domain: info.domain,
        tenant: info.tenant.clone(),
        bound,
        health,
        counters: counters.snapshot(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_serialises_with_a_state_tag() {
        let v = serde_json::to_value(Health::Degraded {
            reason: "queue full".into(),
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"state": "degraded", "reason": "queue full"})
        );
        let v = serde_json::to_value(Health::Healthy).unwrap();
        assert_eq!(v, serde_json::json!({"state": "healthy"}));
    }

    #[test]
    fn overload_flag_reports_episode_edges_once() {
        let f = OverloadFlag::default();
        assert!(!f.clear());
        assert!(f.set());
        assert!(!f.set());
        assert!(f.is_set());
        assert!(f.clear());
        assert!(!f.clear());
    }
}
