//! The in-process pipeline: ingest → enrich → (store ‖ detect) → alert.
//!
//! Each stage is one task reading one bounded queue. When a downstream queue is full the stage
//! waits, so back-pressure reaches the ingest queue, where HTTP ingest answers 429 and network
//! sources count drops. Nothing between the ingest queue and the store is ever dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use tocsin_api::Metrics;
use tocsin_bus::{LiveBus, LiveMessage};
use tocsin_detect::{Detection, Detector};
use tocsin_incidents::{GroupingConfig, Incident};
use tocsin_model::{Alert, AlertStatus, Clock, DeadLetter, Event};
use tocsin_notify::Notifier;
use tocsin_store::{Store, StoreError};
use tokio::sync::{mpsc, watch};
use ulid::Ulid;

/// Most evidence ids an alert keeps as repeats fold into it.
const MAX_ALERT_EVIDENCE: usize = 100;

pub use tocsin_model::{Enricher, NoEnrichment};

/// How far the pipeline has got, for `tocsin ingest` to wait on without polling a clock.
#[derive(Debug, Default)]
pub struct Progress {
    stored: AtomicU64,
    detected: AtomicU64,
    dead_letters: AtomicU64,
    alerts_queued: AtomicU64,
    alerts_written: AtomicU64,
    notify: Option<watch::Sender<()>>,
}

impl Progress {
    pub fn new() -> (Arc<Self>, watch::Receiver<()>) {
        let (tx, rx) = watch::channel(());
        (
            Arc::new(Self {
                notify: Some(tx),
                ..Self::default()
            }),
            rx,
        )
    }

    /// Events written to the store (or given up on after retries).
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Acquire)
    }

    /// Events that went through detection and whose detections were handled.
    pub fn detected(&self) -> u64 {
        self.detected.load(Ordering::Acquire)
    }

    /// Dead letters written (or given up on after retries).
    pub fn dead_letters(&self) -> u64 {
        self.dead_letters.load(Ordering::Acquire)
    }

    fn add_dead_letter(&self) {
        self.dead_letters.fetch_add(1, Ordering::AcqRel);
        self.ping();
    }

    /// Whether every alert raised so far has been persisted and notified.
    pub fn alerts_settled(&self) -> bool {
        self.alerts_written.load(Ordering::Acquire) >= self.alerts_queued.load(Ordering::Acquire)
    }

    fn add_alert_queued(&self) {
        self.alerts_queued.fetch_add(1, Ordering::AcqRel);
    }

    fn add_alert_written(&self) {
        self.alerts_written.fetch_add(1, Ordering::AcqRel);
        self.ping();
    }

    fn add_stored(&self, n: u64) {
        self.stored.fetch_add(n, Ordering::AcqRel);
        self.ping();
    }

    fn add_detected(&self, n: u64) {
        self.detected.fetch_add(n, Ordering::AcqRel);
        self.ping();
    }

    fn ping(&self) {
        if let Some(tx) = &self.notify {
            tx.send_replace(());
        }
    }
}

fn seconds(d: Duration) -> f64 {
    d.num_microseconds()
        .map_or(d.num_seconds() as f64, |us| us as f64 / 1e6)
        .max(0.0)
}

/// Stage 1: enrich each event, then hand it to the store and detection queues.
pub async fn enrich_stage(
    mut input: mpsc::Receiver<Event>,
    enricher: Arc<dyn Enricher>,
    to_store: mpsc::Sender<Event>,
    to_detect: mpsc::Sender<Event>,
    metrics: Arc<Metrics>,
) {
    while let Some(mut event) = input.recv().await {
        enricher.enrich(&mut event);
        metrics.ingest_lag.observe(seconds(event.ingest_lag()));
        if to_detect.send(event.clone()).await.is_err() || to_store.send(event).await.is_err() {
            break;
        }
    }
}

/// Stage 2a: write events in batches. A failed batch is retried; after the last try its events
/// are logged and counted as store errors (the store is down: there is nowhere left to keep them).
pub async fn store_stage(
    mut input: mpsc::Receiver<Event>,
    store: Arc<dyn Store>,
    batch: usize,
    metrics: Arc<Metrics>,
    progress: Arc<Progress>,
) {
    let mut buf = Vec::with_capacity(batch);
    loop {
        buf.clear();
        if input.recv_many(&mut buf, batch).await == 0 {
            break;
        }
        let mut delay = std::time::Duration::from_millis(50);
        let mut written = false;
        for attempt in 1..=5 {
            match store.insert_events(&buf).await {
                Ok(_) => {
                    written = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, events = buf.len(), "store write failed");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        let n = buf.len() as u64;
        if written {
            metrics.events_stored.inc_by(n);
        } else {
            metrics.store_errors.inc_by(n);
            tracing::error!(events = n, "events could not be stored after 5 tries");
        }
        progress.add_stored(n);
    }
}

/// Stage 2b: run every detector on each event and raise or fold alerts.
pub struct DetectStage {
    pub detectors: Vec<Box<dyn Detector>>,
    pub alerts: AlertStage,
    pub metrics: Arc<Metrics>,
    pub progress: Arc<Progress>,
}

impl DetectStage {
    pub async fn run(mut self, mut input: mpsc::Receiver<Event>) {
        let mut out = Vec::new();
        while let Some(event) = input.recv().await {
            out.clear();
            for d in &mut self.detectors {
                d.on_event(&event, &mut out);
            }
            for detection in out.drain(..) {
                self.alerts.handle(detection).await;
            }
            let now = self.alerts.clock.now();
            self.metrics
                .pipeline_latency
                .observe(seconds(now - event.ingested));
            let mut open = 0;
            let mut late = 0;
            let mut evicted = 0;
            for d in &self.detectors {
                let s = d.stats();
                open += s.open_groups;
                late += s.late;
                evicted += s.evicted;
            }
            self.metrics
                .detector_open_groups
                .set(i64::try_from(open).unwrap_or(i64::MAX));
            self.metrics
                .detector_late_events
                .set(i64::try_from(late).unwrap_or(i64::MAX));
            self.metrics
                .detector_evicted_groups
                .set(i64::try_from(evicted).unwrap_or(i64::MAX));
            self.progress.add_detected(1);
        }
    }
}

/// Most open alerts the alert stage keeps for deduplication; past that, expired ones are swept and
/// then the stalest is forgotten (a later repeat of it raises a new alert).
pub const MAX_OPEN_ALERTS: usize = 20_000;

/// Turns detections into alerts: a new alert, or a repeat folded into the open alert with the
/// same key (count and last_seen updated, no new notification).
///
/// The open alerts of the dedup windows are held here, in memory, so that detection never waits
/// on the store: the alert goes out on the live bus at once, and is persisted and notified by the
/// [`alert_writer`] task behind a bounded queue.
pub struct AlertStage {
    pub live: LiveBus,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub writer: mpsc::Sender<(Arc<Alert>, bool)>,
    pub progress: Arc<Progress>,
    /// Open alerts by tenant and dedup key, with their window.
    pub open: HashMap<String, (Alert, Duration)>,
}

impl AlertStage {
    pub fn new(
        live: LiveBus,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
        writer: mpsc::Sender<(Arc<Alert>, bool)>,
        progress: Arc<Progress>,
    ) -> Self {
        Self {
            live,
            metrics,
            clock,
            writer,
            progress,
            open: HashMap::new(),
        }
    }

    pub async fn handle(&mut self, d: Detection) {
        let window = Duration::seconds(i64::try_from(d.dedup_window_secs).unwrap_or(i64::MAX / 2));
        let key = if d.dedup_key.starts_with(d.detector) {
            d.dedup_key.clone()
        } else {
            format!("{}:{}", d.detector, d.dedup_key)
        };
        let slot = format!("{}\u{1f}{}", d.tenant, key);
        let detector_label = Metrics::label("detector", d.detector);
        let since: DateTime<Utc> = d.time.checked_sub_signed(window).unwrap_or(d.time);
        let repeat = match self.open.get_mut(&slot) {
            Some((a, _)) if a.status != AlertStatus::Closed && a.last_seen >= since => {
                a.count += 1;
                a.last_seen = a.last_seen.max(d.time);
                for id in &d.evidence {
                    if a.evidence.len() >= MAX_ALERT_EVIDENCE {
                        break;
                    }
                    if !a.evidence.contains(id) {
                        a.evidence.push(*id);
                    }
                }
                a.severity = a.severity.max(d.severity);
                self.metrics
                    .alert_repeats
                    .get_or_create(&detector_label)
                    .inc();
                true
            }
            _ => {
                let detected = self.clock.now();
                self.metrics
                    .time_to_detect
                    .observe(seconds(detected - d.time));
                self.metrics.alerts.get_or_create(&detector_label).inc();
                let alert = Alert {
                    id: Ulid::new(),
                    tenant: d.tenant,
                    detector: d.detector.to_owned(),
                    rule: d.rule,
                    domain: d.domain,
                    severity: d.severity,
                    title: d.title,
                    summary: d.summary,
                    status: AlertStatus::Open,
                    time: d.time,
                    ingested: d.ingested,
                    detected,
                    last_seen: d.time,
                    count: 1,
                    dedup_key: key,
                    evidence: d.evidence,
                    entities: d.entities,
                    geo: d.geo,
                    site_id: d.site_id,
                    notified: None,
                    acknowledged: None,
                };
                if self.open.len() >= MAX_OPEN_ALERTS {
                    self.sweep(d.time);
                }
                self.open.insert(slot.clone(), (alert, window));
                false
            }
        };
        let Some((alert, _)) = self.open.get(&slot) else {
            return;
        };
        let alert = Arc::new(alert.clone());
        self.live.publish(if repeat {
            LiveMessage::AlertUpdated(alert.clone())
        } else {
            LiveMessage::AlertNew(alert.clone())
        });
        self.progress.add_alert_queued();
        if self.writer.send((alert, repeat)).await.is_err() {
            tracing::error!("alert writer has stopped");
        }
    }

    /// Forgets alerts whose window has passed; if none has, the stalest one.
    fn sweep(&mut self, now: DateTime<Utc>) {
        self.open
            .retain(|_, (a, window)| a.last_seen + *window >= now);
        if self.open.len() >= MAX_OPEN_ALERTS {
            let stalest = self
                .open
                .iter()
                .min_by_key(|(_, (a, _))| a.last_seen)
                .map(|(k, _)| k.clone());
            if let Some(k) = stalest {
                self.open.remove(&k);
            }
        }
    }
}

/// How new alerts become incidents: the grouping, the checklists per incident type, and where
/// incident changes are announced.
#[derive(Debug, Clone)]
pub struct IncidentSettings {
    pub grouping: GroupingConfig,
    pub checklists: tocsin_incidents::Checklists,
    pub live: LiveBus,
}

/// Persists alerts, puts new ones into incidents and hands them to the notifiers, in the order
/// they were raised.
pub async fn alert_writer(
    mut input: mpsc::Receiver<(Arc<Alert>, bool)>,
    store: Arc<dyn Store>,
    notifiers: Vec<Arc<dyn Notifier>>,
    progress: Arc<Progress>,
    delivery: Option<Arc<crate::delivery::Notifier>>,
    incidents: Arc<IncidentSettings>,
) {
    while let Some((mut alert, repeat)) = input.recv().await {
        if repeat {
            // A responder may have acknowledged or closed the alert since the alert stage last
            // saw it: a repeat updates the count and evidence, never the status people set, nor
            // the notified and acknowledged times.
            if let Ok(Some(stored)) = store.get_alert(&alert.tenant, alert.id).await
                && (stored.status != alert.status
                    || stored.notified != alert.notified
                    || stored.acknowledged != alert.acknowledged)
            {
                let a = Arc::make_mut(&mut alert);
                a.status = stored.status;
                a.notified = stored.notified;
                a.acknowledged = stored.acknowledged;
            }
        }
        let mut delay = std::time::Duration::from_millis(50);
        for attempt in 1..=5 {
            match store.upsert_alert(&alert).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, alert = %alert.id, "alert write failed");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        if !repeat {
            let incident =
                group_into_incident(store.as_ref(), &alert, &incidents, Utc::now()).await;
            // Repeats never notify again; a new alert is planned once, all steps at once.
            if let Some(d) = &delivery {
                let mut delay = std::time::Duration::from_millis(50);
                for attempt in 1..=5 {
                    match d.enqueue(store.as_ref(), &alert, incident).await {
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, attempt, alert = %alert.id, "enqueueing notifications failed");
                            tokio::time::sleep(delay).await;
                            delay *= 2;
                        }
                    }
                }
            }
        }
        for n in &notifiers {
            if let Err(e) = n.notify(&alert, repeat).await {
                tracing::warn!(error = %e, channel = n.name(), "notification failed");
            }
        }
        progress.add_alert_written();
    }
}

/// The grouping hook: a newly persisted alert joins the open incident with its grouping key
/// inside the window, or opens a new one, with the checklist steps its type calls for. The
/// change is announced on the live bus. Failures are logged; the alert itself is already safe.
pub async fn group_into_incident(
    store: &dyn Store,
    alert: &Alert,
    settings: &IncidentSettings,
    now: DateTime<Utc>,
) -> Option<Ulid> {
    let cfg = &settings.grouping;
    let key = tocsin_incidents::group_key(alert, cfg);
    let since = alert
        .time
        .checked_sub_signed(cfg.window())
        .unwrap_or(alert.time);
    // A responder may write the incident between our read and our write; the store refuses the
    // stale write and the alert is joined again to a fresh read.
    for _ in 0..5 {
        let found = match store.find_open_incident(&alert.tenant, &key, since).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, alert = %alert.id, "incident lookup failed");
                return None;
            }
        };
        let (mut incident, new) = match found {
            Some(mut inc) if inc.accepts(alert, cfg.window()) => {
                inc.add_alert(alert, now);
                (inc, false)
            }
            _ => (Incident::open(Ulid::new(), alert, key.clone(), now), true),
        };
        incident.add_checklist(settings.checklists.for_alerts([alert]));
        match store
            .upsert_incidents(std::slice::from_ref(&incident))
            .await
        {
            Ok(()) => {
                incident.revision += 1;
                let id = incident.id;
                let inc = Arc::new(incident);
                settings.live.publish(if new {
                    LiveMessage::IncidentNew(inc)
                } else {
                    LiveMessage::IncidentUpdated(inc)
                });
                return Some(id);
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => {
                tracing::warn!(error = %e, alert = %alert.id, "incident write failed");
                return None;
            }
        }
    }
    tracing::warn!(alert = %alert.id, "incident kept changing; alert left ungrouped");
    None
}

/// Writes dead letters; they are never dropped (the queue pushes back instead).
pub async fn dead_letter_stage(
    mut input: mpsc::Receiver<DeadLetter>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    progress: Arc<Progress>,
) {
    while let Some(d) = input.recv().await {
        metrics
            .dead_letters
            .get_or_create(&Metrics::label("source", &d.source))
            .inc();
        let mut delay = std::time::Duration::from_millis(50);
        for attempt in 1..=5 {
            match store.insert_dead_letter(&d).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, source = %d.source, "dead letter write failed");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        progress.add_dead_letter();
    }
}

/// Purges events whose event time is older than the retention, once an hour.
pub async fn retention_task(
    store: Arc<dyn Store>,
    days: u32,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    if days == 0 {
        return;
    }
    // The first purge runs an hour after start, not at once: a restart should not race the
    // events a user is importing or replaying at that moment.
    let hour = std::time::Duration::from_secs(3600);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + hour, hour);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let cutoff = clock.now() - Duration::days(i64::from(days));
        match store.purge_events_before(cutoff).await {
            Ok(n) => {
                metrics.retention_purged.inc_by(n);
                if n > 0 {
                    tracing::info!(purged = n, %cutoff, "retention purge");
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention purge failed"),
        }
    }
}
