//! `|expand` placeholders, replaced by configured values before a rule compiles (pySigma's
//! `value_placeholders`): `%name%` becomes each of the name's values.

use std::collections::BTreeMap;

use rsigma_parser::{Detection, DetectionItem, Modifier, SigmaRule, SigmaString, SigmaValue};

/// Replaces every placeholder of the rule's `|expand` items, or names the first one that has
/// no configured value.
pub fn expand_rule(
    rule: &mut SigmaRule,
    values: &BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    let mut names: Vec<&String> = rule.detection.named.keys().collect();
    names.sort();
    let names: Vec<String> = names.into_iter().cloned().collect();
    for name in names {
        if let Some(d) = rule.detection.named.get_mut(&name) {
            expand_detection(d, values)?;
        }
    }
    Ok(())
}

fn expand_detection(
    d: &mut Detection,
    values: &BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    match d {
        Detection::AllOf(items) => items.iter_mut().try_for_each(|i| expand_item(i, values)),
        Detection::AnyOf(subs) | Detection::And(subs) => subs
            .iter_mut()
            .try_for_each(|s| expand_detection(s, values)),
        Detection::ArrayMatch { body, .. } => expand_detection(body, values),
        Detection::Conditional { named, .. } => named
            .values_mut()
            .try_for_each(|s| expand_detection(s, values)),
        Detection::Keywords(_) => Ok(()),
    }
}

fn expand_item(
    item: &mut DetectionItem,
    values: &BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    if !item.field.has_modifier(Modifier::Expand) {
        return Ok(());
    }
    let mut out = Vec::new();
    for v in &item.values {
        match v {
            SigmaValue::String(s) => {
                for expanded in expand_str(&s.original, values)? {
                    out.push(SigmaValue::String(SigmaString::new(&expanded)));
                }
            }
            other => out.push(other.clone()),
        }
    }
    item.values = out;
    item.field.modifiers.retain(|m| *m != Modifier::Expand);
    Ok(())
}

/// Every string the template stands for: one per combination of placeholder values.
fn expand_str(
    template: &str,
    values: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let Some(start) = template.find('%') else {
        return Ok(vec![template.to_owned()]);
    };
    let after = &template[start + 1..];
    let Some(len) = after.find('%') else {
        return Ok(vec![template.to_owned()]);
    };
    let name = &after[..len];
    let rest = &after[len + 1..];
    let vals = values
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("placeholder %{name}% has no configured value"))?;
    let tails = expand_str(rest, values)?;
    let head = &template[..start];
    let mut out = Vec::with_capacity(vals.len() * tails.len());
    for v in vals {
        for t in &tails {
            out.push(format!("{head}{v}{t}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn every_combination_is_produced() {
        let v = vals(&[("a", &["1", "2"]), ("b", &["x"])]);
        assert_eq!(expand_str("p%a%-%b%s", &v).unwrap(), ["p1-xs", "p2-xs"]);
        assert_eq!(
            expand_str("no placeholder", &v).unwrap(),
            ["no placeholder"]
        );
        assert_eq!(expand_str("50% off", &v).unwrap(), ["50% off"]);
    }

    #[test]
    fn missing_value_is_named() {
        let err = expand_str("%Workstations%", &BTreeMap::new()).unwrap_err();
        assert_eq!(err, "placeholder %Workstations% has no configured value");
        let empty = vals(&[("Workstations", &[])]);
        assert!(expand_str("%Workstations%", &empty).is_err());
    }
}
