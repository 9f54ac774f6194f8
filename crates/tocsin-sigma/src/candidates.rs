//! Candidate index: which rules of a route are worth evaluating on an event.
//!
//! Each rule is reduced to an OR-set of *witnesses*, necessary conditions read off its compiled
//! condition tree: whenever the rule matches, at least one of its witnesses holds on the event.
//! A witness is either "field F is present" or "a string value of field F contains the literal
//! L, ignoring ASCII case". The index inverts that relation: per field a list of rules gated by
//! its presence and one Aho-Corasick automaton (a contiguous NFA, ASCII case-insensitive) over
//! the literals gating rules on that field. An event yields the rules whose witness it
//! satisfies plus the rules without witness; each candidate is then evaluated exactly with
//! `rsigma_eval::evaluate_rule`. The index only ever over-approximates, so results equal
//! evaluating every rule.
//!
//! Soundness follows rsigma-eval 0.23.0's evaluator (`compiler::eval_detection_item_with_bloom`
//! and `matcher::matching`):
//!
//! - a field item evaluates to false on an absent field (`get_field` is `None`) unless its
//!   matcher is exactly `Null`; so presence is a witness for every other field item, negated
//!   matchers included; `exists: true` requires presence; `exists: false` and `Null` admit none;
//! - string matchers (`Exact`, `Contains`, `StartsWith`, `EndsWith`, `AhoCorasickSet`, a
//!   case-insensitive group) test each string form of the value (numbers and booleans as text,
//!   array members one by one) after `str::to_lowercase` when case-insensitive; their literal
//!   must then occur in that string, so the literal is a witness when it is ASCII (the index
//!   searches the raw string and, when it is not ASCII, its `to_lowercase` too);
//! - AND of parts takes the most selective part's set, OR the union (none if a part has none),
//!   NOT has none; `1 of`/`N of` (N ≥ 1) is an OR, `all of` over a non-empty set an AND, and a
//!   selector that zero detections satisfy has none; several conditions are an OR;
//! - keyword detections, array matches and anything else not listed admit no witness.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use rsigma_eval::event::{Event as SigmaEvent, EventValue};
use rsigma_eval::matcher::GroupMode;
use rsigma_eval::{CompiledDetection, CompiledDetectionItem, CompiledMatcher, CompiledRule};
use rsigma_parser::{ConditionExpr, Quantifier};

/// A necessary condition for a rule to match, on one field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Witness {
    /// The field is present (possibly null).
    Present(String),
    /// A string form of the field's value contains this ASCII literal, ignoring ASCII case.
    /// Stored lowercased.
    Needle(String, String),
}

/// An OR-set of witnesses; `None` means the rule must always be evaluated.
type WitnessSet = Option<Vec<Witness>>;

/// Literals shorter than this are poor gates (they occur in most values).
const SHORT_NEEDLE: usize = 4;

/// Selectivity cost of a set, lower is better: presence is a weak gate, short literals are
/// weaker than long ones.
fn cost(set: &[Witness]) -> u64 {
    set.iter()
        .map(|w| match w {
            Witness::Present(_) => 64,
            Witness::Needle(_, n) => needle_cost(n),
        })
        .sum()
}

/// OR of alternatives: every alternative must contribute a witness.
fn union(parts: impl IntoIterator<Item = WitnessSet>) -> WitnessSet {
    let mut out = Vec::new();
    let mut any = false;
    for p in parts {
        out.extend(p?);
        any = true;
    }
    // An empty OR never matches; staying open keeps the analysis out of that verdict.
    if !any {
        return None;
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// AND of parts: each part is necessary, so the cheapest part's set gates the whole.
fn best(parts: impl IntoIterator<Item = WitnessSet>) -> WitnessSet {
    parts.into_iter().flatten().min_by_key(|s| cost(s))
}

/// The witnesses of a rule: any of its conditions may carry the match.
pub(crate) fn rule_witnesses(rule: &CompiledRule) -> WitnessSet {
    union(
        rule.conditions
            .iter()
            .map(|c| condition_witnesses(c, &rule.detections)),
    )
}

fn condition_witnesses(
    expr: &ConditionExpr,
    detections: &HashMap<String, CompiledDetection>,
) -> WitnessSet {
    match expr {
        ConditionExpr::Identifier(name) => detection_witnesses(detections.get(name)?),
        ConditionExpr::And(parts) => best(parts.iter().map(|p| condition_witnesses(p, detections))),
        ConditionExpr::Or(parts) => union(parts.iter().map(|p| condition_witnesses(p, detections))),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let selected: Vec<&CompiledDetection> = detections
                .iter()
                .filter(|(name, _)| pattern.matches_detection_name(name))
                .map(|(_, d)| d)
                .collect();
            if selected.is_empty() {
                return None;
            }
            let sets = selected.into_iter().map(detection_witnesses);
            match quantifier {
                Quantifier::All => best(sets),
                Quantifier::Any => union(sets),
                Quantifier::Count(0) => None,
                Quantifier::Count(_) => union(sets),
            }
        }
    }
}

fn detection_witnesses(detection: &CompiledDetection) -> WitnessSet {
    match detection {
        CompiledDetection::AllOf(items) => best(items.iter().map(item_witnesses)),
        CompiledDetection::AnyOf(parts) => union(parts.iter().map(detection_witnesses)),
        CompiledDetection::And(parts) => best(parts.iter().map(detection_witnesses)),
        // Keyword detections search every string of the event; an index of their literals
        // over all strings was measured slower than evaluating the few keyword rules.
        CompiledDetection::Keywords(_)
        | CompiledDetection::ArrayMatch { .. }
        | CompiledDetection::Conditional { .. } => None,
    }
}

fn item_witnesses(item: &CompiledDetectionItem) -> WitnessSet {
    let field = item.field.as_ref()?;
    match item.exists {
        Some(true) => return Some(vec![Witness::Present(field.clone())]),
        Some(false) => return None,
        None => {}
    }
    if matches!(item.matcher, CompiledMatcher::Null) {
        return None;
    }
    let present = vec![Witness::Present(field.clone())];
    match needles(&item.matcher) {
        Some(literals) => {
            let set: Vec<Witness> = literals
                .into_iter()
                .map(|n| Witness::Needle(field.clone(), n))
                .collect();
            // Presence is sound too; keep whichever gates better.
            Some(if cost(&set) <= cost(&present) {
                set
            } else {
                present
            })
        }
        None => Some(present),
    }
}

/// Lowercased ASCII literals, one of which occurs in a string form of every value the matcher
/// accepts (ignoring ASCII case); `None` when the matcher offers no such literal.
fn needles(matcher: &CompiledMatcher) -> Option<Vec<String>> {
    match matcher {
        CompiledMatcher::Exact { value, .. }
        | CompiledMatcher::Contains { value, .. }
        | CompiledMatcher::StartsWith { value, .. }
        | CompiledMatcher::EndsWith { value, .. } => literal(value).map(|l| vec![l]),
        CompiledMatcher::AhoCorasickSet { needles, .. } => {
            needles.iter().map(|n| literal(n)).collect()
        }
        CompiledMatcher::AnyOf(children)
        | CompiledMatcher::CaseInsensitiveGroup {
            children,
            mode: GroupMode::Any,
        } => {
            if children.is_empty() {
                return None;
            }
            let mut out = Vec::new();
            for c in children {
                out.extend(needles(c)?);
            }
            out.sort();
            out.dedup();
            Some(out)
        }
        CompiledMatcher::AllOf(children)
        | CompiledMatcher::CaseInsensitiveGroup {
            children,
            mode: GroupMode::All,
        } => children
            .iter()
            .filter_map(needles)
            .min_by_key(|set| set.iter().map(|n| needle_cost(n)).sum::<u64>()),
        _ => None,
    }
}

fn needle_cost(n: &str) -> u64 {
    if n.len() < SHORT_NEEDLE { 8 } else { 1 }
}

/// A literal usable as a needle: non-empty ASCII, lowercased.
fn literal(value: &str) -> Option<String> {
    (!value.is_empty() && value.is_ascii()).then(|| value.to_ascii_lowercase())
}

/// Literals gating rules, with one automaton over them.
struct Literals {
    /// Pattern id = position in `offsets` (all but the last).
    automaton: AhoCorasick,
    /// Rules of pattern `p` are `rules[offsets[p]..offsets[p + 1]]`.
    offsets: Vec<u32>,
    rules: Vec<u32>,
    /// Every rule gated by one of the literals, for values the search does not cover.
    all: Vec<u32>,
}

impl Literals {
    fn build(
        literals: HashMap<String, Vec<u32>>,
    ) -> Result<Option<Self>, aho_corasick::BuildError> {
        if literals.is_empty() {
            return Ok(None);
        }
        let mut literals: Vec<(String, Vec<u32>)> = literals.into_iter().collect();
        literals.sort();
        let mut offsets = Vec::with_capacity(literals.len() + 1);
        let mut rules = Vec::new();
        for (_, rs) in &mut literals {
            rs.sort_unstable();
            rs.dedup();
            offsets.push(to_u32(rules.len()));
            rules.extend_from_slice(rs);
        }
        offsets.push(to_u32(rules.len()));
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(literals.iter().map(|(l, _)| l.as_bytes()))?;
        let mut all = rules.clone();
        all.sort_unstable();
        all.dedup();
        rules.shrink_to_fit();
        Ok(Some(Literals {
            automaton,
            offsets,
            rules,
            all,
        }))
    }

    /// Marks the rules of every literal found in `s`.
    fn search(&self, s: &str, mark: &mut impl FnMut(u32)) {
        let mut hit = |pattern: usize| {
            let start = self.offsets[pattern] as usize;
            let end = self.offsets[pattern + 1] as usize;
            for &i in &self.rules[start..end] {
                mark(i);
            }
        };
        for m in self.automaton.find_overlapping_iter(s) {
            hit(m.pattern().as_usize());
        }
        if !s.is_ascii() {
            // Case-insensitive matchers compare `to_lowercase`, which may map a non-ASCII
            // character to ASCII (the Kelvin sign to `k`).
            for m in self.automaton.find_overlapping_iter(&s.to_lowercase()) {
                hit(m.pattern().as_usize());
            }
        }
    }

    /// Marks the rules of every literal found in the string forms of the value (numbers and
    /// booleans as text, array members one by one); a value with a form the search does not
    /// cover (null, object) marks every rule.
    fn search_value(&self, value: &EventValue<'_>, mark: &mut impl FnMut(u32)) {
        match value {
            EventValue::Str(s) => self.search(s, mark),
            EventValue::Int(n) => self.search(&n.to_string(), mark),
            EventValue::Float(x) => self.search(&x.to_string(), mark),
            EventValue::Bool(b) => self.search(if *b { "true" } else { "false" }, mark),
            EventValue::Array(items) => {
                for v in items {
                    self.search_value(v, mark);
                }
            }
            EventValue::Null | EventValue::Map(_) => {
                for &i in &self.all {
                    mark(i);
                }
            }
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The rules gated on one field.
struct FieldIndex {
    name: String,
    /// Rules gated by the field's presence.
    present: Vec<u32>,
    /// Rules gated by a literal in the field's value.
    literals: Option<Literals>,
}

/// While building: rules gated by a field's presence and by each of its literals.
#[derive(Default)]
struct FieldGates {
    present: Vec<u32>,
    literals: HashMap<String, Vec<u32>>,
}

/// The candidate index of one route, over rules numbered `0..rule_count`.
pub(crate) struct CandidateIndex {
    rule_count: usize,
    always: Vec<u32>,
    fields: Vec<FieldIndex>,
}

impl CandidateIndex {
    /// Builds the index over a route's rules. Should an automaton not build (it has limits far
    /// above any rule set's size), every rule of the route is evaluated on every event.
    pub(crate) fn build(rules: &[CompiledRule]) -> Self {
        Self::try_build(rules).unwrap_or_else(|_| CandidateIndex {
            rule_count: rules.len(),
            always: (0..rules.len()).map(to_u32).collect(),
            fields: Vec::new(),
        })
    }

    fn try_build(rules: &[CompiledRule]) -> Result<Self, aho_corasick::BuildError> {
        let mut always = Vec::new();
        let mut by_field: HashMap<String, FieldGates> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            let i = to_u32(i);
            let Some(set) = rule_witnesses(rule) else {
                always.push(i);
                continue;
            };
            for w in set {
                match w {
                    Witness::Present(f) => by_field.entry(f).or_default().present.push(i),
                    Witness::Needle(f, n) => by_field
                        .entry(f)
                        .or_default()
                        .literals
                        .entry(n)
                        .or_default()
                        .push(i),
                }
            }
        }
        let mut by_field: Vec<(String, FieldGates)> = by_field.into_iter().collect();
        by_field.sort_by(|a, b| a.0.cmp(&b.0));
        let mut fields = Vec::with_capacity(by_field.len());
        for (name, mut gates) in by_field {
            gates.present.sort_unstable();
            gates.present.dedup();
            fields.push(FieldIndex {
                name,
                present: gates.present,
                literals: Literals::build(gates.literals)?,
            });
        }
        Ok(CandidateIndex {
            rule_count: rules.len(),
            always,
            fields,
        })
    }

    /// Rules without any witness (always evaluated).
    #[cfg(test)]
    pub(crate) fn always_count(&self) -> usize {
        self.always.len()
    }

    /// Calls `f` with every candidate rule for the event, in ascending order, each once.
    pub(crate) fn for_each_candidate<E: SigmaEvent>(&self, event: &E, mut f: impl FnMut(usize)) {
        if self.rule_count == 0 {
            return;
        }
        let mut marks = vec![0u64; self.rule_count.div_ceil(64)];
        let mut mark = |i: u32| {
            let i = i as usize;
            if let Some(w) = marks.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        };
        for &i in &self.always {
            mark(i);
        }
        for field in &self.fields {
            // The same accessor the evaluator uses.
            let Some(value) = event.get_field(&field.name) else {
                continue;
            };
            for &i in &field.present {
                mark(i);
            }
            if let Some(literals) = &field.literals {
                literals.search_value(&value, &mut mark);
            }
        }
        for (w, bits) in marks.iter().enumerate() {
            let mut bits = *bits;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                f(w * 64 + b);
                bits &= bits - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsigma_eval::event::JsonEvent;
    use serde_json::json;

    fn compile(yaml: &str) -> CompiledRule {
        let c = rsigma_parser::parse_sigma_yaml(yaml).unwrap();
        rsigma_eval::compile_rule(&c.rules[0]).unwrap()
    }

    fn rule(detection: &str) -> CompiledRule {
        compile(&format!(
            "title: t\nlogsource:\n  product: windows\ndetection:\n{detection}"
        ))
    }

    #[test]
    fn a_contains_item_is_gated_by_its_lowercased_literal() {
        let r = rule("  sel:\n    CommandLine|contains: 'WhoAmI'\n  condition: sel\n");
        assert_eq!(
            rule_witnesses(&r),
            Some(vec![Witness::Needle("CommandLine".into(), "whoami".into())])
        );
    }

    #[test]
    fn and_takes_the_most_selective_side_or_takes_both() {
        let r = rule(
            "  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    ParentImage|re: 'x.*'\n  condition: a and b\n",
        );
        assert_eq!(
            rule_witnesses(&r),
            Some(vec![Witness::Needle("Image".into(), "\\cmd.exe".into())])
        );
        let r = rule(
            "  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    ParentImage|re: 'x.*'\n  condition: a or b\n",
        );
        assert_eq!(
            rule_witnesses(&r),
            Some(vec![
                Witness::Present("ParentImage".into()),
                Witness::Needle("Image".into(), "\\cmd.exe".into()),
            ])
        );
    }

    #[test]
    fn negations_nulls_absence_and_keywords_admit_no_witness() {
        for d in [
            "  a:\n    Image: 'x.exe'\n  condition: not a\n",
            "  a:\n    Image: null\n  condition: a\n",
            "  a:\n    Image|exists: false\n  condition: a\n",
            "  kw:\n    - 'mimikatz'\n  condition: kw\n",
            "  a:\n    Image: 'x.exe'\n  b:\n    - 'kw'\n  condition: a or b\n",
            "  a:\n    Image: 'x.exe'\n  condition: all of sel*\n",
        ] {
            assert_eq!(rule_witnesses(&rule(d)), None, "{d}");
        }
    }

    #[test]
    fn regex_numbers_and_negated_values_are_gated_by_presence() {
        for (d, field) in [
            ("  a:\n    Image|re: '.*x'\n  condition: a\n", "Image"),
            ("  a:\n    EventID: 4624\n  condition: a\n", "EventID"),
            ("  a:\n    Image|exists: true\n  condition: a\n", "Image"),
        ] {
            assert_eq!(
                rule_witnesses(&rule(d)),
                Some(vec![Witness::Present(field.into())]),
                "{d}"
            );
        }
    }

    /// Evaluating only the candidates gives exactly what evaluating every rule gives.
    #[test]
    fn candidates_lose_no_match_against_evaluating_every_rule() {
        let detections = [
            "  a:\n    CommandLine|contains: 'WhoAmI'\n  condition: a\n",
            "  a:\n    CommandLine|contains|all: ['net', ' user ']\n  condition: a\n",
            "  a:\n    Image|endswith: ['\\cmd.exe', '\\powershell.exe', '\\a.exe', '\\b.exe', '\\c.exe', '\\d.exe']\n  condition: a\n",
            "  a:\n    Image|startswith: 'C:\\Temp'\n  b:\n    User: 'system'\n  condition: a and not b\n",
            "  a:\n    User|cased: 'ADMIN'\n  condition: a\n",
            "  a:\n    User: 'kelvin'\n  condition: a\n",
            "  a:\n    User: 'straße'\n  condition: a\n",
            "  a:\n    EventID: 4624\n  condition: a\n",
            "  a:\n    EventID|contains: '62'\n  condition: a\n",
            "  a:\n    Tags: 'red'\n  condition: a\n",
            "  a:\n    Image: null\n  condition: a\n",
            "  sel_a:\n    Image|contains: 'x'\n  sel_b:\n    CommandLine|contains: 'yy'\n  condition: 1 of sel_*\n",
            "  sel_a:\n    Image|contains: 'x'\n  sel_b:\n    CommandLine|contains: 'yy'\n  condition: all of sel_*\n",
            "  a:\n    - Image|endswith: '\\x.exe'\n    - CommandLine|contains: 'zz'\n  condition: a\n",
            "  a:\n    Nested.Deep: 'v'\n  condition: a\n",
            "  a:\n    Flag: true\n  condition: a\n",
            "  kw:\n    - 'Mimikatz'\n    - 'sekurlsa::'\n  f:\n    EventID: 15\n  condition: kw and not f\n",
            "  kw:\n    - 'straße'\n  condition: kw\n",
            "  kw:\n    - 'kelvin'\n  condition: kw\n",
        ];
        let rules: Vec<CompiledRule> = detections.iter().map(|d| rule(d)).collect();
        let index = CandidateIndex::build(&rules);
        let events = [
            json!({"CommandLine": "cmd /c WHOAMI /all", "Image": "C:\\Windows\\CMD.EXE"}),
            json!({"CommandLine": "NET user bob", "User": "SYSTEM", "Image": "c:\\temp\\x.exe"}),
            json!({"CommandLine": "Net  User", "User": "ADMIN"}),
            json!({"User": "admin", "Image": null}),
            json!({"User": "\u{212A}elvin"}),
            json!({"User": "STRASSE"}),
            json!({"User": "Straße"}),
            json!({"EventID": 4624, "Tags": ["blue", "RED"]}),
            json!({"EventID": "4624"}),
            json!({"EventID": 4624.0}),
            json!({"Image": "C:\\x\\POWERSHELL.exe", "CommandLine": "yy"}),
            json!({"Nested": {"Deep": "V"}, "Flag": true}),
            json!({"Tags": {"k": "red"}}),
            json!({"Deep": {"list": ["run SEKURLSA::logonpasswords"]}, "EventID": 1}),
            json!({"Note": "MIMIKATZ", "EventID": 15}),
            json!({"Note": "Stra\u{df}e \u{212A}ELVIN", "N": 3}),
            json!({}),
        ];
        let mut checked = 0;
        for e in &events {
            let ev = JsonEvent::borrow(e);
            let expected: Vec<usize> = (0..rules.len())
                .filter(|&i| rsigma_eval::evaluate_rule(&rules[i], &ev).is_some())
                .collect();
            let mut got = Vec::new();
            index.for_each_candidate(&ev, |i| {
                if rsigma_eval::evaluate_rule(&rules[i], &ev).is_some() {
                    got.push(i);
                }
            });
            assert_eq!(got, expected, "event {e}");
            checked += expected.len();
        }
        // The events do exercise matches.
        assert!(checked >= 15, "only {checked} matches");
        // And most rules are gated.
        assert!(index.always_count() <= 5, "{}", index.always_count());
    }

    #[test]
    fn an_event_without_the_gating_fields_yields_only_ungated_rules() {
        let rules = vec![
            rule("  a:\n    CommandLine|contains: 'whoami'\n  condition: a\n"),
            rule("  a:\n    Image|exists: false\n  condition: a\n"),
        ];
        let index = CandidateIndex::build(&rules);
        let e = json!({"Other": "whoami"});
        let mut got = Vec::new();
        index.for_each_candidate(&JsonEvent::borrow(&e), |i| got.push(i));
        assert_eq!(got, vec![1]);
    }
}
