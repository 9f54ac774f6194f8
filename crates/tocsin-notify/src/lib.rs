//! Notification channels behind one trait.
//!
//! The alert stage hands each new alert to every configured [`Notifier`]. Routing, escalation and
//! the durable outbox build on this trait; the channels here are the ones a single node needs
//! from the start: the structured log (for a log shipper or a terminal).

use async_trait::async_trait;
use tocsin_model::Alert;

/// Why a notification could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("channel {channel}: {reason}")]
    Failed { channel: String, reason: String },
}

/// One way of telling people about an alert.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// The channel's configured name.
    fn name(&self) -> &str;
    /// Delivers one alert. `repeat` is true when the alert is a repeat folded into an open one.
    async fn notify(&self, alert: &Alert, repeat: bool) -> Result<(), NotifyError>;
}

/// Writes one structured log line per new alert at `WARN` level, with its id, detector, rule,
/// severity and title. Repeats are logged at `DEBUG` so that a noisy rule does not flood the log.
#[derive(Debug, Clone)]
pub struct LogNotifier {
    name: String,
}

impl LogNotifier {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

#[async_trait]
impl Notifier for LogNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    async fn notify(&self, alert: &Alert, repeat: bool) -> Result<(), NotifyError> {
        if repeat {
            tracing::debug!(alert = %alert.id, count = alert.count, title = %alert.title, "alert repeated");
        } else {
            tracing::warn!(
                alert = %alert.id,
                tenant = %alert.tenant,
                detector = %alert.detector,
                rule = alert.rule.as_deref().unwrap_or("-"),
                severity = alert.severity.name(),
                title = %alert.title,
                "alert"
            );
        }
        Ok(())
    }
}
