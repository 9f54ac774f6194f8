//! Evaluation on labelled crisis posts (`tocsin signals eval`).
//!
//! All posts of all events are replayed as one stream in time order (events interleaved, the
//! unrelated and off-topic posts as noise). Alerts are counted as the alert stage would: a
//! detection whose key repeats inside the dedup window is an update, not a new alert.
//!
//! By default each event's posts are classified by a model trained without that event
//! (leave-one-event-out), so the figures say how the system does on events it has not seen.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tocsin_model::Geo;
use ulid::Ulid;

use crate::classify::{
    Classifier, EventType, SEED_LEXICON, TrainOptions, TrainingSet, features, train,
};
use crate::cluster::{ClusterConfig, Post, StreamDetector, terms, text_signature};
use crate::crisislex::{Dataset, Label};
use crate::gazetteer::{Gazetteer, best_place};

/// Weight of one seed-lexicon sentence relative to one labelled post.
pub const SEED_WEIGHT: f32 = 3.0;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalReport {
    /// Events with a description (ground truth), the ones recall is measured on.
    pub events: usize,
    pub event_recall: f64,
    pub alert_precision: f64,
    pub false_alerts_per_hour: f64,
    pub latency_median_s: Option<f64>,
    pub latency_p90_s: Option<f64>,
    pub type_accuracy: Option<f64>,
    pub geo_error_median_km: Option<f64>,
    pub alerts: usize,
    pub false_alerts: usize,
    pub active_hours: usize,
    pub posts: usize,
    pub found: Vec<String>,
    pub missed: Vec<String>,
    pub held_out: bool,
    pub per_event: Vec<EventResult>,
    /// Every alert state (new alerts and their updates), in alert order.
    pub log: Vec<AlertLog>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertLog {
    pub time: DateTime<Utc>,
    pub key: String,
    pub place: String,
    pub country: String,
    pub event_type: String,
    pub sources: usize,
    /// Events this state matches (empty: a false alert state).
    pub matched: Vec<String>,
}

impl EvalReport {
    /// The figures `tocsin signals eval --json` prints, under these keys exactly.
    pub fn summary_json(&self) -> serde_json::Value {
        serde_json::json!({
            "events": self.events,
            "event_recall": self.event_recall,
            "alert_precision": self.alert_precision,
            "false_alerts_per_hour": self.false_alerts_per_hour,
            "latency_median_s": self.latency_median_s,
            "latency_p90_s": self.latency_p90_s,
            "type_accuracy": self.type_accuracy,
            "geo_error_median_km": self.geo_error_median_km,
        })
    }
}

/// How one found event was detected.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventResult {
    pub name: String,
    pub latency_s: Option<f64>,
    pub geo_error_km: Option<f64>,
    pub predicted_type: String,
    pub true_type: String,
}

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Classify each event with a model trained without it.
    pub hold_out: bool,
    pub cluster: ClusterConfig,
    pub dedup_window_secs: i64,
    /// Distance within which an alert counts for a focalised event.
    pub match_km: f64,
    pub train: TrainOptions,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            hold_out: true,
            cluster: ClusterConfig::default(),
            dedup_window_secs: 24 * 3600,
            match_km: 100.0,
            train: TrainOptions::default(),
        }
    }
}

/// Trains the shipped model: all labelled posts plus the seed lexicon.
pub fn train_model(data: &Dataset, opts: &TrainOptions) -> Classifier {
    let mut set = data.training_set();
    set.add_seed_lexicon(SEED_LEXICON, SEED_WEIGHT);
    train(&set, opts)
}

struct AlertRec {
    key: String,
    place: String,
    sources: usize,
    time: DateTime<Utc>,
    geo: Geo,
    country: String,
    event_type: EventType,
    evidence: Vec<Ulid>,
}

struct Truth {
    point: Option<Geo>,
    country: Option<String>,
    diffused: bool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    first_informative: Option<DateTime<Utc>>,
    event_type: Option<EventType>,
}

fn post_ulid(id: u64, time: DateTime<Utc>) -> Ulid {
    Ulid::from_parts(
        u64::try_from(time.timestamp_millis()).unwrap_or(0),
        u128::from(id),
    )
}

fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (v.get(lo)?, v.get(hi)?);
    Some(a + (b - a) * (pos - lo as f64))
}

/// Runs the evaluation.
pub fn evaluate(
    data: &Dataset,
    gaz: &Gazetteer,
    shipped: &Classifier,
    opts: &EvalOptions,
) -> EvalReport {
    // Classifiers per event: held out, or the shipped one for all.
    let mut per_event: HashMap<usize, Classifier> = HashMap::new();
    if opts.hold_out {
        let mut set: TrainingSet = data.training_set();
        set.add_seed_lexicon(SEED_LEXICON, SEED_WEIGHT);
        for i in 0..data.events.len() {
            let o = TrainOptions {
                exclude_group: u32::try_from(i).ok(),
                ..opts.train.clone()
            };
            per_event.insert(i, train(&set, &o));
        }
    }

    // Ground truth per event.
    let mut truths: Vec<Truth> = Vec::new();
    for (i, ev) in data.events.iter().enumerate() {
        let posts = data.posts.iter().filter(|p| p.event == i);
        let (mut from, mut to, mut first_inf) = (
            None::<DateTime<Utc>>,
            None::<DateTime<Utc>>,
            None::<DateTime<Utc>>,
        );
        for p in posts {
            from = Some(from.map_or(p.time, |f| f.min(p.time)));
            to = Some(to.map_or(p.time, |t| t.max(p.time)));
            if p.label == Label::Informative {
                first_inf = Some(first_inf.map_or(p.time, |f| f.min(p.time)));
            }
        }
        let country = ev.country.as_deref().and_then(|c| gaz.find_country(c));
        let cc: Vec<&str> = country
            .map(|c| vec![c.country.as_str()])
            .unwrap_or_default();
        let point = ev
            .place
            .as_deref()
            .and_then(|p| {
                let found = gaz.geoparse_with(p, &cc);
                best_place(&found)
                    .filter(|r| cc.is_empty() || cc.contains(&r.country.as_str()))
                    .map(|r| r.geo())
            })
            .or_else(|| country.map(|c| Geo::point(c.lat, c.lon)));
        let pad = Duration::days(1);
        truths.push(Truth {
            point,
            country: country.map(|c| c.country.clone()),
            diffused: ev.diffused,
            from: from.unwrap_or_default() - pad,
            to: to.unwrap_or_default() + pad,
            first_informative: first_inf,
            event_type: ev.event_type,
        });
    }

    // Replay. An alert is a key's run of detections; each detection is a state of the alert
    // (its place and type may be refined by updates).
    let mut stream = StreamDetector::new(opts.cluster.clone());
    let mut open: HashMap<String, (usize, DateTime<Utc>)> = HashMap::new();
    let mut alerts: Vec<Vec<AlertRec>> = Vec::new();
    let mut hours: HashSet<i64> = HashSet::new();
    let mut post_event: HashMap<Ulid, (usize, bool)> = HashMap::new();
    for p in &data.posts {
        hours.insert(p.time.timestamp().div_euclid(3600));
        let model = per_event.get(&p.event).unwrap_or(shipped);
        let class = model.classify_features(&features(&p.text, model.buckets()));
        let mut places = gaz.geoparse(&p.text);
        places.truncate(8);
        let evidence = post_ulid(p.id, p.time);
        post_event.insert(evidence, (p.event, p.label.related() == Some(true)));
        let post = Post {
            evidence: Some(evidence),
            time: p.time,
            text: p.text.clone(),
            signature: text_signature(&p.text),
            class,
            places,
            terms: terms(&p.text),
            official: None,
        };
        let Some(em) = stream.push(&post) else {
            continue;
        };
        let s = em.summary();
        let country = if s.country.is_empty() {
            gaz.nearest_city(s.geo.lat, s.geo.lon)
                .map(|c| c.country.clone())
                .unwrap_or_default()
        } else {
            s.country.clone()
        };
        let rec = AlertRec {
            key: s.key.clone(),
            place: s.place.clone(),
            sources: s.sources,
            time: s.time,
            geo: s.geo.clone(),
            country,
            event_type: s.event_type,
            evidence: s.evidence.clone(),
        };
        let idx = match open.get(&s.key) {
            Some((i, last)) if s.time - *last <= Duration::seconds(opts.dedup_window_secs) => *i,
            _ => {
                alerts.push(Vec::new());
                alerts.len() - 1
            }
        };
        open.insert(s.key.clone(), (idx, s.time));
        if let Some(a) = alerts.get_mut(idx) {
            a.push(rec);
        }
    }

    // Match alerts to events.
    let matches_event = |a: &AlertRec, i: usize| -> bool {
        let (Some(t), Some(ev)) = (truths.get(i), data.events.get(i)) else {
            return false;
        };
        if a.time < t.from || a.time > t.to {
            return false;
        }
        if ev.described() {
            if t.diffused
                && let Some(c) = &t.country
            {
                return &a.country == c;
            }
            return t
                .point
                .as_ref()
                .is_some_and(|p| p.distance_m(&a.geo) <= opts.match_km * 1000.0);
        }
        // No ground-truth place: the alert is about this event when most of its evidence is.
        let about = a
            .evidence
            .iter()
            .filter(|id| post_event.get(id).is_some_and(|(e, rel)| *e == i && *rel))
            .count();
        about * 2 > a.evidence.len().max(1)
    };
    // Per event, the earliest alert state that matches it.
    let mut first_match: HashMap<usize, &AlertRec> = HashMap::new();
    let mut false_alerts = 0usize;
    let mut log = Vec::new();
    for states in &alerts {
        let mut any = false;
        for st in states {
            let mut matched = Vec::new();
            for i in 0..data.events.len() {
                if matches_event(st, i) {
                    matched.push(
                        data.events
                            .get(i)
                            .map(|e| e.name.clone())
                            .unwrap_or_default(),
                    );
                    any = true;
                    let e = first_match.entry(i).or_insert(st);
                    if st.time < e.time {
                        *e = st;
                    }
                }
            }
            log.push(AlertLog {
                time: st.time,
                key: st.key.clone(),
                place: st.place.clone(),
                country: st.country.clone(),
                event_type: st.event_type.as_str().to_owned(),
                sources: st.sources,
                matched,
            });
        }
        if !any {
            false_alerts += 1;
        }
    }
    let described: Vec<usize> = (0..data.events.len())
        .filter(|i| data.events[*i].described())
        .collect();
    let mut found = Vec::new();
    let mut missed = Vec::new();
    let mut latencies = Vec::new();
    let mut geo_err = Vec::new();
    let mut typed_ok = 0usize;
    let mut details = Vec::new();
    for &i in &described {
        let name = data.events[i].name.clone();
        let Some(a) = first_match.get(&i).copied() else {
            missed.push(name);
            continue;
        };
        let Some(t) = truths.get(i) else { continue };
        let mut detail = EventResult {
            name: name.clone(),
            latency_s: None,
            geo_error_km: None,
            predicted_type: a.event_type.as_str().to_owned(),
            true_type: t
                .event_type
                .map(|x| x.as_str().to_owned())
                .unwrap_or_default(),
        };
        found.push(name);
        if let Some(f) = t.first_informative {
            let l = (a.time - f).num_milliseconds() as f64 / 1000.0;
            detail.latency_s = Some(l);
            latencies.push(l);
        }
        if let Some(p) = &t.point {
            let g = p.distance_m(&a.geo) / 1000.0;
            detail.geo_error_km = Some(g);
            geo_err.push(g);
        }
        if t.event_type == Some(a.event_type) {
            typed_ok += 1;
        }
        details.push(detail);
    }
    let n_found = found.len();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    EvalReport {
        events: described.len(),
        event_recall: ratio(n_found, described.len()),
        alert_precision: ratio(alerts.len() - false_alerts, alerts.len()),
        false_alerts_per_hour: ratio(false_alerts, hours.len()),
        latency_median_s: quantile(&mut latencies.clone(), 0.5),
        latency_p90_s: quantile(&mut latencies, 0.9),
        type_accuracy: (n_found > 0).then(|| ratio(typed_ok, n_found)),
        geo_error_median_km: quantile(&mut geo_err, 0.5),
        alerts: alerts.len(),
        false_alerts,
        active_hours: hours.len(),
        posts: data.posts.len(),
        found,
        missed,
        held_out: opts.hold_out,
        per_event: details,
        log,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&mut [0.0, 10.0], 0.9), Some(9.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }
}
