//! [`SigmaDetector`]: Sigma rules on the live stream behind Tocsin's [`Detector`] trait.

use std::sync::Arc;

use serde_json::Value;
use tocsin_detect::{Detection, Detector, DetectorStats, entities_of};
use tocsin_model::Event;

use crate::correlation::{CorrelationHit, CorrelationStats, Correlator, EventMeta};
use crate::view::{ModelEventView, event_logsource};
use crate::{SigmaHandle, SigmaOptions, SigmaRuleSet};

/// Entities that make two matches of one rule the same alert.
const DEDUP_ENTITIES: &[&str] = &[
    "person_id",
    "person",
    "user",
    "badge",
    "host",
    "asset_id",
    "site_id",
];

/// Sigma detection and correlation rules on Tocsin events.
///
/// Detection rules match each event on its own; correlation rules keep bounded state per group
/// in event time. Both produce [`Detection`]s with detector id `sigma` and the rule id as
/// `rule`.
#[derive(Debug)]
pub struct SigmaDetector {
    rules: Arc<SigmaRuleSet>,
    options: SigmaOptions,
    correlator: Correlator,
    matched: Vec<usize>,
    fired: Vec<CorrelationHit>,
    /// Where a new rule set comes from, and the generation in use.
    handle: Option<(Arc<SigmaHandle>, u64)>,
}

impl SigmaDetector {
    pub fn new(rules: Arc<SigmaRuleSet>, options: &SigmaOptions) -> Self {
        let correlator = new_correlator(&rules, options);
        Self {
            rules,
            options: options.clone(),
            correlator,
            matched: Vec::new(),
            fired: Vec::new(),
            handle: None,
        }
    }

    /// A detector on the handle's rule set that switches to each new set the handle swaps in,
    /// before the next event it sees (no event is dropped or seen twice).
    pub fn with_handle(handle: Arc<SigmaHandle>) -> Self {
        let generation = handle.generation();
        let mut d = Self::new(handle.current(), handle.options());
        d.handle = Some((handle, generation));
        d
    }

    /// Takes the handle's rule set if it changed since the last event.
    fn follow_handle(&mut self) {
        let Some((handle, seen)) = &mut self.handle else {
            return;
        };
        let generation = handle.generation();
        if generation == *seen {
            return;
        }
        *seen = generation;
        let rules = handle.current();
        self.replace_rules(rules);
    }

    /// The rule set in use (its hit counters feed metrics).
    pub fn rules(&self) -> &Arc<SigmaRuleSet> {
        &self.rules
    }

    /// Swaps in a new rule set between two events. Correlation state starts afresh, because
    /// the rules it belonged to may have changed.
    pub fn replace_rules(&mut self, rules: Arc<SigmaRuleSet>) {
        self.correlator = new_correlator(&rules, &self.options);
        self.rules = rules;
    }

    /// Correlation state counters, including matches without a group-by value.
    pub fn correlation_stats(&self) -> CorrelationStats {
        self.correlator.stats()
    }
}

fn new_correlator(rules: &SigmaRuleSet, o: &SigmaOptions) -> Correlator {
    Correlator::new(
        rules.correlations(),
        rules.rules().len(),
        o.lateness_secs,
        o.max_groups,
        o.max_group_entries,
        o.max_evidence,
    )
}

fn describe(e: &Event) -> String {
    let mut who = Vec::new();
    for (k, v) in [
        ("user", &e.user),
        ("person", &e.person),
        ("badge", &e.badge),
        ("host", &e.host),
        ("portal", &e.portal),
        ("site", &e.site),
    ] {
        if let Some(v) = v {
            who.push(format!("{k} {v}"));
        }
    }
    let what = match &e.activity {
        Some(a) => format!("{} {a}", e.class),
        None => e.class.clone(),
    };
    if who.is_empty() {
        format!("{what} event from {}", e.source)
    } else {
        format!("{what} event from {} ({})", e.source, who.join(", "))
    }
}

impl Detector for SigmaDetector {
    fn id(&self) -> &'static str {
        "sigma"
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Detection>) {
        self.follow_handle();
        self.matched.clear();
        self.fired.clear();
        let view = ModelEventView::new(event);
        let ls = event_logsource(event);
        self.rules.matches_with(&view, &ls, &mut self.matched);
        if self.matched.is_empty() {
            return;
        }
        let entities = entities_of(event);
        for &i in &self.matched {
            let Some(rule) = self.rules.rules().get(i) else {
                continue;
            };
            if !rule.standalone {
                continue;
            }
            let mut key = format!("sigma:{}", rule.id);
            for k in DEDUP_ENTITIES {
                if let Some(Value::String(v)) = entities.get(*k) {
                    key.push_str(&format!("|{k}={v}"));
                }
            }
            out.push(Detection {
                detector: "sigma",
                rule: Some(rule.id.clone()),
                domain: event.domain,
                severity: rule.severity,
                title: rule.title.clone(),
                summary: format!(
                    "Sigma rule \"{}\" matched a {}",
                    rule.title,
                    describe(event)
                ),
                dedup_key: key,
                dedup_window_secs: self.options.dedup_window_secs,
                time: event.time,
                ingested: event.ingested,
                evidence: vec![event.id],
                entities: entities.clone(),
                geo: event.geo.clone(),
                site_id: event.site_id.clone(),
                tenant: event.tenant.clone(),
            });
        }
        if self.rules.correlations().is_empty() {
            return;
        }
        self.correlator.on_event(
            self.rules.correlations(),
            &view,
            EventMeta {
                tenant: &event.tenant,
                time_ms: event.time.timestamp_millis(),
                id: event.id,
            },
            &self.matched,
            &mut self.fired,
        );
        for hit in &self.fired {
            self.rules.count_correlation_hit(hit.correlation);
            let Some(def) = self.rules.correlations().get(hit.correlation) else {
                continue;
            };
            if !def.standalone {
                continue;
            }
            let mut key = format!("sigma:{}", def.id);
            let mut ents = entities.clone();
            for (k, v) in &hit.group {
                key.push_str(&format!("|{k}={v}"));
                ents.entry(k.clone())
                    .or_insert_with(|| Value::String(v.clone()));
            }
            let group = hit
                .group
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let summary = format!(
                "Sigma correlation \"{}\" ({}) met its condition with {} over {} s{}; last event: {}",
                def.title,
                def.kind.as_str(),
                hit.value,
                def.timespan_secs,
                if group.is_empty() {
                    String::new()
                } else {
                    format!(" for {group}")
                },
                describe(event)
            );
            out.push(Detection {
                detector: "sigma",
                rule: Some(def.id.clone()),
                domain: event.domain,
                severity: def.severity,
                title: def.title.clone(),
                summary,
                dedup_key: key,
                dedup_window_secs: self.options.dedup_window_secs,
                time: event.time,
                ingested: event.ingested,
                evidence: hit.evidence.clone(),
                entities: ents,
                geo: event.geo.clone(),
                site_id: event.site_id.clone(),
                tenant: event.tenant.clone(),
            });
        }
    }

    fn stats(&self) -> DetectorStats {
        let s = self.correlator.stats();
        DetectorStats {
            open_groups: s.open_groups,
            evicted: s.evicted,
            late: s.late,
        }
    }
}
