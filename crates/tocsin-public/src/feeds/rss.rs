//! RSS 2.0, Atom, GDACS (RSS with `gdacs:`/`geo:` extensions) and the dispatch to CAP.

use tocsin_model::Severity;

use super::xml::Node;
use super::{
    Draft, FeedError, FeedKind, FeedOptions, ItemError, ParsedFeed, cap, fnv64, parse_time, point,
    strip_tags,
};

pub(crate) fn parse_xml(
    kind: FeedKind,
    root: &Node,
    opts: &FeedOptions,
) -> Result<ParsedFeed, FeedError> {
    let mut out = ParsedFeed::default();
    if root.name.eq_ignore_ascii_case("alert") {
        match cap::alert(root, None, opts) {
            Ok(item) => out.items.push(item),
            Err(reason) => out.skipped.push(ItemError { index: 0, reason }),
        }
        return Ok(out);
    }
    let (items, atom): (Vec<&Node>, bool) = if root.name.eq_ignore_ascii_case("feed") {
        (root.children_named("entry").collect(), true)
    } else if root.name.eq_ignore_ascii_case("rss") || root.name.eq_ignore_ascii_case("rdf") {
        let channel = root.child("channel").unwrap_or(root);
        let mut v: Vec<&Node> = channel.children_named("item").collect();
        // RSS 1.0 keeps items beside the channel.
        v.extend(root.children_named("item"));
        (v, false)
    } else {
        return Err(FeedError::WrongFormat {
            expected: "rss, atom or cap",
            reason: format!("root element is <{}>", root.name),
        });
    };
    for (index, node) in items.into_iter().enumerate() {
        if index >= opts.max_items {
            out.skipped.push(ItemError {
                index,
                reason: format!("more than {} items in one document", opts.max_items),
            });
            break;
        }
        let r = if let Some(alert) = node.find("alert") {
            cap::alert(alert, Some(node), opts)
        } else if atom && node.children.iter().any(|c| c.prefix == "cap") {
            cap::atom_entry(node, opts)
        } else if kind == FeedKind::Gdacs || node.children.iter().any(|c| c.prefix == "gdacs") {
            gdacs_item(node, opts)
        } else if kind == FeedKind::Cap {
            Err("entry carries no cap alert".to_owned())
        } else {
            news_item(node, atom, opts)
        };
        match r {
            Ok(item) => out.items.push(item),
            Err(reason) => out.skipped.push(ItemError { index, reason }),
        }
    }
    Ok(out)
}

fn link_of(node: &Node, atom: bool) -> Option<String> {
    if atom {
        let mut best = None;
        for l in node.children_named("link") {
            let rel = l.attr("rel").unwrap_or("alternate");
            if let Some(h) = l.attr("href") {
                if rel == "alternate" {
                    return Some(h.to_owned());
                }
                best.get_or_insert_with(|| h.to_owned());
            }
        }
        best
    } else {
        node.text_of("link")
    }
}

/// `geo:lat`/`geo:long`, `georss:point` ("lat lon") or `geo:Point` wrappers.
pub(crate) fn item_point(node: &Node) -> Option<(f64, f64)> {
    let holder = node.child_ns("geo", "Point").unwrap_or(node);
    if let (Some(lat), Some(lon)) = (
        holder.text_of_ns("geo", "lat"),
        holder.text_of_ns("geo", "long"),
    ) && let (Ok(a), Ok(o)) = (lat.parse::<f64>(), lon.parse::<f64>())
    {
        return Some((a, o));
    }
    let p = node.text_of_ns("georss", "point")?;
    let mut it = p.split_whitespace().map(str::parse::<f64>);
    match (it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(o))) => Some((a, o)),
        _ => None,
    }
}

fn news_item(node: &Node, atom: bool, opts: &FeedOptions) -> Result<super::FeedItem, String> {
    let title = node.text_of("title").map(|t| strip_tags(&t));
    let body = if atom {
        node.text_of("summary").or_else(|| node.text_of("content"))
    } else {
        node.text_of("description")
            .or_else(|| node.text_of("encoded"))
    }
    .map(|t| strip_tags(&t));
    if title.is_none() && body.is_none() {
        return Err("item has neither title nor description".to_owned());
    }
    let time_text = if atom {
        node.text_of("published")
            .or_else(|| node.text_of("updated"))
    } else {
        node.text_of("pubDate")
            .or_else(|| node.text_of_ns("dc", "date"))
    };
    let time = match time_text {
        Some(t) => parse_time(&t).ok_or_else(|| format!("item date {t:?} is not a date"))?,
        None => opts.ingested,
    };
    let link = link_of(node, atom);
    let id = if atom {
        node.text_of("id")
    } else {
        node.text_of("guid")
    };
    let key = match id.or_else(|| link.clone()) {
        Some(i) => format!("news:{i}"),
        None => format!(
            "news:{:016x}",
            fnv64(
                format!(
                    "{}|{}",
                    title.as_deref().unwrap_or(""),
                    body.as_deref().unwrap_or("")
                )
                .as_bytes()
            )
        ),
    };
    let version = node.text_of("updated").unwrap_or_default();
    let mut d = Draft::new("public_report", time);
    d.activity = Some("news".into());
    d.url = link;
    d.message = match (&title, &body) {
        (Some(t), Some(b)) if !b.starts_with(t.as_str()) => Some(format!("{t}. {b}")),
        (Some(t), _) => Some(t.clone()),
        (None, b) => b.clone(),
    };
    if let Some((lat, lon)) = item_point(node) {
        d.geo = point(lat, lon, None);
    }
    let cats: Vec<String> = node
        .children_named("category")
        .filter_map(|c| c.trimmed().or_else(|| c.attr("term").map(str::to_owned)))
        .take(32)
        .collect();
    if !cats.is_empty() {
        d.field("categories", cats);
    }
    if let Some(t) = title {
        d.field("title", t);
    }
    if let Some(a) = node
        .text_of("author")
        .or_else(|| node.child("author").and_then(|a| a.text_of("name")))
        .or_else(|| node.text_of_ns("dc", "creator"))
    {
        d.person = Some(a);
    }
    Ok(d.finish(FeedKind::Rss, key, version, opts))
}

fn gdacs_severity(level: &str) -> Severity {
    match level.to_ascii_lowercase().as_str() {
        "red" => Severity::CRITICAL,
        "orange" => Severity::HIGH,
        "green" => Severity::LOW,
        _ => Severity::INFORMATIONAL,
    }
}

/// The hazard GDACS names with its two-letter code.
pub(crate) fn gdacs_hazard(code: &str) -> &'static str {
    match code.to_ascii_uppercase().as_str() {
        "EQ" => "earthquake",
        "TC" => "tropical_cyclone",
        "FL" => "flood",
        "VO" => "volcano",
        "DR" => "drought",
        "WF" => "wildfire",
        "TS" => "tsunami",
        _ => "other",
    }
}

fn gdacs_item(node: &Node, opts: &FeedOptions) -> Result<super::FeedItem, String> {
    let ty = node
        .text_of_ns("gdacs", "eventtype")
        .ok_or("missing gdacs:eventtype")?;
    let eid = node
        .text_of_ns("gdacs", "eventid")
        .ok_or("missing gdacs:eventid")?;
    let time_text = node
        .text_of_ns("gdacs", "fromdate")
        .or_else(|| node.text_of("pubDate"))
        .ok_or("missing gdacs:fromdate and pubDate")?;
    let time = parse_time(&time_text)
        .ok_or_else(|| format!("gdacs:fromdate {time_text:?} is not a date"))?;
    let level = node
        .text_of_ns("gdacs", "episodealertlevel")
        .or_else(|| node.text_of_ns("gdacs", "alertlevel"))
        .unwrap_or_default();
    let mut d = Draft::new("hazard_warning", time);
    d.activity = Some(gdacs_hazard(&ty).to_owned());
    d.severity = gdacs_severity(&level);
    d.confidence = Some(90);
    d.message = node.text_of("title").map(|t| strip_tags(&t));
    d.url = node.text_of("link");
    d.place = node.text_of_ns("gdacs", "country");
    if let Some((lat, lon)) = item_point(node) {
        // The bounding box is the area GDACS considers affected: its half-diagonal is the radius.
        let radius = node.text_of_ns("gdacs", "bbox").and_then(|b| {
            let v: Vec<f64> = b
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            match v.as_slice() {
                [lon_min, lon_max, lat_min, lat_max] => {
                    let a = tocsin_model::Geo::point(*lat_min, *lon_min);
                    let b = tocsin_model::Geo::point(*lat_max, *lon_max);
                    Some((a.distance_m(&b) / 2.0).min(2_000_000.0))
                }
                _ => None,
            }
        });
        d.geo = point(lat, lon, radius);
    }
    d.field("gdacs_event_type", ty.clone());
    d.field("gdacs_event_id", eid.clone());
    d.field("alert_level", level);
    for (k, name) in [
        ("episode_id", "episodeid"),
        ("event_name", "eventname"),
        ("iso3", "iso3"),
        ("severity_text", "severity"),
        ("population_text", "population"),
        ("is_current", "iscurrent"),
    ] {
        if let Some(v) = node.text_of_ns("gdacs", name) {
            d.field(k, v);
        }
    }
    if let Some(v) = node
        .child_ns("gdacs", "severity")
        .and_then(|n| n.attr("value"))
    {
        d.field("severity_value", v.to_owned());
    }
    let version = format!(
        "{}/{}",
        node.text_of_ns("gdacs", "episodeid").unwrap_or_default(),
        node.text_of_ns("gdacs", "version").unwrap_or_default()
    );
    Ok(d.finish(FeedKind::Gdacs, format!("gdacs:{ty}{eid}"), version, opts))
}
