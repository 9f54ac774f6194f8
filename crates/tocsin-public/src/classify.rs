//! Event typing and informativeness: a linear model on hashed word and character n-grams.
//!
//! Two heads share the features: a softmax over [`EventType`] and a logistic informativeness
//! score. The model is trained by `tocsin signals train` from labelled posts (types come from each
//! event's description, never from its name) plus the seed lexicon in `data/seed_lexicon.tsv` for
//! the types the data lacks, and saved quantised to 8 bits (gzip) as `data/classifier.bin.gz`,
//! which ships with the build.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;
use std::sync::OnceLock;

use crate::feeds::fnv64;
use crate::text::segments;

const EMBEDDED_MODEL: &[u8] = include_bytes!("../data/classifier.bin.gz");
/// The seed lexicon: short example sentences per type, several languages, written for Tocsin.
pub const SEED_LEXICON: &str = include_str!("../data/seed_lexicon.tsv");
const MAGIC: &[u8; 8] = b"TCLSv1\0\0";
/// Hash space of the features; a power of two.
pub const DEFAULT_BUCKETS: u32 = 1 << 17;
const MAX_MODEL_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    Fire,
    Explosion,
    Shooting,
    Bombing,
    Unrest,
    SevereWeather,
    Flood,
    Earthquake,
    TransportAccident,
    Outage,
    Cyber,
    Other,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::Fire,
        EventType::Explosion,
        EventType::Shooting,
        EventType::Bombing,
        EventType::Unrest,
        EventType::SevereWeather,
        EventType::Flood,
        EventType::Earthquake,
        EventType::TransportAccident,
        EventType::Outage,
        EventType::Cyber,
        EventType::Other,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Fire => "fire",
            EventType::Explosion => "explosion",
            EventType::Shooting => "shooting",
            EventType::Bombing => "bombing",
            EventType::Unrest => "protest_unrest",
            EventType::SevereWeather => "severe_weather",
            EventType::Flood => "flood",
            EventType::Earthquake => "earthquake",
            EventType::TransportAccident => "transport_accident",
            EventType::Outage => "infrastructure_outage",
            EventType::Cyber => "cyber_attack",
            EventType::Other => "other",
        }
    }

    /// Words for headlines.
    pub fn label(self) -> &'static str {
        match self {
            EventType::Fire => "Fire",
            EventType::Explosion => "Explosion",
            EventType::Shooting => "Shooting",
            EventType::Bombing => "Bombing",
            EventType::Unrest => "Protest or unrest",
            EventType::SevereWeather => "Severe weather",
            EventType::Flood => "Flood",
            EventType::Earthquake => "Earthquake",
            EventType::TransportAccident => "Transport accident",
            EventType::Outage => "Infrastructure outage",
            EventType::Cyber => "Cyber attack or data breach",
            EventType::Other => "Incident",
        }
    }

    /// Maps a hazard or incident category as feeds and ground-truth descriptions name it
    /// ("Wildfire", "Floods", "Typhoon", "Derailment", "tropical_cyclone") to a type.
    pub fn from_hazard(name: &str) -> EventType {
        let n = name.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
        if has(&["earthquake", "seismic", "quake"]) {
            EventType::Earthquake
        } else if has(&["flood", "inundation", "tsunami", "storm surge"]) {
            EventType::Flood
        } else if has(&["fire", "wildfire", "bushfire", "red flag"]) {
            EventType::Fire
        } else if has(&["bomb", "ied", "terror"]) {
            EventType::Bombing
        } else if has(&["shoot", "gunman", "gunfire", "active shooter"]) {
            EventType::Shooting
        } else if has(&["explosion", "blast"]) {
            EventType::Explosion
        } else if has(&[
            "typhoon",
            "hurricane",
            "cyclone",
            "tornado",
            "storm",
            "blizzard",
            "wind",
            "hail",
            "thunder",
            "snow",
            "winter",
            "ice",
            "heat",
            "cold",
        ]) {
            EventType::SevereWeather
        } else if has(&[
            "crash",
            "derail",
            "collision",
            "accident",
            "shipwreck",
            "capsiz",
        ]) {
            EventType::TransportAccident
        } else if has(&["riot", "protest", "unrest", "demonstration", "civil"]) {
            EventType::Unrest
        } else if has(&["outage", "blackout", "power failure"]) {
            EventType::Outage
        } else if has(&["cyber", "breach", "ransomware", "hack"]) {
            EventType::Cyber
        } else {
            EventType::Other
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let alias = match t {
            "unrest" | "protest" => Some(EventType::Unrest),
            "outage" => Some(EventType::Outage),
            "cyber" => Some(EventType::Cyber),
            _ => None,
        };
        alias
            .or_else(|| EventType::ALL.into_iter().find(|x| x.as_str() == t))
            .ok_or_else(|| format!("unknown event type {s:?}"))
    }
}

/// What the classifier says about one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classification {
    pub event_type: EventType,
    /// Probability of `event_type`.
    pub type_probability: f64,
    /// Probability that the text reports something useful about an event.
    pub informative: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("model file: {0}")]
    Format(String),
}

/// Hashed features of a text: words, word pairs and character 4-grams of words.
pub fn features(text: &str, buckets: u32) -> Vec<u32> {
    let mask = u64::from(buckets.max(2).next_power_of_two() - 1);
    let mut out = Vec::with_capacity(64);
    let segs = segments(text);
    let words: Vec<&str> = segs
        .first()
        .map(|s| {
            s.iter()
                .map(|t| t.norm.as_str())
                .filter(|w| !w.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut push = |ns: u8, s: &str| {
        let mut h = fnv64(s.as_bytes());
        h ^= u64::from(ns).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        out.push(((h >> 20) & mask) as u32);
    };
    for (i, w) in words.iter().enumerate() {
        push(1, w);
        if let Some(next) = words.get(i + 1) {
            push(2, &format!("{w} {next}"));
        }
        let chars: Vec<char> = format!("<{w}>").chars().collect();
        if chars.len() > 5 {
            for win in chars.windows(4) {
                push(3, &win.iter().collect::<String>());
            }
        }
    }
    for seg in segs.iter().skip(1) {
        for t in seg {
            push(1, &t.norm);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The linear model. Weights are `[bucket][head]`, heads being the event types then
/// informativeness.
#[derive(Debug, Clone)]
pub struct Classifier {
    buckets: u32,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

const HEADS: usize = EventType::ALL.len() + 1;
const INFO: usize = EventType::ALL.len();

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Classifier {
    pub fn zeroed(buckets: u32) -> Self {
        let buckets = buckets.max(2).next_power_of_two();
        Self {
            buckets,
            weights: vec![0.0; buckets as usize * HEADS],
            bias: vec![0.0; HEADS],
        }
    }

    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    /// The model shipped with the build; when it is missing, one trained from the seed lexicon.
    pub fn embedded() -> &'static Classifier {
        static M: OnceLock<Classifier> = OnceLock::new();
        M.get_or_init(|| {
            Classifier::load(EMBEDDED_MODEL).unwrap_or_else(|_| {
                let mut set = TrainingSet::default();
                set.add_seed_lexicon(SEED_LEXICON, 1.0);
                train(
                    &set,
                    &TrainOptions {
                        epochs: 40,
                        ..TrainOptions::default()
                    },
                )
            })
        })
    }

    fn scores(&self, feats: &[u32]) -> [f64; HEADS] {
        let mut s = [0.0f64; HEADS];
        for (h, b) in s.iter_mut().zip(&self.bias) {
            *h = f64::from(*b);
        }
        for f in feats {
            let base = (*f as usize) * HEADS;
            if let Some(row) = self.weights.get(base..base + HEADS) {
                for (h, w) in s.iter_mut().zip(row) {
                    *h += f64::from(*w);
                }
            }
        }
        s
    }

    fn probabilities(&self, feats: &[u32]) -> ([f64; HEADS - 1], f64) {
        let s = self.scores(feats);
        let mut p = [0.0f64; HEADS - 1];
        let max = s[..INFO].iter().cloned().fold(f64::MIN, f64::max);
        let mut sum = 0.0;
        for (o, x) in p.iter_mut().zip(&s[..INFO]) {
            *o = (x - max).exp();
            sum += *o;
        }
        for o in p.iter_mut() {
            *o /= sum.max(f64::MIN_POSITIVE);
        }
        (p, sigmoid(s[INFO]))
    }

    pub fn classify(&self, text: &str) -> Classification {
        self.classify_features(&features(text, self.buckets))
    }

    pub fn classify_features(&self, feats: &[u32]) -> Classification {
        let (p, info) = self.probabilities(feats);
        let (i, best) = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, v)| (i, *v))
            .unwrap_or((INFO - 1, 1.0));
        Classification {
            event_type: EventType::ALL.get(i).copied().unwrap_or(EventType::Other),
            type_probability: best,
            informative: info,
        }
    }

    /// Saves the model quantised to 8 bits per weight (one scale per head), gzip'd.
    pub fn save(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.weights.len() + 256);
        raw.extend_from_slice(MAGIC);
        raw.extend_from_slice(&self.buckets.to_le_bytes());
        raw.extend_from_slice(&(HEADS as u32).to_le_bytes());
        let mut scales = [0f32; HEADS];
        for (h, sc) in scales.iter_mut().enumerate() {
            let max = self
                .weights
                .iter()
                .skip(h)
                .step_by(HEADS)
                .fold(0f32, |m, w| m.max(w.abs()));
            *sc = if max > 0.0 { max / 127.0 } else { 1.0 };
        }
        for s in &scales {
            raw.extend_from_slice(&s.to_le_bytes());
        }
        for b in &self.bias {
            raw.extend_from_slice(&b.to_le_bytes());
        }
        for (i, w) in self.weights.iter().enumerate() {
            let q = (w / scales[i % HEADS]).round().clamp(-127.0, 127.0) as i8;
            raw.push(q.to_le_bytes()[0]);
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&raw);
        enc.finish().unwrap_or_default()
    }

    pub fn load(bytes: &[u8]) -> Result<Self, ModelError> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_MODEL_BYTES)
            .read_to_end(&mut raw)
            .map_err(|e| ModelError::Format(e.to_string()))?;
        let err = |m: &str| ModelError::Format(m.to_owned());
        let rest = raw
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| err("bad magic"))?;
        let u32_at = |b: &[u8], at: usize| -> Result<u32, ModelError> {
            let s = b.get(at..at + 4).ok_or_else(|| err("truncated header"))?;
            Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        };
        let buckets = u32_at(rest, 0)?;
        let heads = u32_at(rest, 4)? as usize;
        if heads != HEADS || !buckets.is_power_of_two() || buckets > (1 << 24) {
            return Err(err("unexpected shape"));
        }
        let f32_at =
            |at: usize| -> Result<f32, ModelError> { Ok(f32::from_bits(u32_at(rest, at)?)) };
        let mut scales = [0f32; HEADS];
        let mut bias = vec![0f32; HEADS];
        for h in 0..HEADS {
            scales[h] = f32_at(8 + 4 * h)?;
            bias[h] = f32_at(8 + 4 * HEADS + 4 * h)?;
        }
        let start = 8 + 8 * HEADS;
        let q = rest
            .get(start..start + buckets as usize * HEADS)
            .ok_or_else(|| err("truncated weights"))?;
        let weights = q
            .iter()
            .enumerate()
            .map(|(i, b)| f32::from(i8::from_le_bytes([*b])) * scales[i % HEADS])
            .collect();
        Ok(Self {
            buckets,
            weights,
            bias,
        })
    }
}

/// One labelled text.
#[derive(Debug, Clone)]
pub struct Example {
    pub features: Vec<u32>,
    /// None: the text says nothing about the type (e.g. only informativeness is known).
    pub event_type: Option<EventType>,
    pub informative: Option<bool>,
    pub weight: f32,
    /// Which collection it comes from, for leave-one-out evaluation.
    pub group: u32,
}

#[derive(Debug, Clone, Default)]
pub struct TrainingSet {
    pub examples: Vec<Example>,
}

impl TrainingSet {
    pub fn add(
        &mut self,
        text: &str,
        event_type: Option<EventType>,
        informative: Option<bool>,
        weight: f32,
        group: u32,
    ) {
        self.examples.push(Example {
            features: features(text, DEFAULT_BUCKETS),
            event_type,
            informative,
            weight,
            group,
        });
    }

    /// Adds the `type<TAB>text` lines of a seed lexicon (group `u32::MAX`).
    pub fn add_seed_lexicon(&mut self, tsv: &str, weight: f32) {
        for line in tsv.lines() {
            let Some((ty, text)) = line.split_once('\t') else {
                continue;
            };
            if line.starts_with('#') {
                continue;
            }
            if let Ok(t) = ty.parse::<EventType>() {
                self.add(text, Some(t), Some(t != EventType::Other), weight, u32::MAX);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f64,
    pub l2: f64,
    pub buckets: u32,
    /// Leave out the examples of this group (for held-out evaluation).
    pub exclude_group: Option<u32>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            epochs: 6,
            learning_rate: 0.15,
            l2: 1e-6,
            buckets: DEFAULT_BUCKETS,
            exclude_group: None,
        }
    }
}

/// Trains both heads by stochastic gradient descent, classes balanced by weight, in a fixed
/// (deterministic) order.
pub fn train(set: &TrainingSet, opts: &TrainOptions) -> Classifier {
    let mut m = Classifier::zeroed(opts.buckets);
    let keep = |e: &&Example| Some(e.group) != opts.exclude_group;
    let mut counts: HashMap<EventType, f64> = HashMap::new();
    let (mut pos, mut neg) = (0.0f64, 0.0f64);
    for e in set.examples.iter().filter(keep) {
        if let Some(t) = e.event_type {
            *counts.entry(t).or_default() += f64::from(e.weight);
        }
        match e.informative {
            Some(true) => pos += f64::from(e.weight),
            Some(false) => neg += f64::from(e.weight),
            None => {}
        }
    }
    let total: f64 = counts.values().sum();
    let k = counts.len().max(1) as f64;
    let class_w: HashMap<EventType, f64> = counts
        .iter()
        .map(|(t, c)| (*t, (total / (k * c)).clamp(0.05, 20.0)))
        .collect();
    let info_w = |y: bool| {
        let t = pos + neg;
        let c = if y { pos } else { neg };
        if c > 0.0 {
            (t / (2.0 * c)).clamp(0.1, 10.0)
        } else {
            1.0
        }
    };
    let idx: Vec<usize> = set
        .examples
        .iter()
        .enumerate()
        .filter(|(_, e)| keep(e))
        .map(|(i, _)| i)
        .collect();
    let mask = m.buckets - 1;
    let n = idx.len();
    for epoch in 0..opts.epochs {
        let lr = opts.learning_rate / (1.0 + epoch as f64);
        // A fixed stride through the examples mixes collections without a random generator.
        let stride = if n > 1 {
            (n / 2 + 1..n).find(|s| gcd(*s, n) == 1).unwrap_or(1)
        } else {
            1
        };
        let mut at = epoch % n.max(1);
        for _ in 0..n {
            at = (at + stride) % n.max(1);
            let Some(e) = idx.get(at).and_then(|i| set.examples.get(*i)) else {
                continue;
            };
            let feats: Vec<u32> = e.features.iter().map(|f| f & mask).collect();
            let (p, pi) = m.probabilities(&feats);
            let mut grad = [0f64; HEADS];
            if let Some(t) = e.event_type {
                let w = f64::from(e.weight) * class_w.get(&t).copied().unwrap_or(1.0);
                for (i, g) in grad.iter_mut().take(INFO).enumerate() {
                    let y = if i == t.index() { 1.0 } else { 0.0 };
                    *g = (p[i] - y) * w;
                }
            }
            if let Some(y) = e.informative {
                grad[INFO] = (pi - if y { 1.0 } else { 0.0 }) * f64::from(e.weight) * info_w(y);
            }
            // Features are scaled so long texts do not take bigger steps.
            let scale = lr / (feats.len() as f64).sqrt().max(1.0);
            for f in &feats {
                let base = *f as usize * HEADS;
                if let Some(row) = m.weights.get_mut(base..base + HEADS) {
                    for (w, g) in row.iter_mut().zip(grad) {
                        *w -= (scale * g + opts.l2 * f64::from(*w)) as f32;
                    }
                }
            }
            for (b, g) in m.bias.iter_mut().zip(grad) {
                *b -= (lr * 0.1 * g) as f32;
            }
        }
    }
    m
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazard_names_map_to_types() {
        assert_eq!(EventType::from_hazard("Wildfire"), EventType::Fire);
        assert_eq!(EventType::from_hazard("Floods"), EventType::Flood);
        assert_eq!(EventType::from_hazard("Typhoon"), EventType::SevereWeather);
        assert_eq!(
            EventType::from_hazard("Derailment"),
            EventType::TransportAccident
        );
        assert_eq!(EventType::from_hazard("Bombings"), EventType::Bombing);
        assert_eq!(EventType::from_hazard("Collapse"), EventType::Other);
    }

    #[test]
    fn a_model_trained_on_the_seed_lexicon_types_unseen_sentences() {
        let mut set = TrainingSet::default();
        set.add_seed_lexicon(SEED_LEXICON, 1.0);
        let m = train(
            &set,
            &TrainOptions {
                epochs: 40,
                ..TrainOptions::default()
            },
        );
        assert_eq!(
            m.classify("gunman opens fire at shopping mall, several people shot")
                .event_type,
            EventType::Shooting
        );
        assert_eq!(
            m.classify("ransomware attack takes hospital systems offline, patient data stolen")
                .event_type,
            EventType::Cyber
        );
        assert_eq!(
            m.classify("thousands of protesters clash with riot police downtown")
                .event_type,
            EventType::Unrest
        );
    }

    #[test]
    fn quantised_save_and_load_keep_the_decisions() {
        let mut set = TrainingSet::default();
        set.add_seed_lexicon(SEED_LEXICON, 1.0);
        let m = train(
            &set,
            &TrainOptions {
                buckets: 1 << 12,
                epochs: 40,
                ..TrainOptions::default()
            },
        );
        let back = Classifier::load(&m.save()).unwrap();
        for text in [
            "huge explosion at the chemical plant",
            "river burst its banks, streets under water",
            "nice weather for a picnic",
        ] {
            let a = m.classify(text);
            let b = back.classify(text);
            assert_eq!(a.event_type, b.event_type, "{text}");
            assert!((a.informative - b.informative).abs() < 0.05);
        }
        assert!(Classifier::load(b"not a model").is_err());
    }
}
