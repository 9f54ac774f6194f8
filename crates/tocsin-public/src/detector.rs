//! [`PublicSignalDetector`]: the public-signals pipeline behind the [`Detector`] trait.
//!
//! Public events (`domain = public`) come in as they are ingested: posts and news
//! (`public_report`) are geoparsed and classified, hazard warnings (`hazard_warning`) confirm or
//! seed events, vulnerabilities are matched against the watch list. A detected event raises a
//! detection only when it is relevant: inside a site's geofence, within `alert_distance_m` of a
//! site or a traveller, or matching a watch item (or always, with `alert_unmatched`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tocsin_detect::{Detection, Detector, DetectorStats};
use tocsin_model::{Domain, Event, Geo, Severity};

use crate::classify::{Classification, Classifier, EventType};
use crate::cluster::{Analyser, ClusterConfig, Emission, EventSummary, Official, StreamDetector};
use crate::gazetteer::Gazetteer;
use crate::text::fold;

/// A site as the detector needs it (the server maps the organisation's sites to these).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRef {
    pub id: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    /// Geofence radius.
    pub radius_m: f64,
}

/// A person away from their site, where they are now.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravellerRef {
    pub id: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WatchKind {
    Topic,
    Place,
    Company,
    #[default]
    Keyword,
}

/// A watch-list entry: any of its terms found in the evidence (case and accent insensitive, whole
/// words) matches. For vulnerabilities the terms are matched against vendor, product, CVE and CPE.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchItem {
    pub id: String,
    #[serde(default)]
    pub kind: WatchKind,
    pub terms: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicSignalConfig {
    pub sites: Vec<SiteRef>,
    pub travellers: Vec<TravellerRef>,
    pub watch: Vec<WatchItem>,
    /// Events this close to a site or traveller (edge of the event's radius) alert.
    pub alert_distance_m: f64,
    /// Alert on every detected event, relevant or not (for a global watch desk and evaluation).
    pub alert_unmatched: bool,
    /// Repeats of the same event within this window fold into one alert.
    pub dedup_window_secs: u64,
    pub min_sources: usize,
    pub window_secs: i64,
    pub max_clusters: usize,
}

impl Default for PublicSignalConfig {
    fn default() -> Self {
        let c = ClusterConfig::default();
        Self {
            sites: Vec::new(),
            travellers: Vec::new(),
            watch: Vec::new(),
            alert_distance_m: 25_000.0,
            alert_unmatched: false,
            dedup_window_secs: 24 * 3600,
            min_sources: c.min_sources,
            window_secs: c.window_secs,
            max_clusters: c.max_clusters,
        }
    }
}

impl PublicSignalConfig {
    pub fn cluster_config(&self) -> ClusterConfig {
        ClusterConfig {
            min_sources: self.min_sources.max(1),
            window_secs: self.window_secs.max(60),
            max_clusters: self.max_clusters.max(16),
            ..ClusterConfig::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    /// From the event's estimated point; zero for watch items.
    pub distance_m: f64,
}

/// Why an event is relevant to us.
pub fn relevance(cfg: &PublicSignalConfig, geo: &Geo, texts: &[&str]) -> Vec<Match> {
    let mut out = Vec::new();
    let r = geo.radius_m.unwrap_or(0.0);
    for s in &cfg.sites {
        let d = geo.distance_m(&Geo::point(s.lat, s.lon));
        if d <= s.radius_m + r || d - r <= cfg.alert_distance_m {
            out.push(Match {
                kind: "site",
                id: s.id.clone(),
                name: s.name.clone(),
                distance_m: d,
            });
        }
    }
    for t in &cfg.travellers {
        let d = geo.distance_m(&Geo::point(t.lat, t.lon));
        if d - r <= cfg.alert_distance_m {
            out.push(Match {
                kind: "traveller",
                id: t.id.clone(),
                name: t.name.clone(),
                distance_m: d,
            });
        }
    }
    out.extend(watch_matches(&cfg.watch, texts));
    out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    out
}

fn contains_words(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay.get(..i).and_then(|s| s.chars().next_back());
        let after = hay.get(i + needle.len()..).and_then(|s| s.chars().next());
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn watch_matches(watch: &[WatchItem], texts: &[&str]) -> Vec<Match> {
    let folded: Vec<String> = texts.iter().map(|t| fold(t)).collect();
    watch
        .iter()
        .filter_map(|w| {
            let term = w
                .terms
                .iter()
                .find(|term| folded.iter().any(|t| contains_words(t, &fold(term.trim()))))?;
            Some(Match {
                kind: match w.kind {
                    WatchKind::Topic => "watch_topic",
                    WatchKind::Place => "watch_place",
                    WatchKind::Company => "watch_company",
                    WatchKind::Keyword => "watch_keyword",
                },
                id: w.id.clone(),
                name: term.clone(),
                distance_m: 0.0,
            })
        })
        .collect()
}

/// The detector. Holds the stream state; the gazetteer and model are shared and read-only.
#[derive(Debug)]
pub struct PublicSignalDetector {
    cfg: PublicSignalConfig,
    gazetteer: &'static Gazetteer,
    classifier: &'static Classifier,
    stream: StreamDetector,
    /// Event keys already alerted, with the time of the latest detection (bounded by the clusters).
    alerted: std::collections::HashMap<String, DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectorError {
    #[error("gazetteer: {0}")]
    Gazetteer(String),
    #[error("config: {0}")]
    Config(String),
}

impl PublicSignalDetector {
    /// Uses the gazetteer and model shipped with the build.
    pub fn new(cfg: PublicSignalConfig) -> Result<Self, DetectorError> {
        let gazetteer =
            Gazetteer::embedded().map_err(|e| DetectorError::Gazetteer(e.to_string()))?;
        Self::with_parts(cfg, gazetteer, Classifier::embedded())
    }

    pub fn with_parts(
        cfg: PublicSignalConfig,
        gazetteer: &'static Gazetteer,
        classifier: &'static Classifier,
    ) -> Result<Self, DetectorError> {
        for s in &cfg.sites {
            if !(crate::feeds::valid_point(s.lat, s.lon)
                && s.radius_m.is_finite()
                && s.radius_m >= 0.0)
            {
                return Err(DetectorError::Config(format!(
                    "site {:?}: coordinates or radius out of range",
                    s.id
                )));
            }
        }
        for t in &cfg.travellers {
            if !crate::feeds::valid_point(t.lat, t.lon) {
                return Err(DetectorError::Config(format!(
                    "traveller {:?}: coordinates out of range",
                    t.id
                )));
            }
        }
        let stream = StreamDetector::new(cfg.cluster_config());
        Ok(Self {
            cfg,
            gazetteer,
            classifier,
            stream,
            alerted: Default::default(),
        })
    }

    pub fn config(&self) -> &PublicSignalConfig {
        &self.cfg
    }

    /// Replaces sites, travellers and watch list (e.g. after an organisation reload); the stream
    /// state is kept.
    pub fn set_targets(
        &mut self,
        sites: Vec<SiteRef>,
        travellers: Vec<TravellerRef>,
        watch: Vec<WatchItem>,
    ) {
        self.cfg.sites = sites;
        self.cfg.travellers = travellers;
        self.cfg.watch = watch;
    }

    fn analyser(&self) -> Analyser<'static> {
        Analyser {
            gazetteer: self.gazetteer,
            classifier: self.classifier,
        }
    }

    fn official_of(e: &Event) -> Option<(Official, EventType)> {
        let geo = e.geo.clone()?;
        let hazard = [
            e.activity.as_deref(),
            e.fields.get("event").and_then(Value::as_str),
            e.fields
                .get("gdacs_event_type")
                .and_then(Value::as_str)
                .map(crate::feeds::gdacs_hazard_name),
        ]
        .into_iter()
        .flatten()
        .map(EventType::from_hazard)
        .find(|t| *t != EventType::Other)?;
        let actual = !e
            .fields
            .get("exercise")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Some((
            Official {
                geo,
                severity: e.severity,
                actual,
                place: e.place.clone(),
            },
            hazard,
        ))
    }

    fn vulnerability(&mut self, e: &Event, out: &mut Vec<Detection>) {
        let get = |k: &str| {
            e.fields
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let mut texts = vec![get("vendor"), get("product"), get("cve")];
        if let Some(Value::Array(cpes)) = e.fields.get("cpes") {
            texts.extend(
                cpes.iter()
                    .filter_map(Value::as_str)
                    .map(|c| c.replace([':', '_'], " ")),
            );
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let matches = watch_matches(&self.cfg.watch, &refs);
        if matches.is_empty() {
            return;
        }
        let cve = get("cve");
        let mut entities = Map::new();
        entities.insert("cve".into(), Value::from(cve.clone()));
        entities.insert("vendor".into(), Value::from(get("vendor")));
        entities.insert("product".into(), Value::from(get("product")));
        entities.insert("matches".into(), matches_json(&matches));
        out.push(Detection {
            detector: "public_signal",
            rule: Some("vulnerability_watch".into()),
            domain: Domain::Public,
            severity: e.severity,
            title: format!(
                "{cve} affects watched {}",
                matches
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            summary: e.message.clone().unwrap_or_default(),
            dedup_key: format!("public_signal:vuln:{cve}"),
            dedup_window_secs: self.cfg.dedup_window_secs.max(7 * 24 * 3600),
            time: e.time,
            ingested: e.ingested,
            evidence: vec![e.id],
            entities,
            geo: None,
            site_id: None,
            tenant: e.tenant.clone(),
        });
    }

    fn detection(&mut self, em: &Emission, e: &Event, out: &mut Vec<Detection>) {
        let s = em.summary();
        let mut texts: Vec<&str> = s.snippets.iter().map(String::as_str).collect();
        texts.push(&s.place);
        let matches = relevance(&self.cfg, &s.geo, &texts);
        if matches.is_empty() && !self.cfg.alert_unmatched {
            return;
        }
        let first = !self.alerted.contains_key(&s.key);
        let cap = 4 * self.cfg.max_clusters.max(16);
        if self.alerted.len() >= cap {
            // The alert stage folds repeats within its window; this map only marks updates.
            let horizon = e.time - chrono::Duration::seconds(self.cfg.dedup_window_secs as i64);
            self.alerted.retain(|_, t| *t >= horizon);
            if self.alerted.len() >= cap {
                let mut times: Vec<DateTime<Utc>> = self.alerted.values().copied().collect();
                times.sort_unstable();
                if let Some(mid) = times.get(times.len() / 2).copied() {
                    self.alerted.retain(|_, t| *t > mid);
                }
            }
        }
        self.alerted.insert(s.key.clone(), e.time);
        out.push(to_detection(s, &matches, &self.cfg, e, first));
    }
}

fn matches_json(m: &[Match]) -> Value {
    Value::Array(
        m.iter()
            .map(|m| json!({ "kind": m.kind, "id": m.id, "name": m.name, "distance_m": m.distance_m.round() }))
            .collect(),
    )
}

/// The detection for one emitted event.
pub fn to_detection(
    s: &EventSummary,
    matches: &[Match],
    cfg: &PublicSignalConfig,
    e: &Event,
    first: bool,
) -> Detection {
    let site = matches.iter().find(|m| m.kind == "site");
    let mut entities = Map::new();
    entities.insert("event_type".into(), Value::from(s.event_type.as_str()));
    entities.insert("place".into(), Value::from(s.place.clone()));
    entities.insert("country".into(), Value::from(s.country.clone()));
    entities.insert(
        "radius_m".into(),
        Value::from(s.geo.radius_m.unwrap_or(0.0).round()),
    );
    entities.insert("posts".into(), Value::from(s.posts));
    entities.insert("sources".into(), Value::from(s.sources));
    entities.insert("official".into(), Value::from(s.official));
    entities.insert("first_seen".into(), Value::from(s.first_seen.to_rfc3339()));
    entities.insert(
        "type_probability".into(),
        json!((s.type_probability * 100.0).round() / 100.0),
    );
    entities.insert(
        "place_probability".into(),
        json!((s.place_probability * 100.0).round() / 100.0),
    );
    entities.insert("matches".into(), matches_json(matches));
    entities.insert("evidence_texts".into(), Value::from(s.snippets.clone()));
    entities.insert("update".into(), Value::from(!first));
    let near = match site {
        Some(m) => format!(" — {:.1} km from {}", m.distance_m / 1000.0, m.name),
        None => String::new(),
    };
    let mut summary = format!(
        "{} around {} (±{:.0} km), from {} posts by {} independent sources{}.",
        s.event_type.label(),
        if s.place.is_empty() {
            "an unknown place"
        } else {
            s.place.as_str()
        },
        s.geo.radius_m.unwrap_or(0.0) / 1000.0,
        s.posts,
        s.sources,
        if s.official {
            ", confirmed by an official feed"
        } else {
            ""
        }
    );
    for m in matches.iter().filter(|m| m.kind != "site").take(5) {
        summary.push_str(&format!(
            " Matches {} {} ({:.1} km).",
            m.kind,
            m.name,
            m.distance_m / 1000.0
        ));
    }
    if let Some(first) = s.snippets.first() {
        summary.push_str(&format!(" Report: \"{first}\""));
    }
    let severity = if site.is_some_and(|m| m.distance_m <= 5_000.0) {
        s.severity.max(Severity::HIGH)
    } else {
        s.severity
    };
    Detection {
        detector: "public_signal",
        rule: Some(s.event_type.as_str().to_owned()),
        domain: Domain::Public,
        severity,
        title: format!("{}{near}", s.headline),
        summary,
        dedup_key: format!("public_signal:{}", s.key),
        dedup_window_secs: cfg.dedup_window_secs,
        time: s.time,
        ingested: e.ingested,
        evidence: s.evidence.clone(),
        entities,
        geo: Some(s.geo.clone()),
        site_id: site.map(|m| m.id.clone()),
        tenant: e.tenant.clone(),
    }
}

impl Detector for PublicSignalDetector {
    fn id(&self) -> &'static str {
        "public_signal"
    }

    fn on_event(&mut self, e: &Event, out: &mut Vec<Detection>) {
        if e.domain != Domain::Public {
            return;
        }
        let text = e.message.clone().unwrap_or_default();
        let post = match e.class.as_str() {
            "vulnerability" => return self.vulnerability(e, out),
            "hazard_warning" => {
                let Some((official, ty)) = Self::official_of(e) else {
                    return;
                };
                let mut p = self.analyser().analyse(
                    Some(e.id),
                    e.time,
                    &format!("{text} {}", e.place.as_deref().unwrap_or("")),
                    Some(official),
                );
                p.class = Classification {
                    event_type: ty,
                    type_probability: 1.0,
                    informative: 1.0,
                };
                p
            }
            _ => {
                if text.trim().is_empty() {
                    return;
                }
                let mut p = self.analyser().analyse(Some(e.id), e.time, &text, None);
                if let Some(g) = &e.geo
                    && let Some(city) = self
                        .gazetteer
                        .nearest_city(g.lat, g.lon)
                        .filter(|_| p.places.is_empty())
                {
                    // A geotagged post without a place name: use the place it was sent from.
                    p.places = self.gazetteer.geoparse_with(&city.name, &[&city.country]);
                }
                p
            }
        };
        if let Some(em) = self.stream.push(&post) {
            self.detection(&em, e, out);
        }
    }

    fn stats(&self) -> DetectorStats {
        let s = self.stream.stats();
        DetectorStats {
            open_groups: s.open_clusters,
            evicted: s.evicted,
            late: 0,
        }
    }
}
