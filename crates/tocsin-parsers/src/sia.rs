//! Alarm panel event payloads: SIA DC-03 event codes (as carried by `SIA-DCS` in DC-09) and
//! Ademco Contact ID (as carried by `ADM-CID`), each turned into [`PanelEvent`]s that say which
//! class and activity of the model they mean, and whether they are a new event or a restore.
//!
//! ```
//! use tocsin_parsers::sia::{self, Qualifier};
//!
//! let events = sia::parse_sia("#1234|Nri1/BA015").unwrap();
//! assert_eq!(events[0].activity, "burglary");
//! assert_eq!(events[0].zone.as_deref(), Some("015"));
//! let events = sia::parse_contact_id("#1234|3130 01 015").unwrap();
//! assert_eq!(events[0].qualifier, Qualifier::Restore);
//! assert_eq!(events[0].activity, "burglary_restore");
//! ```

use serde_json::{Map, Value};
use tocsin_model::Severity;

use crate::ParseError;

/// Longest payload accepted (a DC-09 frame holds at most a few hundred bytes of data).
pub const MAX_PAYLOAD_BYTES: usize = 2048;
/// Most events taken from one SIA payload (`/`-separated).
pub const MAX_EVENTS: usize = 32;

/// Whether a panel event starts something or ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// A new event (SIA `N`, Contact ID `1`), or an opening (disarm) for open/close codes.
    New,
    /// The condition has ended (SIA restore codes such as `BR`, Contact ID `3`).
    Restore,
    /// Reported before and still present (Contact ID `6`, SIA `O` old event).
    Previous,
}

impl Qualifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Qualifier::New => "new",
            Qualifier::Restore => "restore",
            Qualifier::Previous => "previous",
        }
    }
}

/// What a panel's event number (zone or user) designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Address {
    Zone,
    User,
    Door,
    None,
}

/// One alarm panel event, mapped to the model's class and activity.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelEvent {
    /// `sia` (DC-03) or `contact_id`.
    pub standard: &'static str,
    /// The code as sent: `BA`, `OP` (SIA) or `130`, `401` (Contact ID).
    pub code: String,
    pub qualifier: Qualifier,
    /// `alarm` or `physical_access`.
    pub class: &'static str,
    /// `burglary`, `panic`, `tamper`, `forced`, `granted`...; restores end in `_restore`.
    pub activity: String,
    pub severity: Severity,
    /// What the code means, in words.
    pub description: &'static str,
    /// Partition or area (SIA `ri`, Contact ID group).
    pub partition: Option<String>,
    /// Zone (detector) number.
    pub zone: Option<String>,
    /// User (code holder) number.
    pub user: Option<String>,
    /// Door number (SIA access codes).
    pub door: Option<String>,
    /// Free text sent along (SIA `^...^`).
    pub text: Option<String>,
    /// The account named inside the payload (`#1234|`), if any.
    pub account: Option<String>,
}

impl PanelEvent {
    /// The event's facts as record fields, kept in `fields` of the event.
    pub fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("standard".into(), Value::from(self.standard));
        m.insert("code".into(), Value::from(self.code.as_str()));
        m.insert("qualifier".into(), Value::from(self.qualifier.as_str()));
        m.insert(
            "restore".into(),
            Value::from(self.qualifier == Qualifier::Restore),
        );
        m.insert("description".into(), Value::from(self.description));
        for (k, v) in [
            ("partition", &self.partition),
            ("zone", &self.zone),
            ("user", &self.user),
            ("door", &self.door),
            ("text", &self.text),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), Value::from(v.as_str()));
            }
        }
        m
    }
}

/// (code, class, activity, restore, severity, address, description)
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    bool,
    Severity,
    Address,
    &'static str,
);

const A: &str = "alarm";
const P: &str = "physical_access";

/// SIA DC-03 event codes. A restore code carries the activity of the event it ends.
#[rustfmt::skip]
const SIA_CODES: &[Entry] = &[
    ("BA", A, "burglary", false, Severity::HIGH, Address::Zone, "burglary alarm"),
    ("BR", A, "burglary", true, Severity::LOW, Address::Zone, "burglary restoral"),
    ("BB", A, "bypass", false, Severity::LOW, Address::Zone, "burglary bypass"),
    ("BU", A, "bypass", true, Severity::INFORMATIONAL, Address::Zone, "burglary unbypass"),
    ("BT", A, "trouble", false, Severity::MEDIUM, Address::Zone, "burglary trouble"),
    ("BJ", A, "trouble", true, Severity::LOW, Address::Zone, "burglary trouble restoral"),
    ("BV", A, "intrusion", false, Severity::CRITICAL, Address::Zone, "burglary verified"),
    ("PA", A, "panic", false, Severity::CRITICAL, Address::Zone, "panic alarm"),
    ("PR", A, "panic", true, Severity::LOW, Address::Zone, "panic restoral"),
    ("HA", A, "holdup", false, Severity::CRITICAL, Address::Zone, "holdup alarm"),
    ("HR", A, "holdup", true, Severity::LOW, Address::Zone, "holdup restoral"),
    ("TA", A, "tamper", false, Severity::HIGH, Address::Zone, "tamper alarm"),
    ("TR", A, "tamper", true, Severity::LOW, Address::Zone, "tamper restoral"),
    ("ES", A, "tamper", false, Severity::HIGH, Address::Zone, "expansion device tamper"),
    ("EJ", A, "tamper", true, Severity::LOW, Address::Zone, "expansion device tamper restoral"),
    ("JA", A, "code_tamper", false, Severity::HIGH, Address::User, "user code tamper"),
    ("FA", A, "fire", false, Severity::CRITICAL, Address::Zone, "fire alarm"),
    ("FR", A, "fire", true, Severity::LOW, Address::Zone, "fire restoral"),
    ("GA", A, "gas", false, Severity::CRITICAL, Address::Zone, "gas alarm"),
    ("GR", A, "gas", true, Severity::LOW, Address::Zone, "gas restoral"),
    ("WA", A, "water", false, Severity::HIGH, Address::Zone, "water alarm"),
    ("WR", A, "water", true, Severity::LOW, Address::Zone, "water restoral"),
    ("KA", A, "heat", false, Severity::HIGH, Address::Zone, "heat alarm"),
    ("KR", A, "heat", true, Severity::LOW, Address::Zone, "heat restoral"),
    ("MA", A, "medical", false, Severity::CRITICAL, Address::Zone, "medical alarm"),
    ("MR", A, "medical", true, Severity::LOW, Address::Zone, "medical restoral"),
    ("OP", A, "disarmed", false, Severity::INFORMATIONAL, Address::User, "opening report"),
    ("CL", A, "armed", false, Severity::INFORMATIONAL, Address::User, "closing report"),
    ("OA", A, "disarmed", false, Severity::INFORMATIONAL, Address::None, "automatic opening"),
    ("CA", A, "armed", false, Severity::INFORMATIONAL, Address::None, "automatic closing"),
    ("OR", A, "disarmed_after_alarm", false, Severity::LOW, Address::User, "disarm from alarm"),
    ("AT", A, "power_failure", false, Severity::MEDIUM, Address::Zone, "ac trouble"),
    ("AR", A, "power_failure", true, Severity::LOW, Address::Zone, "ac restoral"),
    ("YT", A, "low_battery", false, Severity::MEDIUM, Address::Zone, "system battery trouble"),
    ("YR", A, "low_battery", true, Severity::LOW, Address::Zone, "system battery restoral"),
    ("XT", A, "low_battery", false, Severity::LOW, Address::Zone, "transmitter battery trouble"),
    ("XR", A, "low_battery", true, Severity::INFORMATIONAL, Address::Zone, "transmitter battery restoral"),
    ("YC", A, "communication_failure", false, Severity::HIGH, Address::None, "communications fail"),
    ("YK", A, "communication_failure", true, Severity::LOW, Address::None, "communications restoral"),
    ("DF", A, "forced", false, Severity::HIGH, Address::Door, "door forced"),
    ("DN", A, "held_open", false, Severity::MEDIUM, Address::Door, "door left open"),
    ("DR", A, "door_alarm", true, Severity::LOW, Address::Door, "door restoral"),
    ("DT", A, "fault", false, Severity::MEDIUM, Address::Door, "access trouble"),
    ("DG", P, "granted", false, Severity::INFORMATIONAL, Address::Door, "access granted"),
    ("DD", P, "denied", false, Severity::MEDIUM, Address::Door, "access denied"),
    ("DK", P, "lockout", false, Severity::MEDIUM, Address::Door, "access lockout"),
    ("DO", P, "door_opened", false, Severity::INFORMATIONAL, Address::Door, "access open"),
    ("DC", P, "door_closed", false, Severity::INFORMATIONAL, Address::Door, "access closed"),
    ("RP", A, "test", false, Severity::INFORMATIONAL, Address::None, "automatic test"),
    ("RX", A, "test", false, Severity::INFORMATIONAL, Address::None, "manual test"),
];

/// Contact ID event codes. Open/close codes (4xx below 410) read qualifier 1 as disarm and 3 as
/// arm; for every other code 3 is a restore.
#[rustfmt::skip]
const CID_CODES: &[Entry] = &[
    ("100", A, "medical", false, Severity::CRITICAL, Address::Zone, "medical"),
    ("101", A, "medical", false, Severity::CRITICAL, Address::Zone, "personal emergency"),
    ("110", A, "fire", false, Severity::CRITICAL, Address::Zone, "fire"),
    ("111", A, "smoke", false, Severity::CRITICAL, Address::Zone, "smoke"),
    ("120", A, "panic", false, Severity::CRITICAL, Address::Zone, "panic"),
    ("121", A, "duress", false, Severity::CRITICAL, Address::User, "duress"),
    ("122", A, "panic", false, Severity::CRITICAL, Address::Zone, "silent panic"),
    ("123", A, "panic", false, Severity::CRITICAL, Address::Zone, "audible panic"),
    ("130", A, "burglary", false, Severity::HIGH, Address::Zone, "burglary"),
    ("131", A, "burglary", false, Severity::HIGH, Address::Zone, "perimeter burglary"),
    ("132", A, "burglary", false, Severity::HIGH, Address::Zone, "interior burglary"),
    ("133", A, "burglary", false, Severity::HIGH, Address::Zone, "24 hour burglary"),
    ("134", A, "burglary", false, Severity::HIGH, Address::Zone, "entry/exit burglary"),
    ("137", A, "tamper", false, Severity::HIGH, Address::Zone, "tamper"),
    ("139", A, "intrusion", false, Severity::CRITICAL, Address::Zone, "intrusion verified"),
    ("144", A, "tamper", false, Severity::HIGH, Address::Zone, "sensor tamper"),
    ("145", A, "tamper", false, Severity::HIGH, Address::Zone, "expansion module tamper"),
    ("150", A, "alarm", false, Severity::HIGH, Address::Zone, "24 hour non-burglary"),
    ("151", A, "gas", false, Severity::CRITICAL, Address::Zone, "gas detected"),
    ("154", A, "water", false, Severity::HIGH, Address::Zone, "water leakage"),
    ("158", A, "heat", false, Severity::HIGH, Address::Zone, "high temperature"),
    ("301", A, "power_failure", false, Severity::MEDIUM, Address::Zone, "ac loss"),
    ("302", A, "low_battery", false, Severity::MEDIUM, Address::Zone, "low system battery"),
    ("311", A, "low_battery", false, Severity::MEDIUM, Address::Zone, "battery missing"),
    ("350", A, "communication_failure", false, Severity::HIGH, Address::None, "communication trouble"),
    ("354", A, "communication_failure", false, Severity::HIGH, Address::None, "failure to communicate"),
    ("373", A, "fault", false, Severity::MEDIUM, Address::Zone, "fire loop trouble"),
    ("380", A, "fault", false, Severity::MEDIUM, Address::Zone, "sensor trouble"),
    ("383", A, "tamper", false, Severity::HIGH, Address::Zone, "sensor tamper"),
    ("401", A, "open_close", false, Severity::INFORMATIONAL, Address::User, "open/close by user"),
    ("402", A, "open_close", false, Severity::INFORMATIONAL, Address::User, "group open/close"),
    ("403", A, "open_close", false, Severity::INFORMATIONAL, Address::User, "automatic open/close"),
    ("406", A, "cancel", false, Severity::LOW, Address::User, "cancel by user"),
    ("407", A, "open_close", false, Severity::INFORMATIONAL, Address::User, "remote arm/disarm"),
    ("408", A, "open_close", false, Severity::INFORMATIONAL, Address::User, "quick arm"),
    ("409", A, "open_close", false, Severity::INFORMATIONAL, Address::User, "keyswitch open/close"),
    ("421", P, "denied", false, Severity::MEDIUM, Address::User, "access denied"),
    ("422", P, "granted", false, Severity::INFORMATIONAL, Address::User, "access report by user"),
    ("423", A, "forced", false, Severity::HIGH, Address::Zone, "forced access"),
    ("424", P, "denied", false, Severity::MEDIUM, Address::User, "egress denied"),
    ("425", P, "granted", false, Severity::INFORMATIONAL, Address::User, "egress granted"),
    ("426", A, "held_open", false, Severity::MEDIUM, Address::Zone, "access door propped open"),
    ("570", A, "bypass", false, Severity::LOW, Address::Zone, "zone bypass"),
    ("601", A, "test", false, Severity::INFORMATIONAL, Address::None, "manual test"),
    ("602", A, "test", false, Severity::INFORMATIONAL, Address::None, "periodic test"),
    ("627", A, "program_mode", false, Severity::MEDIUM, Address::None, "program mode entry"),
];

fn lookup(table: &'static [Entry], code: &str) -> Option<&'static Entry> {
    table.iter().find(|e| e.0 == code)
}

fn err(format: &'static str, offset: Option<usize>, reason: impl Into<String>) -> ParseError {
    ParseError::new(format, offset, reason)
}

/// Splits `#acct|rest` into the account and the rest; a payload without `#` has no account.
fn split_account<'a>(
    format: &'static str,
    data: &'a str,
) -> Result<(Option<String>, &'a str), ParseError> {
    match data.strip_prefix('#') {
        Some(rest) => {
            let (acct, body) = rest
                .split_once('|')
                .ok_or_else(|| err(format, Some(0), "account `#...` is not followed by `|`"))?;
            if acct.is_empty() || acct.len() > 16 || !acct.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(
                    format,
                    Some(1),
                    format!("account {acct:?} is not 1 to 16 hex digits"),
                ));
            }
            Ok((Some(acct.to_owned()), body))
        }
        None => Ok((None, data)),
    }
}

fn check_size(format: &'static str, data: &str) -> Result<(), ParseError> {
    if data.len() > MAX_PAYLOAD_BYTES {
        return Err(err(
            format,
            None,
            format!(
                "payload is {} bytes, more than the limit of {MAX_PAYLOAD_BYTES}",
                data.len()
            ),
        ));
    }
    Ok(())
}

/// Parses a SIA DC-03 payload as DC-09 carries it: `#acct|N` (or `O` for old events) then
/// `/`-separated elements, each a modifier (`ri1` area, `id12` user, `pi3` peripheral, `ti12:30`
/// time), free text `^...^`, or a two-letter event code with its zone, user or door number.
pub fn parse_sia(data: &str) -> Result<Vec<PanelEvent>, ParseError> {
    const F: &str = "sia";
    check_size(F, data)?;
    let (account, body) = split_account(F, data.trim())?;
    let (old, body) = match body.as_bytes().first() {
        Some(b'N') => (false, body.get(1..).unwrap_or_default()),
        Some(b'O') => (true, body.get(1..).unwrap_or_default()),
        _ => {
            return Err(err(
                F,
                None,
                "data does not start with `N` (new event) or `O` (old event)",
            ));
        }
    };
    let mut partition: Option<String> = None;
    let mut user: Option<String> = None;
    let mut text: Option<String> = None;
    let mut events: Vec<PanelEvent> = Vec::new();
    for element in body.split('/') {
        let element = element.trim();
        if element.is_empty() {
            continue;
        }
        if let Some(t) = element.strip_prefix('^') {
            let t = t.strip_suffix('^').unwrap_or(t).to_owned();
            match events.last_mut() {
                Some(e) if e.text.is_none() => e.text = Some(t),
                _ => text = Some(t),
            }
            continue;
        }
        let bytes = element.as_bytes();
        let head = element.get(..2).unwrap_or_default();
        let rest = element.get(2..).unwrap_or_default();
        match bytes {
            [a, b, ..] if a.is_ascii_lowercase() && b.is_ascii_lowercase() => match head {
                "ri" => partition = Some(rest.to_owned()),
                "id" => user = Some(rest.to_owned()),
                // Time, peripheral, and modifiers this receiver does not use.
                _ => {}
            },
            [a, b, ..] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                if events.len() >= MAX_EVENTS {
                    return Err(err(F, None, format!("more than {MAX_EVENTS} events")));
                }
                let (rest, inline_text) = match rest.split_once('^') {
                    Some((r, t)) => (r, Some(t.trim_end_matches('^').to_owned())),
                    None => (rest, None),
                };
                if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(err(
                        F,
                        None,
                        format!("event {head}: address {rest:?} is not alphanumeric"),
                    ));
                }
                let number = (!rest.is_empty()).then(|| rest.to_owned());
                let mut e = sia_event(head, old, number, partition.clone(), user.clone());
                e.account.clone_from(&account);
                e.text = inline_text.or_else(|| text.take());
                events.push(e);
            }
            _ => {
                return Err(err(
                    F,
                    None,
                    format!(
                        "element {:?} is neither a modifier nor an event code",
                        cut(element)
                    ),
                ));
            }
        }
    }
    if events.is_empty() {
        return Err(err(F, None, "no event code in the data"));
    }
    Ok(events)
}

fn cut(s: &str) -> &str {
    match s.char_indices().nth(24) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

fn sia_event(
    code: &str,
    old: bool,
    number: Option<String>,
    partition: Option<String>,
    user: Option<String>,
) -> PanelEvent {
    let (class, activity, restore, severity, address, description) = match lookup(SIA_CODES, code) {
        Some(&(_, c, a, r, s, ad, d)) => (c, a.to_owned(), r, s, ad, d),
        None => (
            A,
            code.to_ascii_lowercase(),
            false,
            Severity::MEDIUM,
            Address::Zone,
            "unknown sia code",
        ),
    };
    let qualifier = if restore {
        Qualifier::Restore
    } else if old {
        Qualifier::Previous
    } else {
        Qualifier::New
    };
    build(
        "sia",
        code,
        qualifier,
        (class, activity, severity, description),
        address,
        number,
        partition,
        user,
    )
}

#[allow(
    clippy::too_many_arguments,
    reason = "one private constructor shared by both standards"
)]
fn build(
    standard: &'static str,
    code: &str,
    qualifier: Qualifier,
    (class, activity, severity, description): (&'static str, String, Severity, &'static str),
    address: Address,
    number: Option<String>,
    partition: Option<String>,
    user: Option<String>,
) -> PanelEvent {
    let activity = if qualifier == Qualifier::Restore {
        format!("{activity}_restore")
    } else {
        activity
    };
    let mut e = PanelEvent {
        standard,
        code: code.to_owned(),
        qualifier,
        class,
        activity,
        severity: if qualifier == Qualifier::Restore {
            Severity::LOW.min(severity)
        } else {
            severity
        },
        description,
        partition,
        zone: None,
        user,
        door: None,
        text: None,
        account: None,
    };
    match address {
        Address::Zone => e.zone = number,
        Address::User => {
            if number.is_some() {
                e.user = number;
            }
        }
        Address::Door => e.door = number,
        Address::None => {}
    }
    e
}

/// Parses a Contact ID payload as DC-09 carries it: `#acct|QEEE GG CCC` — qualifier (1 new
/// event or opening, 3 restore or closing, 6 previously reported), event code, group
/// (partition) and zone or user number. The spaces may be left out.
pub fn parse_contact_id(data: &str) -> Result<Vec<PanelEvent>, ParseError> {
    const F: &str = "contact_id";
    check_size(F, data)?;
    let (account, body) = split_account(F, data.trim())?;
    let digits: String = body.chars().filter(|c| *c != ' ').collect();
    if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(
            F,
            None,
            format!(
                "event {:?} is not QEEE GG CCC (qualifier, event, group, zone or user)",
                cut(body)
            ),
        ));
    }
    let q = digits.get(..1).unwrap_or_default();
    let code = digits.get(1..4).unwrap_or_default();
    let group = digits.get(4..6).unwrap_or_default();
    let number = digits.get(6..9).unwrap_or_default();
    let entry = lookup(CID_CODES, code);
    let open_close = entry.is_some_and(|e| e.2 == "open_close");
    let qualifier = match q {
        "1" => Qualifier::New,
        "3" if open_close => Qualifier::New,
        "3" => Qualifier::Restore,
        "6" => Qualifier::Previous,
        other => {
            return Err(err(
                F,
                Some(0),
                format!("qualifier {other:?} is not 1 (new), 3 (restore) or 6 (previous)"),
            ));
        }
    };
    let (class, activity, severity, address, description) = match entry {
        Some(&(_, c, "open_close", _, s, ad, d)) => (
            c,
            if q == "3" { "armed" } else { "disarmed" }.to_owned(),
            s,
            ad,
            d,
        ),
        Some(&(_, c, a, _, s, ad, d)) => (c, a.to_owned(), s, ad, d),
        None => (
            A,
            format!("cid_{code}"),
            Severity::MEDIUM,
            Address::Zone,
            "unknown contact id code",
        ),
    };
    let partition = (group != "00").then(|| group.to_owned());
    let number = (number != "000").then(|| number.to_owned());
    let mut e = build(
        "contact_id",
        code,
        qualifier,
        (class, activity, severity, description),
        address,
        number,
        partition,
        None,
    );
    e.account = account;
    Ok(vec![e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sia_modifiers_apply_to_the_events_that_follow() {
        let ev = parse_sia("#12AB|Nri2/id007/OP/ri3/BA012/TA013^Lid open^").unwrap();
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0].activity, "disarmed");
        assert_eq!(ev[0].user.as_deref(), Some("007"));
        assert_eq!(ev[0].partition.as_deref(), Some("2"));
        assert_eq!(ev[1].partition.as_deref(), Some("3"));
        assert_eq!(ev[1].zone.as_deref(), Some("012"));
        assert_eq!(ev[2].text.as_deref(), Some("Lid open"));
        assert_eq!(ev[2].account.as_deref(), Some("12AB"));
    }

    #[test]
    fn sia_restores_and_access_codes() {
        let ev = parse_sia("Nri1/TR05").unwrap();
        assert_eq!(ev[0].qualifier, Qualifier::Restore);
        assert_eq!(ev[0].activity, "tamper_restore");
        assert_eq!(ev[0].severity, Severity::LOW);
        let ev = parse_sia("Nid0042/DG03").unwrap();
        assert_eq!((ev[0].class, ev[0].activity.as_str()), (P, "granted"));
        assert_eq!(ev[0].door.as_deref(), Some("03"));
        assert_eq!(ev[0].user.as_deref(), Some("0042"));
        let ev = parse_sia("NDF07").unwrap();
        assert_eq!((ev[0].class, ev[0].activity.as_str()), (A, "forced"));
        let ev = parse_sia("NZZ1").unwrap();
        assert_eq!(ev[0].activity, "zz");
        assert!(parse_sia("Xri1/BA1").is_err());
        assert!(parse_sia("Nri1").is_err());
        assert!(parse_sia("#zz|NBA1").is_err());
    }

    #[test]
    fn contact_id_qualifiers_and_open_close() {
        let ev = parse_contact_id("#1234|1130 01 015").unwrap();
        assert_eq!(ev[0].activity, "burglary");
        assert_eq!(ev[0].zone.as_deref(), Some("015"));
        assert_eq!(ev[0].partition.as_deref(), Some("01"));
        let ev = parse_contact_id("340101003").unwrap();
        assert_eq!(ev[0].activity, "armed");
        assert_eq!(ev[0].qualifier, Qualifier::New);
        assert_eq!(ev[0].user.as_deref(), Some("003"));
        let ev = parse_contact_id("1401 01 003").unwrap();
        assert_eq!(ev[0].activity, "disarmed");
        let ev = parse_contact_id("3137 00 004").unwrap();
        assert_eq!(ev[0].activity, "tamper_restore");
        assert_eq!(ev[0].partition, None);
        let ev = parse_contact_id("1121 01 009").unwrap();
        assert_eq!(ev[0].user.as_deref(), Some("009"));
        let ev = parse_contact_id("6999 01 001").unwrap();
        assert_eq!(ev[0].qualifier, Qualifier::Previous);
        assert_eq!(ev[0].activity, "cid_999");
        assert!(parse_contact_id("2130 01 015").is_err());
        assert!(parse_contact_id("1130 01").is_err());
    }
}
