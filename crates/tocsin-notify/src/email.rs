//! E-mail over SMTP.

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::message::{Message, Visibility};
use crate::{Notifier, NotifyError};

/// Sends the plain-language text of each alert to a fixed list of recipients through one
/// configured SMTP relay.
#[derive(Debug)]
pub struct EmailChannel {
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) transport: AsyncSmtpTransport<Tokio1Executor>,
    pub(crate) from: Mailbox,
    pub(crate) to: Vec<Mailbox>,
    pub(crate) subject_prefix: String,
}

impl EmailChannel {
    fn fail(&self, reason: impl Into<String>) -> NotifyError {
        NotifyError::Failed {
            channel: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// The e-mail for `m`, as it would be sent.
    pub fn compose(&self, m: &Message) -> Result<lettre::Message, NotifyError> {
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(format!("{}{}", self.subject_prefix, m.headline()))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            b = b.to(to.clone());
        }
        if let Some(id) = &m.delivery_id {
            // The same on every attempt, so a mailbox can drop a resend.
            let domain = self.from.email.domain();
            b = b.message_id(Some(format!("<{id}.tocsin@{domain}>")));
        }
        b.body(m.text.clone())
            .map_err(|e| self.fail(format!("composing e-mail: {e}")))
    }
}

#[async_trait]
impl Notifier for EmailChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn visibility(&self) -> Visibility {
        self.visibility
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        let mail = self.compose(m)?;
        self.transport
            .send(mail)
            .await
            .map_err(|e| self.fail(format!("smtp: {e}")))?;
        Ok(())
    }
}
