//! Golden-file tests on realistic samples (tests/samples, snapshots in tests/snapshots) and
//! property tests that no input makes a parser panic.

use chrono::{DateTime, FixedOffset, Utc};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tocsin_model::EventInput;
use tocsin_parsers::body::{self, RawRecord, RawRecordOwned};
use tocsin_parsers::mapping::{Mapping, Step};
use tocsin_parsers::syslog::{self, Payload, SyslogOptions};
use tocsin_parsers::{cef, leef, normalise};

fn now() -> DateTime<Utc> {
    "2026-05-04T02:13:08Z".parse().unwrap()
}

fn opts() -> SyslogOptions {
    SyslogOptions::new(now())
}

/// The parts of an input that are set, as JSON (EventInput is only Deserialize).
fn input_json(i: &EventInput) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    };
    let text = |v: &Option<String>| v.as_ref().map(|s| Value::from(s.as_str()));
    put("time", i.time.map(|t| serde_json::to_value(t).unwrap()));
    put(
        "observed",
        i.observed.map(|t| serde_json::to_value(t).unwrap()),
    );
    put("tenant", text(&i.tenant));
    put("domain", text(&i.domain));
    put("class", text(&i.class));
    put("activity", text(&i.activity));
    put("severity", i.severity.map(|s| Value::from(s.id())));
    put("confidence", i.confidence.map(Value::from));
    put("derivation", text(&i.derivation));
    put("person", text(&i.person));
    put("user", text(&i.user));
    put("badge", text(&i.badge));
    put("host", text(&i.host));
    put("ip", text(&i.ip));
    put("src_ip", text(&i.src_ip));
    put("dst_ip", text(&i.dst_ip));
    put("asset", text(&i.asset));
    put("site", text(&i.site));
    put("zone", text(&i.zone));
    put("portal", text(&i.portal));
    put(
        "geo",
        i.geo.as_ref().map(|g| serde_json::to_value(g).unwrap()),
    );
    put("place", text(&i.place));
    put("url", text(&i.url));
    put("message", text(&i.message));
    put("fields", Some(Value::Object(i.fields.clone())));
    Value::Object(m)
}

/// Every non-empty line of a sample: the parsed message and the normalised input.
fn syslog_sample(bytes: &[u8], opts: &SyslogOptions) -> Value {
    let lines: Vec<Value> = bytes
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| match syslog::parse(line, opts) {
            Ok(msg) => json!({
                "message": msg,
                "input": input_json(&normalise::syslog_to_input(&msg)),
            }),
            Err(e) => json!({ "error": e.to_string() }),
        })
        .collect();
    Value::Array(lines)
}

fn parsed_json(p: &Result<Map<String, Value>, String>) -> Value {
    match p {
        Ok(m) => Value::Object(m.clone()),
        Err(e) => json!({ "error": e }),
    }
}

fn records_json(rs: &[RawRecord<'_>]) -> Value {
    rs.iter()
        .map(|r| {
            json!({
                "line": r.line,
                "raw": String::from_utf8_lossy(r.raw),
                "parsed": parsed_json(&r.parsed),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct Config {
    sources: Vec<SourceConfig>,
}

#[derive(Deserialize)]
struct SourceConfig {
    name: String,
    mapping: Mapping,
}

fn load_mapping(toml_text: &str) -> Mapping {
    let config: Config = toml::from_str(toml_text).unwrap();
    let source = config.sources.into_iter().next().unwrap();
    assert!(!source.name.is_empty());
    source.mapping.validate().unwrap();
    source.mapping
}

fn mapped_json(line: u64, parsed: &Result<Map<String, Value>, String>, m: &Mapping) -> Value {
    let result = match parsed {
        Ok(record) => match m.apply(record.clone()) {
            Ok(input) => input_json(&input),
            Err(e) => json!({ "mapping_error": e.to_string() }),
        },
        Err(e) => json!({ "record_error": e }),
    };
    json!({ "line": line, "result": result })
}

#[test]
fn rfc5424_with_structured_data() {
    let v = syslog_sample(include_bytes!("samples/rfc5424_sd.log"), &opts());
    insta::assert_json_snapshot!("rfc5424_sd", v);
}

#[test]
fn rfc3164_from_a_linux_host() {
    let mut o = opts();
    o.default_tz = FixedOffset::east_opt(2 * 3600).unwrap();
    let v = syslog_sample(include_bytes!("samples/rfc3164_linux.log"), &o);
    insta::assert_json_snapshot!("rfc3164_linux", v);
}

#[test]
fn rfc3164_from_cisco_devices() {
    let v = syslog_sample(include_bytes!("samples/rfc3164_cisco.log"), &opts());
    insta::assert_json_snapshot!("rfc3164_cisco", v);
}

#[test]
fn cef_from_a_firewall() {
    let mut o = opts();
    o.default_tz = FixedOffset::east_opt(2 * 3600).unwrap();
    let v = syslog_sample(include_bytes!("samples/cef_firewall.log"), &o);
    insta::assert_json_snapshot!("cef_firewall", v);
}

#[test]
fn cef_from_an_ids_with_escapes_in_syslog_and_bare() {
    let v = syslog_sample(include_bytes!("samples/cef_ids.log"), &opts());
    insta::assert_json_snapshot!("cef_ids", v);
}

#[test]
fn bare_cef_parses_the_same_alone_and_inside_syslog() {
    let text = include_str!("samples/cef_ids.log");
    let bare_line = text.lines().nth(1).unwrap();
    let alone = cef::parse(bare_line).unwrap();
    let in_syslog = syslog::parse(bare_line.as_bytes(), &opts()).unwrap();
    assert_eq!(in_syslog.payload, Payload::Cef(alone.clone()));
    assert_eq!((in_syslog.facility, in_syslog.severity), (1, 5));
    let with_header = format!("<134>May  4 02:13:07 ids-02 {bare_line}");
    let m = syslog::parse(with_header.as_bytes(), &opts()).unwrap();
    assert_eq!(m.payload, Payload::Cef(alone));
}

#[test]
fn leef_1_and_2() {
    let v = syslog_sample(include_bytes!("samples/leef.log"), &opts());
    insta::assert_json_snapshot!("leef", v);
}

#[test]
fn mapping_applied_to_a_badge_log_in_csv() {
    let m = load_mapping(include_str!("samples/badge_csv_mapping.toml"));
    let records = body::split_csv(include_bytes!("samples/badge_log.csv"), 100, 4096);
    let v: Vec<Value> = records
        .iter()
        .map(|r: &RawRecordOwned| mapped_json(r.line, &r.parsed, &m))
        .collect();
    insta::assert_json_snapshot!("badge_csv_mapped", v);
}

#[test]
fn mapping_applied_to_a_badge_log_in_ndjson() {
    let m = load_mapping(include_str!("samples/badge_json_mapping.toml"));
    let records = body::split_json(include_bytes!("samples/badge_log.ndjson"), 100, 4096);
    let v: Vec<Value> = records
        .iter()
        .map(|r| mapped_json(r.line, &r.parsed, &m))
        .collect();
    insta::assert_json_snapshot!("badge_json_mapped", v);
}

#[test]
fn mapping_refines_syslog_defaults() {
    let line = include_str!("samples/rfc5424_sd.log")
        .lines()
        .nth(1)
        .unwrap();
    let msg = syslog::parse(line.as_bytes(), &opts()).unwrap();
    let m: Mapping = toml::from_str(
        r#"
        [[steps]]
        op = "copy"
        from = "syslog.sd.badge@53595.card"
        to = "badge"
        [[steps]]
        op = "copy"
        from = "syslog.sd.badge@53595.reader"
        to = "portal"
        [[steps]]
        op = "lookup"
        from = "syslog.msgid"
        to = "activity"
        table = { DENY = "denied", GRANT = "granted" }
        [[steps]]
        op = "constant"
        to = "class"
        value = "physical_access"
        "#,
    )
    .unwrap();
    m.validate().unwrap();
    let input = m.apply_to(normalise::syslog_to_input(&msg)).unwrap();
    assert_eq!(input.badge.as_deref(), Some("0x3F21A9"));
    assert_eq!(input.portal.as_deref(), Some("AP-DC2-SRV"));
    assert_eq!(input.activity.as_deref(), Some("denied"));
    assert_eq!(input.class.as_deref(), Some("physical_access"));
    assert_eq!(input.host.as_deref(), Some("door-ctl-07"));
    assert_eq!(
        input.time,
        Some("2026-05-04T02:13:07.003Z".parse().unwrap())
    );
}

#[test]
fn bodies_object_array_and_ndjson_with_a_bad_line() {
    let object = body::split_json(include_bytes!("samples/body_object.json"), 100, 4096);
    let array = body::split_json(include_bytes!("samples/body_array.json"), 100, 4096);
    let ndjson = body::split_json(include_bytes!("samples/body_ndjson.ndjson"), 100, 4096);
    insta::assert_json_snapshot!(
        "bodies",
        json!({
            "object": records_json(&object),
            "array": records_json(&array),
            "ndjson": records_json(&ndjson),
        })
    );
}

// Property tests: no input makes any parser panic, and what the escape rules promise holds.

fn esc_cef_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

fn esc_cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn esc_sd_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(']', "\\]")
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z0-9 :/.+-]{0,16}".prop_map(Value::from),
        prop_oneof![
            Just("OK"),
            Just("NOK"),
            Just("high"),
            Just("2026-05-04T02:13:07Z"),
            Just("04/05/2026 04:13:07"),
            Just("1777860787000"),
            Just("48.85"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(arb_key(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ts".to_owned()),
        Just("card".to_owned()),
        Just("result".to_owned()),
        Just("door".to_owned()),
        Just("name".to_owned()),
        Just("lat".to_owned()),
        Just("lon".to_owned()),
        Just("EvtID".to_owned()),
        "[a-z.]{1,6}",
    ]
}

fn every_step_mapping() -> Mapping {
    let m: Mapping = serde_json::from_value(json!({ "steps": [
        {"op": "rename", "from": "EvtID", "to": "EventID", "optional": true},
        {"op": "rename", "from": "door.name", "to": "door_name", "optional": true},
        {"op": "timestamp", "from": "ts", "formats": ["rfc3339", "unix_ms", "unix", "%d/%m/%Y %H:%M:%S"], "timezone": "+02:00", "optional": true},
        {"op": "timestamp", "from": "ts", "to": "fields.ts_norm", "formats": ["rfc3339"], "optional": true},
        {"op": "copy", "from": "card", "to": "badge", "optional": true},
        {"op": "copy", "from": "card", "to": "severity", "optional": true},
        {"op": "copy", "from": "card", "to": "confidence", "optional": true},
        {"op": "copy", "from": "ts", "to": "observed", "optional": true},
        {"op": "copy", "from": "door", "to": "fields.door.copy", "optional": true},
        {"op": "copy", "from": "lat", "to": "geo.lat", "optional": true},
        {"op": "copy", "from": "lon", "to": "geo.lon", "optional": true},
        {"op": "lookup", "from": "result", "to": "activity", "table": {"OK": "granted", "NOK": "denied"}, "optional": true},
        {"op": "lookup", "from": "result", "to": "domain", "table": {"OK": "physical"}, "default": "cyber", "optional": true},
        {"op": "constant", "to": "class", "value": "physical_access"},
        {"op": "copy", "from": "name", "to": "user"},
    ]}))
    .unwrap();
    m.validate().unwrap();
    m
}

proptest! {
    #[test]
    fn syslog_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(m) = syslog::parse(&bytes, &opts()) {
            let _ = normalise::syslog_to_input(&m);
        }
    }

    #[test]
    fn syslog_never_panics_past_a_valid_prefix(
        prefix in prop_oneof![
            Just("<34>1 "),
            Just("<14>1 2026-05-04T02:13:07Z h a p m ["),
            Just("<13>Oct 11 22:14:15 "),
            Just("<189>12: *Mar  1 18:48:50.483 UTC: "),
            Just("<134>May  4 04:13:07 fw CEF:0|"),
            Just("<13>May  4 04:13:07 qr LEEF:2.0|"),
        ],
        rest in "[ -~\t\n\\[\\]\"\\\\=|:a-zA-Z0-9é]{0,200}",
    ) {
        let input = format!("{prefix}{rest}");
        if let Ok(m) = syslog::parse(input.as_bytes(), &opts()) {
            let _ = normalise::syslog_to_input(&m);
        }
    }

    #[test]
    fn device_times_in_any_layout_never_panic(
        value in "[A-Za-z0-9 :./+TZ-]{0,30}",
        pattern in "[yMdHhmsSazZXEQ' :./T%-]{0,24}",
        received in 0i64..4_000_000_000,
    ) {
        let lines = [
            format!("<13>May  4 04:13:07 h LEEF:1.0|V|P|1|E|devTime={value}\tdevTimeFormat={pattern}"),
            format!("<13>May  4 04:13:07 h LEEF:1.0|V|P|1|E|devTime={value}"),
            format!("<13>May  4 04:13:07 h CEF:0|V|P|1|1|n|3|rt={value}"),
            format!("<13>h: CEF:0|V|P|1|1|n|3|end={value}"),
        ];
        let received = DateTime::from_timestamp(received, 0).unwrap();
        for line in lines {
            let m = syslog::parse_received(line.as_bytes(), &opts(), received).unwrap();
            prop_assert!(!matches!(m.payload, Payload::Plain));
            let _ = normalise::syslog_to_input(&m);
        }
    }

    #[test]
    fn syslog_refuses_what_is_over_the_limit(len in 1usize..300, max in 0usize..300) {
        let mut o = opts();
        o.max_bytes = max;
        let input = vec![b'a'; len];
        let result = syslog::parse(&input, &o);
        prop_assert_eq!(result.is_err(), len > max);
    }

    #[test]
    fn cef_and_leef_never_panic(s in "\\PC{0,300}", t in "[ -~\t\\\\|=]{0,200}") {
        let _ = cef::parse(&s);
        let _ = leef::parse(&s);
        let _ = cef::parse(&format!("CEF:0|{t}"));
        let _ = leef::parse(&format!("LEEF:1.0|{t}"));
        let _ = leef::parse(&format!("LEEF:2.0|{t}"));
    }

    #[test]
    fn cef_escapes_round_trip(
        version in 0u32..3,
        header in vec("\\PC{0,12}", 6),
        extensions in vec(
            ("[A-Za-z0-9_.\\[\\]-]{1,10}", "[a-zA-Z0-9=\\\\|\n\r.:/ é€-]{0,20}"
                .prop_filter("no trailing space", |v: &String| !v.ends_with(' '))),
            0..6,
        ),
    ) {
        let head: Vec<String> = header.iter().map(|h| esc_cef_header(h)).collect();
        let ext: Vec<String> = extensions
            .iter()
            .map(|(k, v)| format!("{k}={}", esc_cef_value(v)))
            .collect();
        let text = format!("CEF:{version}|{}|{}", head.join("|"), ext.join(" "));
        let c = cef::parse(&text).unwrap();
        prop_assert_eq!(c.version, version);
        let got = [&c.device_vendor, &c.device_product, &c.device_version, &c.signature_id, &c.name, &c.severity];
        for (g, want) in got.iter().zip(&header) {
            prop_assert_eq!(*g, want);
        }
        prop_assert_eq!(c.extensions, extensions);
    }

    #[test]
    fn sd_escapes_round_trip(
        params in vec(("[a-zA-Z0-9._@-]{1,32}", "\\PC{0,24}"), 0..5),
    ) {
        let sd: Vec<String> = params
            .iter()
            .map(|(n, v)| format!(" {n}=\"{}\"", esc_sd_value(v)))
            .collect();
        let line = format!("<14>1 - h a - - [x@1{}] m", sd.concat());
        let m = syslog::parse(line.as_bytes(), &opts()).unwrap();
        prop_assert_eq!(&m.structured_data[0].params, &params);
        prop_assert_eq!(m.msg, "m");
    }

    #[test]
    fn split_json_never_panics_and_stays_bounded(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..400),
            "[\\[\\]{}\",:\\\\ \na-c0-9]{0,300}".prop_map(String::into_bytes),
        ],
        max_records in 0usize..6,
        max_bytes in 0usize..200,
    ) {
        let rs = body::split_json(&bytes, max_records, max_bytes);
        prop_assert!(rs.len() <= max_records + 1);
        for r in &rs {
            prop_assert!(r.raw.len() <= bytes.len());
            if r.parsed.is_ok() {
                prop_assert!(r.raw.len() <= max_bytes);
            }
        }
        prop_assert!(rs.windows(2).all(|w| w[0].line < w[1].line));
    }

    #[test]
    fn split_csv_never_panics_and_stays_bounded(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..400),
            "[a-c0-9,;\t|\"\r\n ]{0,300}".prop_map(String::into_bytes),
        ],
        max_records in 0usize..6,
        max_bytes in 0usize..200,
    ) {
        let rs = body::split_csv(&bytes, max_records, max_bytes);
        prop_assert!(rs.len() <= max_records + 1);
        for r in &rs {
            if r.parsed.is_ok() {
                prop_assert!(r.raw.len() <= max_bytes);
            }
        }
    }

    #[test]
    fn mapping_never_panics_on_arbitrary_json(record in btree_map(arb_key(), arb_json(), 0..8)) {
        let m = every_step_mapping();
        let record: Map<String, Value> = record.into_iter().collect();
        match m.apply(record) {
            Ok(input) => prop_assert_eq!(input.class.as_deref(), Some("physical_access")),
            Err(e) => prop_assert!(e.to_string().starts_with("step") || e.to_string().starts_with("geo")),
        }
    }
}

#[test]
fn the_documented_toml_form_loads() {
    let m = load_mapping(include_str!("samples/badge_csv_mapping.toml"));
    assert_eq!(m.steps.len(), 10);
    assert!(
        matches!(&m.steps[0], Step::Rename { from, to, optional: false } if from == "EvtID" && to == "EventID")
    );
    let bad = toml::from_str::<Mapping>(
        "[[steps]]\nop = \"copy\"\nfrom = \"a\"\nto = \"user\"\nlabel = \"x\"\n",
    );
    assert!(bad.unwrap_err().to_string().contains("label"));
}
