//! Splitting an HTTP or file body into records, each kept with its raw bytes so that a record that
//! fails can be dead-lettered as it came.
//!
//! Bounds: at most `max_records` items come back, then one error item saying that the limit was
//! reached (the rest of the body is not read); a record longer than `max_record_bytes` is an error
//! item and is not parsed. One bad record never hides the others.

use serde_json::{Map, Value};

use crate::text::decode;

/// One record of a body, borrowed from it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord<'a> {
    /// 1-based: the line for NDJSON, the element for a JSON array, 1 for a single object.
    pub line: u64,
    /// The record's bytes as sent (without the line ending).
    pub raw: &'a [u8],
    /// The record, or why it is not one.
    pub parsed: Result<Map<String, Value>, String>,
}

/// One record of a body, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecordOwned {
    /// 1-based line where the record starts (CSV: the header is line 1).
    pub line: u64,
    /// The record's bytes as sent (without the line ending).
    pub raw: Vec<u8>,
    /// The record, or why it is not one.
    pub parsed: Result<Map<String, Value>, String>,
}

impl RawRecord<'_> {
    pub fn into_owned(self) -> RawRecordOwned {
        RawRecordOwned {
            line: self.line,
            raw: self.raw.to_vec(),
            parsed: self.parsed,
        }
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn limit_reached(max_records: usize) -> String {
    format!("more than {max_records} records: the rest of the body was not read")
}

/// Splits a JSON body: one object (which may span lines), an array of objects, or NDJSON (one
/// object per line, blank lines skipped). A leading UTF-8 BOM is ignored. An empty body gives no
/// records.
pub fn split_json(body: &[u8], max_records: usize, max_record_bytes: usize) -> Vec<RawRecord<'_>> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let start = skip_ws(body, 0);
    match body.get(start) {
        None => Vec::new(),
        Some(b'[') => split_array(body, start, max_records, max_record_bytes),
        Some(b'{') => match value_end(body, start) {
            Some(end) if skip_ws(body, end) == body.len() => {
                let raw = body.get(start..end).unwrap_or_default();
                if max_records == 0 {
                    return vec![RawRecord {
                        line: 1,
                        raw: &[],
                        parsed: Err(limit_reached(max_records)),
                    }];
                }
                vec![RawRecord {
                    line: 1,
                    raw,
                    parsed: parse_object(raw, max_record_bytes),
                }]
            }
            _ => split_lines(body, max_records, max_record_bytes),
        },
        Some(_) => split_lines(body, max_records, max_record_bytes),
    }
}

fn skip_ws(b: &[u8], mut at: usize) -> usize {
    while b.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    b.get(start..end).unwrap_or_default()
}

/// The end (exclusive) of the object or array starting at `start`, by bracket counting outside
/// strings; `None` when it is never closed. Whether the inside is valid JSON is left to the parser.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in b.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The end of an array element starting at `start`: the index of the `,` or `]` that ends it at
/// the array's own level, or `None` when the body ends first.
fn element_end(b: &[u8], start: usize) -> Option<(usize, u8)> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in b.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b',' if depth == 0 => return Some((i, c)),
            b']' if depth == 0 => return Some((i, c)),
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn split_array(
    body: &[u8],
    start: usize,
    max_records: usize,
    max_record_bytes: usize,
) -> Vec<RawRecord<'_>> {
    let mut out = Vec::new();
    let mut i = skip_ws(body, start + 1);
    if body.get(i) == Some(&b']') {
        return trailing(body, i + 1, 1, out);
    }
    let mut index: u64 = 0;
    loop {
        index += 1;
        if out.len() >= max_records {
            out.push(RawRecord {
                line: index,
                raw: &[],
                parsed: Err(limit_reached(max_records)),
            });
            return out;
        }
        let Some((end, terminator)) = element_end(body, i) else {
            let raw = trim(body.get(i..).unwrap_or_default());
            if !raw.is_empty() {
                out.push(RawRecord {
                    line: index,
                    raw,
                    parsed: parse_object(raw, max_record_bytes),
                });
                index += 1;
            }
            out.push(RawRecord {
                line: index,
                raw: &[],
                parsed: Err("the array is not closed by ']'".to_owned()),
            });
            return out;
        };
        let raw = trim(body.get(i..end).unwrap_or_default());
        let parsed = if raw.is_empty() {
            Err("empty array element".to_owned())
        } else {
            parse_object(raw, max_record_bytes)
        };
        out.push(RawRecord {
            line: index,
            raw,
            parsed,
        });
        if terminator == b']' {
            return trailing(body, end + 1, index + 1, out);
        }
        i = end + 1;
    }
}

/// Anything but whitespace after the closing `]` is an error item.
fn trailing<'a>(
    body: &'a [u8],
    after: usize,
    line: u64,
    mut out: Vec<RawRecord<'a>>,
) -> Vec<RawRecord<'a>> {
    let rest = trim(body.get(after..).unwrap_or_default());
    if !rest.is_empty() {
        out.push(RawRecord {
            line,
            raw: rest,
            parsed: Err("unexpected data after the array".to_owned()),
        });
    }
    out
}

fn split_lines(body: &[u8], max_records: usize, max_record_bytes: usize) -> Vec<RawRecord<'_>> {
    let mut out = Vec::new();
    for (n, line) in body.split(|&c| c == b'\n').enumerate() {
        let raw = line.strip_suffix(b"\r").unwrap_or(line);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_no = u64::try_from(n).unwrap_or(u64::MAX).saturating_add(1);
        if out.len() >= max_records {
            out.push(RawRecord {
                line: line_no,
                raw: &[],
                parsed: Err(limit_reached(max_records)),
            });
            break;
        }
        out.push(RawRecord {
            line: line_no,
            raw,
            parsed: parse_object(raw, max_record_bytes),
        });
    }
    out
}

fn parse_object(raw: &[u8], max_record_bytes: usize) -> Result<Map<String, Value>, String> {
    if raw.len() > max_record_bytes {
        return Err(format!(
            "record is {} bytes, more than the limit of {max_record_bytes}",
            raw.len()
        ));
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "expected a JSON object, found {}",
            match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            }
        )),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// Splits a CSV body with a header row; each row becomes an object of column name to text.
///
/// The delimiter is guessed from the header row: the most frequent of `,`, `;`, tab and `|`
/// outside quotes (`,` when none occurs), since badge-system exports in many locales use `;`.
/// Whitespace around fields is trimmed, a UTF-8 BOM is ignored, text that is not UTF-8 is read
/// as Latin-1, an unnamed column is called `column_<n>`, and rows that are empty are skipped. A
/// repeated column name is an error item for the header, and nothing else is read.
pub fn split_csv(body: &[u8], max_records: usize, max_record_bytes: usize) -> Vec<RawRecordOwned> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(body))
        .trim(csv::Trim::All)
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    let error = |line: u64, raw: &[u8], reason: String| RawRecordOwned {
        line,
        raw: raw.to_vec(),
        parsed: Err(reason),
    };
    let headers: Vec<String> = match reader.read_byte_record(&mut record) {
        Ok(true) => record
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if h.is_empty() {
                    format!("column_{}", i + 1)
                } else {
                    decode(h).into_owned()
                }
            })
            .collect(),
        Ok(false) => return Vec::new(),
        Err(e) => return vec![error(1, &[], format!("invalid CSV header: {e}"))],
    };
    let header_raw = raw_between(body, 0, reader.position().byte());
    for (i, h) in headers.iter().enumerate() {
        if headers.get(..i).is_some_and(|before| before.contains(h)) {
            return vec![error(
                1,
                header_raw,
                format!("column name {h:?} appears more than once in the header"),
            )];
        }
    }
    let mut out = Vec::new();
    // csv's own line count skips blank lines; count them from the bytes instead.
    let mut counted_to = 0usize;
    let mut line: u64 = 1;
    let mut line_at = |byte: u64| {
        let at = usize::try_from(byte).unwrap_or(usize::MAX).min(body.len());
        if at > counted_to {
            let newlines = body
                .get(counted_to..at)
                .unwrap_or_default()
                .iter()
                .filter(|&&c| c == b'\n')
                .count();
            line = line.saturating_add(u64::try_from(newlines).unwrap_or(u64::MAX));
            counted_to = at;
        }
        line
    };
    loop {
        let before = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
                    continue;
                }
                // csv places a record after blank lines at the first of them.
                let mut start = record.position().map_or(before, csv::Position::byte);
                while usize::try_from(start)
                    .ok()
                    .and_then(|at| body.get(at))
                    .is_some_and(|c| matches!(c, b'\r' | b'\n'))
                {
                    start += 1;
                }
                let line = line_at(start);
                let raw = raw_between(body, start, reader.position().byte());
                if out.len() >= max_records {
                    out.push(error(line, &[], limit_reached(max_records)));
                    break;
                }
                let parsed = if raw.len() > max_record_bytes {
                    Err(format!(
                        "record is {} bytes, more than the limit of {max_record_bytes}",
                        raw.len()
                    ))
                } else if record.len() != headers.len() {
                    Err(format!(
                        "{} fields, but the header has {}",
                        record.len(),
                        headers.len()
                    ))
                } else {
                    Ok(headers
                        .iter()
                        .zip(record.iter())
                        .map(|(h, v)| (h.clone(), Value::String(decode(v).into_owned())))
                        .collect())
                };
                out.push(RawRecordOwned {
                    line,
                    raw: raw.to_vec(),
                    parsed,
                });
            }
            Err(e) => {
                let line = line_at(e.position().map_or(before, csv::Position::byte));
                let after = reader.position().byte();
                out.push(error(
                    line,
                    raw_between(body, before, after),
                    format!("invalid CSV: {e}"),
                ));
                if after <= before || reader.is_done() || out.len() > max_records {
                    break;
                }
            }
        }
    }
    out
}

fn raw_between(body: &[u8], start: u64, end: u64) -> &[u8] {
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let end = usize::try_from(end).unwrap_or(usize::MAX).min(body.len());
    let raw = body.get(start..end).unwrap_or_default();
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

fn sniff_delimiter(body: &[u8]) -> u8 {
    let candidates = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    for &c in body.iter().take(64 * 1024) {
        match c {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => break,
            _ if !in_quotes => {
                if let Some(i) = candidates.iter().position(|&d| d == c)
                    && let Some(n) = counts.get_mut(i)
                {
                    *n += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for (i, &n) in counts.iter().enumerate() {
        if n > counts.get(best).copied().unwrap_or(0) {
            best = i;
        }
    }
    candidates.get(best).copied().unwrap_or(b',')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(rs: &[RawRecord<'_>]) -> Vec<(u64, bool)> {
        rs.iter().map(|r| (r.line, r.parsed.is_ok())).collect()
    }

    #[test]
    fn single_object_even_across_lines() {
        let body = b"\xEF\xBB\xBF\n  {\n \"a\": 1,\n \"b\": \"x\\\"}\"\n}\n";
        let rs = split_json(body, 10, 1000);
        assert_eq!(lines(&rs), [(1, true)]);
        assert_eq!(rs[0].raw, b"{\n \"a\": 1,\n \"b\": \"x\\\"}\"\n}");
        assert_eq!(rs[0].parsed.as_ref().unwrap()["b"], "x\"}");
    }

    #[test]
    fn array_with_a_bad_element_keeps_the_rest() {
        let body = br#"[{"a":1}, {"b":[1,2,{"c":"],"}]}, 7, {"d":}, {"e":5} ]"#;
        let rs = split_json(body, 10, 1000);
        assert_eq!(
            lines(&rs),
            [(1, true), (2, true), (3, false), (4, false), (5, true)]
        );
        assert_eq!(rs[1].raw, br#"{"b":[1,2,{"c":"],"}]}"#);
        assert_eq!(
            rs[2].parsed.as_ref().unwrap_err(),
            "expected a JSON object, found a number"
        );
        assert!(
            rs[3]
                .parsed
                .as_ref()
                .unwrap_err()
                .starts_with("invalid JSON")
        );
    }

    #[test]
    fn an_unbalanced_element_swallows_the_rest_of_the_array_and_says_so() {
        let rs = split_json(br#"[{"a":1}, {"d":, {"e":5} ]"#, 10, 1000);
        assert_eq!(lines(&rs), [(1, true), (2, false), (3, false)]);
        assert_eq!(
            rs[2].parsed.as_ref().unwrap_err(),
            "the array is not closed by ']'"
        );
    }

    #[test]
    fn array_edge_cases() {
        assert!(split_json(b" [ ] ", 10, 1000).is_empty());
        let rs = split_json(b"[{\"a\":1},]", 10, 1000);
        assert_eq!(lines(&rs), [(1, true), (2, false)]);
        assert_eq!(rs[1].parsed.as_ref().unwrap_err(), "empty array element");
        let rs = split_json(b"[{\"a\":1}] x", 10, 1000);
        assert_eq!(
            rs[1].parsed.as_ref().unwrap_err(),
            "unexpected data after the array"
        );
        assert_eq!(rs[1].raw, b"x");
        let rs = split_json(b"[{\"a\":1}, {\"b\":2}", 10, 1000);
        assert_eq!(lines(&rs), [(1, true), (2, true), (3, false)]);
        assert_eq!(
            rs[2].parsed.as_ref().unwrap_err(),
            "the array is not closed by ']'"
        );
    }

    #[test]
    fn ndjson_skips_blank_lines_and_numbers_lines() {
        let body = b"{\"a\":1}\r\n\n   \n{\"a\":2\n[1]\n{\"a\":3}";
        let rs = split_json(body, 10, 1000);
        assert_eq!(lines(&rs), [(1, true), (4, false), (5, false), (6, true)]);
        assert_eq!(rs[0].raw, b"{\"a\":1}");
        assert_eq!(rs[1].raw, b"{\"a\":2");
        assert_eq!(
            rs[2].parsed.as_ref().unwrap_err(),
            "expected a JSON object, found an array"
        );
    }

    #[test]
    fn limits_on_records_and_record_size() {
        let body = b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n";
        let rs = split_json(body, 2, 1000);
        assert_eq!(lines(&rs), [(1, true), (2, true), (3, false)]);
        assert!(
            rs[2]
                .parsed
                .as_ref()
                .unwrap_err()
                .contains("more than 2 records")
        );
        assert_eq!(split_json(b"{\"a\":1}\n{\"a\":2}\n", 2, 1000).len(), 2);
        let rs = split_json(b"[{\"a\":1},{\"a\":2},{\"a\":3}]", 1, 1000);
        assert_eq!(lines(&rs), [(1, true), (2, false)]);
        let rs = split_json(b"{\"a\":1}", 0, 1000);
        assert_eq!(lines(&rs), [(1, false)]);
        let rs = split_json(b"{\"long\":\"xxxxxxxxxxxx\"}\n{\"a\":1}", 10, 10);
        assert_eq!(
            rs[0].parsed.as_ref().unwrap_err(),
            "record is 23 bytes, more than the limit of 10"
        );
        assert!(rs[1].parsed.is_ok());
    }

    #[test]
    fn empty_and_non_json_bodies() {
        assert!(split_json(b"", 10, 100).is_empty());
        assert!(split_json(b" \n\r\n", 10, 100).is_empty());
        let rs = split_json(b"hello", 10, 100);
        assert_eq!(lines(&rs), [(1, false)]);
        let rs = split_json(&[b'['; 5000], 10, 100_000);
        assert_eq!(rs.len(), 2);
        let rs = split_json(&[b'{'; 5000], 10, 100_000);
        assert_eq!(lines(&rs), [(1, false)]);
    }

    #[test]
    fn csv_rows_become_objects_with_raw_and_line() {
        let body = b"\xEF\xBB\xBFtime, card ,door\n2026-05-04 02:13:07,4242,\"Lobby, east\"\n\n2026-05-04 02:14:00,17\n";
        let rs = split_csv(body, 10, 1000);
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].line, 2);
        assert_eq!(rs[0].raw, b"2026-05-04 02:13:07,4242,\"Lobby, east\"");
        let m = rs[0].parsed.as_ref().unwrap();
        assert_eq!(m["card"], "4242");
        assert_eq!(m["door"], "Lobby, east");
        assert_eq!(rs[1].line, 4);
        assert_eq!(
            rs[1].parsed.as_ref().unwrap_err(),
            "2 fields, but the header has 3"
        );
    }

    #[test]
    fn csv_delimiter_is_sniffed_and_latin1_is_kept() {
        let rs = split_csv(
            b"Zeit;Ausweis;T\xfcr\n04.05.2026 04:13;4242;Haupteingang S\xfcd\n",
            10,
            1000,
        );
        let m = rs[0].parsed.as_ref().unwrap();
        assert_eq!(m["Tür"], "Haupteingang Süd");
        let rs = split_csv(b"a\tb\n1\t2\n", 10, 1000);
        assert_eq!(rs[0].parsed.as_ref().unwrap()["b"], "2");
        let rs = split_csv(b"a|b\n1|2\n", 10, 1000);
        assert_eq!(rs[0].parsed.as_ref().unwrap()["b"], "2");
    }

    #[test]
    fn csv_quoted_field_spanning_lines() {
        let rs = split_csv(b"a,b\n1,\"two\nlines\"\n3,4\n", 10, 1000);
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].parsed.as_ref().unwrap()["b"], "two\nlines");
        assert_eq!((rs[0].line, rs[1].line), (2, 4));
    }

    #[test]
    fn csv_header_problems_and_limits() {
        let rs = split_csv(b"a,b,a\n1,2,3\n", 10, 1000);
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].line, 1);
        assert!(
            rs[0]
                .parsed
                .as_ref()
                .unwrap_err()
                .contains("\"a\" appears more than once")
        );
        let rs = split_csv(b"a,b,\n1,2,\n", 10, 1000);
        assert!(rs[0].parsed.as_ref().unwrap().contains_key("column_3"));
        assert!(split_csv(b"", 10, 1000).is_empty());
        assert!(split_csv(b"a,b\n", 10, 1000).is_empty());
        let rs = split_csv(b"a\n1\n2\n3\n", 2, 1000);
        assert_eq!(rs.len(), 3);
        assert_eq!(rs[2].line, 4);
        assert!(
            rs[2]
                .parsed
                .as_ref()
                .unwrap_err()
                .contains("more than 2 records")
        );
        let rs = split_csv(b"a\n1234567890\n", 10, 5);
        assert!(
            rs[0]
                .parsed
                .as_ref()
                .unwrap_err()
                .contains("more than the limit of 5")
        );
    }
}
