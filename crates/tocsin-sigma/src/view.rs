//! How Sigma sees an event: field lookup and logsource, for Tocsin events and for raw JSON.

use std::borrow::Cow;

use rsigma_eval::event::{Event as SigmaEvent, EventValue};
use serde_json::{Map, Value};
use tocsin_model::Event;

use crate::logsource::{EventLogsource, class_logsource};

/// Nesting followed by dotted field names and keyword search, as deep as Tocsin's own limit.
const MAX_DEPTH: usize = 32;

/// A Tocsin event as Sigma sees it: `fields` first, then the model's own top-level fields
/// (`user`, `host`, `person_id`, `site_id`, ...) for names `fields` lacks.
pub struct ModelEventView<'a> {
    event: &'a Event,
}

impl<'a> ModelEventView<'a> {
    pub fn new(event: &'a Event) -> Self {
        Self { event }
    }

    /// The model field of that name, when set.
    fn model_field(&self, name: &str) -> Option<&'a str> {
        let e = self.event;
        match name {
            "user" => e.user.as_deref(),
            "host" => e.host.as_deref(),
            "person" => e.person.as_deref(),
            "person_id" => e.person_id.as_deref(),
            "badge" => e.badge.as_deref(),
            "ip" => e.ip.as_deref(),
            "src_ip" => e.src_ip.as_deref(),
            "dst_ip" => e.dst_ip.as_deref(),
            "asset" => e.asset.as_deref(),
            "asset_id" => e.asset_id.as_deref(),
            "site" => e.site.as_deref(),
            "site_id" => e.site_id.as_deref(),
            "zone" => e.zone.as_deref(),
            "zone_id" => e.zone_id.as_deref(),
            "portal" => e.portal.as_deref(),
            "class" => Some(e.class.as_str()),
            "activity" => e.activity.as_deref(),
            "source" => Some(e.source.as_str()),
            "domain" => Some(e.domain.as_str()),
            "tenant" => Some(e.tenant.as_str()),
            "message" => e.message.as_deref(),
            "place" => e.place.as_deref(),
            "url" => e.url.as_deref(),
            _ => None,
        }
    }

    fn model_fields(&self) -> impl Iterator<Item = (&'static str, &'a str)> + '_ {
        MODEL_FIELDS
            .iter()
            .filter_map(|n| self.model_field(n).map(|v| (*n, v)))
    }
}

const MODEL_FIELDS: &[&str] = &[
    "user",
    "host",
    "person",
    "person_id",
    "badge",
    "ip",
    "src_ip",
    "dst_ip",
    "asset",
    "asset_id",
    "site",
    "site_id",
    "zone",
    "zone_id",
    "portal",
    "class",
    "activity",
    "source",
    "domain",
    "tenant",
    "message",
    "place",
    "url",
];

/// Looks a dotted path up in nested objects; through an array, any member may hold it.
fn lookup_path<'v>(fields: &'v Map<String, Value>, path: &str) -> Option<EventValue<'v>> {
    if let Some(v) = fields.get(path) {
        return Some(EventValue::from(v));
    }
    if !path.contains('.') {
        return None;
    }
    let mut segments = path.split('.');
    let first = segments.next()?;
    let mut found = Vec::new();
    collect(
        fields.get(first)?,
        &mut segments.collect::<Vec<_>>(),
        &mut found,
        0,
    );
    match found.len() {
        0 => None,
        1 => found.pop(),
        _ => Some(EventValue::Array(found)),
    }
}

fn collect<'v>(v: &'v Value, rest: &mut [&str], out: &mut Vec<EventValue<'v>>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match (rest.split_first_mut(), v) {
        (None, v) => out.push(EventValue::from(v)),
        (Some((seg, tail)), Value::Object(m)) => {
            if let Some(next) = m.get(*seg) {
                collect(next, tail, out, depth + 1);
            }
        }
        (Some(_), Value::Array(items)) => {
            for item in items {
                collect(item, rest, out, depth + 1);
            }
        }
        (Some(_), _) => {}
    }
}

fn visit_strings(v: &Value, visit: &mut dyn FnMut(&str), depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::String(s) => visit(s),
        Value::Array(items) => items
            .iter()
            .for_each(|i| visit_strings(i, visit, depth + 1)),
        Value::Object(m) => m.values().for_each(|i| visit_strings(i, visit, depth + 1)),
        _ => {}
    }
}

fn any_string(v: &Value, pred: &dyn Fn(&str) -> bool, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match v {
        Value::String(s) => pred(s),
        Value::Array(items) => items.iter().any(|i| any_string(i, pred, depth + 1)),
        Value::Object(m) => m.values().any(|i| any_string(i, pred, depth + 1)),
        _ => false,
    }
}

impl SigmaEvent for ModelEventView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        lookup_path(&self.event.fields, path).or_else(|| {
            self.model_field(path)
                .map(|v| EventValue::Str(Cow::Borrowed(v)))
        })
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.event.fields.values().any(|v| any_string(v, pred, 0))
            || self.event.message.as_deref().is_some_and(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        self.visit_string_values(&mut |s| out.push(Cow::Owned(s.to_owned())));
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        for v in self.event.fields.values() {
            visit_strings(v, visit, 0);
        }
        if let Some(m) = self.event.message.as_deref() {
            visit(m);
        }
    }

    fn to_json(&self) -> Value {
        let mut m = self.event.fields.clone();
        for (k, v) in self.model_fields() {
            m.entry(k).or_insert_with(|| Value::String(v.to_owned()));
        }
        Value::Object(m)
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        let mut keys: Vec<Cow<'_, str>> = self
            .event
            .fields
            .keys()
            .map(|k| Cow::Borrowed(k.as_str()))
            .collect();
        keys.extend(self.model_fields().map(|(k, _)| Cow::Borrowed(k)));
        Some(keys)
    }

    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        for k in self.event.fields.keys() {
            visit(k);
        }
        for (k, _) in self.model_fields() {
            visit(k);
        }
        true
    }
}

/// `EventID` as a number, whether the source wrote it as a number or a string.
fn event_id(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The Windows part of a logsource from flat fields (`Channel`, `EventID`, `EventType`).
fn add_windows_fields(fields: &Map<String, Value>, ls: &mut EventLogsource) {
    if let Some(Value::String(channel)) = fields.get("Channel") {
        let event_type = match fields.get("EventType") {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        };
        ls.add_windows(channel, event_id(fields.get("EventID")), event_type);
    }
}

/// The logsource of a raw JSON event (flat, as Windows event forwarders write it).
pub fn json_logsource(event: &Value) -> EventLogsource {
    let mut ls = EventLogsource::default();
    if let Value::Object(fields) = event {
        add_windows_fields(fields, &mut ls);
    }
    ls
}

/// The logsource of a Tocsin event: Windows fields when present, plus `category: <class>`,
/// `service: <source>` and the class's product (`pacs` for `physical_access`, ...).
pub fn event_logsource(event: &Event) -> EventLogsource {
    let mut ls = EventLogsource::default();
    add_windows_fields(&event.fields, &mut ls);
    ls.add_category(&event.class);
    ls.add_service(&event.source);
    if let Some(p) = class_logsource(&event.class) {
        ls.add_product(p);
    }
    ls
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(fields: Value) -> Event {
        let ctx = tocsin_model::IngestContext {
            source: "hq-doors",
            tenant: "default",
            domain: None,
            ingested: chrono::Utc::now(),
            id: ulid::Ulid::nil(),
            limits: tocsin_model::Limits::default(),
        };
        let mut e = Event::from_value(
            json!({"time": "2026-05-04T02:13:07Z", "domain": "physical", "class": "physical_access",
                   "activity": "denied", "badge": "0x3F21A9", "fields": fields}),
            &ctx,
        )
        .unwrap();
        e.person_id = Some("p-17".into());
        e
    }

    #[test]
    fn fields_come_first_then_model_fields() {
        let e = event(json!({"badge": "from-fields", "Door": {"Name": "DC2"}}));
        let v = ModelEventView::new(&e);
        assert_eq!(
            v.get_field("badge").unwrap().as_str().unwrap(),
            "from-fields"
        );
        assert_eq!(v.get_field("person_id").unwrap().as_str().unwrap(), "p-17");
        assert_eq!(v.get_field("Door.Name").unwrap().as_str().unwrap(), "DC2");
        assert!(v.get_field("host").is_none());
    }

    #[test]
    fn physical_event_has_documented_logsource() {
        let e = event(json!({}));
        let ls = event_logsource(&e);
        assert_eq!(ls.products, ["pacs"]);
        assert_eq!(ls.categories, ["physical_access"]);
        assert_eq!(ls.services, ["hq-doors"]);
    }

    #[test]
    fn string_event_id_and_lower_case_channel_route() {
        let ls = json_logsource(
            &json!({"Channel": "microsoft-windows-sysmon/operational", "EventID": "1"}),
        );
        assert_eq!(ls.categories, ["process_creation"]);
    }
}
