use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use tocsin_model::{Alert, AlertStatus, Domain, Severity};
use tocsin_notify::Visibility;
use ulid::Ulid;

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn alert(domain: Domain, detector: &str, severity: Severity, site: Option<&str>) -> Alert {
    let now = t("2026-03-02T10:00:00Z");
    Alert {
        id: Ulid::new(),
        tenant: "default".into(),
        detector: detector.into(),
        rule: None,
        domain,
        severity,
        title: "t".into(),
        summary: "s".into(),
        status: AlertStatus::Open,
        time: now,
        ingested: now,
        detected: now,
        last_seen: now,
        count: 1,
        dedup_key: "k".into(),
        evidence: Vec::new(),
        entities: Map::new(),
        geo: None,
        site_id: site.map(str::to_owned),
        notified: None,
        acknowledged: None,
    }
}

/// A directory with fixed teams and a rotation that hands over every 8 hours at 00:00,
/// 08:00 and 16:00 UTC.
struct FakeDirectory {
    teams: HashMap<&'static str, Vec<String>>,
    rotation: Vec<&'static str>,
}

impl FakeDirectory {
    fn new() -> Self {
        let mut teams = HashMap::new();
        teams.insert("soc", vec!["p-ana".to_owned(), "p-ben".to_owned()]);
        teams.insert("guards", vec!["p-gus".to_owned()]);
        teams.insert("empty", Vec::new());
        FakeDirectory {
            teams,
            rotation: vec!["p-ana", "p-ben", "p-cem"],
        }
    }
}

impl Directory for FakeDirectory {
    fn team_members(&self, team: &str) -> Option<Vec<String>> {
        self.teams.get(team).cloned()
    }
    fn on_call(&self, team: &str, at: DateTime<Utc>) -> Option<String> {
        if team != "soc" && team != "guards" {
            return None;
        }
        let slot = usize::try_from(at.timestamp().div_euclid(8 * 3600)).ok()?;
        self.rotation
            .get(slot % self.rotation.len())
            .map(|s| (*s).to_owned())
    }
}

fn routes(yaml: &str) -> Routes {
    parse(yaml, Path::new("routes.yaml")).unwrap()
}

fn errors(yaml: &str) -> Vec<RoutesError> {
    parse(yaml, Path::new("routes.yaml")).unwrap_err().0
}

const SIMPLE: &str = r#"
route:
  plan: default
  routes:
    - name: physical-high
      match: { domain: physical, severity: high }
      plan: guards
      continue: true
    - name: hq
      match: { site: [hq, annex] }
      plan: hq
    - name: cyber
      match: { domain: cyber }
      routes:
        - name: ransomware
          match: { tags: [ransomware, encrypted] }
          plan: major
plans:
  default:
    steps:
      - after: 0
        notify: [{ oncall: soc }]
  guards:
    steps:
      - after: 0
        notify: [{ oncall: guards, visibility: internal }]
      - after: 5m
        notify:
          - { team: guards, visibility: internal }
          - { channel: partner-hook, visibility: partner }
    repeat: { every: 10m, times: 2 }
  hq:
    steps:
      - after: 0
        notify: [{ person: p-facilities, visibility: full }]
  major:
    steps:
      - after: 0
        notify: [{ team: soc, visibility: full }]
"#;

fn names(a: &Alert, r: &Routes) -> Vec<(String, Option<String>)> {
    matching_routes(a, r)
        .into_iter()
        .map(|m| (m.route, m.plan))
        .collect()
}

fn pair(route: &str, plan: &str) -> (String, Option<String>) {
    (route.to_owned(), Some(plan.to_owned()))
}

#[test]
fn matcher_checks_every_label() {
    let m: Matcher = yaml_serde::from_str(
        "{ tenant: acme, domain: physical, class: door_forced, rule: r1, severity: high, site: [hq, annex], tags: night }",
    )
    .unwrap();
    assert_eq!(m.detector, vec!["door_forced".to_owned()]);
    let mut a = alert(Domain::Physical, "door_forced", Severity::CRITICAL, None);
    a.tenant = "acme".into();
    a.rule = Some("r1".into());
    a.entities.insert("site".into(), json!("annex"));
    a.entities
        .insert("tags".into(), json!(["night", "perimeter"]));
    assert!(m.matches(&a), "site from the entity, tags from a list");

    let mut lower = a.clone();
    lower.severity = Severity::MEDIUM;
    assert!(!m.matches(&lower), "severity is at least");
    let mut other_site = a.clone();
    other_site.site_id = Some("dc".into());
    assert!(!m.matches(&other_site), "site_id wins over the entity");
    let mut untagged = a.clone();
    untagged.entities.insert("tags".into(), json!("perimeter"));
    assert!(!m.matches(&untagged));
    let mut other_tenant = a.clone();
    other_tenant.tenant = "default".into();
    assert!(!m.matches(&other_tenant));
    let mut no_rule = a.clone();
    no_rule.rule = None;
    assert!(!m.matches(&no_rule));
    assert!(Matcher::default().matches(&no_rule));
}

#[test]
fn first_match_wins_unless_continue() {
    let r = routes(SIMPLE);
    // Physical and high at hq: the continue route, then the hq route.
    let a = alert(Domain::Physical, "door_forced", Severity::HIGH, Some("hq"));
    assert_eq!(
        names(&a, &r),
        vec![pair("physical-high", "guards"), pair("hq", "hq")]
    );
    // Physical, low, at hq: only hq.
    let a = alert(Domain::Physical, "door_forced", Severity::LOW, Some("hq"));
    assert_eq!(names(&a, &r), vec![pair("hq", "hq")]);
    // Nothing matches below the root: the root itself with its plan.
    let a = alert(Domain::Public, "public_signal", Severity::LOW, None);
    assert_eq!(names(&a, &r), vec![pair("route", "default")]);
    // The cyber node matches but its child does not: the cyber node, with the inherited plan.
    let a = alert(Domain::Cyber, "sigma", Severity::LOW, None);
    assert_eq!(names(&a, &r), vec![pair("cyber", "default")]);
    let mut a = alert(Domain::Cyber, "sigma", Severity::LOW, None);
    a.entities
        .insert("tags".into(), json!(["ransomware", "encrypted"]));
    assert_eq!(names(&a, &r), vec![pair("ransomware", "major")]);
}

#[test]
fn steps_fire_after_their_delay_and_repeat_the_last_step() {
    let r = routes(SIMPLE);
    let a = alert(Domain::Physical, "door_forced", Severity::HIGH, Some("dc"));
    let now = t("2026-03-02T10:00:00Z");
    let p = plan(&a, &r, &[], &[], &FakeDirectory::new(), now);
    let got: Vec<(usize, u32, DateTime<Utc>, String)> = p
        .notifications
        .iter()
        .filter(|n| n.plan == "guards")
        .map(|n| {
            (
                n.step,
                n.repeat,
                n.at,
                n.audience.target().unwrap().to_string(),
            )
        })
        .collect();
    let m = |x: i64| now + Duration::minutes(x);
    assert_eq!(
        got,
        vec![
            (0, 0, m(0), "on call for guards".into()),
            (1, 0, m(5), "team guards".into()),
            (1, 0, m(5), "channel partner-hook".into()),
            (1, 1, m(15), "team guards".into()),
            (1, 1, m(15), "channel partner-hook".into()),
            (1, 2, m(25), "team guards".into()),
            (1, 2, m(25), "channel partner-hook".into()),
        ]
    );
    let partner = p
        .notifications
        .iter()
        .find(|n| n.audience.channel.is_some())
        .unwrap();
    assert_eq!(partner.visibility, Visibility::Partner);
    assert_eq!(
        partner.recipients,
        vec![Recipient::Channel("partner-hook".into())]
    );
    let keys: HashSet<&str> = p.notifications.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(keys.len(), p.notifications.len(), "keys are unique");
    // The continue route matched and no sibling did: the root's plan does not run.
    assert!(p.notifications.iter().all(|n| n.plan == "guards"));
    assert!(p.inhibited.is_none() && p.to_send().count() == p.notifications.len());
}

#[test]
fn on_call_is_resolved_when_each_notification_is_due() {
    let r = routes(
        r#"
route: { plan: p }
plans:
  p:
    steps:
      - { after: 0, notify: [{ oncall: soc }] }
      - { after: 1h, notify: [{ team: soc }, { team: nope }, { team: empty }, { oncall: nobody }] }
"#,
    );
    let a = alert(Domain::Cyber, "sigma", Severity::LOW, None);
    // 07:30 UTC: p-ana holds 00:00-08:00, p-ben 08:00-16:00.
    let p = plan(
        &a,
        &r,
        &[],
        &[],
        &FakeDirectory::new(),
        t("2026-03-02T07:30:00Z"),
    );
    let first = &p.notifications[0];
    assert_eq!(first.recipients, vec![Recipient::Person("p-ana".into())]);
    let team = p
        .notifications
        .iter()
        .find(|n| n.audience.team.as_deref() == Some("soc"))
        .unwrap();
    assert_eq!(
        team.recipients,
        vec![
            Recipient::Person("p-ana".into()),
            Recipient::Person("p-ben".into())
        ]
    );
    let unresolved: Vec<&Notification> = p
        .notifications
        .iter()
        .filter(|n| matches!(n.suppressed, Some(Suppression::NoRecipient { .. })))
        .collect();
    assert_eq!(
        unresolved.len(),
        3,
        "unknown team, empty team, nobody on call"
    );
    assert!(unresolved.iter().all(|n| n.recipients.is_empty()));
}

#[test]
fn on_call_from_the_organisation_model() {
    let src = tocsin_org::OrgSources {
        dir: "org".into(),
        files: vec![
            (
                "people.yaml".into(),
                "people:\n  - { id: p-ana, name: Ana }\n  - { id: p-ben, name: Ben }\n".into(),
            ),
            (
                "teams.yaml".into(),
                "teams:\n  - id: soc\n    name: SOC\n    members: [p-ana, p-ben]\n    on_call:\n      rotation: [p-ana, p-ben]\n      start: 2026-03-02T00:00:00Z\n      shift_hours: 12\n".into(),
            ),
        ],
    };
    let org = tocsin_org::parse_sources(&src).unwrap();
    let r = routes(
        "route: { plan: p }\nplans:\n  p:\n    steps:\n      - { after: 0, notify: [{ oncall: soc }] }\n      - { after: 2h, notify: [{ oncall: soc }] }\n",
    );
    let a = alert(Domain::Cyber, "sigma", Severity::LOW, None);
    let p = plan(&a, &r, &[], &[], &org, t("2026-03-02T11:00:00Z"));
    let who: Vec<&[Recipient]> = p
        .notifications
        .iter()
        .map(|n| n.recipients.as_slice())
        .collect();
    assert_eq!(
        who,
        vec![
            &[Recipient::Person("p-ana".into())][..],
            &[Recipient::Person("p-ben".into())][..]
        ],
        "the hand-over at 12:00 falls between the two steps"
    );
}

const QUIET: &str = r#"
route: { plan: p }
plans:
  p:
    quiet_hours: [night]
    steps:
      - { after: 0, notify: [{ oncall: soc }] }
      - { after: 30m, notify: [{ team: soc }] }
quiet_hours:
  night: { offset: "+01:00", from: "22:00", until: "07:00", break_through: high }
"#;

#[test]
fn quiet_hours_defer_until_the_window_ends_except_for_severe_alerts() {
    let r = routes(QUIET);
    let dir = FakeDirectory::new();
    // 05:45Z is 06:45 local: the first step waits until 07:00 local (06:00Z); the second,
    // due at 07:15 local, is outside the window.
    let now = t("2026-03-02T05:45:00Z");
    let low = alert(Domain::Physical, "door_held", Severity::LOW, None);
    let p = plan(&low, &r, &[], &[], &dir, now);
    assert_eq!(p.notifications[0].at, t("2026-03-02T06:00:00Z"));
    assert_eq!(p.notifications[0].deferred_from, Some(now));
    assert_eq!(p.notifications[1].at, now + Duration::minutes(30));
    assert_eq!(p.notifications[1].deferred_from, None);
    assert!(p.notifications.iter().all(|n| n.suppressed.is_none()));

    let high = alert(Domain::Physical, "door_forced", Severity::HIGH, None);
    let p = plan(&high, &r, &[], &[], &dir, now);
    assert_eq!(p.notifications[0].at, now, "high breaks through");

    // Before midnight, 22:30 local: the window ends the next morning.
    let p = plan(&low, &r, &[], &[], &dir, t("2026-03-02T21:30:00Z"));
    assert_eq!(p.notifications[0].at, t("2026-03-03T06:00:00Z"));
    // The on-call person is the one on call when it is finally sent (00:00-08:00Z slot).
    let slot = usize::try_from(t("2026-03-03T06:00:00Z").timestamp() / (8 * 3600)).unwrap() % 3;
    let expected = ["p-ana", "p-ben", "p-cem"][slot];
    assert_eq!(
        p.notifications[0].recipients,
        vec![Recipient::Person(expected.into())]
    );
    // Midday is outside the window.
    let p = plan(&low, &r, &[], &[], &dir, t("2026-03-02T11:00:00Z"));
    assert!(p.notifications.iter().all(|n| n.deferred_from.is_none()));
}

#[test]
fn quiet_hours_can_suppress_and_be_limited_to_days() {
    let yaml = QUIET.replace(
        "break_through: high }",
        "action: suppress, days: [sat, sun] }",
    );
    let r = routes(&yaml);
    let low = alert(Domain::Physical, "door_held", Severity::LOW, None);
    let dir = FakeDirectory::new();
    // Saturday 2026-03-07 23:00 local.
    let p = plan(&low, &r, &[], &[], &dir, t("2026-03-07T22:00:00Z"));
    assert_eq!(
        p.notifications[0].suppressed,
        Some(Suppression::QuietHours {
            window: "night".into()
        })
    );
    assert_eq!(p.to_send().count(), 0);
    // Monday 02:00 local belongs to Sunday night's window.
    let p = plan(&low, &r, &[], &[], &dir, t("2026-03-09T01:00:00Z"));
    assert!(p.notifications[0].is_suppressed());
    // Tuesday 02:00 local belongs to Monday night, which is not quiet.
    let p = plan(&low, &r, &[], &[], &dir, t("2026-03-10T01:00:00Z"));
    assert!(!p.notifications[0].is_suppressed());
}

#[test]
fn quiet_window_inside_one_day() {
    let q: QuietHours =
        yaml_serde::from_str(r#"{ offset: "-05:00", from: "12:00", until: "13:30" }"#).unwrap();
    assert_eq!(
        quiet_until(&q, t("2026-03-02T17:10:00Z")),
        Some(t("2026-03-02T18:30:00Z"))
    );
    assert_eq!(quiet_until(&q, t("2026-03-02T18:30:00Z")), None);
    assert_eq!(quiet_until(&q, t("2026-03-02T16:59:00Z")), None);
}

const INHIBIT: &str = r#"
route: { plan: p }
plans:
  p:
    steps: [{ after: 0, notify: [{ oncall: soc }] }]
inhibit:
  - source: { detector: site_outage }
    target: { detector: door_offline }
    equal: [site]
"#;

#[test]
fn a_site_outage_inhibits_door_offline_at_the_same_site_only() {
    let r = routes(INHIBIT);
    let dir = FakeDirectory::new();
    let now = t("2026-03-02T10:00:00Z");
    let outage = alert(Domain::Physical, "site_outage", Severity::HIGH, Some("hq"));
    let door = alert(
        Domain::Physical,
        "door_offline",
        Severity::MEDIUM,
        Some("hq"),
    );
    let elsewhere = alert(
        Domain::Physical,
        "door_offline",
        Severity::MEDIUM,
        Some("dc"),
    );

    let p = plan(&door, &r, &[], std::slice::from_ref(&outage), &dir, now);
    let expected = Suppression::Inhibited {
        by: outage.id,
        rule: 0,
    };
    assert_eq!(p.inhibited, Some(expected.clone()));
    assert!(
        p.notifications
            .iter()
            .all(|n| n.suppressed == Some(expected.clone()))
    );

    let p = plan(
        &elsewhere,
        &r,
        &[],
        std::slice::from_ref(&outage),
        &dir,
        now,
    );
    assert!(p.inhibited.is_none() && p.to_send().count() == 1);

    let mut closed = outage.clone();
    closed.status = AlertStatus::Closed;
    assert!(inhibited_by(&door, &r, &[closed]).is_none());
    // The outage itself is not inhibited by anything.
    assert!(inhibited_by(&outage, &r, &[door.clone(), outage.clone()]).is_none());
}

#[test]
fn silences_mute_until_they_expire() {
    let r = routes(SIMPLE);
    let dir = FakeDirectory::new();
    let now = t("2026-03-02T10:00:00Z");
    let a = alert(Domain::Physical, "door_forced", Severity::HIGH, Some("dc"));
    let silence = Silence {
        id: "s-1".into(),
        matcher: yaml_serde::from_str("{ detector: door_forced, site: dc }").unwrap(),
        starts: now - Duration::hours(1),
        expires: now + Duration::minutes(10),
        created_by: "p-ana".into(),
        comment: "door repair".into(),
    };
    let p = plan(&a, &r, std::slice::from_ref(&silence), &[], &dir, now);
    for n in &p.notifications {
        let silenced = matches!(
            &n.suppressed,
            Some(Suppression::Silenced { silence, .. }) if silence == "s-1"
        );
        assert_eq!(silenced, n.at < silence.expires, "{} at {}", n.key, n.at);
    }
    assert!(p.to_send().count() > 0);

    // A silence for another site mutes nothing; one that starts later mutes only later steps.
    let mut other = silence.clone();
    other.matcher.site = vec!["hq".into()];
    let p = plan(&a, &r, &[other], &[], &dir, now);
    assert_eq!(p.to_send().count(), p.notifications.len());
    let mut later = silence.clone();
    later.starts = now + Duration::minutes(1);
    later.expires = now + Duration::days(1);
    let p = plan(&a, &r, &[later], &[], &dir, now);
    let sent: Vec<DateTime<Utc>> = p.to_send().map(|n| n.at).collect();
    assert_eq!(sent, vec![now], "only the step due at once");
}

#[test]
fn acknowledging_cancels_everything_not_yet_sent() {
    let r = routes(SIMPLE);
    let now = t("2026-03-02T10:00:00Z");
    let a = alert(Domain::Physical, "door_forced", Severity::HIGH, Some("dc"));
    let p = plan(&a, &r, &[], &[], &FakeDirectory::new(), now);
    let acked = now + Duration::minutes(7);
    // Everything due at 0 was delivered; the step due at 5m is still queued.
    let sent: HashSet<String> = p
        .to_send()
        .filter(|n| n.at == now)
        .map(|n| n.key.clone())
        .collect();
    let cancelled = cancel_on_ack(&p, acked, &sent);
    let expected: Vec<&Notification> = p.to_send().filter(|n| n.at > now).collect();
    assert_eq!(cancelled, expected);
    assert!(cancelled.iter().any(|n| n.at < acked), "queued but unsent");
    assert!(cancelled.iter().any(|n| n.repeat > 0), "repeats too");
    assert_eq!(cancelled.len() + sent.len(), p.to_send().count());
}

#[test]
fn yaml_errors_name_line_and_field() {
    let e = errors(
        "route:\n  plan: p\n  routs: []\nplans:\n  p:\n    steps: [{ after: 0, notify: [{ oncall: soc }] }]\n",
    );
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, Some(3));
    assert!(e[0].message.contains("unknown field `routs`"), "{}", e[0]);

    let e = errors(
        "route:\n  plan: p\nplans:\n  p:\n    steps:\n      - after: 5 minutes\n        notify: [{ oncall: soc }]\n",
    );
    assert_eq!(e[0].line, Some(6), "{}", e[0]);
    assert_eq!(e[0].field.as_deref(), Some("plans.p.steps[0].after"));
    assert!(e[0].message.contains("bad duration"), "{}", e[0]);

    let e = errors(
        "route:\n  plan: p\nplans:\n  p:\n    steps:\n      - after: 0\n        notify: [{ oncall: soc, visibility: secret }]\n",
    );
    assert_eq!(e[0].line, Some(7), "{}", e[0]);
    assert_eq!(
        e[0].field.as_deref(),
        Some("plans.p.steps[0].notify[0].visibility")
    );

    let e = errors(
        r#"route:
  plan: p
  routes:
    - match: { domain: physcial }
      plan: missing
plans:
  p:
    quiet_hours: [nights]
    steps:
      - { after: 10m, notify: [{ oncall: soc, team: soc }] }
      - { after: 5m, notify: [] }
    repeat: { every: 0, times: 500 }
"#,
    );
    let found: Vec<(Option<usize>, &str)> = e
        .iter()
        .map(|e| (e.line, e.field.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        found,
        vec![
            (Some(4), "route.routes[0].match.domain"),
            (Some(5), "route.routes[0].plan"),
            (None, "plans.p.steps[0].notify[0]"),
            (Some(11), "plans.p.steps[1].after"),
            (None, "plans.p.steps[1].notify"),
            (Some(12), "plans.p.repeat.every"),
            (Some(12), "plans.p.repeat.times"),
            (Some(8), "plans.p.quiet_hours[0]"),
        ]
    );
    assert!(e.iter().all(|e| e.file == Path::new("routes.yaml")));
    let text = RoutesErrors(e).to_string();
    assert!(text.contains("routes.yaml:5: field route.routes[0].plan: unknown plan \"missing\""));
}

#[test]
fn spans_parse_and_print() {
    assert_eq!(Span::parse("1h30m").unwrap().0, Duration::minutes(90));
    assert_eq!(Span::parse("0").unwrap().0, Duration::zero());
    assert_eq!(Span::parse("2d").unwrap().to_string(), "2d");
    assert_eq!(Span::parse("90s").unwrap().to_string(), "1m30s");
    for bad in ["", "5", "m", "5w", "1000d", "-5m"] {
        assert!(Span::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn plans_and_silences_serialise_for_the_api() {
    let r = routes(SIMPLE);
    let a = alert(Domain::Physical, "door_forced", Severity::HIGH, Some("hq"));
    let p = plan(
        &a,
        &r,
        &[],
        &[],
        &FakeDirectory::new(),
        t("2026-03-02T10:00:00Z"),
    );
    let v: Value = serde_json::to_value(&p).unwrap();
    let back: Plan = serde_json::from_value(v).unwrap();
    assert_eq!(back, p);
    let s: Silence = serde_json::from_value(json!({
        "id": "s-2", "matcher": { "site": "hq" },
        "starts": "2026-03-02T10:00:00Z", "expires": "2026-03-02T12:00:00Z"
    }))
    .unwrap();
    assert!(s.mutes(&a, t("2026-03-02T11:59:59Z")));
    assert!(!s.mutes(&a, t("2026-03-02T12:00:00Z")));
    // The routes themselves round-trip through YAML, so `tocsin routes` can print them.
    let text = yaml_serde::to_string(&r).unwrap();
    let again = parse(&text, Path::new("x.yaml")).unwrap();
    assert_eq!(names(&a, &again), names(&a, &r));
}

#[test]
fn send_time_recheck_sees_new_silences_and_alerts() {
    let r = routes(INHIBIT);
    let now = t("2026-03-02T10:00:00Z");
    let door = alert(
        Domain::Physical,
        "door_offline",
        Severity::MEDIUM,
        Some("hq"),
    );
    assert!(suppression_at(&door, &r, &[], &[], now).is_none());
    let outage = alert(Domain::Physical, "site_outage", Severity::HIGH, Some("hq"));
    assert!(matches!(
        suppression_at(&door, &r, &[], std::slice::from_ref(&outage), now),
        Some(Suppression::Inhibited { by, .. }) if by == outage.id
    ));
    let s = Silence {
        id: "s-3".into(),
        matcher: yaml_serde::from_str("{ site: hq }").unwrap(),
        starts: now,
        expires: now + Duration::hours(1),
        created_by: String::new(),
        comment: String::new(),
    };
    assert!(suppression_at(&door, &r, std::slice::from_ref(&s), &[], now).is_some());
    assert!(suppression_at(&door, &r, &[s], &[], now + Duration::hours(1)).is_none());
}

#[test]
fn teams_unknown_to_the_directory_are_reported() {
    let r = routes(
        "route: { plan: p }\nplans:\n  p:\n    steps:\n      - { after: 0, notify: [{ oncall: soc }, { team: legal }, { person: p-x }] }\n",
    );
    assert_eq!(
        unknown_teams(&r, &FakeDirectory::new()),
        vec![(
            "plans.p.steps[0].notify[1].team".to_owned(),
            "unknown team \"legal\"".to_owned()
        )]
    );
}

#[test]
fn plans_near_the_end_of_time_do_not_overflow() {
    let r = routes(SIMPLE);
    let a = alert(Domain::Physical, "door_forced", Severity::HIGH, Some("dc"));
    let p = plan(
        &a,
        &r,
        &[],
        &[],
        &FakeDirectory::new(),
        DateTime::<Utc>::MAX_UTC,
    );
    assert!(p.notifications.iter().all(|n| n.step == 0));
}

#[test]
fn unquoted_times_and_bad_matcher_values() {
    let r = routes(
        "route: { plan: p }\nplans:\n  p:\n    steps: [{ after: 1h, notify: [{ oncall: soc }] }]\nquiet_hours:\n  lunch:\n    offset: Z\n    from: 12:00\n    until: 13:00\n",
    );
    let q = &r.quiet_hours["lunch"];
    assert_eq!(
        quiet_until(q, t("2026-03-02T12:30:00Z")),
        Some(t("2026-03-02T13:00:00Z"))
    );
    let e = errors(
        "route:\n  plan: p\n  routes:\n    - match:\n        site: { hq: 1 }\nplans:\n  p:\n    steps: [{ after: 0, notify: [{ oncall: soc }] }]\n",
    );
    assert_eq!(e[0].field.as_deref(), Some("route.routes[0].match.site"));
    assert!(e[0].message.contains("a string or a list"), "{}", e[0]);
    assert!(e[0].line.is_some_and(|l| (4..=5).contains(&l)), "{}", e[0]);
}
