//! Notifications over HTTP: what each audience received or will receive (the outbox), the
//! routing tree, a dry run of routing for an alert, and silences.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tocsin_model::Alert;
use tocsin_routing::{Matcher, Silence};
use tocsin_store::{DeliveryQuery, DeliveryStatus, StoredSilence};
use ulid::Ulid;

use crate::auth::{Principal, Role};
use crate::{AppState, error::ApiError};

use crate::error::ApiResult;

/// Longest silence accepted.
const MAX_SILENCE_DAYS: i64 = 90;

fn parse_id(id: &str, name: &str) -> ApiResult<Ulid> {
    Ulid::from_string(id)
        .map_err(|_| ApiError::BadRequest(format!("parameter {name}: {id:?} is not a valid id")))
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

/// The caller's name, when it may create or delete silences: `lead` or above.
fn lead(p: &Principal) -> ApiResult<String> {
    match p {
        Principal::User { name, role, .. } if *role >= Role::Lead => Ok(name.clone()),
        _ => Err(ApiError::Forbidden),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    alert: Option<String>,
    incident: Option<String>,
    audience: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/v1/deliveries`: the outbox rows, newest first, with the payload as sent (or as it
/// will be sent), attempts, errors and suppression reasons.
pub async fn list_deliveries(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<DeliveryParams>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = bounded(p.status, "status")?
        .map(|s| {
            DeliveryStatus::parse(&s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "status {s:?} is not one of pending, sending, sent, failed, dead, cancelled, suppressed"
                ))
            })
        })
        .transpose()?;
    let q = DeliveryQuery {
        tenant: principal.tenant().to_owned(),
        alert: bounded(p.alert, "alert")?
            .map(|a| parse_id(&a, "alert"))
            .transpose()?,
        incident: bounded(p.incident, "incident")?
            .map(|i| parse_id(&i, "incident"))
            .transpose()?,
        audience: bounded(p.audience, "audience")?,
        status,
        limit: p.limit.unwrap_or(100),
        cursor: bounded(p.cursor, "cursor")?,
    };
    Ok(Json(state.store.list_deliveries(&q).await?).into_response())
}

/// `GET /api/v1/routes`: the routing tree, plans, quiet hours and inhibition rules in force.
pub async fn get_routes(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    match &state.routes {
        Some(r) => Ok(Json(json!({ "configured": true, "routes": r.as_ref() }))),
        None => Ok(Json(json!({ "configured": false, "routes": null }))),
    }
}

/// `POST /api/v1/routes/test`: an alert (JSON, as the API returns alerts) → who would be told,
/// when, and what each audience would see. Silences and on-call rotations in force apply.
pub async fn test_routes(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    b: Result<Json<Alert>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(alert) = b.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Some(routes) = &state.routes else {
        return Err(ApiError::BadRequest(
            "routing is not configured: add a [notify] section to tocsin.toml".into(),
        ));
    };
    let now = Utc::now();
    let silences: Vec<Silence> = state
        .store
        .list_silences(principal.tenant(), now)
        .await?
        .iter()
        .filter_map(silence_of)
        .collect();
    let org = state.org.current();
    let plan = tocsin_routing::plan(&alert, routes, &silences, &[], &*org, now);
    Ok(Json(tocsin_routing::render_plan(&alert, &plan)))
}

fn silence_of(s: &StoredSilence) -> Option<Silence> {
    Some(Silence {
        id: s.id.clone(),
        matcher: serde_json::from_value(s.matchers.clone()).ok()?,
        starts: s.starts,
        expires: s.ends,
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
    })
}

/// `GET /api/v1/silences`: the silences that have not ended.
pub async fn list_silences(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let items = state
        .store
        .list_silences(principal.tenant(), Utc::now())
        .await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceBody {
    /// The routing matcher (`{ "site": ["hq"], "detector": ["door_offline"] }`); at least one
    /// label, so that a silence never mutes everything by accident.
    matchers: Matcher,
    #[serde(default)]
    starts: Option<DateTime<Utc>>,
    /// Required: every silence ends.
    ends: DateTime<Utc>,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/silences` (lead or above): mutes matching alerts until `ends`.
pub async fn create_silence(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    b: Result<Json<SilenceBody>, JsonRejection>,
) -> ApiResult<Response> {
    let by = lead(&principal)?;
    let Json(b) = b.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let now = Utc::now();
    let starts = b.starts.unwrap_or(now);
    if b.matchers.is_empty() {
        return Err(ApiError::BadRequest(
            "matchers: name at least one label; an empty matcher would silence every alert".into(),
        ));
    }
    if b.ends <= starts || b.ends <= now {
        return Err(ApiError::BadRequest(
            "ends: must be in the future and after starts".into(),
        ));
    }
    if b.ends - starts > chrono::Duration::days(MAX_SILENCE_DAYS) {
        return Err(ApiError::BadRequest(format!(
            "ends: a silence lasts at most {MAX_SILENCE_DAYS} days"
        )));
    }
    if b.comment.len() > 1024 {
        return Err(ApiError::BadRequest("comment: at most 1024 bytes".into()));
    }
    let s = StoredSilence {
        id: Ulid::new().to_string(),
        tenant: principal.tenant().to_owned(),
        matchers: serde_json::to_value(&b.matchers)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        starts,
        ends: b.ends,
        created_by: by,
        comment: b.comment,
    };
    state.store.insert_silence(&s).await?;
    Ok((StatusCode::CREATED, Json(s)).into_response())
}

/// `DELETE /api/v1/silences/{id}` (lead or above).
pub async fn delete_silence(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    lead(&principal)?;
    if id.len() > 64 {
        return Err(ApiError::NotFound);
    }
    if state.store.delete_silence(principal.tenant(), &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
