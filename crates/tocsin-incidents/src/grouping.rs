//! Which incident an alert joins, and merging or splitting incidents by hand.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tocsin_model::Alert;
use ulid::Ulid;

use crate::incident::{Incident, IncidentError, IncidentState, TimelineKind};

/// Entity names tried in order when grouping by entity: the most specific identity first.
const ENTITY_KEYS: [&str; 7] = [
    "person",
    "person_id",
    "user",
    "badge",
    "host",
    "asset",
    "ip",
];

/// What alerts must share to land in one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Entity,
    Site,
}

/// How alerts are grouped into incidents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingConfig {
    /// Alerts group when every listed part of their key is equal.
    pub by: Vec<GroupBy>,
    /// Largest gap, in event time, between an incident's latest alert and a new one.
    pub window_secs: u64,
}

impl Default for GroupingConfig {
    fn default() -> Self {
        GroupingConfig {
            by: vec![GroupBy::Site],
            window_secs: 3600,
        }
    }
}

impl GroupingConfig {
    pub fn window(&self) -> Duration {
        crate::incident::span(self.window_secs)
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn site_of(a: &Alert) -> Option<String> {
    a.site_id
        .clone()
        .or_else(|| a.entities.get("site").and_then(text))
}

fn entity_of(a: &Alert) -> Option<String> {
    ENTITY_KEYS.iter().find_map(|k| {
        a.entities
            .get(*k)
            .and_then(text)
            .map(|v| format!("{k}:{v}"))
    })
}

/// The grouping key of an alert. When the alert has none of the configured parts, it falls back
/// to the alert's own dedup key, so unrelated alerts never collapse into one catch-all incident.
pub fn group_key(a: &Alert, cfg: &GroupingConfig) -> String {
    let mut parts = Vec::new();
    for by in &cfg.by {
        let part = match by {
            GroupBy::Entity => entity_of(a).map(|e| format!("entity={e}")),
            GroupBy::Site => site_of(a).map(|s| format!("site={s}")),
        };
        if let Some(p) = part {
            parts.push(p);
        }
    }
    if parts.is_empty() {
        return format!("alert={}", a.dedup_key);
    }
    parts.join("|")
}

/// Moves every alert and timeline entry of `from` into `into`, then closes `from` as merged.
pub fn merge(
    into: &mut Incident,
    from: &mut Incident,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), IncidentError> {
    if into.id == from.id {
        return Err(IncidentError::SameIncident);
    }
    if into.tenant != from.tenant {
        return Err(IncidentError::TenantMismatch);
    }
    for inc in [&*into, &*from] {
        if inc.state == IncidentState::Closed {
            return Err(IncidentError::Closed(inc.id));
        }
    }
    for a in std::mem::take(&mut from.alerts) {
        if !into.alerts.iter().any(|x| x.id == a.id) {
            into.severity = into.severity.max(a.severity);
            into.last_alert = into.last_alert.max(a.time);
            into.alerts.push(a);
        }
    }
    into.alerts.sort_by_key(|a| (a.detected, a.id));
    let mut timeline = std::mem::take(&mut into.timeline);
    timeline.extend(from.timeline.iter().cloned());
    timeline.sort_by_key(|e| e.at);
    into.timeline = timeline;
    into.opened = into.opened.min(from.opened);
    // Steps the merged incident had (ticked or not) join the list once.
    for item in &from.checklist {
        if into.checklist.len() < crate::checklist::MAX_CHECKLIST_STEPS
            && !into.checklist.iter().any(|i| i.step == item.step)
        {
            into.checklist.push(item.clone());
        }
    }
    into.note_merge_or_split(
        TimelineKind::Merge,
        by,
        format!("merged incident {} into this one", from.id),
        now,
    );
    from.transition(IncidentState::Closed, by, now)?;
    from.merged_into = Some(into.id);
    from.note_merge_or_split(
        TimelineKind::Merge,
        by,
        format!("merged into incident {}", into.id),
        now,
    );
    Ok(())
}

/// Takes `alerts` out of `from` into a new incident `new_id` (state `new`, same tenant, its own
/// clocks from `now`). Both sides must keep at least one alert.
pub fn split(
    from: &mut Incident,
    alerts: &[Ulid],
    new_id: Ulid,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Incident, IncidentError> {
    if from.state == IncidentState::Closed {
        return Err(IncidentError::Closed(from.id));
    }
    if let Some(missing) = alerts
        .iter()
        .find(|id| !from.alerts.iter().any(|a| a.id == **id))
    {
        return Err(IncidentError::UnknownAlert(*missing));
    }
    let (moved, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut from.alerts)
        .into_iter()
        .partition(|a| alerts.contains(&a.id));
    if moved.is_empty() || kept.is_empty() {
        from.alerts = moved.into_iter().chain(kept).collect();
        from.alerts.sort_by_key(|a| (a.detected, a.id));
        return Err(IncidentError::EmptySplit);
    }
    from.alerts = kept;
    let (moved_entries, kept_entries): (Vec<_>, Vec<_>) = std::mem::take(&mut from.timeline)
        .into_iter()
        .partition(|e| e.alert.is_some_and(|id| alerts.contains(&id)));
    from.timeline = kept_entries;
    from.severity = from
        .alerts
        .iter()
        .map(|a| a.severity)
        .max()
        .unwrap_or(from.severity);
    let first = moved.first().map(|a| a.title.clone()).unwrap_or_default();
    let mut new = Incident {
        id: new_id,
        revision: 0,
        tenant: from.tenant.clone(),
        title: first,
        state: IncidentState::New,
        severity: moved
            .iter()
            .map(|a| a.severity)
            .max()
            .unwrap_or(from.severity),
        group_key: format!("split={}", from.id),
        opened: now,
        updated: now,
        last_alert: moved.iter().map(|a| a.time).max().unwrap_or(now),
        acknowledged: None,
        acknowledged_by: None,
        contained: None,
        resolved: None,
        closed: None,
        disposition: None,
        assignment: from.assignment.clone(),
        sla: from.sla,
        merged_into: None,
        alerts_dropped: 0,
        alerts: moved,
        timeline: moved_entries,
        // The same procedure applies to both halves; the new one starts it afresh.
        checklist: from
            .checklist
            .iter()
            .map(|i| crate::ChecklistItem {
                done: false,
                by: None,
                at: None,
                ..i.clone()
            })
            .collect(),
        review: None,
    };
    new.note_merge_or_split(
        TimelineKind::Split,
        by,
        format!("split from incident {}", from.id),
        now,
    );
    from.note_merge_or_split(
        TimelineKind::Split,
        by,
        format!("{} alert(s) split into incident {new_id}", new.alerts.len()),
        now,
    );
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::tests::{alert, t0};
    use tocsin_model::Domain;

    fn cfg(by: &[GroupBy]) -> GroupingConfig {
        GroupingConfig {
            by: by.to_vec(),
            window_secs: 600,
        }
    }

    #[test]
    fn keys_follow_the_configured_parts() {
        let badge = alert(1, 0, Domain::Physical, &[("site", "dc2"), ("badge", "B-7")]);
        let login = alert(2, 30, Domain::Cyber, &[("site", "dc2"), ("user", "asilva")]);
        let site = cfg(&[GroupBy::Site]);
        assert_eq!(group_key(&badge, &site), "site=dc2");
        assert_eq!(group_key(&badge, &site), group_key(&login, &site));
        let entity = cfg(&[GroupBy::Entity]);
        assert_eq!(group_key(&badge, &entity), "entity=badge:B-7");
        assert_ne!(group_key(&badge, &entity), group_key(&login, &entity));
        let both = cfg(&[GroupBy::Entity, GroupBy::Site]);
        assert_eq!(group_key(&login, &both), "entity=user:asilva|site=dc2");
        let bare = alert(3, 0, Domain::Cyber, &[]);
        assert_eq!(group_key(&bare, &site), "alert=rule:r3");
    }

    #[test]
    fn the_window_decides_whether_an_alert_joins() {
        let c = cfg(&[GroupBy::Site]);
        let first = alert(1, 0, Domain::Physical, &[("site", "dc2")]);
        let mut inc = Incident::open(Ulid::from_parts(9, 1), &first, group_key(&first, &c), t0());
        let near = alert(2, 599, Domain::Cyber, &[("site", "dc2")]);
        assert!(inc.accepts(&near, c.window()));
        inc.add_alert(&near, t0());
        // The window slides with the latest alert.
        let later = alert(3, 1100, Domain::Cyber, &[("site", "dc2")]);
        assert!(inc.accepts(&later, c.window()));
        let far = alert(4, 2000, Domain::Cyber, &[("site", "dc2")]);
        assert!(!inc.accepts(&far, c.window()));
        inc.transition(IncidentState::Resolved, "ana", t0())
            .unwrap();
        assert!(!inc.accepts(&near, c.window()));
    }

    #[test]
    fn merge_then_split_moves_alerts_and_keeps_the_timeline() {
        let c = cfg(&[GroupBy::Site]);
        let a1 = alert(1, 0, Domain::Physical, &[("site", "dc2")]);
        let a2 = alert(2, 10, Domain::Cyber, &[("site", "hq")]);
        let mut x = Incident::open(Ulid::from_parts(9, 1), &a1, group_key(&a1, &c), t0());
        let mut y = Incident::open(Ulid::from_parts(9, 2), &a2, group_key(&a2, &c), t0());
        assert_eq!(
            merge(&mut x.clone(), &mut x, "ana", t0()),
            Err(IncidentError::SameIncident)
        );
        merge(&mut x, &mut y, "ana", t0() + Duration::minutes(1)).unwrap();
        assert_eq!(x.alerts.len(), 2);
        assert!(y.alerts.is_empty());
        assert_eq!(y.state, IncidentState::Closed);
        assert_eq!(y.merged_into, Some(x.id));
        assert_eq!(
            merge(&mut x, &mut y, "ana", t0()),
            Err(IncidentError::Closed(y.id))
        );

        assert_eq!(
            split(&mut x, &[a1.id, a2.id], Ulid::from_parts(9, 3), "ana", t0()).unwrap_err(),
            IncidentError::EmptySplit
        );
        assert_eq!(x.alerts.len(), 2);
        let z = split(&mut x, &[a2.id], Ulid::from_parts(9, 3), "ben", t0()).unwrap();
        assert_eq!(
            x.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![a1.id]
        );
        assert_eq!(
            z.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![a2.id]
        );
        assert!(z.timeline.iter().any(|e| e.alert == Some(a2.id)));
        assert!(!x.timeline.iter().any(|e| e.alert == Some(a2.id)));
        assert_eq!(z.state, IncidentState::New);
        assert_eq!(
            split(&mut x, &[Ulid::nil()], Ulid::from_parts(9, 4), "ben", t0()).unwrap_err(),
            IncidentError::UnknownAlert(Ulid::nil())
        );
    }
}
