//! Reading files for `tocsin ingest FILE...`: NDJSON streamed line by line, JSON and CSV read
//! whole (up to a cap). The pipeline is waited for rather than dropped into: a file import
//! loses nothing to overload.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tocsin_model::{DEFAULT_TENANT, DeadLetter, Domain, IngestContext, Limits};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use ulid::Ulid;

use crate::convert::{Record, Shape, record_to_event};
use crate::{Sink, SourceCounters};
use tocsin_parsers::body::{split_csv, split_json};
use tocsin_parsers::mapping::Mapping;

/// Largest JSON or CSV file read whole, by default. NDJSON has no such cap.
pub const DEFAULT_MAX_WHOLE_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Bytes read between two progress reports.
const PROGRESS_STEP_BYTES: u64 = 64 * 1024;

/// Source name given to imported records unless the command names one.
pub const DEFAULT_FILE_SOURCE: &str = "file";

/// How a file's records are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Chosen by extension: `.ndjson` and `.jsonl` are NDJSON, `.json` JSON, `.csv` CSV.
    #[default]
    Auto,
    /// One JSON object per line, streamed.
    Ndjson,
    /// One JSON object, or an array of them (NDJSON is accepted too), read whole.
    Json,
    /// CSV with a header row, read whole.
    Csv,
}

impl FromStr for FileFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(FileFormat::Auto),
            "ndjson" | "jsonl" => Ok(FileFormat::Ndjson),
            "json" => Ok(FileFormat::Json),
            "csv" => Ok(FileFormat::Csv),
            other => Err(format!(
                "unknown format {other:?}: expected auto, ndjson, json or csv"
            )),
        }
    }
}

impl FileFormat {
    /// The format of `path`: this one, or guessed from the extension for `Auto`.
    pub fn resolve(self, path: &Path) -> Option<FileFormat> {
        if self != FileFormat::Auto {
            return Some(self);
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "ndjson" | "jsonl" => Some(FileFormat::Ndjson),
            "json" => Some(FileFormat::Json),
            "csv" => Some(FileFormat::Csv),
            _ => None,
        }
    }
}

/// How to read one file.
#[derive(Debug)]
pub struct FileIngestOptions {
    /// Name carried by the events and dead letters as `source`.
    pub source: String,
    /// Tenant of every record; a record naming another is refused.
    pub tenant: String,
    /// Domain for records that name none.
    pub domain: Option<Domain>,
    pub format: FileFormat,
    /// Field mapping; without one, records are read in Tocsin's own form (for CSV: the column
    /// names are event field names).
    pub mapping: Option<Mapping>,
    /// Record limits; `max_record_bytes` also bounds one NDJSON line.
    pub limits: Limits,
    /// Largest JSON or CSV file accepted (they are read whole).
    pub max_whole_file_bytes: u64,
    /// Counters to update as records are read, for a file source that reports its status.
    pub counters: Option<Arc<SourceCounters>>,
}

impl FileIngestOptions {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            tenant: DEFAULT_TENANT.to_owned(),
            domain: None,
            format: FileFormat::Auto,
            mapping: None,
            limits: Limits::default(),
            max_whole_file_bytes: DEFAULT_MAX_WHOLE_FILE_BYTES,
            counters: None,
        }
    }
}

impl Default for FileIngestOptions {
    fn default() -> Self {
        Self::new(DEFAULT_FILE_SOURCE)
    }
}

/// What reading one file did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// Records found (blank lines are not records).
    pub records: u64,
    /// Records that became events.
    pub accepted: u64,
    /// Records written to the dead-letter store.
    pub rejected: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Reads one file into the pipeline, waiting whenever it is full. Bad records become dead letters
/// with their line number. `progress` is called with the number of bytes read so far.
///
/// Fails on IO errors, an unknown format, a JSON or CSV file over `max_whole_file_bytes`, or a
/// closed pipeline (`BrokenPipe`); records before the failure stay ingested.
pub async fn ingest_file(
    path: &Path,
    opts: &FileIngestOptions,
    sink: &Sink,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileReport, std::io::Error> {
    let format = opts.format.resolve(path).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{}: cannot tell the format from the extension (expected .ndjson, .jsonl, .json or .csv); name the format",
                path.display()
            ),
        )
    })?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut ingest = Ingest {
        opts,
        sink,
        report: FileReport::default(),
    };
    match format {
        FileFormat::Ndjson | FileFormat::Auto => {
            ingest.ndjson(file, progress).await?;
        }
        FileFormat::Json | FileFormat::Csv => {
            let size = file.metadata().await?.len();
            if size > opts.max_whole_file_bytes {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "{}: {size} bytes; JSON and CSV files are read whole, up to {} bytes; split it or convert it to NDJSON, which is streamed",
                        path.display(),
                        opts.max_whole_file_bytes
                    ),
                ));
            }
            let body = read_whole(file, size, opts.max_whole_file_bytes, progress).await?;
            ingest.report.bytes = body.len() as u64;
            ingest.whole(&body, format).await?;
        }
    }
    Ok(ingest.report)
}

async fn read_whole(
    file: tokio::fs::File,
    size: u64,
    cap: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // Read one byte past the cap so that a file that grew after its size was checked is caught.
    let mut reader = file.take(cap.saturating_add(1));
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(chunk.get(..n).unwrap_or_default());
        progress(body.len() as u64);
    }
    if body.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("file grew past the limit of {cap} bytes while being read"),
        ));
    }
    Ok(body)
}

struct Ingest<'a> {
    opts: &'a FileIngestOptions,
    sink: &'a Sink,
    report: FileReport,
}

impl Ingest<'_> {
    async fn ndjson(
        &mut self,
        file: tokio::fs::File,
        progress: &(dyn Fn(u64) + Sync),
    ) -> std::io::Result<()> {
        let max = self.opts.limits.max_record_bytes;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let mut line: Vec<u8> = Vec::new();
        // Bytes of the current line beyond what was kept, when it is over the limit.
        let mut overflow: u64 = 0;
        let mut line_no: u64 = 0;
        let mut reported: u64 = 0;
        loop {
            let buf = reader.fill_buf().await?;
            if buf.is_empty() {
                if !line.is_empty() || overflow > 0 {
                    line_no += 1;
                    self.ndjson_line(line_no, &line, overflow).await?;
                }
                break;
            }
            let (part, consumed, complete) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (buf.get(..i).unwrap_or_default(), i + 1, true),
                None => (buf, buf.len(), false),
            };
            let room = (max + 1).saturating_sub(line.len());
            let keep = part.len().min(room);
            line.extend_from_slice(part.get(..keep).unwrap_or_default());
            overflow += (part.len() - keep) as u64;
            reader.consume(consumed);
            self.report.bytes += consumed as u64;
            if complete {
                line_no += 1;
                self.ndjson_line(line_no, &line, overflow).await?;
                line.clear();
                overflow = 0;
                // Reporting every line would cost more than reading it for short lines.
                if self.report.bytes - reported >= PROGRESS_STEP_BYTES {
                    reported = self.report.bytes;
                    progress(reported);
                }
            }
        }
        progress(self.report.bytes);
        Ok(())
    }

    async fn ndjson_line(
        &mut self,
        line_no: u64,
        line: &[u8],
        overflow: u64,
    ) -> std::io::Result<()> {
        let max = self.opts.limits.max_record_bytes;
        let mut text = line;
        if line_no == 1 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        while let [rest @ .., b'\r'] = text {
            text = rest;
        }
        if text.iter().all(u8::is_ascii_whitespace) && overflow == 0 {
            return Ok(());
        }
        let size = text.len() as u64 + overflow;
        let parsed = if size > max as u64 {
            Err(format!(
                "line is {size} bytes, more than the limit of {max}"
            ))
        } else {
            match serde_json::from_slice::<Value>(text) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err("a record must be a JSON object".to_owned()),
                Err(e) => Err(format!("invalid JSON: {e}")),
            }
        };
        self.record(
            Record {
                line: line_no,
                raw: Cow::Borrowed(text),
                parsed,
            },
            Shape::Json,
        )
        .await
    }

    async fn whole(&mut self, body: &[u8], format: FileFormat) -> std::io::Result<()> {
        let max_record_bytes = self.opts.limits.max_record_bytes;
        // The whole file is in memory already, so the record count needs no cap of its own.
        let max_records = usize::MAX;
        if format == FileFormat::Csv {
            for r in split_csv(body, max_records, max_record_bytes) {
                let record = Record {
                    line: r.line,
                    raw: Cow::Owned(r.raw),
                    parsed: r.parsed,
                };
                self.record(record, Shape::Csv).await?;
            }
        } else {
            for r in split_json(body, max_records, max_record_bytes) {
                let record = Record {
                    line: r.line,
                    raw: Cow::Borrowed(r.raw),
                    parsed: r.parsed,
                };
                self.record(record, Shape::Json).await?;
            }
        }
        Ok(())
    }

    async fn record(&mut self, record: Record<'_>, shape: Shape) -> std::io::Result<()> {
        let opts = self.opts;
        let now = self.sink.now();
        let ctx = IngestContext {
            source: &opts.source,
            tenant: &opts.tenant,
            domain: opts.domain,
            ingested: now,
            id: Ulid::new(),
            limits: opts.limits,
        };
        self.report.records += 1;
        if let Some(c) = &opts.counters {
            c.add_received(1);
        }
        let result = record
            .parsed
            .and_then(|map| record_to_event(map, shape, opts.mapping.as_ref(), &ctx));
        match result {
            Ok(event) => {
                self.sink.send(event).await.map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::BrokenPipe, e.to_string())
                })?;
                self.report.accepted += 1;
                if let Some(c) = &opts.counters {
                    c.add_accepted(1);
                }
            }
            Err(reason) => {
                let d = DeadLetter::new(
                    Ulid::new(),
                    &opts.tenant,
                    &opts.source,
                    now,
                    reason,
                    Some(record.line),
                    &record.raw,
                );
                self.sink.dead_letter(d).await;
                self.report.rejected += 1;
                if let Some(c) = &opts.counters {
                    c.add_rejected(1);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension_unless_named() {
        let p = Path::new("x/events.JSONL");
        assert_eq!(FileFormat::Auto.resolve(p), Some(FileFormat::Ndjson));
        assert_eq!(
            FileFormat::Auto.resolve(Path::new("a.csv")),
            Some(FileFormat::Csv)
        );
        assert_eq!(FileFormat::Auto.resolve(Path::new("a.log")), None);
        assert_eq!(
            FileFormat::Csv.resolve(Path::new("a.log")),
            Some(FileFormat::Csv)
        );
        assert_eq!("NDJSON".parse::<FileFormat>(), Ok(FileFormat::Ndjson));
        assert!("xml".parse::<FileFormat>().is_err());
    }
}
