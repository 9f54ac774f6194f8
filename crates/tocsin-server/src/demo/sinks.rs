//! The demo's own notification receivers: a webhook receiver and a small SMTP listener, both on
//! 127.0.0.1 ephemeral ports inside the demo process, so that `tocsin demo` delivers through the
//! same channels (webhook, e-mail over SMTP) a deployment uses, with nothing leaving the machine.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::config::{Config, NotifyConfig};

/// The demo's routing tree (`routes.yaml`).
pub const DEMO_ROUTES: &str = include_str!("routes.yaml");
/// The demo's channels, with `{webhook}` and `{smtp_port}` to fill in.
pub const DEMO_CHANNELS: &str = include_str!("channels.toml");

/// Messages each receiver keeps (the newest).
const KEEP: usize = 200;
/// Longest SMTP line and message, and webhook body, accepted.
const MAX_LINE: usize = 8 * 1024;
const MAX_MESSAGE: usize = 1024 * 1024;

/// What the demo receivers got, newest last.
#[derive(Debug, Default)]
pub struct Inbox {
    /// `(path, idempotency key, body)` of each webhook post.
    pub webhooks: Mutex<VecDeque<(String, String, Value)>>,
    /// `(recipients, raw message)` of each e-mail.
    pub mails: Mutex<VecDeque<(Vec<String>, String)>>,
}

fn keep<T>(q: &Mutex<VecDeque<T>>, item: T) {
    let mut q = q.lock().unwrap_or_else(|e| e.into_inner());
    if q.len() >= KEEP {
        q.pop_front();
    }
    q.push_back(item);
}

/// The running receivers.
#[derive(Debug, Clone)]
pub struct DemoSinks {
    /// The webhook receiver (`http://<addr>/<path>`).
    pub webhook: SocketAddr,
    /// The SMTP listener.
    pub smtp: SocketAddr,
    /// What they received.
    pub inbox: Arc<Inbox>,
}

impl DemoSinks {
    /// Starts both receivers, writes the demo's `routes.yaml` and `channels.toml` (pointing at
    /// them) to `<data_dir>/notify/`, and turns on `[notify]` in `config` with them.
    pub async fn start(config: &mut Config, data_dir: &Path) -> std::io::Result<DemoSinks> {
        let web = TcpListener::bind("127.0.0.1:0").await?;
        let smtp = TcpListener::bind("127.0.0.1:0").await?;
        let sinks = DemoSinks {
            webhook: web.local_addr()?,
            smtp: smtp.local_addr()?,
            inbox: Arc::new(Inbox::default()),
        };
        tokio::spawn(serve_webhooks(web, sinks.inbox.clone()));
        tokio::spawn(serve_smtp(smtp, sinks.inbox.clone()));
        let dir = data_dir.join("notify");
        std::fs::create_dir_all(&dir)?;
        let (routes, channels) = (dir.join("routes.yaml"), dir.join("channels.toml"));
        std::fs::write(&routes, DEMO_ROUTES)?;
        std::fs::write(&channels, demo_channels(sinks.webhook, sinks.smtp))?;
        config.notify = Some(NotifyConfig {
            routes,
            channels,
            ..NotifyConfig::default()
        });
        Ok(sinks)
    }
}

/// The demo channels pointing at the given receivers.
pub fn demo_channels(webhook: SocketAddr, smtp: SocketAddr) -> String {
    DEMO_CHANNELS
        .replace("{webhook}", &webhook.to_string())
        .replace("{smtp_port}", &smtp.port().to_string())
}

async fn serve_webhooks(listener: TcpListener, inbox: Arc<Inbox>) {
    while let Ok((stream, _)) = listener.accept().await {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            if let Err(e) = webhook_conn(stream, &inbox).await {
                tracing::debug!(error = %e, "demo webhook receiver: connection ended");
            }
        });
    }
}

/// Reads one line, refusing lines longer than [`MAX_LINE`].
async fn line(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if n > MAX_LINE {
        return Err(std::io::Error::other("line too long"));
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// One HTTP/1.1 request per connection, answered `200` and closed.
async fn webhook_conn(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    let Some(request) = line(&mut r).await? else {
        return Ok(());
    };
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (mut length, mut key) = (0usize, String::new());
    while let Some(h) = line(&mut r).await? {
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(usize::MAX),
                "x-tocsin-delivery" => key = v.trim().to_owned(),
                _ => {}
            }
        }
    }
    if length > MAX_MESSAGE {
        r.get_mut()
            .write_all(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return Ok(());
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).await?;
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    tracing::info!(path = %path, delivery = %key, "demo webhook receiver got a notification");
    keep(&inbox.webhooks, (path, key, value));
    r.get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
}

async fn serve_smtp(listener: TcpListener, inbox: Arc<Inbox>) {
    while let Ok((stream, _)) = listener.accept().await {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            if let Err(e) = smtp_conn(stream, &inbox).await {
                tracing::debug!(error = %e, "demo SMTP listener: connection ended");
            }
        });
    }
}

/// Enough of SMTP (RFC 5321) to take plain-text mail from a client: greeting, EHLO/HELO, MAIL,
/// RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT.
async fn smtp_conn(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    r.get_mut()
        .write_all(b"220 tocsin-demo ESMTP ready\r\n")
        .await?;
    let mut rcpt = Vec::new();
    while let Some(cmd) = line(&mut r).await? {
        let verb = cmd.get(..4).unwrap_or(&cmd).to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-tocsin-demo\r\n250-8BITMIME\r\n250 SIZE 1048576\r\n",
            "HELO" => b"250 tocsin-demo\r\n",
            "MAIL" => {
                rcpt.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let to = cmd.split_once(':').map_or("", |(_, t)| t).trim();
                rcpt.push(to.trim_matches(['<', '>', ' ']).to_owned());
                b"250 OK\r\n"
            }
            "DATA" => {
                r.get_mut()
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut message = String::new();
                loop {
                    let Some(l) = line(&mut r).await? else {
                        return Ok(());
                    };
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    if message.len() + l.len() > MAX_MESSAGE {
                        return Err(std::io::Error::other("message too large"));
                    }
                    message.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                tracing::info!(to = ?rcpt, "demo SMTP listener got a notification");
                keep(&inbox.mails, (std::mem::take(&mut rcpt), message));
                b"250 OK queued\r\n"
            }
            "RSET" => {
                rcpt.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                r.get_mut().write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        r.get_mut().write_all(reply).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_model::{Alert, AlertStatus, Domain, Severity, SystemClock};
    use tocsin_notify::{Message, Visibility};

    fn alert() -> Alert {
        let t = "2026-05-04T02:13:07Z".parse().unwrap();
        Alert {
            id: ulid::Ulid::new(),
            tenant: "default".into(),
            detector: "tailgating".into(),
            rule: None,
            domain: Domain::Physical,
            severity: Severity::HIGH,
            title: "Tailgating by Amélie Durand".into(),
            summary: "Amélie Durand followed someone in".into(),
            status: AlertStatus::Open,
            time: t,
            ingested: t,
            detected: t,
            last_seen: t,
            count: 1,
            dedup_key: "k".into(),
            evidence: vec![],
            entities: serde_json::Map::from_iter([(
                "person".to_owned(),
                Value::String("Amélie Durand".into()),
            )]),
            geo: None,
            site_id: Some("hq-paris".into()),
            notified: None,
            acknowledged: None,
        }
    }

    #[tokio::test]
    async fn the_demo_delivers_mail_and_webhooks_to_its_own_receivers() {
        let data = tempfile::tempdir().unwrap();
        let mut config = crate::demo::demo_config().unwrap();
        let sinks = DemoSinks::start(&mut config, data.path()).await.unwrap();
        let n = config.notify.clone().unwrap();
        let setup = crate::config::load_setup(&n).unwrap();
        // Every team the demo routes name is in the demo organisation.
        let org = crate::demo::demo_org().unwrap();
        assert!(tocsin_routing::unknown_teams(&setup.routes, &org).is_empty());

        let clock: Arc<dyn tocsin_model::Clock> = Arc::new(SystemClock);
        let build = |name: &str| {
            let c = setup
                .channels
                .channels
                .iter()
                .find(|c| c.name() == name)
                .unwrap();
            tocsin_notify::build(c, clock.clone()).unwrap()
        };
        let a = alert();
        let mail = Message::from_alert(&a, Visibility::Partner, false).with_delivery_id("01DEMO");
        build("guards-mail").send(&mail).await.unwrap();
        let hook = Message::from_alert(&a, Visibility::Full, false).with_delivery_id("01HOOK");
        build("soc-webhook").send(&hook).await.unwrap();

        let mails = sinks.inbox.mails.lock().unwrap().clone();
        assert_eq!(mails.len(), 1);
        assert_eq!(
            mails[0].0,
            vec!["guard-desk@tocsin-demo.example".to_owned()]
        );
        assert!(mails[0].1.contains("01DEMO"), "Message-ID carries the key");
        assert!(
            !mails[0].1.contains("Durand"),
            "the guards do not see the name"
        );
        let hooks = sinks.inbox.webhooks.lock().unwrap().clone();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].0, "/soc");
        assert_eq!(hooks[0].1, "01HOOK");
        assert!(
            hooks[0].2["title"]
                .as_str()
                .unwrap()
                .contains("Amélie Durand")
        );
    }
}
