//! OASIS CAP 1.2 (also reads 1.0/1.1 alerts): one alert, or Atom entries that embed or summarise
//! one. One event per alert, from the English `info` block when there is one.

use serde_json::{Value, json};
use tocsin_model::{Geo, Severity};

use super::xml::Node;
use super::{Draft, FeedItem, FeedKind, FeedOptions, parse_time, point, polygon_geo, strip_tags};

/// CAP severity to OCSF severity.
pub(crate) fn cap_severity(s: &str) -> Severity {
    match s.trim().to_ascii_lowercase().as_str() {
        "extreme" => Severity::CRITICAL,
        "severe" => Severity::HIGH,
        "moderate" => Severity::MEDIUM,
        "minor" => Severity::LOW,
        _ => Severity::INFORMATIONAL,
    }
}

/// CAP certainty to a 0–100 confidence.
fn cap_confidence(s: &str) -> Option<u8> {
    match s.trim().to_ascii_lowercase().as_str() {
        "observed" => Some(95),
        "likely" => Some(75),
        "possible" => Some(40),
        "unlikely" => Some(10),
        _ => None,
    }
}

/// `"lat,lon lat,lon ..."` into `[lon, lat]` pairs.
fn cap_polygon(s: &str) -> Vec<[f64; 2]> {
    s.split_whitespace()
        .filter_map(|pair| {
            let (a, o) = pair.split_once(',')?;
            Some([o.trim().parse().ok()?, a.trim().parse().ok()?])
        })
        .collect()
}

/// `"lat,lon radius_km"`.
fn cap_circle(s: &str) -> Option<Geo> {
    let (center, radius) = s.trim().split_once(char::is_whitespace)?;
    let (a, o) = center.split_once(',')?;
    let km: f64 = radius.trim().parse().ok()?;
    point(
        a.trim().parse().ok()?,
        o.trim().parse().ok()?,
        Some(km * 1000.0),
    )
}

#[derive(Default)]
struct Areas {
    descs: Vec<String>,
    geo: Option<Geo>,
    geocodes: Vec<Value>,
    polygons: usize,
    circles: usize,
}

impl Areas {
    fn add_polygon(&mut self, text: &str, max: usize) {
        self.polygons += 1;
        if self.geo.as_ref().is_some_and(|g| g.polygon.is_some()) {
            return;
        }
        if let Some(g) = polygon_geo(cap_polygon(text), max) {
            self.geo = Some(g);
        }
    }

    fn add_circle(&mut self, text: &str) {
        self.circles += 1;
        if self.geo.is_none() {
            self.geo = cap_circle(text);
        }
    }

    fn add_geocode(&mut self, n: &Node) {
        if let (Some(k), Some(v)) = (n.text_of("valueName"), n.text_of("value"))
            && self.geocodes.len() < 256
        {
            self.geocodes.push(json!({ "name": k, "value": v }));
        }
    }

    fn read(&mut self, info: &Node, max: usize) {
        for area in info.children_named("area").take(256) {
            if let Some(d) = area.text_of("areaDesc") {
                self.descs.push(d);
            }
            for p in area.children_named("polygon") {
                self.add_polygon(&p.text, max);
            }
            for c in area.children_named("circle") {
                self.add_circle(&c.text);
            }
            for g in area.children_named("geocode") {
                self.add_geocode(g);
            }
        }
    }
}

fn pick_info(alert: &Node) -> Option<&Node> {
    let mut first = None;
    for info in alert.children_named("info") {
        let lang = info.text_of("language").unwrap_or_else(|| "en-US".into());
        if lang.to_ascii_lowercase().starts_with("en") {
            return Some(info);
        }
        first.get_or_insert(info);
    }
    first
}

struct Common<'a> {
    identifier: String,
    sender: String,
    sent: String,
    status: String,
    msg_type: String,
    info: Option<&'a Node>,
}

fn finish(
    c: Common<'_>,
    areas: Areas,
    alert: Option<&Node>,
    link: Option<String>,
    opts: &FeedOptions,
) -> Result<FeedItem, String> {
    let key = format!("cap:{}|{}", c.sender, c.identifier);
    let info = c.info;
    let get = |name: &str| info.and_then(|i| i.text_of(name));
    let time_text = get("onset")
        .or_else(|| get("effective"))
        .unwrap_or_else(|| c.sent.clone());
    let time = parse_time(&time_text)
        .ok_or_else(|| format!("cap sent/onset {time_text:?} is not a date"))?;
    let mut d = Draft::new("hazard_warning", time);
    let event_name = get("event").unwrap_or_else(|| "alert".into());
    d.activity = Some(c.msg_type.to_ascii_lowercase());
    let sev = get("severity").unwrap_or_default();
    let cert = get("certainty").unwrap_or_default();
    d.severity = cap_severity(&sev);
    d.confidence = cap_confidence(&cert);
    let headline = get("headline").or_else(|| get("title"));
    d.message = Some(match (&headline, get("description")) {
        (Some(h), _) => strip_tags(h),
        (None, Some(desc)) => strip_tags(&desc),
        (None, None) => event_name.clone(),
    });
    d.url = get("web").or(link);
    d.place = (!areas.descs.is_empty()).then(|| areas.descs.join("; "));
    d.geo = areas.geo;
    d.field("cap_identifier", c.identifier.clone());
    d.field("cap_sender", c.sender);
    d.field("cap_sent", c.sent.clone());
    d.field("cap_status", c.status.clone());
    d.field("cap_msg_type", c.msg_type);
    d.field("event", event_name);
    d.field("urgency", get("urgency").unwrap_or_default());
    d.field("severity_text", sev);
    d.field("certainty", cert);
    let cats: Vec<String> = info
        .map(|i| {
            i.children_named("category")
                .filter_map(Node::trimmed)
                .take(16)
                .collect()
        })
        .unwrap_or_default();
    d.field("categories", cats);
    if let Some(e) = get("expires") {
        d.field("expires", e);
    }
    if let Some(s) = get("senderName") {
        d.field("sender_name", s);
    }
    if let Some(i) = get("instruction") {
        d.field("instruction", strip_tags(&i));
    }
    if let Some(r) = alert.and_then(|a| a.text_of("references")) {
        d.field("references", r);
    }
    d.field("geocodes", areas.geocodes);
    d.field("area_polygons", areas.polygons);
    d.field("area_circles", areas.circles);
    d.field("exercise", !c.status.eq_ignore_ascii_case("actual"));
    Ok(d.finish(FeedKind::Cap, key, c.sent, opts))
}

/// A full `<alert>` element, optionally inside an Atom entry that gives its link.
pub(crate) fn alert(
    a: &Node,
    entry: Option<&Node>,
    opts: &FeedOptions,
) -> Result<FeedItem, String> {
    let identifier = a
        .text_of("identifier")
        .ok_or("cap alert missing identifier")?;
    let sent = a.text_of("sent").ok_or("cap alert missing sent")?;
    let info = pick_info(a);
    let mut areas = Areas::default();
    if let Some(i) = info {
        areas.read(i, opts.limits.max_polygon_points);
    }
    let link = entry.and_then(|e| {
        e.child("link")
            .and_then(|l| l.attr("href"))
            .map(str::to_owned)
    });
    let common = Common {
        identifier,
        sender: a.text_of("sender").unwrap_or_default(),
        sent,
        status: a.text_of("status").unwrap_or_else(|| "Actual".into()),
        msg_type: a.text_of("msgType").unwrap_or_else(|| "Alert".into()),
        info,
    };
    finish(common, areas, Some(a), link, opts)
}

/// An Atom entry that summarises a CAP alert with `cap:` elements (the NWS index style).
pub(crate) fn atom_entry(e: &Node, opts: &FeedOptions) -> Result<FeedItem, String> {
    let identifier = e.text_of("id").ok_or("atom cap entry missing id")?;
    let sent = e
        .text_of_ns("cap", "sent")
        .or_else(|| e.text_of("published"))
        .or_else(|| e.text_of("updated"))
        .ok_or("atom cap entry missing published/updated")?;
    let mut areas = Areas::default();
    if let Some(d) = e.text_of_ns("cap", "areaDesc") {
        areas.descs.push(d);
    }
    for p in e
        .children
        .iter()
        .filter(|c| c.prefix == "cap" && c.name == "polygon")
    {
        if !p.text.trim().is_empty() {
            areas.add_polygon(&p.text, opts.limits.max_polygon_points);
        }
    }
    if let Some(g) = e.child_ns("cap", "geocode") {
        // NWS writes repeated valueName/value pairs inside one geocode.
        let names: Vec<String> = g
            .children_named("valueName")
            .filter_map(Node::trimmed)
            .collect();
        let values: Vec<String> = g
            .children_named("value")
            .filter_map(Node::trimmed)
            .collect();
        for (k, v) in names.into_iter().zip(values).take(256) {
            areas.geocodes.push(json!({ "name": k, "value": v }));
        }
    }
    // Reuse the info-driven path by mapping cap: fields onto a synthetic info node.
    let mut info = Node {
        name: "info".into(),
        ..Node::default()
    };
    for c in e.children.iter().filter(|c| c.prefix == "cap") {
        info.children.push(c.clone());
    }
    if let Some(t) = e.text_of("title") {
        info.children.push(Node {
            name: "title".into(),
            text: t,
            ..Node::default()
        });
    }
    if let Some(s) = e.text_of("summary") {
        info.children.push(Node {
            name: "description".into(),
            text: s,
            ..Node::default()
        });
    }
    let link = e
        .child("link")
        .and_then(|l| l.attr("href"))
        .map(str::to_owned);
    let common = Common {
        identifier,
        sender: e
            .child("author")
            .and_then(|a| a.text_of("name"))
            .unwrap_or_default(),
        sent,
        status: e
            .text_of_ns("cap", "status")
            .unwrap_or_else(|| "Actual".into()),
        msg_type: e
            .text_of_ns("cap", "msgType")
            .unwrap_or_else(|| "Alert".into()),
        info: Some(&info),
    };
    finish(common, areas, None, link, opts)
}
