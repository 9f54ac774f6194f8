//! SIA DC-09 frames, as alarm panels send them to a monitoring receiver over TCP or UDP:
//!
//! ```text
//! LF  CRC  0LLL  "ID"  seq  [Rrcvr]  Lpref  #acct  [data]  [x-data]...  [_HH:MM:SS,MM-DD-YYYY]  CR
//! ```
//!
//! `CRC` is the CRC-16/ARC (polynomial 0xA001 reflected, initial 0) of everything from the
//! opening `"` of the ID token to the end of the timestamp, as four hex digits; `LLL` is the
//! length of that same span in hex. The ID token is `SIA-DCS` (SIA DC-03 data), `ADM-CID`
//! (Contact ID), `NULL` (a supervision poll with no data) or, with a leading `*`, the same with
//! the data and timestamp encrypted: AES-CBC with a zero IV and the account's key, written in
//! hex, whose plaintext is a pad, a `|`, then the data from after `[` to the end.
//!
//! A receiver answers `ACK` (understood), `NAK` (bad CRC, length or framing: send again) or
//! `DUH` (well formed but not understood: unknown token, no key, bad payload). [`ack`], [`nak`]
//! and [`duh`] build those answers and [`encode`] builds any frame (for panels and tests).
//!
//! ```
//! use tocsin_parsers::dc09::{self, FrameSpec};
//!
//! let now = "2026-05-04T02:13:07Z".parse().unwrap();
//! let frame = dc09::encode(&FrameSpec {
//!     token: "SIA-DCS", sequence: 7, receiver: Some("R1"), line: "L1", account: "1234",
//!     data: "#1234|Nri1/BA015", timestamp: Some(now), ..FrameSpec::default()
//! }, None, 0);
//! let msg = dc09::parse(&frame, &|_: &str| None).unwrap();
//! assert_eq!(msg.header.sequence, 7);
//! assert_eq!(msg.data, "#1234|Nri1/BA015");
//! ```

use std::fmt;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use tocsin_model::EventInput;

use crate::ParseError;
use crate::sia::{self, PanelEvent};

/// Longest frame accepted, LF to CR included. The DC-09 length field allows 4095 bytes of body.
pub const MAX_FRAME_BYTES: usize = 4 + 4 + 4 + 4095 + 2;

/// An AES key of one account (128, 192 or 256 bits). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey(Vec<u8>);

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AesKey({} bits)", self.0.len() * 8)
    }
}

impl AesKey {
    /// Reads a key written as 32, 48 or 64 hex digits.
    pub fn from_hex(hex_key: &str) -> Result<Self, String> {
        let t = hex_key.trim();
        if !matches!(t.len(), 32 | 48 | 64) {
            return Err(format!(
                "an AES key is 32, 48 or 64 hex digits, this one has {}",
                t.len()
            ));
        }
        let mut out = Vec::with_capacity(t.len() / 2);
        let b = t.as_bytes();
        for pair in b.chunks(2) {
            let hi = hex_val(pair.first().copied()).ok_or("an AES key is written in hex")?;
            let lo = hex_val(pair.get(1).copied()).ok_or("an AES key is written in hex")?;
            out.push(hi << 4 | lo);
        }
        Ok(Self(out))
    }
}

fn hex_val(c: Option<u8>) -> Option<u8> {
    match c? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// How a receiver must answer a frame it could not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Damaged in transit (CRC, length, framing): the panel sends it again.
    Nak,
    /// Intact but not understood (token, key, payload).
    Duh,
}

/// Why a frame was refused. [`Dc09Error::answer`] says whether to NAK or DUH.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dc09Error {
    #[error("dc09: bad crc: frame says {declared:04X}, content gives {computed:04X}")]
    Crc { declared: u16, computed: u16 },
    #[error("dc09: bad length: frame says {declared} bytes, content has {actual}")]
    Length { declared: usize, actual: usize },
    #[error("dc09: {0}")]
    Framing(String),
    #[error("dc09: unsupported id token {0:?}")]
    Token(String),
    #[error("dc09: encrypted frame from account {0:?}, which has no key")]
    NoKey(String),
    #[error("dc09: cannot decrypt: {0}")]
    Decrypt(String),
    #[error("dc09: {0}")]
    Payload(ParseError),
}

impl Dc09Error {
    pub fn answer(&self) -> Answer {
        match self {
            Dc09Error::Crc { .. } | Dc09Error::Length { .. } | Dc09Error::Framing(_) => Answer::Nak,
            _ => Answer::Duh,
        }
    }
}

/// The routing part of a frame, kept for the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `SIA-DCS`, `ADM-CID`, `NULL`, `ACK`... without the `*`.
    pub token: String,
    /// Whether the token had a `*` (data and timestamp encrypted).
    pub encrypted: bool,
    /// 0000..9999, repeated by the panel when it sends the same message again.
    pub sequence: u16,
    /// Receiver number (`R`), hex, when sent.
    pub receiver: Option<String>,
    /// Account prefix (`L`), hex.
    pub line: String,
    /// Account (`#`), hex.
    pub account: String,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    /// The data between `[` and `]`, decrypted: `#1234|Nri1/BA015`, `#1234|1130 01 015`, or
    /// empty for `NULL`.
    pub data: String,
    /// Extended data blocks (`[X...]`, `[Y...]`, `[V...]`) as sent.
    pub extended: Vec<String>,
    /// The frame's timestamp (UTC), when it has one.
    pub timestamp: Option<DateTime<Utc>>,
}

/// CRC-16/ARC: polynomial 0x8005 reflected (0xA001), initial value 0, as DC-09 specifies.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn framing(reason: impl Into<String>) -> Dc09Error {
    Dc09Error::Framing(reason.into())
}

fn hex_number(s: &[u8], what: &str) -> Result<usize, Dc09Error> {
    s.iter().try_fold(0usize, |acc, &c| {
        hex_val(Some(c))
            .map(|v| acc * 16 + usize::from(v))
            .ok_or_else(|| {
                framing(format!(
                    "{what} {:?} is not hex",
                    String::from_utf8_lossy(s)
                ))
            })
    })
}

/// Decodes one frame (LF to CR; a missing CR at the very end is tolerated, as UDP senders
/// sometimes leave it out). `key_for` gives the key of an account, for encrypted frames.
pub fn parse(raw: &[u8], key_for: &dyn Fn(&str) -> Option<AesKey>) -> Result<Message, Dc09Error> {
    if raw.len() > MAX_FRAME_BYTES {
        return Err(framing(format!(
            "frame is {} bytes, more than the limit of {MAX_FRAME_BYTES}",
            raw.len()
        )));
    }
    let inner = raw
        .strip_prefix(b"\n")
        .ok_or_else(|| framing("frame does not start with LF"))?;
    let inner = inner.strip_suffix(b"\r").unwrap_or(inner);
    let (crc_text, rest) = inner
        .split_at_checked(4)
        .ok_or_else(|| framing("frame ends inside the crc"))?;
    let declared_crc = hex_number(crc_text, "crc")?;
    let (len_text, body) = rest
        .split_at_checked(4)
        .ok_or_else(|| framing("frame ends inside the length"))?;
    if len_text.first() != Some(&b'0') {
        return Err(framing("length field does not start with 0"));
    }
    let declared_len = hex_number(len_text.get(1..).unwrap_or_default(), "length")?;
    if declared_len != body.len() {
        return Err(Dc09Error::Length {
            declared: declared_len,
            actual: body.len(),
        });
    }
    let computed = crc16(body);
    // At most four hex digits, so it fits.
    let declared = u16::try_from(declared_crc).unwrap_or(u16::MAX);
    if declared != computed {
        return Err(Dc09Error::Crc { declared, computed });
    }
    let body = std::str::from_utf8(body)
        .ok()
        .filter(|b| b.is_ascii())
        .ok_or_else(|| framing("frame content is not ASCII"))?;
    let (header, rest) = parse_header(body)?;
    let content = if header.encrypted {
        let key =
            key_for(&header.account).ok_or_else(|| Dc09Error::NoKey(header.account.clone()))?;
        decrypt_content(rest, &key)?
    } else {
        rest.to_owned()
    };
    let (data, extended, timestamp) = parse_content(&content)?;
    Ok(Message {
        header,
        data,
        extended,
        timestamp,
    })
}

/// Reads `"ID"seq[Rrcvr]Lpref[#acct][` and returns the header and what follows the `[`.
fn parse_header(body: &str) -> Result<(Header, &str), Dc09Error> {
    let rest = body
        .strip_prefix('"')
        .ok_or_else(|| framing("id token does not start with '\"'"))?;
    let (token, rest) = rest
        .split_once('"')
        .ok_or_else(|| framing("id token is not closed with '\"'"))?;
    if token.is_empty() || token.len() > 16 {
        return Err(framing(format!("id token {token:?} is empty or too long")));
    }
    let (encrypted, bare) = match token.strip_prefix('*') {
        Some(t) => (true, t),
        None => (false, token),
    };
    let seq_text = rest
        .get(..4)
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| framing("sequence number is not 4 digits"))?;
    let sequence: u16 = seq_text
        .parse()
        .map_err(|_| framing("sequence number is not 4 digits"))?;
    let mut rest = rest.get(4..).unwrap_or_default();
    let mut take =
        |prefix: char, min: usize, max: usize, what: &str| -> Result<Option<String>, Dc09Error> {
            let Some(after) = rest.strip_prefix(prefix) else {
                return Ok(None);
            };
            let n = after.bytes().take_while(u8::is_ascii_hexdigit).count();
            if n < min || n > max {
                return Err(framing(format!(
                    "{what} `{prefix}` has {n} hex digits, expected {min} to {max}"
                )));
            }
            let value = after.get(..n).unwrap_or_default().to_owned();
            rest = after.get(n..).unwrap_or_default();
            Ok(Some(value))
        };
    let receiver = take('R', 1, 6, "receiver")?;
    let line = take('L', 1, 6, "line")?.ok_or_else(|| framing("line `L` is missing"))?;
    let account = take('#', 3, 16, "account")?.unwrap_or_default();
    let rest = rest
        .strip_prefix('[')
        .ok_or_else(|| framing("data does not start with '['"))?;
    let reply = matches!(bare, "ACK" | "NAK" | "DUH");
    if account.is_empty() && !reply {
        return Err(framing("account `#` is missing"));
    }
    if !matches!(bare, "SIA-DCS" | "ADM-CID" | "NULL") && !reply {
        return Err(Dc09Error::Token(token.to_owned()));
    }
    Ok((
        Header {
            token: bare.to_owned(),
            encrypted,
            sequence,
            receiver,
            line,
            account,
        },
        rest,
    ))
}

fn decrypt_content(hex_text: &str, key: &AesKey) -> Result<String, Dc09Error> {
    let t = hex_text.as_bytes();
    if t.is_empty() || !t.len().is_multiple_of(32) {
        return Err(Dc09Error::Decrypt(format!(
            "encrypted data is {} hex digits, not a whole number of 16-byte blocks",
            t.len()
        )));
    }
    let mut ct = Vec::with_capacity(t.len() / 2);
    for pair in t.chunks(2) {
        let hi = hex_val(pair.first().copied());
        let lo = hex_val(pair.get(1).copied());
        match (hi, lo) {
            (Some(h), Some(l)) => ct.push(h << 4 | l),
            _ => return Err(Dc09Error::Decrypt("encrypted data is not hex".into())),
        }
    }
    let plain = aes_cbc(&key.0, &ct, false).map_err(Dc09Error::Decrypt)?;
    let plain = String::from_utf8(plain)
        .ok()
        .filter(|p| p.is_ascii())
        .ok_or_else(|| Dc09Error::Decrypt("decrypted data is not ASCII: wrong key?".into()))?;
    let (_pad, content) = plain
        .split_once('|')
        .ok_or_else(|| Dc09Error::Decrypt("no '|' after the pad: wrong key?".into()))?;
    Ok(content.to_owned())
}

fn aes_cbc(key: &[u8], data: &[u8], encrypt: bool) -> Result<Vec<u8>, String> {
    let iv = [0u8; 16];
    let bad_key = |_| "the key is not 16, 24 or 32 bytes".to_owned();
    let bad_len = |_| "data is not a whole number of blocks".to_owned();
    macro_rules! run {
        ($aes:ty) => {
            if encrypt {
                Ok(cbc::Encryptor::<$aes>::new_from_slices(key, &iv)
                    .map_err(bad_key)?
                    .encrypt_padded_vec_mut::<NoPadding>(data))
            } else {
                cbc::Decryptor::<$aes>::new_from_slices(key, &iv)
                    .map_err(bad_key)?
                    .decrypt_padded_vec_mut::<NoPadding>(data)
                    .map_err(bad_len)
            }
        };
    }
    match key.len() {
        16 => run!(aes::Aes128),
        24 => run!(aes::Aes192),
        32 => run!(aes::Aes256),
        n => Err(format!("the key is {n} bytes, not 16, 24 or 32")),
    }
}

type Content = (String, Vec<String>, Option<DateTime<Utc>>);

/// Reads `data]` then extended `[...]` blocks, then the optional `_HH:MM:SS,MM-DD-YYYY`.
fn parse_content(content: &str) -> Result<Content, Dc09Error> {
    let (data, mut rest) = content
        .split_once(']')
        .ok_or_else(|| framing("data is not closed with ']'"))?;
    let mut extended = Vec::new();
    while let Some(after) = rest.strip_prefix('[') {
        let (block, r) = after
            .split_once(']')
            .ok_or_else(|| framing("extended data is not closed with ']'"))?;
        if extended.len() >= 16 {
            return Err(framing("more than 16 extended data blocks"));
        }
        extended.push(block.to_owned());
        rest = r;
    }
    let timestamp = if rest.is_empty() {
        None
    } else {
        let text = rest
            .strip_prefix('_')
            .ok_or_else(|| framing(format!("unexpected {:?} after the data", short(rest))))?;
        let t = NaiveDateTime::parse_from_str(text, "%H:%M:%S,%m-%d-%Y").map_err(|_| {
            framing(format!(
                "timestamp {:?} is not _HH:MM:SS,MM-DD-YYYY",
                short(text)
            ))
        })?;
        Some(t.and_utc())
    };
    Ok((data.to_owned(), extended, timestamp))
}

fn short(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// What a frame to send is made of.
#[derive(Debug, Clone, Default)]
pub struct FrameSpec<'a> {
    /// `SIA-DCS`, `ADM-CID`, `NULL`, `ACK`, `NAK`, `DUH`, without `*`.
    pub token: &'a str,
    pub sequence: u16,
    /// With its letter: `R1`.
    pub receiver: Option<&'a str>,
    /// With its letter: `L1`.
    pub line: &'a str,
    /// Without `#`; empty leaves the account out.
    pub account: &'a str,
    /// What goes between `[` and `]`.
    pub data: &'a str,
    pub timestamp: Option<DateTime<Utc>>,
}

/// Builds a frame, encrypted when a key is given. `pad_seed` chooses the pad characters, which
/// the standard wants unpredictable: pass something that varies.
pub fn encode(spec: &FrameSpec<'_>, key: Option<&AesKey>, pad_seed: u64) -> Vec<u8> {
    let mut body = String::new();
    body.push('"');
    if key.is_some() {
        body.push('*');
    }
    body.push_str(spec.token);
    body.push('"');
    body.push_str(&format!("{:04}", spec.sequence % 10_000));
    if let Some(r) = spec.receiver {
        body.push_str(r);
    }
    body.push_str(spec.line);
    if !spec.account.is_empty() {
        body.push('#');
        body.push_str(spec.account);
    }
    body.push('[');
    let mut tail = String::from(spec.data);
    tail.push(']');
    if let Some(ts) = spec.timestamp {
        tail.push_str(&ts.format("_%H:%M:%S,%m-%d-%Y").to_string());
    }
    match key {
        Some(k) => {
            let pad_len = (16 - (tail.len() + 1) % 16) % 16;
            let mut plain = pad(pad_len, pad_seed);
            plain.push('|');
            plain.push_str(&tail);
            match aes_cbc(&k.0, plain.as_bytes(), true) {
                Ok(ct) => {
                    for b in ct {
                        body.push_str(&format!("{b:02X}"));
                    }
                }
                // Only a wrong-sized key gets here, and `AesKey` cannot hold one.
                Err(_) => body.push_str(&tail),
            }
        }
        None => body.push_str(&tail),
    }
    wrap(body.as_bytes())
}

fn pad(n: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            // xorshift: enough to vary the pad, which needs no secrecy of its own.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = usize::try_from(x % ALPHABET.len() as u64).unwrap_or(0);
            char::from(ALPHABET.get(i).copied().unwrap_or(b'A'))
        })
        .collect()
}

fn wrap(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 10);
    out.push(b'\n');
    out.extend_from_slice(format!("{:04X}0{:03X}", crc16(body), body.len() & 0xFFF).as_bytes());
    out.extend_from_slice(body);
    out.push(b'\r');
    out
}

/// `ACK` for an understood frame: same sequence, receiver, line and account; encrypted when the
/// frame was.
pub fn ack(h: &Header, now: DateTime<Utc>, key: Option<&AesKey>, pad_seed: u64) -> Vec<u8> {
    encode(
        &FrameSpec {
            token: "ACK",
            sequence: h.sequence,
            receiver: Some(&format!("R{}", h.receiver.as_deref().unwrap_or("0"))),
            line: &format!("L{}", h.line),
            account: &h.account,
            data: "",
            timestamp: Some(now),
        },
        if h.encrypted { key } else { None },
        pad_seed,
    )
}

/// `DUH` for an intact frame that is not understood. Never encrypted: the panel may not share
/// a key with this receiver.
pub fn duh(h: &Header) -> Vec<u8> {
    encode(
        &FrameSpec {
            token: "DUH",
            sequence: h.sequence,
            receiver: Some(&format!("R{}", h.receiver.as_deref().unwrap_or("0"))),
            line: &format!("L{}", h.line),
            account: &h.account,
            data: "",
            timestamp: None,
        },
        None,
        0,
    )
}

/// `NAK` for a damaged frame: nothing of it can be trusted, so it names no account and carries
/// the receiver's time (so a panel with a wrong clock can see it).
pub fn nak(now: DateTime<Utc>) -> Vec<u8> {
    encode(
        &FrameSpec {
            token: "NAK",
            sequence: 0,
            receiver: Some("R0"),
            line: "L0",
            account: "",
            data: "",
            timestamp: Some(now),
        },
        None,
        0,
    )
}

/// Reads the header of a frame whose CRC and length are right, without decrypting or
/// understanding the rest: what a `DUH` answer needs.
pub fn header_of(raw: &[u8]) -> Option<Header> {
    let body = raw.strip_prefix(b"\n")?;
    let body = body.strip_suffix(b"\r").unwrap_or(body).get(8..)?;
    let body = std::str::from_utf8(body).ok()?;
    let rest = body.strip_prefix('"')?;
    let (token, rest) = rest.split_once('"')?;
    let sequence = rest.get(..4)?.parse().ok()?;
    let mut rest = rest.get(4..)?;
    let mut take = |p: char| -> Option<String> {
        let after = rest.strip_prefix(p)?;
        let n = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        let v = after.get(..n)?.to_owned();
        rest = after.get(n..)?;
        Some(v)
    };
    let receiver = take('R');
    let line = take('L').unwrap_or_else(|| "0".into());
    let account = take('#').unwrap_or_else(|| "0".into());
    Some(Header {
        token: token.trim_start_matches('*').to_owned(),
        encrypted: token.starts_with('*'),
        sequence,
        receiver,
        line,
        account,
    })
}

/// The panel events a message carries: none for `NULL`, one or more for `SIA-DCS`, one for
/// `ADM-CID`.
pub fn panel_events(msg: &Message) -> Result<Vec<PanelEvent>, Dc09Error> {
    match msg.header.token.as_str() {
        "NULL" => Ok(Vec::new()),
        "SIA-DCS" => sia::parse_sia(&msg.data).map_err(Dc09Error::Payload),
        "ADM-CID" => sia::parse_contact_id(&msg.data).map_err(Dc09Error::Payload),
        other => Err(Dc09Error::Token(other.to_owned())),
    }
}

/// Turns one panel event of a message into an event input: `domain = physical`, the panel's
/// class and activity, `time` from the frame (else `received`), `asset` the account, and the
/// frame's routing and the event's facts in `fields`.
pub fn to_input(msg: &Message, e: &PanelEvent, received: DateTime<Utc>) -> EventInput {
    let mut fields: Map<String, Value> = e.fields();
    let h = &msg.header;
    fields.insert("account".into(), Value::from(h.account.as_str()));
    fields.insert("token".into(), Value::from(h.token.as_str()));
    fields.insert("sequence".into(), Value::from(h.sequence));
    fields.insert("line".into(), Value::from(h.line.as_str()));
    if let Some(r) = &h.receiver {
        fields.insert("receiver".into(), Value::from(r.as_str()));
    }
    fields.insert("encrypted".into(), Value::from(h.encrypted));
    if !msg.extended.is_empty() {
        fields.insert(
            "extended".into(),
            Value::Array(
                msg.extended
                    .iter()
                    .map(|x| Value::from(x.as_str()))
                    .collect(),
            ),
        );
    }
    let mut message = format!("{} ({})", e.description, e.code);
    for (label, v) in [
        ("zone", &e.zone),
        ("user", &e.user),
        ("door", &e.door),
        ("partition", &e.partition),
    ] {
        if let Some(v) = v {
            message.push_str(&format!(", {label} {v}"));
        }
    }
    message.push_str(&format!(", account {}", h.account));
    if let Some(t) = &e.text {
        message.push_str(&format!(": {t}"));
    }
    EventInput {
        time: Some(msg.timestamp.unwrap_or(received)),
        domain: Some("physical".into()),
        class: Some(e.class.to_owned()),
        activity: Some(e.activity.clone()),
        severity: Some(e.severity),
        asset: Some(h.account.clone()),
        message: Some(message),
        fields,
        ..EventInput::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-05-04T02:13:07Z".parse().unwrap()
    }

    fn key() -> AesKey {
        AesKey::from_hex("000102030405060708090A0B0C0D0E0F").unwrap()
    }

    #[test]
    fn crc_is_crc16_arc() {
        // The CRC-16/ARC check value.
        assert_eq!(crc16(b"123456789"), 0xBB3D);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn frames_round_trip_plain_and_encrypted() {
        let spec = FrameSpec {
            token: "SIA-DCS",
            sequence: 42,
            receiver: Some("R12"),
            line: "L3",
            account: "AB12",
            data: "#AB12|Nri1/BA015",
            timestamp: Some(now()),
        };
        let plain = encode(&spec, None, 1);
        let m = parse(&plain, &|_: &str| None).unwrap();
        assert_eq!(m.header.receiver.as_deref(), Some("12"));
        assert_eq!(m.header.line, "3");
        assert_eq!(m.header.account, "AB12");
        assert_eq!(m.timestamp, Some(now()));
        assert!(!m.header.encrypted);

        for seed in 0..20 {
            let enc = encode(&spec, Some(&key()), seed);
            assert!(enc.windows(7).all(|w| w != b"Nri1/BA"), "data is hidden");
            let m2 = parse(&enc, &|a: &str| (a == "AB12").then(key)).unwrap();
            assert!(m2.header.encrypted);
            assert_eq!(m2.data, m.data);
            assert_eq!(m2.timestamp, m.timestamp);
            assert!(matches!(
                parse(&enc, &|_: &str| None),
                Err(Dc09Error::NoKey(_))
            ));
        }
    }

    #[test]
    fn damage_is_nak_and_misunderstanding_is_duh() {
        let good = encode(
            &FrameSpec {
                token: "ADM-CID",
                sequence: 1,
                line: "L0",
                account: "1234",
                data: "#1234|1130 01 015",
                ..FrameSpec::default()
            },
            None,
            0,
        );
        let mut bad = good.clone();
        let last = bad.len() - 3;
        bad[last] = b'6';
        let e = parse(&bad, &|_: &str| None).unwrap_err();
        assert!(matches!(e, Dc09Error::Crc { .. }), "{e}");
        assert_eq!(e.answer(), Answer::Nak);
        let mut short = good.clone();
        short.remove(last);
        let e = parse(&short, &|_: &str| None).unwrap_err();
        assert!(matches!(e, Dc09Error::Length { .. }), "{e}");
        let weird = encode(
            &FrameSpec {
                token: "XYZ",
                sequence: 1,
                line: "L0",
                account: "1234",
                ..FrameSpec::default()
            },
            None,
            0,
        );
        let e = parse(&weird, &|_: &str| None).unwrap_err();
        assert_eq!(e.answer(), Answer::Duh);
        assert_eq!(header_of(&weird).unwrap().account, "1234");
    }

    #[test]
    fn answers_are_valid_frames() {
        let h = parse(
            &encode(
                &FrameSpec {
                    token: "NULL",
                    sequence: 9,
                    receiver: Some("R1"),
                    line: "L2",
                    account: "77",
                    ..FrameSpec::default()
                },
                None,
                0,
            ),
            &|_: &str| None,
        );
        // Account `#77` is too short (3 to 16 digits).
        assert!(h.is_err());
        let frame = encode(
            &FrameSpec {
                token: "NULL",
                sequence: 9,
                receiver: Some("R1"),
                line: "L2",
                account: "777",
                ..FrameSpec::default()
            },
            Some(&key()),
            3,
        );
        let m = parse(&frame, &|_: &str| Some(key())).unwrap();
        assert!(panel_events(&m).unwrap().is_empty());
        let a = parse(&ack(&m.header, now(), Some(&key()), 5), &|_: &str| {
            Some(key())
        })
        .unwrap();
        assert_eq!(a.header.token, "ACK");
        assert!(a.header.encrypted);
        assert_eq!(a.header.sequence, 9);
        assert_eq!(a.timestamp, Some(now()));
        let n = parse(&nak(now()), &|_: &str| None).unwrap();
        assert_eq!(n.header.token, "NAK");
        let d = parse(&duh(&m.header), &|_: &str| None).unwrap();
        assert_eq!((d.header.token.as_str(), d.header.sequence), ("DUH", 9));
    }
}
