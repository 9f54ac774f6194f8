//! `POST /api/v1/rules/test`: runs one Sigma rule, as written, against one sample event, without
//! loading it — the dashboard's "test this rule" box.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::Deserialize;
use serde_json::{Value, json};
use tocsin_sigma::{SigmaOptions, SigmaRuleSet};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTestBody {
    /// The Sigma rule (YAML).
    rule: String,
    /// A sample event: Tocsin's own form (with `time` and `class`) or a flat record as a
    /// forwarder writes it (e.g. a Windows event).
    event: Value,
}

pub async fn test_rule(
    State(_state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    b: Result<Json<RuleTestBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(b) = b.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if b.rule.len() > crate::MAX_RULE_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "a rule may be at most {} bytes",
            crate::MAX_RULE_BYTES
        )));
    }
    let tenant = principal.tenant().to_owned();
    let answer = tokio::task::spawn_blocking(move || run(&b.rule, b.event, &tenant))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(answer))
}

fn run(rule: &str, event: Value, tenant: &str) -> Value {
    let (set, rejected) = SigmaRuleSet::from_sources(
        &[(PathBuf::from("rule.yml"), rule.to_owned())],
        &SigmaOptions::default(),
    );
    if set.is_empty() {
        let reasons: Vec<String> = rejected.iter().map(|r| r.reason.clone()).collect();
        let error = if reasons.is_empty() {
            "the text holds no detection rule".to_owned()
        } else {
            reasons.join("; ")
        };
        return json!({ "matched": false, "rules": [], "error": error });
    }
    let mut found = Vec::new();
    let own_form = event.get("time").is_some() && event.get("class").is_some();
    if own_form {
        let ctx = tocsin_model::IngestContext {
            source: "rule-test",
            tenant,
            domain: Some(tocsin_model::Domain::Cyber),
            ingested: chrono::Utc::now(),
            id: ulid::Ulid::new(),
            limits: tocsin_model::Limits::default(),
        };
        match tocsin_model::Event::from_value(event, &ctx) {
            Ok(e) => set.matches_event(&e, &mut found),
            Err(e) => {
                return json!({ "matched": false, "rules": [], "error": format!("event: {e}") });
            }
        }
    } else {
        set.matches_json(&event, &mut found);
    }
    let rules: Vec<Value> = found
        .iter()
        .map(|&i| {
            let r = &set.rules()[i];
            json!({ "id": r.id, "title": r.title, "severity": r.severity.name() })
        })
        .collect();
    json!({ "matched": !rules.is_empty(), "rules": rules, "error": null })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r"
title: Whoami
id: 3f1c3b4e-1111-4a5b-9c6d-000000000001
logsource: { product: windows, category: process_creation }
detection:
  sel: { Image|endswith: '\whoami.exe' }
  condition: sel
level: medium
";

    #[test]
    fn a_rule_matches_a_flat_record_or_says_why_not() {
        let sysmon = |image: &str| json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": image});
        let hit = run(RULE, sysmon("C:\\Windows\\System32\\whoami.exe"), "default");
        assert_eq!(hit["matched"], true, "{hit}");
        assert_eq!(hit["rules"][0]["title"], "Whoami");
        let miss = run(RULE, sysmon("C:\\notepad.exe"), "default");
        assert_eq!(miss["matched"], false, "{miss}");
        assert!(miss["error"].is_null());
        let bad = run("title: x\n", json!({}), "default");
        assert_eq!(bad["matched"], false);
        assert!(
            bad["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{bad}"
        );
    }
}
