//! The channels that post over HTTP: signed JSON webhook, chat webhooks, PagerDuty Events v2
//! and CAP 1.2.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::message::{Message, Visibility};
use crate::outbound::{Outbound, Secret};
use crate::{Notifier, NotifyError};

/// Header carrying the outbox row id, the same on every attempt (the idempotency key).
pub const DELIVERY_HEADER: &str = "X-Tocsin-Delivery";

/// The idempotency header of `m`, when it comes from the outbox.
fn delivery_header(m: &Message) -> Vec<(&'static str, String)> {
    m.delivery_id
        .iter()
        .map(|id| (DELIVERY_HEADER, id.clone()))
        .collect()
}

/// Header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Tocsin-Signature";

/// `sha256=<hex>` of the HMAC-SHA256 of `body` under `key`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail; the fallback is never taken.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

fn encode(channel: &str, v: &impl serde::Serialize) -> Result<Vec<u8>, NotifyError> {
    serde_json::to_vec(v).map_err(|e| NotifyError::Failed {
        channel: channel.to_string(),
        reason: format!("encoding body: {e}"),
    })
}

/// Posts the [`Message`] as JSON, signed with HMAC-SHA256 when a key is configured.
#[derive(Debug)]
pub struct WebhookChannel {
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) out: Outbound,
    pub(crate) key: Option<Secret>,
}

#[async_trait]
impl Notifier for WebhookChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn visibility(&self) -> Visibility {
        self.visibility
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        let body = encode(&self.name, m)?;
        let mut headers = delivery_header(m);
        if let Some(k) = &self.key {
            headers.push((SIGNATURE_HEADER, sign(k.expose().as_bytes(), &body)));
        }
        self.out.post("application/json", &headers, body).await?;
        Ok(())
    }
}

/// The incoming-webhook dialect of a chat service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFormat {
    Slack,
    Mattermost,
    /// Microsoft Teams, as a MessageCard.
    Teams,
}

fn severity_colour(m: &Message) -> &'static str {
    match m.severity.id() {
        5.. => "#B71C1C",
        4 => "#E65100",
        3 => "#F9A825",
        _ => "#1565C0",
    }
}

/// The JSON body a chat service expects for `m`.
pub fn chat_body(format: ChatFormat, m: &Message, channel: Option<&str>) -> Value {
    match format {
        ChatFormat::Slack | ChatFormat::Mattermost => {
            let mut v = json!({
                "text": m.headline(),
                "attachments": [{
                    "fallback": m.headline(),
                    "color": severity_colour(m),
                    "title": m.title,
                    "text": m.text,
                    "fields": [
                        {"title": "Severity", "value": m.severity_name, "short": true},
                        {"title": "Domain", "value": m.domain, "short": true},
                        {"title": "Count", "value": m.count.to_string(), "short": true},
                        {"title": "Alert", "value": m.alert_id, "short": true},
                    ],
                }],
            });
            if let (Some(c), Some(o)) = (channel, v.as_object_mut()) {
                o.insert("channel".into(), Value::String(c.to_string()));
            }
            if format == ChatFormat::Mattermost
                && let Some(o) = v.as_object_mut()
            {
                o.insert("username".into(), Value::String("Tocsin".into()));
            }
            v
        }
        ChatFormat::Teams => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": m.headline(),
            "themeColor": severity_colour(m).trim_start_matches('#'),
            "title": m.headline(),
            "sections": [{
                "activityTitle": m.title,
                "text": m.summary,
                "facts": [
                    {"name": "Severity", "value": m.severity_name},
                    {"name": "Domain", "value": m.domain},
                    {"name": "Status", "value": m.status},
                    {"name": "Count", "value": m.count.to_string()},
                    {"name": "First seen", "value": m.time.to_rfc3339()},
                    {"name": "Alert", "value": m.alert_id},
                ],
            }],
        }),
    }
}

/// Posts to a Slack, Mattermost or Teams incoming webhook.
#[derive(Debug)]
pub struct ChatChannel {
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) format: ChatFormat,
    pub(crate) channel: Option<String>,
    pub(crate) out: Outbound,
}

#[async_trait]
impl Notifier for ChatChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn visibility(&self) -> Visibility {
        self.visibility
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        let body = encode(
            &self.name,
            &chat_body(self.format, m, self.channel.as_deref()),
        )?;
        self.out
            .post("application/json", &delivery_header(m), body)
            .await?;
        Ok(())
    }
}

fn pagerduty_severity(m: &Message) -> &'static str {
    match m.severity.id() {
        5.. => "critical",
        4 => "error",
        2 | 3 => "warning",
        _ => "info",
    }
}

/// The PagerDuty Events API v2 body for `m`. The alert id is the `dedup_key`, so that the
/// acknowledge and resolve of an alert reach the incident its trigger opened.
pub fn pagerduty_body(routing_key: &str, source: &str, m: &Message) -> Value {
    let action = match m.status.as_str() {
        "acknowledged" => "acknowledge",
        "closed" => "resolve",
        _ => "trigger",
    };
    let mut v = json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": format!("tocsin-{}", m.alert_id),
    });
    if action == "trigger"
        && let Some(o) = v.as_object_mut()
    {
        let mut summary = m.headline();
        // PagerDuty refuses summaries over 1024 characters.
        if summary.chars().count() > 1024 {
            summary = summary.chars().take(1021).collect::<String>() + "...";
        }
        o.insert(
            "payload".into(),
            json!({
                "summary": summary,
                "source": source,
                "severity": pagerduty_severity(m),
                "timestamp": m.time.to_rfc3339(),
                "component": m.detector,
                "group": m.site_id,
                "class": m.domain,
                "custom_details": {
                    "summary": m.summary,
                    "tenant": m.tenant,
                    "rule": m.rule,
                    "count": m.count,
                    "entities": m.entities,
                    "exercise": m.exercise,
                    "visibility": m.visibility.as_str(),
                },
            }),
        );
    }
    v
}

/// Sends PagerDuty Events API v2 events to the configured URL.
#[derive(Debug)]
pub struct PagerDutyChannel {
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) source: String,
    pub(crate) routing_key: Secret,
    pub(crate) out: Outbound,
}

#[async_trait]
impl Notifier for PagerDutyChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn visibility(&self) -> Visibility {
        self.visibility
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        let body = encode(
            &self.name,
            &pagerduty_body(self.routing_key.expose(), &self.source, m),
        )?;
        self.out
            .post("application/json", &delivery_header(m), body)
            .await?;
        Ok(())
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// CAP times have an explicit offset, never `Z`.
fn cap_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// A CAP 1.2 `<alert>` for `m`. `status` is `Exercise` for a drill, else `Actual`; `msgType`
/// is `Update` for a repeat, `Cancel` once the alert is closed; `scope` is `Public` only at
/// `public` visibility, `Restricted` otherwise.
pub fn cap_xml(sender: &str, m: &Message) -> String {
    let status = if m.exercise { "Exercise" } else { "Actual" };
    let msg_type = if m.status == "closed" {
        "Cancel"
    } else if m.repeat {
        "Update"
    } else {
        "Alert"
    };
    let (urgency, severity) = match m.severity.id() {
        5.. => ("Immediate", "Extreme"),
        4 => ("Immediate", "Severe"),
        3 => ("Expected", "Moderate"),
        1 | 2 => ("Future", "Minor"),
        _ => ("Unknown", "Unknown"),
    };
    let category = match m.domain.as_str() {
        "cyber" => "Infra",
        _ => "Security",
    };
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n");
    let el = |x: &mut String, name: &str, value: &str| {
        x.push_str(&format!("  <{name}>{}</{name}>\n", xml_escape(value)));
    };
    el(
        &mut x,
        "identifier",
        &format!("tocsin-{}-{}", m.alert_id, m.count),
    );
    el(&mut x, "sender", sender);
    el(&mut x, "sent", &cap_time(m.last_seen.max(m.detected)));
    el(&mut x, "status", status);
    el(&mut x, "msgType", msg_type);
    if m.visibility == Visibility::Public {
        el(&mut x, "scope", "Public");
    } else {
        el(&mut x, "scope", "Restricted");
        el(
            &mut x,
            "restriction",
            &format!("{} audience only", m.visibility.as_str()),
        );
    }
    x.push_str("  <info>\n");
    let iel = |x: &mut String, name: &str, value: &str| {
        x.push_str(&format!("    <{name}>{}</{name}>\n", xml_escape(value)));
    };
    iel(&mut x, "category", category);
    iel(&mut x, "event", &m.title);
    iel(&mut x, "urgency", urgency);
    iel(&mut x, "severity", severity);
    iel(&mut x, "certainty", "Observed");
    iel(&mut x, "effective", &cap_time(m.time));
    iel(&mut x, "senderName", "Tocsin");
    iel(&mut x, "headline", &m.headline());
    iel(&mut x, "description", &m.summary);
    if m.site_id.is_some() || m.geo.is_some() {
        x.push_str("    <area>\n");
        x.push_str(&format!(
            "      <areaDesc>{}</areaDesc>\n",
            xml_escape(m.site_id.as_deref().unwrap_or("area of the alert"))
        ));
        if let Some(g) = &m.geo {
            let km = g.radius_m.unwrap_or(0.0) / 1000.0;
            x.push_str(&format!(
                "      <circle>{},{} {km}</circle>\n",
                g.lat, g.lon
            ));
        }
        x.push_str("    </area>\n");
    }
    x.push_str("  </info>\n</alert>\n");
    x
}

/// Posts a CAP 1.2 document to the configured URL.
#[derive(Debug)]
pub struct CapChannel {
    pub(crate) name: String,
    pub(crate) visibility: Visibility,
    pub(crate) sender: String,
    pub(crate) out: Outbound,
}

#[async_trait]
impl Notifier for CapChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn visibility(&self) -> Visibility {
        self.visibility
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        let body = cap_xml(&self.sender, m).into_bytes();
        self.out
            .post("application/cap+xml", &delivery_header(m), body)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc4231_case_2() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn xml_escape_handles_markup_and_controls() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt; "
        );
    }
}
