//! CEF payloads in RFC 5424 syslog lines, for a SIEM.

use serde_json::Value;

use crate::message::Message;

/// CEF header fields escape backslash and pipe; a line break would end the record, so it
/// becomes a space.
fn header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// CEF extension values escape backslash, equals sign and line breaks.
fn ext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// CEF severity 0..10 from the OCSF 0..6 scale.
fn cef_severity(id: u8) -> u8 {
    match id {
        0 => 0,
        1 => 1,
        2 => 3,
        3 => 5,
        4 => 7,
        5 => 9,
        _ => 10,
    }
}

/// Syslog severity (RFC 5424 table 2) from the OCSF scale.
fn syslog_severity(id: u8) -> u8 {
    match id {
        6.. => 1,
        5 => 2,
        4 => 3,
        3 => 4,
        2 => 5,
        _ => 6,
    }
}

fn entity(m: &Message, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match m.entities.get(*k)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// `CEF:0|Tocsin|Tocsin|<version>|<detector[/rule]>|<title>|<severity>|<extension>`.
pub fn cef_line(m: &Message) -> String {
    let sig = match &m.rule {
        Some(r) => format!("{}/{r}", m.detector),
        None => m.detector.clone(),
    };
    let mut e: Vec<(&str, String)> = vec![
        ("rt", m.time.timestamp_millis().to_string()),
        ("externalId", m.alert_id.clone()),
        ("cnt", m.count.to_string()),
        ("cat", m.domain.clone()),
        ("msg", m.summary.clone()),
        ("cs1Label", "tenant".into()),
        ("cs1", m.tenant.clone()),
        ("cs2Label", "status".into()),
        ("cs2", m.status.clone()),
        ("cs3Label", "visibility".into()),
        ("cs3", m.visibility.as_str().into()),
    ];
    if let Some(s) = &m.site_id {
        e.push(("cs4Label", "site".into()));
        e.push(("cs4", s.clone()));
    }
    if m.exercise {
        e.push(("cs5Label", "exercise".into()));
        e.push(("cs5", "true".into()));
    }
    if let Some(u) = entity(m, &["user", "username", "account"]) {
        e.push(("suser", u));
    }
    if let Some(h) = entity(m, &["host", "hostname"]) {
        e.push(("shost", h));
    }
    if let Some(ip) = entity(m, &["src_ip", "ip"]) {
        e.push(("src", ip));
    }
    let ext_text: Vec<String> = e.iter().map(|(k, v)| format!("{k}={}", ext(v))).collect();
    format!(
        "CEF:0|Tocsin|Tocsin|{}|{}|{}|{}|{}",
        header(env!("CARGO_PKG_VERSION")),
        header(&sig),
        header(&m.title),
        cef_severity(m.severity.id()),
        ext_text.join(" ")
    )
}

/// RFC 5424 fields may not hold spaces or be empty; `-` is the nil value.
fn token(s: &str, max: usize) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if t.is_empty() { "-".into() } else { t }
}

/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID - CEF:...` with the alert's detection time.
pub fn rfc5424_line(facility: u8, hostname: &str, app_name: &str, m: &Message) -> String {
    let pri = u16::from(facility.min(23)) * 8 + u16::from(syslog_severity(m.severity.id()));
    format!(
        "<{pri}>1 {} {} {} - {} - {}",
        m.detected
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        token(hostname, 255),
        token(app_name, 48),
        if m.repeat { "alert-repeat" } else { "alert" },
        cef_line(m)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_extension_escaping() {
        assert_eq!(header("a|b\\c\nd"), "a\\|b\\\\c d");
        assert_eq!(ext("x=1\\2|3\r\n"), "x\\=1\\\\2|3\\r\\n");
    }

    #[test]
    fn severities_are_monotonic() {
        let cef: Vec<u8> = (0..=6).map(cef_severity).collect();
        assert!(cef.windows(2).all(|w| w[0] < w[1]));
        let sys: Vec<u8> = (1..=6).map(syslog_severity).collect();
        assert!(sys.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn token_replaces_spaces_and_empties() {
        assert_eq!(token("a b", 10), "ab");
        assert_eq!(token("", 10), "-");
    }
}
