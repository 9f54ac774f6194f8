//! Loading a rule set from folders and evaluating single events against it.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rsigma_eval::event::{Event as SigmaEvent, JsonEvent};
use rsigma_eval::{CompiledDetection, CompiledRule};
use rsigma_parser::{
    ConditionExpr, CorrelationRule, FilterRule, FilterRuleTarget, Level, LogSource,
    SigmaCollection, SigmaRule,
};
use serde_json::Value;
use tocsin_model::{Event, Severity};

use crate::SigmaOptions;
use crate::candidates::CandidateIndex;
use crate::correlation::{CorrelationDef, compile_correlations};
use crate::logsource::{EventLogsource, RuleLogsource};
use crate::placeholder::expand_rule;
use crate::view::{ModelEventView, event_logsource, json_logsource};

/// Why a rule (or a whole file) was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectKind {
    /// The rule names a placeholder that has no configured value: a matter of configuration.
    Placeholder,
    /// The file could not be read.
    Io,
    /// The YAML or the Sigma structure is invalid.
    Parse,
    /// The detection could not be compiled (bad regex, unsupported modifier combination, ...).
    Compile,
    /// Another loaded rule has the same id.
    Duplicate,
    /// A correlation refers to a rule that is not loaded, or refers to itself in a cycle.
    Reference,
    /// A filter could not be applied.
    Filter,
}

impl RejectKind {
    /// Whether the rejection is expected without a fix to the rule: placeholders wait for
    /// values from the operator.
    pub fn is_expected(self) -> bool {
        matches!(self, RejectKind::Placeholder)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::Placeholder => "placeholder",
            RejectKind::Io => "io",
            RejectKind::Parse => "parse",
            RejectKind::Compile => "compile",
            RejectKind::Duplicate => "duplicate",
            RejectKind::Reference => "reference",
            RejectKind::Filter => "filter",
        }
    }
}

/// A rule or file that was not loaded, with the exact reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub path: PathBuf,
    /// The rule's id or title, when the file parsed far enough to know it.
    pub rule: Option<String>,
    pub kind: RejectKind,
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(r) => write!(f, "{}: rule {r}: {}", self.path.display(), self.reason),
            None => write!(f, "{}: {}", self.path.display(), self.reason),
        }
    }
}

/// What Tocsin knows of one loaded detection rule.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    /// The rule's `id`, else its `name`, else its title.
    pub id: String,
    pub title: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub severity: Severity,
    pub level: Option<&'static str>,
    pub logsource: RuleLogsource,
    pub tags: Vec<String>,
    pub path: PathBuf,
    /// Whether a match raises an alert on its own; false for rules only used by correlations
    /// without `generate: true`.
    pub standalone: bool,
}

/// Maps a Sigma level to an OCSF severity; a rule without a level is medium.
pub fn severity_of(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Informational) => Severity::INFORMATIONAL,
        Some(Level::Low) => Severity::LOW,
        None | Some(Level::Medium) => Severity::MEDIUM,
        Some(Level::High) => Severity::HIGH,
        Some(Level::Critical) => Severity::CRITICAL,
    }
}

/// Rules that share one logsource, with their candidate index.
struct Route {
    logsource: RuleLogsource,
    rules: Vec<CompiledRule>,
    /// Index in [`SigmaRuleSet::rules`] of each rule of `rules`.
    global: Vec<usize>,
    index: CandidateIndex,
}

/// A loaded, compiled set of Sigma rules, shared read-only between detectors.
pub struct SigmaRuleSet {
    rules: Vec<RuleInfo>,
    routes: Vec<Route>,
    correlations: Vec<CorrelationDef>,
    rule_hits: Vec<AtomicU64>,
    correlation_hits: Vec<AtomicU64>,
    filters: usize,
}

impl std::fmt::Debug for SigmaRuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaRuleSet")
            .field("rules", &self.rules.len())
            .field("routes", &self.routes.len())
            .field("correlations", &self.correlations.len())
            .field("filters", &self.filters)
            .finish()
    }
}

/// A rule's hit count, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHits {
    pub id: String,
    pub title: String,
    pub correlation: bool,
    pub hits: u64,
}

/// Documents read from one file, before compilation.
pub(crate) struct Parsed {
    path: PathBuf,
    pub(crate) collection: SigmaCollection,
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>, rejected: &mut Vec<Rejected>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            rejected.push(Rejected {
                path: dir.to_owned(),
                rule: None,
                kind: RejectKind::Io,
                reason: format!("cannot read folder: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            yaml_files(&p, out, rejected);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

pub(crate) fn parse_text(path: &Path, text: &str, rejected: &mut Vec<Rejected>) -> Option<Parsed> {
    let parsed = catch_unwind(AssertUnwindSafe(|| rsigma_parser::parse_sigma_yaml(text)));
    let collection = match parsed {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            rejected.push(Rejected {
                path: path.to_owned(),
                rule: None,
                kind: RejectKind::Parse,
                reason: e.to_string(),
            });
            return None;
        }
        Err(_) => {
            rejected.push(Rejected {
                path: path.to_owned(),
                rule: None,
                kind: RejectKind::Parse,
                reason: "the Sigma parser failed on this file".to_owned(),
            });
            return None;
        }
    };
    for e in &collection.errors {
        rejected.push(Rejected {
            path: path.to_owned(),
            rule: None,
            kind: RejectKind::Parse,
            reason: e.clone(),
        });
    }
    Some(Parsed {
        path: path.to_owned(),
        collection,
    })
}

fn rule_label(rule: &SigmaRule) -> String {
    rule.id
        .clone()
        .or_else(|| rule.name.clone())
        .unwrap_or_else(|| rule.title.clone())
}

fn level_str(level: Option<Level>) -> Option<&'static str> {
    level.map(|l| match l {
        Level::Informational => "informational",
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
        Level::Critical => "critical",
    })
}

impl SigmaRuleSet {
    /// Loads every `.yml`/`.yaml` file under the folders (recursively, in name order). Rules
    /// that cannot be loaded come back with the reason; nothing is skipped silently.
    pub fn load_dirs(dirs: &[PathBuf], options: &SigmaOptions) -> (SigmaRuleSet, Vec<Rejected>) {
        Self::load(dirs, &[], options)
    }

    /// Loads the folders as [`SigmaRuleSet::load_dirs`] does, then the YAML texts (rules sent
    /// over the API), all into one set so that correlations may refer across them.
    pub fn load(
        dirs: &[PathBuf],
        sources: &[(PathBuf, String)],
        options: &SigmaOptions,
    ) -> (SigmaRuleSet, Vec<Rejected>) {
        let mut rejected = Vec::new();
        let mut files = Vec::new();
        for d in dirs {
            yaml_files(d, &mut files, &mut rejected);
        }
        let mut parsed = Vec::new();
        for path in files {
            match std::fs::metadata(&path) {
                Ok(m) if m.len() > options.max_rule_file_bytes => {
                    rejected.push(Rejected {
                        path,
                        rule: None,
                        kind: RejectKind::Io,
                        reason: format!(
                            "file is {} bytes, more than the limit of {}",
                            m.len(),
                            options.max_rule_file_bytes
                        ),
                    });
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    rejected.push(Rejected {
                        path,
                        rule: None,
                        kind: RejectKind::Io,
                        reason: format!("cannot read file: {e}"),
                    });
                    continue;
                }
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => parsed.extend(parse_text(&path, &text, &mut rejected)),
                Err(e) => rejected.push(Rejected {
                    path,
                    rule: None,
                    kind: RejectKind::Io,
                    reason: format!("cannot read file: {e}"),
                }),
            }
        }
        parsed.extend(
            sources
                .iter()
                .filter_map(|(p, text)| parse_text(p, text, &mut rejected)),
        );
        let set = Self::build(parsed, options, &mut rejected);
        (set, rejected)
    }

    /// Loads rules from YAML texts, each named by a path for reports (rules sent over the API,
    /// tests).
    pub fn from_sources(
        sources: &[(PathBuf, String)],
        options: &SigmaOptions,
    ) -> (SigmaRuleSet, Vec<Rejected>) {
        let mut rejected = Vec::new();
        let parsed = sources
            .iter()
            .filter_map(|(p, text)| parse_text(p, text, &mut rejected))
            .collect();
        let set = Self::build(parsed, options, &mut rejected);
        (set, rejected)
    }

    fn build(parsed: Vec<Parsed>, options: &SigmaOptions, rejected: &mut Vec<Rejected>) -> Self {
        let mut infos: Vec<RuleInfo> = Vec::new();
        let mut compiled = Vec::new();
        let mut correlations: Vec<(PathBuf, CorrelationRule)> = Vec::new();
        let mut filters: Vec<(PathBuf, FilterRule)> = Vec::new();
        let mut ids: HashMap<String, PathBuf> = HashMap::new();

        for Parsed { path, collection } in parsed {
            for mut rule in collection.rules {
                let label = rule_label(&rule);
                let reject = |kind, reason: String| Rejected {
                    path: path.clone(),
                    rule: Some(label.clone()),
                    kind,
                    reason,
                };
                if let Some(other) = ids.get(&label) {
                    rejected.push(reject(
                        RejectKind::Duplicate,
                        format!("id {label} is already used by {}", other.display()),
                    ));
                    continue;
                }
                if let Err(reason) = expand_rule(&mut rule, &options.placeholders) {
                    rejected.push(reject(RejectKind::Placeholder, reason));
                    continue;
                }
                let result = catch_unwind(AssertUnwindSafe(|| rsigma_eval::compile_rule(&rule)));
                let c = match result {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        rejected.push(reject(RejectKind::Compile, e.to_string()));
                        continue;
                    }
                    Err(_) => {
                        rejected.push(reject(
                            RejectKind::Compile,
                            "the Sigma compiler failed on this rule".to_owned(),
                        ));
                        continue;
                    }
                };
                let index = infos.len();
                ids.insert(label.clone(), path.clone());
                let logsource = RuleLogsource::new(
                    rule.logsource.product.as_deref(),
                    rule.logsource.service.as_deref(),
                    rule.logsource.category.as_deref(),
                );
                infos.push(RuleInfo {
                    id: label,
                    title: rule.title.clone(),
                    name: rule.name.clone(),
                    description: rule.description.clone(),
                    severity: severity_of(rule.level),
                    level: level_str(rule.level),
                    logsource: logsource.clone(),
                    tags: rule.tags.clone(),
                    path: path.clone(),
                    standalone: true,
                });
                compiled.push((logsource, index, c));
            }
            correlations.extend(
                collection
                    .correlations
                    .into_iter()
                    .map(|c| (path.clone(), c)),
            );
            filters.extend(collection.filters.into_iter().map(|f| (path.clone(), f)));
        }

        let correlations = compile_correlations(correlations, &mut infos, rejected);

        // Filters are applied to the compiled rules before the index is built, so that the
        // index sees the rules as they are evaluated.
        let mut all = compiled;
        let mut filter_count = 0;
        let mut filter_counter = 0;
        for (path, filter) in filters {
            match apply_filter(
                &filter,
                &mut filter_counter,
                all.iter_mut().map(|(_, _, c)| c),
            ) {
                Ok(()) => filter_count += 1,
                Err(reason) => rejected.push(Rejected {
                    path,
                    rule: Some(filter.id.clone().unwrap_or_else(|| filter.title.clone())),
                    kind: RejectKind::Filter,
                    reason,
                }),
            }
        }

        let mut grouped: BTreeMap<RuleLogsource, (Vec<usize>, Vec<CompiledRule>)> = BTreeMap::new();
        for (ls, index, c) in all {
            let (global, rules) = grouped.entry(ls).or_default();
            global.push(index);
            rules.push(c);
        }
        let routes: Vec<Route> = grouped
            .into_iter()
            .map(|(logsource, (global, rules))| Route {
                index: CandidateIndex::build(&rules),
                logsource,
                rules,
                global,
            })
            .collect();

        let rule_hits = infos.iter().map(|_| AtomicU64::new(0)).collect();
        let correlation_hits = correlations.iter().map(|_| AtomicU64::new(0)).collect();
        SigmaRuleSet {
            rules: infos,
            routes,
            correlations,
            rule_hits,
            correlation_hits,
            filters: filter_count,
        }
    }

    /// The loaded detection rules; a match is reported by index into this slice.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// The loaded correlation rules.
    pub fn correlations(&self) -> &[CorrelationDef] {
        &self.correlations
    }

    /// Detection and correlation rules loaded.
    pub fn len(&self) -> usize {
        self.rules.len() + self.correlations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Filters applied to the rules.
    pub fn filter_count(&self) -> usize {
        self.filters
    }

    /// Distinct logsources among the rules.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// Appends the indexes of the detection rules a raw JSON event matches (flat fields, as
    /// Windows event forwarders write them).
    pub fn matches_json(&self, event: &Value, out: &mut Vec<usize>) {
        let ls = json_logsource(event);
        self.matches_with(&JsonEvent::borrow(event), &ls, out);
    }

    /// Appends the indexes of the detection rules a Tocsin event matches.
    pub fn matches_event(&self, event: &Event, out: &mut Vec<usize>) {
        let ls = event_logsource(event);
        self.matches_with(&ModelEventView::new(event), &ls, out);
    }

    /// Appends the indexes of the detection rules an event matches, given its logsource.
    pub fn matches_with<E: SigmaEvent>(
        &self,
        event: &E,
        ls: &EventLogsource,
        out: &mut Vec<usize>,
    ) {
        let start = out.len();
        for route in &self.routes {
            if !ls.covers(&route.logsource) {
                continue;
            }
            route.index.for_each_candidate(event, |i| {
                if rsigma_eval::evaluate_rule(&route.rules[i], event).is_some() {
                    out.push(route.global[i]);
                }
            });
        }
        for &i in &out[start..] {
            if let Some(h) = self.rule_hits.get(i) {
                h.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Starts this set's hit counters from another set's, rule by rule id, so that counters
    /// survive a reload.
    pub fn carry_hits_from(&self, old: &SigmaRuleSet) {
        let old_rules: HashMap<&str, u64> = old
            .rules
            .iter()
            .zip(&old.rule_hits)
            .map(|(r, h)| (r.id.as_str(), h.load(Ordering::Relaxed)))
            .collect();
        for (r, h) in self.rules.iter().zip(&self.rule_hits) {
            if let Some(n) = old_rules.get(r.id.as_str()) {
                h.store(*n, Ordering::Relaxed);
            }
        }
        let old_corr: HashMap<&str, u64> = old
            .correlations
            .iter()
            .zip(&old.correlation_hits)
            .map(|(c, h)| (c.id.as_str(), h.load(Ordering::Relaxed)))
            .collect();
        for (c, h) in self.correlations.iter().zip(&self.correlation_hits) {
            if let Some(n) = old_corr.get(c.id.as_str()) {
                h.store(*n, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn count_correlation_hit(&self, index: usize) {
        if let Some(h) = self.correlation_hits.get(index) {
            h.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Matches so far per rule (detection and correlation), for metrics.
    pub fn hits(&self) -> Vec<RuleHits> {
        let detection = self
            .rules
            .iter()
            .zip(&self.rule_hits)
            .map(|(r, h)| RuleHits {
                id: r.id.clone(),
                title: r.title.clone(),
                correlation: false,
                hits: h.load(Ordering::Relaxed),
            });
        let correlation = self
            .correlations
            .iter()
            .zip(&self.correlation_hits)
            .map(|(c, h)| RuleHits {
                id: c.id.clone(),
                title: c.title.clone(),
                correlation: true,
                hits: h.load(Ordering::Relaxed),
            });
        detection.chain(correlation).collect()
    }
}

/// Applies a Sigma filter to the rules it targets, as rsigma-eval's `Engine::apply_filter`
/// does: the filter's detections are added to each targeted rule under the names
/// `__filter_<n>_<name>` (`n` counts the filters applied so far) and every condition of the
/// rule becomes `condition and <filter condition>`. A filter targets the rules whose id or
/// title it names (or every rule) and whose logsource has every dimension the filter's
/// logsource names (case-insensitively).
fn apply_filter<'a>(
    filter: &FilterRule,
    counter: &mut usize,
    rules: impl Iterator<Item = &'a mut CompiledRule>,
) -> Result<(), String> {
    let mut detections: Vec<(String, CompiledDetection)> = Vec::new();
    for (name, detection) in &filter.detection.named {
        let compiled = catch_unwind(AssertUnwindSafe(|| {
            rsigma_eval::compiler::compile_detection(detection)
        }))
        .map_err(|_| "the Sigma compiler failed on this filter".to_owned())?
        .map_err(|e| e.to_string())?;
        detections.push((name.clone(), compiled));
    }
    if detections.is_empty() {
        return Ok(());
    }
    let n = *counter;
    *counter += 1;
    let prefixed = |name: &str| format!("__filter_{n}_{name}");
    let condition = match filter.detection.conditions.first() {
        Some(c) => prefix_identifiers(c, &prefixed),
        None if detections.len() == 1 => ConditionExpr::Identifier(prefixed(&detections[0].0)),
        None => ConditionExpr::And(
            detections
                .iter()
                .map(|(name, _)| ConditionExpr::Identifier(prefixed(name)))
                .collect(),
        ),
    };
    for rule in rules {
        let targeted = match &filter.rules {
            FilterRuleTarget::Any => true,
            FilterRuleTarget::Specific(refs) => refs
                .iter()
                .any(|r| rule.id.as_deref() == Some(r.as_str()) || rule.title == *r),
        };
        if !targeted
            || filter
                .logsource
                .as_ref()
                .is_some_and(|ls| !logsource_contains(ls, &rule.logsource))
        {
            continue;
        }
        for (name, compiled) in &detections {
            rule.detections.insert(prefixed(name), compiled.clone());
        }
        for c in &mut rule.conditions {
            let old = std::mem::replace(c, ConditionExpr::And(Vec::new()));
            *c = ConditionExpr::And(vec![old, condition.clone()]);
        }
    }
    Ok(())
}

/// Whether every dimension the filter's logsource names is present and equal in the rule's.
fn logsource_contains(filter: &LogSource, rule: &LogSource) -> bool {
    let dim = |f: &Option<String>, r: &Option<String>| match (f, r) {
        (None, _) => true,
        (Some(f), Some(r)) => f.eq_ignore_ascii_case(r),
        (Some(_), None) => false,
    };
    dim(&filter.category, &rule.category)
        && dim(&filter.product, &rule.product)
        && dim(&filter.service, &rule.service)
}

fn prefix_identifiers(expr: &ConditionExpr, prefixed: &impl Fn(&str) -> String) -> ConditionExpr {
    match expr {
        ConditionExpr::Identifier(name) => ConditionExpr::Identifier(prefixed(name)),
        ConditionExpr::And(parts) => ConditionExpr::And(
            parts
                .iter()
                .map(|p| prefix_identifiers(p, prefixed))
                .collect(),
        ),
        ConditionExpr::Or(parts) => ConditionExpr::Or(
            parts
                .iter()
                .map(|p| prefix_identifiers(p, prefixed))
                .collect(),
        ),
        ConditionExpr::Not(inner) => {
            ConditionExpr::Not(Box::new(prefix_identifiers(inner, prefixed)))
        }
        ConditionExpr::Selector { .. } => expr.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: &str = r#"
title: Whoami
id: r-whoami
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: whoami
    condition: selection
---
title: Whoami in a file event
id: r-file
logsource:
    product: windows
    category: file_event
detection:
    selection:
        TargetFilename|contains: whoami
    condition: selection
"#;

    fn matched(set: &SigmaRuleSet, event: &Value) -> Vec<String> {
        let mut out = Vec::new();
        set.matches_json(event, &mut out);
        out.into_iter().map(|i| set.rules()[i].id.clone()).collect()
    }

    fn load(filter: &str) -> (SigmaRuleSet, Vec<Rejected>) {
        SigmaRuleSet::from_sources(
            &[
                (PathBuf::from("rules.yml"), RULES.to_owned()),
                (PathBuf::from("filter.yml"), filter.to_owned()),
            ],
            &SigmaOptions::default(),
        )
    }

    #[test]
    fn a_filter_excludes_events_from_the_rules_it_names_and_logsource_it_covers() {
        let (set, rejected) = load(
            r#"
title: Not the admin
logsource:
    product: windows
    category: process_creation
filter:
    rules:
        - r-whoami
        - r-file
    admin:
        User|startswith: 'adm_'
    condition: not admin
"#,
        );
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(set.filter_count(), 1);
        let process = |user: &str| {
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
                   "CommandLine": "whoami /all", "User": user})
        };
        let file = |user: &str| {
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 11,
                   "TargetFilename": "C:\\whoami.txt", "User": user})
        };
        assert_eq!(matched(&set, &process("bob")), vec!["r-whoami"]);
        assert!(matched(&set, &process("adm_bob")).is_empty());
        // The filter's logsource is process_creation: the file rule keeps firing.
        assert_eq!(matched(&set, &file("adm_bob")), vec!["r-file"]);
    }

    /// On the reference data, the candidate index selects every rule that evaluating all rules
    /// of the covered routes finds, for the whole SigmaHQ set and every Mordor event.
    #[test]
    fn the_index_finds_what_evaluating_every_rule_finds_on_the_mordor_sample() {
        use std::io::BufRead;
        let Some(data) = std::env::var_os("TOCSIN_REFERENCE_DATA")
            .map(|d| PathBuf::from(d).join("sigma"))
            .filter(|d| d.is_dir())
        else {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true"),
                "reference data missing in CI"
            );
            return;
        };
        let dirs: Vec<PathBuf> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
            .iter()
            .map(|d| data.join("rules").join(d))
            .collect();
        let (set, _) = SigmaRuleSet::load_dirs(&dirs, &SigmaOptions::default());
        let file = std::fs::File::open(data.join("mordor/mordor-100k.jsonl.gz")).unwrap();
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        let (mut events, mut matches) = (0, 0);
        let mut got = Vec::new();
        for line in reader.lines() {
            let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
            got.clear();
            set.matches_json(&event, &mut got);
            let ls = json_logsource(&event);
            let view = JsonEvent::borrow(&event);
            let mut want = Vec::new();
            for route in set.routes.iter().filter(|r| ls.covers(&r.logsource)) {
                for (rule, &g) in route.rules.iter().zip(&route.global) {
                    if rsigma_eval::evaluate_rule(rule, &view).is_some() {
                        want.push(g);
                    }
                }
            }
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "event {event}");
            events += 1;
            matches += want.len();
        }
        assert_eq!(events, 106_227);
        assert!(matches > 1_000, "only {matches} matches");
    }

    #[test]
    fn a_filter_that_does_not_compile_is_rejected_with_its_reason() {
        let (set, rejected) = load(
            r#"
title: Broken
id: f-broken
logsource:
    product: windows
filter:
    rules:
        - r-whoami
    sel:
        User|re: '('
    condition: not sel
"#,
        );
        assert_eq!(set.filter_count(), 0);
        assert_eq!(rejected.len(), 1, "{rejected:?}");
        assert_eq!(rejected[0].kind, RejectKind::Filter);
        assert_eq!(rejected[0].rule.as_deref(), Some("f-broken"));
        let e = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
                       "CommandLine": "whoami", "User": "adm_x"});
        assert_eq!(matched(&set, &e), vec!["r-whoami"]);
    }
}
