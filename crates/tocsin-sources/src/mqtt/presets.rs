//! Ready-made readings of common MQTT sensor payloads (the flat JSON that zigbee2mqtt, Tasmota,
//! ESPHome and most bridges publish, one device per topic, the device name as the last topic
//! level) and of Frigate's `frigate/events` video-analytics stream.
//!
//! | preset | payload keys read | event |
//! |---|---|---|
//! | `door_contact` | `contact` (false = open), `door`/`state` (`open`/`closed`), `open` | `alarm` `door_opened` / `door_closed`, `portal` = device |
//! | `motion` | `occupancy`, `motion`, `presence` | `alarm` `motion` / `motion_cleared`, `asset` = device |
//! | `tamper` | `tamper`, `tampered` | `alarm` `tamper` / `tamper_restore` |
//! | `environment` | `temperature`, `humidity`, `smoke`, `water_leak`/`water_leak`/`leak` | `alarm` `smoke`, `water`, `high_temperature`, `high_humidity`, else `environment` `reading` |
//! | `frigate` | `type` (`new`/`update`/`end`), `before`, `after` | one `video_analytic` `object_detected` per object track, at its end |

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use tocsin_model::{EventInput, Severity};

/// Which ready-made reading a subscription uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MqttPreset {
    DoorContact,
    Motion,
    Tamper,
    Environment,
    Frigate,
}

/// Thresholds of the `environment` preset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub max_temperature: f64,
    pub max_humidity: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_temperature: 32.0,
            max_humidity: 80.0,
        }
    }
}

fn device(topic: &str) -> String {
    topic.rsplit('/').next().unwrap_or(topic).to_owned()
}

fn boolean(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|x| x != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "1" | "yes" | "detected" | "active" => Some(true),
            "false" | "off" | "0" | "no" | "clear" | "inactive" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn first<'a>(r: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| r.get(*k).filter(|v| !v.is_null()))
}

fn base(
    class: &str,
    activity: &str,
    severity: Severity,
    message: String,
    record: Map<String, Value>,
    now: DateTime<Utc>,
) -> EventInput {
    EventInput {
        time: Some(now),
        domain: Some("physical".into()),
        class: Some(class.into()),
        activity: Some(activity.into()),
        severity: Some(severity),
        message: Some(message),
        fields: record,
        ..EventInput::default()
    }
}

/// Reads one sensor payload with a stateless preset (all but `frigate`).
pub fn sensor(
    preset: MqttPreset,
    topic: &str,
    record: Map<String, Value>,
    thresholds: Thresholds,
    now: DateTime<Utc>,
) -> Result<EventInput, String> {
    let dev = device(topic);
    match preset {
        MqttPreset::DoorContact => {
            let open = match first(&record, &["contact"]) {
                Some(v) => boolean(Some(v)).map(|closed| !closed),
                None => match first(&record, &["door", "state", "open"]) {
                    Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                        "open" | "opened" => Some(true),
                        "closed" | "close" => Some(false),
                        _ => None,
                    },
                    other => boolean(other),
                },
            }
            .ok_or("door_contact: no `contact`, `door`, `state` or `open` with a readable value")?;
            let activity = if open { "door_opened" } else { "door_closed" };
            let mut i = base(
                "alarm",
                activity,
                Severity::INFORMATIONAL,
                format!("door {dev} {}", if open { "opened" } else { "closed" }),
                record,
                now,
            );
            i.portal = Some(dev);
            Ok(i)
        }
        MqttPreset::Motion => {
            let on = boolean(first(&record, &["occupancy", "motion", "presence"]))
                .ok_or("motion: no `occupancy`, `motion` or `presence` with a readable value")?;
            let mut i = if on {
                base(
                    "alarm",
                    "motion",
                    Severity::LOW,
                    format!("motion at {dev}"),
                    record,
                    now,
                )
            } else {
                base(
                    "alarm",
                    "motion_cleared",
                    Severity::INFORMATIONAL,
                    format!("no more motion at {dev}"),
                    record,
                    now,
                )
            };
            i.asset = Some(dev);
            Ok(i)
        }
        MqttPreset::Tamper => {
            let on = boolean(first(&record, &["tamper", "tampered"]))
                .ok_or("tamper: no `tamper` or `tampered` with a readable value")?;
            let mut i = if on {
                base(
                    "alarm",
                    "tamper",
                    Severity::HIGH,
                    format!("{dev} tampered"),
                    record,
                    now,
                )
            } else {
                base(
                    "alarm",
                    "tamper_restore",
                    Severity::LOW,
                    format!("{dev} no longer tampered"),
                    record,
                    now,
                )
            };
            i.asset = Some(dev);
            Ok(i)
        }
        MqttPreset::Environment => {
            let temp = number(record.get("temperature"));
            let hum = number(record.get("humidity"));
            let smoke = boolean(record.get("smoke"));
            let water = boolean(first(&record, &["water_leak", "water", "leak"]));
            if temp.is_none() && hum.is_none() && smoke.is_none() && water.is_none() {
                return Err(
                    "environment: none of `temperature`, `humidity`, `smoke`, `water_leak` is readable"
                        .into(),
                );
            }
            let mut reading = Vec::new();
            if let Some(t) = temp {
                reading.push(format!("{t} °C"));
            }
            if let Some(h) = hum {
                reading.push(format!("{h} % RH"));
            }
            let reading = reading.join(", ");
            let (class, activity, sev, what) = if smoke == Some(true) {
                ("alarm", "smoke", Severity::CRITICAL, "smoke detected")
            } else if water == Some(true) {
                ("alarm", "water", Severity::HIGH, "water leak detected")
            } else if temp.is_some_and(|t| t > thresholds.max_temperature) {
                (
                    "alarm",
                    "high_temperature",
                    Severity::HIGH,
                    "temperature too high",
                )
            } else if hum.is_some_and(|h| h > thresholds.max_humidity) {
                (
                    "alarm",
                    "high_humidity",
                    Severity::MEDIUM,
                    "humidity too high",
                )
            } else {
                ("environment", "reading", Severity::INFORMATIONAL, "reading")
            };
            let msg = if reading.is_empty() {
                format!("{dev}: {what}")
            } else {
                format!("{dev}: {what} ({reading})")
            };
            let mut i = base(class, activity, sev, msg, record, now);
            i.asset = Some(dev);
            Ok(i)
        }
        MqttPreset::Frigate => Err("frigate payloads are grouped per track, not read alone".into()),
    }
}

/// One open Frigate object track.
#[derive(Debug, Clone)]
struct Track {
    first: Map<String, Value>,
    last: Map<String, Value>,
    zones: Vec<String>,
    updates: u64,
    opened: DateTime<Utc>,
}

/// Frigate events grouped per object track (`after.id`): `new` opens a track, `update`s refine
/// it, `end` closes it and gives the one event. Bounded: when `capacity` tracks are open, the
/// oldest is closed early and its event marked `complete = false`.
#[derive(Debug)]
pub struct FrigateTracks {
    open: HashMap<String, Track>,
    capacity: usize,
}

impl FrigateTracks {
    pub fn new(capacity: usize) -> Self {
        Self {
            open: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Tracks open now.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// Takes one `frigate/events` payload; returns the events of tracks it closed.
    pub fn handle(
        &mut self,
        record: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventInput>, String> {
        let kind = record
            .get("type")
            .and_then(Value::as_str)
            .ok_or("frigate: `type` (new, update, end) is missing")?;
        let after = record
            .get("after")
            .and_then(Value::as_object)
            .ok_or("frigate: `after` object is missing")?;
        let id = after
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or("frigate: `after.id` is missing")?
            .to_owned();
        let mut out = Vec::new();
        match kind {
            "new" | "update" => {
                if !self.open.contains_key(&id) && self.open.len() >= self.capacity {
                    let oldest = self
                        .open
                        .iter()
                        .min_by_key(|(_, t)| t.opened)
                        .map(|(k, _)| k.clone());
                    if let Some(k) = oldest
                        && let Some(t) = self.open.remove(&k)
                    {
                        out.push(track_event(&k, t, false, now));
                    }
                }
                let track = self.open.entry(id).or_insert_with(|| Track {
                    first: record
                        .get("before")
                        .and_then(Value::as_object)
                        .filter(|b| !b.is_empty())
                        .unwrap_or(after)
                        .clone(),
                    last: after.clone(),
                    zones: Vec::new(),
                    updates: 0,
                    opened: now,
                });
                if kind == "update" {
                    track.updates += 1;
                }
                track.last = after.clone();
                merge_zones(&mut track.zones, after);
            }
            "end" => {
                let mut t = self.open.remove(&id).unwrap_or_else(|| Track {
                    first: after.clone(),
                    last: after.clone(),
                    zones: Vec::new(),
                    updates: 0,
                    opened: now,
                });
                t.last = after.clone();
                merge_zones(&mut t.zones, after);
                out.push(track_event(&id, t, true, now));
            }
            other => {
                return Err(format!(
                    "frigate: `type` {other:?} is not new, update or end"
                ));
            }
        }
        Ok(out)
    }
}

fn merge_zones(zones: &mut Vec<String>, after: &Map<String, Value>) {
    for key in ["entered_zones", "current_zones"] {
        if let Some(Value::Array(a)) = after.get(key) {
            for z in a.iter().filter_map(Value::as_str) {
                if zones.len() < 32 && !zones.iter().any(|x| x == z) {
                    zones.push(z.to_owned());
                }
            }
        }
    }
}

fn unix(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let secs = number(v)?;
    if !(0.0..1e11).contains(&secs) {
        return None;
    }
    let whole = secs.floor();
    // Bounded above, so the casts are exact.
    DateTime::from_timestamp(whole as i64, ((secs - whole) * 1e9) as u32)
}

fn track_event(id: &str, t: Track, complete: bool, now: DateTime<Utc>) -> EventInput {
    let s = |k: &str| t.last.get(k).and_then(Value::as_str).map(str::to_owned);
    let label = s("label").unwrap_or_else(|| "object".into());
    let camera = s("camera").unwrap_or_else(|| "camera".into());
    let start = unix(t.first.get("start_time")).or_else(|| unix(t.last.get("start_time")));
    let end = unix(t.last.get("end_time"));
    let score = number(t.last.get("top_score")).or_else(|| number(t.last.get("score")));
    let mut fields = Map::new();
    fields.insert("track_id".into(), Value::from(id));
    fields.insert("label".into(), Value::from(label.as_str()));
    fields.insert("camera".into(), Value::from(camera.as_str()));
    fields.insert("updates".into(), Value::from(t.updates));
    fields.insert("complete".into(), Value::from(complete));
    fields.insert(
        "zones".into(),
        Value::Array(t.zones.iter().map(|z| Value::from(z.as_str())).collect()),
    );
    if let Some(sc) = score {
        fields.insert("top_score".into(), Value::from(sc));
    }
    if let (Some(a), Some(b)) = (start, end) {
        fields.insert(
            "duration_secs".into(),
            Value::from((b - a).num_milliseconds() as f64 / 1000.0),
        );
    }
    fields.insert("before".into(), Value::Object(t.first));
    fields.insert("after".into(), Value::Object(t.last));
    let confidence = score.map(|s| (s * 100.0).round().clamp(0.0, 100.0) as u8);
    let mut message = format!("{label} seen by {camera}");
    if !t.zones.is_empty() {
        message.push_str(&format!(" in {}", t.zones.join(", ")));
    }
    EventInput {
        time: Some(start.unwrap_or(now)),
        domain: Some("physical".into()),
        class: Some("video_analytic".into()),
        activity: Some("object_detected".into()),
        severity: Some(if label == "person" {
            Severity::LOW
        } else {
            Severity::INFORMATIONAL
        }),
        confidence,
        asset: Some(camera),
        zone: t.zones.first().cloned(),
        message: Some(message),
        fields,
        ..EventInput::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-05-04T02:13:08Z".parse().unwrap()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sensors() {
        let t = Thresholds::default();
        let i = sensor(
            MqttPreset::DoorContact,
            "z2m/DC-SRV-ROOM-A",
            obj(json!({"contact": false})),
            t,
            now(),
        )
        .unwrap();
        assert_eq!(i.activity.as_deref(), Some("door_opened"));
        assert_eq!(i.portal.as_deref(), Some("DC-SRV-ROOM-A"));
        let i = sensor(
            MqttPreset::DoorContact,
            "d",
            obj(json!({"door": "CLOSED"})),
            t,
            now(),
        )
        .unwrap();
        assert_eq!(i.activity.as_deref(), Some("door_closed"));
        let i = sensor(
            MqttPreset::Environment,
            "env/srv",
            obj(json!({"temperature": 35.5, "humidity": 40})),
            t,
            now(),
        )
        .unwrap();
        assert_eq!(i.activity.as_deref(), Some("high_temperature"));
        let i = sensor(
            MqttPreset::Environment,
            "env/srv",
            obj(json!({"temperature": 21, "water_leak": true})),
            t,
            now(),
        )
        .unwrap();
        assert_eq!(i.activity.as_deref(), Some("water"));
        let i = sensor(
            MqttPreset::Environment,
            "env/srv",
            obj(json!({"temperature": 21})),
            t,
            now(),
        )
        .unwrap();
        assert_eq!(
            (i.class.as_deref(), i.activity.as_deref()),
            (Some("environment"), Some("reading"))
        );
        assert!(
            sensor(
                MqttPreset::Motion,
                "m",
                obj(json!({"battery": 80})),
                t,
                now()
            )
            .is_err()
        );
        let i = sensor(
            MqttPreset::Tamper,
            "t/x",
            obj(json!({"tamper": "on"})),
            t,
            now(),
        )
        .unwrap();
        assert_eq!(i.activity.as_deref(), Some("tamper"));
    }

    #[test]
    fn frigate_tracks_make_one_event_each_and_stay_bounded() {
        let mut f = FrigateTracks::new(2);
        let ev = |kind: &str, id: &str, zones: Value| {
            obj(
                json!({"type": kind, "before": {}, "after": {"id": id, "camera": "cam-hq-01", "label": "person", "top_score": 0.91, "start_time": 1777860787.5, "end_time": null, "entered_zones": zones}}),
            )
        };
        assert!(
            f.handle(&ev("new", "a", json!([])), now())
                .unwrap()
                .is_empty()
        );
        assert!(
            f.handle(&ev("update", "a", json!(["lobby"])), now())
                .unwrap()
                .is_empty()
        );
        assert!(
            f.handle(&ev("update", "a", json!(["lobby", "stairs"])), now())
                .unwrap()
                .is_empty()
        );
        let out = f.handle(&ev("end", "a", json!(["lobby"])), now()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].zone.as_deref(), Some("lobby"));
        assert_eq!(out[0].fields["updates"], 2);
        assert_eq!(out[0].fields["zones"], json!(["lobby", "stairs"]));
        assert_eq!(out[0].confidence, Some(91));
        assert_eq!(f.open(), 0);
        f.handle(&ev("new", "b", json!([])), now()).unwrap();
        f.handle(&ev("new", "c", json!([])), now()).unwrap();
        let out = f.handle(&ev("new", "d", json!([])), now()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].fields["complete"], false);
        assert_eq!(f.open(), 2);
        assert!(
            f.handle(&obj(json!({"type": "gone", "after": {"id": "x"}})), now())
                .is_err()
        );
    }
}
