//! Ingest → normalise → store throughput on a fixed mixed workload: Tocsin JSON events (physical,
//! cyber, public) and syslog lines with CEF payloads, normalised into events and written to the
//! embedded SQLite store in batches, as the pipeline does. Reported as events per second; the
//! benchmark runs on one tokio thread, so the figure is per core.

use std::hint::black_box;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tocsin_model::{Event, IngestContext, Limits};
use tocsin_parsers::{normalise, syslog};
use tocsin_store::Store;
use ulid::Ulid;

const RECORDS: usize = 10_000;
const BATCH: usize = 500;

fn workload() -> Vec<Vec<u8>> {
    (0..RECORDS)
        .map(|i| {
            let line = match i % 4 {
                0 => format!(
                    r#"{{"time":"2026-05-04T02:{:02}:{:02}Z","domain":"physical","class":"physical_access","activity":"granted","severity":1,"badge":"0x3F{:04X}","portal":"AP-{}","site":"hq","zone":"hq-lobby","message":"Access granted","fields":{{"Topic":"tns1:AccessControl/AccessGranted/Credential","reader":"R{}"}}}}"#,
                    (i / 60) % 60,
                    i % 60,
                    i % 5000,
                    i % 40,
                    i % 80
                ),
                1 => format!(
                    r#"{{"time":"2026-05-04T02:{:02}:{:02}Z","domain":"cyber","class":"authentication","activity":"logon","severity":1,"user":"user{}","host":"WS-{:04}","src_ip":"10.1.{}.{}","fields":{{"EventID":4624,"LogonType":"3","Channel":"Security","TargetUserName":"user{}"}}}}"#,
                    (i / 60) % 60,
                    i % 60,
                    i % 700,
                    i % 300,
                    i % 250,
                    i % 200,
                    i % 700
                ),
                2 => format!(
                    "<134>1 2026-05-04T02:{:02}:{:02}.123Z fw{:02} firewall - - - CEF:0|Acme|NGFW|9.1|100|Connection blocked|5|src=10.0.{}.{} dst=192.0.2.{} spt={} dpt=443 proto=TCP act=blocked suser=user{} msg=policy deny\\=all",
                    (i / 60) % 60,
                    i % 60,
                    i % 8,
                    i % 250,
                    i % 200,
                    i % 250,
                    1024 + i % 60000,
                    i % 700
                ),
                _ => format!(
                    r#"{{"time":"2026-05-04T02:{:02}:{:02}Z","domain":"public","class":"public_report","severity":3,"place":"La Défense","geo":{{"lat":48.89,"lon":2.24,"radius_m":1500}},"message":"Demonstration reported near the business district, roads closed","url":"https://news.example/{}"}}"#,
                    (i / 60) % 60,
                    i % 60,
                    i
                ),
            };
            line.into_bytes()
        })
        .collect()
}

fn normalise_one(raw: &[u8], now: DateTime<Utc>, opts: &syslog::SyslogOptions) -> Option<Event> {
    let ctx = IngestContext {
        source: "bench",
        tenant: "default",
        domain: None,
        ingested: now,
        id: Ulid::new(),
        limits: Limits::default(),
    };
    if raw.first() == Some(&b'<') {
        let msg = syslog::parse(raw, opts).ok()?;
        let mut input = normalise::syslog_to_input(&msg);
        input.domain.get_or_insert_with(|| "cyber".to_owned());
        Event::from_input(input, &ctx).ok()
    } else {
        Event::from_json(raw, &ctx).ok()
    }
}

fn bench(c: &mut Criterion) {
    let records = workload();
    let now: DateTime<Utc> = "2026-05-04T03:00:00Z".parse().expect("time");
    let opts = syslog::SyslogOptions::new(now);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);

    group.bench_function("normalise", |b| {
        b.iter(|| {
            let n = records
                .iter()
                .filter_map(|r| normalise_one(r, now, &opts))
                .count();
            assert_eq!(n, RECORDS);
            black_box(n)
        })
    });

    group.bench_function("normalise_and_store_sqlite", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let store: Arc<dyn Store> = Arc::new(
                    rt.block_on(tocsin_store::open_sqlite(dir.path()))
                        .expect("store"),
                );
                (dir, store)
            },
            |(dir, store)| {
                rt.block_on(async {
                    let mut batch = Vec::with_capacity(BATCH);
                    for r in &records {
                        if let Some(e) = normalise_one(r, now, &opts) {
                            batch.push(e);
                        }
                        if batch.len() == BATCH {
                            store.insert_events(&batch).await.expect("insert");
                            batch.clear();
                        }
                    }
                    if !batch.is_empty() {
                        store.insert_events(&batch).await.expect("insert");
                    }
                });
                drop(dir);
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
