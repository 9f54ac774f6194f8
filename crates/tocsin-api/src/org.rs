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

use crate::error::ApiResult;

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

/// Reloads the Sigma rule folders off the async threads and logs the outcome; when a folder
/// cannot be read the rules in force stay.
pub async fn reload_sigma(
    handle: Arc<tocsin_sigma::SigmaHandle>,
) -> Result<tocsin_sigma::ReloadSummary, String> {
    match tokio::task::spawn_blocking(move || {
        let summary = handle.reload();
        (summary, handle.rejected())
    })
    .await
    {
        Ok((Ok(summary), rejected)) => {
            for r in rejected.iter() {
                tracing::warn!(rule = %r, "sigma rule not loaded");
            }
            tracing::info!(?summary, "sigma rules reloaded");
            Ok(summary)
        }
        Ok((Err(e), _)) => {
            tracing::error!(error = %e, "sigma reload refused; the rules in force stay");
            Err(e.to_string())
        }
        Err(e) => {
            tracing::error!(error = %e, "sigma reload failed");
            Err(e.to_string())
        }
    }
}

/// Re-reads the organisation files and the Sigma rule folders (admin only). A bad organisation
/// file answers 422 with every error (file, line, field) and the model in force stays as it
/// was; a Sigma folder that cannot be read answers 422 and the rules in force stay. Single
/// rules that cannot load are listed by `GET /api/v1/rules`.
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
    let sigma = match state.sigma.clone() {
        Some(handle) => Some(reload_sigma(handle).await),
        None => None,
    };
    let sigma_json = match &sigma {
        None => serde_json::Value::Null,
        Some(Ok(s)) => json!({
            "status": "reloaded",
            "loaded": s.loaded,
            "rejected": s.rejected,
            "generation": s.generation,
        }),
        Some(Err(e)) => json!({ "status": "refused", "error": e }),
    };
    match result {
        Ok(summary) => {
            tracing::info!(?summary, "organisation reloaded");
            if let Some(Err(e)) = &sigma {
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({
                        "error": {
                            "code": "invalid_sigma_rules",
                            "message": format!("{e}; the Sigma rules in force stay (the organisation was reloaded)"),
                        },
                        "summary": summary,
                        "sigma": sigma_json,
                    })),
                )
                    .into_response());
            }
            Ok(
                Json(json!({ "status": "reloaded", "summary": summary, "sigma": sigma_json }))
                    .into_response(),
            )
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
                    },
                    "sigma": sigma_json,
                })),
            )
                .into_response())
        }
    }
}
