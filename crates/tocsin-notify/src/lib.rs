//! Notification channels behind one trait.
//!
//! The alert stage hands each new alert to every configured [`Notifier`]. A notifier turns the
//! alert into a [`Message`] redacted for its [`Visibility`] level, then formats and delivers it:
//! the structured log, a signed JSON webhook, Slack/Mattermost/Teams chat webhooks, PagerDuty
//! Events v2, e-mail over SMTP, syslog/CEF to a SIEM over UDP or TCP, CAP 1.2 and NATS. Channels are
//! built from [`ChannelConfig`] by [`build`]; each reaches only the destination configured for
//! it. [`RateLimited`] and [`ChannelGroup`] (failover) wrap any notifier.

use async_trait::async_trait;
use tocsin_model::Alert;

mod cef;
mod config;
mod email;
mod http;
mod limit;
mod message;
mod nats;
mod outbound;
mod syslog;

pub use cef::{cef_line, rfc5424_line};
pub use config::{
    CapConfig, ChannelConfig, ChatConfig, EmailConfig, EmailTls, LogConfig, NatsConfig,
    PagerDutyConfig, RateLimitConfig, SyslogConfig, SyslogTransport, WebhookConfig, build,
    build_with_env, validate_all,
};
pub use email::EmailChannel;
pub use http::{
    CapChannel, ChatChannel, ChatFormat, DELIVERY_HEADER, PagerDutyChannel, WebhookChannel,
    cap_xml, chat_body, pagerduty_body, sign,
};
pub use limit::{ChannelGroup, RateLimited, TokenBucket};
pub use message::{Message, REDACTED, Visibility};
pub use nats::NatsChannel;
pub use outbound::{MAX_RESPONSE_BYTES, Outbound, Secret};
pub use syslog::SyslogChannel;

/// Why a notification could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("channel {channel}: {reason}")]
    Failed { channel: String, reason: String },
    #[error("channel {channel}: rate limit reached, next token in {retry_after_ms} ms")]
    RateLimited {
        channel: String,
        retry_after_ms: u64,
    },
    #[error("group {group}: every channel failed: {}", .errors.join("; "))]
    AllFailed { group: String, errors: Vec<String> },
}

/// Why a channel could not be built from its config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("channel {name:?}: {reason}")]
    Invalid { name: String, reason: String },
    #[error(
        "channel {name:?}: environment variable {var:?} named by `{field}` is not set or is empty"
    )]
    Env {
        name: String,
        field: String,
        var: String,
    },
}

/// One way of telling people about an alert.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// The channel's configured name.
    fn name(&self) -> &str;
    /// What this channel's audience may see when it is handed a raw alert.
    fn visibility(&self) -> Visibility {
        Visibility::Full
    }
    /// Delivers a message already redacted for its audience.
    async fn send(&self, message: &Message) -> Result<(), NotifyError>;
    /// Delivers one alert. `repeat` is true when the alert is a repeat folded into an open one.
    async fn notify(&self, alert: &Alert, repeat: bool) -> Result<(), NotifyError> {
        self.send(&Message::from_alert(alert, self.visibility(), repeat))
            .await
    }
}

/// Writes one structured log line per new alert at `WARN` level, with its id, detector, rule,
/// severity and title. Repeats are logged at `DEBUG` so that a noisy rule does not flood the log.
#[derive(Debug, Clone)]
pub struct LogNotifier {
    name: String,
    visibility: Visibility,
}

impl LogNotifier {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            visibility: Visibility::Full,
        }
    }

    pub fn with_visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = visibility;
        self
    }
}

#[async_trait]
impl Notifier for LogNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn visibility(&self) -> Visibility {
        self.visibility
    }

    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        if m.repeat {
            tracing::debug!(alert = %m.alert_id, count = m.count, title = %m.title, "alert repeated");
        } else {
            tracing::warn!(
                alert = %m.alert_id,
                tenant = %m.tenant,
                detector = %m.detector,
                rule = m.rule.as_deref().unwrap_or("-"),
                severity = %m.severity_name,
                title = %m.title,
                "alert"
            );
        }
        Ok(())
    }
}
