//! NATS publish of each message as JSON.

use std::time::Duration;

use async_nats::{Client, ConnectOptions, HeaderMap};
use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::message::{Message, Visibility};
use crate::outbound::Secret;
use crate::{Notifier, NotifyError};

/// Publishes the [`Message`] as JSON on one subject, with headers `Tocsin-Alert-Id` and
/// `Nats-Msg-Id` (the outbox row id, also in `Tocsin-Delivery`, or else alert id and count, so
/// JetStream drops a duplicate of the same notification).
/// Connects on first use and only to the configured server: servers the cluster advertises are
/// ignored.
pub struct NatsChannel {
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) url: String,
    pub(crate) subject: String,
    pub(crate) token: Option<Secret>,
    pub(crate) timeout: Duration,
    pub(crate) client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for NatsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsChannel")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("subject", &self.subject)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl NatsChannel {
    fn fail(&self, reason: impl Into<String>) -> NotifyError {
        NotifyError::Failed {
            channel: self.name.clone(),
            reason: reason.into(),
        }
    }

    async fn client(&self) -> Result<Client, NotifyError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let mut opts = ConnectOptions::new()
            .name("tocsin")
            .connection_timeout(self.timeout)
            .ignore_discovered_servers();
        if let Some(t) = &self.token {
            opts = opts.token(t.expose().to_string());
        }
        let c = tokio::time::timeout(self.timeout, opts.connect(self.url.as_str()))
            .await
            .map_err(|_| self.fail(format!("connecting timed out after {:?}", self.timeout)))?
            .map_err(|e| self.fail(format!("connecting: {e}")))?;
        *slot = Some(c.clone());
        Ok(c)
    }
}

#[async_trait]
impl Notifier for NatsChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn visibility(&self) -> Visibility {
        self.visibility
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(m).map_err(|e| self.fail(format!("encoding: {e}")))?;
        let client = self.client().await?;
        let mut headers = HeaderMap::new();
        headers.insert("Tocsin-Alert-Id", m.alert_id.as_str());
        // JetStream drops a message whose id it has seen: the outbox row id when there is one,
        // so that a resend after a crash is dropped too.
        match &m.delivery_id {
            Some(id) => {
                headers.insert("Tocsin-Delivery", id.as_str());
                headers.insert("Nats-Msg-Id", id.as_str());
            }
            None => headers.insert(
                "Nats-Msg-Id",
                format!("{}-{}", m.alert_id, m.count).as_str(),
            ),
        }
        let publish = async {
            client
                .publish_with_headers(self.subject.clone(), headers, body.into())
                .await
                .map_err(|e| self.fail(format!("publish: {e}")))?;
            // Publishing only queues the message; flushing is what says the server has it.
            client
                .flush()
                .await
                .map_err(|e| self.fail(format!("flush: {e}")))
        };
        tokio::time::timeout(self.timeout, publish)
            .await
            .map_err(|_| self.fail(format!("publish timed out after {:?}", self.timeout)))?
    }
}

/// A subject is dot-separated tokens without spaces or wildcards.
pub(crate) fn valid_subject(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|t| {
            !t.is_empty() && !t.contains(|c: char| c.is_whitespace() || c == '*' || c == '>')
        })
}
