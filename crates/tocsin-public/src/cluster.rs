//! Event detection on the stream: posts about the same real-world event are clustered as they
//! arrive, and an event is emitted once its evidence crosses a threshold.
//!
//! - **First story**: a post that matches no open cluster of its type and place starts one.
//! - **Burst**: per place and type, and per term, counts in the current window are compared with
//!   a decaying baseline; a burst lowers the number of independent sources needed.
//! - **Official confirmation**: hazard warnings (CAP, USGS, GDACS) join the cluster of the same
//!   type near them, or seed one; an actual (not exercise) warning is enough evidence alone.
//! - **Updates, not repeats**: once emitted, a cluster emits an update only when it grows
//!   markedly, is confirmed, or is placed more precisely. Its key stays the same.
//!
//! Memory is bounded: open clusters (least recently updated evicted), the per-cluster sets
//! (sources, terms, places, evidence) and the burst table all have caps.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use tocsin_model::{Geo, Severity};
use ulid::Ulid;

use crate::classify::{Classification, Classifier, EventType};
use crate::feeds::{cut, fnv64};
use crate::gazetteer::{Gazetteer, PlaceKind, Resolved, best_place};
use crate::text::segments;

/// What an official feed says about an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Official {
    pub geo: Geo,
    pub severity: Severity,
    /// `false` for exercises and tests: they never raise events on their own.
    pub actual: bool,
    pub place: Option<String>,
}

/// One post (or feed item), analysed.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// The event that carried it, for evidence.
    pub evidence: Option<Ulid>,
    pub time: DateTime<Utc>,
    pub text: String,
    /// Same for re-posts and near copies, so that they count as one source.
    pub signature: u64,
    pub class: Classification,
    pub places: Vec<Resolved>,
    pub terms: Vec<u64>,
    pub official: Option<Official>,
}

const STOPWORDS: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "from", "have", "has", "are", "was", "were",
    "been", "their", "they", "there", "what", "when", "where", "will", "just", "about", "into",
    "your", "para", "com", "por", "que", "uma", "los", "las", "del", "una", "con", "dans", "pour",
    "avec", "des", "les", "une", "und", "die", "der", "das", "ein", "eine", "http", "https", "via",
    "more", "after", "over", "than", "them", "then", "these", "those", "some", "said", "says",
    "being",
];

/// Turns texts into [`Post`]s: geoparse and classify.
#[derive(Debug, Clone, Copy)]
pub struct Analyser<'a> {
    pub gazetteer: &'a Gazetteer,
    pub classifier: &'a Classifier,
}

/// Signature that ignores re-post markers, mentions, links and punctuation.
pub fn text_signature(text: &str) -> u64 {
    let segs = segments(text);
    let words: Vec<&str> = segs
        .first()
        .map(|s| {
            s.iter()
                .map(|t| t.norm.as_str())
                .filter(|w| *w != "rt")
                .take(12)
                .collect()
        })
        .unwrap_or_default();
    fnv64(words.join(" ").as_bytes())
}

/// Content words (hashed) of a text, at most 32.
pub fn terms(text: &str) -> Vec<u64> {
    let mut v: Vec<u64> = segments(text)
        .first()
        .map(|s| {
            s.iter()
                .filter(|t| t.norm.chars().count() >= 4 && !STOPWORDS.contains(&t.norm.as_str()))
                .map(|t| fnv64(t.norm.as_bytes()))
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v.dedup();
    v.truncate(32);
    v
}

impl Analyser<'_> {
    pub fn analyse(
        &self,
        evidence: Option<Ulid>,
        time: DateTime<Utc>,
        text: &str,
        official: Option<Official>,
    ) -> Post {
        let text = cut(text, crate::text::MAX_TEXT_BYTES);
        let mut places = self.gazetteer.geoparse(&text);
        places.truncate(8);
        Post {
            evidence,
            time,
            signature: text_signature(&text),
            class: self.classifier.classify(&text),
            places,
            terms: terms(&text),
            official,
            text,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// A cluster closes when nothing joined it for this long.
    pub window_secs: i64,
    /// Independent sources needed to emit without burst or confirmation.
    pub min_sources: usize,
    /// Independent sources needed to emit while the place is bursting.
    pub burst_min_sources: usize,
    /// Burst score (standardised excess over the baseline) that counts as a burst.
    pub burst_threshold: f64,
    /// Window of the burst counters.
    pub burst_window_secs: i64,
    /// Least probability of the predicted type for a post to take part.
    pub min_type_probability: f64,
    /// Least probability of the location for an event to be emitted.
    pub min_place_probability: f64,
    /// Places closer than this can be the same event.
    pub merge_km: f64,
    pub max_clusters: usize,
    pub max_burst_keys: usize,
    /// Evidence ids kept per event.
    pub max_evidence: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            window_secs: 12 * 3600,
            min_sources: 3,
            burst_min_sources: 2,
            burst_threshold: 3.0,
            burst_window_secs: 3600,
            min_type_probability: 0.4,
            min_place_probability: 0.3,
            merge_km: 50.0,
            max_clusters: 2048,
            max_burst_keys: 20_000,
            max_evidence: 20,
        }
    }
}

/// A detected event as the stream knows it now.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub cluster: u64,
    /// Stable for the event: its updates, and a cluster that re-forms for the same type and place
    /// soon after, carry the same key, so the alert stage folds them into one alert.
    pub key: String,
    pub event_type: EventType,
    pub type_probability: f64,
    pub geo: Geo,
    pub place: String,
    pub place_kind: Option<PlaceKind>,
    pub country: String,
    pub place_probability: f64,
    /// First post of the cluster.
    pub first_seen: DateTime<Utc>,
    /// The post that made the evidence cross the threshold, or the latest for updates.
    pub time: DateTime<Utc>,
    pub posts: usize,
    pub sources: usize,
    pub burst: f64,
    pub official: bool,
    pub severity: Severity,
    pub evidence: Vec<Ulid>,
    /// A few evidence texts, most informative first.
    pub snippets: Vec<String>,
    pub headline: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Emission {
    New(EventSummary),
    Update(EventSummary),
}

impl Emission {
    pub fn summary(&self) -> &EventSummary {
        match self {
            Emission::New(s) | Emission::Update(s) => s,
        }
    }
}

#[derive(Debug, Clone)]
struct Cluster {
    id: u64,
    type_votes: [f64; 12],
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    posts: usize,
    signatures: HashSet<u64>,
    /// Votes, the place, and how many posts named it as their main place.
    places: HashMap<u32, (f64, Resolved, u32)>,
    terms: HashMap<u64, u32>,
    evidence: Vec<Ulid>,
    snippets: Vec<(f64, String)>,
    official: Option<Official>,
    emitted: bool,
    emitted_sources: usize,
    emitted_place: Option<u32>,
    key: Option<String>,
}

const MAX_SIGNATURES: usize = 512;
const MAX_PLACES: usize = 32;
const MAX_TERMS: usize = 64;

impl Cluster {
    fn event_type(&self) -> EventType {
        let (i, _) = self
            .type_votes
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((EventType::Other.index(), &0.0));
        EventType::ALL.get(i).copied().unwrap_or(EventType::Other)
    }

    /// The place most supported by the posts: a place's own votes plus half of those of the
    /// region and country that hold it; ties go to the more specific place.
    fn location(&self) -> Option<(&Resolved, f64)> {
        self.location_with_count().map(|(r, s, _)| (r, s))
    }

    fn location_with_count(&self) -> Option<(&Resolved, f64, u32)> {
        let mut best: Option<(&Resolved, f64, u32)> = None;
        // In id order, so that sums and ties come out the same on every run.
        let mut entries: Vec<&(f64, Resolved, u32)> = self.places.values().collect();
        entries.sort_by_key(|e| e.1.place);
        for (w, r, n) in entries.iter().map(|e| (&e.0, &e.1, &e.2)) {
            let mut support = *w;
            for (w2, r2, _) in entries.iter().map(|e| (&e.0, &e.1, &e.2)) {
                if r2.place == r.place || r2.country != r.country {
                    continue;
                }
                let contains = r2.kind == PlaceKind::Country && r.kind != PlaceKind::Country
                    || r2.kind == PlaceKind::Region
                        && r.kind == PlaceKind::City
                        && Geo::point(r.lat, r.lon).distance_m(&r2.geo()) <= r2.radius_m;
                if contains {
                    support += 0.5 * w2;
                }
            }
            // Ties go to the more specific place, then the lower id: hash-map order must not
            // decide anything (same input, same output).
            let better = match best {
                None => true,
                Some((b, s, _)) => {
                    support > s + 1e-9
                        || ((support - s).abs() <= 1e-9
                            && (r.kind, std::cmp::Reverse(r.place))
                                > (b.kind, std::cmp::Reverse(b.place)))
                }
            };
            if better {
                best = Some((r, support, *n));
            }
        }
        best
    }

    fn add_post(&mut self, post: &Post, max_evidence: usize) {
        self.posts += 1;
        self.last = self.last.max(post.time);
        self.first = self.first.min(post.time);
        if self.signatures.len() < MAX_SIGNATURES {
            self.signatures.insert(post.signature);
        }
        if let Some(v) = self.type_votes.get_mut(post.class.event_type.index()) {
            *v += post.class.type_probability;
        }
        let main = best_place(&post.places).map(|r| r.place);
        for r in post.places.iter().filter(|r| r.probability >= 0.3) {
            if self.places.len() >= MAX_PLACES && !self.places.contains_key(&r.place) {
                continue;
            }
            let e = self
                .places
                .entry(r.place)
                .or_insert_with(|| (0.0, r.clone(), 0));
            if Some(r.place) == main {
                e.0 += r.probability;
                e.2 += 1;
            } else {
                e.0 += 0.25 * r.probability;
            }
        }
        for t in &post.terms {
            if let Some(c) = self.terms.get_mut(t) {
                *c += 1;
            } else if self.terms.len() < MAX_TERMS {
                self.terms.insert(*t, 1);
            } else if let Some((&k, _)) = self
                .terms
                .iter()
                .filter(|(_, c)| **c <= 1)
                .min_by_key(|(k, _)| **k)
            {
                // Forget a term seen once to make room: the frequent ones describe the event.
                self.terms.remove(&k);
                self.terms.insert(*t, 1);
            }
        }
        if let Some(id) = post.evidence
            && self.evidence.len() < max_evidence
            && !self.evidence.contains(&id)
        {
            self.evidence.push(id);
        }
        if !post.text.is_empty() {
            self.snippets
                .push((post.class.informative, cut(&post.text, 280)));
            self.snippets.sort_by(|a, b| b.0.total_cmp(&a.0));
            self.snippets.truncate(3);
        }
        if let Some(o) = &post.official
            && (self.official.is_none() || o.actual)
        {
            self.official = Some(o.clone());
        }
    }

    fn term_overlap(&self, post: &Post) -> f64 {
        if post.terms.is_empty() {
            return 0.0;
        }
        let hits = post
            .terms
            .iter()
            .filter(|t| self.terms.contains_key(t))
            .count();
        hits as f64 / post.terms.len().min(8) as f64
    }
}

fn place_compatible(a: &Resolved, b: &Resolved, merge_km: f64) -> bool {
    if a.place == b.place {
        return true;
    }
    if a.kind == PlaceKind::Country || b.kind == PlaceKind::Country {
        return a.country == b.country;
    }
    let d = Geo::point(a.lat, a.lon).distance_m(&Geo::point(b.lat, b.lon));
    if a.kind == PlaceKind::Region || b.kind == PlaceKind::Region {
        return a.country == b.country && d <= a.radius_m + b.radius_m;
    }
    d <= (a.radius_m + b.radius_m).max(merge_km * 1000.0)
}

/// Per-key counts in the current window against a decaying baseline of past windows.
#[derive(Debug, Clone, Default)]
pub struct BurstTracker {
    keys: HashMap<u64, (i64, f64, f64)>,
    cap: usize,
    window: i64,
}

impl BurstTracker {
    pub fn new(window_secs: i64, cap: usize) -> Self {
        Self {
            keys: HashMap::new(),
            cap: cap.max(16),
            window: window_secs.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Counts one occurrence and returns the key's burst score.
    pub fn observe(&mut self, key: u64, time: DateTime<Utc>) -> f64 {
        let slot = time.timestamp().div_euclid(self.window);
        if self.keys.len() >= self.cap && !self.keys.contains_key(&key) {
            // Drop the stalest tenth in one pass so eviction stays cheap on average.
            let mut slots: Vec<i64> = self.keys.values().map(|v| v.0).collect();
            slots.sort_unstable();
            let cutoff = slots.get(slots.len() / 10).copied().unwrap_or(i64::MIN);
            self.keys.retain(|_, v| v.0 > cutoff);
        }
        let e = self.keys.entry(key).or_insert((slot, 0.0, 0.0));
        if slot > e.0 {
            // Fold the finished window(s) into the baseline.
            let gap = (slot - e.0).min(64);
            e.2 = 0.7 * e.2 + 0.3 * e.1;
            for _ in 1..gap {
                e.2 *= 0.7;
            }
            e.1 = 0.0;
            e.0 = slot;
        }
        e.1 += 1.0;
        (e.1 - e.2) / (e.2 + 1.0).sqrt()
    }
}

/// Counters about the stream, for metrics and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub posts: u64,
    pub ignored: u64,
    pub open_clusters: u64,
    pub evicted: u64,
    pub emitted: u64,
    pub updates: u64,
}

#[derive(Debug, Clone)]
pub struct StreamDetector {
    cfg: ClusterConfig,
    clusters: HashMap<u64, Cluster>,
    burst: BurstTracker,
    next_id: u64,
    stats: StreamStats,
    /// Keys of recently emitted events by type and place, so that a cluster that re-forms after
    /// a quiet spell continues the same event instead of raising a new one.
    recent: HashMap<String, (String, DateTime<Utc>)>,
}

fn type_place_key(t: EventType, place: u32) -> u64 {
    fnv64(format!("{}:{place}", t.as_str()).as_bytes())
}

impl StreamDetector {
    pub fn new(cfg: ClusterConfig) -> Self {
        let burst = BurstTracker::new(cfg.burst_window_secs, cfg.max_burst_keys);
        Self {
            cfg,
            clusters: HashMap::new(),
            burst,
            next_id: 1,
            stats: StreamStats::default(),
            recent: HashMap::new(),
        }
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    pub fn stats(&self) -> StreamStats {
        StreamStats {
            open_clusters: self.clusters.len() as u64,
            ..self.stats
        }
    }

    pub fn burst_keys(&self) -> usize {
        self.burst.len()
    }

    fn close_stale(&mut self, now: DateTime<Utc>) {
        let horizon = now - Duration::seconds(self.cfg.window_secs);
        self.clusters.retain(|_, c| c.last >= horizon);
        while self.clusters.len() >= self.cfg.max_clusters {
            let Some(oldest) = self
                .clusters
                .values()
                .min_by_key(|c| (c.last, c.id))
                .map(|c| c.id)
            else {
                break;
            };
            self.clusters.remove(&oldest);
            self.stats.evicted += 1;
        }
    }

    fn official_type(post: &Post) -> EventType {
        post.class.event_type
    }

    /// Takes one analysed post and returns what it caused, if anything.
    pub fn push(&mut self, post: &Post) -> Option<Emission> {
        self.stats.posts += 1;
        let ty = Self::official_type(post);
        let eligible = ty != EventType::Other
            && (post.official.is_some()
                || post.class.type_probability >= self.cfg.min_type_probability);
        let best = best_place(&post.places).cloned();
        let mut burst = 0.0;
        if let Some(b) = &best {
            burst = self.burst.observe(type_place_key(ty, b.place), post.time);
        }
        if !eligible {
            self.stats.ignored += 1;
            return None;
        }
        if self.stats.posts.is_multiple_of(64) || self.clusters.len() >= self.cfg.max_clusters {
            self.close_stale(post.time);
        }
        let horizon = post.time - Duration::seconds(self.cfg.window_secs);
        let official_geo = post.official.as_ref().map(|o| o.geo.clone());
        let mut chosen: Option<(u64, f64)> = None;
        for c in self.clusters.values() {
            if c.last < horizon || c.event_type() != ty {
                continue;
            }
            let overlap = c.term_overlap(post);
            let loc = c.location().map(|(r, _)| r);
            let place_ok = match (&best, loc, &official_geo) {
                (_, Some(l), Some(g)) => {
                    l.geo().distance_m(g)
                        <= g.radius_m.unwrap_or(0.0) + l.radius_m + self.cfg.merge_km * 1000.0
                }
                (Some(b), Some(l), None) => place_compatible(b, l, self.cfg.merge_km),
                (None, Some(_), None) => false,
                (_, None, _) => overlap >= 0.25,
            };
            let score = if place_ok {
                2.0 + overlap
            } else if best.is_none() && official_geo.is_none() && overlap >= 0.25 {
                overlap
            } else {
                continue;
            };
            if chosen.is_none_or(|(id, s)| score > s || (score == s && c.id < id)) {
                chosen = Some((c.id, score));
            }
        }
        let id = match chosen {
            Some((id, _)) => id,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.clusters.insert(
                    id,
                    Cluster {
                        id,
                        type_votes: [0.0; 12],
                        first: post.time,
                        last: post.time,
                        posts: 0,
                        signatures: HashSet::new(),
                        places: HashMap::new(),
                        terms: HashMap::new(),
                        evidence: Vec::new(),
                        snippets: Vec::new(),
                        official: None,
                        emitted: false,
                        emitted_sources: 0,
                        emitted_place: None,
                        key: None,
                    },
                );
                id
            }
        };
        let cfg = self.cfg.clone();
        let c = self.clusters.get_mut(&id)?;
        let was_official = c.official.as_ref().is_some_and(|o| o.actual);
        c.add_post(post, cfg.max_evidence);
        let mut summary = summarise(c, post.time, burst)?;
        let ty_place = summary.key.clone();
        if let Some(k) = &c.key {
            summary.key = k.clone();
        } else if let Some((k, last)) = self.recent.get(&ty_place)
            && post.time - *last <= Duration::seconds(cfg.window_secs * 2)
        {
            summary.key = k.clone();
        } else {
            summary.key = format!("{}:{}", summary.event_type.as_str(), id);
        }
        if summary.place_probability < cfg.min_place_probability && !summary.official {
            return None;
        }
        let sources = c.signatures.len();
        let confirmed = c.official.as_ref().is_some_and(|o| o.actual);
        // The place needs its own corroboration, and an event that happens at a spot (a fire, a
        // shooting, a crash) is not placed by its country alone.
        let placed = confirmed
            || c.location_with_count().is_some_and(|(r, _, n)| {
                n >= 2 && !(r.kind == PlaceKind::Country && focal(summary.event_type))
            });
        if !placed {
            return None;
        }
        if !c.emitted {
            let enough = sources >= cfg.min_sources
                || (sources >= cfg.burst_min_sources && burst >= cfg.burst_threshold)
                || confirmed;
            if !enough {
                return None;
            }
            c.emitted = true;
            c.key = Some(summary.key.clone());
            remember(
                &mut self.recent,
                ty_place,
                summary.key.clone(),
                post.time,
                cfg.max_clusters * 4,
            );
            c.emitted_sources = sources;
            c.emitted_place = c.location().map(|(r, _)| r.place);
            self.stats.emitted += 1;
            return Some(Emission::New(summary));
        }
        let place_now = c.location().map(|(r, _)| r.place);
        let grew = sources >= 2 * c.emitted_sources.max(1);
        // Move only on a clear change, so that two names of one place do not flap.
        let votes = |p: Option<u32>| p.and_then(|p| c.places.get(&p)).map_or(0.0, |x| x.0);
        let moved =
            place_now != c.emitted_place && votes(c.emitted_place) < 0.67 * votes(place_now);
        remember(
            &mut self.recent,
            ty_place,
            summary.key.clone(),
            post.time,
            cfg.max_clusters * 4,
        );
        if grew || moved || (confirmed && !was_official) {
            c.emitted_sources = sources;
            c.emitted_place = place_now;
            self.stats.updates += 1;
            return Some(Emission::Update(summary));
        }
        None
    }
}

/// Types of event that happen at one spot rather than across a region.
pub fn focal(t: EventType) -> bool {
    matches!(
        t,
        EventType::Fire
            | EventType::Explosion
            | EventType::Shooting
            | EventType::Bombing
            | EventType::TransportAccident
    )
}

fn remember(
    map: &mut HashMap<String, (String, DateTime<Utc>)>,
    k: String,
    v: String,
    t: DateTime<Utc>,
    cap: usize,
) {
    if map.len() >= cap && !map.contains_key(&k) {
        let mut times: Vec<DateTime<Utc>> = map.values().map(|x| x.1).collect();
        times.sort_unstable();
        if let Some(cut) = times.get(times.len() / 4).copied() {
            map.retain(|_, x| x.1 > cut);
        }
    }
    map.insert(k, (v, t));
}

fn summarise(c: &Cluster, time: DateTime<Utc>, burst: f64) -> Option<EventSummary> {
    let ty = c.event_type();
    let total: f64 = c.type_votes.iter().sum();
    let type_probability = c.type_votes.get(ty.index()).copied().unwrap_or(0.0) / total.max(1e-9);
    let loc = c.location();
    let (geo, place, kind, country, pprob, place_id) = match (&c.official, loc) {
        (Some(o), l) if o.actual || l.is_none() => (
            o.geo.clone(),
            o.place
                .clone()
                .or_else(|| l.map(|(r, _)| r.name.clone()))
                .unwrap_or_default(),
            l.map(|(r, _)| r.kind),
            l.map(|(r, _)| r.country.clone()).unwrap_or_default(),
            1.0,
            None,
        ),
        (_, Some((r, support))) => {
            let mentions = c.posts.max(1) as f64;
            (
                r.geo(),
                r.name.clone(),
                Some(r.kind),
                r.country.clone(),
                (support / mentions)
                    .min(1.0)
                    .max(r.probability.min(1.0) * 0.5),
                Some(r.place),
            )
        }
        _ => return None,
    };
    let key = match place_id {
        Some(p) => format!("{}:place:{p}", ty.as_str()),
        // Official-only events key on a 0.5° cell.
        None => format!(
            "{}:cell:{:.0}:{:.0}",
            ty.as_str(),
            geo.lat * 2.0,
            geo.lon * 2.0
        ),
    };
    let sources = c.signatures.len();
    let official = c.official.as_ref().is_some_and(|o| o.actual);
    let severity = c
        .official
        .as_ref()
        .map(|o| o.severity)
        .unwrap_or(if sources >= 10 {
            Severity::HIGH
        } else {
            Severity::MEDIUM
        });
    let headline = format!(
        "{} {} {}{}",
        ty.label(),
        if kind == Some(PlaceKind::Country) || kind == Some(PlaceKind::Region) {
            "in"
        } else {
            "near"
        },
        if place.is_empty() {
            "unknown place".to_owned()
        } else {
            place.clone()
        },
        if official {
            " (officially confirmed)".to_owned()
        } else {
            format!(" ({sources} independent reports)")
        }
    );
    Some(EventSummary {
        cluster: c.id,
        key,
        event_type: ty,
        type_probability,
        geo,
        place,
        place_kind: kind,
        country,
        place_probability: pprob,
        first_seen: c.first,
        time,
        posts: c.posts,
        sources,
        burst,
        official,
        severity,
        evidence: c.evidence.clone(),
        snippets: c.snippets.iter().map(|(_, s)| s.clone()).collect(),
        headline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_scores_rise_with_a_sudden_excess() {
        let mut b = BurstTracker::new(3600, 100);
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        for h in 0..10 {
            b.observe(1, t0 + Duration::hours(h));
        }
        let quiet = b.observe(1, t0 + Duration::hours(10));
        let mut loud = 0.0;
        for _ in 0..10 {
            loud = b.observe(1, t0 + Duration::hours(10) + Duration::minutes(5));
        }
        assert!(loud > quiet + 3.0, "{quiet} {loud}");
    }

    #[test]
    fn burst_table_is_bounded() {
        let mut b = BurstTracker::new(3600, 100);
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        for k in 0..10_000u64 {
            b.observe(k, t0 + Duration::seconds(k as i64));
        }
        assert!(b.len() <= 100);
    }
}
