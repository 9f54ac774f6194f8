//! JSON feeds: USGS earthquakes (GeoJSON), CISA KEV, NVD CVE 2.0 and social posts.

use serde_json::Value;
use tocsin_model::Severity;

use super::{
    Draft, FeedError, FeedItem, FeedKind, FeedOptions, ItemError, ParsedFeed, epoch, parse_time,
    point, strip_tags,
};

fn from_slice(bytes: &[u8]) -> Result<Value, FeedError> {
    serde_json::from_slice(bytes).map_err(|e| FeedError::Json(e.to_string()))
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn f64_of(v: &Value, k: &str) -> Option<f64> {
    match v.get(k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn array_of<'a>(
    v: &'a Value,
    k: &str,
    expected: &'static str,
) -> Result<&'a Vec<Value>, FeedError> {
    v.get(k)
        .and_then(Value::as_array)
        .ok_or_else(|| FeedError::WrongFormat {
            expected,
            reason: format!("no `{k}` array"),
        })
}

fn collect(
    list: &[Value],
    opts: &FeedOptions,
    mut f: impl FnMut(&Value) -> Result<FeedItem, String>,
) -> ParsedFeed {
    let mut out = ParsedFeed::default();
    for (index, v) in list.iter().enumerate() {
        if index >= opts.max_items {
            out.skipped.push(ItemError {
                index,
                reason: format!("more than {} items in one document", opts.max_items),
            });
            break;
        }
        match f(v) {
            Ok(i) => out.items.push(i),
            Err(reason) => out.skipped.push(ItemError { index, reason }),
        }
    }
    out
}

/// Magnitude to severity, as a security team reads it.
fn quake_severity(mag: f64) -> Severity {
    if mag >= 7.0 {
        Severity::CRITICAL
    } else if mag >= 6.0 {
        Severity::HIGH
    } else if mag >= 4.5 {
        Severity::MEDIUM
    } else if mag >= 2.5 {
        Severity::LOW
    } else {
        Severity::INFORMATIONAL
    }
}

/// Rough radius of strong shaking, in metres: grows tenfold every two magnitudes.
pub(crate) fn quake_radius_m(mag: f64) -> f64 {
    (10f64.powf(0.5 * mag - 1.0) * 1000.0).clamp(5_000.0, 1_500_000.0)
}

pub(crate) fn parse_usgs(bytes: &[u8], opts: &FeedOptions) -> Result<ParsedFeed, FeedError> {
    let doc = from_slice(bytes)?;
    let features = match doc.get("type").and_then(Value::as_str) {
        Some("Feature") => std::slice::from_ref(&doc),
        _ => array_of(&doc, "features", "usgs geojson")?.as_slice(),
    };
    Ok(collect(features, opts, |f| {
        let id = str_of(f, "id").ok_or("feature missing id")?;
        let p = f.get("properties").ok_or("feature missing properties")?;
        let ms = p
            .get("time")
            .and_then(Value::as_i64)
            .ok_or("properties.time missing")?;
        let time = epoch(ms).ok_or("properties.time out of range")?;
        let coords = f
            .get("geometry")
            .and_then(|g| g.get("coordinates"))
            .and_then(Value::as_array)
            .ok_or("geometry.coordinates missing")?;
        let lon = coords
            .first()
            .and_then(Value::as_f64)
            .ok_or("longitude missing")?;
        let lat = coords
            .get(1)
            .and_then(Value::as_f64)
            .ok_or("latitude missing")?;
        let mag = f64_of(p, "mag").unwrap_or(0.0);
        let mut d = Draft::new("hazard_warning", time);
        d.activity = Some(str_of(p, "type").unwrap_or("earthquake").to_owned());
        d.severity = quake_severity(mag);
        d.confidence = Some(if str_of(p, "status") == Some("reviewed") {
            95
        } else {
            80
        });
        d.geo = point(lat, lon, Some(quake_radius_m(mag)));
        d.place = str_of(p, "place").map(str::to_owned);
        d.url = str_of(p, "url").map(str::to_owned);
        d.message = str_of(p, "title")
            .map(str::to_owned)
            .or_else(|| Some(format!("M {mag:.1} earthquake")));
        d.field("magnitude", mag);
        if let Some(depth) = coords.get(2).and_then(Value::as_f64) {
            d.field("depth_km", depth);
        }
        for k in [
            "alert", "status", "tsunami", "felt", "mmi", "sig", "net", "magType",
        ] {
            if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
                d.field(k, v.clone());
            }
        }
        let version = p.get("updated").map(Value::to_string).unwrap_or_default();
        Ok(d.finish(FeedKind::UsgsGeoJson, format!("usgs:{id}"), version, opts))
    }))
}

pub(crate) fn parse_kev(bytes: &[u8], opts: &FeedOptions) -> Result<ParsedFeed, FeedError> {
    let doc = from_slice(bytes)?;
    let list = array_of(&doc, "vulnerabilities", "cisa kev")?;
    Ok(collect(list, opts, |v| {
        let cve = str_of(v, "cveID").ok_or("missing cveID")?;
        let added = str_of(v, "dateAdded").ok_or("missing dateAdded")?;
        let time = parse_time(added).ok_or_else(|| format!("dateAdded {added:?} is not a date"))?;
        let vendor = str_of(v, "vendorProject").unwrap_or("");
        let product = str_of(v, "product").unwrap_or("");
        let mut d = Draft::new("vulnerability", time);
        d.activity = Some("known_exploited".into());
        let ransomware = str_of(v, "knownRansomwareCampaignUse") == Some("Known");
        d.severity = if ransomware {
            Severity::CRITICAL
        } else {
            Severity::HIGH
        };
        d.confidence = Some(100);
        d.message = Some(format!(
            "{cve}: {}",
            str_of(v, "vulnerabilityName").unwrap_or("known exploited vulnerability")
        ));
        d.url = Some(format!("https://nvd.nist.gov/vuln/detail/{cve}"));
        d.field("cve", cve);
        d.field("vendor", vendor);
        d.field("product", product);
        for (k, name) in [
            ("description", "shortDescription"),
            ("required_action", "requiredAction"),
            ("due_date", "dueDate"),
            ("ransomware", "knownRansomwareCampaignUse"),
        ] {
            if let Some(x) = str_of(v, name) {
                d.field(k, x);
            }
        }
        if let Some(c) = v.get("cwes").filter(|c| c.is_array()) {
            d.field("cwes", c.clone());
        }
        Ok(d.finish(FeedKind::Kev, format!("kev:{cve}"), added.to_owned(), opts))
    }))
}

fn cvss(cve: &Value) -> Option<(f64, String)> {
    let metrics = cve.get("metrics")?;
    for k in [
        "cvssMetricV40",
        "cvssMetricV31",
        "cvssMetricV30",
        "cvssMetricV2",
    ] {
        let Some(list) = metrics.get(k).and_then(Value::as_array) else {
            continue;
        };
        let m = list
            .iter()
            .find(|m| str_of(m, "type") == Some("Primary"))
            .or_else(|| list.first())?;
        let data = m.get("cvssData")?;
        let score = f64_of(data, "baseScore")?;
        let vector = str_of(data, "vectorString").unwrap_or("").to_owned();
        return Some((score, vector));
    }
    None
}

fn cvss_severity(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::CRITICAL
    } else if score >= 7.0 {
        Severity::HIGH
    } else if score >= 4.0 {
        Severity::MEDIUM
    } else if score > 0.0 {
        Severity::LOW
    } else {
        Severity::INFORMATIONAL
    }
}

/// Every `criteria` of the configurations, bounded.
fn cpes(cve: &Value, out: &mut Vec<String>) {
    fn walk(v: &Value, out: &mut Vec<String>, depth: usize) {
        if depth > 12 || out.len() >= 256 {
            return;
        }
        match v {
            Value::Object(m) => {
                if let Some(Value::String(c)) = m.get("criteria")
                    && c.starts_with("cpe:")
                    && !out.contains(c)
                {
                    out.push(c.clone());
                }
                for x in m.values() {
                    walk(x, out, depth + 1);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out, depth + 1)),
            _ => {}
        }
    }
    if let Some(c) = cve.get("configurations") {
        walk(c, out, 0);
    }
}

pub(crate) fn parse_nvd(bytes: &[u8], opts: &FeedOptions) -> Result<ParsedFeed, FeedError> {
    let doc = from_slice(bytes)?;
    let list = array_of(&doc, "vulnerabilities", "nvd cve 2.0")?;
    Ok(collect(list, opts, |v| {
        let cve = v.get("cve").ok_or("missing cve")?;
        let id = str_of(cve, "id").ok_or("missing cve.id")?;
        let published = str_of(cve, "published").ok_or("missing cve.published")?;
        let time = parse_time(published)
            .ok_or_else(|| format!("cve.published {published:?} is not a date"))?;
        let desc = cve
            .get("descriptions")
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .find(|d| str_of(d, "lang") == Some("en"))
                    .or_else(|| l.first())
            })
            .and_then(|d| str_of(d, "value"))
            .unwrap_or("");
        let mut d = Draft::new("vulnerability", time);
        d.activity = Some(
            str_of(cve, "vulnStatus")
                .unwrap_or("published")
                .to_ascii_lowercase(),
        );
        let (score, vector) = cvss(cve).unwrap_or((0.0, String::new()));
        d.severity = cvss_severity(score);
        d.message = Some(format!("{id}: {}", crate::feeds::cut(desc, 300)));
        d.url = Some(format!("https://nvd.nist.gov/vuln/detail/{id}"));
        d.field("cve", id);
        d.field("description", desc);
        d.field("cvss_score", score);
        d.field("cvss_vector", vector);
        let mut list = Vec::new();
        cpes(cve, &mut list);
        // cpe:2.3:part:vendor:product:version:...
        let parts: Vec<&str> = list
            .first()
            .map(|c| c.split(':').collect())
            .unwrap_or_default();
        if let Some(vendor) = parts.get(3) {
            d.field("vendor", *vendor);
        }
        if let Some(product) = parts.get(4) {
            d.field("product", *product);
        }
        d.field("cpes", list);
        let version = str_of(cve, "lastModified").unwrap_or("").to_owned();
        Ok(d.finish(FeedKind::Nvd, format!("nvd:{id}"), version, opts))
    }))
}

/// One social post: `{id, time, author, text, lat?, lon?, coordinates?, lang?, url?}`.
pub fn social_post_from_value(v: &Value, opts: &FeedOptions) -> Result<FeedItem, String> {
    let id = match v.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("post missing id".to_owned()),
    };
    let text = str_of(v, "text").ok_or("post missing text")?;
    let time = match v.get("time").or_else(|| v.get("created_at")) {
        Some(Value::String(s)) => {
            parse_time(s).ok_or_else(|| format!("post time {s:?} is not a time"))?
        }
        Some(Value::Number(n)) => n.as_i64().and_then(epoch).ok_or("post time out of range")?,
        _ => return Err("post missing time".to_owned()),
    };
    let mut d = Draft::new("public_report", time);
    d.activity = Some("post".into());
    d.message = Some(strip_tags(text));
    d.person = str_of(v, "author").map(str::to_owned);
    d.url = str_of(v, "url").map(str::to_owned);
    d.place = str_of(v, "place").map(str::to_owned);
    let (lat, lon) = match v.get("coordinates") {
        Some(Value::Array(a)) => (
            a.get(1).and_then(Value::as_f64),
            a.first().and_then(Value::as_f64),
        ),
        Some(o @ Value::Object(_)) => (f64_of(o, "lat"), f64_of(o, "lon")),
        _ => (f64_of(v, "lat"), f64_of(v, "lon")),
    };
    if let (Some(lat), Some(lon)) = (lat, lon) {
        d.geo = point(lat, lon, Some(f64_of(v, "accuracy_m").unwrap_or(1000.0)));
        if d.geo.is_none() {
            return Err(format!("post coordinates {lat},{lon} are out of range"));
        }
    }
    if let Some(l) = str_of(v, "lang").or_else(|| str_of(v, "language")) {
        d.field("lang", l);
    }
    d.field("post_id", id.clone());
    let source = str_of(v, "platform").unwrap_or("social");
    Ok(d.finish(
        FeedKind::Social,
        format!("post:{source}:{id}"),
        String::new(),
        opts,
    ))
}

pub(crate) fn parse_social(bytes: &[u8], opts: &FeedOptions) -> Result<ParsedFeed, FeedError> {
    let text = String::from_utf8_lossy(bytes);
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.starts_with('[') {
        let doc: Value = serde_json::from_str(t).map_err(|e| FeedError::Json(e.to_string()))?;
        let list = doc.as_array().map(Vec::as_slice).unwrap_or(&[]);
        return Ok(collect(list, opts, |v| social_post_from_value(v, opts)));
    }
    if let Ok(doc) = serde_json::from_str::<Value>(t) {
        if let Some(list) = doc.get("posts").and_then(Value::as_array) {
            return Ok(collect(list, opts, |v| social_post_from_value(v, opts)));
        }
        return Ok(collect(std::slice::from_ref(&doc), opts, |v| {
            social_post_from_value(v, opts)
        }));
    }
    // NDJSON: a bad line is that item's error, not the document's.
    let mut out = ParsedFeed::default();
    for (index, line) in t.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if index >= opts.max_items {
            out.skipped.push(ItemError {
                index,
                reason: format!("more than {} items in one document", opts.max_items),
            });
            break;
        }
        let r = serde_json::from_str::<Value>(line)
            .map_err(|e| format!("line {}: {e}", index + 1))
            .and_then(|v| social_post_from_value(&v, opts));
        match r {
            Ok(i) => out.items.push(i),
            Err(reason) => out.skipped.push(ItemError { index, reason }),
        }
    }
    Ok(out)
}
