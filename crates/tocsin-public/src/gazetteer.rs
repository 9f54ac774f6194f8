//! Offline gazetteer and geoparser.
//!
//! The gazetteer ships with the build (`data/gazetteer.tsv.gz`, 1.5 MB, made by
//! `tools/build_gazetteer.py` from GeoNames data, CC BY 4.0, https://www.geonames.org/): about
//! 34,000 places of 15,000 people or more, 250 countries and 2,500 first-level regions, with
//! multilingual aliases, population, country and region.
//!
//! The geoparser finds place names in a text (longest n-gram first, hashtags split at CamelCase),
//! keeps single common-word matches only when written as names, and resolves homonyms with a
//! population prior, boosted when the text also names the place's country or region. Each result
//! has a probability and a radius that grows with the size of the place and with the ambiguity.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::OnceLock;

use tocsin_model::Geo;

use crate::text::{Token, segments};

const EMBEDDED: &[u8] = include_bytes!("../data/gazetteer.tsv.gz");
/// Largest decompressed gazetteer accepted.
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;
/// Longest place name looked for, in words.
const MAX_NGRAM: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlaceKind {
    Country,
    Region,
    City,
}

impl PlaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::Country => "country",
            PlaceKind::Region => "region",
            PlaceKind::City => "city",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub name: String,
    pub kind: PlaceKind,
    pub lat: f64,
    pub lon: f64,
    pub population: u64,
    /// ISO 3166 alpha-2.
    pub country: String,
    /// GeoNames first-level region code, empty when unknown.
    pub admin1: String,
    /// Radius that holds the place, in km (a city's built-up area, a region's or country's extent).
    pub extent_km: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GazetteerError {
    #[error("gazetteer is not gzip or too large: {0}")]
    Unpack(String),
    #[error("gazetteer line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// A place found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Index of the place in the gazetteer.
    pub place: u32,
    pub name: String,
    pub kind: PlaceKind,
    pub country: String,
    /// The words as they appear in the text (folded).
    pub surface: String,
    /// How likely this is the place meant, 0–1.
    pub probability: f64,
    pub lat: f64,
    pub lon: f64,
    /// Radius within which the event most likely is, in metres.
    pub radius_m: f64,
}

impl Resolved {
    pub fn geo(&self) -> Geo {
        Geo {
            lat: self.lat,
            lon: self.lon,
            radius_m: Some(self.radius_m),
            polygon: None,
        }
    }
}

/// Marks an id in `names` reached through an alternate name rather than the place's own name.
const ALIAS: u32 = 1 << 31;

#[derive(Debug, Default)]
pub struct Gazetteer {
    places: Vec<Place>,
    /// Folded name to place ids; [`ALIAS`] is set on ids reached through an alternate name.
    names: HashMap<String, Vec<u32>>,
    /// Codes matched only as written (`UK`, `USA`).
    exact: HashMap<String, Vec<u32>>,
    countries: HashMap<String, u32>,
    regions: HashMap<String, u32>,
    /// Cities by 1° cell, for nearest-city lookups.
    grid: HashMap<(i32, i32), Vec<u32>>,
}

fn cell(lat: f64, lon: f64) -> (i32, i32) {
    (lat.floor() as i32, lon.floor() as i32)
}

/// Words that name places but mostly mean something else; matched alone only as hashtags.
const STOP: &[&str] = &[
    "police",
    "mobile",
    "reading",
    "bath",
    "nice",
    "split",
    "best",
    "hope",
    "gap",
    "orange",
    "union",
    "victoria",
    "mercedes",
    "florence",
    "santa",
    "march",
    "may",
    "june",
    "august",
    "independence",
    "university",
    "college",
    "hospital",
    "center",
    "centre",
    "city",
    "town",
    "village",
    "valley",
    "island",
    "north",
    "south",
    "east",
    "west",
    "central",
    "royal",
    "grand",
    "sale",
    "date",
    "deal",
    "lincoln",
    "washington",
    "jackson",
    "franklin",
    "clinton",
    "madison",
    "marion",
    "salem",
    "troy",
    "aurora",
    "eden",
    "jordan",
    "lebanon",
    "sharon",
    "canton",
    "paradise",
    "eureka",
    "liberty",
    "progreso",
    "esperanza",
    "concordia",
    "providence",
    "trinidad",
    "salvador",
    "cruz",
    "dolores",
    "rosario",
    "soledad",
    "gloria",
    "love",
    "life",
    "home",
    "news",
    "here",
    "there",
    "today",
    "come",
    "pray",
    "help",
    "fire",
    "flood",
    "storm",
    "rain",
    "haze",
    "smoke",
    "mar",
    "sur",
    "este",
    "boa",
    "vista",
    "bella",
    "bello",
    "buena",
    "nueva",
    "nuevo",
    "nova",
    "novo",
    "porto",
    "monte",
    "villa",
    "vila",
    "san",
    "sao",
    "saint",
    "port",
    "mount",
    "lake",
    "river",
    "beach",
    "bay",
    "park",
    "hill",
    "spring",
    "springs",
    "fort",
    "camp",
    "kent",
    "essex",
    "derby",
    "chester",
    "bristol",
    "wells",
    "buffalo",
    "phoenix",
    "mesa",
    "sandy",
    "moore",
    "bury",
    "sale",
    "bolton",
    "worthing",
    "brest",
    "colon",
    "ocean",
    "marine",
    "media",
    "sur",
    "general",
    "president",
    "federal",
    "bar",
    "anna",
    "maria",
    "christchurch",
    "dover",
    "bedford",
    "stafford",
    "watford",
    "crawley",
    "harlow",
    "metro",
    "obama",
    "walker",
    "eagle",
    "alliance",
    "donna",
    "solo",
    "van",
    "alta",
    "pacifico",
    "para",
    "pride",
    "temple",
    "palm",
    "crystal",
    "glory",
    "faith",
    "charity",
    "mission",
    "summit",
    "plain",
    "plains",
    "harbor",
    "harbour",
    "bridge",
    "church",
    "chapel",
    "market",
    "ocean",
    "como",
    "centro",
    "nacional",
    "republica",
    "est",
    "man",
    "nada",
    "martin",
    "gent",
    "google",
];

fn parse_f(s: Option<&str>, line: usize, what: &str) -> Result<f64, GazetteerError> {
    s.and_then(|x| x.trim().parse::<f64>().ok())
        .filter(|x| x.is_finite())
        .ok_or_else(|| GazetteerError::Line {
            line,
            reason: format!("{what} is not a number"),
        })
}

/// The part of a place name before a qualifier: "Frankfurt am Main" → "Frankfurt",
/// "Newcastle upon Tyne" → "Newcastle", "Frankfurt (Oder)" → "Frankfurt".
fn short_name(name: &str) -> Option<&str> {
    const QUALIFIERS: [&str; 7] = [" am ", " an der ", " upon ", " on ", " (", "-sur-", " sur "];
    QUALIFIERS
        .iter()
        .filter_map(|q| name.find(q))
        .min()
        .map(|i| name[..i].trim())
        .filter(|s| !s.is_empty())
}

fn norm_name(s: &str) -> String {
    // Only the main segment: a name is never a hashtag.
    let mut out = String::new();
    if let Some(seg) = segments(s).into_iter().next() {
        for t in seg {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&t.norm);
        }
    }
    out
}

impl Gazetteer {
    /// The gazetteer shipped with the build, unpacked on first use.
    pub fn embedded() -> Result<&'static Gazetteer, GazetteerError> {
        static G: OnceLock<Result<Gazetteer, GazetteerError>> = OnceLock::new();
        G.get_or_init(|| Gazetteer::from_gzip(EMBEDDED))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn from_gzip(bytes: &[u8]) -> Result<Self, GazetteerError> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_UNPACKED)
            .read_to_string(&mut text)
            .map_err(|e| GazetteerError::Unpack(e.to_string()))?;
        Self::from_tsv(&text)
    }

    /// Reads the rows described in `tools/build_gazetteer.py`.
    pub fn from_tsv(text: &str) -> Result<Self, GazetteerError> {
        let mut g = Gazetteer::default();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let col = |k: usize| cols.get(k).copied();
            let (place, aliases) = match col(0) {
                Some("C") | Some("A") => {
                    let code = col(1).unwrap_or("");
                    let kind = if col(0) == Some("C") {
                        PlaceKind::Country
                    } else {
                        PlaceKind::Region
                    };
                    let (country, admin1) = match kind {
                        PlaceKind::Country => (code.to_owned(), String::new()),
                        _ => {
                            let (c, a) = code.split_once('.').unwrap_or((code, ""));
                            (c.to_owned(), a.to_owned())
                        }
                    };
                    (
                        Place {
                            name: col(2).unwrap_or("").to_owned(),
                            kind,
                            lat: parse_f(col(3), line_no, "lat")?,
                            lon: parse_f(col(4), line_no, "lon")?,
                            population: parse_f(col(5), line_no, "population")?.max(0.0) as u64,
                            country,
                            admin1,
                            extent_km: parse_f(col(6), line_no, "radius")?.max(1.0),
                        },
                        col(7).unwrap_or(""),
                    )
                }
                Some("P") => {
                    let population = parse_f(col(4), line_no, "population")?.max(0.0) as u64;
                    (
                        Place {
                            name: col(1).unwrap_or("").to_owned(),
                            kind: PlaceKind::City,
                            lat: parse_f(col(2), line_no, "lat")?,
                            lon: parse_f(col(3), line_no, "lon")?,
                            population,
                            country: col(5).unwrap_or("").to_owned(),
                            admin1: col(6).unwrap_or("").to_owned(),
                            extent_km: 3.0 + (population as f64).sqrt() / 80.0,
                        },
                        col(7).unwrap_or(""),
                    )
                }
                other => {
                    return Err(GazetteerError::Line {
                        line: line_no,
                        reason: format!("unknown row kind {other:?}"),
                    });
                }
            };
            if place.name.is_empty() || !crate::feeds::valid_point(place.lat, place.lon) {
                return Err(GazetteerError::Line {
                    line: line_no,
                    reason: "empty name or coordinates out of range".into(),
                });
            }
            let id = u32::try_from(g.places.len()).map_err(|_| GazetteerError::Line {
                line: line_no,
                reason: "too many places".into(),
            })?;
            match place.kind {
                PlaceKind::Country => {
                    g.countries.insert(place.country.clone(), id);
                }
                PlaceKind::Region => {
                    g.regions
                        .insert(format!("{}.{}", place.country, place.admin1), id);
                }
                PlaceKind::City => {
                    g.grid
                        .entry(cell(place.lat, place.lon))
                        .or_default()
                        .push(id);
                }
            }
            let mut seen = HashSet::new();
            for (k, alias) in std::iter::once(place.name.as_str())
                .chain(aliases.split('|'))
                .enumerate()
            {
                if let Some(code) = alias.strip_prefix('=') {
                    g.exact.entry(code.to_owned()).or_default().push(id);
                    continue;
                }
                // GeoNames writes machine transliterations ("sang tuo si") in lower case; people
                // write names capitalised.
                if k > 0 && alias.chars().next().is_some_and(char::is_lowercase) {
                    continue;
                }
                let n = norm_name(alias);
                if n.len() < 3 || !seen.insert(n.clone()) {
                    continue;
                }
                g.names
                    .entry(n)
                    .or_default()
                    .push(if k == 0 { id } else { id | ALIAS });
            }
            // People write "Frankfurt", not "Frankfurt am Main": the name before a qualifier
            // (" am ", " an der ", " upon ", " (", "-sur-") is an alias too, with the alias rules
            // (so only a large city answers to it).
            if let Some(short) = short_name(&place.name) {
                let n = norm_name(short);
                if n.len() >= 3 && seen.insert(n.clone()) {
                    g.names.entry(n).or_default().push(id | ALIAS);
                }
            }
            g.places.push(place);
        }
        Ok(g)
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    pub fn place(&self, id: u32) -> Option<&Place> {
        self.places.get(id as usize)
    }

    /// The country with this ISO code.
    pub fn country(&self, code: &str) -> Option<(u32, &Place)> {
        let id = *self.countries.get(&code.to_ascii_uppercase())?;
        Some((id, self.place(id)?))
    }

    /// Places called exactly this (any alias, any case or accent).
    pub fn lookup(&self, name: &str) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .names
            .get(&norm_name(name))
            .map(|v| v.iter().map(|id| id & !ALIAS).collect())
            .unwrap_or_default();
        if let Some(x) = self.exact.get(name.trim()) {
            v.extend(x);
        }
        v
    }

    /// A country by name, alias or code, tolerating small misspellings ("Philipinnes").
    pub fn find_country(&self, name: &str) -> Option<&Place> {
        if let Some(id) = self.exact.get(name.trim()).and_then(|v| v.first())
            && let Some(p) = self.place(*id)
            && p.kind == PlaceKind::Country
        {
            return Some(p);
        }
        if let Some((_, p)) = self.country(name.trim()).filter(|_| name.trim().len() == 2) {
            return Some(p);
        }
        let n = norm_name(name);
        if let Some(p) = self
            .names
            .get(&n)
            .into_iter()
            .flatten()
            .filter_map(|id| self.place(id & !ALIAS))
            .find(|p| p.kind == PlaceKind::Country)
        {
            return Some(p);
        }
        if n.len() < 5 {
            return None;
        }
        let mut best: Option<(usize, &Place)> = None;
        for (alias, ids) in &self.names {
            for id in ids {
                let Some(p) = self
                    .place(id & !ALIAS)
                    .filter(|p| p.kind == PlaceKind::Country)
                else {
                    continue;
                };
                let d = edit_distance(alias, &n);
                if d <= 2 && best.is_none_or(|(bd, bp)| (d, &p.country) < (bd, &bp.country)) {
                    best = Some((d, p));
                }
            }
        }
        best.map(|(_, p)| p)
    }

    /// The nearest city to a point: searched ring by ring of 1° cells around it, then everywhere.
    pub fn nearest_city(&self, lat: f64, lon: f64) -> Option<&Place> {
        let here = Geo::point(lat, lon);
        let (cy, cx) = cell(lat, lon);
        let mut best: Option<(f64, &Place)> = None;
        let mut found_at = None;
        for ring in 0..=4i32 {
            if found_at.is_some_and(|r: i32| ring > r + 1) {
                break;
            }
            for dy in -ring..=ring {
                for dx in -ring..=ring {
                    if dy.abs() != ring && dx.abs() != ring {
                        continue;
                    }
                    for id in self.grid.get(&(cy + dy, cx + dx)).into_iter().flatten() {
                        let Some(p) = self.place(*id) else { continue };
                        let d = here.distance_m(&Geo::point(p.lat, p.lon));
                        if best.is_none_or(|(bd, _)| d < bd) {
                            best = Some((d, p));
                            found_at.get_or_insert(ring);
                        }
                    }
                }
            }
        }
        if let Some((_, p)) = best {
            return Some(p);
        }
        self.places
            .iter()
            .filter(|p| p.kind == PlaceKind::City)
            .min_by(|a, b| {
                let da = here.distance_m(&Geo::point(a.lat, a.lon));
                let db = here.distance_m(&Geo::point(b.lat, b.lon));
                da.total_cmp(&db)
            })
    }

    /// Finds and resolves the place names of a text. Results are ordered most specific and most
    /// probable first.
    pub fn geoparse(&self, text: &str) -> Vec<Resolved> {
        self.geoparse_with(text, &[])
    }

    /// As [`Gazetteer::geoparse`], with countries known from context (ISO codes) that favour
    /// their homonyms.
    pub fn geoparse_with(&self, text: &str, context_countries: &[&str]) -> Vec<Resolved> {
        let segs = segments(text);
        let total: usize = segs.first().map_or(0, Vec::len);
        let caps = segs
            .first()
            .map_or(0, |s| s.iter().filter(|t| t.capital).count());
        // In all-lower-case posts capitals carry no signal.
        let lowercase_text = total >= 4 && caps * 10 < total;
        let mut mentions: Vec<(String, f64, Vec<u32>)> = Vec::new();
        for seg in &segs {
            self.mentions_in(seg, lowercase_text, &mut mentions);
        }
        for raw in text
            .split(|c: char| !(c.is_alphanumeric() || c == '.'))
            .take(2048)
        {
            let raw = raw.trim_end_matches('.');
            if raw.len() >= 2
                && raw.len() <= 6
                && let Some(ids) = self
                    .exact
                    .get(raw)
                    .or_else(|| self.exact.get(&format!("{raw}.")))
            {
                mentions.push((raw.to_owned(), 0.8, ids.clone()));
            }
        }
        if mentions.is_empty() {
            return Vec::new();
        }
        // Context: countries and regions that some mention can only (or most likely) mean.
        let mut ctx_countries: HashSet<String> = context_countries
            .iter()
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut ctx_regions: HashSet<String> = HashSet::new();
        for (_, _, ids) in &mentions {
            for id in ids {
                if let Some(p) = self.place(*id) {
                    match p.kind {
                        PlaceKind::Country => {
                            ctx_countries.insert(p.country.clone());
                        }
                        PlaceKind::Region if ids.len() <= 2 => {
                            ctx_regions.insert(format!("{}.{}", p.country, p.admin1));
                            ctx_countries.insert(p.country.clone());
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut out: Vec<Resolved> = Vec::new();
        for (surface, confidence, ids) in mentions {
            let scored: Vec<(u32, f64)> = ids
                .iter()
                .filter_map(|id| {
                    let p = self.place(*id)?;
                    let mut s = (p.population as f64) + 1000.0;
                    if p.kind != PlaceKind::Country {
                        if ctx_countries.contains(&p.country) {
                            s *= 30.0;
                        } else if p.kind == PlaceKind::City
                            && p.population < 50_000
                            && !surface.contains(' ')
                        {
                            // A small town named by one word, with nothing around it to say where:
                            // more often a word than that town.
                            return None;
                        }
                        if ctx_regions.contains(&format!("{}.{}", p.country, p.admin1))
                            && p.kind == PlaceKind::City
                        {
                            s *= 30.0;
                        }
                    } else {
                        // A country name is rarely a city's too: prefer the country.
                        s *= 10.0;
                    }
                    if p.kind == PlaceKind::Region {
                        // A region's population sums its cities; a city of the same name is
                        // what people usually mean ("New York").
                        s *= 0.2;
                    }
                    Some((*id, s))
                })
                .collect();
            let sum: f64 = scored.iter().map(|(_, s)| s).sum();
            let Some(&(best, score)) = scored.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
                continue;
            };
            let Some(p) = self.place(best) else { continue };
            let share = if sum > 0.0 { score / sum } else { 0.0 };
            let probability = (confidence * share).clamp(0.0, 1.0);
            let radius_km = p.extent_km * (1.0 + 2.0 * (1.0 - share));
            if out.iter().any(|r| r.place == best) {
                continue;
            }
            out.push(Resolved {
                place: best,
                name: p.name.clone(),
                kind: p.kind,
                country: p.country.clone(),
                surface,
                probability,
                lat: p.lat,
                lon: p.lon,
                radius_m: radius_km * 1000.0,
            });
        }
        out.sort_by(|a, b| {
            b.kind
                .cmp(&a.kind)
                .then(b.probability.total_cmp(&a.probability))
        });
        out
    }

    fn mentions_in(
        &self,
        seg: &[Token],
        lowercase_text: bool,
        out: &mut Vec<(String, f64, Vec<u32>)>,
    ) {
        let mut i = 0;
        while i < seg.len() {
            let mut matched = 0;
            for n in (1..=MAX_NGRAM.min(seg.len() - i)).rev() {
                let Some(words) = seg.get(i..i + n) else {
                    continue;
                };
                let key = words
                    .iter()
                    .map(|t| t.norm.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let Some(ids) = self.names.get(&key) else {
                    continue;
                };
                let Some(first) = words.first() else { continue };
                let (confidence, kept): (f64, Vec<u32>) = if n > 1 {
                    let c = if words.iter().all(|t| t.capital) || lowercase_text || first.hashtag {
                        0.95
                    } else {
                        0.6
                    };
                    (c, ids.iter().map(|id| id & !ALIAS).collect())
                } else {
                    if STOP.contains(&key.as_str()) && !first.hashtag {
                        continue;
                    }
                    // One word alone is a weak signal: an alternate name must be a big place's
                    // and a small place must be written as a name; the rest waits for context.
                    let kept: Vec<u32> = ids
                        .iter()
                        .filter(|id| {
                            let Some(p) = self.place(**id & !ALIAS) else {
                                return false;
                            };
                            let big = p.population >= 100_000 || p.kind != PlaceKind::City;
                            let alias = **id & ALIAS != 0;
                            let alias_ok = p.population >= 250_000 || p.kind != PlaceKind::City;
                            (alias_ok || !alias) && (key.len() >= 4 || big)
                        })
                        .map(|id| id & !ALIAS)
                        .collect();
                    if kept.is_empty() {
                        continue;
                    }
                    let c = if first.hashtag {
                        0.85
                    } else if first.capital {
                        0.8
                    } else if lowercase_text {
                        0.5
                    } else {
                        continue;
                    };
                    (c, kept)
                };
                out.push((key, confidence, kept));
                matched = n;
                break;
            }
            i += matched.max(1);
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 2 {
        return 3;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let v = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur[j + 1] = v;
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// The most useful single location of a text: the most specific place that is likely enough.
pub fn best_place(found: &[Resolved]) -> Option<&Resolved> {
    found
        .iter()
        .filter(|r| r.probability >= 0.3)
        .max_by(|a, b| {
            (a.kind, (a.probability * 10.0) as i64).cmp(&(b.kind, (b.probability * 10.0) as i64))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> &'static Gazetteer {
        Gazetteer::embedded().unwrap()
    }

    #[test]
    fn embedded_gazetteer_loads_with_countries_regions_and_cities() {
        let g = g();
        assert!(g.len() > 30_000, "{}", g.len());
        assert_eq!(g.country("br").unwrap().1.name, "Brazil");
        assert!(
            g.lookup("Queensland")
                .iter()
                .any(|id| g.place(*id).unwrap().kind == PlaceKind::Region)
        );
    }

    #[test]
    fn a_city_answers_to_its_name_without_qualifier() {
        assert_eq!(short_name("Frankfurt am Main"), Some("Frankfurt"));
        assert_eq!(short_name("Newcastle upon Tyne"), Some("Newcastle"));
        assert_eq!(short_name("Paris"), None);
        let found = g().geoparse("Huge fire in Frankfurt right now");
        let best = best_place(&found).expect("Frankfurt found");
        assert_eq!(best.name, "Frankfurt am Main");
    }

    #[test]
    fn co_mentioned_country_picks_the_homonym() {
        let g = g();
        let br = g.geoparse("Fire at a nightclub in Santa Maria, Brazil");
        let city = br.iter().find(|r| r.kind == PlaceKind::City).unwrap();
        assert_eq!(city.country, "BR");
        let ph = g.geoparse("Flooding reported in Santa Maria, Davao del Sur, Philippines");
        let city = ph.iter().find(|r| r.kind == PlaceKind::City).unwrap();
        assert_eq!(city.country, "PH");
        assert!(city.radius_m > 1000.0);
    }

    #[test]
    fn aliases_hashtags_codes_and_misspelt_countries_resolve() {
        let g = g();
        let r = g.geoparse("Explosão em #SaoPaulo agora");
        assert!(r.iter().any(|x| x.name == "São Paulo"), "{r:?}");
        let r = g.geoparse("Storm damage across the UK tonight");
        assert_eq!(r[0].country, "GB");
        let r = g.geoparse("Brand in München");
        assert!(r.iter().any(|x| x.name == "Munich"), "{r:?}");
        assert_eq!(g.find_country("Philipinnes").unwrap().country, "PH");
        assert_eq!(g.find_country("UK").unwrap().country, "GB");
    }

    #[test]
    fn common_words_do_not_become_places() {
        let g = g();
        assert!(
            g.geoparse("the police said it was nice to see hope")
                .is_empty()
        );
        assert!(g.geoparse("I am reading the news at home").is_empty());
    }

    #[test]
    fn nearest_city_uses_the_grid_and_falls_back_to_a_full_scan() {
        let g = g();
        assert_eq!(g.nearest_city(48.8534, 2.3488).unwrap().name, "Paris");
        assert_eq!(g.nearest_city(45.76, 4.84).unwrap().country, "FR");
        // Mid-Pacific: nothing within the rings, the full scan still answers.
        assert!(g.nearest_city(-30.0, -140.0).is_some());
    }

    #[test]
    fn best_place_prefers_a_likely_city_over_its_country() {
        let g = g();
        let r = g.geoparse("Earthquake felt strongly in Modena, Italy");
        let best = best_place(&r).unwrap();
        assert_eq!(best.name, "Modena");
        assert!(best.radius_m < 50_000.0);
    }
}
