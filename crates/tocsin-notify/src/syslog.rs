//! Syslog/CEF forwarding to a SIEM over UDP or TCP.

use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::cef::rfc5424_line;
use crate::config::SyslogTransport;
use crate::message::{Message, Visibility};
use crate::{Notifier, NotifyError};

/// Largest UDP datagram sent; longer lines are cut (at a character boundary) rather than lost.
pub const MAX_UDP_BYTES: usize = 8 * 1024;

/// Sends one RFC 5424 line with a CEF payload per alert: over UDP one datagram, over TCP with
/// octet-counting framing (RFC 6587), one connection per message.
#[derive(Debug)]
pub struct SyslogChannel {
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) transport: SyslogTransport,
    pub(crate) address: String,
    pub(crate) facility: u8,
    pub(crate) hostname: String,
    pub(crate) app_name: String,
    pub(crate) timeout: Duration,
}

impl SyslogChannel {
    fn fail(&self, reason: impl Into<String>) -> NotifyError {
        NotifyError::Failed {
            channel: self.name.clone(),
            reason: reason.into(),
        }
    }

    async fn deliver(&self, line: String) -> Result<(), NotifyError> {
        match self.transport {
            SyslogTransport::Udp => {
                let mut end = line.len().min(MAX_UDP_BYTES);
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                let bind = if self.address.starts_with('[') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let sock = UdpSocket::bind(bind)
                    .await
                    .map_err(|e| self.fail(format!("binding udp socket: {e}")))?;
                sock.send_to(
                    line.as_bytes().get(..end).unwrap_or_default(),
                    &self.address,
                )
                .await
                .map_err(|e| self.fail(format!("sending to {}: {e}", self.address)))?;
            }
            SyslogTransport::Tcp => {
                let mut s = TcpStream::connect(&self.address)
                    .await
                    .map_err(|e| self.fail(format!("connecting to {}: {e}", self.address)))?;
                let frame = format!("{} {line}", line.len());
                s.write_all(frame.as_bytes())
                    .await
                    .map_err(|e| self.fail(format!("writing to {}: {e}", self.address)))?;
                s.shutdown()
                    .await
                    .map_err(|e| self.fail(format!("closing {}: {e}", self.address)))?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Notifier for SyslogChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn visibility(&self) -> Visibility {
        self.visibility
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        let line = rfc5424_line(self.facility, &self.hostname, &self.app_name, m);
        tokio::time::timeout(self.timeout, self.deliver(line))
            .await
            .map_err(|_| self.fail(format!("timed out after {:?}", self.timeout)))?
    }
}
