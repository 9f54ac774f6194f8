//! The after-action report: the four review questions pre-filled from the cross-domain timeline
//! and the measured times, in Markdown and printable HTML. Until the incident is resolved the
//! report is marked DRAFT.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use tocsin_model::Domain;

use crate::incident::{Incident, IncidentState, TimelineKind};

/// The four review questions, in order.
pub const QUESTIONS: [&str; 4] = [
    "How were we exploited?",
    "Who or what threatened us?",
    "What impacted the security of our people, physical assets and digital assets?",
    "How should we work together to prevent, mitigate and respond next time?",
];

/// `1h 02m 03s`, `4m 05s`, `12s`; a negative span (clock skew) is shown as such.
pub fn human_duration(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{sign}{m}m {s:02}s")
    } else {
        format!("{sign}{s}s")
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The report's content, shared by both formats.
struct Report {
    draft: bool,
    title: String,
    header: Vec<(String, String)>,
    times: Vec<(String, String)>,
    answers: [Vec<String>; 4],
    /// The responders' own answers, by question, and who wrote the review.
    written: [Option<String>; 4],
    reviewer: Option<String>,
    timeline: Vec<[String; 4]>,
}

/// The pre-filled facts for each of the four questions, from the timeline and measured times.
pub fn prefill(inc: &Incident, now: DateTime<Utc>) -> [Vec<String>; 4] {
    build(inc, now).answers
}

fn build(inc: &Incident, now: DateTime<Utc>) -> Report {
    let draft = inc.state < IncidentState::Resolved;
    let sla = inc.sla_status(now);
    let first_event = inc.alerts.iter().map(|a| a.time).min();
    let first_detect = inc.alerts.iter().map(|a| a.detected).min();
    let since_open = |t: Option<DateTime<Utc>>| {
        t.map_or_else(
            || "not yet".to_owned(),
            |t| human_duration((t - inc.opened).num_seconds()),
        )
    };
    let mut times = Vec::new();
    if let (Some(e), Some(d)) = (first_event, first_detect) {
        times.push((
            "First event → first detection".to_owned(),
            human_duration((d - e).num_seconds()),
        ));
    }
    times.push((
        "Opened → acknowledged".to_owned(),
        format!(
            "{} (SLA {}{})",
            since_open(inc.acknowledged),
            human_duration(i64::try_from(inc.sla.acknowledge_secs).unwrap_or(i64::MAX)),
            if sla.acknowledge_breached {
                ", breached"
            } else {
                ""
            }
        ),
    ));
    times.push(("Opened → contained".to_owned(), since_open(inc.contained)));
    times.push((
        "Opened → resolved".to_owned(),
        format!(
            "{} (SLA {}{})",
            since_open(inc.resolved),
            human_duration(i64::try_from(inc.sla.resolve_secs).unwrap_or(i64::MAX)),
            if sla.resolve_breached {
                ", breached"
            } else {
                ""
            }
        ),
    ));

    let header = vec![
        ("Incident".to_owned(), inc.id.to_string()),
        ("State".to_owned(), inc.state.as_str().to_owned()),
        ("Severity".to_owned(), inc.severity.name().to_owned()),
        (
            "Domains".to_owned(),
            inc.domains()
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "Disposition".to_owned(),
            inc.disposition.map_or("not set", |d| d.as_str()).to_owned(),
        ),
        (
            "Assigned".to_owned(),
            format!(
                "team {}, person {}",
                inc.assignment.team.as_deref().unwrap_or("-"),
                inc.assignment.person.as_deref().unwrap_or("-")
            ),
        ),
        ("Opened".to_owned(), stamp(inc.opened)),
        ("Alerts".to_owned(), inc.alerts.len().to_string()),
    ];

    // 1. How were we exploited: what the detections saw, in the order it happened.
    let mut how: Vec<String> = inc
        .alerts
        .iter()
        .map(|a| {
            format!(
                "{} — {} ({} domain, {}, rule {})",
                stamp(a.time),
                a.title,
                a.domain,
                a.severity.name(),
                a.rule_key()
            )
        })
        .collect();
    if how.is_empty() {
        how.push("No alert is attached to this incident.".into());
    }

    // 2. Who or what threatened us: the entities the evidence named.
    let mut actors = BTreeSet::new();
    for a in &inc.alerts {
        for (k, v) in &a.entities {
            // Identities only: the site is answered under impact, and structured entities
            // (the impact text, distances) are not actors.
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => continue,
            };
            if k != "site" && k != "site_id" {
                actors.insert(format!("{k}: {v}"));
            }
        }
    }
    let mut who: Vec<String> = actors.into_iter().collect();
    if who.is_empty() {
        who.push(
            "The alerts name no person, account, badge or host; record the source here.".into(),
        );
    }

    // 3. Impact, per domain.
    let mut impact = Vec::new();
    let sites: BTreeSet<String> = inc
        .alerts
        .iter()
        .filter_map(|a| {
            a.site_id.clone().or_else(|| {
                a.entities
                    .get("site")
                    .and_then(|v| v.as_str().map(str::to_owned))
            })
        })
        .collect();
    for (domain, what) in [
        (Domain::Physical, "People and physical assets"),
        (Domain::Cyber, "Digital assets"),
        (Domain::Public, "Public and environmental"),
    ] {
        let titles: Vec<&str> = inc
            .alerts
            .iter()
            .filter(|a| a.domain == domain)
            .map(|a| a.title.as_str())
            .collect();
        let line = if titles.is_empty() {
            format!("{what}: no alert in this domain.")
        } else {
            format!("{what}: {} alert(s) — {}.", titles.len(), titles.join("; "))
        };
        impact.push(line);
    }
    if !sites.is_empty() {
        impact.push(format!(
            "Sites involved: {}.",
            sites.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }

    // 4. Working together: the cross-domain hand-offs and how long each step took.
    let mut together = Vec::new();
    let domains = inc.domains();
    if domains.len() > 1 {
        together.push(format!(
            "This incident spans {} domains ({}); both teams worked one shared timeline.",
            domains.len(),
            domains
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else {
        together.push(
            "Only one domain raised alerts; check whether the other team saw related signs.".into(),
        );
    }
    for (label, value) in &times {
        together.push(format!("{label}: {value}."));
    }
    let people: BTreeSet<&str> = inc
        .timeline
        .iter()
        .filter(|e| e.kind != TimelineKind::Alert)
        .map(|e| e.actor.as_str())
        .collect();
    if !people.is_empty() {
        together.push(format!(
            "Responders on the timeline: {}.",
            people.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let notes = inc
        .timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Note)
        .count();
    together.push(format!(
        "{notes} note(s) and {} checklist step(s) recorded.",
        inc.timeline
            .iter()
            .filter(|e| e.kind == TimelineKind::ChecklistStep)
            .count()
    ));

    let timeline = inc
        .timeline
        .iter()
        .map(|e| {
            [
                stamp(e.at),
                e.kind.as_str().to_owned(),
                e.domain.map_or_else(|| "-".to_owned(), |d| d.to_string()),
                format!("{} — {}", e.actor, e.text),
            ]
        })
        .collect();

    Report {
        draft,
        title: inc.title.clone(),
        header,
        times,
        answers: [how, who, impact, together],
        written: crate::REVIEW_KEYS
            .map(|k| inc.review.as_ref().and_then(|r| r.answers.get(k).cloned())),
        reviewer: inc
            .review
            .as_ref()
            .map(|r| format!("{} ({})", r.by, stamp(r.updated))),
        timeline,
    }
}

/// Markdown cells must not break the table.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The after-action report in Markdown.
pub fn report_markdown(inc: &Incident, now: DateTime<Utc>) -> String {
    let r = build(inc, now);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# After-action report: {}{}\n",
        md_cell(&r.title),
        if r.draft { " (DRAFT)" } else { "" }
    );
    if r.draft {
        let _ = writeln!(
            out,
            "> **DRAFT** — the incident is not resolved yet; generated {}.\n",
            stamp(now)
        );
    } else {
        let _ = writeln!(out, "Generated {}.\n", stamp(now));
    }
    for (k, v) in &r.header {
        let _ = writeln!(out, "- **{k}:** {}", md_cell(v));
    }
    let _ = writeln!(out, "\n## Measured times\n\n| Step | Time |\n|---|---|");
    for (k, v) in &r.times {
        let _ = writeln!(out, "| {} | {} |", md_cell(k), md_cell(v));
    }
    if let Some(who) = &r.reviewer {
        let _ = writeln!(out, "\nReview written by {}.", md_cell(who));
    }
    for (i, (q, answers)) in QUESTIONS.iter().zip(&r.answers).enumerate() {
        let _ = writeln!(out, "\n## {}. {q}\n", i + 1);
        match &r.written[i] {
            Some(text) => {
                for line in text.lines() {
                    let _ = writeln!(out, "> {line}");
                }
                let _ = writeln!(out, "\nFrom the timeline:\n");
            }
            None => {
                let _ = writeln!(out, "_Not answered yet; from the timeline:_\n");
            }
        }
        for a in answers {
            let _ = writeln!(out, "- {}", md_cell(a));
        }
    }
    let _ = writeln!(
        out,
        "\n## Timeline\n\n| Time | Kind | Domain | What |\n|---|---|---|---|"
    );
    for row in &r.timeline {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            md_cell(&row[0]),
            md_cell(&row[1]),
            md_cell(&row[2]),
            md_cell(&row[3])
        );
    }
    out
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The after-action report as one self-contained, printable HTML page.
pub fn report_html(inc: &Incident, now: DateTime<Utc>) -> String {
    let r = build(inc, now);
    let mut out = String::new();
    let title = format!(
        "After-action report: {}{}",
        r.title,
        if r.draft { " (DRAFT)" } else { "" }
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:.3em;text-align:left}}\
         .draft{{color:#a00;border:2px solid #a00;padding:.5em;font-weight:bold}}\
         @media print{{.draft{{-webkit-print-color-adjust:exact}}}}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    if r.draft {
        let _ = writeln!(
            out,
            "<p class=\"draft\">DRAFT — the incident is not resolved yet; generated {}.</p>",
            esc(&stamp(now))
        );
    } else {
        let _ = writeln!(out, "<p>Generated {}.</p>", esc(&stamp(now)));
    }
    out.push_str("<table>\n");
    for (k, v) in &r.header {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    out.push_str(
        "</table>\n<h2>Measured times</h2>\n<table>\n<tr><th>Step</th><th>Time</th></tr>\n",
    );
    for (k, v) in &r.times {
        let _ = writeln!(out, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
    }
    out.push_str("</table>\n");
    if let Some(who) = &r.reviewer {
        let _ = writeln!(out, "<p>Review written by {}.</p>", esc(who));
    }
    for (i, (q, answers)) in QUESTIONS.iter().zip(&r.answers).enumerate() {
        let _ = writeln!(out, "<h2>{}. {}</h2>", i + 1, esc(q));
        match &r.written[i] {
            Some(text) => {
                let _ = writeln!(
                    out,
                    "<blockquote>{}</blockquote>\n<p>From the timeline:</p>",
                    esc(text).replace('\n', "<br>")
                );
            }
            None => out.push_str("<p><em>Not answered yet; from the timeline:</em></p>\n"),
        }
        out.push_str("<ul>\n");
        for a in answers {
            let _ = writeln!(out, "<li>{}</li>", esc(a));
        }
        out.push_str("</ul>\n");
    }
    out.push_str(
        "<h2>Timeline</h2>\n<table>\n<tr><th>Time</th><th>Kind</th><th>Domain</th><th>What</th></tr>\n",
    );
    for row in &r.timeline {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&row[0]),
            esc(&row[1]),
            esc(&row[2]),
            esc(&row[3])
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::tests::{alert, t0};
    use crate::{Disposition, Incident};
    use chrono::Duration;
    use ulid::Ulid;

    fn incident() -> Incident {
        let door = alert(1, 0, Domain::Physical, &[("site", "dc2"), ("badge", "B-7")]);
        let mut inc = Incident::open(Ulid::from_parts(9, 1), &door, "site=dc2".into(), t0());
        let mut login = alert(
            2,
            45,
            Domain::Cyber,
            &[("site", "dc2"), ("user", "<script>")],
        );
        login.title = "Admin login | from DC2 console".into();
        inc.add_alert(&login, t0());
        inc
    }

    #[test]
    fn draft_until_resolved_with_measured_times_and_all_four_questions() {
        let mut inc = incident();
        let md = report_markdown(&inc, t0() + Duration::minutes(1));
        assert!(md.contains("DRAFT"));
        assert!(md.contains("| Opened → acknowledged | not yet"));
        inc.acknowledge(
            "ana",
            Some(Disposition::TruePositive),
            t0() + Duration::seconds(250),
        )
        .unwrap();
        inc.note("Guard sent to DC2", "ana", t0() + Duration::seconds(300))
            .unwrap();
        inc.transition(
            IncidentState::Contained,
            "ben",
            t0() + Duration::seconds(900),
        )
        .unwrap();
        inc.transition(
            IncidentState::Resolved,
            "ben",
            t0() + Duration::seconds(3723),
        )
        .unwrap();
        let now = t0() + Duration::hours(2);
        let md = report_markdown(&inc, now);
        assert!(!md.contains("DRAFT"));
        for q in QUESTIONS {
            assert!(md.contains(q), "{q}");
        }
        assert!(md.contains("| Opened → acknowledged | 4m 10s (SLA 15m 00s) |"));
        assert!(md.contains("| Opened → contained | 15m 00s |"));
        assert!(md.contains("| Opened → resolved | 1h 02m 03s (SLA 4h 00m 00s) |"));
        assert!(md.contains("| First event → first detection | 2s |"));
        assert!(md.contains("badge: B-7"));
        assert!(md.contains("Admin login \\| from DC2 console"));
        assert!(md.contains("spans 2 domains (cyber, physical)"));
        assert!(md.contains("Responders on the timeline: ana, ben."));
        assert!(md.contains("Guard sent to DC2"));

        let html = report_html(&inc, now);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("DRAFT"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("user: &lt;script&gt;"));
        assert!(html.contains("1h 02m 03s"));
        for q in QUESTIONS {
            assert!(html.contains(&esc(q)), "{q}");
        }
    }

    #[test]
    fn the_review_answers_lead_each_question() {
        let mut inc = incident();
        let now = inc.opened + chrono::Duration::hours(2);
        let md = report_markdown(&inc, now);
        assert_eq!(
            md.matches("_Not answered yet; from the timeline:_").count(),
            4
        );
        let answers = [
            (
                "exploited".to_owned(),
                "Tailgated through door 3\nthen used the console".to_owned(),
            ),
            (
                "improve".to_owned(),
                "Guards page the SOC on forced doors".to_owned(),
            ),
        ]
        .into_iter()
        .collect();
        inc.set_review(&answers, "ana", now).unwrap();
        let md = report_markdown(&inc, now);
        assert!(
            md.contains("> Tailgated through door 3\n> then used the console"),
            "{md}"
        );
        assert!(md.contains("> Guards page the SOC on forced doors"));
        assert_eq!(
            md.matches("_Not answered yet; from the timeline:_").count(),
            2
        );
        assert!(md.contains("Review written by ana"));
        let html = report_html(&inc, now);
        assert!(html.contains(
            "<blockquote>Tailgated through door 3<br>then used the console</blockquote>"
        ));
        // Clearing an answer puts the question back to unanswered; unknown keys are refused.
        let clear = [("improve".to_owned(), String::new())]
            .into_iter()
            .collect();
        inc.set_review(&clear, "ben", now).unwrap();
        assert_eq!(inc.review.as_ref().unwrap().answers.len(), 1);
        assert_eq!(inc.review.as_ref().unwrap().by, "ben");
        let bad = [("why".to_owned(), "x".to_owned())].into_iter().collect();
        assert!(matches!(
            inc.set_review(&bad, "ben", now),
            Err(crate::IncidentError::UnknownQuestion(_))
        ));
        assert_eq!(
            inc.timeline
                .iter()
                .filter(|e| e.kind == TimelineKind::Review)
                .count(),
            2
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(61), "1m 01s");
        assert_eq!(human_duration(3600), "1h 00m 00s");
        assert_eq!(human_duration(-5), "-5s");
    }
}
