//! `tocsin routes test ALERT.json`: who would be notified about an alert, when, through which
//! audience, and with which fields (redacted as each audience's visibility level says).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tocsin_model::Alert;

#[derive(Debug, Subcommand)]
pub enum RoutesCommand {
    /// Show the notification plan for an alert (JSON, as the API returns alerts).
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// An alert as JSON (`GET /api/v1/alerts/{id}` gives one).
    pub alert: PathBuf,
    /// Config folder holding `routes.yaml` and the `org/` folder.
    #[arg(long, short, default_value = ".")]
    pub config: PathBuf,
}

/// Largest alert file read.
const MAX_ALERT_BYTES: u64 = 1024 * 1024;

pub fn run(cmd: RoutesCommand) -> Result<()> {
    match cmd {
        RoutesCommand::Test(a) => test(&a),
    }
}

fn test(a: &TestArgs) -> Result<()> {
    let size = std::fs::metadata(&a.alert)
        .with_context(|| a.alert.display().to_string())?
        .len();
    anyhow::ensure!(
        size <= MAX_ALERT_BYTES,
        "{}: larger than {MAX_ALERT_BYTES} bytes",
        a.alert.display()
    );
    let text = std::fs::read_to_string(&a.alert).with_context(|| a.alert.display().to_string())?;
    let alert: Alert = serde_json::from_str(&text)
        .with_context(|| format!("{}: not an alert", a.alert.display()))?;
    let routes = tocsin_routing::load(&a.config.join(tocsin_routing::ROUTES_FILE))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let org_dir = a.config.join(tocsin_org::ORG_DIR);
    let org = if org_dir.is_dir() {
        tocsin_org::load_dir(&org_dir).map_err(|e| anyhow::anyhow!("{e}"))?
    } else {
        tocsin_org::Org::empty()
    };
    let plan = tocsin_routing::plan(&alert, &routes, &[], &[], &org, chrono::Utc::now());
    println!("{}", serde_json::to_string_pretty(&render(&alert, &plan))?);
    Ok(())
}

/// The plan with, for each notification, the message its audience would receive.
fn render(alert: &Alert, plan: &tocsin_routing::Plan) -> Value {
    let notifications: Vec<Value> = plan
        .notifications
        .iter()
        .map(|n| {
            let message = tocsin_notify::Message::from_alert(alert, n.visibility, n.repeat > 0);
            json!({
                "at": n.at,
                "route": n.route,
                "step": n.step,
                "repeat": n.repeat,
                "audience": n.audience,
                "recipients": n.recipients,
                "visibility": n.visibility,
                "suppressed": n.suppressed,
                "message": message,
            })
        })
        .collect();
    json!({
        "alert": alert.id,
        "routes": plan.routes,
        "inhibited": plan.inhibited,
        "notifications": notifications,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_routes_plan_a_tailgating_alert_with_redaction_per_audience() {
        let routes = tocsin_routing::parse(
            include_str!("../../tocsin-routing/routes.example.yaml"),
            std::path::Path::new("routes.example.yaml"),
        )
        .unwrap();
        let alert: Alert = serde_json::from_value(json!({
            "id": "01J0000000000000000000000A", "tenant": "default", "detector": "tailgating",
            "rule": "passage_without_grant", "domain": "physical", "severity": 4,
            "title": "Door forced open: DC-SRV-ROOM-A", "summary": "Door forced by Ana Silva",
            "status": "open", "time": "2026-05-04T02:13:07Z", "ingested": "2026-05-04T02:13:07Z",
            "detected": "2026-05-04T02:13:07Z", "last_seen": "2026-05-04T02:13:07Z", "count": 1,
            "dedup_key": "rule:door-forced", "evidence": [],
            "entities": {"person": "Ana Silva", "portal": "DC-SRV-ROOM-A"},
            "site_id": "dc-frankfurt"
        }))
        .unwrap();
        let plan = tocsin_routing::plan(
            &alert,
            &routes,
            &[],
            &[],
            &tocsin_org::Org::empty(),
            "2026-05-04T02:13:08Z".parse().unwrap(),
        );
        let out = render(&alert, &plan);
        let notes = out["notifications"].as_array().unwrap();
        assert!(
            notes.iter().any(|n| n["visibility"] == "partner"),
            "the data-centre partner is notified: {out}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n["visibility"] != "partner"
                    && n["message"].to_string().contains("Ana Silva")),
            "internal audiences see the name: {out}"
        );
        for n in notes {
            let redacted = n["message"].to_string().contains("Ana Silva");
            match n["visibility"].as_str().unwrap() {
                "partner" | "public" => assert!(!redacted, "{n}"),
                _ => {}
            }
        }
    }
}
