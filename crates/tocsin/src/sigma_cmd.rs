//! `tocsin sigma scan`, `tocsin rules lint` and `tocsin rules test`: Sigma rules on files.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tocsin_detect::Detector;
use tocsin_sigma::{
    CorrelationHit, Correlator, EventMeta, Rejected, RuleRef, SigmaDetector, SigmaOptions,
    SigmaRuleSet,
};

/// Longest event line read; longer lines are reported and skipped.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
/// Lines handed to a worker at a time.
const CHUNK_LINES: usize = 512;

#[derive(Debug, Subcommand)]
pub enum SigmaCommand {
    /// Run Sigma rules over NDJSON event files (plain or gzip) and report matches per rule.
    Scan(ScanArgs),
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load Sigma rules and report every rule that cannot be loaded, with the reason.
    Lint(LintArgs),
    /// Run Sigma rules (detection and correlation) over events and print what matches.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// A folder of Sigma rules (searched recursively); repeat for several.
    #[arg(long = "rules", required = true)]
    pub rules: Vec<PathBuf>,
    /// A placeholder value for `|expand` rules, as NAME=VALUE; repeat for several values.
    #[arg(long = "placeholder", value_name = "NAME=VALUE")]
    pub placeholders: Vec<String>,
}

impl RuleArgs {
    fn options(&self) -> Result<SigmaOptions> {
        let mut o = SigmaOptions::default();
        for p in &self.placeholders {
            let Some((name, value)) = p.split_once('=') else {
                bail!("--placeholder {p:?}: expected NAME=VALUE");
            };
            o.placeholders
                .entry(name.trim_matches('%').to_owned())
                .or_default()
                .push(value.to_owned());
        }
        Ok(o)
    }

    fn load(&self) -> Result<(SigmaRuleSet, Vec<Rejected>, SigmaOptions)> {
        let options = self.options()?;
        let (set, rejected) = SigmaRuleSet::load_dirs(&self.rules, &options);
        Ok((set, rejected, options))
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Worker threads evaluating events.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one NDJSON line per match instead of the summary.
    #[arg(long)]
    pub per_event: bool,
    /// NDJSON event files, plain or gzip.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Events: one JSON object, a JSON array, or NDJSON; in Tocsin's own form or flat.
    #[arg(long)]
    pub event: PathBuf,
}

pub fn run_sigma(cmd: SigmaCommand) -> Result<ExitCode> {
    match cmd {
        SigmaCommand::Scan(a) => scan(a),
    }
}

pub fn run_rules(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Lint(a) => lint(a),
        RulesCommand::Test(a) => test(a),
    }
}

/// Opens a file, decompressing gzip (recognised by its magic bytes).
fn open_events(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let mut file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let whole = head.chain(file);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(whole),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(256 * 1024, whole)))
    }
}

fn rejected_json(rejected: &[Rejected]) -> Value {
    Value::Array(
        rejected
            .iter()
            .map(|r| {
                json!({
                    "path": r.path.display().to_string(),
                    "rule": r.rule,
                    "reason": r.reason,
                })
            })
            .collect(),
    )
}

/// What one chunk of lines produced.
struct ChunkResult {
    seq: u64,
    events: u64,
    matches: Vec<(u64, usize)>,
    invalid: Vec<(u64, String)>,
    /// Events that matched a rule some correlation uses: line, event, matched rules. Workers
    /// only match; correlations run on these in line order, so results do not depend on the
    /// number of threads.
    feeding: Vec<(u64, Value, Vec<usize>)>,
}

/// Which detection rules feed a correlation, by rule index.
fn feeding_rules(set: &SigmaRuleSet) -> Vec<bool> {
    let mut feeds = vec![false; set.rules().len()];
    for def in set.correlations() {
        for r in &def.refs {
            if let RuleRef::Rule(i) = r
                && let Some(f) = feeds.get_mut(*i)
            {
                *f = true;
            }
        }
    }
    feeds
}

/// Fields a flat event may carry its time in, most specific first.
const TIME_FIELDS: &[&str] = &[
    "@timestamp",
    "UtcTime",
    "TimeCreated",
    "EventTime",
    "timestamp",
    "time",
];

/// The event's time in milliseconds since the epoch: RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]` (UTC,
/// as Sysmon writes `UtcTime`), or epoch seconds or milliseconds.
fn event_time_ms(event: &Value) -> Option<i64> {
    TIME_FIELDS.iter().find_map(|f| match event.get(*f)? {
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                return Some(t.timestamp_millis());
            }
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        }
        Value::Number(n) => {
            let v = n.as_f64()?;
            // Below 10^11 the number is seconds (before year 5138), else milliseconds.
            let ms = if v.abs() < 1e11 { v * 1000.0 } else { v };
            ms.is_finite().then_some(ms as i64)
        }
        _ => None,
    })
}

fn eval_chunk(
    set: &SigmaRuleSet,
    feeds: &[bool],
    seq: u64,
    first: u64,
    lines: &[String],
) -> ChunkResult {
    let mut matches = Vec::new();
    let mut feeding = Vec::new();
    let mut invalid = Vec::new();
    let mut found = Vec::new();
    let mut events = 0;
    for (i, line) in lines.iter().enumerate() {
        let n = first + i as u64;
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            invalid.push((n, format!("line is longer than {MAX_LINE_BYTES} bytes")));
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => {
                events += 1;
                found.clear();
                set.matches_json(&v, &mut found);
                matches.extend(found.iter().map(|&r| (n, r)));
                if found
                    .iter()
                    .any(|&r| feeds.get(r).copied().unwrap_or(false))
                {
                    feeding.push((n, v, found.clone()));
                }
            }
            Ok(_) => invalid.push((n, "not a JSON object".to_owned())),
            Err(e) => invalid.push((n, format!("invalid JSON: {e}"))),
        }
    }
    ChunkResult {
        seq,
        events,
        matches,
        invalid,
        feeding,
    }
}

/// Scan results folded in line order: counts per rule, correlations run on the matches.
struct Tally {
    set: Arc<SigmaRuleSet>,
    correlator: Correlator,
    fired: Vec<CorrelationHit>,
    per_event: bool,
    /// Matches per detection rule.
    counts: Vec<u64>,
    /// Firings per correlation rule.
    correlation_counts: Vec<u64>,
    events: u64,
    invalid_lines: u64,
    /// Events a correlation would use but whose time could not be read.
    untimed: u64,
}

impl Tally {
    fn new(set: Arc<SigmaRuleSet>, options: &SigmaOptions, per_event: bool) -> Self {
        // A scan reads a finished record: every event counts, whatever its order.
        let correlator = Correlator::new(
            set.correlations(),
            set.rules().len(),
            u64::MAX,
            options.max_groups,
            options.max_group_entries,
            options.max_evidence,
        );
        Self {
            counts: vec![0; set.rules().len()],
            correlation_counts: vec![0; set.correlations().len()],
            set,
            correlator,
            fired: Vec::new(),
            per_event,
            events: 0,
            invalid_lines: 0,
            untimed: 0,
        }
    }

    fn add(&mut self, r: ChunkResult, out: &mut dyn Write) -> Result<()> {
        self.events += r.events;
        for (line, reason) in &r.invalid {
            self.invalid_lines += 1;
            if self.invalid_lines <= 10 {
                eprintln!("event {line}: {reason}");
            }
        }
        let mut feeding = r.feeding.into_iter().peekable();
        let mut matches = r.matches.iter().peekable();
        // Both lists are in line order; a line's correlations follow its detection matches.
        loop {
            let match_line = matches.peek().map(|m| m.0);
            let feed_line = feeding.peek().map(|f| f.0);
            match (match_line, feed_line) {
                (None, None) => break,
                (Some(m), f) if f.is_none_or(|f| m <= f) => {
                    let Some(&(line, rule)) = matches.next() else {
                        break;
                    };
                    self.detection(line, rule, out)?;
                }
                _ => {
                    let Some((line, event, rules)) = feeding.next() else {
                        break;
                    };
                    self.correlate(line, &event, &rules, out)?;
                }
            }
        }
        Ok(())
    }

    /// Rule id → `{title, count}` for every rule that matched, detection and correlation
    /// (correlations also carry their type), in id order.
    fn counts_json(&self) -> serde_json::Map<String, Value> {
        let mut ranked: Vec<(&str, Value)> = Vec::new();
        for (info, &c) in self.set.rules().iter().zip(&self.counts) {
            if c > 0 {
                ranked.push((&info.id, json!({"title": info.title, "count": c})));
            }
        }
        for (def, &c) in self.set.correlations().iter().zip(&self.correlation_counts) {
            if c > 0 {
                ranked.push((
                    &def.id,
                    json!({"title": def.title, "count": c, "correlation": def.kind.as_str()}),
                ));
            }
        }
        ranked.sort_by(|x, y| x.0.cmp(y.0));
        ranked
            .into_iter()
            .map(|(id, v)| (id.to_owned(), v))
            .collect()
    }

    fn detection(&mut self, line: u64, rule: usize, out: &mut dyn Write) -> Result<()> {
        if let Some(c) = self.counts.get_mut(rule) {
            *c += 1;
        }
        if self.per_event
            && let Some(info) = self.set.rules().get(rule)
        {
            serde_json::to_writer(
                &mut *out,
                &json!({"event": line, "rule_id": info.id, "title": info.title}),
            )?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn correlate(
        &mut self,
        line: u64,
        event: &Value,
        rules: &[usize],
        out: &mut dyn Write,
    ) -> Result<()> {
        let Some(time_ms) = event_time_ms(event) else {
            self.untimed += 1;
            return Ok(());
        };
        self.fired.clear();
        self.correlator.on_event(
            self.set.correlations(),
            &tocsin_sigma::JsonEvent::borrow(event),
            EventMeta {
                tenant: "",
                time_ms,
                // The line number stands for the event id, so evidence names lines.
                id: ulid::Ulid(u128::from(line)),
            },
            rules,
            &mut self.fired,
        );
        for hit in &self.fired {
            if let Some(c) = self.correlation_counts.get_mut(hit.correlation) {
                *c += 1;
            }
            if self.per_event
                && let Some(def) = self.set.correlations().get(hit.correlation)
            {
                let evidence: Vec<u128> = hit.evidence.iter().map(|u| u.0).collect();
                let group: serde_json::Map<String, Value> = hit
                    .group
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                serde_json::to_writer(
                    &mut *out,
                    &json!({
                        "event": line,
                        "rule_id": def.id,
                        "title": def.title,
                        "correlation": def.kind.as_str(),
                        "group": group,
                        "evidence": evidence,
                    }),
                )?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }
}

/// Reads every file's lines in chunks, numbering lines across files from 0.
fn read_chunks(
    files: &[PathBuf],
    mut send: impl FnMut(u64, u64, Vec<String>) -> bool,
) -> Result<u64> {
    let mut line_no = 0u64;
    let mut seq = 0u64;
    for path in files {
        let mut reader = open_events(path)?;
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        let mut first = line_no;
        loop {
            let mut buf = String::new();
            let n = reader
                .read_line(&mut buf)
                .with_context(|| format!("{}: line {}", path.display(), line_no + 1))?;
            if n == 0 {
                break;
            }
            chunk.push(buf);
            line_no += 1;
            if chunk.len() == CHUNK_LINES {
                if !send(seq, first, std::mem::take(&mut chunk)) {
                    return Ok(line_no);
                }
                seq += 1;
                first = line_no;
            }
        }
        if !chunk.is_empty() {
            if !send(seq, first, chunk) {
                return Ok(line_no);
            }
            seq += 1;
        }
    }
    Ok(line_no)
}

fn scan(a: ScanArgs) -> Result<ExitCode> {
    let (set, rejected, options) = a.rules.load()?;
    let set = Arc::new(set);
    let feeds = feeding_rules(&set);
    let started = Instant::now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut tally = Tally::new(Arc::clone(&set), &options, a.per_event);

    let threads = a.threads.max(1);
    if threads == 1 {
        let mut failed = None;
        read_chunks(&a.files, |seq, first, chunk| {
            let r = eval_chunk(&set, &feeds, seq, first, &chunk);
            match tally.add(r, &mut out) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    } else {
        std::thread::scope(|s| -> Result<u64> {
            let (work_tx, work_rx) = mpsc::sync_channel::<(u64, u64, Vec<String>)>(threads * 4);
            let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
            let (done_tx, done_rx) = mpsc::sync_channel::<ChunkResult>(threads * 4);
            for _ in 0..threads {
                let rx = Arc::clone(&work_rx);
                let tx = done_tx.clone();
                let set = Arc::clone(&set);
                let feeds = &feeds;
                s.spawn(move || {
                    loop {
                        let next = rx
                            .lock()
                            .map_err(|_| ())
                            .and_then(|r| r.recv().map_err(|_| ()));
                        let Ok((seq, first, chunk)) = next else { break };
                        if tx
                            .send(eval_chunk(&set, feeds, seq, first, &chunk))
                            .is_err()
                        {
                            break;
                        }
                    }
                });
            }
            drop(done_tx);
            let files = a.files.clone();
            let reader = s.spawn(move || {
                read_chunks(&files, |seq, first, chunk| {
                    work_tx.send((seq, first, chunk)).is_ok()
                })
            });
            // Chunks come back in any order; they are folded (and correlated) in line order.
            let mut pending = BTreeMap::new();
            let mut next = 0u64;
            for r in done_rx {
                pending.insert(r.seq, r);
                while let Some(r) = pending.remove(&next) {
                    tally.add(r, &mut out)?;
                    next += 1;
                }
            }
            match reader.join() {
                Ok(r) => r,
                Err(_) => bail!("the reader thread failed"),
            }
        })?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if !a.per_event {
        let report = json!({
            "rules_loaded": set.len(),
            "rules_rejected": rejected_json(&rejected),
            "events": tally.events,
            "invalid_lines": tally.invalid_lines,
            "correlation_events_without_time": tally.untimed,
            "threads": threads,
            "seconds": seconds,
            "events_per_second": if seconds > 0.0 { tally.events as f64 / seconds } else { 0.0 },
            "counts": tally.counts_json(),
        });
        serde_json::to_writer_pretty(&mut out, &report)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn lint(a: LintArgs) -> Result<ExitCode> {
    let (set, rejected, _) = a.rules.load()?;
    let mut unexpected = 0;
    for r in &rejected {
        let note = if r.kind.is_expected() {
            ""
        } else {
            unexpected += 1;
            " (unsupported)"
        };
        println!("{r} [{}]{note}", r.kind.as_str());
    }
    println!(
        "{} rules loaded ({} detection, {} correlation, {} filters), {} rejected: {} waiting for placeholder values, {} unsupported",
        set.len(),
        set.rules().len(),
        set.correlations().len(),
        set.filter_count(),
        rejected.len(),
        rejected.len() - unexpected,
        unexpected
    );
    Ok(if unexpected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Events from a file: one JSON value (object or array) or NDJSON.
fn read_test_events(path: &Path) -> Result<Vec<Value>> {
    let mut text = String::new();
    open_events(path)?.read_to_string(&mut text)?;
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return Ok(match v {
            Value::Array(items) => items,
            other => vec![other],
        });
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}: line {}", path.display(), i + 1))
        })
        .collect()
}

fn test(a: TestArgs) -> Result<ExitCode> {
    let (set, rejected, options) = a.rules.load()?;
    for r in &rejected {
        eprintln!("{r}");
    }
    let events = read_test_events(&a.event)?;
    let set = Arc::new(set);
    let mut detector = SigmaDetector::new(Arc::clone(&set), &options);
    let mut matched = 0u64;
    let mut stdout = std::io::stdout().lock();
    for (i, raw) in events.into_iter().enumerate() {
        let ctx = tocsin_model::IngestContext {
            source: "rules-test",
            tenant: tocsin_model::DEFAULT_TENANT,
            domain: Some(tocsin_model::Domain::Cyber),
            ingested: chrono::Utc::now(),
            id: ulid::Ulid::new(),
            limits: tocsin_model::Limits::default(),
        };
        // Tocsin's own form runs through the detector (correlations included); a flat record
        // (a Windows event as forwarders write it) is matched rule by rule.
        let own_form = raw.get("time").is_some() && raw.get("class").is_some();
        if own_form {
            let event = tocsin_model::Event::from_value(raw, &ctx)
                .map_err(|e| anyhow::anyhow!("event {i}: {e}"))?;
            let mut out = Vec::new();
            detector.on_event(&event, &mut out);
            for d in out {
                matched += 1;
                writeln!(
                    stdout,
                    "{}",
                    json!({"event": i, "rule_id": d.rule, "title": d.title, "severity": d.severity.name(), "summary": d.summary})
                )?;
            }
        } else {
            let mut found = Vec::new();
            set.matches_json(&raw, &mut found);
            for r in found {
                let info = &set.rules()[r];
                matched += 1;
                writeln!(
                    stdout,
                    "{}",
                    json!({"event": i, "rule_id": info.id, "title": info.title, "severity": info.severity.name()})
                )?;
            }
        }
    }
    eprintln!("{matched} match(es)");
    Ok(if matched > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const RULE: &str = "title: Whoami Run\nid: 5a0c1d5e-0d7c-4a5f-9e43-2a1b8c6f9d01\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    selection:\n        Image|endswith: '\\whoami.exe'\n    condition: selection\nlevel: high\n";

    fn rules_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("whoami.yml"), RULE).unwrap();
        dir
    }

    fn events() -> String {
        [
            r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\whoami.exe"}"#,
            "",
            r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\cmd.exe"}"#,
            "not json",
            r#"{"Channel":"microsoft-windows-sysmon/operational","EventID":1,"Image":"C:\\Tools\\WHOAMI.EXE"}"#,
        ]
        .join("\n")
    }

    fn scan_lines(files: &[PathBuf]) -> (Vec<(u64, usize)>, Vec<u64>, u64) {
        let dir = rules_dir();
        let (set, rejected) =
            SigmaRuleSet::load_dirs(&[dir.path().to_owned()], &SigmaOptions::default());
        assert!(rejected.is_empty());
        let mut matches = Vec::new();
        let mut invalid = Vec::new();
        let mut events = 0;
        let feeds = feeding_rules(&set);
        read_chunks(files, |seq, first, chunk| {
            let r = eval_chunk(&set, &feeds, seq, first, &chunk);
            matches.extend(r.matches);
            invalid.extend(r.invalid.into_iter().map(|(l, _)| l));
            events += r.events;
            true
        })
        .unwrap();
        (matches, invalid, events)
    }

    #[test]
    fn scan_reads_plain_and_gzip_files_and_numbers_lines_across_them() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.jsonl");
        std::fs::write(&plain, events()).unwrap();
        let gz = dir.path().join("b.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(events().as_bytes()).unwrap();
        enc.finish().unwrap();

        let (matches, invalid, events) = scan_lines(&[plain, gz]);
        assert_eq!(matches, [(0, 0), (4, 0), (5, 0), (9, 0)]);
        assert_eq!(invalid, [3, 8]);
        assert_eq!(events, 6);
    }

    const FAILED: &str = "title: Failed Logon\nid: 5a0c1d5e-0d7c-4a5f-9e43-2a1b8c6f9d02\nname: failed_logon\nlogsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        EventID: 4625\n    condition: selection\nlevel: low\n";
    const BURST: &str = "title: Logon Failure Burst\nid: 5a0c1d5e-0d7c-4a5f-9e43-2a1b8c6f9d03\ncorrelation:\n    type: event_count\n    rules:\n        - failed_logon\n    group-by:\n        - TargetUserName\n    timespan: 5m\n    condition:\n        gte: 3\nlevel: high\n";

    fn failed(user: &str, time: &str) -> String {
        format!(
            r#"{{"Channel":"Security","EventID":4625,"TargetUserName":"{user}","@timestamp":"{time}"}}"#
        )
    }

    /// Runs the lines through workers' matching in chunks of `chunk` lines, folding in line
    /// order, as the scan does whatever its thread count.
    fn tally_in_chunks(lines: &[String], chunk: usize) -> (Vec<String>, Tally) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("failed.yml"), FAILED).unwrap();
        std::fs::write(dir.path().join("burst.yml"), BURST).unwrap();
        let options = SigmaOptions::default();
        let (set, rejected) = SigmaRuleSet::load_dirs(&[dir.path().to_owned()], &options);
        assert!(rejected.is_empty(), "{rejected:?}");
        let set = Arc::new(set);
        let feeds = feeding_rules(&set);
        let mut tally = Tally::new(Arc::clone(&set), &options, true);
        let mut out = Vec::new();
        // Workers finish in any order; results are folded by sequence number.
        let mut results: Vec<ChunkResult> = lines
            .chunks(chunk)
            .enumerate()
            .map(|(seq, c)| eval_chunk(&set, &feeds, seq as u64, (seq * chunk) as u64, c))
            .collect();
        results.reverse();
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        for r in results {
            pending.insert(r.seq, r);
            while let Some(r) = pending.remove(&next) {
                tally.add(r, &mut out).unwrap();
                next += 1;
            }
        }
        let printed = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        (printed, tally)
    }

    #[test]
    fn scan_runs_correlations_in_line_order_whatever_the_chunking() {
        let lines = vec![
            failed("alice", "2026-03-01T10:00:00Z"),
            failed("bob", "2026-03-01T10:00:30Z"),
            failed("alice", "2026-03-01T10:01:00Z"),
            // Older than everything so far: counted in a scan, it completes alice's window.
            failed("alice", "2026-03-01T09:58:00Z"),
            failed("bob", "2026-03-01T10:20:00Z"),
            failed("bob", "2026-03-01T10:21:00Z"),
            // No time: matched, but left out of correlations.
            r#"{"Channel":"Security","EventID":4625,"TargetUserName":"bob"}"#.to_owned(),
            failed("alice", "2026-03-01T10:02:00Z"),
        ];
        let (printed, tally) = tally_in_chunks(&lines, 512);
        let corr: Vec<Value> = printed
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v.get("correlation").is_some())
            .collect();
        assert_eq!(corr.len(), 1, "{printed:?}");
        assert_eq!(corr[0]["event"], 3);
        assert_eq!(corr[0]["rule_id"], "5a0c1d5e-0d7c-4a5f-9e43-2a1b8c6f9d03");
        assert_eq!(corr[0]["group"]["TargetUserName"], "alice");
        assert_eq!(corr[0]["evidence"], json!([0, 2, 3]));
        // The correlation line follows the detection line of the event that triggered it.
        let at = printed
            .iter()
            .position(|l| l.contains("\"correlation\""))
            .unwrap();
        assert!(printed[at - 1].contains("\"event\":3"), "{printed:?}");
        assert_eq!(tally.counts, [8]);
        assert_eq!(tally.correlation_counts, [1]);
        assert_eq!(tally.untimed, 1);
        let counts = tally.counts_json();
        assert_eq!(counts["5a0c1d5e-0d7c-4a5f-9e43-2a1b8c6f9d03"]["count"], 1);
        assert_eq!(counts["5a0c1d5e-0d7c-4a5f-9e43-2a1b8c6f9d02"]["count"], 8);

        for chunk in [1, 2, 3, 5] {
            let (other, t) = tally_in_chunks(&lines, chunk);
            assert_eq!(other, printed, "chunks of {chunk}");
            assert_eq!(t.correlation_counts, tally.correlation_counts);
        }
    }

    #[test]
    fn a_late_event_completing_an_older_window_names_that_window_as_evidence() {
        let lines = vec![
            failed("alice", "2026-03-01T10:00:00Z"),
            failed("alice", "2026-03-01T10:01:00Z"),
            failed("alice", "2026-03-01T10:20:00Z"),
            failed("alice", "2026-03-01T10:02:00Z"),
        ];
        let (printed, tally) = tally_in_chunks(&lines, 2);
        assert_eq!(tally.correlation_counts, [1]);
        let corr: Value = printed
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v.get("correlation").is_some())
            .unwrap();
        assert_eq!(corr["event"], 3);
        assert_eq!(corr["evidence"], json!([0, 1, 3]));
    }

    #[test]
    fn event_times_are_read_from_the_usual_fields() {
        let t = |v: Value| event_time_ms(&v);
        assert_eq!(
            t(json!({"@timestamp": "2021-04-27T04:07:34.160Z"})),
            Some(1_619_496_454_160)
        );
        assert_eq!(
            t(json!({"UtcTime": "2021-04-27 04:07:34.160"})),
            Some(1_619_496_454_160)
        );
        assert_eq!(t(json!({"time": 1_619_496_454})), Some(1_619_496_454_000));
        assert_eq!(
            t(json!({"time": 1_619_496_454_160_u64})),
            Some(1_619_496_454_160)
        );
        assert_eq!(t(json!({"time": "yesterday"})), None);
        assert_eq!(t(json!({"EventID": 1})), None);
    }

    #[test]
    fn placeholders_are_name_value_pairs() {
        let args = RuleArgs {
            rules: vec![PathBuf::from("x")],
            placeholders: vec![
                "%Workstations%=WS1".into(),
                "Workstations=WS2".into(),
                "dc=a=b".into(),
            ],
        };
        let o = args.options().unwrap();
        assert_eq!(o.placeholders["Workstations"], ["WS1", "WS2"]);
        assert_eq!(o.placeholders["dc"], ["a=b"]);
        let bad = RuleArgs {
            rules: vec![],
            placeholders: vec!["novalue".into()],
        };
        assert!(bad.options().is_err());
    }

    #[test]
    fn test_events_may_be_one_object_an_array_or_ndjson() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.json");
        std::fs::write(&one, "{\n  \"a\": 1\n}\n").unwrap();
        assert_eq!(read_test_events(&one).unwrap().len(), 1);
        let arr = dir.path().join("arr.json");
        std::fs::write(&arr, "[{\"a\": 1}, {\"a\": 2}]").unwrap();
        assert_eq!(read_test_events(&arr).unwrap().len(), 2);
        let nd = dir.path().join("nd.jsonl");
        std::fs::write(&nd, "{\"a\": 1}\n\n{\"a\": 2}\n").unwrap();
        assert_eq!(read_test_events(&nd).unwrap().len(), 2);
        std::fs::write(&nd, "{\"a\": 1}\n{oops\n").unwrap();
        let err = read_test_events(&nd).unwrap_err().to_string();
        assert!(err.ends_with("line 2"), "{err}");
    }
}
