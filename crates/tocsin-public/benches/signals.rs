//! Throughput of the public-signals path per core: geoparse + classify + cluster, on a
//! synthetic stream (a third event reports across many cities, the rest chatter), and the
//! memory held at steady state.

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tocsin_public::cluster::{Analyser, ClusterConfig, StreamDetector};
use tocsin_public::{Classifier, Gazetteer};

const CITIES: [&str; 24] = [
    "Lyon", "Madrid", "Berlin", "Rome", "Vienna", "Warsaw", "Prague", "Lisbon", "Athens", "Dublin",
    "Chicago", "Houston", "Toronto", "Sydney", "Manila", "Jakarta", "Lagos", "Nairobi", "Lima",
    "Bogota", "Mumbai", "Osaka", "Seoul", "Cairo",
];
const EVENTS: [&str; 6] = [
    "Huge fire at a warehouse in {c}, thick smoke over the city",
    "Flooding in {c} after heavy rain, streets under water",
    "Power outage across {c}, thousands without electricity",
    "Explosion heard in {c} near the port, windows shattered",
    "Protesters clash with police in central {c}",
    "Train derailed near {c}, several injured",
];
const NOISE: [&str; 5] = [
    "good morning everyone, coffee first",
    "watching the match tonight with friends, what a goal",
    "new phone arrived today and the camera is great",
    "can't wait for the weekend trip",
    "this song has been stuck in my head all day",
];

fn stream(n: usize) -> Vec<(DateTime<Utc>, String)> {
    let t0: DateTime<Utc> = "2026-05-04T00:00:00Z".parse().unwrap_or_default();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let r = next();
            let text = if r % 3 == 0 {
                let city = CITIES[(next() % CITIES.len() as u64) as usize];
                let ev = EVENTS[(next() % EVENTS.len() as u64) as usize];
                format!("{} #{}", ev.replace("{c}", city), next() % 1000)
            } else {
                format!(
                    "{} {}",
                    NOISE[(next() % NOISE.len() as u64) as usize],
                    next() % 1000
                )
            };
            (t0 + Duration::seconds(i as i64), text)
        })
        .collect()
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bench(c: &mut Criterion) {
    let Ok(gazetteer) = Gazetteer::embedded() else {
        return;
    };
    let analyser = Analyser {
        gazetteer,
        classifier: Classifier::embedded(),
    };
    let posts = stream(20_000);

    // Steady state: run a long stream once and report what the detector holds.
    let before = rss_kib().unwrap_or(0);
    let mut det = StreamDetector::new(ClusterConfig::default());
    for (t, text) in stream(200_000) {
        det.push(&analyser.analyse(None, t, &text, None));
    }
    let after = rss_kib().unwrap_or(0);
    let s = det.stats();
    eprintln!(
        "steady state after 200k posts: {} open clusters, {} burst keys, {} emitted, process RSS {} MiB (+{} MiB while streaming)",
        s.open_clusters,
        det.burst_keys(),
        s.emitted,
        after / 1024,
        after.saturating_sub(before) / 1024
    );

    let mut g = c.benchmark_group("public_signals");
    g.throughput(Throughput::Elements(posts.len() as u64));
    g.sample_size(10);
    g.bench_function("geoparse_classify_cluster", |b| {
        b.iter(|| {
            let mut det = StreamDetector::new(ClusterConfig::default());
            let mut n = 0;
            for (t, text) in &posts {
                if det.push(&analyser.analyse(None, *t, text, None)).is_some() {
                    n += 1;
                }
            }
            n
        })
    });
    g.bench_function("geoparse_only", |b| {
        b.iter(|| {
            posts
                .iter()
                .map(|(_, t)| gazetteer.geoparse(t).len())
                .sum::<usize>()
        })
    });
    g.bench_function("classify_only", |b| {
        b.iter(|| {
            posts
                .iter()
                .map(|(_, t)| analyser.classifier.classify(t).event_type.index())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
