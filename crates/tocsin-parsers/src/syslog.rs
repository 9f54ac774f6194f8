//! Syslog messages: RFC 5424, parsed strictly, and RFC 3164, parsed leniently as real devices
//! send it. The format is detected from the bytes after PRI: `1 ` (the RFC 5424 version) selects
//! RFC 5424, anything else RFC 3164.
//!
//! RFC 3164 leniencies, each seen on real devices:
//! - no PRI at all: taken as `<13>` (user.notice), as RFC 3164 §4.3.3 tells a relay to do;
//! - a day padded with a space (`Oct  1`) or not (`Oct 1`);
//! - a year before or after the time (`Oct 11 2025 22:14:15`, `Oct 11 22:14:15 2025`), and
//!   fractional seconds;
//! - Cisco IOS habits: a sequence number (`123: `), `*` or `.` before the time, a zone name and a
//!   colon after it (`*Mar  1 18:48:50.483 UTC: %SYS-5-CONFIG_I: ...`); the `%FAC-SEV-MNEMONIC`
//!   becomes the MSGID and stays in the message;
//! - an ISO 8601 time instead of the BSD one (`2025-10-11T22:14:15.003+02:00`);
//! - no hostname (`Oct 11 22:14:15 su: ...`), no tag, or no time at all;
//! - a tag with a process id, with or without the colon (`sshd[412]:`, `sshd[412]`).
//!
//! A time without a year takes [`SyslogOptions::default_year`]; a time without a zone takes
//! [`SyslogOptions::default_tz`]. Trailing line feeds, carriage returns and NULs (framing left
//! by transports) are removed; otherwise the message text is kept as sent.

use chrono::{DateTime, Datelike, FixedOffset, Offset, TimeZone, Utc};
use serde::Serialize;

use crate::text::{self, decode};
use crate::{ParseError, cef, leef};

const FORMAT: &str = "syslog";

/// What the parser needs to know that the message may not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogOptions {
    /// Year for RFC 3164 times, which carry none. There is no default: it must come from the
    /// receiver's clock (see [`SyslogOptions::new`]).
    pub default_year: i32,
    /// Zone for times written without one (RFC 3164, and ISO times without an offset).
    pub default_tz: FixedOffset,
    /// Longest accepted message, in bytes. A longer one is refused, not truncated.
    pub max_bytes: usize,
}

impl SyslogOptions {
    /// The default size limit: 64 KiB, the largest UDP payload and well beyond RFC 5424's
    /// 2048-octet minimum.
    pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;

    /// Options for messages received at `now`: its year, UTC, and 64 KiB.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            default_year: now.year(),
            default_tz: Utc.fix(),
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}

/// Which RFC the message followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Rfc5424,
    Rfc3164,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Rfc5424 => "rfc5424",
            Format::Rfc3164 => "rfc3164",
        }
    }
}

/// One RFC 5424 SD-ELEMENT: its SD-ID and its parameters in the order sent, unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SdElement {
    pub id: String,
    pub params: Vec<(String, String)>,
}

/// A parsed syslog message. Fields the message did not carry (or carried as `-`) are `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyslogMessage {
    pub format: Format,
    /// From PRI: `pri / 8`, 0 (kern) to 23 (local7).
    pub facility: u8,
    /// From PRI: `pri % 8`, 0 (emerg) to 7 (debug).
    pub severity: u8,
    pub timestamp: Option<DateTime<Utc>>,
    pub hostname: Option<String>,
    /// APP-NAME, or the RFC 3164 tag.
    pub app_name: Option<String>,
    /// PROCID, or the `[pid]` of an RFC 3164 tag.
    pub procid: Option<String>,
    /// MSGID, or the Cisco mnemonic in RFC 3164.
    pub msgid: Option<String>,
    pub structured_data: Vec<SdElement>,
    /// The message text: the UTF-8 BOM is removed; bytes that are not UTF-8 are kept as Latin-1.
    pub msg: String,
    /// A CEF or LEEF record found in `msg`.
    pub payload: Payload,
}

/// What the message text holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "value")]
pub enum Payload {
    Plain,
    Cef(cef::Cef),
    Leef(leef::Leef),
}

/// Parses one syslog message (without transport framing such as RFC 6587 octet counts).
pub fn parse(input: &[u8], opts: &SyslogOptions) -> Result<SyslogMessage, ParseError> {
    parse_inner(input, opts, None)
}

/// Like [`parse`], for a message received at `received`: an RFC 3164 time written without a
/// year that would then lie more than a day in the future is taken from the year before, so that
/// `Dec 31 23:59:59` received just after midnight on 1 January lands in the right year.
pub fn parse_received(
    input: &[u8],
    opts: &SyslogOptions,
    received: DateTime<Utc>,
) -> Result<SyslogMessage, ParseError> {
    parse_inner(input, opts, Some(received))
}

fn parse_inner(
    input: &[u8],
    opts: &SyslogOptions,
    received: Option<DateTime<Utc>>,
) -> Result<SyslogMessage, ParseError> {
    if input.len() > opts.max_bytes {
        return Err(ParseError::new(
            FORMAT,
            None,
            format!(
                "message is {} bytes, more than the limit of {}",
                input.len(),
                opts.max_bytes
            ),
        ));
    }
    let end = input
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b'\0'))
        .map_or(0, |p| p + 1);
    let start = input
        .iter()
        .position(|b| !matches!(b, b'\n' | b'\r' | b'\0' | b' ' | b'\t'))
        .unwrap_or(end)
        .min(end);
    let b = input.get(..end).unwrap_or_default();
    if start >= end {
        return Err(ParseError::new(FORMAT, None, "empty message"));
    }
    let mut cur = Cursor { b, pos: start };
    let pri = if cur.peek() == Some(b'<') {
        cur.pri()?
    } else {
        13
    };
    let (facility, severity) = (pri / 8, pri % 8);
    let mut msg = if pri_was_present(b, start) && cur.rest().starts_with(b"1 ") {
        cur.pos += 2;
        rfc5424(&mut cur, facility, severity)?
    } else {
        rfc3164(&mut cur, facility, severity, opts, received)?
    };
    msg.payload = detect_payload(&msg.msg);
    Ok(msg)
}

fn pri_was_present(b: &[u8], start: usize) -> bool {
    b.get(start) == Some(&b'<')
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or_default()
    }

    fn err(&self, reason: impl Into<String>) -> ParseError {
        ParseError::new(FORMAT, Some(self.pos), reason)
    }

    fn err_at(&self, at: usize, reason: impl Into<String>) -> ParseError {
        ParseError::new(FORMAT, Some(at), reason)
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// `<PRIVAL>`: one to three digits, at most 191.
    fn pri(&mut self) -> Result<u8, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let digits_start = self.pos;
        let mut value: u32 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if self.pos - digits_start == 3 {
                return Err(self.err_at(open, "PRI has more than 3 digits"));
            }
            value = value * 10 + u32::from(c - b'0');
            self.pos += 1;
        }
        if self.pos == digits_start {
            return Err(self.err("PRI must start with a digit"));
        }
        if self.peek() != Some(b'>') {
            return Err(self.err("PRI is not closed by '>'"));
        }
        self.pos += 1;
        u8::try_from(value)
            .ok()
            .filter(|&v| v <= 191)
            .ok_or_else(|| self.err_at(open, format!("PRI {value} is above 191")))
    }
}

fn rfc5424(cur: &mut Cursor<'_>, facility: u8, severity: u8) -> Result<SyslogMessage, ParseError> {
    let ts_at = cur.pos;
    let timestamp = match header_field(cur, "TIMESTAMP", 64)? {
        None => None,
        Some(t) => Some(rfc5424_time(t).map_err(|r| cur.err_at(ts_at, r))?),
    };
    let hostname = header_field(cur, "HOSTNAME", 255)?.map(str::to_owned);
    let app_name = header_field(cur, "APP-NAME", 48)?.map(str::to_owned);
    let procid = header_field(cur, "PROCID", 128)?.map(str::to_owned);
    let msgid = header_field(cur, "MSGID", 32)?.map(str::to_owned);
    let structured_data = structured_data(cur)?;
    let msg = match cur.peek() {
        None => String::new(),
        Some(b' ') => {
            cur.pos += 1;
            let body = cur.rest();
            decode(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)).into_owned()
        }
        Some(_) => return Err(cur.err("expected a space after STRUCTURED-DATA")),
    };
    Ok(SyslogMessage {
        format: Format::Rfc5424,
        facility,
        severity,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        structured_data,
        msg,
        payload: Payload::Plain,
    })
}

/// One space-terminated RFC 5424 header field of 1 to `max` printable US-ASCII characters, or
/// the NILVALUE `-` (returned as `None`).
fn header_field<'a>(
    cur: &mut Cursor<'a>,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, ParseError> {
    let start = cur.pos;
    while let Some(c) = cur.peek() {
        match c {
            b' ' => break,
            33..=126 => cur.pos += 1,
            _ => {
                return Err(cur.err(format!(
                    "{name} contains a byte that is not printable ASCII"
                )));
            }
        }
    }
    let field = cur.b.get(start..cur.pos).unwrap_or_default();
    if field.is_empty() {
        return Err(cur.err(if cur.peek().is_none() {
            format!("message ends before {name}")
        } else {
            format!("{name} is empty (two spaces)")
        }));
    }
    if field.len() > max {
        return Err(cur.err_at(
            start,
            format!("{name} is {} characters, more than {max}", field.len()),
        ));
    }
    if cur.peek() != Some(b' ') {
        return Err(cur.err(format!("message ends after {name}")));
    }
    cur.pos += 1;
    // Printable ASCII is valid UTF-8.
    let text = std::str::from_utf8(field).unwrap_or_default();
    Ok((text != "-").then_some(text))
}

/// RFC 5424 TIMESTAMP: `FULL-DATE "T" FULL-TIME`, uppercase `T` and `Z`, an offset always
/// written. Up to nine fraction digits are accepted (the RFC allows six; some senders write
/// nanoseconds).
fn rfc5424_time(t: &str) -> Result<DateTime<Utc>, String> {
    let b = t.as_bytes();
    let bad = || format!("TIMESTAMP {t:?} is not YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm)");
    if b.get(10) != Some(&b'T') {
        return Err(bad());
    }
    let (naive, offset, used) = text::parse_iso_prefix(b).ok_or_else(bad)?;
    let fraction_digits = if b.get(19) == Some(&b'.') {
        b.get(20..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    } else {
        0
    };
    if b.get(19) == Some(&b',') || fraction_digits > 9 {
        return Err(bad());
    }
    let offset_text = b.get(used.saturating_sub(6)..used).unwrap_or_default();
    let offset_ok = b.get(used - 1) == Some(&b'Z')
        || (offset_text.get(3) == Some(&b':') && matches!(offset_text.first(), Some(b'+' | b'-')));
    let offset = match offset {
        Some(o) if offset_ok && used == b.len() => o,
        _ => return Err(bad()),
    };
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(bad)
}

/// STRUCTURED-DATA: `-` or one or more `[SD-ID param="value" ...]`, where `"`, `\` and `]` in
/// values are escaped with `\`. A backslash before any other character is kept, as RFC 5424
/// §6.3.3 says. An unescaped `]` inside quotes is accepted: it cannot be misread there.
fn structured_data(cur: &mut Cursor<'_>) -> Result<Vec<SdElement>, ParseError> {
    match cur.peek() {
        Some(b'-') => {
            cur.pos += 1;
            return Ok(Vec::new());
        }
        Some(b'[') => {}
        None => return Err(cur.err("message ends before STRUCTURED-DATA")),
        Some(_) => return Err(cur.err("STRUCTURED-DATA must be '-' or start with '['")),
    }
    let mut elements = Vec::new();
    while cur.peek() == Some(b'[') {
        cur.pos += 1;
        let id = sd_name(cur, "SD-ID")?;
        let mut params = Vec::new();
        loop {
            match cur.peek() {
                Some(b']') => {
                    cur.pos += 1;
                    break;
                }
                Some(b' ') => cur.pos += 1,
                None => return Err(cur.err(format!("SD-ELEMENT [{id} is not closed by ']'"))),
                Some(_) => {
                    return Err(cur.err(format!(
                        "expected a space or ']' after SD-ELEMENT [{id} field"
                    )));
                }
            }
            let name = sd_name(cur, "PARAM-NAME")?;
            if cur.peek() != Some(b'=') {
                return Err(cur.err(format!("expected '=' after PARAM-NAME {name}")));
            }
            cur.pos += 1;
            if cur.peek() != Some(b'"') {
                return Err(cur.err(format!("PARAM-VALUE of {name} must start with '\"'")));
            }
            cur.pos += 1;
            let value = sd_value(cur, &name)?;
            params.push((name, value));
        }
        elements.push(SdElement { id, params });
    }
    Ok(elements)
}

/// SD-NAME: 1 to 32 printable ASCII characters except `=`, space, `]` and `"`.
fn sd_name(cur: &mut Cursor<'_>, what: &str) -> Result<String, ParseError> {
    let start = cur.pos;
    while let Some(c) = cur.peek() {
        match c {
            b'=' | b' ' | b']' | b'"' => break,
            33..=126 => cur.pos += 1,
            _ => {
                return Err(cur.err(format!(
                    "{what} contains a byte that is not printable ASCII"
                )));
            }
        }
    }
    let name = cur.b.get(start..cur.pos).unwrap_or_default();
    if name.is_empty() {
        return Err(cur.err(format!("{what} is empty")));
    }
    if name.len() > 32 {
        return Err(cur.err_at(
            start,
            format!("{what} is {} characters, more than 32", name.len()),
        ));
    }
    Ok(decode(name).into_owned())
}

fn sd_value(cur: &mut Cursor<'_>, name: &str) -> Result<String, ParseError> {
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = cur.pos;
    loop {
        match cur.peek() {
            None => {
                return Err(cur.err(format!("PARAM-VALUE of {name} is not closed by '\"'")));
            }
            Some(b'"') => {
                out.extend_from_slice(cur.b.get(chunk..cur.pos).unwrap_or_default());
                cur.pos += 1;
                return Ok(decode(&out).into_owned());
            }
            Some(b'\\') => match cur.b.get(cur.pos + 1) {
                Some(&e @ (b'"' | b'\\' | b']')) => {
                    out.extend_from_slice(cur.b.get(chunk..cur.pos).unwrap_or_default());
                    out.push(e);
                    cur.pos += 2;
                    chunk = cur.pos;
                }
                _ => cur.pos += 1,
            },
            Some(_) => cur.pos += 1,
        }
    }
}

fn rfc3164(
    cur: &mut Cursor<'_>,
    facility: u8,
    severity: u8,
    opts: &SyslogOptions,
    received: Option<DateTime<Utc>>,
) -> Result<SyslogMessage, ParseError> {
    cisco_sequence(cur);
    let timestamp = bsd_or_iso_time(cur, opts, received)?;
    let mut hostname = None;
    let mut app_name = None;
    let mut procid = None;
    let mut msgid = None;
    let first = token(cur.rest());
    let mut tagged = false;
    if let Some(tag) = tag(cur.rest()) {
        (app_name, procid) = (Some(tag.name), tag.pid);
        cur.pos += tag.len;
        tagged = true;
    } else if timestamp.is_some() && !first.starts_with(b"%") && is_hostname(first) {
        hostname = Some(decode(first).into_owned());
        cur.pos += first.len();
        cur.skip_spaces();
        if let Some(tag) = tag(cur.rest()) {
            (app_name, procid) = (Some(tag.name), tag.pid);
            cur.pos += tag.len;
            tagged = true;
        }
    }
    // One space separates the tag from the content; any more belong to the content.
    if tagged {
        if cur.peek() == Some(b' ') {
            cur.pos += 1;
        }
    } else {
        cur.skip_spaces();
    }
    let body = cur.rest();
    if let Some(mnemonic) = cisco_mnemonic(body) {
        msgid = Some(mnemonic.to_owned());
    }
    Ok(SyslogMessage {
        format: Format::Rfc3164,
        facility,
        severity,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        structured_data: Vec::new(),
        msg: decode(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)).into_owned(),
        payload: Payload::Plain,
    })
}

/// Cisco IOS numbers its messages (`<189>1234: `) when `service sequence-numbers` is on.
fn cisco_sequence(cur: &mut Cursor<'_>) {
    let rest = cur.rest();
    let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if n > 0 && rest.get(n..n + 2) == Some(b": ") {
        cur.pos += n + 2;
    }
}

/// The time at the cursor, if there is one, and everything that devices put around it.
fn bsd_or_iso_time(
    cur: &mut Cursor<'_>,
    opts: &SyslogOptions,
    received: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>, ParseError> {
    let marker = usize::from(matches!(cur.peek(), Some(b'*' | b'.')));
    let at = cur.pos + marker;
    let b = cur.b.get(at..).unwrap_or_default();
    if let Some((t, used)) = text::parse_bsd(b) {
        let mut end = used;
        let mut offset = opts.default_tz;
        // Cisco: ` UTC:` after the time.
        if b.get(end) == Some(&b' ') {
            let word = b.get(end + 1..).unwrap_or_default();
            let n = word.iter().take_while(|c| c.is_ascii_uppercase()).count();
            if (2..=5).contains(&n)
                && word.get(n) == Some(&b':')
                && let Some(z) = word
                    .get(..n)
                    .and_then(|w| std::str::from_utf8(w).ok())
                    .and_then(text::zone)
            {
                offset = z;
                end += 1 + n;
            }
        }
        if b.get(end) == Some(&b':') {
            end += 1;
        }
        if !matches!(b.get(end), None | Some(b' ')) {
            return Ok(None);
        }
        let mut time = t
            .resolve(opts.default_year, offset)
            .ok_or_else(|| cur.err_at(at, "timestamp is not a valid date and time"))?;
        if t.year.is_none()
            && let Some(r) = received
            && r.checked_add_signed(chrono::Duration::days(1))
                .is_some_and(|limit| time > limit)
            && let Some(earlier) = opts
                .default_year
                .checked_sub(1)
                .and_then(|y| t.resolve(y, offset))
        {
            time = earlier;
        }
        cur.pos = at + end;
        cur.skip_spaces();
        return Ok(Some(time));
    }
    if let Some((naive, offset, used)) = text::parse_iso_prefix(b) {
        let mut end = used;
        if b.get(end) == Some(&b':') {
            end += 1;
        }
        if !matches!(b.get(end), None | Some(b' ')) {
            return Ok(None);
        }
        let offset = offset.unwrap_or(opts.default_tz);
        let time = offset
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| cur.err_at(at, "timestamp is not a valid date and time"))?;
        cur.pos = at + end;
        cur.skip_spaces();
        return Ok(Some(time));
    }
    Ok(None)
}

fn token(b: &[u8]) -> &[u8] {
    let n = b.iter().position(|&c| c == b' ').unwrap_or(b.len());
    b.get(..n).unwrap_or_default()
}

/// Host names, IPv4 and IPv6 addresses as devices print them.
fn is_hostname(t: &[u8]) -> bool {
    !t.is_empty()
        && t.len() <= 255
        && t.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':' | b'%'))
        && !t.ends_with(b":")
}

struct Tag {
    name: String,
    pid: Option<String>,
    /// Bytes taken, including the colon.
    len: usize,
}

/// An RFC 3164 TAG: up to 48 characters, then `[pid]` and/or `:`, then a space or the end.
fn tag(b: &[u8]) -> Option<Tag> {
    let name_len = b
        .iter()
        .position(|&c| matches!(c, b'[' | b':' | b' ') || !(33..=126).contains(&c))
        .unwrap_or(b.len());
    // `%FAC-SEV-MNEMONIC:` is Cisco's message id, not a program name.
    if name_len == 0 || name_len > 48 || b.first() == Some(&b'%') {
        return None;
    }
    let name = b.get(..name_len)?;
    let mut i = name_len;
    let mut pid = None;
    if b.get(i) == Some(&b'[') {
        let close = b.get(i..)?.iter().take(130).position(|&c| c == b']')?;
        let p = b.get(i + 1..i + close)?;
        if p.is_empty() || !p.iter().all(|c| (33..=126).contains(c)) {
            return None;
        }
        pid = Some(decode(p).into_owned());
        i += close + 1;
    }
    let colon = b.get(i) == Some(&b':');
    if colon {
        i += 1;
    }
    if !(colon || pid.is_some()) || !matches!(b.get(i), None | Some(b' ')) {
        return None;
    }
    Some(Tag {
        name: decode(name).into_owned(),
        pid,
        len: i,
    })
}

/// `%FACILITY-SEVERITY-MNEMONIC:` at the start of a Cisco message.
fn cisco_mnemonic(b: &[u8]) -> Option<&str> {
    let rest = b.strip_prefix(b"%")?;
    let n = rest
        .iter()
        .position(|&c| c == b':')
        .filter(|&n| n > 0 && n <= 64)?;
    let m = rest.get(..n)?;
    let valid = m
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
        && m.iter().filter(|&&c| c == b'-').count() >= 2;
    if valid {
        std::str::from_utf8(m).ok()
    } else {
        None
    }
}

/// Finds a CEF or LEEF record in the message: at its start or after a space, as `CEF:<n>|` or
/// `LEEF:<n>|`. A record that does not parse leaves the message `Plain`.
fn detect_payload(msg: &str) -> Payload {
    let Some((at, is_cef)) = find_marker(msg) else {
        return Payload::Plain;
    };
    let s = msg.get(at..).unwrap_or_default();
    if is_cef {
        cef::parse(s).map_or(Payload::Plain, Payload::Cef)
    } else {
        leef::parse(s).map_or(Payload::Plain, Payload::Leef)
    }
}

fn find_marker(msg: &str) -> Option<(usize, bool)> {
    let b = msg.as_bytes();
    let mut from = 0;
    while let Some(i) = b
        .get(from..)?
        .windows(4)
        .position(|w| w == b"CEF:" || w == b"EEF:")
    {
        let i = from + i;
        from = i + 1;
        let (start, is_cef) = if b.get(i) == Some(&b'C') {
            (i, true)
        } else {
            match i.checked_sub(1) {
                Some(l) if b.get(l) == Some(&b'L') => (l, false),
                _ => continue,
            }
        };
        let boundary = start == 0 || b.get(start - 1).is_some_and(u8::is_ascii_whitespace);
        let head = start + if is_cef { 4 } else { 5 };
        let digits = b
            .get(head..)?
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'.')
            .count();
        if boundary && digits > 0 && b.get(head + digits) == Some(&b'|') {
            return Some((start, is_cef));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SyslogOptions {
        SyslogOptions::new("2026-05-04T02:13:08Z".parse().unwrap())
    }

    fn p(s: &str) -> SyslogMessage {
        parse(s.as_bytes(), &opts()).unwrap()
    }

    fn e(s: &[u8]) -> ParseError {
        parse(s, &opts()).unwrap_err()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn new_takes_the_year_from_now_and_defaults_to_utc_and_64k() {
        let o = opts();
        assert_eq!(o.default_year, 2026);
        assert_eq!(o.default_tz.local_minus_utc(), 0);
        assert_eq!(o.max_bytes, 65536);
    }

    #[test]
    fn rfc5424_full_header() {
        let m = p(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] \u{feff}An application event",
        );
        assert_eq!(m.format, Format::Rfc5424);
        assert_eq!((m.facility, m.severity), (20, 5));
        assert_eq!(m.timestamp, Some(utc("2003-10-11T22:14:15.003Z")));
        assert_eq!(m.hostname.as_deref(), Some("mymachine.example.com"));
        assert_eq!(m.app_name.as_deref(), Some("evntslog"));
        assert_eq!(m.procid, None);
        assert_eq!(m.msgid.as_deref(), Some("ID47"));
        assert_eq!(m.structured_data.len(), 1);
        assert_eq!(m.structured_data[0].params[1].1, "Application");
        assert_eq!(m.msg, "An application event");
    }

    #[test]
    fn rfc5424_offsets_nil_values_and_no_msg() {
        let m = p("<34>1 2003-08-24T05:14:15.000003-07:00 - - - - -");
        assert_eq!(m.timestamp, Some(utc("2003-08-24T12:14:15.000003Z")));
        assert_eq!(
            (m.hostname, m.app_name, m.procid, m.msgid),
            (None, None, None, None)
        );
        assert!(m.structured_data.is_empty());
        assert_eq!(m.msg, "");
        let m = p("<34>1 - host app 12 - - hello world");
        assert_eq!(m.timestamp, None);
        assert_eq!(m.procid.as_deref(), Some("12"));
        assert_eq!(m.msg, "hello world");
    }

    #[test]
    fn sd_escapes_each_rule() {
        let m = p(r#"<14>1 - h a - - [x@1 q="say \"hi\"" b="a\\b" c="[x\]" d="keep\n" e="a]b"] m"#);
        let params = &m.structured_data[0].params;
        assert_eq!(params[0], ("q".into(), "say \"hi\"".into()));
        assert_eq!(params[1], ("b".into(), "a\\b".into()));
        assert_eq!(params[2], ("c".into(), "[x]".into()));
        assert_eq!(params[3], ("d".into(), "keep\\n".into()));
        assert_eq!(params[4], ("e".into(), "a]b".into()));
        assert_eq!(m.msg, "m");
    }

    #[test]
    fn sd_several_elements_and_empty_element() {
        let m = p(r#"<14>1 - h a - - [a@1 x="1"][b@2][c@3 y="" z="2"]"#);
        let ids: Vec<_> = m.structured_data.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a@1", "b@2", "c@3"]);
        assert!(m.structured_data[1].params.is_empty());
        assert_eq!(m.structured_data[2].params[0].1, "");
        assert_eq!(m.msg, "");
    }

    #[test]
    fn rfc5424_error_paths_say_what_and_where() {
        let cases: &[(&[u8], &str, usize)] = &[
            (b"<34>1 2003-10-11 22:14:15Z h a - - -", "TIMESTAMP", 6),
            (b"<34>1 2003-10-11T22:14:15 h a - - -", "TIMESTAMP", 6),
            (b"<34>1 2003-10-11t22:14:15Z h a - - -", "TIMESTAMP", 6),
            (b"<34>1 2003-13-11T22:14:15Z h a - - -", "TIMESTAMP", 6),
            (b"<34>1 - h  a - - -", "APP-NAME is empty", 10),
            (b"<34>1 - h a - -", "message ends after MSGID", 15),
            (
                b"<34>1 - h a - - ",
                "message ends before STRUCTURED-DATA",
                16,
            ),
            (b"<34>1 - h a", "message ends after APP-NAME", 11),
            (b"<34>1 - h a - - x", "STRUCTURED-DATA must be", 16),
            (b"<34>1 - h a - - [id", "not closed", 19),
            (b"<34>1 - h a - - [id x=1]", "must start with '\"'", 22),
            (b"<34>1 - h a - - [id x]", "expected '='", 21),
            (b"<34>1 - h a - - [id x=\"1]", "not closed by '\"'", 25),
            (b"<34>1 - h a - - [ x=\"1\"]", "SD-ID is empty", 17),
            (b"<34>1 - h a - - [id x=\"1\"]m", "expected a space", 26),
            (b"<34>1 - h\xff a - - -", "not printable ASCII", 9),
        ];
        for (input, want, at) in cases {
            let err = e(input);
            assert!(
                err.reason.contains(want),
                "{:?}: {err}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(err.offset, Some(*at), "{err}");
        }
        let long_app = format!("<34>1 - h {} - - -", "a".repeat(49));
        assert!(e(long_app.as_bytes()).reason.contains("more than 48"));
        let long_id = format!("<34>1 - h a - - [{}]", "a".repeat(33));
        assert!(e(long_id.as_bytes()).reason.contains("more than 32"));
    }

    #[test]
    fn pri_error_paths() {
        assert!(e(b"<192>1 - - - - - -").reason.contains("above 191"));
        assert!(e(b"<1234>x").reason.contains("more than 3 digits"));
        assert!(e(b"<>x").reason.contains("start with a digit"));
        assert!(e(b"<34 x").reason.contains("not closed"));
        assert_eq!(e(b"").reason, "empty message");
        assert_eq!(e(b"\r\n").reason, "empty message");
    }

    #[test]
    fn oversized_input_is_an_error_not_a_truncation() {
        let mut o = opts();
        o.max_bytes = 16;
        let err = parse(b"<34>Oct 11 22:14:15 host su: too long", &o).unwrap_err();
        assert!(err.reason.contains("more than the limit of 16"), "{err}");
    }

    #[test]
    fn rfc3164_classic_example() {
        let m = p("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n");
        assert_eq!(m.format, Format::Rfc3164);
        assert_eq!((m.facility, m.severity), (4, 2));
        assert_eq!(m.timestamp, Some(utc("2026-10-11T22:14:15Z")));
        assert_eq!(m.hostname.as_deref(), Some("mymachine"));
        assert_eq!(m.app_name.as_deref(), Some("su"));
        assert_eq!(m.msg, "'su root' failed for lonvick on /dev/pts/8");
    }

    #[test]
    fn rfc3164_padded_day_pid_and_default_tz() {
        let mut o = opts();
        o.default_tz = FixedOffset::east_opt(3600).unwrap();
        let m = parse(
            b"<38>Feb  5 07:32:18 web-01 sshd[4121]: Accepted publickey for deploy",
            &o,
        )
        .unwrap();
        assert_eq!(m.timestamp, Some(utc("2026-02-05T06:32:18Z")));
        assert_eq!(m.app_name.as_deref(), Some("sshd"));
        assert_eq!(m.procid.as_deref(), Some("4121"));
        assert_eq!(m.msg, "Accepted publickey for deploy");
    }

    #[test]
    fn rfc3164_missing_hostname_and_missing_tag() {
        let m = p("<34>Oct 11 22:14:15 su: 'su root' failed");
        assert_eq!(m.hostname, None);
        assert_eq!(m.app_name.as_deref(), Some("su"));
        let m = p("<13>Feb 5 17:32:18 10.0.0.99 Use the BFG!");
        assert_eq!(m.hostname.as_deref(), Some("10.0.0.99"));
        assert_eq!(m.app_name, None);
        assert_eq!(m.msg, "Use the BFG!");
        let m = p("<13>Feb 5 17:32:18 myhost");
        assert_eq!(m.hostname.as_deref(), Some("myhost"));
        assert_eq!(m.msg, "");
    }

    #[test]
    fn rfc3164_years_iso_times_and_no_time() {
        let m = p("<34>Oct 11 2025 22:14:15 host app: x");
        assert_eq!(m.timestamp, Some(utc("2025-10-11T22:14:15Z")));
        let m = p("<34>Oct 11 22:14:15 2024 host app: x");
        assert_eq!(m.timestamp, Some(utc("2024-10-11T22:14:15Z")));
        assert_eq!(m.hostname.as_deref(), Some("host"));
        let m = p("<34>2025-10-11T22:14:15.250+02:00 host app[7]: x");
        assert_eq!(m.timestamp, Some(utc("2025-10-11T20:14:15.250Z")));
        assert_eq!(m.procid.as_deref(), Some("7"));
        let m = p("<34>su: no time here");
        assert_eq!(m.timestamp, None);
        assert_eq!(m.app_name.as_deref(), Some("su"));
        assert_eq!(m.msg, "no time here");
        let m = p("<34>just words");
        assert_eq!((m.hostname, m.app_name), (None, None));
        assert_eq!(m.msg, "just words");
    }

    #[test]
    fn year_rollover_when_the_receive_time_is_known() {
        let received = utc("2027-01-01T00:00:02Z");
        let o = SyslogOptions::new(received);
        let line = b"<34>Dec 31 23:59:59 host app: x";
        let m = parse_received(line, &o, received).unwrap();
        assert_eq!(m.timestamp, Some(utc("2026-12-31T23:59:59Z")));
        let m = parse(line, &o).unwrap();
        assert_eq!(m.timestamp, Some(utc("2027-12-31T23:59:59Z")));
        let m = parse_received(b"<34>Jan  1 00:00:01 host app: x", &o, received).unwrap();
        assert_eq!(m.timestamp, Some(utc("2027-01-01T00:00:01Z")));
        let m = parse_received(b"<34>Dec 31 2027 23:59:59 host app: x", &o, received).unwrap();
        assert_eq!(m.timestamp, Some(utc("2027-12-31T23:59:59Z")));
    }

    #[test]
    fn rfc3164_without_pri_is_user_notice() {
        let m = p("Oct 11 22:14:15 host app: x");
        assert_eq!((m.facility, m.severity), (1, 5));
        assert_eq!(m.hostname.as_deref(), Some("host"));
    }

    #[test]
    fn rfc3164_invalid_date_is_an_error() {
        let err = e(b"<34>Feb 30 22:14:15 host app: x");
        assert!(err.reason.contains("not a valid date"), "{err}");
        assert_eq!(err.offset, Some(4));
    }

    #[test]
    fn cisco_ios_sequence_marker_zone_and_mnemonic() {
        let m = p(
            "<189>2741: *Mar  1 18:48:50.483 UTC: %SYS-5-CONFIG_I: Configured from console by admin on vty0",
        );
        assert_eq!((m.facility, m.severity), (23, 5));
        assert_eq!(m.timestamp, Some(utc("2026-03-01T18:48:50.483Z")));
        assert_eq!(m.hostname, None);
        assert_eq!(m.msgid.as_deref(), Some("SYS-5-CONFIG_I"));
        assert_eq!(
            m.msg,
            "%SYS-5-CONFIG_I: Configured from console by admin on vty0"
        );
        let m = p("<187>Oct 11 2025 10:01:02: %ASA-3-710003: TCP access denied");
        assert_eq!(m.timestamp, Some(utc("2025-10-11T10:01:02Z")));
        assert_eq!(m.msgid.as_deref(), Some("ASA-3-710003"));
        let m = p("<187>.Mar  1 18:48:50 CET: %LINK-3-UPDOWN: down");
        assert_eq!(m.timestamp, Some(utc("2026-03-01T17:48:50Z")));
    }

    #[test]
    fn tag_without_colon_but_with_pid() {
        let m = p("<30>Oct 11 22:14:15 host crond[88] (root) CMD (run-parts)");
        assert_eq!(m.app_name.as_deref(), Some("crond"));
        assert_eq!(m.procid.as_deref(), Some("88"));
        assert_eq!(m.msg, "(root) CMD (run-parts)");
    }

    #[test]
    fn non_utf8_msg_is_kept_as_latin1_and_bom_is_stripped() {
        let m = parse(b"<34>1 - h a - - - \xEF\xBB\xBFcaf\xC3\xA9", &opts()).unwrap();
        assert_eq!(m.msg, "café");
        let m = parse(b"<34>Oct 11 22:14:15 h a: caf\xE9", &opts()).unwrap();
        assert_eq!(m.msg, "caf\u{e9}");
    }

    #[test]
    fn cef_and_leef_are_detected_with_or_without_a_tag() {
        let m = p("<134>Feb 12 10:32:01 fw01 CEF:0|Acme|FW|1.0|100|Blocked|5|src=10.0.0.1");
        assert!(matches!(m.payload, Payload::Cef(_)));
        assert_eq!(m.hostname.as_deref(), Some("fw01"));
        let m = p("<134>Feb 12 10:32:01 fw01 fwd: CEF:0|Acme|FW|1.0|100|Blocked|5|src=10.0.0.1");
        assert!(matches!(m.payload, Payload::Cef(_)));
        let m = p("<134>Feb 12 10:32:01 CEF:0|Acme|FW|1.0|100|Blocked|5|");
        assert_eq!(m.hostname, None);
        assert!(matches!(m.payload, Payload::Cef(_)));
        let m = p("<14>1 - h a - - - LEEF:2.0|V|P|1|E|^|a=1^b=2");
        assert!(matches!(m.payload, Payload::Leef(_)));
        let m = p("CEF:0|Acme|FW|1.0|100|Blocked|5|act=drop");
        assert!(matches!(m.payload, Payload::Cef(_)));
        let m = p("<13>Oct 11 22:14:15 h a: the word XCEF:0|x is not a marker");
        assert_eq!(m.payload, Payload::Plain);
        let m = p("<13>Oct 11 22:14:15 h a: CEF:0|broken");
        assert_eq!(m.payload, Payload::Plain);
    }
}
