//! `SigmaDetector` on Tocsin events: single-event rules, logsource routing, and correlation
//! rules (the specification's examples and Tocsin's converged fixtures) in event time.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tocsin_detect::{Detection, Detector};
use tocsin_model::{Event, IngestContext, Limits, Severity};
use tocsin_sigma::{RejectKind, SigmaDetector, SigmaOptions, SigmaRuleSet};
use ulid::Ulid;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-04T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// An event in Tocsin's own form, `secs` after `t0`, with the enrichment's `person_id`.
fn event(secs: i64, body: Value, person_id: Option<&str>) -> Event {
    let ctx = IngestContext {
        source: "test-source",
        tenant: "default",
        domain: None,
        ingested: t0() + Duration::seconds(secs),
        id: Ulid::new(),
        limits: Limits::default(),
    };
    let mut body = body;
    body["time"] = json!((t0() + Duration::seconds(secs)).to_rfc3339());
    let mut e = Event::from_value(body, &ctx).unwrap();
    e.person_id = person_id.map(str::to_owned);
    e
}

fn windows(secs: i64, fields: Value) -> Event {
    event(
        secs,
        json!({"domain": "cyber", "class": "log", "fields": fields}),
        None,
    )
}

fn load(yaml: &str, options: &SigmaOptions) -> SigmaRuleSet {
    let (set, rejected) =
        SigmaRuleSet::from_sources(&[(PathBuf::from("test.yml"), yaml.to_owned())], options);
    assert!(rejected.is_empty(), "{rejected:?}");
    set
}

fn detector(yaml: &str, options: &SigmaOptions) -> SigmaDetector {
    SigmaDetector::new(Arc::new(load(yaml, options)), options)
}

fn run(d: &mut SigmaDetector, events: &[Event]) -> Vec<Detection> {
    let mut out = Vec::new();
    for e in events {
        d.on_event(e, &mut out);
    }
    out
}

const WHOAMI: &str = r#"
title: Whoami Run
id: 5a0c1d5e-0d7c-4a5f-9e43-2a1b8c6f9d01
status: test
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
level: high
"#;

#[test]
fn single_event_rule_raises_a_detection_with_rule_title_and_severity() {
    let mut d = detector(WHOAMI, &SigmaOptions::default());
    assert_eq!(d.id(), "sigma");
    let hit = windows(
        0,
        json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
               "Image": "C:\\Windows\\System32\\WHOAMI.EXE"}),
    );
    let out = run(&mut d, std::slice::from_ref(&hit));
    assert_eq!(out.len(), 1);
    let det = &out[0];
    assert_eq!(det.detector, "sigma");
    assert_eq!(
        det.rule.as_deref(),
        Some("5a0c1d5e-0d7c-4a5f-9e43-2a1b8c6f9d01")
    );
    assert_eq!(det.title, "Whoami Run");
    assert_eq!(det.severity, Severity::HIGH);
    assert_eq!(det.evidence, vec![hit.id]);
    assert_eq!(det.time, hit.time);
    assert!(det.dedup_key.starts_with("sigma:5a0c1d5e"));
    assert_eq!(d.rules().hits()[0].hits, 1);
}

#[test]
fn logsource_routes_by_channel_and_event_id_case_insensitively() {
    let mut d = detector(WHOAMI, &SigmaOptions::default());
    let image = "C:\\Windows\\System32\\whoami.exe";
    let events = [
        // Lower-case channel, string event id: still Sysmon process creation.
        windows(
            0,
            json!({"Channel": "microsoft-windows-sysmon/operational", "EventID": "1", "Image": image}),
        ),
        // Sysmon, but a network connection: another category.
        windows(
            1,
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 3, "Image": image}),
        ),
        // No channel: no Windows logsource.
        windows(2, json!({"EventID": 1, "Image": image})),
    ];
    let out = run(&mut d, &events);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].evidence, vec![events[0].id]);
}

const BADGE_RULES: &str = r#"
title: Badge Denied
id: 7d3e9c2a-1b4f-4e8d-a6c5-0f2b9e8d7c61
name: badge_denied
logsource:
    product: pacs
    category: physical_access
detection:
    selection:
        activity: denied
    condition: selection
level: low
---
title: Door Forced Open
id: 2c8b6a4e-9d1f-4c3b-8e7a-5f0d2b1c9e72
name: door_forced
logsource:
    product: pacs
    category: physical_access
detection:
    selection:
        activity: forced
    condition: selection
level: high
---
title: Repeated Badge Denials
id: 9e1f3a5c-7b2d-4f6e-8a0c-1d3b5f7e9a83
name: repeated_denials
correlation:
    type: event_count
    rules:
        - badge_denied
    group-by:
        - portal
    timespan: 5m
    condition:
        gte: 3
---
title: Badge Denials Then Forced Door
id: 4b6d8f0a-2c4e-4a6b-9c8d-0e2f4a6c8e94
correlation:
    type: temporal_ordered
    rules:
        - repeated_denials
        - door_forced
    group-by:
        - portal
    timespan: 10m
level: critical
"#;

fn door(secs: i64, activity: &str, portal: &str) -> Event {
    event(
        secs,
        json!({"domain": "physical", "class": "physical_access", "activity": activity,
               "portal": portal, "badge": "0x3F21A9", "site": "dc2"}),
        None,
    )
}

#[test]
fn badge_denials_then_forced_door_fires_on_the_forcing_event() {
    let mut d = detector(BADGE_RULES, &SigmaOptions::default());
    let events = [
        door(0, "denied", "AP-1"),
        door(30, "denied", "AP-1"),
        door(40, "denied", "AP-2"),
        door(60, "denied", "AP-1"),
        door(120, "forced", "AP-2"),
        door(200, "forced", "AP-1"),
    ];
    let out = run(&mut d, &events);
    let titles: Vec<&str> = out.iter().map(|d| d.title.as_str()).collect();
    // The referenced rules and the inner correlation feed the outer one and do not alert on
    // their own (no `generate`).
    assert_eq!(titles, ["Badge Denials Then Forced Door"]);
    let det = &out[0];
    assert_eq!(det.severity, Severity::CRITICAL);
    assert_eq!(det.time, events[5].time);
    assert_eq!(det.evidence.last(), Some(&events[5].id));
    assert!(det.evidence.contains(&events[3].id));
    assert_eq!(det.entities["portal"], "AP-1");
    assert!(det.dedup_key.ends_with("|portal=AP-1"));
    assert_eq!(det.domain, tocsin_model::Domain::Physical);
}

#[test]
fn forced_door_before_the_denials_does_not_fire_the_ordered_rule() {
    let mut d = detector(BADGE_RULES, &SigmaOptions::default());
    let events = [
        door(0, "forced", "AP-1"),
        door(10, "denied", "AP-1"),
        door(20, "denied", "AP-1"),
        door(30, "denied", "AP-1"),
    ];
    assert!(run(&mut d, &events).is_empty());
}

/// The specification's example: many failed logons followed by a successful one, by user.
const FAILED_THEN_SUCCESS: &str = r#"
title: Failed Logons Followed by a Successful Logon
id: 0d4c8a2e-6f1b-4b3d-9e5a-7c2f0e8b6d15
correlation:
    type: temporal_ordered
    rules:
        - many_failed_logons
        - successful_logon
    group-by:
        - TargetUserName
    timespan: 10m
level: high
---
title: Many Failed Logons
id: 6e2a0c8f-4d1b-4e9a-b3c7-5f1d9e7b3a26
name: many_failed_logons
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - TargetUserName
    timespan: 10m
    condition:
        gte: 5
---
title: Failed Logon
id: 1f7b3d9e-5a2c-4c8f-a1e6-3b9d7f5c1e37
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Successful Logon
id: 8a4e2c0b-9f3d-4d7b-c5a1-2e8f6c4a0b48
name: successful_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
"#;

fn logon(secs: i64, id: u32, user: &str) -> Event {
    windows(
        secs,
        json!({"Channel": "Security", "EventID": id, "TargetUserName": user}),
    )
}

#[test]
fn failed_logons_then_success_follows_the_specification_example() {
    let mut d = detector(FAILED_THEN_SUCCESS, &SigmaOptions::default());
    let mut events: Vec<Event> = (0..5).map(|i| logon(i * 20, 4625, "alice")).collect();
    // Another user's failures are another group.
    events.extend((0..4).map(|i| logon(5 + i * 20, 4625, "bob")));
    events.push(logon(130, 4624, "bob"));
    events.push(logon(140, 4624, "alice"));
    let out = run(&mut d, &events);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(
        out[0].rule.as_deref(),
        Some("0d4c8a2e-6f1b-4b3d-9e5a-7c2f0e8b6d15")
    );
    assert_eq!(out[0].entities["TargetUserName"], "alice");
    assert_eq!(out[0].evidence.last(), Some(&events[10].id));

    // Four failures are not enough; nor is a success after the window.
    let mut d = detector(FAILED_THEN_SUCCESS, &SigmaOptions::default());
    let mut events: Vec<Event> = (0..5).map(|i| logon(i * 20, 4625, "carol")).collect();
    events.push(logon(80 + 11 * 60, 4624, "carol"));
    assert!(run(&mut d, &events).is_empty());
}

#[test]
fn value_count_counts_distinct_values_per_group() {
    let yaml = r#"
title: Failed Logon
id: 3c9e5a1f-7b3d-4f0e-8c2a-6d4b0f8e2c59
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Password Spraying From One Workstation
id: 5e1a7c3b-9d5f-4a2c-b0e4-8f6d2b0a4e6a
correlation:
    type: value_count
    rules:
        - failed_logon
    group-by:
        - WorkstationName
    timespan: 1h
    condition:
        field: TargetUserName
        gte: 3
level: high
"#;
    let mut d = detector(yaml, &SigmaOptions::default());
    let ev = |secs, user: &str, ws: &str| {
        windows(
            secs,
            json!({"Channel": "Security", "EventID": 4625, "TargetUserName": user, "WorkstationName": ws}),
        )
    };
    let events = [
        ev(0, "alice", "WS1"),
        ev(10, "alice", "WS1"),
        ev(20, "bob", "WS1"),
        ev(25, "carol", "WS2"),
        ev(30, "bob", "WS1"),
        ev(40, "dave", "WS1"),
    ];
    let out = run(&mut d, &events);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].time, events[5].time);
    assert!(out[0].summary.contains("with 3"), "{}", out[0].summary);
}

const BADGE_AND_VPN: &str = r#"
title: Badge Granted
id: 0a2c4e6f-8b1d-4f3a-9c5e-7b9d1f3a5c7b
name: badge_granted
logsource:
    product: pacs
    category: physical_access
detection:
    selection:
        activity: granted
    condition: selection
---
title: VPN Logon
id: 2e4f6a8c-0d3b-4b5d-a7f9-9d1b3f5c7e9c
name: vpn_logon
logsource:
    category: authentication
detection:
    selection:
        activity: logon
        method: vpn
    condition: selection
---
title: Badged In On Site And Logged On Over VPN
id: 4a6c8e0b-2f5d-4d7f-b9a1-1f3d5b7e9a1d
correlation:
    type: temporal
    rules:
        - badge_granted
        - vpn_logon
    group-by:
        - person_id
    timespan: 1h
level: high
"#;

#[test]
fn one_rule_joins_a_badge_event_and_a_logon_of_the_same_person() {
    let mut d = detector(BADGE_AND_VPN, &SigmaOptions::default());
    let badge = |secs, person: &str| {
        event(
            secs,
            json!({"domain": "physical", "class": "physical_access", "activity": "granted",
                   "badge": format!("b-{person}"), "site": "hq"}),
            Some(person),
        )
    };
    let vpn = |secs, person: &str| {
        event(
            secs,
            json!({"domain": "cyber", "class": "authentication", "activity": "logon",
                   "user": format!("u-{person}"), "fields": {"method": "vpn"}}),
            Some(person),
        )
    };
    let events = [
        badge(0, "p-1"),
        vpn(60, "p-2"),
        vpn(600, "p-1"),
        badge(700, "p-3"),
    ];
    let out = run(&mut d, &events);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].entities["person_id"], "p-1");
    assert_eq!(out[0].evidence, vec![events[0].id, events[2].id]);
}

#[test]
fn late_events_are_counted_and_left_out_of_windows() {
    let options = SigmaOptions {
        lateness_secs: 30,
        ..SigmaOptions::default()
    };
    let mut d = detector(BADGE_RULES, &options);
    // Out of order within the lateness still counts: the third denial completes the count.
    let events = [
        door(100, "denied", "AP-1"),
        door(120, "denied", "AP-1"),
        door(95, "denied", "AP-1"),
        door(130, "forced", "AP-1"),
    ];
    assert_eq!(run(&mut d, &events).len(), 1);
    assert_eq!(d.stats().late, 0);

    let mut d = detector(BADGE_RULES, &options);
    let events = [
        door(100, "denied", "AP-1"),
        door(120, "denied", "AP-1"),
        // 70 s behind the newest event: later than the 30 s allowed.
        door(50, "denied", "AP-1"),
        door(130, "forced", "AP-1"),
    ];
    assert!(run(&mut d, &events).is_empty());
    assert_eq!(d.stats().late, 1);
}

#[test]
fn correlation_state_is_capped_and_evictions_are_counted() {
    let options = SigmaOptions {
        max_groups: 2,
        ..SigmaOptions::default()
    };
    let mut d = detector(BADGE_RULES, &options);
    let events: Vec<Event> = (0..5)
        .map(|i| door(i, "denied", &format!("AP-{i}")))
        .collect();
    run(&mut d, &events);
    let stats = d.stats();
    assert_eq!(stats.open_groups, 2);
    assert_eq!(stats.evicted, 3);
}

#[test]
fn correlation_windows_close_in_event_time() {
    let mut d = detector(BADGE_RULES, &SigmaOptions::default());
    run(&mut d, &[door(0, "denied", "AP-1")]);
    assert_eq!(d.stats().open_groups, 1);
    // Far beyond the window and the lateness: the group is gone.
    run(
        &mut d,
        &[
            door(3_600, "granted", "AP-9"),
            door(3_601, "denied", "AP-2"),
        ],
    );
    assert_eq!(d.stats().open_groups, 1);
}

#[test]
fn generate_keeps_the_referenced_rules_alerting() {
    let yaml = BADGE_RULES.replace(
        "    condition:\n        gte: 3\n",
        "    condition:\n        gte: 3\ngenerate: true\n",
    );
    let mut d = detector(&yaml, &SigmaOptions::default());
    let out = run(&mut d, &[door(0, "denied", "AP-1")]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].title, "Badge Denied");
    assert_eq!(out[0].severity, Severity::LOW);
}

#[test]
fn extended_temporal_condition_and_aliases() {
    let yaml = r#"
title: Internal Error
id: 6c8e0a2d-4b7f-4f9b-d1c3-3b5f7d9b1c3e
name: internal_error
logsource:
    category: http
detection:
    selection:
        status: 500
    condition: selection
---
title: New Connection
id: 8e0a2c4f-6d9b-4b1d-f3e5-5d7b9f1d3e5f
name: new_connection
logsource:
    category: network_activity
detection:
    selection:
        kind: connection
    condition: selection
---
title: Error And Connection Between The Same Hosts
id: 0b2d4f6a-8c1e-4e3a-a5c7-7f9d1b3f5a7b
correlation:
    type: temporal
    rules:
        - internal_error
        - new_connection
    group-by:
        - internal_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: dst
            new_connection: src
    condition: internal_error and new_connection
level: medium
"#;
    let mut d = detector(yaml, &SigmaOptions::default());
    let error = |secs, dst: &str| {
        event(
            secs,
            json!({"domain": "cyber", "class": "http", "fields": {"status": 500, "dst": dst}}),
            None,
        )
    };
    let conn = |secs, src: &str| {
        event(
            secs,
            json!({"domain": "cyber", "class": "network_activity", "fields": {"kind": "connection", "src": src}}),
            None,
        )
    };
    let events = [
        error(0, "10.0.0.5"),
        conn(3, "10.0.0.6"),
        conn(5, "10.0.0.5"),
        // Outside the 10 s window of the first error.
        conn(30, "10.0.0.5"),
    ];
    let out = run(&mut d, &events);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].time, events[2].time);
    assert_eq!(out[0].entities["internal_ip"], "10.0.0.5");
    assert_eq!(d.rules().rules().iter().filter(|r| r.standalone).count(), 0);
}

#[test]
fn unresolvable_correlations_are_rejected_with_the_reason() {
    let yaml = r#"
title: Dangling
id: 2d4f6b8a-0e3c-4c5e-b7d9-9b1f3d5b7c9d
correlation:
    type: event_count
    rules:
        - not_loaded
    group-by:
        - user
    timespan: 5m
    condition:
        gte: 2
"#;
    let (set, rejected) = SigmaRuleSet::from_sources(
        &[(PathBuf::from("dangling.yml"), yaml.to_owned())],
        &SigmaOptions::default(),
    );
    assert!(set.is_empty());
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].kind, RejectKind::Reference);
    assert_eq!(
        rejected[0].reason,
        "refers to rule not_loaded, which is not loaded"
    );
    assert_eq!(rejected[0].path, PathBuf::from("dangling.yml"));
}

#[test]
fn broken_rules_are_rejected_never_skipped() {
    let sources = [
        (PathBuf::from("bad-yaml.yml"), "title: [unclosed".to_owned()),
        (
            PathBuf::from("bad-regex.yml"),
            "title: Bad Regex\nid: 4f6b8d0c-2a5e-4e7a-c9f1-1d3b5f7d9e1f\nlogsource:\n    product: windows\ndetection:\n    selection:\n        CommandLine|re: '(unclosed'\n    condition: selection\n".to_owned(),
        ),
        (
            PathBuf::from("dup.yml"),
            WHOAMI.to_owned(),
        ),
        (PathBuf::from("dup2.yml"), WHOAMI.to_owned()),
    ];
    let (set, rejected) = SigmaRuleSet::from_sources(&sources, &SigmaOptions::default());
    assert_eq!(set.rules().len(), 1);
    let kinds: Vec<(String, RejectKind)> = rejected
        .iter()
        .map(|r| (r.path.display().to_string(), r.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("bad-yaml.yml".to_owned(), RejectKind::Parse),
            ("bad-regex.yml".to_owned(), RejectKind::Compile),
            ("dup2.yml".to_owned(), RejectKind::Duplicate),
        ]
    );
    assert!(rejected.iter().all(|r| !r.reason.is_empty()));
}

mod window_properties {
    use super::*;
    use proptest::prelude::*;

    fn count_rule(threshold: u64, span_secs: u64) -> String {
        format!(
            r#"
title: Badge Denied
id: 7d3e9c2a-1b4f-4e8d-a6c5-0f2b9e8d7c61
name: badge_denied
logsource:
    category: physical_access
detection:
    selection:
        activity: denied
    condition: selection
---
title: Denials
id: 9e1f3a5c-7b2d-4f6e-8a0c-1d3b5f7e9a83
correlation:
    type: event_count
    rules:
        - badge_denied
    group-by:
        - portal
    timespan: {span_secs}s
    condition:
        gte: {threshold}
"#
        )
    }

    /// The same rule evaluated the slow way: after each event, count the events since the last
    /// firing that lie within the span ending at it.
    fn oracle(times: &[i64], threshold: usize, span: i64) -> Vec<usize> {
        let mut fired = Vec::new();
        let mut since = 0;
        for (i, &t) in times.iter().enumerate() {
            let n = times[since..=i].iter().filter(|&&x| x >= t - span).count();
            if n >= threshold {
                fired.push(i);
                since = i + 1;
            }
        }
        fired
    }

    proptest! {
        #[test]
        fn in_order_event_count_matches_a_recount(
            gaps in proptest::collection::vec(0i64..40, 1..60),
            threshold in 1u64..6,
            span in 1u64..120,
        ) {
            let mut d = detector(&count_rule(threshold, span), &SigmaOptions::default());
            let mut t = 0;
            let times: Vec<i64> = gaps.iter().map(|g| { t += g; t }).collect();
            let mut fired = Vec::new();
            for (i, &secs) in times.iter().enumerate() {
                let mut out = Vec::new();
                d.on_event(&door(secs, "denied", "AP-1"), &mut out);
                if !out.is_empty() {
                    fired.push(i);
                }
            }
            prop_assert_eq!(fired, oracle(&times, threshold as usize, span as i64));
        }
    }
}
