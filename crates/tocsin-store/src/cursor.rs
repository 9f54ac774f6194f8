//! Opaque page cursors.
//!
//! A cursor names the last row of a page by its sort key `(time in microseconds, id)` and the
//! listing it belongs to. The next page starts strictly after that key, so rows inserted meanwhile
//! (newer or older) never shift a page: nothing is repeated and nothing already listed is skipped.
//! It travels as lower-case hex of `kind|micros|ulid` so that clients treat it as a token.

use ulid::Ulid;

use crate::StoreError;

/// Longer input is refused before decoding (a real cursor is under 100 characters).
const MAX_CURSOR_CHARS: usize = 128;

/// Which listing a cursor pages through, so that one listing's cursor is refused by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorKind {
    Event,
    DeadLetter,
    Alert,
    Incident,
}

impl CursorKind {
    fn tag(self) -> &'static str {
        match self {
            CursorKind::Event => "e",
            CursorKind::DeadLetter => "d",
            CursorKind::Alert => "a",
            CursorKind::Incident => "i",
        }
    }
}

/// The sort key of the last row of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) micros: i64,
    pub(crate) id: Ulid,
}

impl Cursor {
    pub(crate) fn encode(self, kind: CursorKind) -> String {
        let plain = format!("{}|{}|{}", kind.tag(), self.micros, self.id);
        let mut out = String::with_capacity(plain.len() * 2);
        for b in plain.bytes() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        out
    }

    pub(crate) fn decode(s: &str, kind: CursorKind) -> Result<Cursor, StoreError> {
        if s.len() > MAX_CURSOR_CHARS || !s.len().is_multiple_of(2) {
            return Err(StoreError::BadCursor);
        }
        let bytes = s
            .as_bytes()
            .chunks_exact(2)
            .map(|pair| match pair {
                [hi, lo] => Some((nibble(*hi)? << 4) | nibble(*lo)?),
                _ => None,
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or(StoreError::BadCursor)?;
        let plain = String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)?;
        let mut parts = plain.split('|');
        let (Some(tag), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(StoreError::BadCursor);
        };
        if tag != kind.tag() {
            return Err(StoreError::BadCursor);
        }
        let micros = micros.parse::<i64>().map_err(|_| StoreError::BadCursor)?;
        let id = Ulid::from_string(id).map_err(|_| StoreError::BadCursor)?;
        Ok(Cursor { micros, id })
    }

    /// Decodes an optional cursor from a query.
    pub(crate) fn parse(s: Option<&str>, kind: CursorKind) -> Result<Option<Cursor>, StoreError> {
        s.map(|s| Cursor::decode(s, kind)).transpose()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_including_negative_times() {
        for micros in [0, 1_777_860_787_123_456, -62_135_596_800_000_000, i64::MAX] {
            let c = Cursor {
                micros,
                id: Ulid::from_parts(1_777_860_787_123, 42),
            };
            let s = c.encode(CursorKind::Event);
            assert!(s.bytes().all(|b| b.is_ascii_hexdigit()), "{s}");
            assert_eq!(Cursor::decode(&s, CursorKind::Event).unwrap(), c);
        }
    }

    #[test]
    fn refuses_malformed_and_foreign_cursors() {
        let good = Cursor {
            micros: 5,
            id: Ulid::from_parts(9, 9),
        };
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let bad = [
            String::new(),
            "abc".to_owned(),
            "zz".repeat(10),
            "ab".repeat(100),
            hex("e|5"),
            hex("e|x|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            hex("e|5|not-a-ulid"),
            hex("e|5|01ARZ3NDEKTSV4RRFFQ69G5FAV|extra"),
            "ff".repeat(8),
            good.encode(CursorKind::Alert),
        ];
        for s in bad {
            assert!(
                matches!(
                    Cursor::decode(&s, CursorKind::Event),
                    Err(StoreError::BadCursor)
                ),
                "{s:?} was accepted"
            );
        }
        assert_eq!(
            Cursor::parse(Some(&good.encode(CursorKind::Alert)), CursorKind::Alert).unwrap(),
            Some(good)
        );
        assert_eq!(Cursor::parse(None, CursorKind::Alert).unwrap(), None);
    }
}
