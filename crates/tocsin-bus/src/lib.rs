//! The event bus: how the parts of Tocsin talk.
//!
//! In one process the pipeline stages are joined by bounded [`Queue`]s and live subscribers (the
//! dashboard's stream, notifiers) hear [`LiveMessage`]s from a [`LiveBus`]. Every channel here is
//! bounded and says what happens when it is full:
//! - a [`Queue`] pushes back: senders wait or, with `try_send`, get the item back to count a drop;
//! - the [`LiveBus`] never blocks the pipeline: a subscriber that falls behind misses the oldest
//!   messages and is told how many (`Lagged`), which it reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tocsin_incidents::Incident;
use tocsin_model::Alert;
use tokio::sync::{broadcast, mpsc};

/// A bounded queue between two pipeline stages, with its depth observable for metrics.
#[derive(Debug)]
pub struct Queue<T> {
    name: &'static str,
    tx: mpsc::Sender<T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            tx: self.tx.clone(),
        }
    }
}

impl<T> Queue<T> {
    /// A queue holding at most `capacity` items, and its receiving end.
    pub fn bounded(name: &'static str, capacity: usize) -> (Self, mpsc::Receiver<T>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { name, tx }, rx)
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn sender(&self) -> &mpsc::Sender<T> {
        &self.tx
    }

    /// Items waiting right now.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }
}

/// What live subscribers hear.
#[derive(Debug, Clone)]
pub enum LiveMessage {
    /// A new alert was raised.
    AlertNew(Arc<Alert>),
    /// An existing alert changed (a repeat folded into it, an acknowledgement).
    AlertUpdated(Arc<Alert>),
    /// An incident was opened.
    IncidentNew(Arc<Incident>),
    /// An incident changed (an alert joined, a state change, a note, an assignment, a review).
    IncidentUpdated(Arc<Incident>),
}

impl LiveMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            LiveMessage::AlertNew(_) => "alert.new",
            LiveMessage::AlertUpdated(_) => "alert.updated",
            LiveMessage::IncidentNew(_) => "incident.new",
            LiveMessage::IncidentUpdated(_) => "incident.updated",
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            LiveMessage::AlertNew(a) | LiveMessage::AlertUpdated(a) => &a.tenant,
            LiveMessage::IncidentNew(i) | LiveMessage::IncidentUpdated(i) => &i.tenant,
        }
    }
}

/// Fan-out of live messages to any number of subscribers, bounded per subscriber.
#[derive(Debug, Clone)]
pub struct LiveBus {
    tx: broadcast::Sender<LiveMessage>,
    published: Arc<AtomicU64>,
}

impl LiveBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self {
            tx,
            published: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Publishes to whoever listens now; with no subscriber the message is simply not heard.
    pub fn publish(&self, msg: LiveMessage) {
        self.published.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(msg);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveMessage> {
        self.tx.subscribe()
    }

    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queue_depth_follows_items_waiting() {
        let (q, mut rx) = Queue::<u32>::bounded("test", 4);
        assert_eq!(q.depth(), 0);
        q.sender().try_send(1).unwrap();
        q.sender().try_send(2).unwrap();
        assert_eq!(q.depth(), 2);
        rx.recv().await.unwrap();
        assert_eq!(q.depth(), 1);
        for i in 0..3 {
            q.sender().try_send(i).unwrap();
        }
        assert!(q.sender().try_send(9).is_err(), "a full queue refuses");
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_how_much_it_missed() {
        let bus = LiveBus::new(2);
        let mut rx = bus.subscribe();
        let alert = Arc::new(sample_alert());
        for _ in 0..5 {
            bus.publish(LiveMessage::AlertNew(alert.clone()));
        }
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 3),
            other => panic!("expected a lag report, got {other:?}"),
        }
        assert_eq!(bus.published(), 5);
    }

    fn sample_alert() -> Alert {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        Alert {
            id: ulid::Ulid::nil(),
            tenant: "default".into(),
            detector: "rule".into(),
            rule: None,
            domain: tocsin_model::Domain::Cyber,
            severity: tocsin_model::Severity::HIGH,
            title: "t".into(),
            summary: "s".into(),
            status: Default::default(),
            time: t,
            ingested: t,
            detected: t,
            last_seen: t,
            count: 1,
            dedup_key: "k".into(),
            evidence: vec![],
            entities: Default::default(),
            geo: None,
            site_id: None,
            notified: None,
            acknowledged: None,
        }
    }
}
