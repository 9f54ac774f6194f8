//! The organisation model over HTTP: sites, people, assets, teams, a person's presence, the
//! model's data quality, and reloading the files without a restart.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use crate::auth::{Principal, Role};
use crate::{AppState, error::ApiError};

type ApiResult<T> = Result<T, ApiError>;

pub async fn list_sites(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let org = state.org.current();
    Json(json!({ "items": org.sites }))
}

pub async fn list_people(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let org = state.org.current();
    Json(json!({ "items": org.people }))
}

pub async fn list_assets(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let org = state.org.current();
    Json(json!({ "items": org.assets }))
}

/// Teams, each with who is on call now.
pub async fn list_teams(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let org = state.org.current();
    let now = Utc::now();
    let items: Vec<_> = org
        .teams
        .iter()
        .map(|t| {
            let mut v = json!(t);
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "on_call_now".into(),
                    json!(t.on_call.as_ref().and_then(|o| o.on_call_at(now))),
                );
            }
            v
        })
        .collect();
    Json(json!({ "items": items }))
}

/// A person's whereabouts from the badge system; `presence` is null when they have not badged.
pub async fn person_presence(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let org = state.org.current();
    let person = org.person(&id).ok_or(ApiError::NotFound)?;
    let presence = state
        .presence
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&person.id)
        .cloned();
    Ok(Json(
        json!({ "person_id": person.id, "presence": presence }),
    ))
}

/// What is loaded, how often it was reloaded, and the identities events named that it lacks.
pub async fn org_status(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let org = state.org.current();
    let unresolved: serde_json::Map<String, serde_json::Value> = state
        .unresolved
        .counts()
        .into_iter()
        .map(|(k, n)| (k.as_str().to_owned(), json!(n)))
        .collect();
    let recent: Vec<_> = state
        .unresolved
        .recent()
        .into_iter()
        .map(|(k, v)| json!({ "kind": k.as_str(), "value": v }))
        .collect();
    Json(json!({
        "summary": org.summary(),
        "reloads": state.org.reloads(),
        "unresolved": unresolved,
        "recent_unresolved": recent,
    }))
}

/// Re-reads the organisation files (admin only). A bad file answers 422 with every error (file,
/// line, field) and the model in force stays as it was.
pub async fn reload(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Response> {
    if principal.role() != Some(Role::Admin) {
        return Err(ApiError::Forbidden);
    }
    let org = state.org.clone();
    let result = tokio::task::spawn_blocking(move || org.reload())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match result {
        Ok(summary) => {
            tracing::info!(?summary, "organisation reloaded");
            Ok(Json(json!({ "status": "reloaded", "summary": summary })).into_response())
        }
        Err(errors) => {
            tracing::warn!(%errors, "organisation reload refused");
            let list: Vec<_> = errors
                .0
                .iter()
                .map(|e| {
                    json!({
                        "file": e.file.display().to_string(),
                        "line": e.line,
                        "field": e.field,
                        "message": e.message,
                    })
                })
                .collect();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "error": {
                        "code": "invalid_organisation",
                        "message": "the organisation files have errors; the previous model stays in force",
                        "errors": list,
                    }
                })),
            )
                .into_response())
        }
    }
}
