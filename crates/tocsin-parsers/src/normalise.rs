//! Default normalisation of a syslog message (and its CEF or LEEF payload) into an
//! [`EventInput`]. A source's configured [`Mapping`](crate::mapping::Mapping) may then refine it
//! with [`Mapping::apply_to`](crate::mapping::Mapping::apply_to).
//!
//! What is filled, in order of preference:
//!
//! | field      | plain syslog            | CEF / LEEF                                                   |
//! |------------|-------------------------|--------------------------------------------------------------|
//! | `time`     | header timestamp        | CEF `rt`, then `end`; LEEF `devTime` (read with `devTimeFormat`); else the header |
//! | `host`     | HOSTNAME                | `dvchost`, HOSTNAME, `dhost`, `shost` (`dhost` first for authentication) |
//! | `ip`       | HOSTNAME if an address  | CEF `dvc`, else HOSTNAME if an address                        |
//! | `src_ip`   |                         | `src`                                                        |
//! | `dst_ip`   |                         | `dst`                                                        |
//! | `user`     |                         | `usrName`, `suser`, `duser` (`duser` before `suser` for authentication) |
//! | `class`    | `log`                   | from `cat`, see [`class_for_category`]; else `log`            |
//! | `activity` |                         | `act`; for authentication without it, `outcome` → `logon` / `logon_failed` |
//! | `severity` | [`syslog_severity`]     | CEF header severity or LEEF `sev` by [`cef_severity`]; else syslog |
//! | `message`  | MSG, trimmed            | CEF name; LEEF event id                                      |
//!
//! A device time written without a zone is used only when the header has no timestamp (then as
//! UTC): the header's own zone is known or configured, the device's is not. `domain` is left to
//! the source, and `time` stays `None` when nothing carried one, so the source can use its
//! receive time.
//!
//! The record kept in `fields` is flat: `syslog.format`, `syslog.facility`, `syslog.severity`,
//! `syslog.hostname`, `syslog.app_name`, `syslog.procid`, `syslog.msgid`,
//! `syslog.sd.<SD-ID>.<PARAM-NAME>`, and `syslog.msg` for a plain message; for CEF
//! `cef.version`, `cef.device_vendor`, `cef.device_product`, `cef.device_version`,
//! `cef.signature_id`, `cef.name`, `cef.severity`; for LEEF `leef.version`, `leef.vendor`,
//! `leef.product`, `leef.product_version`, `leef.event_id`; then every CEF extension or LEEF
//! attribute under its own key (`src`, `suser`, `cs1Label`...). A repeated key keeps its last
//! value; an extension cannot overwrite a `syslog.`, `cef.` or `leef.` key.

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Map, Value};
use tocsin_model::{EventInput, Severity};

use crate::syslog::{Payload, SyslogMessage};
use crate::{cef::Cef, leef::Leef, text};

/// Turns a syslog message into an [`EventInput`] whose `fields` hold the flat record.
pub fn syslog_to_input(msg: &SyslogMessage) -> EventInput {
    let mut fields = Map::new();
    let mut put = |k: &str, v: Value| {
        fields.insert(k.to_owned(), v);
    };
    put("syslog.format", msg.format.as_str().into());
    put("syslog.facility", msg.facility.into());
    put("syslog.severity", msg.severity.into());
    for (key, value) in [
        ("syslog.hostname", &msg.hostname),
        ("syslog.app_name", &msg.app_name),
        ("syslog.procid", &msg.procid),
        ("syslog.msgid", &msg.msgid),
    ] {
        if let Some(v) = value {
            put(key, v.as_str().into());
        }
    }
    for element in &msg.structured_data {
        for (name, value) in &element.params {
            put(
                &format!("syslog.sd.{}.{}", element.id, name),
                value.as_str().into(),
            );
        }
    }
    let host_ip = msg.hostname.as_deref().filter(|h| is_ip(h));
    let mut input = EventInput {
        time: msg.timestamp,
        class: Some("log".to_owned()),
        severity: Some(syslog_severity(msg.severity)),
        host: msg.hostname.clone(),
        ip: host_ip.map(str::to_owned),
        message: non_empty(&msg.msg),
        ..EventInput::default()
    };
    match &msg.payload {
        Payload::Plain => put("syslog.msg", msg.msg.as_str().into()),
        Payload::Cef(c) => {
            cef_record(c, &mut put);
            let device = Device::from_pairs(&c.extensions);
            let time = device
                .get("rt")
                .or_else(|| device.get("end"))
                .and_then(|t| text::device_time(t, msg.timestamp.map(|h| h.year())));
            device.fill(&mut input, msg, time, cef_severity(&c.severity));
            input.message = non_empty(&c.name).or(input.message);
            input.ip = device.get("dvc").map(str::to_owned).or(input.ip);
        }
        Payload::Leef(l) => {
            leef_record(l, &mut put);
            let device = Device::from_pairs(&l.attributes);
            let time = device
                .get("devTime")
                .and_then(|t| match device.get("devTimeFormat") {
                    Some(pattern) => text::java_time(t, pattern),
                    None => text::device_time(t, msg.timestamp.map(|h| h.year())),
                });
            device.fill(
                &mut input,
                msg,
                time,
                device.get("sev").and_then(cef_severity),
            );
            input.message = non_empty(&l.event_id).or(input.message);
        }
    }
    input.fields = fields;
    input
}

fn cef_record(c: &Cef, put: &mut impl FnMut(&str, Value)) {
    put("cef.version", c.version.into());
    for (key, value) in [
        ("cef.device_vendor", &c.device_vendor),
        ("cef.device_product", &c.device_product),
        ("cef.device_version", &c.device_version),
        ("cef.signature_id", &c.signature_id),
        ("cef.name", &c.name),
        ("cef.severity", &c.severity),
    ] {
        put(key, value.as_str().into());
    }
    extension_record(&c.extensions, put);
}

fn leef_record(l: &Leef, put: &mut impl FnMut(&str, Value)) {
    for (key, value) in [
        ("leef.version", &l.version),
        ("leef.vendor", &l.vendor),
        ("leef.product", &l.product),
        ("leef.product_version", &l.product_version),
        ("leef.event_id", &l.event_id),
    ] {
        put(key, value.as_str().into());
    }
    extension_record(&l.attributes, put);
}

fn extension_record(pairs: &[(String, String)], put: &mut impl FnMut(&str, Value)) {
    for (k, v) in pairs {
        if !(k.starts_with("syslog.") || k.starts_with("cef.") || k.starts_with("leef.")) {
            put(k, v.as_str().into());
        }
    }
}

/// The CEF extensions or LEEF attributes, read through the names both formats share.
struct Device<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Device<'a> {
    fn from_pairs(pairs: &'a [(String, String)]) -> Self {
        Self { pairs }
    }

    /// The last non-empty value of `key`.
    fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn first(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.get(k)).map(str::to_owned)
    }

    fn fill(
        &self,
        input: &mut EventInput,
        msg: &SyslogMessage,
        time: Option<(DateTime<Utc>, bool)>,
        severity: Option<Severity>,
    ) {
        let class = self
            .get("cat")
            .and_then(class_for_category)
            .unwrap_or("log");
        let auth = class == "authentication";
        input.class = Some(class.to_owned());
        input.time = match time {
            Some((t, true)) => Some(t),
            Some((t, false)) if msg.timestamp.is_none() => Some(t),
            _ => msg.timestamp,
        };
        if let Some(s) = severity {
            input.severity = Some(s);
        }
        input.user = if auth {
            self.first(&["usrName", "duser", "suser"])
        } else {
            self.first(&["usrName", "suser", "duser"])
        };
        input.host = if auth {
            self.first(&["dhost", "dvchost"])
                .or_else(|| msg.hostname.clone())
        } else {
            self.first(&["dvchost"])
                .or_else(|| msg.hostname.clone())
                .or_else(|| self.first(&["dhost", "shost"]))
        };
        input.src_ip = self.first(&["src"]);
        input.dst_ip = self.first(&["dst"]);
        input.activity = self.first(&["act"]).or_else(|| {
            if !auth {
                return None;
            }
            let outcome = self.get("outcome")?.trim().to_ascii_lowercase();
            match outcome.as_str() {
                "success" | "succeeded" | "successful" | "allowed" => Some("logon".to_owned()),
                "failure" | "failed" | "fail" | "denied" => Some("logon_failed".to_owned()),
                _ => None,
            }
        });
    }
}

/// Syslog severity (RFC 5424 §6.2.1) to OCSF severity id:
///
/// | syslog            | OCSF              |
/// |-------------------|-------------------|
/// | 0 Emergency       | 6 Fatal           |
/// | 1 Alert           | 5 Critical        |
/// | 2 Critical        | 5 Critical        |
/// | 3 Error           | 4 High            |
/// | 4 Warning         | 3 Medium          |
/// | 5 Notice          | 2 Low             |
/// | 6 Informational   | 1 Informational   |
/// | 7 Debug           | 1 Informational   |
pub fn syslog_severity(severity: u8) -> Severity {
    match severity {
        0 => Severity::FATAL,
        1 | 2 => Severity::CRITICAL,
        3 => Severity::HIGH,
        4 => Severity::MEDIUM,
        5 => Severity::LOW,
        6 | 7 => Severity::INFORMATIONAL,
        _ => Severity::UNKNOWN,
    }
}

/// CEF severity (and LEEF `sev`, same 0–10 scale) to OCSF severity id, following ArcSight's
/// bands; `None` for anything else, so that the syslog severity is used instead:
///
/// | CEF                          | OCSF        |
/// |------------------------------|-------------|
/// | 0–3, `Low`                   | 2 Low       |
/// | 4–6, `Medium`                | 3 Medium    |
/// | 7–8, `High`                  | 4 High      |
/// | 9–10, `Very-High`            | 5 Critical  |
/// | `Unknown`                    | 0 Unknown   |
///
/// Names are matched without regard to case, and `Very High` / `VeryHigh` are accepted.
pub fn cef_severity(s: &str) -> Option<Severity> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return match n {
            n if (0.0..4.0).contains(&n) => Some(Severity::LOW),
            n if (4.0..7.0).contains(&n) => Some(Severity::MEDIUM),
            n if (7.0..9.0).contains(&n) => Some(Severity::HIGH),
            n if (9.0..=10.0).contains(&n) => Some(Severity::CRITICAL),
            _ => None,
        };
    }
    let name: String = s
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '_'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match name.as_str() {
        "low" => Some(Severity::LOW),
        "medium" => Some(Severity::MEDIUM),
        "high" => Some(Severity::HIGH),
        "veryhigh" => Some(Severity::CRITICAL),
        "unknown" => Some(Severity::UNKNOWN),
        _ => None,
    }
}

/// The event class a CEF / LEEF category (`cat`) implies, by the words it contains (any case),
/// checked in this order:
///
/// | words in `cat`                                                   | class               |
/// |------------------------------------------------------------------|---------------------|
/// | auth, logon, login, logoff, logout, sign-in, signin              | `authentication`    |
/// | intrusion, ids, ips, attack, exploit, malware, virus, threat     | `detection_finding` |
/// | vulnerab                                                         | `vulnerability`     |
/// | process                                                          | `process_activity`  |
/// | firewall, traffic, network, connection, flow                     | `network_activity`  |
pub fn class_for_category(cat: &str) -> Option<&'static str> {
    let c = cat.to_ascii_lowercase();
    let words = |list: &[&str]| list.iter().any(|w| contains_word_part(&c, w));
    if words(&[
        "auth", "logon", "login", "logoff", "logout", "sign-in", "signin",
    ]) {
        Some("authentication")
    } else if words(&[
        "intrusion",
        "ids",
        "ips",
        "attack",
        "exploit",
        "malware",
        "virus",
        "threat",
    ]) {
        Some("detection_finding")
    } else if words(&["vulnerab"]) {
        Some("vulnerability")
    } else if words(&["process"]) {
        Some("process_activity")
    } else if words(&["firewall", "traffic", "network", "connection", "flow"]) {
        Some("network_activity")
    } else {
        None
    }
}

/// `w` occurs in `c` at the start of a word (so `ids` matches `/IDS/Alert` but not `bids`).
fn contains_word_part(c: &str, w: &str) -> bool {
    c.match_indices(w).any(|(i, _)| {
        i == 0
            || c.as_bytes()
                .get(i - 1)
                .is_some_and(|b| !b.is_ascii_alphanumeric())
    })
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Trimmed, for a one-line description; `None` when blank.
fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syslog::{SyslogOptions, parse};

    fn input(s: &str) -> EventInput {
        let opts = SyslogOptions::new("2026-05-04T02:13:08Z".parse().unwrap());
        syslog_to_input(&parse(s.as_bytes(), &opts).unwrap())
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn syslog_severity_table() {
        let ids: Vec<u8> = (0..=8).map(|s| syslog_severity(s).id()).collect();
        assert_eq!(ids, [6, 5, 5, 4, 3, 2, 1, 1, 0]);
    }

    #[test]
    fn cef_severity_table() {
        let cases = [
            ("0", Some(2)),
            ("3", Some(2)),
            ("4", Some(3)),
            ("6", Some(3)),
            ("7", Some(4)),
            ("8", Some(4)),
            ("9", Some(5)),
            ("10", Some(5)),
            ("11", None),
            ("-1", None),
            ("Low", Some(2)),
            ("MEDIUM", Some(3)),
            ("high", Some(4)),
            ("Very-High", Some(5)),
            ("very high", Some(5)),
            ("Unknown", Some(0)),
            ("urgent", None),
        ];
        for (s, want) in cases {
            assert_eq!(cef_severity(s).map(Severity::id), want, "{s}");
        }
    }

    #[test]
    fn categories() {
        assert_eq!(
            class_for_category("/Authentication/Verify"),
            Some("authentication")
        );
        assert_eq!(
            class_for_category("/IDS/Network"),
            Some("detection_finding")
        );
        assert_eq!(class_for_category("Traffic"), Some("network_activity"));
        assert_eq!(class_for_category("bids"), None);
        assert_eq!(class_for_category("System"), None);
    }

    #[test]
    fn plain_syslog_defaults() {
        let i = input("<11>Oct 11 22:14:15 10.1.2.3 app[9]: disk failure on /dev/sda");
        assert_eq!(i.time, Some(utc("2026-10-11T22:14:15Z")));
        assert_eq!(i.class.as_deref(), Some("log"));
        assert_eq!(i.severity, Some(Severity::HIGH));
        assert_eq!(i.host.as_deref(), Some("10.1.2.3"));
        assert_eq!(i.ip.as_deref(), Some("10.1.2.3"));
        assert_eq!(i.message.as_deref(), Some("disk failure on /dev/sda"));
        assert_eq!(i.fields["syslog.procid"], "9");
        assert_eq!(i.fields["syslog.msg"], "disk failure on /dev/sda");
        assert_eq!(i.domain, None);
    }

    #[test]
    fn cef_authentication_picks_target_user_and_host_and_outcome() {
        let i = input(
            "<86>Oct 11 22:14:15 dc01 CEF:0|Acme|Directory|2.1|4625|Logon failure|High|cat=/Authentication/Verify suser=WS12$ duser=jdoe dhost=srv-fin-02 dvchost=dc01 src=10.2.3.4 outcome=Failure",
        );
        assert_eq!(i.class.as_deref(), Some("authentication"));
        assert_eq!(i.activity.as_deref(), Some("logon_failed"));
        assert_eq!(i.user.as_deref(), Some("jdoe"));
        assert_eq!(i.host.as_deref(), Some("srv-fin-02"));
        assert_eq!(i.severity, Some(Severity::HIGH));
        assert_eq!(i.message.as_deref(), Some("Logon failure"));
        assert_eq!(i.src_ip.as_deref(), Some("10.2.3.4"));
    }

    #[test]
    fn device_times_override_only_when_trustworthy() {
        let i = input("<134>Oct 11 22:14:15 fw CEF:0|V|P|1|1|n|3|rt=1777860787000");
        assert_eq!(i.time, Some(utc("2026-05-04T02:13:07Z")));
        let i = input("<134>Oct 11 22:14:15 fw CEF:0|V|P|1|1|n|3|end=May 04 2026 04:13:07 CEST");
        assert_eq!(i.time, Some(utc("2026-05-04T02:13:07Z")));
        let i = input("<134>Oct 11 22:14:15 fw CEF:0|V|P|1|1|n|3|rt=May 04 04:13:07");
        assert_eq!(i.time, Some(utc("2026-10-11T22:14:15Z")));
        let i = input("<134>fw: CEF:0|V|P|1|1|n|3|rt=May 04 2026 04:13:07");
        assert_eq!(i.time, Some(utc("2026-05-04T04:13:07Z")));
        let i = input("<134>Oct 11 22:14:15 fw CEF:0|V|P|1|1|n|3|rt=garbage");
        assert_eq!(i.time, Some(utc("2026-10-11T22:14:15Z")));
        let i = input("<134>fw: CEF:0|V|P|1|1|n|3|src=1.2.3.4");
        assert_eq!(i.time, None);
    }

    #[test]
    fn leef_dev_time_with_and_without_format_and_sev() {
        let i = input(
            "<13>Oct 11 22:14:15 qr LEEF:2.0|V|P|1|Deny|^|devTime=2026-05-04 04:13:07+0200^devTimeFormat=yyyy-MM-dd HH:mm:ssZ^sev=9^usrName=amy",
        );
        assert_eq!(i.time, Some(utc("2026-05-04T02:13:07Z")));
        assert_eq!(i.severity, Some(Severity::CRITICAL));
        assert_eq!(i.user.as_deref(), Some("amy"));
        assert_eq!(i.message.as_deref(), Some("Deny"));
        let i = input("<13>Oct 11 22:14:15 qr LEEF:1.0|V|P|1|E|devTime=1777860787000");
        assert_eq!(i.time, Some(utc("2026-05-04T02:13:07Z")));
        assert_eq!(i.severity, Some(Severity::LOW));
    }

    #[test]
    fn extensions_cannot_overwrite_reserved_keys() {
        let i = input(
            "<13>Oct 11 22:14:15 h CEF:0|V|P|1|1|n|3|cef.name=evil syslog.hostname=x other=1",
        );
        assert_eq!(i.fields["cef.name"], "n");
        assert_eq!(i.fields["syslog.hostname"], "h");
        assert_eq!(i.fields["other"], "1");
    }
}
