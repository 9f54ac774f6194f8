//! `GET /api/v1/stats`: the figures the dashboard's metrics page charts, over a recent window —
//! time to alert (p50/p95), MTTA and MTTR per team, alerts per domain per hour, and the noisiest
//! rules with their false-positive and benign dispositions.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tocsin_incidents::Disposition;
use tocsin_store::{AlertQuery, IncidentQuery, MAX_PAGE_SIZE};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};

/// Longest window the statistics cover.
pub const MAX_HOURS: u32 = 24 * 31;
/// Most alerts or incidents read for one answer; past it the answer says it is partial.
const MAX_READ: usize = 100_000;
/// How many of the noisiest rules are listed.
const NOISIEST: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    hours: Option<u32>,
}

/// The `q`-quantile (0..=1) of sorted values, by nearest rank.
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn mean(values: &[i64]) -> Option<i64> {
    let n = i64::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(values.iter().sum::<i64>() / n)
}

pub async fn stats(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<StatsParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let hours = p.hours.unwrap_or(24);
    if hours == 0 || hours > MAX_HOURS {
        return Err(ApiError::BadRequest(format!(
            "parameter hours must be 1 to {MAX_HOURS}"
        )));
    }
    let now = Utc::now();
    let since = now - Duration::hours(i64::from(hours));
    let tenant = principal.tenant();
    let mut partial = false;

    // Alerts, newest detected first, until the window ends.
    let mut to_alert_ms = Vec::new();
    let mut buckets: BTreeMap<DateTime<Utc>, BTreeMap<String, u64>> = BTreeMap::new();
    let mut per_rule: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut aq = AlertQuery::new(tenant);
    aq.limit = MAX_PAGE_SIZE;
    let mut read = 0usize;
    'alerts: loop {
        let page = state.store.query_alerts(&aq).await?;
        for a in &page.items {
            if a.detected < since {
                break 'alerts;
            }
            let alerted = a.notified.unwrap_or(a.detected);
            to_alert_ms.push((alerted - a.time).num_milliseconds().max(0));
            let hour = a
                .detected
                .duration_trunc(Duration::hours(1))
                .unwrap_or(a.detected);
            *buckets
                .entry(hour)
                .or_default()
                .entry(a.domain.as_str().to_owned())
                .or_default() += 1;
            let rule = match &a.rule {
                Some(r) => format!("{}/{}", a.detector, r),
                None => a.detector.clone(),
            };
            per_rule.entry(rule).or_default().0 += a.count.max(1);
        }
        read += page.items.len();
        match page.next_cursor {
            Some(c) if read < MAX_READ => aq.cursor = Some(c),
            Some(_) => {
                partial = true;
                break;
            }
            None => break,
        }
    }
    to_alert_ms.sort_unstable();

    // Incidents opened in the window: MTTA and MTTR per team, dispositions per rule.
    let mut teams: BTreeMap<String, (Vec<i64>, Vec<i64>, u64)> = BTreeMap::new();
    let mut iq = IncidentQuery::new(tenant);
    iq.from = Some(since);
    iq.limit = MAX_PAGE_SIZE;
    let mut read = 0usize;
    loop {
        let page = state.store.query_incidents(&iq).await?;
        for inc in &page.items {
            let team = inc
                .assignment
                .team
                .clone()
                .unwrap_or_else(|| "unassigned".to_owned());
            let t = teams.entry(team).or_default();
            t.2 += 1;
            if let Some(ack) = inc.acknowledged {
                t.0.push((ack - inc.opened).num_seconds().max(0));
            }
            if let Some(res) = inc.resolved {
                t.1.push((res - inc.opened).num_seconds().max(0));
            }
            for a in &inc.alerts {
                let r = per_rule.entry(a.rule_key()).or_default();
                match a.disposition {
                    Some(Disposition::FalsePositive) => r.1 += 1,
                    Some(Disposition::Benign) => r.2 += 1,
                    _ => {}
                }
            }
        }
        read += page.items.len();
        match page.next_cursor {
            Some(c) if read < MAX_READ => iq.cursor = Some(c),
            Some(_) => {
                partial = true;
                break;
            }
            None => break,
        }
    }

    let mut noisiest: Vec<(String, (u64, u64, u64))> =
        per_rule.into_iter().filter(|(_, c)| c.0 > 0).collect();
    noisiest.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
    noisiest.truncate(NOISIEST);

    Ok(Json(json!({
        "hours": hours,
        "partial": partial,
        "time_to_alert": {
            "p50_ms": quantile(&to_alert_ms, 0.5),
            "p95_ms": quantile(&to_alert_ms, 0.95),
            "count": to_alert_ms.len(),
        },
        "teams": teams.into_iter().map(|(team, (acks, res, n))| json!({
            "team": team,
            "incidents": n,
            "mtta_s": mean(&acks),
            "mttr_s": mean(&res),
        })).collect::<Vec<_>>(),
        "alerts_by_domain": buckets.into_iter().map(|(bucket, counts)| json!({
            "bucket": bucket,
            "counts": counts,
        })).collect::<Vec<_>>(),
        "noisiest_rules": noisiest.into_iter().map(|(rule, (alerts, fp, benign))| json!({
            "rule": rule,
            "alerts": alerts,
            "false_positive": fp,
            "benign": benign,
        })).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.95), Some(95));
        assert_eq!(quantile(&[7], 0.95), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(mean(&[10, 20]), Some(15));
        assert_eq!(mean(&[]), None);
    }
}
