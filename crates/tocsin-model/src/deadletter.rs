use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// Raw bytes kept per dead letter, at most.
pub const DEAD_LETTER_RAW_LIMIT: usize = 64 * 1024;

/// A record that could not be parsed or mapped, kept with the reason so nothing disappears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: Ulid,
    pub tenant: String,
    /// The configured source that received the record.
    pub source: String,
    pub received: DateTime<Utc>,
    /// Why it was refused, naming the field where one is to blame.
    pub reason: String,
    /// Line (NDJSON, CSV) or record number within the request or file, counting from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The raw bytes, cut at [`DEAD_LETTER_RAW_LIMIT`].
    #[serde(with = "raw_text")]
    pub raw: Vec<u8>,
    /// Whether `raw` was cut.
    pub truncated: bool,
}

impl DeadLetter {
    /// Builds a dead letter, keeping at most [`DEAD_LETTER_RAW_LIMIT`] bytes of the record.
    pub fn new(
        id: Ulid,
        tenant: &str,
        source: &str,
        received: DateTime<Utc>,
        reason: impl Into<String>,
        line: Option<u64>,
        raw: &[u8],
    ) -> Self {
        let truncated = raw.len() > DEAD_LETTER_RAW_LIMIT;
        let raw = raw[..raw.len().min(DEAD_LETTER_RAW_LIMIT)].to_vec();
        Self {
            id,
            tenant: tenant.to_owned(),
            source: source.to_owned(),
            received,
            reason: reason.into(),
            line,
            raw,
            truncated,
        }
    }
}

/// Raw bytes travel as text in JSON (lossy UTF-8 for display); the store keeps the exact bytes.
mod raw_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(raw))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_are_bounded_and_marked() {
        let big = vec![b'x'; DEAD_LETTER_RAW_LIMIT + 10];
        let d = DeadLetter::new(Ulid::nil(), "t", "s", Utc::now(), "bad", Some(3), &big);
        assert!(d.truncated);
        assert_eq!(d.raw.len(), DEAD_LETTER_RAW_LIMIT);
        let small = DeadLetter::new(Ulid::nil(), "t", "s", Utc::now(), "bad", None, b"abc");
        assert!(!small.truncated);
        assert_eq!(small.raw, b"abc");
    }
}
