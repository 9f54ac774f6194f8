//! Channel config as written in `tocsin.toml` under `[[channels]]`, chosen by `type`, and
//! [`build`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use serde::Deserialize;
use tocsin_model::Clock;

use crate::email::EmailChannel;
use crate::http::{CapChannel, ChatChannel, ChatFormat, PagerDutyChannel, WebhookChannel};
use crate::limit::{RateLimited, TokenBucket};
use crate::message::Visibility;
use crate::nats::NatsChannel;
use crate::outbound::{Outbound, Secret};
use crate::syslog::SyslogChannel;
use crate::{BuildError, LogNotifier, Notifier};

const MAX_NAME_LEN: usize = 64;
const MAX_TIMEOUT_SECS: u64 = 300;

fn default_timeout() -> u64 {
    10
}

/// `rate_limit = { per_minute = 30, burst = 10 }`: at most `burst` at once, refilled at
/// `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub per_minute: u32,
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_burst() -> u32 {
    10
}

/// `type = "log"`: the structured log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub name: String,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

/// `type = "webhook"`: the message as JSON, signed with `X-Tocsin-Signature` when `secret_env`
/// names the variable holding the HMAC key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Further destinations (URLs) that redirects may lead to.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

/// `type = "slack" | "mattermost" | "teams"`: an incoming webhook. The URL usually holds the
/// webhook's token, so it may instead be read from the variable named by `url_env`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub url_env: Option<String>,
    /// Slack and Mattermost only: post to this channel instead of the webhook's own.
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

fn default_pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

fn default_source() -> String {
    "tocsin".into()
}

/// `type = "pagerduty"`: Events API v2; the routing key is read from `routing_key_env`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    pub name: String,
    #[serde(default = "default_pagerduty_url")]
    pub url: String,
    pub routing_key_env: String,
    #[serde(default = "default_source")]
    pub source: String,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain text; only for a relay on the same host or a test listener.
    None,
    /// STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

fn default_smtp_port() -> u16 {
    587
}

/// `type = "email"`: SMTP through one relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub name: String,
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: EmailTls,
    #[serde(default)]
    pub username: Option<String>,
    /// The variable holding the password; required with `username`.
    #[serde(default)]
    pub password_env: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

fn default_subject_prefix() -> String {
    "[Tocsin] ".into()
}

/// The transport of syslog forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    Udp,
    Tcp,
}

fn default_facility() -> u8 {
    // local4, the usual choice for security tools.
    20
}

fn default_hostname() -> String {
    "tocsin".into()
}

/// `type = "syslog"`: RFC 5424 lines with CEF payloads to a SIEM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    pub name: String,
    pub transport: SyslogTransport,
    /// `host:port` of the collector.
    pub address: String,
    #[serde(default = "default_facility")]
    pub facility: u8,
    /// The HOSTNAME field: this node's name as the SIEM should see it.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    #[serde(default = "default_source")]
    pub app_name: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

/// `type = "cap"`: a CAP 1.2 document posted to a URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapConfig {
    pub name: String,
    pub url: String,
    /// The CAP `sender`, e.g. `security@example.org`.
    pub sender: String,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

fn default_nats_url() -> String {
    "nats://127.0.0.1:4222".into()
}

/// `type = "nats"`: the message as JSON published on `subject`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    pub name: String,
    #[serde(default = "default_nats_url")]
    pub url: String,
    pub subject: String,
    /// The variable holding the server's auth token, when it wants one.
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

/// One channel, chosen by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChannelConfig {
    Log(LogConfig),
    Webhook(WebhookConfig),
    Slack(ChatConfig),
    Mattermost(ChatConfig),
    Teams(ChatConfig),
    Pagerduty(PagerDutyConfig),
    Email(EmailConfig),
    Syslog(SyslogConfig),
    Cap(CapConfig),
    Nats(NatsConfig),
}

impl ChannelConfig {
    pub fn name(&self) -> &str {
        match self {
            ChannelConfig::Log(c) => &c.name,
            ChannelConfig::Webhook(c) => &c.name,
            ChannelConfig::Slack(c) | ChannelConfig::Mattermost(c) | ChannelConfig::Teams(c) => {
                &c.name
            }
            ChannelConfig::Pagerduty(c) => &c.name,
            ChannelConfig::Email(c) => &c.name,
            ChannelConfig::Syslog(c) => &c.name,
            ChannelConfig::Cap(c) => &c.name,
            ChannelConfig::Nats(c) => &c.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Log(_) => "log",
            ChannelConfig::Webhook(_) => "webhook",
            ChannelConfig::Slack(_) => "slack",
            ChannelConfig::Mattermost(_) => "mattermost",
            ChannelConfig::Teams(_) => "teams",
            ChannelConfig::Pagerduty(_) => "pagerduty",
            ChannelConfig::Email(_) => "email",
            ChannelConfig::Syslog(_) => "syslog",
            ChannelConfig::Cap(_) => "cap",
            ChannelConfig::Nats(_) => "nats",
        }
    }

    pub fn rate_limit(&self) -> Option<RateLimitConfig> {
        match self {
            ChannelConfig::Log(c) => c.rate_limit,
            ChannelConfig::Webhook(c) => c.rate_limit,
            ChannelConfig::Slack(c) | ChannelConfig::Mattermost(c) | ChannelConfig::Teams(c) => {
                c.rate_limit
            }
            ChannelConfig::Pagerduty(c) => c.rate_limit,
            ChannelConfig::Email(c) => c.rate_limit,
            ChannelConfig::Syslog(c) => c.rate_limit,
            ChannelConfig::Cap(c) => c.rate_limit,
            ChannelConfig::Nats(c) => c.rate_limit,
        }
    }

    /// Checks what can be checked without the environment; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name();
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(format!("name: must be 1 to {MAX_NAME_LEN} characters"));
        }
        let timeout = match self {
            ChannelConfig::Log(_) => 1,
            ChannelConfig::Webhook(c) => c.timeout_secs,
            ChannelConfig::Slack(c) | ChannelConfig::Mattermost(c) | ChannelConfig::Teams(c) => {
                if c.url.is_some() == c.url_env.is_some() {
                    return Err("url, url_env: exactly one of them must be set".into());
                }
                c.timeout_secs
            }
            ChannelConfig::Pagerduty(c) => c.timeout_secs,
            ChannelConfig::Email(c) => {
                if c.to.is_empty() {
                    return Err("to: at least one recipient is required".into());
                }
                if c.username.is_some() != c.password_env.is_some() {
                    return Err("username, password_env: set both or neither".into());
                }
                c.timeout_secs
            }
            ChannelConfig::Syslog(c) => {
                if c.facility > 23 {
                    return Err(format!("facility: {} is outside 0..23", c.facility));
                }
                c.timeout_secs
            }
            ChannelConfig::Cap(c) => {
                if c.sender.is_empty() || c.sender.contains([' ', ',', '<', '&']) {
                    return Err("sender: must be non-empty without spaces, commas, < or &".into());
                }
                c.timeout_secs
            }
            ChannelConfig::Nats(c) => {
                if !crate::nats::valid_subject(&c.subject) {
                    return Err(format!(
                        "subject: {:?} must be dot-separated tokens without spaces or wildcards",
                        c.subject
                    ));
                }
                if !c.url.starts_with("nats://") && !c.url.starts_with("tls://") {
                    return Err(format!(
                        "url: {:?} must start with nats:// or tls://",
                        c.url
                    ));
                }
                c.timeout_secs
            }
        };
        if timeout == 0 || timeout > MAX_TIMEOUT_SECS {
            return Err(format!("timeout_secs: must be 1 to {MAX_TIMEOUT_SECS}"));
        }
        if let Some(r) = self.rate_limit()
            && (r.per_minute == 0 || r.burst == 0)
        {
            return Err("rate_limit: per_minute and burst must be at least 1".into());
        }
        Ok(())
    }
}

/// Checks each channel and that no two share a name; the message starts with the name.
pub fn validate_all(configs: &[ChannelConfig]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for c in configs {
        c.validate()
            .map_err(|e| format!("channel {:?}: {e}", c.name()))?;
        if !seen.insert(c.name()) {
            return Err(format!(
                "channel {:?}: the name is used by another channel",
                c.name()
            ));
        }
    }
    Ok(())
}

fn mailbox(name: &str, field: &str, raw: &str) -> Result<Mailbox, BuildError> {
    raw.parse().map_err(|e| BuildError::Invalid {
        name: name.to_string(),
        reason: format!("{field}: {raw:?} is not an e-mail address: {e}"),
    })
}

/// Builds one channel, reading its secrets from the process environment, wrapped in its rate
/// limit when it has one (measured by `clock`).
pub fn build(cfg: &ChannelConfig, clock: Arc<dyn Clock>) -> Result<Arc<dyn Notifier>, BuildError> {
    build_with_env(cfg, clock, &|v| std::env::var(v).ok())
}

/// [`build`] with the secrets looked up through `env` instead of the process environment.
pub fn build_with_env(
    cfg: &ChannelConfig,
    clock: Arc<dyn Clock>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Notifier>, BuildError> {
    let name = cfg.name().to_string();
    cfg.validate().map_err(|reason| BuildError::Invalid {
        name: name.clone(),
        reason,
    })?;
    let secs = |s: u64| Duration::from_secs(s);
    let n: Arc<dyn Notifier> = match cfg {
        ChannelConfig::Log(c) => Arc::new(LogNotifier::new(&c.name).with_visibility(c.visibility)),
        ChannelConfig::Webhook(c) => Arc::new(WebhookChannel {
            name: name.clone(),
            visibility: c.visibility,
            out: Outbound::new(&name, &c.url, &c.allow_hosts, secs(c.timeout_secs))?,
            key: c
                .secret_env
                .as_deref()
                .map(|v| Secret::from_env(&name, "secret_env", v, env))
                .transpose()?,
        }),
        ChannelConfig::Slack(c) | ChannelConfig::Mattermost(c) | ChannelConfig::Teams(c) => {
            let format = match cfg {
                ChannelConfig::Slack(_) => ChatFormat::Slack,
                ChannelConfig::Mattermost(_) => ChatFormat::Mattermost,
                _ => ChatFormat::Teams,
            };
            let url = match (&c.url, &c.url_env) {
                (Some(u), _) => u.clone(),
                (None, Some(v)) => Secret::from_env(&name, "url_env", v, env)?
                    .expose()
                    .to_string(),
                (None, None) => String::new(),
            };
            Arc::new(ChatChannel {
                name: name.clone(),
                visibility: c.visibility,
                format,
                channel: c.channel.clone(),
                out: Outbound::new(&name, &url, &c.allow_hosts, secs(c.timeout_secs))?,
            })
        }
        ChannelConfig::Pagerduty(c) => Arc::new(PagerDutyChannel {
            name: name.clone(),
            visibility: c.visibility,
            source: c.source.clone(),
            routing_key: Secret::from_env(&name, "routing_key_env", &c.routing_key_env, env)?,
            out: Outbound::new(&name, &c.url, &c.allow_hosts, secs(c.timeout_secs))?,
        }),
        ChannelConfig::Email(c) => {
            let invalid = |reason: String| BuildError::Invalid {
                name: name.clone(),
                reason,
            };
            let tls = match c.tls {
                EmailTls::None => Tls::None,
                EmailTls::Starttls | EmailTls::Tls => {
                    let params = TlsParameters::new(c.host.clone())
                        .map_err(|e| invalid(format!("tls: {e}")))?;
                    if c.tls == EmailTls::Tls {
                        Tls::Wrapper(params)
                    } else {
                        Tls::Required(params)
                    }
                }
            };
            let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(c.host.as_str())
                .port(c.port)
                .tls(tls)
                .timeout(Some(secs(c.timeout_secs)));
            if let (Some(user), Some(var)) = (&c.username, &c.password_env) {
                let pw = Secret::from_env(&name, "password_env", var, env)?;
                b = b.credentials(Credentials::new(user.clone(), pw.expose().to_string()));
            }
            let to =
                c.to.iter()
                    .enumerate()
                    .map(|(i, t)| mailbox(&name, &format!("to[{i}]"), t))
                    .collect::<Result<Vec<_>, _>>()?;
            Arc::new(EmailChannel {
                name: name.clone(),
                visibility: c.visibility,
                transport: b.build(),
                from: mailbox(&name, "from", &c.from)?,
                to,
                subject_prefix: c.subject_prefix.clone(),
            })
        }
        ChannelConfig::Syslog(c) => {
            if c.address
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(BuildError::Invalid {
                    name,
                    reason: format!("address: {:?} is not host:port", c.address),
                });
            }
            Arc::new(SyslogChannel {
                name: name.clone(),
                visibility: c.visibility,
                transport: c.transport,
                address: c.address.clone(),
                facility: c.facility,
                hostname: c.hostname.clone(),
                app_name: c.app_name.clone(),
                timeout: secs(c.timeout_secs),
            })
        }
        ChannelConfig::Cap(c) => Arc::new(CapChannel {
            name: name.clone(),
            visibility: c.visibility,
            sender: c.sender.clone(),
            out: Outbound::new(&name, &c.url, &c.allow_hosts, secs(c.timeout_secs))?,
        }),
        ChannelConfig::Nats(c) => Arc::new(NatsChannel {
            name: name.clone(),
            visibility: c.visibility,
            url: c.url.clone(),
            subject: c.subject.clone(),
            token: c
                .token_env
                .as_deref()
                .map(|v| Secret::from_env(&name, "token_env", v, env))
                .transpose()?,
            timeout: secs(c.timeout_secs),
            client: tokio::sync::Mutex::new(None),
        }),
    };
    Ok(match cfg.rate_limit() {
        Some(r) => Arc::new(RateLimited::new(
            n,
            TokenBucket::new(clock, r.per_minute, r.burst),
        )),
        None => n,
    })
}
