//! ArcSight Common Event Format:
//! `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`.
//!
//! Header fields are separated by unescaped `|`; `\|` and `\\` stand for `|` and `\` there. The
//! extension is `key=value` pairs separated by spaces, where a value may itself hold spaces and
//! ends where the next ` key=` starts; in values `\=`, `\\`, `\n` and `\r` stand for `=`, `\`,
//! line feed and carriage return. Keys are `[A-Za-z0-9_.[]-]+`. Any other backslash sequence is
//! kept as written, and spaces at the end of a value are dropped.

use serde::Serialize;

use crate::ParseError;

const FORMAT: &str = "cef";

/// One CEF record, header fields unescaped, extensions in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cef {
    pub version: u32,
    pub device_vendor: String,
    pub device_product: String,
    pub device_version: String,
    pub signature_id: String,
    pub name: String,
    /// As sent: `0`–`10`, or `Low`, `Medium`, `High`, `Very-High`.
    pub severity: String,
    pub extensions: Vec<(String, String)>,
}

impl Cef {
    /// The value of an extension key; the last one wins when a key is repeated.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extensions
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a CEF record; `s` starts at `CEF:`.
pub fn parse(s: &str) -> Result<Cef, ParseError> {
    let b = s.as_bytes();
    if !b.starts_with(b"CEF:") {
        return Err(ParseError::new(
            FORMAT,
            Some(0),
            "does not start with \"CEF:\"",
        ));
    }
    let mut fields: Vec<String> = Vec::with_capacity(7);
    let mut current = String::new();
    let mut chunk = 4;
    let mut i = 4;
    let mut extension_at = None;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => match b.get(i + 1) {
                Some(&e @ (b'|' | b'\\')) => {
                    current.push_str(s.get(chunk..i).unwrap_or_default());
                    current.push(char::from(e));
                    i += 2;
                    chunk = i;
                }
                _ => i += 1,
            },
            b'|' => {
                current.push_str(s.get(chunk..i).unwrap_or_default());
                fields.push(std::mem::take(&mut current));
                i += 1;
                chunk = i;
                if fields.len() == 7 {
                    extension_at = Some(i);
                    break;
                }
            }
            _ => i += 1,
        }
    }
    if extension_at.is_none() {
        // A record without extension may leave out the last `|`.
        current.push_str(s.get(chunk..).unwrap_or_default());
        fields.push(current);
    }
    if fields.len() != 7 {
        return Err(ParseError::new(
            FORMAT,
            Some(b.len()),
            format!("header has {} fields, expected 7", fields.len()),
        ));
    }
    let mut it = fields.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let version_text = next();
    let version = version_text.trim().parse::<u32>().map_err(|_| {
        ParseError::new(
            FORMAT,
            Some(4),
            format!("version {version_text:?} is not a number"),
        )
    })?;
    let (device_vendor, device_product, device_version) = (next(), next(), next());
    let (signature_id, name, severity) = (next(), next(), next());
    let extensions = match extension_at {
        Some(at) => pairs(s, at, true).map_err(|(at, r)| ParseError::new(FORMAT, Some(at), r))?,
        None => Vec::new(),
    };
    Ok(Cef {
        version,
        device_vendor,
        device_product,
        device_version,
        signature_id,
        name,
        severity,
        extensions,
    })
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'[' | b']' | b'-')
}

fn key_len(b: &[u8], at: usize) -> usize {
    b.get(at..)
        .map_or(0, |s| s.iter().take_while(|&&c| is_key_byte(c)).count())
}

fn is_key_start(b: &[u8], at: usize) -> bool {
    let n = key_len(b, at);
    n > 0 && b.get(at + n) == Some(&b'=')
}

fn skip_spaces(b: &[u8], mut at: usize) -> usize {
    while b.get(at) == Some(&b' ') {
        at += 1;
    }
    at
}

/// Space-separated `key=value` pairs from byte `start` of `s`, CEF style. With `unescape`, the
/// CEF value escapes are applied. The error is the byte offset and the reason.
pub(crate) fn pairs(
    s: &str,
    start: usize,
    unescape: bool,
) -> Result<Vec<(String, String)>, (usize, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = skip_spaces(b, start);
    while i < b.len() {
        let n = key_len(b, i);
        if n == 0 || b.get(i + n) != Some(&b'=') {
            return Err((i, "expected key=value in the extension".to_owned()));
        }
        let key = s.get(i..i + n).unwrap_or_default();
        let value_at = i + n + 1;
        let mut j = value_at;
        let value_end = loop {
            match b.get(j) {
                None => break b.len(),
                Some(b'\\') => j += 2,
                Some(b' ') if is_key_start(b, j + 1) => break j,
                Some(_) => j += 1,
            }
        };
        // Both ends sit on ASCII bytes (a space, or the ends of the text).
        let raw = s
            .get(value_at..value_end)
            .unwrap_or_default()
            .trim_end_matches(' ');
        let value = if unescape {
            unescape_value(raw)
        } else {
            raw.to_owned()
        };
        out.push((key.to_owned(), value));
        i = skip_spaces(b, value_end);
    }
    Ok(out)
}

fn unescape_value(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some(e @ ('=' | '\\')) => {
                out.push(e);
                chars.next();
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            Some('r') => {
                out.push('\r');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(c: &Cef) -> Vec<(&str, &str)> {
        c.extensions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn header_and_extension() {
        let c = parse("CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232").unwrap();
        assert_eq!(c.version, 0);
        assert_eq!(c.device_vendor, "Security");
        assert_eq!(c.device_product, "threatmanager");
        assert_eq!(c.device_version, "1.0");
        assert_eq!(c.signature_id, "100");
        assert_eq!(c.name, "worm successfully stopped");
        assert_eq!(c.severity, "10");
        assert_eq!(
            ext(&c),
            [("src", "10.0.0.1"), ("dst", "2.1.2.2"), ("spt", "1232")]
        );
    }

    #[test]
    fn header_escapes_pipe_and_backslash_and_keeps_others() {
        let c = parse(r"CEF:0|security|threat\|manager|1.0|100|a \\ b \n c|Low|").unwrap();
        assert_eq!(c.device_product, "threat|manager");
        assert_eq!(c.name, r"a \ b \n c");
        assert_eq!(c.severity, "Low");
        assert!(c.extensions.is_empty());
    }

    #[test]
    fn each_extension_escape() {
        let c = parse(
            r"CEF:1|V|P|1|1|n|3|a=x\=y b=back\\slash c=line\nbreak d=cr\rhere e=pipe\|kept f=end\\",
        )
        .unwrap();
        assert_eq!(c.version, 1);
        assert_eq!(
            ext(&c),
            [
                ("a", "x=y"),
                ("b", "back\\slash"),
                ("c", "line\nbreak"),
                ("d", "cr\rhere"),
                ("e", "pipe\\|kept"),
                ("f", "end\\"),
            ]
        );
    }

    #[test]
    fn values_keep_spaces_and_end_at_the_next_key() {
        let c = parse("CEF:0|V|P|1|1|n|3|msg=User admin logged in from  the console   act=blocked request=http://x/?a=b&c=d cs1Label=Rule name cs1=Deny all ad.user[0]=x").unwrap();
        assert_eq!(
            ext(&c),
            [
                ("msg", "User admin logged in from  the console"),
                ("act", "blocked"),
                ("request", "http://x/?a=b&c=d"),
                ("cs1Label", "Rule name"),
                ("cs1", "Deny all"),
                ("ad.user[0]", "x"),
            ]
        );
    }

    #[test]
    fn empty_values_and_repeated_keys() {
        let c = parse("CEF:0|V|P|1|1|n|3|a= b=2 b=3 c=").unwrap();
        assert_eq!(ext(&c), [("a", ""), ("b", "2"), ("b", "3"), ("c", "")]);
        assert_eq!(c.get("b"), Some("3"));
    }

    #[test]
    fn last_pipe_may_be_left_out_without_extension() {
        let c = parse("CEF:0|V|P|1|1|n|3").unwrap();
        assert_eq!(c.severity, "3");
        assert!(c.extensions.is_empty());
    }

    #[test]
    fn multibyte_text_in_values() {
        let c = parse("CEF:0|V|P|1|1|Zugriff verweigert|3|suser=jürgen msg=Tür \\é offen").unwrap();
        assert_eq!(ext(&c), [("suser", "jürgen"), ("msg", "Tür \\é offen")]);
    }

    #[test]
    fn error_paths() {
        let e = parse("LEEF:1.0|x").unwrap_err();
        assert_eq!(
            (e.offset, e.reason.as_str()),
            (Some(0), "does not start with \"CEF:\"")
        );
        let e = parse("CEF:0|V|P|1").unwrap_err();
        assert_eq!(e.reason, "header has 4 fields, expected 7");
        assert_eq!(e.offset, Some(11));
        let e = parse("CEF:x|V|P|1|1|n|3|").unwrap_err();
        assert!(e.reason.contains("version \"x\""), "{e}");
        let e = parse("CEF:0|V|P|1|1|n|3|just text a=b").unwrap_err();
        assert_eq!(e.offset, Some(18));
        assert!(e.reason.contains("key=value"), "{e}");
        let e = parse("CEF:0|V|P|1|1|n|3|=x").unwrap_err();
        assert_eq!(e.offset, Some(18));
        assert_eq!(
            e.to_string(),
            "cef: expected key=value in the extension (at byte 18)"
        );
    }
}
