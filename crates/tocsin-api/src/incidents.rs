//! Incidents over HTTP: list, get, acknowledge (with a disposition), change state, assign, note,
//! merge, split, the after-action report, acknowledging a single alert, and per-rule noise
//! statistics from the dispositions.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tocsin_incidents::{Disposition, Incident, IncidentError, IncidentState};
use tocsin_store::{AlertQuery, IncidentQuery, MAX_PAGE_SIZE, StoreError};
use ulid::Ulid;

use tocsin_bus::LiveMessage;

use crate::auth::{Principal, Role};
use crate::{AppState, error::ApiError};

use crate::error::ApiResult;

/// Most incidents read for the rule statistics; past that the answer says it is partial.
const STATS_MAX_INCIDENTS: usize = 50_000;

impl From<IncidentError> for ApiError {
    fn from(e: IncidentError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

fn parse_id(id: &str) -> ApiResult<Ulid> {
    Ulid::from_string(id).map_err(|_| ApiError::BadRequest(format!("{id:?} is not a valid id")))
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    b.map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// The caller's name, when it may change incidents: every user role but `viewer`.
fn actor(p: &Principal) -> ApiResult<String> {
    match p {
        Principal::User { name, role, .. } if *role > Role::Viewer => Ok(name.clone()),
        _ => Err(ApiError::Forbidden),
    }
}

fn parse_disposition(d: Option<String>) -> ApiResult<Option<Disposition>> {
    d.map(|s| {
        Disposition::parse(&s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "disposition {s:?} is not one of true_positive, benign, false_positive, duplicate, exercise"
            ))
        })
    })
    .transpose()
}

fn parse_state(s: &str) -> ApiResult<IncidentState> {
    IncidentState::parse(s).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "state {s:?} is not one of new, acknowledged, investigating, contained, resolved, closed"
        ))
    })
}

async fn load(state: &AppState, tenant: &str, id: &str) -> ApiResult<Incident> {
    let id = parse_id(id)?;
    state
        .store
        .get_incident(tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The incident with its SLA clocks as of now.
fn view(inc: &Incident, now: DateTime<Utc>) -> Value {
    let mut v = json!(inc);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("sla_status".into(), json!(inc.sla_status(now)));
    }
    v
}

/// How often a change is reapplied when the incident changed meanwhile.
const WRITE_ATTEMPTS: usize = 5;

fn changed_meanwhile() -> ApiError {
    ApiError::Internal("the incident kept changing while it was written".into())
}

/// Reads incidents, applies `change` and writes them back in one transaction, again on a fresh
/// read when someone else wrote meanwhile (the pipeline adding an alert, another responder), so
/// that no change is lost. Returns the incidents as stored.
async fn update<F>(
    state: &AppState,
    tenant: &str,
    ids: &[&str],
    mut change: F,
) -> ApiResult<Vec<Incident>>
where
    F: FnMut(&mut [Incident]) -> ApiResult<Vec<Incident>>,
{
    for _ in 0..WRITE_ATTEMPTS {
        let mut read = Vec::with_capacity(ids.len());
        for id in ids {
            read.push(load(state, tenant, id).await?);
        }
        let mut out = change(&mut read)?;
        match state.store.upsert_incidents(&out).await {
            Ok(()) => {
                for inc in &mut out {
                    inc.revision += 1;
                    state
                        .live
                        .publish(LiveMessage::IncidentUpdated(Arc::new(inc.clone())));
                }
                return Ok(out);
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(changed_meanwhile())
}

/// [`update`] of one incident.
async fn update_one<F>(
    state: &AppState,
    tenant: &str,
    id: &str,
    mut change: F,
) -> ApiResult<Incident>
where
    F: FnMut(&mut Incident) -> Result<(), IncidentError>,
{
    let out = update(state, tenant, &[id], |incs| {
        let [inc] = incs else {
            return Err(ApiError::NotFound);
        };
        change(inc)?;
        Ok(vec![inc.clone()])
    })
    .await?;
    out.into_iter().next().ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentParams {
    state: Option<String>,
    severity_min: Option<u8>,
    team: Option<String>,
    person: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn bounded(s: Option<String>, name: &str) -> ApiResult<Option<String>> {
    match s {
        Some(v) if v.len() > 256 => Err(ApiError::BadRequest(format!(
            "parameter {name} is longer than 256 bytes"
        ))),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

pub async fn list_incidents(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<IncidentParams>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let q = IncidentQuery {
        tenant: principal.tenant().to_owned(),
        state: p.state.as_deref().map(parse_state).transpose()?,
        severity_min: p.severity_min,
        team: bounded(p.team, "team")?,
        person: bounded(p.person, "person")?,
        from: p.from,
        to: p.to,
        limit: p.limit.unwrap_or(100),
        cursor: bounded(p.cursor, "cursor")?,
    };
    Ok(Json(state.store.query_incidents(&q).await?).into_response())
}

pub async fn get_incident(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let inc = load(&state, principal.tenant(), &id).await?;
    Ok(Json(view(&inc, Utc::now())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    #[serde(default)]
    disposition: Option<String>,
}

pub async fn ack_incident(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    b: Result<Json<AckBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let b = body(b)?;
    let disposition = parse_disposition(b.disposition)?;
    let now = Utc::now();
    let inc = update_one(&state, principal.tenant(), &id, |inc| {
        inc.acknowledge(&by, disposition, now)
    })
    .await?;
    // The alerts follow their incident, all in one transaction that also cancels every pending
    // notification of them; a failure here leaves the incident acknowledged, which is what the
    // responder asked for.
    let ids: Vec<Ulid> = inc.alerts.iter().map(|a| a.id).collect();
    match state
        .store
        .acknowledge_alerts(principal.tenant(), &ids, now)
        .await
    {
        Ok(out) => observe_acks(&state, principal.tenant(), &out.acknowledged, now).await,
        Err(e) => tracing::warn!(error = %e, incident = %inc.id, "alert acknowledgement failed"),
    }
    Ok(Json(view(&inc, now)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBody {
    state: String,
}

pub async fn set_state(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    b: Result<Json<StateBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let to = parse_state(&body(b)?.state)?;
    let now = Utc::now();
    let inc = update_one(&state, principal.tenant(), &id, |inc| {
        inc.transition(to, &by, now)
    })
    .await?;
    Ok(Json(view(&inc, now)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    person: Option<String>,
}

pub async fn assign(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    b: Result<Json<AssignBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let b = body(b)?;
    if b.team.is_none() && b.person.is_none() {
        return Err(ApiError::BadRequest("give a team, a person or both".into()));
    }
    let now = Utc::now();
    let inc = update_one(&state, principal.tenant(), &id, |inc| {
        inc.assign(b.team.as_deref(), b.person.as_deref(), &by, now)
    })
    .await?;
    Ok(Json(view(&inc, now)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
    /// Records the note as a completed checklist step instead.
    #[serde(default)]
    checklist_step: bool,
}

pub async fn add_note(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    b: Result<Json<NoteBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let b = body(b)?;
    let now = Utc::now();
    let inc = update_one(&state, principal.tenant(), &id, |inc| {
        if b.checklist_step {
            inc.checklist_step(&b.text, &by, now)
        } else {
            inc.note(&b.text, &by, now)
        }
    })
    .await?;
    Ok(Json(view(&inc, now)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The incident merged into this one (it is closed as merged).
    from: String,
}

pub async fn merge(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    b: Result<Json<MergeBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let b = body(b)?;
    let now = Utc::now();
    let out = update(&state, principal.tenant(), &[&id, &b.from], |incs| {
        let [into, from] = incs else {
            return Err(ApiError::NotFound);
        };
        tocsin_incidents::merge(into, from, &by, now)?;
        Ok(vec![into.clone(), from.clone()])
    })
    .await?;
    let into = out.first().ok_or(ApiError::NotFound)?;
    Ok(Json(view(into, now)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitBody {
    /// The alerts that move to a new incident.
    alerts: Vec<String>,
}

pub async fn split(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    b: Result<Json<SplitBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let b = body(b)?;
    if b.alerts.len() > tocsin_incidents::MAX_ALERTS {
        return Err(ApiError::BadRequest("too many alerts".into()));
    }
    let alerts = b
        .alerts
        .iter()
        .map(|a| parse_id(a))
        .collect::<ApiResult<Vec<_>>>()?;
    let now = Utc::now();
    let new_id = Ulid::new();
    let out = update(&state, principal.tenant(), &[&id], |incs| {
        let [from] = incs else {
            return Err(ApiError::NotFound);
        };
        let new = tocsin_incidents::split(from, &alerts, new_id, &by, now)?;
        Ok(vec![from.clone(), new])
    })
    .await?;
    let [from, new] = out.as_slice() else {
        return Err(ApiError::NotFound);
    };
    Ok(Json(
        json!({ "incident": view(from, now), "new": view(new, now) }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    format: Option<String>,
}

pub async fn report(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let inc = load(&state, principal.tenant(), &id).await?;
    let now = Utc::now();
    match p.format.as_deref().unwrap_or("md") {
        "md" | "markdown" => Ok((
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            tocsin_incidents::report_markdown(&inc, now),
        )
            .into_response()),
        "html" => Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            tocsin_incidents::report_html(&inc, now),
        )
            .into_response()),
        other => Err(ApiError::BadRequest(format!(
            "format {other:?} is not one of md, html"
        ))),
    }
}

/// Time to acknowledge, from the first notification (or the alert, when none was sent).
async fn observe_acks(state: &AppState, tenant: &str, acked: &[Ulid], now: DateTime<Utc>) {
    for id in acked {
        if let Ok(Some(a)) = state.store.get_alert(tenant, *id).await {
            let from = a.notified.unwrap_or(a.detected);
            let secs = (now - from).num_milliseconds().max(0) as f64 / 1000.0;
            state.metrics.time_to_acknowledge.observe(secs);
        }
    }
}

pub async fn ack_alert(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    b: Result<Json<AckBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let disposition = parse_disposition(body(b)?.disposition)?;
    let alert_id = parse_id(&id)?;
    let tenant = principal.tenant();
    let now = Utc::now();
    // Acknowledging and cancelling the alert's pending notifications is one transaction; once
    // it has committed, no notification of this alert is sent.
    let out = state
        .store
        .acknowledge_alerts(tenant, &[alert_id], now)
        .await?;
    observe_acks(&state, tenant, &out.acknowledged, now).await;
    let alert = state
        .store
        .get_alert(tenant, alert_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let incident = match state.store.incident_of_alert(tenant, alert_id).await? {
        Some(inc) if inc.state != IncidentState::Closed => {
            let inc = update_one(&state, tenant, &inc.id.to_string(), |inc| {
                inc.acknowledge_alert(alert_id, &by, disposition, now)
            })
            .await?;
            Some(inc.id)
        }
        Some(inc) => Some(inc.id),
        None => None,
    };
    Ok(Json(json!({ "alert": alert, "incident": incident })))
}

/// Per rule: alerts raised and the repeats deduplication folded into them, how many alerts
/// reached an incident, how many were acknowledged, and how they were disposed of, with the
/// share of false positives and benign ones as the noise ratio.
pub async fn rule_stats(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    #[derive(Default)]
    struct Counts {
        raised: u64,
        repeats: u64,
        alerts: u64,
        acknowledged: u64,
        by: BTreeMap<&'static str, u64>,
    }
    let mut rules: BTreeMap<String, Counts> = BTreeMap::new();
    let mut q = IncidentQuery::new(principal.tenant());
    q.limit = MAX_PAGE_SIZE;
    let mut read = 0usize;
    let mut partial = false;
    loop {
        let page = state.store.query_incidents(&q).await?;
        for inc in &page.items {
            for a in &inc.alerts {
                let c = rules.entry(a.rule_key()).or_default();
                c.alerts += 1;
                if a.acknowledged.is_some() {
                    c.acknowledged += 1;
                }
                if let Some(d) = a.disposition {
                    *c.by.entry(d.as_str()).or_default() += 1;
                }
            }
        }
        read += page.items.len();
        match page.next_cursor {
            Some(c) if read < STATS_MAX_INCIDENTS => q.cursor = Some(c),
            Some(_) => {
                partial = true;
                break;
            }
            None => break,
        }
    }
    // What deduplication folded away: each alert's repeats inside its window.
    let mut aq = AlertQuery::new(principal.tenant());
    aq.limit = MAX_PAGE_SIZE;
    let mut read = 0usize;
    loop {
        let page = state.store.query_alerts(&aq).await?;
        for a in &page.items {
            let key = match &a.rule {
                Some(r) => format!("{}/{}", a.detector, r),
                None => a.detector.clone(),
            };
            let c = rules.entry(key).or_default();
            c.raised += 1;
            c.repeats += a.count.saturating_sub(1);
        }
        read += page.items.len();
        match page.next_cursor {
            Some(c) if read < STATS_MAX_INCIDENTS => aq.cursor = Some(c),
            Some(_) => {
                partial = true;
                break;
            }
            None => break,
        }
    }
    let items: Vec<Value> = rules
        .into_iter()
        .map(|(rule, c)| {
            let disposed: u64 = c.by.values().sum();
            let noise = c.by.get("false_positive").copied().unwrap_or(0)
                + c.by.get("benign").copied().unwrap_or(0);
            let by: serde_json::Map<String, Value> = Disposition::ALL
                .iter()
                .map(|d| {
                    (
                        d.as_str().to_owned(),
                        json!(c.by.get(d.as_str()).copied().unwrap_or(0)),
                    )
                })
                .collect();
            #[allow(clippy::cast_precision_loss)]
            let ratio = (disposed > 0).then(|| noise as f64 / disposed as f64);
            json!({
                "rule": rule,
                "raised": c.raised,
                "repeats_suppressed": c.repeats,
                "alerts": c.alerts,
                "acknowledged": c.acknowledged,
                "dispositions": by,
                "noise_ratio": ratio,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items, "partial": partial })))
}

/// `GET /api/v1/incidents/{id}/review`: the four review questions, each with what the timeline
/// and measured times pre-fill and the responders' answer so far.
pub async fn get_review(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let inc = load(&state, principal.tenant(), &id).await?;
    Ok(Json(review_view(&inc, Utc::now())))
}

fn review_view(inc: &Incident, now: DateTime<Utc>) -> Value {
    let prefill = tocsin_incidents::report::prefill(inc, now);
    let items: Vec<Value> = tocsin_incidents::REVIEW_KEYS
        .iter()
        .zip(tocsin_incidents::report::QUESTIONS)
        .zip(prefill)
        .map(|((key, question), prefill)| {
            json!({
                "key": key,
                "question": question,
                "prefill": prefill.join("\n"),
                "answer": inc.review.as_ref().and_then(|r| r.answers.get(*key)),
            })
        })
        .collect();
    json!(items)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// Answers by question key (`exploited`, `threat`, `impact`, `improve`); an empty answer
    /// clears one.
    answers: BTreeMap<String, String>,
}

/// `PUT /api/v1/incidents/{id}/review`: writes the responders' answers; returns the incident.
pub async fn put_review(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    b: Result<Json<ReviewBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let b = body(b)?;
    let now = Utc::now();
    let inc = update_one(&state, principal.tenant(), &id, |inc| {
        inc.set_review(&b.answers, &by, now)
    })
    .await?;
    Ok(Json(view(&inc, now)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistBody {
    done: bool,
}

/// `POST /api/v1/incidents/{id}/checklist/{index}`: ticks or unticks a checklist step.
pub async fn set_checklist_item(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path((id, index)): Path<(String, usize)>,
    b: Result<Json<ChecklistBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let by = actor(&principal)?;
    let b = body(b)?;
    let now = Utc::now();
    let inc = update_one(&state, principal.tenant(), &id, |inc| {
        inc.set_checklist_item(index, b.done, &by, now)
    })
    .await?;
    Ok(Json(view(&inc, now)))
}
