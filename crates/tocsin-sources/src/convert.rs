//! Turning one decoded record into an event, shared by HTTP and file ingest.

use serde_json::{Map, Value};
use tocsin_model::{Event, IngestContext};

use tocsin_parsers::mapping::Mapping;

/// A record from the body helpers, borrowed (JSON) or owned (CSV).
pub(crate) struct Record<'a> {
    pub line: u64,
    pub raw: std::borrow::Cow<'a, [u8]>,
    pub parsed: Result<Map<String, Value>, String>,
}

/// How a decoded record is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// JSON objects: through the mapping if there is one, else Tocsin's own form.
    Json,
    /// CSV rows, whose cells are all strings: through the mapping if there is one, else the
    /// column names are Tocsin's own field names and empty cells count as absent.
    Csv,
}

pub(crate) fn record_to_event(
    record: Map<String, Value>,
    shape: Shape,
    mapping: Option<&Mapping>,
    ctx: &IngestContext<'_>,
) -> Result<Event, String> {
    match mapping {
        Some(m) => {
            let input = m.apply(record).map_err(|e| e.to_string())?;
            Event::from_input(input, ctx).map_err(|e| e.to_string())
        }
        None => {
            let record = match shape {
                Shape::Json => record,
                Shape::Csv => record
                    .into_iter()
                    .filter(|(_, v)| !matches!(v, Value::String(s) if s.trim().is_empty()))
                    .collect(),
            };
            Event::from_value(Value::Object(record), ctx).map_err(|e| e.to_string())
        }
    }
}
