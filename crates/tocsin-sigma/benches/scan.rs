//! Throughput on one core, JSON parsing included:
//! - `sigmahq_mordor`: every SigmaHQ rule over a fixed slice (the first 20,000 events) of the
//!   Mordor sample in `$TOCSIN_REFERENCE_DATA/sigma/` (skipped when the data is absent);
//! - `correlation`: an `event_count` correlation fed by events that all match its rule.
//!
//! The memory the loaded rules take (resident set growth while loading) is printed once.

use std::hint::black_box;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tocsin_detect::Detector;
use tocsin_model::{Event, IngestContext, Limits};
use tocsin_sigma::{SigmaDetector, SigmaOptions, SigmaRuleSet};

const SLICE: usize = 20_000;

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn sigmahq_mordor(c: &mut Criterion) {
    let Some(data) = std::env::var_os("TOCSIN_REFERENCE_DATA")
        .map(|d| PathBuf::from(d).join("sigma"))
        .filter(|d| d.is_dir())
    else {
        eprintln!("skipping sigmahq_mordor: TOCSIN_REFERENCE_DATA/sigma is not there");
        return;
    };
    let dirs: Vec<PathBuf> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| data.join("rules").join(d))
        .collect();
    let before = resident_bytes();
    let (set, _) = SigmaRuleSet::load_dirs(&dirs, &SigmaOptions::default());
    if let (Some(b), Some(a)) = (before, resident_bytes()) {
        eprintln!(
            "{} rules loaded; resident memory grew by {:.1} MiB",
            set.len(),
            a.saturating_sub(b) as f64 / (1024.0 * 1024.0)
        );
    }
    let file = std::fs::File::open(data.join("mordor/mordor-100k.jsonl.gz")).unwrap();
    let lines: Vec<String> = std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .take(SLICE)
        .map(Result::unwrap)
        .collect();
    let mut group = c.benchmark_group("sigma");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(10);
    group.bench_function("sigmahq_mordor", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut matches = 0;
            for l in &lines {
                let v: Value = serde_json::from_str(l).unwrap();
                out.clear();
                set.matches_json(&v, &mut out);
                matches += out.len();
            }
            black_box(matches)
        })
    });
    group.finish();
}

const CORRELATION: &str = r#"
title: Failed Logon
id: 1f7b3d9e-5a2c-4c8f-a1e6-3b9d7f5c1e37
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Many Failed Logons
id: 6e2a0c8f-4d1b-4e9a-b3c7-5f1d9e7b3a26
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - TargetUserName
    timespan: 10m
    condition:
        gte: 50
level: high
"#;

fn correlation(c: &mut Criterion) {
    let options = SigmaOptions::default();
    let (set, rejected) = SigmaRuleSet::from_sources(
        &[(PathBuf::from("bench.yml"), CORRELATION.to_owned())],
        &options,
    );
    assert!(rejected.is_empty());
    let set = Arc::new(set);
    let start = Utc.with_ymd_and_hms(2026, 5, 4, 2, 0, 0).unwrap();
    let events: Vec<Event> = (0..10_000i64)
        .map(|i| {
            let ctx = IngestContext {
                source: "bench",
                tenant: "default",
                domain: None,
                ingested: start,
                id: ulid::Ulid::new(),
                limits: Limits::default(),
            };
            let body = json!({
                "time": (start + Duration::milliseconds(i * 50)).to_rfc3339(),
                "domain": "cyber",
                "class": "authentication",
                "fields": {"Channel": "Security", "EventID": 4625,
                           "TargetUserName": format!("user{}", i % 200)}
            });
            Event::from_value(body, &ctx).unwrap()
        })
        .collect();
    let mut group = c.benchmark_group("sigma");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("correlation_event_count", |b| {
        b.iter(|| {
            let mut d = SigmaDetector::new(Arc::clone(&set), &options);
            let mut out = Vec::new();
            for e in &events {
                d.on_event(e, &mut out);
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, sigmahq_mordor, correlation);
criterion_main!(benches);
