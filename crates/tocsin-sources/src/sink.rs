use std::sync::Arc;

use chrono::{DateTime, Utc};
use tocsin_model::{Clock, DeadLetter, Event};
use tokio::sync::mpsc;

/// The pipeline is gone (shutting down): nothing more can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline input is closed")]
pub struct Closed;

/// Where sources hand their output: the pipeline's bounded input queue and the dead-letter queue.
///
/// What happens when the queue is full is the caller's choice: socket sources use
/// [`Sink::try_send`] and count a drop, HTTP ingest reserves a whole batch or answers 429, and file
/// ingest waits with [`Sink::send`].
#[derive(Debug, Clone)]
pub struct Sink {
    events: mpsc::Sender<Event>,
    dead: mpsc::Sender<DeadLetter>,
    clock: Arc<dyn Clock>,
}

impl Sink {
    pub fn new(
        events: mpsc::Sender<Event>,
        dead: mpsc::Sender<DeadLetter>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            events,
            dead,
            clock,
        }
    }

    /// Receive time for what is ingested now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Free event slots right now.
    pub fn capacity(&self) -> usize {
        self.events.capacity()
    }

    /// The size of the event queue: no batch larger than this can ever be taken at once.
    pub fn max_capacity(&self) -> usize {
        self.events.max_capacity()
    }

    /// The size of the dead-letter queue.
    pub fn dead_letter_max_capacity(&self) -> usize {
        self.dead.max_capacity()
    }

    /// Sends without waiting; a full (or closed) queue gives the event back so the caller can
    /// count the drop.
    #[allow(
        clippy::result_large_err,
        reason = "the event is handed back unboxed, as mpsc does, so a drop costs no allocation"
    )]
    pub fn try_send(&self, e: Event) -> Result<(), Event> {
        self.events.try_send(e).map_err(|err| match err {
            mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => e,
        })
    }

    /// Reserves `n` event slots at once, or none: `None` when the queue cannot take all `n` now.
    pub fn try_reserve_many(&self, n: usize) -> Option<Vec<mpsc::Permit<'_, Event>>> {
        if n == 0 {
            return Some(Vec::new());
        }
        self.events.try_reserve_many(n).ok().map(Iterator::collect)
    }

    /// Reserves `n` dead-letter slots at once, or none.
    pub fn try_reserve_dead_letters(&self, n: usize) -> Option<Vec<mpsc::Permit<'_, DeadLetter>>> {
        if n == 0 {
            return Some(Vec::new());
        }
        self.dead.try_reserve_many(n).ok().map(Iterator::collect)
    }

    /// Sends, waiting for room (back-pressure).
    pub async fn send(&self, e: Event) -> Result<(), Closed> {
        self.events.send(e).await.map_err(|_| Closed)
    }

    /// Writes a dead letter, waiting for room. If the pipeline is already closed the record is
    /// logged, so that it still does not disappear without a trace.
    pub async fn dead_letter(&self, d: DeadLetter) {
        if let Err(mpsc::error::SendError(d)) = self.dead.send(d).await {
            log_lost_dead_letter(&d, "the dead-letter queue is closed");
        }
    }

    /// Writes a dead letter without waiting; a full (or closed) queue gives it back.
    #[allow(
        clippy::result_large_err,
        reason = "the dead letter is handed back unboxed, as mpsc does"
    )]
    pub fn try_dead_letter(&self, d: DeadLetter) -> Result<(), DeadLetter> {
        self.dead.try_send(d).map_err(|err| match err {
            mpsc::error::TrySendError::Full(d) | mpsc::error::TrySendError::Closed(d) => d,
        })
    }
}

pub(crate) fn log_lost_dead_letter(d: &DeadLetter, why: &str) {
    tracing::error!(
        source = %d.source,
        tenant = %d.tenant,
        line = ?d.line,
        reason = %d.reason,
        "dead letter lost: {why}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_model::FakeClock;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(FakeClock::new("2026-05-04T02:13:08Z".parse().unwrap()))
    }

    #[test]
    fn reservation_is_all_or_nothing() {
        let (tx, _rx) = mpsc::channel(3);
        let (dtx, _drx) = mpsc::channel(3);
        let sink = Sink::new(tx, dtx, clock());
        assert_eq!(sink.capacity(), 3);
        assert!(sink.try_reserve_many(4).is_none());
        let held = sink.try_reserve_many(2).unwrap();
        assert_eq!(held.len(), 2);
        assert_eq!(sink.capacity(), 1);
        assert!(sink.try_reserve_many(2).is_none());
        drop(held);
        assert_eq!(sink.capacity(), 3);
        assert_eq!(sink.try_reserve_many(0).unwrap().len(), 0);
    }
}
