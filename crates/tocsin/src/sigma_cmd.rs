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
use tocsin_sigma::{Rejected, SigmaDetector, SigmaOptions, SigmaRuleSet};

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
}

fn eval_chunk(set: &SigmaRuleSet, seq: u64, first: u64, lines: &[String]) -> ChunkResult {
    let mut matches = Vec::new();
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
    let (set, rejected, _) = a.rules.load()?;
    let set = Arc::new(set);
    let started = Instant::now();
    let mut counts = vec![0u64; set.rules().len()];
    let mut events = 0u64;
    let mut invalid_lines = 0u64;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut handle = |r: ChunkResult, out: &mut dyn Write| -> Result<()> {
        events += r.events;
        for (line, reason) in &r.invalid {
            invalid_lines += 1;
            if invalid_lines <= 10 {
                eprintln!("event {line}: {reason}");
            }
        }
        for &(line, rule) in &r.matches {
            if let Some(c) = counts.get_mut(rule) {
                *c += 1;
            }
            if a.per_event
                && let Some(info) = set.rules().get(rule)
            {
                serde_json::to_writer(
                    &mut *out,
                    &json!({"event": line, "rule_id": info.id, "title": info.title}),
                )?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    };

    let threads = a.threads.max(1);
    if threads == 1 {
        let mut failed = None;
        read_chunks(&a.files, |seq, first, chunk| {
            let r = eval_chunk(&set, seq, first, &chunk);
            match handle(r, &mut out) {
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
                s.spawn(move || {
                    loop {
                        let next = rx
                            .lock()
                            .map_err(|_| ())
                            .and_then(|r| r.recv().map_err(|_| ()));
                        let Ok((seq, first, chunk)) = next else { break };
                        if tx.send(eval_chunk(&set, seq, first, &chunk)).is_err() {
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
            // Chunks come back in any order; matches are printed in line order.
            let mut pending = BTreeMap::new();
            let mut next = 0u64;
            for r in done_rx {
                pending.insert(r.seq, r);
                while let Some(r) = pending.remove(&next) {
                    handle(r, &mut out)?;
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
        let mut by_rule = serde_json::Map::new();
        let mut ranked: Vec<(usize, u64)> = counts
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, c)| *c > 0)
            .collect();
        ranked.sort_by(|x, y| set.rules()[x.0].id.cmp(&set.rules()[y.0].id));
        for (i, c) in ranked {
            let r = &set.rules()[i];
            by_rule.insert(r.id.clone(), json!({"title": r.title, "count": c}));
        }
        let report = json!({
            "rules_loaded": set.len(),
            "rules_rejected": rejected_json(&rejected),
            "events": events,
            "invalid_lines": invalid_lines,
            "threads": threads,
            "seconds": seconds,
            "events_per_second": if seconds > 0.0 { events as f64 / seconds } else { 0.0 },
            "counts": by_rule,
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
        read_chunks(files, |seq, first, chunk| {
            let r = eval_chunk(&set, seq, first, &chunk);
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
