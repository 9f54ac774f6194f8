//! `SigmaHandle`: reloading rule folders and adding rules while a detector keeps running.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use tocsin_detect::{Detection, Detector};
use tocsin_model::{Event, IngestContext, Limits};
use tocsin_sigma::{AddRuleError, ReloadError, SigmaDetector, SigmaHandle, SigmaOptions};
use ulid::Ulid;

fn rule(id: &str, title: &str, event_id: u32) -> String {
    format!(
        "title: {title}\nid: {id}\nlogsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        EventID: {event_id}\n    condition: selection\nlevel: high\n"
    )
}

const A: &str = "1b5e3c1e-0000-4000-8000-00000000000a";
const B: &str = "1b5e3c1e-0000-4000-8000-00000000000b";

fn event(event_id: u32) -> Event {
    let ctx = IngestContext {
        source: "test-source",
        tenant: "default",
        domain: None,
        ingested: Utc::now(),
        id: Ulid::new(),
        limits: Limits::default(),
    };
    let t: DateTime<Utc> = "2026-05-04T02:00:00Z".parse().unwrap();
    let body = json!({
        "time": t.to_rfc3339(),
        "domain": "cyber",
        "class": "log",
        "fields": {"Channel": "Security", "EventID": event_id},
    });
    Event::from_value(body, &ctx).unwrap()
}

fn fired(d: &mut SigmaDetector, e: &Event) -> Vec<String> {
    let mut out: Vec<Detection> = Vec::new();
    d.on_event(e, &mut out);
    out.into_iter().filter_map(|d| d.rule).collect()
}

#[test]
fn a_reload_swaps_the_rules_between_two_events_and_keeps_hit_counts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), rule(A, "Rule A", 4625)).unwrap();
    let handle = Arc::new(SigmaHandle::load(
        vec![dir.path().to_owned()],
        SigmaOptions::default(),
    ));
    let mut d = SigmaDetector::with_handle(handle.clone());
    assert_eq!(fired(&mut d, &event(4625)), [A]);
    assert!(fired(&mut d, &event(4740)).is_empty());

    std::fs::write(dir.path().join("b.yml"), rule(B, "Rule B", 4740)).unwrap();
    std::fs::write(dir.path().join("bad.yml"), "title: [unclosed\n").unwrap();
    let summary = handle.reload().unwrap();
    assert_eq!(summary.loaded, 2);
    assert_eq!(summary.rejected, 1);
    assert_eq!(summary.generation, 1);
    assert_eq!(handle.rejected().len(), 1);
    assert_eq!(fired(&mut d, &event(4740)), [B]);
    assert_eq!(fired(&mut d, &event(4625)), [A]);
    let hits: Vec<(String, u64)> = handle
        .current()
        .hits()
        .into_iter()
        .map(|h| (h.id, h.hits))
        .collect();
    assert!(hits.contains(&(A.to_owned(), 2)), "{hits:?}");
    assert!(hits.contains(&(B.to_owned(), 1)), "{hits:?}");
}

#[test]
fn a_folder_that_cannot_be_read_keeps_the_rules_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("a.yml"), rule(A, "Rule A", 4625)).unwrap();
    let handle = SigmaHandle::load(vec![rules.clone()], SigmaOptions::default());
    std::fs::remove_dir_all(&rules).unwrap();
    let err = handle.reload().unwrap_err();
    let ReloadError::Folder { path, .. } = &err;
    assert_eq!(path, &rules);
    assert_eq!(handle.generation(), 0);
    assert_eq!(handle.current().len(), 1);
}

#[test]
fn an_added_rule_runs_at_once_and_is_written_to_the_first_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), rule(A, "Rule A", 4625)).unwrap();
    let handle = Arc::new(SigmaHandle::load(
        vec![dir.path().to_owned()],
        SigmaOptions::default(),
    ));
    let mut d = SigmaDetector::with_handle(handle.clone());

    let added = handle.add_rule(&rule(B, "Rule B", 4740)).unwrap();
    assert_eq!(added.id, B);
    assert_eq!(added.loaded, 2);
    assert_eq!(added.path, dir.path().join(format!("{B}.yml")));
    assert_eq!(
        std::fs::read_to_string(&added.path).unwrap(),
        rule(B, "Rule B", 4740)
    );
    assert_eq!(fired(&mut d, &event(4740)), [B]);
    // Reloading reads it back from the folder, once.
    assert_eq!(handle.reload().unwrap().loaded, 2);
    assert!(handle.rejected().is_empty(), "{:?}", handle.rejected());
}

#[test]
fn a_rule_that_cannot_load_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), rule(A, "Rule A", 4625)).unwrap();
    let handle = SigmaHandle::load(vec![dir.path().to_owned()], SigmaOptions::default());
    let reason = |yaml: &str| match handle.add_rule(yaml) {
        Err(AddRuleError::Invalid(r)) => r,
        other => panic!("{other:?}"),
    };
    let dup = reason(&rule(A, "Again", 1));
    assert!(dup.contains("already used"), "{dup}");
    let no_id = reason(
        "title: X\nlogsource:\n    product: windows\ndetection:\n    s:\n        EventID: 1\n    condition: s\n",
    );
    assert!(no_id.contains("no id"), "{no_id}");
    let undefined = reason(
        "title: X\nid: 1b5e3c1e-0000-4000-8000-00000000000c\nlogsource:\n    product: windows\ndetection:\n    condition: nothing\n",
    );
    assert!(!undefined.is_empty());
    let path = reason(&rule("../escape", "X", 1));
    assert!(path.contains("cannot name a file"), "{path}");
    let placeholder = reason(
        "title: X\nid: 1b5e3c1e-0000-4000-8000-00000000000d\nlogsource:\n    product: windows\ndetection:\n    s:\n        User|expand: '%admins%'\n    condition: s\n",
    );
    assert!(placeholder.contains("admins"), "{placeholder}");
    let big = format!("{}\n# {}", rule(B, "B", 1), "x".repeat(2 * 1024 * 1024));
    assert!(reason(&big).contains("limit"));
    // Nothing changed on disk or in force.
    assert_eq!(handle.generation(), 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(handle.current().len(), 1);
}
