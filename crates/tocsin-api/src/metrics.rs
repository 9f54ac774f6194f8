//! All of Tocsin's telemetry in one place, exported at `/metrics` in Prometheus text format.

use std::fmt::Write as _;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tocsin_sources::Source;

/// Reads a queue's depth and capacity at scrape time.
pub type DepthProbe = Arc<dyn Fn() -> (usize, usize) + Send + Sync>;

/// Reads `(kind, count)` pairs at scrape time (unresolved identities per kind).
pub type CountsProbe = Arc<dyn Fn() -> Vec<(&'static str, u64)> + Send + Sync>;

/// A probe set after the metrics are built (the enricher comes later than the registry).
#[derive(Clone, Default)]
struct LateProbe(Arc<std::sync::Mutex<Option<CountsProbe>>>);

impl std::fmt::Debug for LateProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LateProbe")
    }
}

/// Every metric the server exports. Counters that a component keeps itself (sources, queues) are
/// read at scrape time; the rest are updated by the pipeline as it goes.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Event time → ingested, per event (seconds).
    pub ingest_lag: Histogram,
    /// Ingested → through detection, per event (seconds).
    pub pipeline_latency: Histogram,
    /// Event time → alert raised (seconds).
    pub time_to_detect: Histogram,
    /// Alert raised → first notification delivered (seconds).
    pub time_to_notify: Histogram,
    /// First notification delivered (or alert raised, when none was) → acknowledged (seconds).
    pub time_to_acknowledge: Histogram,
    /// Delivery attempts by outcome (`sent`, `failed`, `dead`, `suppressed`).
    pub deliveries: Family<Vec<(String, String)>, Counter>,
    pub events_stored: Counter,
    pub store_errors: Counter,
    pub alerts: Family<Vec<(String, String)>, Counter>,
    pub alert_repeats: Family<Vec<(String, String)>, Counter>,
    pub dead_letters: Family<Vec<(String, String)>, Counter>,
    pub detector_open_groups: Gauge,
    pub detector_late_events: Gauge,
    pub detector_evicted_groups: Gauge,
    pub live_lagged: Counter,
    pub retention_purged: Counter,
    unresolved: LateProbe,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
    ]
    .into_iter()
}

impl Metrics {
    pub fn new(
        sources: Vec<Arc<dyn Source>>,
        queues: Vec<(&'static str, DepthProbe)>,
        sigma: Option<Arc<tocsin_sigma::SigmaHandle>>,
    ) -> Self {
        let mut registry = Registry::with_prefix("tocsin");
        let m = Self {
            ingest_lag: Histogram::new(latency_buckets()),
            pipeline_latency: Histogram::new(latency_buckets()),
            time_to_detect: Histogram::new(latency_buckets()),
            time_to_notify: Histogram::new(latency_buckets()),
            time_to_acknowledge: Histogram::new(latency_buckets()),
            deliveries: Family::default(),
            events_stored: Counter::default(),
            store_errors: Counter::default(),
            alerts: Family::default(),
            alert_repeats: Family::default(),
            dead_letters: Family::default(),
            detector_open_groups: Gauge::default(),
            detector_late_events: Gauge::default(),
            detector_evicted_groups: Gauge::default(),
            live_lagged: Counter::default(),
            retention_purged: Counter::default(),
            unresolved: LateProbe::default(),
            registry: Registry::default(),
        };
        registry.register(
            "ingest_lag_seconds",
            "Time from an event happening (event time) to Tocsin receiving it",
            m.ingest_lag.clone(),
        );
        registry.register(
            "pipeline_latency_seconds",
            "Time from ingest to the end of detection, per event",
            m.pipeline_latency.clone(),
        );
        registry.register(
            "time_to_detect_seconds",
            "Time from the triggering event (event time) to the alert being raised",
            m.time_to_detect.clone(),
        );
        registry.register(
            "time_to_notify_seconds",
            "Time from the alert being raised to its first notification being delivered",
            m.time_to_notify.clone(),
        );
        registry.register(
            "time_to_acknowledge_seconds",
            "Time from the first notification (or the alert, when none was sent) to acknowledgement",
            m.time_to_acknowledge.clone(),
        );
        registry.register(
            "deliveries",
            "Notification delivery attempts, per outcome",
            m.deliveries.clone(),
        );
        registry.register(
            "events_stored",
            "Events written to the store",
            m.events_stored.clone(),
        );
        registry.register(
            "store_errors",
            "Failed store writes",
            m.store_errors.clone(),
        );
        registry.register("alerts", "Alerts raised, per detector", m.alerts.clone());
        registry.register(
            "alert_repeats",
            "Repeats folded into an open alert instead of a new one, per detector",
            m.alert_repeats.clone(),
        );
        registry.register(
            "dead_letters",
            "Records kept in the dead letter, per source",
            m.dead_letters.clone(),
        );
        registry.register(
            "detector_open_groups",
            "Open correlation windows held by the rule detector",
            m.detector_open_groups.clone(),
        );
        registry.register(
            "detector_late_events",
            "Events that arrived after their window closed (coverage gaps)",
            m.detector_late_events.clone(),
        );
        registry.register(
            "detector_evicted_groups",
            "Windows dropped because the state cap was reached",
            m.detector_evicted_groups.clone(),
        );
        registry.register(
            "live_lagged_messages",
            "Live messages a slow stream subscriber missed",
            m.live_lagged.clone(),
        );
        registry.register(
            "retention_purged_events",
            "Events removed by the retention purge",
            m.retention_purged.clone(),
        );
        registry.register_collector(Box::new(UnresolvedCollector {
            probe: m.unresolved.clone(),
        }));
        registry.register_collector(Box::new(SourceCollector { sources }));
        registry.register_collector(Box::new(QueueCollector { queues }));
        if let Some(rules) = sigma {
            registry.register_collector(Box::new(RuleHitCollector { rules }));
        }
        Self { registry, ..m }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Exports the enricher's unresolved-identity counts as `tocsin_unresolved_identities`.
    pub fn set_unresolved_probe(&self, probe: CountsProbe) {
        *self.unresolved.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(probe);
    }

    pub fn label(key: &str, value: &str) -> Vec<(String, String)> {
        vec![(key.to_owned(), value.to_owned())]
    }
}

#[derive(Debug)]
struct UnresolvedCollector {
    probe: LateProbe,
}

impl Collector for UnresolvedCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let probe = self
            .probe
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(probe) = probe else {
            return Ok(());
        };
        let mut metric = encoder.encode_descriptor(
            "unresolved_identities",
            "Identities (badge, account, host, ...) that events named but the organisation model does not know",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (kind, n) in probe() {
            let labels = vec![("kind".to_owned(), kind.to_owned())];
            ConstCounter::new(n).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

struct SourceCollector {
    sources: Vec<Arc<dyn Source>>,
}

impl std::fmt::Debug for SourceCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceCollector").finish_non_exhaustive()
    }
}

impl Collector for SourceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshots: Vec<_> = self
            .sources
            .iter()
            .map(|s| {
                let info = s.info();
                let labels = vec![
                    ("source".to_owned(), info.name.clone()),
                    ("type".to_owned(), info.kind.to_owned()),
                ];
                (labels, s.counters().snapshot(), s.status().health)
            })
            .collect();
        type Pick = fn(&tocsin_sources::CounterSnapshot) -> u64;
        let series: [(&str, &str, Pick); 4] = [
            ("source_received", "Records a source received", |c| {
                c.received
            }),
            ("source_accepted", "Records that became events", |c| {
                c.accepted
            }),
            ("source_rejected", "Records sent to the dead letter", |c| {
                c.rejected
            }),
            (
                "source_dropped",
                "Records lost to overload or limits",
                |c| c.dropped,
            ),
        ];
        for (name, help, pick) in series {
            let mut metric = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (labels, snap, _) in &snapshots {
                ConstCounter::new(pick(snap)).encode(metric.encode_family(labels)?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "source_up",
            "1 when the source is healthy",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (labels, _, health) in &snapshots {
            let up = i64::from(matches!(health, tocsin_sources::Health::Healthy));
            ConstGauge::new(up).encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// Per-rule Sigma hits; only rules that have matched are exported, so that thousands of silent
/// rules do not bloat every scrape.
struct RuleHitCollector {
    /// Read at scrape time, so a reload is followed.
    rules: Arc<tocsin_sigma::SigmaHandle>,
}

impl std::fmt::Debug for RuleHitCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleHitCollector")
            .field("rules", &self.rules.current().len())
            .finish()
    }
}

impl Collector for RuleHitCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "sigma_rule_hits",
            "Events (or correlation windows) a Sigma rule matched",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for h in self
            .rules
            .current()
            .hits()
            .into_iter()
            .filter(|h| h.hits > 0)
        {
            let labels = vec![("rule".to_owned(), h.id)];
            ConstCounter::new(h.hits).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

struct QueueCollector {
    queues: Vec<(&'static str, DepthProbe)>,
}

impl std::fmt::Debug for QueueCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names = String::new();
        for (n, _) in &self.queues {
            let _ = write!(names, "{n} ");
        }
        f.debug_struct("QueueCollector")
            .field("queues", &names)
            .finish()
    }
}

impl Collector for QueueCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let values: Vec<_> = self
            .queues
            .iter()
            .map(|(name, probe)| (vec![("stage".to_owned(), (*name).to_owned())], probe()))
            .collect();
        let mut depth = encoder.encode_descriptor(
            "queue_depth",
            "Items waiting in a pipeline stage's input queue",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (labels, (d, _)) in &values {
            ConstGauge::new(i64::try_from(*d).unwrap_or(i64::MAX))
                .encode(depth.encode_family(labels)?)?;
        }
        let mut cap = encoder.encode_descriptor(
            "queue_capacity",
            "Capacity of a pipeline stage's input queue",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (labels, (_, c)) in &values {
            ConstGauge::new(i64::try_from(*c).unwrap_or(i64::MAX))
                .encode(cap.encode_family(labels)?)?;
        }
        Ok(())
    }
}
