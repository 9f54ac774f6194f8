//! Outbound HTTP limited to the destinations a channel is configured for, and secrets read from
//! the environment.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use reqwest::Url;
use reqwest::redirect::Policy;

use crate::NotifyError;

/// Longest response body read from a destination; the rest is not read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Redirects followed at most, and only to allowed destinations.
const MAX_REDIRECTS: usize = 3;

/// A secret read from an environment variable; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Reads the variable `var` named by config field `field` through `env`; an unset or empty
    /// variable is an error.
    pub fn from_env(
        channel: &str,
        field: &str,
        var: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, crate::BuildError> {
        match env(var) {
            Some(v) if !v.is_empty() => Ok(Secret(v)),
            _ => Err(crate::BuildError::Env {
                name: channel.to_string(),
                field: field.to_string(),
                var: var.to_string(),
            }),
        }
    }

    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([hidden])")
    }
}

fn host_port(url: &Url) -> Option<(String, u16)> {
    Some((
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

/// Parses a destination URL: `http` or `https` only, with a host.
pub fn parse_url(channel: &str, field: &str, raw: &str) -> Result<Url, crate::BuildError> {
    let invalid = |reason: String| crate::BuildError::Invalid {
        name: channel.to_string(),
        reason: format!("{field}: {reason}"),
    };
    let url = Url::parse(raw).map_err(|e| invalid(format!("not a URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if host_port(&url).is_none() {
        return Err(invalid("has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not hold credentials; use the channel's secret fields".into(),
        ));
    }
    Ok(url)
}

/// Shows only scheme, host and port: a chat webhook's path is its token.
fn redacted_url(url: &Url) -> String {
    format!(
        "{}://{}:{}/...",
        url.scheme(),
        url.host_str().unwrap_or("-"),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// An HTTP client that can reach only its configured URL's host and port (and any extra
/// `allow_hosts`), follows redirects only among those, never uses a proxy from the
/// environment, times out, and reads at most [`MAX_RESPONSE_BYTES`] of a response.
#[derive(Clone)]
pub struct Outbound {
    channel: String,
    client: reqwest::Client,
    url: Url,
    allowed: HashSet<(String, u16)>,
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut allowed: Vec<String> = self
            .allowed
            .iter()
            .map(|(h, p)| format!("{h}:{p}"))
            .collect();
        allowed.sort();
        f.debug_struct("Outbound")
            .field("channel", &self.channel)
            .field("url", &redacted_url(&self.url))
            .field("allowed", &allowed)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    pub fn new(
        channel: &str,
        url: &str,
        allow_hosts: &[String],
        timeout: Duration,
    ) -> Result<Self, crate::BuildError> {
        let url = parse_url(channel, "url", url)?;
        let mut allowed = HashSet::new();
        if let Some(hp) = host_port(&url) {
            allowed.insert(hp);
        }
        for (i, extra) in allow_hosts.iter().enumerate() {
            let u = parse_url(channel, &format!("allow_hosts[{i}]"), extra)?;
            if let Some(hp) = host_port(&u) {
                allowed.insert(hp);
            }
        }
        let for_policy = allowed.clone();
        let policy = Policy::custom(move |attempt| {
            let ok = host_port(attempt.url()).is_some_and(|hp| for_policy.contains(&hp));
            if attempt.previous().len() >= MAX_REDIRECTS || !ok {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .redirect(policy)
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::BuildError::Invalid {
                name: channel.to_string(),
                reason: format!("http client: {e}"),
            })?;
        Ok(Self {
            channel: channel.to_string(),
            client,
            url,
            allowed,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn allows(&self, url: &Url) -> bool {
        host_port(url).is_some_and(|hp| self.allowed.contains(&hp))
    }

    fn fail(&self, reason: impl Into<String>) -> NotifyError {
        NotifyError::Failed {
            channel: self.channel.clone(),
            reason: reason.into(),
        }
    }

    /// Posts `body` to the configured URL; a status other than 2xx (a refused redirect
    /// included) is an error. Returns the start of the response body.
    pub async fn post(
        &self,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Vec<u8>, NotifyError> {
        let mut req = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        // Errors are shown without the URL, which may hold a token in its path.
        let mut resp = req
            .send()
            .await
            .map_err(|e| self.fail(format!("request failed: {}", e.without_url())))?;
        let status = resp.status();
        let mut got = Vec::new();
        while got.len() < MAX_RESPONSE_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    let room = MAX_RESPONSE_BYTES - got.len();
                    got.extend_from_slice(c.get(..room.min(c.len())).unwrap_or(&c));
                }
                Ok(None) => break,
                Err(e) => return Err(self.fail(format!("reading response: {}", e.without_url()))),
            }
        }
        if status.is_redirection() {
            return Err(self.fail(format!(
                "refused redirect ({status}) to a destination not configured for this channel"
            )));
        }
        if !status.is_success() {
            return Err(self.fail(format!("destination answered {status}")));
        }
        Ok(got)
    }
}
