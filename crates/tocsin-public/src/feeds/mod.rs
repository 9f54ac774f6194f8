//! Pure parsers for public feeds. Each turns one fetched document into events of the `public`
//! domain, one per item, each with a stable dedup key so that an item seen again on the next poll is
//! recognised ([`SeenSet`]).
//!
//! Parsers never panic and bound what they read: the document size ([`FeedOptions::max_bytes`]),
//! the number of items, the XML depth and element count, and every string (cut to the model's
//! string limit). An item that cannot become an event is reported in [`ParsedFeed::skipped`] with
//! its reason; the rest of the document still yields its items.

mod cap;
mod json;
mod rss;
pub(crate) mod xml;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use tocsin_model::{Domain, Event, Geo, Limits, Severity};
use ulid::Ulid;

pub use json::social_post_from_value;

/// The hazard a GDACS event-type code names (`EQ` → `earthquake`).
pub(crate) fn gdacs_hazard_name(code: &str) -> &'static str {
    rss::gdacs_hazard(code)
}

/// The formats a feed document can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedKind {
    /// RSS 2.0 or Atom news (also handles Atom indexes of CAP and GDACS when detected).
    Rss,
    /// One OASIS CAP 1.2 alert, or an Atom index whose entries carry CAP.
    Cap,
    /// USGS earthquake GeoJSON summary feed.
    UsgsGeoJson,
    /// GDACS RSS with `gdacs:` and `geo:` extensions.
    Gdacs,
    /// CISA Known Exploited Vulnerabilities catalog.
    Kev,
    /// NVD CVE API / feed JSON 2.0.
    Nvd,
    /// Social posts: a JSON object, a JSON array or NDJSON of `{id, time, author, text, ...}`.
    Social,
}

impl FeedKind {
    pub const ALL: [FeedKind; 7] = [
        FeedKind::Rss,
        FeedKind::Cap,
        FeedKind::UsgsGeoJson,
        FeedKind::Gdacs,
        FeedKind::Kev,
        FeedKind::Nvd,
        FeedKind::Social,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Rss => "rss",
            FeedKind::Cap => "cap",
            FeedKind::UsgsGeoJson => "usgs",
            FeedKind::Gdacs => "gdacs",
            FeedKind::Kev => "kev",
            FeedKind::Nvd => "nvd",
            FeedKind::Social => "social",
        }
    }
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FeedKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        FeedKind::ALL
            .into_iter()
            .find(|k| k.as_str() == t || (t == "atom" && *k == FeedKind::Rss))
            .ok_or_else(|| {
                format!(
                    "unknown feed kind {s:?}: expected rss, cap, usgs, gdacs, kev, nvd or social"
                )
            })
    }
}

/// Why a whole document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("document is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("document is empty")]
    Empty,
    #[error("xml at byte {offset}: {reason}")]
    Xml { offset: u64, reason: String },
    #[error("xml is nested too deeply or has too many elements")]
    TooComplex,
    #[error("invalid json: {0}")]
    Json(String),
    #[error("not a {expected} document: {reason}")]
    WrongFormat {
        expected: &'static str,
        reason: String,
    },
}

/// Why one item was skipped; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// Position of the item in the document (0-based).
    pub index: usize,
    pub reason: String,
}

/// What the reading source knows.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// Configured source name recorded on the events.
    pub source: String,
    pub tenant: String,
    /// Receive time.
    pub ingested: DateTime<Utc>,
    pub limits: Limits,
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
    /// Most items read from one document; the rest are reported as skipped.
    pub max_items: usize,
}

impl FeedOptions {
    pub fn new(source: &str, ingested: DateTime<Utc>) -> Self {
        Self {
            source: source.to_owned(),
            tenant: tocsin_model::DEFAULT_TENANT.to_owned(),
            ingested,
            limits: Limits::default(),
            max_bytes: 16 * 1024 * 1024,
            max_items: 20_000,
        }
    }
}

/// One item of a feed as an event, with the keys that recognise it on the next poll.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    /// Stable across polls: the same item always has the same key (`usgs:us7000abcd`).
    pub dedup_key: String,
    /// Changes when the publisher updates the item (e.g. its `updated` time); empty when unknown.
    pub version: String,
    pub event: Event,
}

/// A parsed document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub items: Vec<FeedItem>,
    pub skipped: Vec<ItemError>,
}

/// Parses one document of a known kind.
pub fn parse_feed(
    kind: FeedKind,
    bytes: &[u8],
    opts: &FeedOptions,
) -> Result<ParsedFeed, FeedError> {
    if bytes.len() > opts.max_bytes {
        return Err(FeedError::TooLarge {
            size: bytes.len(),
            limit: opts.max_bytes,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FeedError::Empty);
    }
    match kind {
        FeedKind::Rss | FeedKind::Gdacs | FeedKind::Cap => {
            let root = xml::parse(bytes)?;
            rss::parse_xml(kind, &root, opts)
        }
        FeedKind::UsgsGeoJson => json::parse_usgs(bytes, opts),
        FeedKind::Kev => json::parse_kev(bytes, opts),
        FeedKind::Nvd => json::parse_nvd(bytes, opts),
        FeedKind::Social => json::parse_social(bytes, opts),
    }
}

/// Guesses the kind of a document from its first bytes (for files read without a configured kind).
pub fn sniff(bytes: &[u8]) -> Option<FeedKind> {
    let head = String::from_utf8_lossy(bytes.get(..bytes.len().min(4096)).unwrap_or(bytes));
    let t = head.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('<') {
        if head.contains("urn:oasis:names:tc:emergency:cap") && !head.contains("<feed") {
            return Some(FeedKind::Cap);
        }
        if head.contains("www.gdacs.org") {
            return Some(FeedKind::Gdacs);
        }
        if head.contains("urn:oasis:names:tc:emergency:cap") {
            return Some(FeedKind::Cap);
        }
        return Some(FeedKind::Rss);
    }
    if head.contains("\"FeatureCollection\"") && head.contains("\"mag\"") {
        return Some(FeedKind::UsgsGeoJson);
    }
    if head.contains("Known Exploited Vulnerabilities") || head.contains("\"cveID\"") {
        return Some(FeedKind::Kev);
    }
    if head.contains("\"NVD_CVE\"") || head.contains("\"vulnerabilities\"") {
        return Some(FeedKind::Nvd);
    }
    if t.starts_with('{') || t.starts_with('[') {
        return Some(FeedKind::Social);
    }
    None
}

/// Remembers which items were already seen, so repeated polls yield only new or updated items.
/// Bounded: the oldest keys are forgotten first.
#[derive(Debug, Clone)]
pub struct SeenSet {
    cap: usize,
    versions: HashMap<String, String>,
    order: VecDeque<String>,
}

/// What [`SeenSet::observe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Novelty {
    New,
    Updated,
    Seen,
}

impl SeenSet {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            versions: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.versions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    pub fn observe(&mut self, key: &str, version: &str) -> Novelty {
        if let Some(v) = self.versions.get_mut(key) {
            if v == version {
                return Novelty::Seen;
            }
            version.clone_into(v);
            return Novelty::Updated;
        }
        while self.versions.len() >= self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.versions.remove(&old);
                }
                None => break,
            }
        }
        self.versions.insert(key.to_owned(), version.to_owned());
        self.order.push_back(key.to_owned());
        Novelty::New
    }

    /// Keeps only the items not seen before, or seen with another version.
    pub fn filter(&mut self, feed: ParsedFeed) -> Vec<FeedItem> {
        feed.items
            .into_iter()
            .filter(|i| self.observe(&i.dedup_key, &i.version) != Novelty::Seen)
            .collect()
    }
}

// ---------- helpers shared by the parsers ----------

/// FNV-1a, 64 bits: stable across builds and platforms (ids and hashing must not change).
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An id that is the same for the same item on every poll, ordered by the item's time.
pub(crate) fn stable_id(time: DateTime<Utc>, key: &str) -> Ulid {
    let ms = u64::try_from(time.timestamp_millis()).unwrap_or(0);
    let hi = fnv64(key.as_bytes());
    let lo = fnv64(&[key.as_bytes(), b"#"].concat());
    Ulid::from_parts(
        ms,
        (u128::from(hi) << 64 | u128::from(lo)) & ((1u128 << 80) - 1),
    )
}

pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("").to_owned()
}

/// Removes markup from HTML-ish descriptions and collapses whitespace.
pub(crate) fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses the time formats feeds use: RFC 3339, RFC 2822, naive ISO (UTC), a date, epoch s/ms.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(t) {
        return Some(d.with_timezone(&Utc));
    }
    // RFC 822 zones that RFC 2822 parsing refuses ("UTC", "Z").
    for zone in [" UTC", " Z", " UT"] {
        if let Some(base) = t.strip_suffix(zone)
            && let Ok(d) = DateTime::parse_from_rfc2822(&format!("{base} +0000"))
        {
            return Some(d.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(n.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
    }
    if let Ok(n) = t.parse::<i64>() {
        return epoch(n);
    }
    None
}

/// Seconds or milliseconds since the epoch (milliseconds when the number is that large).
pub(crate) fn epoch(n: i64) -> Option<DateTime<Utc>> {
    if n.abs() >= 100_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
}

pub(crate) fn valid_point(lat: f64, lon: f64) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
}

pub(crate) fn point(lat: f64, lon: f64, radius_m: Option<f64>) -> Option<Geo> {
    valid_point(lat, lon).then(|| Geo {
        lat,
        lon,
        radius_m: radius_m.filter(|r| r.is_finite() && *r >= 0.0),
        polygon: None,
    })
}

/// A polygon as `[lon, lat]` pairs, with its centroid and the radius that covers it.
pub(crate) fn polygon_geo(points: Vec<[f64; 2]>, max_points: usize) -> Option<Geo> {
    let points: Vec<[f64; 2]> = points
        .into_iter()
        .filter(|[lon, lat]| valid_point(*lat, *lon))
        .take(max_points)
        .collect();
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let lat = points.iter().map(|p| p[1]).sum::<f64>() / n;
    let lon = points.iter().map(|p| p[0]).sum::<f64>() / n;
    let c = Geo::point(lat, lon);
    let r = points
        .iter()
        .map(|p| c.distance_m(&Geo::point(p[1], p[0])))
        .fold(0.0, f64::max);
    Some(Geo {
        lat,
        lon,
        radius_m: Some(r),
        polygon: Some(points),
    })
}

/// What every public event starts from.
pub(crate) struct Draft {
    pub class: &'static str,
    pub activity: Option<String>,
    pub time: DateTime<Utc>,
    pub severity: Severity,
    pub confidence: Option<u8>,
    pub message: Option<String>,
    pub url: Option<String>,
    pub place: Option<String>,
    pub geo: Option<Geo>,
    pub person: Option<String>,
    pub fields: Map<String, Value>,
}

impl Draft {
    pub fn new(class: &'static str, time: DateTime<Utc>) -> Self {
        Self {
            class,
            activity: None,
            time,
            severity: Severity::INFORMATIONAL,
            confidence: None,
            message: None,
            url: None,
            place: None,
            geo: None,
            person: None,
            fields: Map::new(),
        }
    }

    pub fn field(&mut self, k: &str, v: impl Into<Value>) {
        self.fields.insert(k.to_owned(), v.into());
    }

    pub fn finish(
        mut self,
        kind: FeedKind,
        key: String,
        version: String,
        opts: &FeedOptions,
    ) -> FeedItem {
        let max = opts.limits.max_string_bytes;
        let s = |v: Option<String>| v.map(|x| cut(x.trim(), max)).filter(|x| !x.is_empty());
        self.fields
            .insert("feed".into(), Value::from(kind.as_str()));
        self.fields
            .insert("dedup_key".into(), Value::from(key.clone()));
        for v in self.fields.values_mut() {
            if let Value::String(x) = v
                && x.len() > max
            {
                *x = cut(x, max);
            }
        }
        let geo = self
            .geo
            .filter(|g| g.validate(opts.limits.max_polygon_points).is_ok());
        let event = Event {
            id: stable_id(self.time, &key),
            tenant: opts.tenant.clone(),
            source: opts.source.clone(),
            domain: Domain::Public,
            time: self.time,
            observed: None,
            ingested: opts.ingested,
            class: self.class.to_owned(),
            activity: s(self.activity),
            severity: self.severity,
            confidence: self.confidence.map(|c| c.min(100)),
            derivation: None,
            person: s(self.person),
            user: None,
            badge: None,
            host: None,
            ip: None,
            src_ip: None,
            dst_ip: None,
            asset: None,
            site: None,
            zone: None,
            portal: None,
            person_id: None,
            asset_id: None,
            site_id: None,
            zone_id: None,
            geo,
            place: s(self.place),
            url: s(self.url),
            message: s(self.message),
            fields: self.fields,
        };
        FeedItem {
            dedup_key: cut(&key, 512),
            version,
            event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_feed_formats_parse() {
        let want: DateTime<Utc> = "2019-12-29T12:00:00Z".parse().unwrap();
        for s in [
            "Sun, 29 Dec 2019 12:00:00 GMT",
            "Sun, 29 Dec 2019 12:00:00 UTC",
            "2019-12-29T12:00:00Z",
            "2019-12-29T13:00:00+01:00",
            "2019-12-29T12:00:00.000",
            "1577620800",
            "1577620800000",
        ] {
            assert_eq!(parse_time(s), Some(want), "{s}");
        }
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn seen_set_reports_new_updated_and_seen_and_stays_bounded() {
        let mut s = SeenSet::new(2);
        assert_eq!(s.observe("a", "1"), Novelty::New);
        assert_eq!(s.observe("a", "1"), Novelty::Seen);
        assert_eq!(s.observe("a", "2"), Novelty::Updated);
        s.observe("b", "");
        s.observe("c", "");
        assert_eq!(s.len(), 2);
        assert_eq!(s.observe("a", "2"), Novelty::New, "oldest key forgotten");
    }

    #[test]
    fn stable_ids_repeat_for_the_same_item() {
        let t: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(stable_id(t, "x"), stable_id(t, "x"));
        assert_ne!(stable_id(t, "x"), stable_id(t, "y"));
    }
}
