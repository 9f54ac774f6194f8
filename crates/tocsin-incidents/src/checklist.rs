//! Checklists (procedures) per incident type, configured in a YAML file:
//!
//! ```yaml
//! checklists:
//!   - name: Intrusion at a site
//!     when: { domain: [physical], detector: [tailgating, alarm] }
//!     steps:
//!       - Dispatch a guard to the door and confirm who entered
//!       - Review the camera at the door for the minute around the alert
//!   - name: Account compromise
//!     when: { domain: [cyber] }
//!     steps:
//!       - Disable the account and revoke its sessions
//! default:
//!   - Confirm the alert with the other team
//! ```
//!
//! An incident gets the steps of every checklist whose `when` matches one of its alerts (each
//! listed field must contain the alert's value; an empty `when` matches all), in file order,
//! without repeating a step; an incident that matches none gets `default`.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tocsin_model::Alert;

/// Most steps one incident's checklist holds.
pub const MAX_CHECKLIST_STEPS: usize = 100;

/// One step of an incident's checklist and whether it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub step: String,
    /// The checklist it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default)]
    pub done: bool,
    /// Who ticked (or unticked) it last.
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// Which alerts a checklist applies to. Every listed field must contain the alert's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(default)]
    pub domain: Vec<String>,
    #[serde(default)]
    pub detector: Vec<String>,
    /// Rule ids or titles.
    #[serde(default)]
    pub rule: Vec<String>,
    /// Severity names (`low`, `medium`, `high`, `critical`, ...).
    #[serde(default)]
    pub severity: Vec<String>,
}

impl When {
    pub fn matches(&self, a: &Alert) -> bool {
        let has = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        has(&self.domain, a.domain.as_str())
            && has(&self.detector, &a.detector)
            && (self.rule.is_empty()
                || a.rule
                    .as_deref()
                    .is_some_and(|r| self.rule.iter().any(|x| x == r)))
            && has(&self.severity, a.severity.name())
    }
}

/// A named procedure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    pub name: String,
    #[serde(default)]
    pub when: When,
    pub steps: Vec<String>,
}

/// Every checklist of a deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checklists {
    #[serde(default)]
    pub checklists: Vec<Checklist>,
    /// Steps for incidents that match no checklist.
    #[serde(default)]
    pub default: Vec<String>,
}

/// Why a checklists file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ChecklistError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ChecklistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Checklists {
    /// Parses a checklists file; `file` only names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Checklists, ChecklistError> {
        let de = yaml_serde::Deserializer::from_str(text);
        let c: Checklists = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.location().map(|l| l.line());
            let mut message = inner.to_string();
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            ChecklistError {
                file: file.to_path_buf(),
                line,
                field: (field != "." && !field.is_empty()).then_some(field),
                message,
            }
        })?;
        let bad = |field: String, message: &str| ChecklistError {
            file: file.to_path_buf(),
            line: None,
            field: Some(field),
            message: message.to_owned(),
        };
        for (i, cl) in c.checklists.iter().enumerate() {
            if cl.name.trim().is_empty() {
                return Err(bad(format!("checklists[{i}].name"), "must not be empty"));
            }
            if cl.steps.is_empty() {
                return Err(bad(
                    format!("checklists[{i}].steps"),
                    "needs at least one step",
                ));
            }
            for (j, s) in cl.steps.iter().enumerate() {
                if s.trim().is_empty() || s.len() > crate::MAX_TEXT_BYTES {
                    return Err(bad(
                        format!("checklists[{i}].steps[{j}]"),
                        "must be 1 to 16384 bytes",
                    ));
                }
            }
            for d in &cl.when.domain {
                if d.parse::<tocsin_model::Domain>().is_err() {
                    return Err(bad(
                        format!("checklists[{i}].when.domain"),
                        &format!("unknown domain {d:?}"),
                    ));
                }
            }
        }
        Ok(c)
    }

    /// The steps for an incident holding `alerts`, as unticked items.
    pub fn for_alerts<'a>(
        &self,
        alerts: impl IntoIterator<Item = &'a Alert>,
    ) -> Vec<ChecklistItem> {
        let alerts: Vec<&Alert> = alerts.into_iter().collect();
        let mut items: Vec<ChecklistItem> = Vec::new();
        for cl in &self.checklists {
            if alerts.iter().any(|a| cl.when.matches(a)) {
                for s in &cl.steps {
                    push_step(&mut items, s, Some(&cl.name));
                }
            }
        }
        if items.is_empty() {
            for s in &self.default {
                push_step(&mut items, s, None);
            }
        }
        items
    }
}

/// Adds a step unless it is already there or the list is full.
pub(crate) fn push_step(items: &mut Vec<ChecklistItem>, step: &str, from: Option<&str>) -> bool {
    if items.len() >= MAX_CHECKLIST_STEPS || items.iter().any(|i| i.step == step) {
        return false;
    }
    items.push(ChecklistItem {
        step: step.to_owned(),
        from: from.map(str::to_owned),
        done: false,
        by: None,
        at: None,
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_model::Domain;

    const FILE: &str = r#"
checklists:
  - name: Intrusion
    when: { domain: [physical], detector: [tailgating] }
    steps: [Send a guard, Check the camera]
  - name: Compromise
    when: { domain: [cyber] }
    steps: [Disable the account, Check the camera]
default: [Confirm with the other team]
"#;

    fn alert(domain: Domain, detector: &str) -> Alert {
        let mut a = crate::incident::tests::alert(1, 0, domain, &[]);
        a.detector = detector.into();
        a
    }

    #[test]
    fn steps_come_from_every_matching_checklist_once() {
        let c = Checklists::parse(FILE, Path::new("checklists.yaml")).unwrap();
        let a = alert(Domain::Physical, "tailgating");
        let b = alert(Domain::Cyber, "sigma");
        let steps: Vec<String> = c.for_alerts([&a, &b]).into_iter().map(|i| i.step).collect();
        assert_eq!(
            steps,
            ["Send a guard", "Check the camera", "Disable the account"]
        );
        let other = alert(Domain::Public, "public_signal");
        let d = c.for_alerts([&other]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].step, "Confirm with the other team");
        assert_eq!(d[0].from, None);
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let e = Checklists::parse(
            "checklists:\n  - name: X\n    steps: [a]\n    colour: red\n",
            Path::new("c.yaml"),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("c.yaml:"), "{text}");
        assert!(text.contains("colour"), "{text}");
        let e = Checklists::parse(
            "checklists:\n  - name: X\n    when: { domain: [space] }\n    steps: [a]\n",
            Path::new("c.yaml"),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("checklists[0].when.domain"));
    }
}
