//! Golden-file tests on realistic physical-security samples (ONVIF Notify bodies, SIA DC-03 and
//! Contact ID payloads, DC-09 frames) with snapshots in tests/snapshots, and property tests that
//! no input makes these parsers panic.

use chrono::{DateTime, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tocsin_model::EventInput;
use tocsin_parsers::dc09::{self, AesKey, FrameSpec};
use tocsin_parsers::onvif::{self, OnvifLimits};
use tocsin_parsers::sia::{self, PanelEvent};

fn now() -> DateTime<Utc> {
    "2026-05-04T02:30:00Z".parse().unwrap()
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The parts of an input that are set.
fn input_json(i: &EventInput) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    };
    let text = |v: &Option<String>| v.as_ref().map(|s| Value::from(s.as_str()));
    put("time", i.time.map(|t| json!(t)));
    put("domain", text(&i.domain));
    put("class", text(&i.class));
    put("activity", text(&i.activity));
    put("severity", i.severity.map(|s| Value::from(s.id())));
    put("confidence", i.confidence.map(Value::from));
    put("person", text(&i.person));
    put("badge", text(&i.badge));
    put("asset", text(&i.asset));
    put("site", text(&i.site));
    put("zone", text(&i.zone));
    put("portal", text(&i.portal));
    put("message", text(&i.message));
    put("fields", Some(Value::Object(i.fields.clone())));
    Value::Object(m)
}

fn onvif_golden(file: &str) -> Value {
    let notes = onvif::parse_notify(sample(file).as_bytes(), &OnvifLimits::default()).unwrap();
    Value::Array(
        notes
            .iter()
            .map(|n| input_json(&onvif::to_input(n, now())))
            .collect(),
    )
}

#[test]
fn onvif_access_control() {
    let v = onvif_golden("onvif_access.xml");
    let acts: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["activity"].as_str().unwrap())
        .collect();
    assert_eq!(acts, ["granted", "taken", "denied", "duress"]);
    insta::assert_json_snapshot!("onvif_access", v);
}

#[test]
fn onvif_doors_and_video() {
    let v = onvif_golden("onvif_door_video.xml");
    let acts: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["activity"].as_str().unwrap())
        .collect();
    assert_eq!(
        acts,
        [
            "forced",
            "door_opened",
            "tamper",
            "line_crossed",
            "input_active"
        ]
    );
    insta::assert_json_snapshot!("onvif_door_video", v);
}

fn panel_json(e: &PanelEvent) -> Value {
    json!({
        "class": e.class,
        "activity": e.activity,
        "severity": e.severity.id(),
        "account": e.account,
        "fields": e.fields(),
    })
}

#[test]
fn sia_and_contact_id_payloads() {
    let mut out = Vec::new();
    for line in sample("panel_events.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let (kind, payload) = line.split_once(' ').unwrap();
        let events = match kind {
            "sia" => sia::parse_sia(payload),
            _ => sia::parse_contact_id(payload),
        }
        .unwrap_or_else(|e| panic!("{line}: {e}"));
        out.push(
            json!({"payload": line, "events": events.iter().map(panel_json).collect::<Vec<_>>()}),
        );
    }
    insta::assert_json_snapshot!("panel_events", out);
}

#[test]
fn dc09_frames_to_inputs() {
    let key = AesKey::from_hex("0F1E2D3C4B5A69788796A5B4C3D2E1F0").unwrap();
    let frames = [
        (
            FrameSpec {
                token: "SIA-DCS",
                sequence: 17,
                receiver: Some("R1"),
                line: "L1",
                account: "1234",
                data: "#1234|Nri1/BA015/DF03",
                timestamp: Some(now()),
            },
            None,
        ),
        (
            FrameSpec {
                token: "ADM-CID",
                sequence: 18,
                receiver: None,
                line: "L0",
                account: "1234",
                data: "#1234|3130 01 015",
                timestamp: Some(now()),
            },
            None,
        ),
        (
            FrameSpec {
                token: "SIA-DCS",
                sequence: 19,
                receiver: Some("R2"),
                line: "L4",
                account: "BEEF",
                data: "#BEEF|Nid003/OP",
                timestamp: Some(now()),
            },
            Some(&key),
        ),
        (
            FrameSpec {
                token: "NULL",
                sequence: 20,
                receiver: Some("R1"),
                line: "L1",
                account: "1234",
                data: "",
                timestamp: Some(now()),
            },
            None,
        ),
    ];
    let mut out = Vec::new();
    for (spec, k) in &frames {
        let raw = dc09::encode(spec, *k, 7);
        let msg = dc09::parse(&raw, &|_: &str| Some(key.clone())).unwrap();
        let inputs: Vec<Value> = dc09::panel_events(&msg)
            .unwrap()
            .iter()
            .map(|e| input_json(&dc09::to_input(&msg, e, now())))
            .collect();
        let shown = if k.is_some() {
            "(encrypted)".to_owned()
        } else {
            String::from_utf8_lossy(&raw).escape_debug().to_string()
        };
        out.push(json!({"frame": shown, "events": inputs}));
    }
    insta::assert_json_snapshot!("dc09_frames", out);
}

proptest! {
    #[test]
    fn dc09_never_panics(bytes in vec(any::<u8>(), 0..600)) {
        let key = AesKey::from_hex("000102030405060708090A0B0C0D0E0F").unwrap();
        let _ = dc09::parse(&bytes, &|_: &str| Some(key.clone()));
        let _ = dc09::header_of(&bytes);
    }

    #[test]
    fn dc09_damaged_frames_never_panic(flip in 0usize..80, to in any::<u8>()) {
        let raw = dc09::encode(&FrameSpec { token: "SIA-DCS", sequence: 1, receiver: Some("R1"), line: "L1", account: "1234", data: "#1234|Nri1/BA015", timestamp: Some(now()) }, None, 0);
        let mut bad = raw.clone();
        if let Some(b) = bad.get_mut(flip % raw.len()) { *b = to; }
        if let Ok(m) = dc09::parse(&bad, &|_: &str| None) {
            let _ = dc09::panel_events(&m);
        }
    }

    #[test]
    fn dc09_valid_frames_with_any_payload_never_panic(data in "[ -~]{0,80}") {
        let raw = dc09::encode(&FrameSpec { token: "SIA-DCS", sequence: 2, receiver: None, line: "L1", account: "1234", data: &data, timestamp: None }, None, 0);
        if let Ok(m) = dc09::parse(&raw, &|_: &str| None)
            && let Ok(events) = dc09::panel_events(&m)
        {
            for e in &events {
                let _ = dc09::to_input(&m, e, now());
            }
        }
    }

    #[test]
    fn sia_and_cid_never_panic(text in "\\PC{0,120}") {
        let _ = sia::parse_sia(&text);
        let _ = sia::parse_contact_id(&text);
    }

    #[test]
    fn onvif_never_panics(bytes in vec(any::<u8>(), 0..800)) {
        if let Ok(notes) = onvif::parse_notify(&bytes, &OnvifLimits::default()) {
            for n in &notes {
                let _ = onvif::to_input(n, now());
            }
        }
    }

    #[test]
    fn onvif_xml_shaped_input_never_panics(
        topic in "[A-Za-z:/]{0,40}",
        name in "[A-Za-z]{0,12}",
        value in "\\PC{0,20}",
        cut in 0usize..600,
    ) {
        let value = value.replace(['<', '&', '"'], "");
        let doc = format!(r#"<Notify><NotificationMessage><Topic>{topic}</Topic><Message><Message UtcTime="{value}"><Source><SimpleItem Name="{name}" Value="{value}"/></Source><Data><SimpleItem Name="State" Value="{value}"/></Data></Message></Message></NotificationMessage></Notify>"#);
        let bytes = doc.as_bytes();
        for b in [bytes, &bytes[..cut.min(bytes.len())]] {
            if let Ok(notes) = onvif::parse_notify(b, &OnvifLimits::default()) {
                for n in &notes {
                    let _ = onvif::to_input(n, now());
                }
            }
        }
    }
}
