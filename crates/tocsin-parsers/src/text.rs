//! Small scanners shared by the parsers: byte decoding, month names, zone names and offsets, and
//! the time layouts devices print.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Bytes to text without losing any: UTF-8 when valid, else each byte as the Latin-1 character of
/// the same value. Legacy devices mostly send Latin-1 or Windows-1252, and this way the original
/// bytes can always be recovered from the text.
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// English three-letter month abbreviation, any case.
pub(crate) fn month(b: &[u8]) -> Option<u32> {
    let m = [
        b.first()?.to_ascii_lowercase(),
        b.get(1)?.to_ascii_lowercase(),
        b.get(2)?.to_ascii_lowercase(),
    ];
    Some(match &m {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// Zone abbreviations that devices print after a time, with their offsets in seconds east of UTC.
///
/// Abbreviations are ambiguous in general; this table holds only those whose common meaning in
/// device logs is clear. `CST` is taken as US Central (as ArcSight does), and `IST` is left out
/// because India, Ireland and Israel all use it. An abbreviation not listed makes the time
/// unparseable rather than silently wrong.
const ZONES: &[(&str, i32)] = &[
    ("UTC", 0),
    ("GMT", 0),
    ("UT", 0),
    ("Z", 0),
    ("WET", 0),
    ("WEST", 3600),
    ("BST", 3600),
    ("CET", 3600),
    ("CEST", 7200),
    ("MET", 3600),
    ("MEST", 7200),
    ("EET", 7200),
    ("EEST", 10800),
    ("MSK", 10800),
    ("EST", -5 * 3600),
    ("EDT", -4 * 3600),
    ("CST", -6 * 3600),
    ("CDT", -5 * 3600),
    ("MST", -7 * 3600),
    ("MDT", -6 * 3600),
    ("PST", -8 * 3600),
    ("PDT", -7 * 3600),
    ("AKST", -9 * 3600),
    ("AKDT", -8 * 3600),
    ("HST", -10 * 3600),
    ("JST", 9 * 3600),
    ("KST", 9 * 3600),
    ("AEST", 10 * 3600),
    ("AEDT", 11 * 3600),
];

pub(crate) fn zone_abbreviation(s: &str) -> Option<FixedOffset> {
    ZONES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .and_then(|&(_, secs)| FixedOffset::east_opt(secs))
}

/// `Z`, `+01:00`, `+0100` or `+01`.
pub(crate) fn numeric_offset(s: &str) -> Option<FixedOffset> {
    let b = s.as_bytes();
    if b == b"Z" || b == b"z" {
        return FixedOffset::east_opt(0);
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = digits_exact(b, 1, 2)?;
    let minutes = match b.len() {
        3 => 0,
        5 => digits_exact(b, 3, 2)?,
        6 if b.get(3) == Some(&b':') => digits_exact(b, 4, 2)?,
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let secs = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    FixedOffset::east_opt(sign * secs)
}

/// A numeric offset or a known abbreviation.
pub(crate) fn zone(s: &str) -> Option<FixedOffset> {
    numeric_offset(s).or_else(|| zone_abbreviation(s))
}

/// Exactly `n` ASCII digits at `at`, as a number.
pub(crate) fn digits_exact(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(n)?)?;
    let mut v: u32 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Between `min` and `max` ASCII digits at `at`: the number and how many digits were read.
fn digits_between(b: &[u8], at: usize, min: usize, max: usize) -> Option<(u32, usize)> {
    let mut v: u32 = 0;
    let mut n = 0;
    while n < max {
        match b.get(at + n) {
            Some(c) if c.is_ascii_digit() => {
                v = v * 10 + u32::from(c - b'0');
                n += 1;
            }
            _ => break,
        }
    }
    (n >= min).then_some((v, n))
}

/// A decimal fraction after the dot, as nanoseconds: the value and how many digits were read.
/// Digits beyond the ninth are read but ignored.
fn fraction(b: &[u8], at: usize) -> Option<(u32, usize)> {
    let mut nanos: u32 = 0;
    let mut n = 0;
    while let Some(c) = b.get(at + n).filter(|c| c.is_ascii_digit()) {
        if n < 9 {
            nanos = nanos * 10 + u32::from(c - b'0');
        }
        n += 1;
    }
    if n == 0 {
        return None;
    }
    for _ in n..9 {
        nanos *= 10;
    }
    Some((nanos, n))
}

fn spaces(b: &[u8], at: usize) -> usize {
    b.get(at..)
        .map_or(0, |s| s.iter().take_while(|&&c| c == b' ').count())
}

/// A BSD-style time as RFC 3164 and many devices print it, before the year and zone are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BsdTime {
    pub month: u32,
    pub day: u32,
    pub year: Option<i32>,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
}

impl BsdTime {
    pub(crate) fn resolve(&self, default_year: i32, offset: FixedOffset) -> Option<DateTime<Utc>> {
        let date =
            NaiveDate::from_ymd_opt(self.year.unwrap_or(default_year), self.month, self.day)?;
        let local = date.and_hms_nano_opt(self.hour, self.minute, self.second, self.nanos)?;
        offset
            .from_local_datetime(&local)
            .single()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// `Mmm d[d] [yyyy ]HH:MM:SS[.fff][ yyyy]` at the start of `b`: the time and the bytes read.
/// The day may be padded with a space (`Oct  1`), as RFC 3164 asks.
pub(crate) fn parse_bsd(b: &[u8]) -> Option<(BsdTime, usize)> {
    let month = month(b)?;
    let mut i = 3;
    let sp = spaces(b, i);
    if sp == 0 || sp > 2 {
        return None;
    }
    i += sp;
    let (day, n) = digits_between(b, i, 1, 2)?;
    i += n;
    let sp = spaces(b, i);
    if sp == 0 {
        return None;
    }
    i += sp;
    let mut year = None;
    if let Some(y) = digits_exact(b, i, 4)
        && b.get(i + 4) == Some(&b' ')
    {
        year = i32::try_from(y).ok();
        i += 4;
        i += spaces(b, i);
    }
    let hour = digits_exact(b, i, 2)?;
    if b.get(i + 2) != Some(&b':') {
        return None;
    }
    let minute = digits_exact(b, i + 3, 2)?;
    if b.get(i + 5) != Some(&b':') {
        return None;
    }
    let second = digits_exact(b, i + 6, 2)?;
    i += 8;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.')
        && let Some((v, n)) = fraction(b, i + 1)
    {
        nanos = v;
        i += 1 + n;
    }
    if year.is_none()
        && b.get(i) == Some(&b' ')
        && let Some(y) = digits_exact(b, i + 1, 4)
        && matches!(b.get(i + 5), None | Some(b' ' | b':'))
    {
        year = i32::try_from(y).ok();
        i += 5;
    }
    Some((
        BsdTime {
            month,
            day,
            year,
            hour,
            minute,
            second,
            nanos,
        },
        i,
    ))
}

/// An ISO 8601 / RFC 3339 date-time at the start of `b`, with its offset when one is written:
/// `YYYY-MM-DDTHH:MM:SS[.frac][Z|+hh:mm|+hhmm|+hh]`. Lenient: a space or lowercase `t` may
/// separate date and time, and the offset may be missing.
pub(crate) fn parse_iso_prefix(b: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>, usize)> {
    let year = digits_exact(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits_exact(b, 5, 2)?;
    let day = digits_exact(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits_exact(b, 11, 2)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let minute = digits_exact(b, 14, 2)?;
    let second = digits_exact(b, 17, 2)?;
    let mut i = 19;
    let mut nanos = 0;
    if matches!(b.get(i), Some(b'.' | b','))
        && let Some((v, n)) = fraction(b, i + 1)
    {
        nanos = v;
        i += 1 + n;
    }
    let naive = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?
        .and_hms_nano_opt(hour, minute, second, nanos)?;
    let offset_len = match b.get(i) {
        Some(b'Z' | b'z') => 1,
        Some(b'+' | b'-') => {
            if digits_exact(b, i + 1, 2).is_none() {
                0
            } else if b.get(i + 3) == Some(&b':') && digits_exact(b, i + 4, 2).is_some() {
                6
            } else if digits_exact(b, i + 3, 2).is_some() {
                5
            } else {
                3
            }
        }
        _ => 0,
    };
    if offset_len == 0 {
        return Some((naive, None, i));
    }
    let text = std::str::from_utf8(b.get(i..i + offset_len)?).ok()?;
    let offset = numeric_offset(text)?;
    Some((naive, Some(offset), i + offset_len))
}

/// A device time from a CEF extension (`rt`, `end`) or a LEEF `devTime` written without a
/// `devTimeFormat`: epoch milliseconds (epoch seconds when 11 digits or fewer, as some devices
/// send), RFC 3339, or `MMM dd [yyyy] HH:mm:ss[.SSS] [zone]`.
///
/// Returns the time and whether its zone was known; a time without a zone is read as UTC, and
/// the caller decides whether to trust it. `year` fills in a time printed without one.
pub(crate) fn device_time(s: &str, year: Option<i32>) -> Option<(DateTime<Utc>, bool)> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b.iter().all(u8::is_ascii_digit) {
        let n: i64 = s.parse().ok()?;
        let t = if b.len() >= 12 {
            DateTime::from_timestamp_millis(n)?
        } else {
            DateTime::from_timestamp(n, 0)?
        };
        return Some((t, true));
    }
    if let Some((naive, offset, used)) = parse_iso_prefix(b)
        && used == b.len()
    {
        return Some(match offset {
            Some(o) => (
                o.from_local_datetime(&naive).single()?.with_timezone(&Utc),
                true,
            ),
            None => (Utc.from_utc_datetime(&naive), false),
        });
    }
    let (t, used) = parse_bsd(b)?;
    let year = t.year.or(year)?;
    let rest = s.get(used..)?.trim();
    if rest.is_empty() {
        return Some((t.resolve(year, FixedOffset::east_opt(0)?)?, false));
    }
    let offset = zone(rest)?;
    Some((t.resolve(year, offset)?, true))
}

/// A time written in a Java `SimpleDateFormat` pattern, as LEEF's `devTimeFormat` gives it
/// (`MMM dd yyyy HH:mm:ss.SSS zzz`, `yyyy-MM-dd'T'HH:mm:ssXXX`...). A zone name (`z`) is
/// supported only at the end of the pattern. Returns the time and whether its zone was known.
pub(crate) fn java_time(value: &str, pattern: &str) -> Option<(DateTime<Utc>, bool)> {
    let mut fmt = String::with_capacity(pattern.len() + 8);
    let mut has_offset = false;
    let mut zone_name = false;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if zone_name {
            // Only trailing literals may follow a zone name.
            return None;
        }
        if c == '\'' {
            i += 1;
            while let Some(&q) = chars.get(i) {
                i += 1;
                if q == '\'' {
                    break;
                }
                push_literal(&mut fmt, q);
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut fmt, c);
            i += 1;
            continue;
        }
        let mut run = 1;
        while chars.get(i + run) == Some(&c) {
            run += 1;
        }
        i += run;
        let spec = match (c, run) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('Z' | 'X', _) => {
                has_offset = true;
                "%z"
            }
            ('z', _) => {
                zone_name = true;
                ""
            }
            _ => return None,
        };
        fmt.push_str(spec);
    }
    let value = value.trim();
    if zone_name {
        let fmt = fmt.trim_end();
        let (body, name) = value.rsplit_once(' ')?;
        let offset = zone(name)?;
        let naive = NaiveDateTime::parse_from_str(body.trim_end(), fmt).ok()?;
        let t = offset.from_local_datetime(&naive).single()?;
        return Some((t.with_timezone(&Utc), true));
    }
    if has_offset {
        // chrono's `%z` does not take `Z`; Java's `X` writes it for UTC.
        let owned;
        let value = match value.strip_suffix('Z') {
            Some(v) => {
                owned = format!("{v}+00:00");
                owned.as_str()
            }
            None => value,
        };
        let t = DateTime::parse_from_str(value, &fmt).ok()?;
        return Some((t.with_timezone(&Utc), true));
    }
    let naive = NaiveDateTime::parse_from_str(value, &fmt).ok()?;
    Some((Utc.from_utc_datetime(&naive), false))
}

fn push_literal(fmt: &mut String, c: char) {
    if c == '%' {
        fmt.push_str("%%");
    } else {
        fmt.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn invalid_utf8_is_decoded_byte_for_byte() {
        assert_eq!(decode(b"caf\xc3\xa9"), "café");
        let latin1 = decode(b"caf\xe9");
        assert_eq!(latin1, "caf\u{e9}");
        let back: Vec<u8> = latin1.chars().map(|c| c as u8).collect();
        assert_eq!(back, b"caf\xe9");
    }

    #[test]
    fn offsets_and_zone_names() {
        assert_eq!(numeric_offset("+01:00").unwrap().local_minus_utc(), 3600);
        assert_eq!(numeric_offset("-0530").unwrap().local_minus_utc(), -19800);
        assert_eq!(numeric_offset("+02").unwrap().local_minus_utc(), 7200);
        assert_eq!(numeric_offset("Z").unwrap().local_minus_utc(), 0);
        assert!(numeric_offset("+25:00").is_none());
        assert!(numeric_offset("+1:00").is_none());
        assert_eq!(zone("cest").unwrap().local_minus_utc(), 7200);
        assert!(zone("IST").is_none());
    }

    #[test]
    fn bsd_times_with_padding_fraction_and_year() {
        let (t, n) = parse_bsd(b"Oct  1 22:14:15 host").unwrap();
        assert_eq!((t.month, t.day, t.hour, t.year), (10, 1, 22, None));
        assert_eq!(n, 15);
        let (t, n) = parse_bsd(b"Mar 1 2024 18:48:50.483 UTC").unwrap();
        assert_eq!((t.year, t.nanos, n), (Some(2024), 483_000_000, 23));
        let (t, _) = parse_bsd(b"Mar 12 12:00:08 2025 fw01").unwrap();
        assert_eq!(t.year, Some(2025));
        assert!(parse_bsd(b"Oct 11 22:14").is_none());
        assert!(parse_bsd(b"Foo 11 22:14:15").is_none());
        let (t, _) = parse_bsd(b"Feb 30 10:00:00").unwrap();
        assert!(t.resolve(2026, FixedOffset::east_opt(0).unwrap()).is_none());
    }

    #[test]
    fn device_times_in_every_cef_layout() {
        let ms = device_time("1777860787000", None).unwrap();
        assert_eq!(ms, (utc("2026-05-04T02:13:07Z"), true));
        assert_eq!(device_time("1777860787", None).unwrap().0, ms.0);
        assert_eq!(
            device_time("May 04 2026 04:13:07 CEST", None).unwrap(),
            (utc("2026-05-04T02:13:07Z"), true)
        );
        assert_eq!(
            device_time("May 04 02:13:07.250", Some(2026)).unwrap(),
            (utc("2026-05-04T02:13:07.250Z"), false)
        );
        assert_eq!(
            device_time("2026-05-04T04:13:07+02:00", None).unwrap(),
            (utc("2026-05-04T02:13:07Z"), true)
        );
        assert!(device_time("May 04 02:13:07", None).is_none());
        assert!(device_time("May 04 2026 02:13:07 XYZ", None).is_none());
        assert!(device_time("soon", None).is_none());
    }

    #[test]
    fn java_patterns_cover_the_leef_layouts() {
        assert_eq!(
            java_time(
                "May 04 2026 04:13:07.250 CEST",
                "MMM dd yyyy HH:mm:ss.SSS zzz"
            )
            .unwrap(),
            (utc("2026-05-04T02:13:07.250Z"), true)
        );
        assert_eq!(
            java_time("2026-05-04T04:13:07+0200", "yyyy-MM-dd'T'HH:mm:ssZ").unwrap(),
            (utc("2026-05-04T02:13:07Z"), true)
        );
        assert_eq!(
            java_time("2026-05-04T02:13:07Z", "yyyy-MM-dd'T'HH:mm:ssXXX").unwrap(),
            (utc("2026-05-04T02:13:07Z"), true)
        );
        assert_eq!(
            java_time("04/05/2026 02:13:07", "dd/MM/yyyy HH:mm:ss").unwrap(),
            (utc("2026-05-04T02:13:07Z"), false)
        );
        assert!(java_time("04/05/2026", "dd/MM/yyyy QQ").is_none());
        assert!(java_time("x", "yyyy").is_none());
    }
}
