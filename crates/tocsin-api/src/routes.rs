//! Request handlers. Each takes the caller's [`Principal`] and scopes every query to its tenant.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Deserialize;
use serde_json::json;
use tocsin_bus::LiveMessage;
use tocsin_model::{AlertStatus, Domain};
use tocsin_sigma::AddRuleError;
use tocsin_sources::Source;
use tocsin_sources::http::IngestRefused;
use tocsin_store::{AlertQuery, DeadLetterQuery, EventQuery};
use tokio::sync::broadcast::error::RecvError;
use ulid::Ulid;

use crate::auth::{Principal, Role};
use crate::{AppState, error::ApiError};

use crate::error::ApiResult;

pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "starting" })),
        )
            .into_response()
    }
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The policy every dashboard file is served with: scripts, styles, data and frames only from
/// this server; images may also be `data:` URLs and, when one is configured, tiles from the map
/// tile server.
fn dashboard_csp(tile_url: Option<&str>) -> String {
    let tiles = tile_url.and_then(tile_source).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{tiles}; \
         connect-src 'self'; font-src 'self'; frame-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The CSP source (` https://host[:port]`) of a tile URL template; a `{s}.` subdomain
/// placeholder becomes `*.`. `None` for anything that is not a plain http(s) host.
fn tile_source(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split('/').next()?.replace("{s}.", "*.");
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*'));
    plain.then(|| format!(" {scheme}://{host}"))
}

fn dashboard_file(asset: tocsin_web::Asset, cache: &'static str, csp: String) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        asset.bytes,
    )
        .into_response();
    if let Ok(v) = header::HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// The dashboard's page: a static shell without data, revalidated on every load so a new
/// binary's assets are picked up at once.
pub async fn dashboard(State(state): State<Arc<AppState>>) -> Response {
    match tocsin_web::index() {
        Some(index) => dashboard_file(
            index,
            "no-cache",
            dashboard_csp(state.ui.tile_url.as_deref()),
        ),
        None => ApiError::NotFound.into_response(),
    }
}

/// The dashboard's scripts, styles and images; their names carry a content hash, so they may be
/// cached for good.
pub async fn dashboard_asset(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
) -> Response {
    match tocsin_web::asset(&format!("assets/{path}")) {
        Some(asset) => dashboard_file(
            asset,
            "public, max-age=31536000, immutable",
            dashboard_csp(state.ui.tile_url.as_deref()),
        ),
        None => ApiError::NotFound.into_response(),
    }
}

#[cfg(test)]
mod dashboard_tests {
    use super::*;

    #[test]
    fn the_csp_allows_only_this_server_and_a_configured_tile_host() {
        let plain = dashboard_csp(None);
        assert!(plain.contains("img-src 'self' data:;"), "{plain}");
        assert!(!plain.contains("unsafe"), "{plain}");
        let tiles = dashboard_csp(Some("https://{s}.tile.example.org/{z}/{x}/{y}.png"));
        assert!(
            tiles.contains("img-src 'self' data: https://*.tile.example.org;"),
            "{tiles}"
        );
        let port = dashboard_csp(Some("http://10.0.0.5:8081/tiles/{z}/{x}/{y}.png"));
        assert!(port.contains("data: http://10.0.0.5:8081;"), "{port}");
        for bad in [
            "javascript:alert(1)",
            "https://evil.example; script-src *",
            "ftp://x/{z}",
            "https:///{z}",
        ] {
            assert_eq!(dashboard_csp(Some(bad)), plain, "{bad}");
        }
    }
}

pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> ApiResult<Response> {
    let text = state
        .metrics
        .render()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

pub async fn post_events(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let source = match &principal {
        Principal::Source(s) => s.clone(),
        Principal::User { role, tenant, .. } => {
            if *role < Role::Lead {
                return Err(ApiError::Forbidden);
            }
            if tenant != &state.api_source.info().tenant {
                return Err(ApiError::Forbidden);
            }
            state.api_source.clone()
        }
    };
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "body is larger than the limit of {} bytes",
                source.max_body_bytes()
            ))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    match source.ingest(&body, &state.sink) {
        Ok(report) => Ok((StatusCode::ACCEPTED, Json(report)).into_response()),
        Err(e @ IngestRefused::TooLarge { .. }) => Err(ApiError::PayloadTooLarge(e.to_string())),
        Err(IngestRefused::Overloaded { retry_after_secs }) => {
            Err(ApiError::Overloaded(retry_after_secs))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    domain: Option<String>,
    class: Option<String>,
    site: Option<String>,
    person: Option<String>,
    q: Option<String>,
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

pub async fn list_events(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<EventParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let domain = p
        .domain
        .map(|d| d.parse::<Domain>())
        .transpose()
        .map_err(ApiError::BadRequest)?;
    let q = EventQuery {
        tenant: principal.tenant().to_owned(),
        from: p.from,
        to: p.to,
        domain,
        class: bounded(p.class, "class")?,
        site: bounded(p.site, "site")?,
        person: bounded(p.person, "person")?,
        text: bounded(p.q, "q")?,
        limit: p.limit.unwrap_or(100),
        cursor: bounded(p.cursor, "cursor")?,
    };
    Ok(Json(state.store.query_events(&q).await?).into_response())
}

fn parse_id(id: &str) -> ApiResult<Ulid> {
    Ulid::from_string(id).map_err(|_| ApiError::BadRequest(format!("{id:?} is not a valid id")))
}

pub async fn get_event(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    match state.store.get_event(principal.tenant(), id).await? {
        Some(e) => Ok(Json(e).into_response()),
        None => Err(ApiError::NotFound),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterParams {
    source: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list_dead_letters(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<DeadLetterParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let q = DeadLetterQuery {
        tenant: principal.tenant().to_owned(),
        source: bounded(p.source, "source")?,
        limit: p.limit.unwrap_or(100),
        cursor: bounded(p.cursor, "cursor")?,
    };
    Ok(Json(state.store.list_dead_letters(&q).await?).into_response())
}

pub async fn list_sources(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Json<serde_json::Value> {
    let items: Vec<_> = state
        .sources
        .iter()
        .filter(|s| s.info().tenant == principal.tenant())
        .map(|s| s.status())
        .collect();
    Json(json!({ "items": items }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    detector: Option<String>,
    status: Option<String>,
    severity_min: Option<u8>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list_alerts(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<AlertParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = p
        .status
        .map(|s| {
            AlertStatus::parse(&s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "status {s:?} is not one of open, acknowledged, closed"
                ))
            })
        })
        .transpose()?;
    let q = AlertQuery {
        tenant: principal.tenant().to_owned(),
        detector: bounded(p.detector, "detector")?,
        status,
        severity_min: p.severity_min,
        limit: p.limit.unwrap_or(100),
        cursor: bounded(p.cursor, "cursor")?,
    };
    Ok(Json(state.store.query_alerts(&q).await?).into_response())
}

pub async fn get_alert(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    match state.store.get_alert(principal.tenant(), id).await? {
        Some(a) => Ok(Json(a).into_response()),
        None => Err(ApiError::NotFound),
    }
}

/// Live alerts and incidents for the caller's tenant as Server-Sent Events (`alert.new`,
/// `alert.updated`, `incident.new`, `incident.updated`),
/// with keep-alive comments. A subscriber that falls behind gets a `lagged` event saying how many
/// messages it missed, so the dashboard can reload instead of silently showing a gap.
pub async fn stream(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let mut rx = state.live.subscribe();
    let tenant = principal.tenant().to_owned();
    let metrics = state.metrics.clone();
    let stream = async_stream(move |tx| async move {
        loop {
            let ev = match rx.recv().await {
                Ok(msg) if msg.tenant() == tenant => {
                    let event = SseEvent::default().event(msg.kind());
                    match &msg {
                        LiveMessage::AlertNew(a) | LiveMessage::AlertUpdated(a) => {
                            event.json_data(a.as_ref())
                        }
                        LiveMessage::IncidentNew(i) | LiveMessage::IncidentUpdated(i) => {
                            event.json_data(streamed_incident(i))
                        }
                    }
                    .unwrap_or_else(|_| SseEvent::default().comment("unencodable"))
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    metrics.live_lagged.inc_by(n);
                    SseEvent::default()
                        .event("lagged")
                        .data(json!({ "missed": n }).to_string())
                }
                Err(RecvError::Closed) => break,
            };
            if tx.send(Ok(ev)).await.is_err() {
                break;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Most alerts and timeline entries an incident carries on the live stream; the rest is read
/// with `GET /api/v1/incidents/{id}`.
pub const STREAMED_TAIL: usize = 20;

/// An incident as the live stream sends it: whole when small, else with only its latest
/// [`STREAMED_TAIL`] alerts and timeline entries, `partial: true` and the full counts, so that a
/// busy incident does not put its whole history on the wire at every change.
fn streamed_incident(i: &tocsin_incidents::Incident) -> serde_json::Value {
    use serde_json::Value;
    let mut v = json!(i);
    if i.alerts.len() <= STREAMED_TAIL && i.timeline.len() <= STREAMED_TAIL {
        return v;
    }
    if let Some(obj) = v.as_object_mut() {
        let tail = |list: &[Value]| list[list.len().saturating_sub(STREAMED_TAIL)..].to_vec();
        for key in ["alerts", "timeline"] {
            if let Some(Value::Array(list)) = obj.get(key) {
                let total = list.len();
                let kept = tail(list);
                obj.insert(key.to_owned(), Value::Array(kept));
                obj.insert(format!("{key}_total"), json!(total));
            }
        }
        obj.insert("partial".to_owned(), Value::Bool(true));
    }
    v
}

/// A stream fed by a task through a small bounded channel; the task ends when the client leaves.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// The Sigma rules in force with their hit counters, and every rule that could not be loaded with
/// its exact reason.
pub async fn list_rules(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let Some(handle) = &state.sigma else {
        return Json(json!({ "loaded": 0, "generation": 0, "rules": [], "rejected": [] }));
    };
    let rules: Vec<_> = handle
        .current()
        .hits()
        .into_iter()
        .map(|h| json!({ "id": h.id, "title": h.title, "correlation": h.correlation, "hits": h.hits }))
        .collect();
    let rejected: Vec<_> = handle
        .rejected()
        .iter()
        .map(|r| {
            json!({
                "path": r.path.display().to_string(),
                "rule": r.rule,
                "kind": r.kind.as_str(),
                "reason": r.reason,
            })
        })
        .collect();
    Json(json!({
        "loaded": rules.len(),
        "generation": handle.generation(),
        "rules": rules,
        "rejected": rejected,
    }))
}

/// Adds one Sigma rule (admin only): the YAML body is validated, 400 with the exact reason if it
/// cannot load; otherwise it runs from the next event on and is written into the first rule
/// folder as `<id>.yml`, so it loads again after a restart.
pub async fn add_rule(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    if principal.role() != Some(Role::Admin) {
        return Err(ApiError::Forbidden);
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "a rule may be at most {} bytes",
                crate::MAX_RULE_BYTES
            ))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    let Some(handle) = state.sigma.clone() else {
        return Err(ApiError::BadRequest(
            "no Sigma rule folder is configured ([sigma] rules)".into(),
        ));
    };
    let yaml = String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::BadRequest(format!("the rule is not UTF-8: {e}")))?;
    let result = tokio::task::spawn_blocking(move || handle.add_rule(&yaml))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match result {
        Ok(added) => {
            tracing::info!(rule = %added.id, path = %added.path.display(), "sigma rule added");
            Ok((
                StatusCode::CREATED,
                Json(json!({
                    "id": added.id,
                    "title": added.title,
                    "path": added.path.display().to_string(),
                    "loaded": added.loaded,
                })),
            )
                .into_response())
        }
        Err(e @ (AddRuleError::Invalid(_) | AddRuleError::NoFolder)) => {
            Err(ApiError::BadRequest(e.to_string()))
        }
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    fn alert(n: u32) -> tocsin_model::Alert {
        serde_json::from_value(json!({
            "id": ulid::Ulid::from_parts(1_777_860_787_000, u128::from(n)).to_string(),
            "tenant": "default", "detector": "rule", "rule": format!("r{n}"),
            "domain": "physical", "severity": 4, "title": format!("alert {n}"), "summary": "",
            "status": "open", "time": "2026-05-04T02:00:00Z",
            "ingested": "2026-05-04T02:00:01Z", "detected": "2026-05-04T02:00:02Z",
            "last_seen": "2026-05-04T02:00:00Z", "count": 1, "dedup_key": format!("k{n}"),
            "evidence": [], "entities": {}
        }))
        .unwrap()
    }

    #[test]
    fn a_busy_incident_streams_its_tail_and_says_so() {
        let now = chrono::Utc::now();
        let mut inc =
            tocsin_incidents::Incident::open(ulid::Ulid::new(), &alert(0), "k".into(), now);
        let small = streamed_incident(&inc);
        assert!(small.get("partial").is_none());
        assert_eq!(small["alerts"].as_array().unwrap().len(), 1);
        for n in 1..30 {
            inc.add_alert(&alert(n), now);
        }
        let v = streamed_incident(&inc);
        assert_eq!(v["partial"], true);
        assert_eq!(v["alerts_total"], 30);
        assert_eq!(v["alerts"].as_array().unwrap().len(), STREAMED_TAIL);
        assert_eq!(
            v["alerts"][STREAMED_TAIL - 1]["title"],
            "alert 29",
            "the latest are kept"
        );
        assert_eq!(v["timeline"].as_array().unwrap().len(), STREAMED_TAIL);
        assert_eq!(v["id"], inc.id.to_string());
    }
}
