//! ONVIF events: WS-BaseNotification `Notify` bodies (a SOAP envelope or a bare `Notify`) with
//! one or more `NotificationMessage`s, each a topic and a `tt:Message` of `SimpleItem`s under
//! `Source`, `Key` and `Data`; and their mapping to the model.
//!
//! Mapping ([`to_input`]): access-control topics become `physical_access` — the decision
//! (`AccessGranted` → `granted`) kept apart from the use (`AccessTaken` → `taken`,
//! `AccessNotTaken` → `not_taken`), so that a passage without a grant (tailgating) shows;
//! `Denied/*` → `denied` with the reason, `Duress` → `duress`, anti-passback → `anti_passback`.
//! Door topics become `alarm` (`forced`, `held_open`, `tamper`, `fault`, `door_opened`...);
//! video and I/O topics become `video_analytic`. The access point or door token is the
//! `portal`, the card or credential the `badge`, the holder's name the `person`; enrichment
//! finds the zone and site from the portal.
//!
//! The XML reader expands no entities beyond the five predefined ones and reads no DTD, so
//! hostile documents cannot make it fetch or grow anything; size, depth and counts are bounded.

use chrono::{DateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as Xml};
use serde_json::{Map, Value};
use tocsin_model::{EventInput, Severity};

use crate::ParseError;

const F: &str = "onvif";

/// Limits on one Notify body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnvifLimits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Most `NotificationMessage`s in one body.
    pub max_messages: usize,
    /// Most `SimpleItem`s in one message.
    pub max_items: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
}

impl Default for OnvifLimits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024,
            max_messages: 100,
            max_items: 64,
            max_depth: 32,
        }
    }
}

/// One `NotificationMessage`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    /// The topic as sent, e.g. `tns1:AccessControl/AccessGranted/Credential`.
    pub topic: String,
    /// `wsa:Address` of the `ProducerReference`, when sent.
    pub producer: Option<String>,
    /// The message's `UtcTime` attribute, as sent.
    pub utc_time: Option<String>,
    /// `Initialized`, `Changed` or `Deleted`.
    pub property_operation: Option<String>,
    /// `SimpleItem`s under `Source` (what produced it: access point, video source, input).
    pub source: Vec<(String, String)>,
    /// `SimpleItem`s under `Key`.
    pub key: Vec<(String, String)>,
    /// `SimpleItem`s under `Data` (state, credential, reason...).
    pub data: Vec<(String, String)>,
}

impl Notification {
    /// The topic without namespace prefixes: `AccessControl/AccessGranted/Credential`.
    pub fn topic_path(&self) -> String {
        self.topic
            .trim()
            .split('/')
            .map(|seg| seg.rsplit_once(':').map_or(seg, |(_, s)| s))
            .collect::<Vec<_>>()
            .join("/")
    }

    fn item<'a>(items: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
        names.iter().find_map(|n| {
            items
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.trim().is_empty())
        })
    }

    fn any(&self, names: &[&str]) -> Option<&str> {
        Self::item(&self.data, names)
            .or_else(|| Self::item(&self.source, names))
            .or_else(|| Self::item(&self.key, names))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Source,
    Key,
    Data,
}

fn err(offset: Option<usize>, reason: impl Into<String>) -> ParseError {
    ParseError::new(F, offset, reason)
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        if a.key.local_name().as_ref() == name {
            return a
                .unescape_value()
                .map(|v| Some(v.into_owned()))
                .map_err(|e| format!("bad attribute value: {e}"));
        }
    }
    Ok(None)
}

/// Reads every `NotificationMessage` of a Notify body.
pub fn parse_notify(bytes: &[u8], limits: &OnvifLimits) -> Result<Vec<Notification>, ParseError> {
    if bytes.len() > limits.max_bytes {
        return Err(err(
            None,
            format!(
                "body is {} bytes, more than the limit of {}",
                bytes.len(),
                limits.max_bytes
            ),
        ));
    }
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut out: Vec<Notification> = Vec::new();
    let mut current: Option<Notification> = None;
    let mut section = Section::None;
    let mut text_target: Option<&'static str> = None;
    let mut saw_notify = false;
    loop {
        let pos = usize::try_from(reader.buffer_position()).ok();
        let ev = reader
            .read_event()
            .map_err(|e| err(pos, format!("malformed xml: {e}")))?;
        match ev {
            Xml::Start(ref e) | Xml::Empty(ref e) => {
                let is_start = matches!(ev, Xml::Start(_));
                let name = e.local_name().as_ref().to_vec();
                if stack.len() >= limits.max_depth {
                    return Err(err(
                        pos,
                        format!("nested deeper than {} elements", limits.max_depth),
                    ));
                }
                match name.as_slice() {
                    b"Notify" => saw_notify = true,
                    b"NotificationMessage" => {
                        if out.len() >= limits.max_messages {
                            return Err(err(
                                pos,
                                format!(
                                    "more than {} NotificationMessage elements",
                                    limits.max_messages
                                ),
                            ));
                        }
                        current = Some(Notification::default());
                    }
                    b"Topic" if current.is_some() => text_target = Some("topic"),
                    b"Address"
                        if current.is_some()
                            && stack.last().is_some_and(|p| p == b"ProducerReference") =>
                    {
                        text_target = Some("producer");
                    }
                    b"Message" => {
                        if let Some(n) = current.as_mut()
                            && stack.last().is_some_and(|p| p == b"Message")
                        {
                            n.utc_time = attr(e, b"UtcTime").map_err(|r| err(pos, r))?;
                            n.property_operation =
                                attr(e, b"PropertyOperation").map_err(|r| err(pos, r))?;
                        }
                    }
                    b"Source" if current.is_some() => section = Section::Source,
                    b"Key" if current.is_some() => section = Section::Key,
                    b"Data" if current.is_some() => section = Section::Data,
                    b"SimpleItem" => {
                        if let Some(n) = current.as_mut() {
                            let count = n.source.len() + n.key.len() + n.data.len();
                            if count >= limits.max_items {
                                return Err(err(
                                    pos,
                                    format!(
                                        "more than {} SimpleItem elements in one message",
                                        limits.max_items
                                    ),
                                ));
                            }
                            let item_name = attr(e, b"Name")
                                .map_err(|r| err(pos, r))?
                                .ok_or_else(|| err(pos, "SimpleItem without Name"))?;
                            let value = attr(e, b"Value")
                                .map_err(|r| err(pos, r))?
                                .unwrap_or_default();
                            match section {
                                Section::Source => n.source.push((item_name, value)),
                                Section::Key => n.key.push((item_name, value)),
                                Section::Data => n.data.push((item_name, value)),
                                Section::None => {}
                            }
                        }
                    }
                    _ => {}
                }
                if is_start {
                    stack.push(name);
                }
            }
            Xml::End(e) => {
                let name = e.local_name().as_ref().to_vec();
                stack.pop();
                text_target = None;
                match name.as_slice() {
                    b"Source" | b"Key" | b"Data" => section = Section::None,
                    b"NotificationMessage" => {
                        if let Some(n) = current.take() {
                            if n.topic.trim().is_empty() {
                                return Err(err(
                                    pos,
                                    format!("NotificationMessage {} has no Topic", out.len() + 1),
                                ));
                            }
                            out.push(n);
                        }
                    }
                    _ => {}
                }
            }
            Xml::Text(t) => {
                if let (Some(target), Some(n)) = (text_target, current.as_mut()) {
                    let text = t
                        .unescape()
                        .map_err(|e| err(pos, format!("bad text: {e}")))?;
                    match target {
                        "topic" => n.topic.push_str(text.trim()),
                        _ => n.producer = Some(text.trim().to_owned()),
                    }
                }
            }
            Xml::CData(t) => {
                if let (Some("topic"), Some(n)) = (text_target, current.as_mut()) {
                    n.topic.push_str(String::from_utf8_lossy(&t).trim());
                }
            }
            Xml::DocType(_) => return Err(err(pos, "a DTD is not accepted")),
            Xml::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(err(None, "document ends inside an element"));
    }
    if !saw_notify {
        return Err(err(None, "no Notify element"));
    }
    if out.is_empty() {
        return Err(err(None, "Notify holds no NotificationMessage"));
    }
    Ok(out)
}

fn truthy(v: Option<&str>) -> Option<bool> {
    match v?.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "active" => Some(true),
        "false" | "0" | "off" | "inactive" => Some(false),
        _ => None,
    }
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

struct Meaning {
    class: &'static str,
    activity: String,
    severity: Severity,
    reason: Option<String>,
}

fn meaning(n: &Notification, path: &str) -> Meaning {
    let m = |class, activity: &str, severity| Meaning {
        class,
        activity: activity.to_owned(),
        severity,
        reason: None,
    };
    let state = n.any(&["State"]);
    let on_off = |on: &str, off: &str, keys: &[&str], class, sev| match truthy(n.any(keys)) {
        Some(false) => m(class, off, Severity::INFORMATIONAL),
        _ => m(class, on, sev),
    };
    let lower = path.to_ascii_lowercase();
    let last = path.rsplit('/').next().unwrap_or(path);
    const PA: &str = "physical_access";
    const AL: &str = "alarm";
    const VA: &str = "video_analytic";
    if let Some(rest) = path.strip_prefix("AccessControl/") {
        if lower.contains("passback") {
            return m(PA, "anti_passback", Severity::MEDIUM);
        }
        if rest.starts_with("AccessGranted") {
            return m(PA, "granted", Severity::INFORMATIONAL);
        }
        if rest.starts_with("AccessTaken") {
            return m(PA, "taken", Severity::INFORMATIONAL);
        }
        if rest.starts_with("AccessNotTaken") {
            return m(PA, "not_taken", Severity::LOW);
        }
        if rest.starts_with("Duress") {
            return m(PA, "duress", Severity::CRITICAL);
        }
        if let Some(why) = rest.strip_prefix("Denied") {
            let from_topic = why.trim_start_matches('/');
            let reason = n
                .any(&["Reason"])
                .map(str::to_owned)
                .or_else(|| (!from_topic.is_empty()).then(|| from_topic.to_owned()));
            return Meaning {
                reason,
                ..m(PA, "denied", Severity::MEDIUM)
            };
        }
        if rest.starts_with("Request") {
            return m(PA, "request", Severity::INFORMATIONAL);
        }
        return m(PA, &snake(last), Severity::LOW);
    }
    if let Some(rest) = path.strip_prefix("Door/State/") {
        let st = state.unwrap_or("").to_ascii_lowercase();
        return match rest {
            "DoorPhysicalState" => match st.as_str() {
                "open" => m(AL, "door_opened", Severity::INFORMATIONAL),
                "closed" => m(AL, "door_closed", Severity::INFORMATIONAL),
                "fault" => m(AL, "fault", Severity::MEDIUM),
                _ => m(AL, "door_state_unknown", Severity::LOW),
            },
            "DoorAlarm" => match st.as_str() {
                "doorforcedopen" | "forced" => m(AL, "forced", Severity::HIGH),
                "dooropentoolong" | "heldopen" => m(AL, "held_open", Severity::MEDIUM),
                _ => m(AL, "door_alarm_restore", Severity::LOW),
            },
            "DoorTamper" => match st.as_str() {
                "nottamper" | "notintamper" | "normal" => m(AL, "tamper_restore", Severity::LOW),
                _ => m(AL, "tamper", Severity::HIGH),
            },
            "DoorFault" => match st.as_str() {
                "notinfault" | "normal" => m(AL, "fault_restore", Severity::LOW),
                _ => m(AL, "fault", Severity::MEDIUM),
            },
            "LockPhysicalState" => match st.as_str() {
                "locked" => m(AL, "locked", Severity::INFORMATIONAL),
                "unlocked" => m(AL, "unlocked", Severity::INFORMATIONAL),
                _ => m(AL, "lock_state_unknown", Severity::LOW),
            },
            "DoorMode" => m(AL, "door_mode", Severity::INFORMATIONAL),
            other => m(AL, &snake(other), Severity::LOW),
        };
    }
    if path.starts_with("Door/") {
        return m(AL, &snake(last), Severity::LOW);
    }
    match path {
        "VideoSource/MotionAlarm" => on_off("motion", "motion_end", &["State"], VA, Severity::LOW),
        "RuleEngine/CellMotionDetector/Motion" => {
            on_off("motion", "motion_end", &["IsMotion"], VA, Severity::LOW)
        }
        "RuleEngine/LineDetector/Crossed" => m(VA, "line_crossed", Severity::LOW),
        "RuleEngine/FieldDetector/ObjectsInside" => on_off(
            "object_inside",
            "object_left",
            &["IsInside"],
            VA,
            Severity::LOW,
        ),
        "Device/Trigger/DigitalInput" => on_off(
            "input_active",
            "input_inactive",
            &["LogicalState", "State"],
            VA,
            Severity::LOW,
        ),
        "VideoSource/GlobalSceneChange/ImagingService"
        | "VideoSource/GlobalSceneChange/AnalyticsService"
        | "VideoSource/ImageTooBlurry/ImagingService"
        | "VideoSource/ImageTooBlurry/AnalyticsService"
        | "VideoSource/ImageTooDark/ImagingService"
        | "VideoSource/ImageTooBright/ImagingService" => {
            on_off("tamper", "tamper_restore", &["State"], VA, Severity::HIGH)
        }
        "VideoSource/SignalLoss" => on_off(
            "video_loss",
            "video_restore",
            &["State"],
            VA,
            Severity::HIGH,
        ),
        _ => m(VA, &snake(last), Severity::LOW),
    }
}

/// Maps one notification to an event input (see the module docs). `time` is the message's
/// `UtcTime` when it reads as RFC 3339, else `received`.
pub fn to_input(n: &Notification, received: DateTime<Utc>) -> EventInput {
    let path = n.topic_path();
    let mut mean = meaning(n, &path);
    let portal = n
        .any(&["AccessPointToken", "AccessPoint", "DoorToken", "Door"])
        .map(str::to_owned);
    let badge = n
        .any(&[
            "Card",
            "CredentialNumber",
            "CredentialId",
            "CredentialToken",
            "Credential",
        ])
        .map(str::to_owned);
    let person = n
        .any(&["CredentialHolderName", "UserName"])
        .map(str::to_owned);
    let asset = n
        .any(&[
            "VideoSourceToken",
            "VideoSourceConfigurationToken",
            "InputToken",
            "VideoAnalyticsConfigurationToken",
            "Source",
        ])
        .map(str::to_owned);
    let time = n
        .utc_time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut fields = Map::new();
    fields.insert("Topic".into(), Value::from(n.topic.as_str()));
    fields.insert("topic".into(), Value::from(path.as_str()));
    if let Some(op) = &n.property_operation {
        fields.insert("PropertyOperation".into(), Value::from(op.as_str()));
    }
    if let Some(p) = &n.producer {
        fields.insert("producer".into(), Value::from(p.as_str()));
    }
    for (name, items) in [("source", &n.source), ("key", &n.key), ("data", &n.data)] {
        if !items.is_empty() {
            let obj: Map<String, Value> = items
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            fields.insert(name.into(), Value::Object(obj));
        }
    }
    if let Some(r) = mean.reason.take() {
        fields.insert("reason".into(), Value::from(r));
    }
    let mut message = format!("{} ({})", mean.activity.replace('_', " "), path);
    if let Some(p) = &portal {
        message.push_str(&format!(" at {p}"));
    }
    if let Some(b) = &badge {
        message.push_str(&format!(", credential {b}"));
    }
    if let Some(r) = fields.get("reason").and_then(Value::as_str) {
        message.push_str(&format!(", reason {r}"));
    }
    EventInput {
        time: Some(time.unwrap_or(received)),
        domain: Some("physical".into()),
        class: Some(mean.class.to_owned()),
        activity: Some(mean.activity),
        severity: Some(mean.severity),
        portal,
        badge,
        person,
        asset,
        message: Some(message),
        fields,
        ..EventInput::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(topic: &str, source: &str, data: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">
<s:Body><wsnt:Notify><wsnt:NotificationMessage>
<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic>
<wsnt:Message><tt:Message UtcTime="2026-05-04T02:13:07Z" PropertyOperation="Changed">
<tt:Source>{source}</tt:Source><tt:Data>{data}</tt:Data>
</tt:Message></wsnt:Message></wsnt:NotificationMessage></wsnt:Notify></s:Body></s:Envelope>"#
        )
    }

    fn one(topic: &str, source: &str, data: &str) -> EventInput {
        let ns = parse_notify(
            notify(topic, source, data).as_bytes(),
            &OnvifLimits::default(),
        )
        .unwrap();
        assert_eq!(ns.len(), 1);
        to_input(&ns[0], "2026-05-04T02:14:00Z".parse().unwrap())
    }

    #[test]
    fn decision_and_use_stay_apart() {
        let ap = r#"<tt:SimpleItem Name="AccessPointToken" Value="AP-DC2-SRV"/>"#;
        let g = one(
            "tns1:AccessControl/AccessGranted/Credential",
            ap,
            r#"<tt:SimpleItem Name="CredentialToken" Value="0x3F21A9"/><tt:SimpleItem Name="CredentialHolderName" Value="Ana Silva"/>"#,
        );
        assert_eq!(g.activity.as_deref(), Some("granted"));
        assert_eq!(g.portal.as_deref(), Some("AP-DC2-SRV"));
        assert_eq!(g.badge.as_deref(), Some("0x3F21A9"));
        assert_eq!(g.person.as_deref(), Some("Ana Silva"));
        assert_eq!(g.time, Some("2026-05-04T02:13:07Z".parse().unwrap()));
        let t = one("tns1:AccessControl/AccessTaken/Credential", ap, "");
        assert_eq!(t.activity.as_deref(), Some("taken"));
        assert_eq!(t.class.as_deref(), Some("physical_access"));
        let d = one(
            "tns1:AccessControl/Denied/CredentialNotFound/Card",
            ap,
            r#"<tt:SimpleItem Name="Card" Value="0xDEAD01"/>"#,
        );
        assert_eq!(d.activity.as_deref(), Some("denied"));
        assert_eq!(d.fields["reason"], "CredentialNotFound/Card");
        let a = one("tns1:AccessControl/Denied/AntipassbackViolation", ap, "");
        assert_eq!(a.activity.as_deref(), Some("anti_passback"));
    }

    #[test]
    fn doors_and_video() {
        let door = r#"<tt:SimpleItem Name="DoorToken" Value="DC-SRV-ROOM-A"/>"#;
        let f = one(
            "tns1:Door/State/DoorAlarm",
            door,
            r#"<tt:SimpleItem Name="State" Value="DoorForcedOpen"/>"#,
        );
        assert_eq!(
            (f.class.as_deref(), f.activity.as_deref()),
            (Some("alarm"), Some("forced"))
        );
        assert_eq!(f.portal.as_deref(), Some("DC-SRV-ROOM-A"));
        let m = one(
            "tns1:RuleEngine/CellMotionDetector/Motion",
            r#"<tt:SimpleItem Name="VideoSourceConfigurationToken" Value="CAM-HQ-01"/>"#,
            r#"<tt:SimpleItem Name="IsMotion" Value="false"/>"#,
        );
        assert_eq!(m.activity.as_deref(), Some("motion_end"));
        assert_eq!(m.asset.as_deref(), Some("CAM-HQ-01"));
    }

    #[test]
    fn malformed_and_oversized_bodies_are_errors() {
        let lim = OnvifLimits::default();
        assert!(parse_notify(b"<Notify><NotificationMessage>", &lim).is_err());
        assert!(parse_notify(b"<Other/>", &lim).is_err());
        assert!(parse_notify(b"<Notify></Notify>", &lim).is_err());
        let dtd = b"<!DOCTYPE x [<!ENTITY a \"b\">]><Notify/>";
        assert!(parse_notify(dtd, &lim).is_err());
        let small = OnvifLimits {
            max_bytes: 10,
            ..lim
        };
        assert!(parse_notify(notify("tns1:X", "", "").as_bytes(), &small).is_err());
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        let e = parse_notify(deep.as_bytes(), &lim).unwrap_err();
        assert!(e.reason.contains("deeper"), "{e}");
    }
}
