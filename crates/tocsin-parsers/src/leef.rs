//! IBM QRadar Log Event Extended Format, versions 1.0 and 2.0:
//!
//! ```text
//! LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
//! LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value<Delimiter>key=value...
//! ```
//!
//! The LEEF 2.0 delimiter is one character or its code in hex (`x5E`, `0x5e`, `x09`); when the
//! field is left out or empty, tab is used. Each attribute is split at its first `=`. Leniencies
//! for what devices send:
//! - a piece without `=` continues the previous value (a value holding the delimiter unescaped);
//! - a LEEF 1.0 record with no tab at all (tabs turned into spaces on the way) is split like a
//!   CEF extension: a value ends where the next ` key=` starts;
//! - empty pieces (a trailing or doubled delimiter) are skipped;
//! - the version may be written `1` or `2`.
//!
//! LEEF defines no escapes: values are kept as written.

use serde::Serialize;

use crate::ParseError;

const FORMAT: &str = "leef";

/// One LEEF record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leef {
    /// `1.0` or `2.0`.
    pub version: String,
    pub vendor: String,
    pub product: String,
    pub product_version: String,
    pub event_id: String,
    /// The attribute delimiter used: tab for LEEF 1.0, the declared one for 2.0, or a space for a
    /// LEEF 1.0 record whose tabs had become spaces.
    pub delimiter: char,
    pub attributes: Vec<(String, String)>,
}

impl Leef {
    /// The value of an attribute; the last one wins when a key is repeated.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a LEEF record; `s` starts at `LEEF:`.
pub fn parse(s: &str) -> Result<Leef, ParseError> {
    let Some(rest) = s.strip_prefix("LEEF:") else {
        return Err(ParseError::new(
            FORMAT,
            Some(0),
            "does not start with \"LEEF:\"",
        ));
    };
    let mut at = 5;
    let mut header = rest.splitn(5, '|');
    let mut field = |name: &str| -> Result<&str, ParseError> {
        let f = header.next().ok_or_else(|| {
            ParseError::new(FORMAT, Some(s.len()), format!("header ends before {name}"))
        })?;
        at += f.len() + 1;
        Ok(f)
    };
    let version = match field("version")?.trim() {
        "1.0" | "1" => "1.0",
        "2.0" | "2" => "2.0",
        other => {
            return Err(ParseError::new(
                FORMAT,
                Some(5),
                format!("version {other:?} is not 1.0 or 2.0"),
            ));
        }
    };
    let vendor = field("vendor")?.to_owned();
    let product = field("product")?.to_owned();
    let product_version = field("product version")?.to_owned();
    let rest_at = at;
    let tail = header
        .next()
        .ok_or_else(|| ParseError::new(FORMAT, Some(s.len()), "header ends before event id"))?;
    // The event id is the fifth field; it may be the last thing in the record.
    let (event_id, mut attrs_at) = match tail.find('|') {
        Some(p) => (tail.get(..p).unwrap_or_default(), rest_at + p + 1),
        None => (tail, s.len()),
    };
    let mut delimiter = '\t';
    if version == "2.0" {
        let after = s.get(attrs_at..).unwrap_or_default();
        let candidate_len = after.find('|').unwrap_or(after.len());
        let candidate = after.get(..candidate_len).unwrap_or_default();
        if !candidate.contains('=') {
            if let Some(d) = parse_delimiter(candidate) {
                delimiter = d;
            } else if !candidate.is_empty() {
                return Err(ParseError::new(
                    FORMAT,
                    Some(attrs_at),
                    format!("delimiter {candidate:?} is not one character or its hex code"),
                ));
            }
            attrs_at = (attrs_at + candidate_len + 1).min(s.len());
        }
    }
    let attrs = s.get(attrs_at..).unwrap_or_default();
    let attributes = if version == "1.0" && !attrs.contains('\t') && attrs.contains('=') {
        delimiter = ' ';
        crate::cef::pairs(s, attrs_at, false).map_err(|(at, r)| {
            ParseError::new(FORMAT, Some(at), r.replace("extension", "attributes"))
        })?
    } else {
        split_attributes(attrs, attrs_at, delimiter)?
    };
    Ok(Leef {
        version: version.to_owned(),
        vendor,
        product,
        product_version,
        event_id: event_id.to_owned(),
        delimiter,
        attributes,
    })
}

/// `^`, `x5E`, `0x5e`, or empty for the default tab.
fn parse_delimiter(f: &str) -> Option<char> {
    if f.is_empty() {
        return Some('\t');
    }
    let mut chars = f.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(c);
    }
    let hex = f
        .strip_prefix("0x")
        .or_else(|| f.strip_prefix("0X"))
        .or_else(|| f.strip_prefix('x'))
        .or_else(|| f.strip_prefix('X'))?;
    if hex.is_empty() || hex.len() > 4 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
}

fn split_attributes(
    attrs: &str,
    base: usize,
    delimiter: char,
) -> Result<Vec<(String, String)>, ParseError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut offset = base;
    for piece in attrs.split(delimiter) {
        let piece_at = offset;
        offset += piece.len() + delimiter.len_utf8();
        let trimmed = piece.trim_end_matches(['\r', '\n']);
        if trimmed.trim().is_empty() {
            continue;
        }
        match trimmed.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.push((k.trim().to_owned(), v.to_owned()));
            }
            _ => match out.last_mut() {
                Some((_, value)) => {
                    value.push(delimiter);
                    value.push_str(trimmed);
                }
                None => {
                    return Err(ParseError::new(
                        FORMAT,
                        Some(piece_at),
                        format!("attribute {trimmed:?} has no key=value"),
                    ));
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(l: &Leef) -> Vec<(&str, &str)> {
        l.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn leef1_tab_delimited() {
        let l = parse(
            "LEEF:1.0|Microsoft|MSExchange|2016|15345|src=10.50.1.1\tdst=2.10.20.20\tspt=1200",
        )
        .unwrap();
        assert_eq!(l.version, "1.0");
        assert_eq!(
            (
                l.vendor.as_str(),
                l.product.as_str(),
                l.product_version.as_str(),
                l.event_id.as_str()
            ),
            ("Microsoft", "MSExchange", "2016", "15345")
        );
        assert_eq!(l.delimiter, '\t');
        assert_eq!(
            attrs(&l),
            [("src", "10.50.1.1"), ("dst", "2.10.20.20"), ("spt", "1200")]
        );
    }

    #[test]
    fn leef1_with_spaces_instead_of_tabs() {
        let l = parse("LEEF:1.0|V|P|1|Logon|usrName=j doe  src=10.0.0.1").unwrap();
        assert_eq!(l.delimiter, ' ');
        assert_eq!(attrs(&l), [("usrName", "j doe"), ("src", "10.0.0.1")]);
    }

    #[test]
    fn leef2_custom_and_hex_delimiters() {
        let l = parse("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5")
            .unwrap();
        assert_eq!(l.delimiter, '^');
        assert_eq!(
            attrs(&l),
            [("src", "10.0.1.8"), ("dst", "10.0.0.5"), ("sev", "5")]
        );
        let l = parse("LEEF:2.0|V|P|1|E|0x5e|a=1^b=2").unwrap();
        assert_eq!(
            (l.delimiter, attrs(&l)),
            ('^', vec![("a", "1"), ("b", "2")])
        );
        let l = parse("LEEF:2.0|V|P|1|E|x09|a=1\tb=2").unwrap();
        assert_eq!((l.delimiter, attrs(&l).len()), ('\t', 2));
        let l = parse("LEEF:2.0|V|P|1|E|X7C|a=1|b=2").unwrap();
        assert_eq!(
            (l.delimiter, attrs(&l)),
            ('|', vec![("a", "1"), ("b", "2")])
        );
    }

    #[test]
    fn leef2_without_delimiter_field_defaults_to_tab() {
        let l = parse("LEEF:2.0|V|P|1|E|a=1\tb=x=y").unwrap();
        assert_eq!(
            (l.delimiter, attrs(&l)),
            ('\t', vec![("a", "1"), ("b", "x=y")])
        );
        let l = parse("LEEF:2.0|V|P|1|E||a=1\tb=2").unwrap();
        assert_eq!((l.delimiter, attrs(&l).len()), ('\t', 2));
    }

    #[test]
    fn header_only_records() {
        let l = parse("LEEF:1.0|V|P|1|E").unwrap();
        assert_eq!(l.event_id, "E");
        assert!(l.attributes.is_empty());
        let l = parse("LEEF:2.0|V|P|1|E|^|").unwrap();
        assert_eq!((l.delimiter, l.attributes.len()), ('^', 0));
    }

    #[test]
    fn pieces_without_equals_continue_the_value_and_empty_pieces_are_skipped() {
        let l = parse("LEEF:2.0|V|P|1|E|^|msg=a^b^^c=d^").unwrap();
        assert_eq!(attrs(&l), [("msg", "a^b"), ("c", "d")]);
    }

    #[test]
    fn error_paths() {
        let e = parse("CEF:0|x").unwrap_err();
        assert_eq!(e.offset, Some(0));
        let e = parse("LEEF:3.0|V|P|1|E|").unwrap_err();
        assert!(e.reason.contains("version \"3.0\""), "{e}");
        let e = parse("LEEF:1.0|V|P").unwrap_err();
        assert_eq!(e.reason, "header ends before product version");
        let e = parse("LEEF:1.0|V|P|1").unwrap_err();
        assert_eq!(
            (e.reason.as_str(), e.offset),
            ("header ends before event id", Some(14))
        );
        let e = parse("LEEF:2.0|V|P|1|E|abc|a=1").unwrap_err();
        assert!(e.reason.contains("delimiter \"abc\""), "{e}");
        assert_eq!(e.offset, Some(17));
        let e = parse("LEEF:1.0|V|P|1|E|oops\ta=1").unwrap_err();
        assert!(e.reason.contains("no key=value"), "{e}");
        assert_eq!(e.offset, Some(17));
        let e = parse("LEEF:1.0|V|P|1|E|oops a=1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "leef: expected key=value in the attributes (at byte 17)"
        );
    }
}
