//! Pure parsers for what sources receive, and the declarative field mapping that turns a parsed
//! record into an [`EventInput`](tocsin_model::EventInput).
//!
//! - [`syslog`]: RFC 5424 (strict) and RFC 3164 (lenient, as devices really send it), detected
//!   automatically, with CEF and LEEF payloads recognised inside the message.
//! - [`cef`] and [`leef`]: ArcSight CEF and IBM QRadar LEEF 1.0 / 2.0, bare or inside syslog.
//! - [`normalise`]: a syslog message (and its payload) to an `EventInput` with sensible defaults.
//! - [`mapping`]: a list of configured steps (copy, rename, constant, timestamp, lookup) from a flat
//!   record to the event model.
//! - [`body`]: splitting an HTTP or file body into records (JSON object, array, NDJSON, CSV).
//!
//! ```
//! use tocsin_parsers::{normalise, syslog};
//!
//! let now = "2026-05-04T02:13:08Z".parse().unwrap();
//! let msg = syslog::parse(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed", &syslog::SyslogOptions::new(now))
//!     .unwrap();
//! assert_eq!(msg.app_name.as_deref(), Some("su"));
//! let input = normalise::syslog_to_input(&msg);
//! assert_eq!(input.host.as_deref(), Some("mymachine"));
//! ```
//!
//! Architecture invariant: nothing here does IO or reads the wall clock (the current year for
//! RFC 3164 comes in through [`syslog::SyslogOptions`]), and no input, however malformed, makes
//! a parser panic: every input is bounded before it is parsed and every failure is a value.

pub mod body;
pub mod cef;
pub mod dc09;
pub mod leef;
pub mod mapping;
pub mod normalise;
pub mod onvif;
pub mod sia;
pub mod syslog;
mod text;

/// Why some input could not be parsed: which format, what was wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format}: {reason}{}", At(*.offset))]
pub struct ParseError {
    /// The format being parsed: `syslog`, `cef` or `leef`.
    pub format: &'static str,
    /// Byte offset into the parser's input where the problem was found, when known.
    pub offset: Option<usize>,
    /// What was wrong, naming the field.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(
        format: &'static str,
        offset: Option<usize>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            format,
            offset,
            reason: reason.into(),
        }
    }
}

struct At(Option<usize>);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(o) => write!(f, " (at byte {o})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_format_and_the_offset_when_known() {
        let e = ParseError::new("cef", Some(12), "header has 4 fields, expected 7");
        assert_eq!(
            e.to_string(),
            "cef: header has 4 fields, expected 7 (at byte 12)"
        );
        let e = ParseError::new("syslog", None, "empty message");
        assert_eq!(e.to_string(), "syslog: empty message");
    }
}
