//! Sigma correlation rules, streaming in event time.
//!
//! Each correlation keeps, per group (tenant + group-by values), the entries of its window in
//! time order. An alert fires on the event that makes the condition true, and the group starts
//! afresh, so the next alert needs the threshold to be met again. Events may arrive out of
//! order by up to the configured lateness; older ones are counted as late and left out.
//! In-order events update running counts (distinct values, rules seen, sums) without
//! recounting the window.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use rsigma_eval::event::Event as SigmaEvent;
use rsigma_parser::{
    ConditionExpr, ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType,
    Quantifier, SelectorPattern,
};
use tocsin_model::Severity;
use ulid::Ulid;

use crate::ruleset::{RejectKind, Rejected, RuleInfo, severity_of};

/// Chains of correlations deeper than this are cut, so a cycle can never loop.
const MAX_CHAIN_DEPTH: usize = 10;

/// What a correlation refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleRef {
    /// A detection rule, by index into [`crate::SigmaRuleSet::rules`].
    Rule(usize),
    /// Another correlation, by index into [`crate::SigmaRuleSet::correlations`].
    Correlation(usize),
}

/// The correlation types of the specification (and pySigma's numeric aggregations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
    ValueMedian,
}

impl CorrelationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationKind::EventCount => "event_count",
            CorrelationKind::ValueCount => "value_count",
            CorrelationKind::Temporal => "temporal",
            CorrelationKind::TemporalOrdered => "temporal_ordered",
            CorrelationKind::ValueSum => "value_sum",
            CorrelationKind::ValueAvg => "value_avg",
            CorrelationKind::ValuePercentile => "value_percentile",
            CorrelationKind::ValueMedian => "value_median",
        }
    }

    fn from_parsed(t: CorrelationType) -> Self {
        match t {
            CorrelationType::EventCount => CorrelationKind::EventCount,
            CorrelationType::ValueCount => CorrelationKind::ValueCount,
            CorrelationType::Temporal => CorrelationKind::Temporal,
            CorrelationType::TemporalOrdered => CorrelationKind::TemporalOrdered,
            CorrelationType::ValueSum => CorrelationKind::ValueSum,
            CorrelationType::ValueAvg => CorrelationKind::ValueAvg,
            CorrelationType::ValuePercentile => CorrelationKind::ValuePercentile,
            CorrelationType::ValueMedian => CorrelationKind::ValueMedian,
        }
    }
}

/// When a window matches.
#[derive(Debug, Clone, PartialEq)]
pub enum CorrelationCond {
    /// Every predicate holds for the window's number (count, distinct values, sum, ...).
    Threshold(Vec<(ConditionOperator, f64)>),
    /// Temporal: every referenced rule was seen in the window.
    AllRules,
    /// Temporal: a boolean expression over the referenced rules' names, each true when that
    /// rule was seen in the window.
    Expression(ConditionExpr),
}

/// A loaded correlation rule.
#[derive(Debug, Clone)]
pub struct CorrelationDef {
    /// The rule's `id`, else its `name`, else its title.
    pub id: String,
    pub title: String,
    pub name: Option<String>,
    pub severity: Severity,
    pub level: Option<&'static str>,
    pub path: PathBuf,
    pub kind: CorrelationKind,
    /// The referenced rules in the order written.
    pub refs: Vec<RuleRef>,
    /// The references as written (ids or names), parallel to `refs`.
    pub ref_names: Vec<String>,
    /// Group-by names (aliases or field names) as written.
    pub group_by: Vec<String>,
    /// For each group-by name, the field to read for each reference (aliases resolved).
    group_fields: Vec<Vec<String>>,
    /// Field(s) a value aggregation reads.
    pub value_fields: Vec<String>,
    pub percentile: f64,
    pub timespan_secs: u64,
    pub condition: CorrelationCond,
    pub generate: bool,
    /// Whether a firing raises an alert on its own (false when a correlation that refers to it
    /// does not `generate`).
    pub standalone: bool,
}

fn op_holds(op: ConditionOperator, value: f64, threshold: f64) -> bool {
    match op {
        ConditionOperator::Lt => value < threshold,
        ConditionOperator::Lte => value <= threshold,
        ConditionOperator::Gt => value > threshold,
        ConditionOperator::Gte => value >= threshold,
        ConditionOperator::Eq => value == threshold,
        ConditionOperator::Neq => value != threshold,
    }
}

fn corr_label(c: &CorrelationRule) -> String {
    c.id.clone()
        .or_else(|| c.name.clone())
        .unwrap_or_else(|| c.title.clone())
}

/// Resolves correlation references and aliases; rejects what cannot be resolved. Marks the
/// detection rules and correlations that only feed a correlation as not standalone.
pub(crate) fn compile_correlations(
    parsed: Vec<(PathBuf, CorrelationRule)>,
    rules: &mut [RuleInfo],
    rejected: &mut Vec<Rejected>,
) -> Vec<CorrelationDef> {
    let mut rule_by_ref: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        rule_by_ref.insert(r.id.as_str(), i);
        if let Some(n) = &r.name {
            rule_by_ref.insert(n.as_str(), i);
        }
    }
    let rule_by_ref: HashMap<String, usize> = rule_by_ref
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();

    // Which correlation names may be referenced: every parsed one, so that order of files
    // does not matter; unresolved ones are dropped in a loop until the set is stable.
    let mut candidates: Vec<(PathBuf, CorrelationRule)> = parsed;
    loop {
        let mut corr_by_ref: HashMap<String, usize> = HashMap::new();
        for (i, (_, c)) in candidates.iter().enumerate() {
            corr_by_ref.insert(corr_label(c), i);
            if let Some(n) = &c.name {
                corr_by_ref.insert(n.clone(), i);
            }
        }
        let mut bad: Option<(usize, String)> = None;
        'outer: for (i, (_, c)) in candidates.iter().enumerate() {
            if c.rules.is_empty() {
                bad = Some((i, "correlation refers to no rules".to_owned()));
                break;
            }
            for r in &c.rules {
                if !rule_by_ref.contains_key(r) && !corr_by_ref.contains_key(r) {
                    bad = Some((i, format!("refers to rule {r}, which is not loaded")));
                    break 'outer;
                }
            }
        }
        if bad.is_none() {
            bad = find_cycle(&candidates, &corr_by_ref, &rule_by_ref)
                .map(|i| (i, "correlation refers to itself through a chain".to_owned()));
        }
        match bad {
            Some((i, reason)) => {
                let (path, c) = candidates.remove(i);
                rejected.push(Rejected {
                    path,
                    rule: Some(corr_label(&c)),
                    kind: RejectKind::Reference,
                    reason,
                });
            }
            None => break,
        }
    }

    let mut corr_by_ref: HashMap<String, usize> = HashMap::new();
    for (i, (_, c)) in candidates.iter().enumerate() {
        corr_by_ref.insert(corr_label(c), i);
        if let Some(n) = &c.name {
            corr_by_ref.insert(n.clone(), i);
        }
    }

    let mut defs: Vec<CorrelationDef> = Vec::new();
    for (path, c) in &candidates {
        let refs: Vec<RuleRef> = c
            .rules
            .iter()
            .map(|r| match rule_by_ref.get(r) {
                Some(&i) => RuleRef::Rule(i),
                None => RuleRef::Correlation(corr_by_ref.get(r).copied().unwrap_or(0)),
            })
            .collect();
        let group_fields = c
            .group_by
            .iter()
            .map(|g| {
                let alias = c.aliases.iter().find(|a| &a.alias == g);
                c.rules
                    .iter()
                    .zip(&refs)
                    .map(|(written, r)| {
                        let Some(alias) = alias else {
                            return g.clone();
                        };
                        // Aliases may name the rule by the reference as written, its id or its
                        // name.
                        let mut keys = vec![written.clone()];
                        match r {
                            RuleRef::Rule(i) => {
                                if let Some(info) = rules.get(*i) {
                                    keys.push(info.id.clone());
                                    keys.extend(info.name.clone());
                                }
                            }
                            RuleRef::Correlation(i) => {
                                if let Some((_, other)) = candidates.get(*i) {
                                    keys.push(corr_label(other));
                                    keys.extend(other.name.clone());
                                }
                            }
                        }
                        keys.iter()
                            .find_map(|k| alias.mapping.get(k).cloned())
                            .unwrap_or_else(|| g.clone())
                    })
                    .collect()
            })
            .collect();
        let kind = CorrelationKind::from_parsed(c.correlation_type);
        let (condition, value_fields, percentile) = match &c.condition {
            CorrelationCondition::Threshold {
                predicates,
                field,
                percentile,
            } => {
                let temporal = matches!(
                    kind,
                    CorrelationKind::Temporal | CorrelationKind::TemporalOrdered
                );
                // The parser writes `gte: 1` for a temporal rule without a condition; the
                // specification means "all referenced rules".
                let cond = if temporal
                    && (field.is_none()
                        && (predicates.as_slice() == [(ConditionOperator::Gte, 1)]
                            || kind == CorrelationKind::TemporalOrdered))
                {
                    CorrelationCond::AllRules
                } else {
                    CorrelationCond::Threshold(
                        predicates.iter().map(|(o, v)| (*o, *v as f64)).collect(),
                    )
                };
                let p = match kind {
                    CorrelationKind::ValueMedian => 50.0,
                    _ => percentile.map_or(50.0, |p| p.min(100) as f64),
                };
                (cond, field.clone().unwrap_or_default(), p)
            }
            CorrelationCondition::Extended(expr) => {
                (CorrelationCond::Expression(expr.clone()), Vec::new(), 50.0)
            }
        };
        let needs_field = matches!(
            kind,
            CorrelationKind::ValueCount
                | CorrelationKind::ValueSum
                | CorrelationKind::ValueAvg
                | CorrelationKind::ValuePercentile
                | CorrelationKind::ValueMedian
        );
        if needs_field && value_fields.is_empty() {
            rejected.push(Rejected {
                path: path.clone(),
                rule: Some(corr_label(c)),
                kind: RejectKind::Compile,
                reason: format!("{} needs `field` in its condition", kind.as_str()),
            });
            continue;
        }
        if c.timespan.seconds == 0 {
            rejected.push(Rejected {
                path: path.clone(),
                rule: Some(corr_label(c)),
                kind: RejectKind::Compile,
                reason: "timespan must be longer than zero".to_owned(),
            });
            continue;
        }
        defs.push(CorrelationDef {
            id: corr_label(c),
            title: c.title.clone(),
            name: c.name.clone(),
            severity: severity_of(c.level),
            level: c.level.map(|l| l.as_str()),
            path: path.clone(),
            kind,
            refs,
            ref_names: c.rules.clone(),
            group_by: c.group_by.clone(),
            group_fields,
            value_fields,
            percentile,
            timespan_secs: c.timespan.seconds,
            condition,
            generate: c.generate,
            standalone: true,
        });
    }
    // Rejections above shift indexes; resolve correlation references again by label.
    let labels: HashMap<String, usize> = defs
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            let mut v = vec![(d.id.clone(), i)];
            if let Some(n) = &d.name {
                v.push((n.clone(), i));
            }
            v
        })
        .collect();
    let mut dropped = HashSet::new();
    for (i, d) in defs.iter_mut().enumerate() {
        for (r, written) in d.refs.iter_mut().zip(&d.ref_names) {
            if let RuleRef::Correlation(_) = r {
                match labels.get(written) {
                    Some(&j) => *r = RuleRef::Correlation(j),
                    None => {
                        dropped.insert(i);
                    }
                }
            }
        }
    }
    let mut kept = Vec::new();
    let mut remap = HashMap::new();
    for (i, d) in defs.into_iter().enumerate() {
        if dropped.contains(&i) {
            rejected.push(Rejected {
                path: d.path.clone(),
                rule: Some(d.id.clone()),
                kind: RejectKind::Reference,
                reason: "refers to a correlation that was rejected".to_owned(),
            });
        } else {
            remap.insert(i, kept.len());
            kept.push(d);
        }
    }
    for d in &mut kept {
        for r in &mut d.refs {
            if let RuleRef::Correlation(j) = r {
                *j = remap.get(j).copied().unwrap_or(usize::MAX);
            }
        }
    }
    let feeders: Vec<(RuleRef, bool)> = kept
        .iter()
        .flat_map(|d| d.refs.iter().map(move |r| (*r, d.generate)))
        .collect();
    for (r, generate) in feeders {
        if generate {
            continue;
        }
        match r {
            RuleRef::Rule(i) => {
                if let Some(info) = rules.get_mut(i) {
                    info.standalone = false;
                }
            }
            RuleRef::Correlation(j) => {
                if let Some(d) = kept.get_mut(j) {
                    d.standalone = false;
                }
            }
        }
    }
    kept
}

/// The index of a correlation that reaches itself through references, if any.
fn find_cycle(
    candidates: &[(PathBuf, CorrelationRule)],
    corr_by_ref: &HashMap<String, usize>,
    rule_by_ref: &HashMap<String, usize>,
) -> Option<usize> {
    let edges: Vec<Vec<usize>> = candidates
        .iter()
        .map(|(_, c)| {
            c.rules
                .iter()
                .filter(|r| !rule_by_ref.contains_key(*r))
                .filter_map(|r| corr_by_ref.get(r).copied())
                .collect()
        })
        .collect();
    for start in 0..candidates.len() {
        let mut stack = edges.get(start).cloned().unwrap_or_default();
        let mut seen = HashSet::new();
        while let Some(n) = stack.pop() {
            if n == start {
                return Some(start);
            }
            if seen.insert(n) {
                stack.extend(edges.get(n).into_iter().flatten().copied());
            }
        }
    }
    None
}

/// One event in a group's window.
#[derive(Debug, Clone)]
struct Entry {
    time_ms: i64,
    id: Ulid,
    /// Distinct value (value_count), reference position (temporal) or nothing.
    key: Option<Box<str>>,
    num: f64,
    ref_pos: usize,
}

#[derive(Debug)]
struct Group {
    /// Entries in time order; those before `active_from` are outside the window that ends at
    /// `latest_ms` but are kept for late events.
    entries: VecDeque<Entry>,
    active_from: usize,
    latest_ms: i64,
    /// Running counts over the active window, by entry key.
    distinct: HashMap<Box<str>, u32>,
    sum: f64,
    /// Position in the expiry order.
    expiry: (i64, u64),
}

impl Group {
    fn new() -> Self {
        Self {
            entries: VecDeque::new(),
            active_from: 0,
            latest_ms: i64::MIN,
            distinct: HashMap::new(),
            sum: 0.0,
            expiry: (i64::MIN, 0),
        }
    }

    fn enter(&mut self, e: &Entry) {
        if let Some(k) = &e.key {
            *self.distinct.entry(k.clone()).or_insert(0) += 1;
        }
        self.sum += e.num;
    }

    fn leave(&mut self, index: usize) {
        let Some(e) = self.entries.get(index) else {
            return;
        };
        if let Some(k) = &e.key
            && let Some(n) = self.distinct.get_mut(k)
        {
            *n -= 1;
            if *n == 0 {
                self.distinct.remove(k);
            }
        }
        self.sum -= e.num;
    }

    /// Moves the active window's start so it covers `[latest - span, latest]`.
    fn advance(&mut self, span_ms: i64) {
        let start = self.latest_ms.saturating_sub(span_ms);
        while self.active_from < self.entries.len()
            && self
                .entries
                .get(self.active_from)
                .is_some_and(|e| e.time_ms < start)
        {
            self.leave(self.active_from);
            self.active_from += 1;
        }
    }

    /// Drops entries too old for any window a late event could still open.
    fn prune(&mut self, keep_from_ms: i64) {
        while self
            .entries
            .front()
            .is_some_and(|e| e.time_ms < keep_from_ms)
        {
            if self.active_from == 0 {
                self.leave(0);
            } else {
                self.active_from -= 1;
            }
            self.entries.pop_front();
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.active_from = 0;
        self.distinct.clear();
        self.sum = 0.0;
    }
}

/// A correlation that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationHit {
    /// Index into [`crate::SigmaRuleSet::correlations`].
    pub correlation: usize,
    /// Group-by names and the values of this group.
    pub group: Vec<(String, String)>,
    /// The number that met the condition (count, distinct values, sum, ...).
    pub value: f64,
    /// Evidence: the ids of the window's events, the triggering one last.
    pub evidence: Vec<Ulid>,
}

/// Counters of the correlation state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorrelationStats {
    pub open_groups: u64,
    pub evicted: u64,
    pub late: u64,
    /// Matches left out because a group-by field was missing from the event.
    pub ungrouped: u64,
}

/// A group: the correlation's index and the tenant followed by the group-by values.
type GroupKey = (usize, Box<[String]>);
/// Groups ordered by when they expire: (expiry time, sequence), then the group.
type ExpiryKey = ((i64, u64), usize, Box<[String]>);

/// The event a correlation sees, besides its fields.
#[derive(Debug, Clone, Copy)]
pub struct EventMeta<'a> {
    /// Correlation state is kept per tenant.
    pub tenant: &'a str,
    /// Event time, in milliseconds since the epoch.
    pub time_ms: i64,
    /// The event's id, kept as evidence.
    pub id: Ulid,
}

/// Streaming state of every correlation rule of a rule set.
#[derive(Debug)]
pub struct Correlator {
    groups: HashMap<GroupKey, Group>,
    expiry: BTreeSet<ExpiryKey>,
    seq: u64,
    watermark_ms: i64,
    lateness_ms: i64,
    max_groups: usize,
    max_group_entries: usize,
    max_evidence: usize,
    stats: CorrelationStats,
    /// For each detection rule, the correlations (and reference positions) it feeds.
    rule_feeds: Vec<Vec<(usize, usize)>>,
    /// For each correlation, the correlations (and positions) it feeds.
    corr_feeds: Vec<Vec<(usize, usize)>>,
}

/// Reads a field of the event as text, for group keys and values.
fn field_text<E: SigmaEvent>(event: &E, name: &str) -> Option<String> {
    let v = event.get_field(name)?;
    if v.is_null() {
        return None;
    }
    v.as_str().map(|s| s.into_owned())
}

fn percentile(mut values: Vec<f64>, p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (p / 100.0) * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let a = *values.get(lo)?;
    let b = *values.get(hi)?;
    Some(a + (b - a) * (rank - lo as f64))
}

impl Correlator {
    pub fn new(
        defs: &[CorrelationDef],
        rule_count: usize,
        lateness_secs: u64,
        max_groups: usize,
        max_group_entries: usize,
        max_evidence: usize,
    ) -> Self {
        let mut rule_feeds = vec![Vec::new(); rule_count];
        let mut corr_feeds = vec![Vec::new(); defs.len()];
        for (c, d) in defs.iter().enumerate() {
            for (pos, r) in d.refs.iter().enumerate() {
                let list = match r {
                    RuleRef::Rule(i) => rule_feeds.get_mut(*i),
                    RuleRef::Correlation(j) => corr_feeds.get_mut(*j),
                };
                if let Some(l) = list {
                    l.push((c, pos));
                }
            }
        }
        Self {
            groups: HashMap::new(),
            expiry: BTreeSet::new(),
            seq: 0,
            watermark_ms: i64::MIN,
            lateness_ms: i64::try_from(lateness_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            max_groups: max_groups.max(1),
            max_group_entries: max_group_entries.max(1),
            max_evidence: max_evidence.max(1),
            stats: CorrelationStats::default(),
            rule_feeds,
            corr_feeds,
        }
    }

    pub fn stats(&self) -> CorrelationStats {
        CorrelationStats {
            open_groups: self.groups.len() as u64,
            ..self.stats
        }
    }

    /// Whether any correlation uses detection rule `rule`.
    pub fn feeds(&self, rule: usize) -> bool {
        self.rule_feeds.get(rule).is_some_and(|f| !f.is_empty())
    }

    /// Feeds one event's detection matches into the correlations and returns those that fired
    /// on it (chained correlations included).
    pub fn on_event<E: SigmaEvent>(
        &mut self,
        defs: &[CorrelationDef],
        event: &E,
        meta: EventMeta<'_>,
        matched_rules: &[usize],
        out: &mut Vec<CorrelationHit>,
    ) {
        let time_ms = meta.time_ms;
        if !matched_rules.iter().any(|&r| self.feeds(r)) {
            return;
        }
        if self.watermark_ms != i64::MIN
            && time_ms < self.watermark_ms.saturating_sub(self.lateness_ms)
        {
            self.stats.late += 1;
            return;
        }
        self.watermark_ms = self.watermark_ms.max(time_ms);
        self.expire();
        let mut work: Vec<(usize, usize, usize)> = Vec::new();
        for &r in matched_rules {
            if let Some(feeds) = self.rule_feeds.get(r) {
                work.extend(feeds.iter().map(|&(c, pos)| (c, pos, 0)));
            }
        }
        let mut seen_fired = HashSet::new();
        while let Some((c, pos, depth)) = work.pop() {
            let Some(def) = defs.get(c) else { continue };
            if let Some(hit) = self.feed(def, c, pos, event, meta)
                && seen_fired.insert(c)
            {
                if depth + 1 < MAX_CHAIN_DEPTH
                    && let Some(feeds) = self.corr_feeds.get(c)
                {
                    work.extend(feeds.iter().map(|&(c2, p2)| (c2, p2, depth + 1)));
                }
                out.push(hit);
            }
        }
    }

    fn expire(&mut self) {
        while let Some(first) = self.expiry.first() {
            if first.0.0 >= self.watermark_ms {
                break;
            }
            if let Some((_, c, key)) = self.expiry.pop_first() {
                self.groups.remove(&(c, key));
            }
        }
    }

    fn feed<E: SigmaEvent>(
        &mut self,
        def: &CorrelationDef,
        c: usize,
        pos: usize,
        event: &E,
        meta: EventMeta<'_>,
    ) -> Option<CorrelationHit> {
        let EventMeta {
            tenant,
            time_ms,
            id,
        } = meta;
        let mut key = Vec::with_capacity(def.group_fields.len() + 1);
        key.push(tenant.to_owned());
        for fields in &def.group_fields {
            let name = fields.get(pos)?;
            match field_text(event, name) {
                Some(v) => key.push(v),
                None => {
                    self.stats.ungrouped += 1;
                    return None;
                }
            }
        }
        let (entry_key, num) = match def.kind {
            CorrelationKind::EventCount => (None, 0.0),
            CorrelationKind::ValueCount => {
                let mut parts = Vec::with_capacity(def.value_fields.len());
                for f in &def.value_fields {
                    match field_text(event, f) {
                        Some(v) => parts.push(v),
                        // A value that is missing is not a distinct value.
                        None => return None,
                    }
                }
                (Some(parts.join("\u{1f}").into_boxed_str()), 0.0)
            }
            CorrelationKind::Temporal | CorrelationKind::TemporalOrdered => {
                (Some(pos.to_string().into_boxed_str()), 0.0)
            }
            _ => {
                let f = def.value_fields.first()?;
                let v = event.get_field(f).and_then(|v| v.as_f64())?;
                (None, v)
            }
        };
        let span_ms = i64::try_from(def.timespan_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let key: Box<[String]> = key.into_boxed_slice();
        let map_key = (c, key);
        if !self.groups.contains_key(&map_key) {
            if self.groups.len() >= self.max_groups
                && let Some((_, oc, okey)) = self.expiry.pop_first()
            {
                self.groups.remove(&(oc, okey));
                self.stats.evicted += 1;
            }
            self.groups.insert(map_key.clone(), Group::new());
        }
        let lateness_ms = self.lateness_ms;
        let max_entries = self.max_group_entries;
        let max_evidence = self.max_evidence;
        let group = self.groups.get_mut(&map_key)?;
        let old_expiry = group.expiry;

        let entry = Entry {
            time_ms,
            id,
            key: entry_key,
            num,
            ref_pos: pos,
        };
        let in_order = time_ms >= group.latest_ms;
        let window_start_before = group.latest_ms.saturating_sub(span_ms);
        if in_order {
            group.entries.push_back(entry.clone());
            group.enter(&entry);
            group.latest_ms = time_ms;
            group.advance(span_ms);
        } else {
            let at = group.entries.partition_point(|e| e.time_ms <= time_ms);
            group.entries.insert(at, entry.clone());
            if time_ms >= window_start_before && at >= group.active_from {
                group.enter(&entry);
            } else {
                group.active_from += 1;
            }
        }
        while group.entries.len() > max_entries {
            if group.active_from == 0 {
                group.leave(0);
            } else {
                group.active_from -= 1;
            }
            group.entries.pop_front();
        }
        group.prune(
            group
                .latest_ms
                .saturating_sub(span_ms.saturating_add(lateness_ms)),
        );

        // The value that met the condition and the entries of the window that met it.
        let fired = if in_order {
            let from = group.active_from;
            let to = group.entries.len();
            evaluate_window(def, group, from, to, true).map(|v| (v, from, to))
        } else {
            // A late event may complete any window that contains it: try each start.
            let mut best = None;
            let starts: Vec<i64> = std::iter::once(time_ms.saturating_sub(span_ms))
                .chain(
                    group
                        .entries
                        .iter()
                        .map(|e| e.time_ms)
                        .filter(|t| *t >= time_ms.saturating_sub(span_ms) && *t <= time_ms),
                )
                .collect();
            for s in starts {
                let end_ms = s.saturating_add(span_ms);
                let from = group.entries.partition_point(|e| e.time_ms < s);
                let to = group.entries.partition_point(|e| e.time_ms <= end_ms);
                if let Some(v) = evaluate_window(def, group, from, to, false) {
                    best = Some((v, from, to));
                    break;
                }
            }
            best
        };

        let hit = fired.map(|(value, from, to)| {
            let mut evidence: Vec<Ulid> = group
                .entries
                .range(from..to.min(group.entries.len()))
                .map(|e| e.id)
                .filter(|e| *e != id)
                .collect();
            let keep = max_evidence.saturating_sub(1);
            if evidence.len() > keep {
                evidence.drain(..evidence.len() - keep);
            }
            evidence.push(id);
            CorrelationHit {
                correlation: c,
                group: def
                    .group_by
                    .iter()
                    .cloned()
                    .zip(map_key.1.iter().skip(1).cloned())
                    .collect(),
                value,
                evidence,
            }
        });
        if hit.is_some() {
            group.clear();
        }
        self.seq += 1;
        let expiry = (
            group
                .latest_ms
                .saturating_add(span_ms)
                .saturating_add(lateness_ms),
            self.seq,
        );
        group.expiry = expiry;
        self.expiry
            .remove(&(old_expiry, map_key.0, map_key.1.clone()));
        self.expiry.insert((expiry, map_key.0, map_key.1));
        hit
    }
}

/// The window's number when the correlation's condition holds for entries `from..to`.
/// `running` says the group's running counts cover exactly that range.
fn evaluate_window(
    def: &CorrelationDef,
    group: &Group,
    from: usize,
    to: usize,
    running: bool,
) -> Option<f64> {
    let to = to.min(group.entries.len());
    let from = from.min(to);
    let entries = || group.entries.range(from..to);
    let count = (to - from) as f64;
    let distinct = |g: &Group| -> HashSet<Box<str>> {
        if running {
            g.distinct.keys().cloned().collect()
        } else {
            entries().filter_map(|e| e.key.clone()).collect()
        }
    };
    let value = match def.kind {
        CorrelationKind::EventCount => count,
        CorrelationKind::ValueCount => {
            if running {
                group.distinct.len() as f64
            } else {
                distinct(group).len() as f64
            }
        }
        CorrelationKind::ValueSum => {
            if running {
                group.sum
            } else {
                entries().map(|e| e.num).sum()
            }
        }
        CorrelationKind::ValueAvg => {
            if count == 0.0 {
                return None;
            }
            let sum: f64 = if running {
                group.sum
            } else {
                entries().map(|e| e.num).sum()
            };
            sum / count
        }
        CorrelationKind::ValuePercentile | CorrelationKind::ValueMedian => {
            percentile(entries().map(|e| e.num).collect(), def.percentile)?
        }
        CorrelationKind::Temporal => {
            let seen = distinct(group);
            let present = |pos: usize| seen.contains(pos.to_string().as_str());
            return temporal_holds(def, &present, seen.len());
        }
        CorrelationKind::TemporalOrdered => {
            let mut next = 0usize;
            for e in entries() {
                if e.ref_pos == next {
                    next += 1;
                    if next == def.refs.len() {
                        break;
                    }
                }
            }
            let seen = distinct(group);
            if let CorrelationCond::AllRules = def.condition {
                return (next == def.refs.len()).then_some(next as f64);
            }
            let present = |pos: usize| pos < next;
            return temporal_holds(def, &present, seen.len().min(next));
        }
    };
    match &def.condition {
        CorrelationCond::Threshold(preds) => preds
            .iter()
            .all(|(op, t)| op_holds(*op, value, *t))
            .then_some(value),
        CorrelationCond::AllRules | CorrelationCond::Expression(_) => None,
    }
}

fn temporal_holds(
    def: &CorrelationDef,
    present: &dyn Fn(usize) -> bool,
    seen: usize,
) -> Option<f64> {
    let holds = match &def.condition {
        CorrelationCond::AllRules => (0..def.refs.len()).all(present),
        CorrelationCond::Threshold(preds) => {
            preds.iter().all(|(op, t)| op_holds(*op, seen as f64, *t))
        }
        CorrelationCond::Expression(expr) => eval_expr(expr, def, present),
    };
    holds.then_some(seen as f64)
}

fn eval_expr(expr: &ConditionExpr, def: &CorrelationDef, present: &dyn Fn(usize) -> bool) -> bool {
    match expr {
        ConditionExpr::And(items) => items.iter().all(|e| eval_expr(e, def, present)),
        ConditionExpr::Or(items) => items.iter().any(|e| eval_expr(e, def, present)),
        ConditionExpr::Not(inner) => !eval_expr(inner, def, present),
        ConditionExpr::Identifier(name) => def
            .ref_names
            .iter()
            .position(|n| n == name)
            .is_some_and(present),
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let matching: Vec<usize> = def
                .ref_names
                .iter()
                .enumerate()
                .filter(|(_, n)| match pattern {
                    SelectorPattern::Them => !n.starts_with('_'),
                    SelectorPattern::Pattern(p) => rsigma_parser::detection_name_matches(p, n),
                })
                .map(|(i, _)| i)
                .collect();
            let hits = matching.iter().filter(|&&i| present(i)).count();
            match quantifier {
                Quantifier::Any => hits >= 1,
                Quantifier::All => hits == matching.len(),
                Quantifier::Count(n) => hits as u64 >= *n,
            }
        }
    }
}
