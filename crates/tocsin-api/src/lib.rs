//! Tocsin's HTTP API: REST under `/api/v1`, the live stream (Server-Sent Events), `/metrics`,
//! `/healthz` and the dashboard shell.
//!
//! [`router`] builds the whole app from an [`AppState`]; tests drive it with `oneshot` or over a
//! socket. Every route but `/healthz` and the static dashboard shell requires a bearer token,
//! checked in one place ([`auth::require_auth`]).

pub mod auth;
pub mod error;
mod incidents;
pub mod metrics;
mod notify;
mod org;
mod routes;
mod rule_test;
pub mod session;
mod stats;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};
use tocsin_bus::LiveBus;
use tocsin_sources::http::HttpSource;
use tocsin_sources::{Sink, Source};
use tocsin_store::Store;

pub use auth::{Principal, Role, hash_token};
pub use error::ApiError;
pub use metrics::Metrics;
pub use org::reload_sigma;

/// Everything a request handler may reach.
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Every configured source, for `/api/v1/sources`.
    pub sources: Vec<Arc<dyn Source>>,
    /// HTTP sources, whose tokens may post events.
    pub http_sources: Vec<Arc<HttpSource>>,
    /// Where events posted with a user token go.
    pub api_source: Arc<HttpSource>,
    /// The pipeline's input.
    pub sink: Sink,
    pub live: LiveBus,
    pub metrics: Arc<Metrics>,
    /// SHA-256 (hex) of `TOCSIN_BOOTSTRAP_TOKEN`, when set.
    pub bootstrap_token_hash: Option<String>,
    /// False until the pipeline runs; `/healthz` answers 503 until then.
    pub ready: AtomicBool,
    /// The organisation model in force (swapped whole on reload).
    pub org: Arc<tocsin_org::OrgHandle>,
    /// Where people are, from badge events.
    pub presence: tocsin_org::SharedPresence,
    /// Identities events named that the organisation does not know.
    pub unresolved: Arc<tocsin_org::Unresolved>,
    /// The Sigma rules in force (swapped whole on reload or when a rule is added), with the
    /// rules that could not be loaded and their reasons; `None` when no folder is configured.
    pub sigma: Option<Arc<tocsin_sigma::SigmaHandle>>,
    /// The routing tree in force, when `[notify]` is configured (`/api/v1/routes`).
    pub routes: Option<Arc<tocsin_routing::Routes>>,
    /// Failed dashboard logins per username and client address.
    pub login_throttle: session::LoginThrottle,
    /// What the dashboard is told at login (e.g. a tile server for the map).
    pub ui: session::UiConfig,
    /// How session cookies are set.
    pub session: session::SessionConfig,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

/// Largest body any route accepts; HTTP sources apply their own, smaller limit.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Largest Sigma rule `POST /api/v1/rules` accepts.
pub const MAX_RULE_BYTES: usize = 256 * 1024;

/// The whole HTTP app.
pub fn router(state: Arc<AppState>) -> Router {
    let ingest_limit = state
        .http_sources
        .iter()
        .map(|s| s.max_body_bytes())
        .chain(std::iter::once(state.api_source.max_body_bytes()))
        .max()
        .unwrap_or(MAX_BODY_BYTES)
        .min(MAX_BODY_BYTES);
    let api = Router::new()
        .route(
            "/api/v1/events",
            post(routes::post_events)
                .get(routes::list_events)
                // One byte past the largest source limit, so the source itself answers 413 with
                // its own message.
                .layer(DefaultBodyLimit::max(ingest_limit.saturating_add(1))),
        )
        .route("/api/v1/events/{id}", get(routes::get_event))
        .route("/api/v1/deadletters", get(routes::list_dead_letters))
        .route("/api/v1/sources", get(routes::list_sources))
        .route("/api/v1/alerts", get(routes::list_alerts))
        .route("/api/v1/alerts/{id}", get(routes::get_alert))
        .route("/api/v1/alerts/{id}/ack", post(incidents::ack_alert))
        .route("/api/v1/incidents", get(incidents::list_incidents))
        .route("/api/v1/incidents/{id}", get(incidents::get_incident))
        .route("/api/v1/incidents/{id}/ack", post(incidents::ack_incident))
        .route("/api/v1/incidents/{id}/state", post(incidents::set_state))
        .route("/api/v1/incidents/{id}/assign", post(incidents::assign))
        .route("/api/v1/incidents/{id}/notes", post(incidents::add_note))
        .route("/api/v1/incidents/{id}/merge", post(incidents::merge))
        .route("/api/v1/incidents/{id}/split", post(incidents::split))
        .route("/api/v1/incidents/{id}/report", get(incidents::report))
        .route(
            "/api/v1/incidents/{id}/review",
            get(incidents::get_review).put(incidents::put_review),
        )
        .route(
            "/api/v1/incidents/{id}/checklist/{index}",
            post(incidents::set_checklist_item),
        )
        .route("/api/v1/rules/stats", get(incidents::rule_stats))
        .route(
            "/api/v1/rules/test",
            post(rule_test::test_rule).layer(DefaultBodyLimit::max(2 * MAX_RULE_BYTES)),
        )
        .route("/api/v1/stats", get(stats::stats))
        .route("/api/v1/deliveries", get(notify::list_deliveries))
        .route("/api/v1/routes", get(notify::get_routes))
        .route("/api/v1/routes/test", post(notify::test_routes))
        .route(
            "/api/v1/silences",
            get(notify::list_silences).post(notify::create_silence),
        )
        .route("/api/v1/silences/{id}", delete(notify::delete_silence))
        .route("/api/v1/stream", get(routes::stream))
        .route("/api/v1/session", get(session::current))
        .route("/api/v1/logout", post(session::logout))
        .route("/api/v1/openapi.json", get(routes::openapi))
        .route("/api/v1/sites", get(org::list_sites))
        .route("/api/v1/people", get(org::list_people))
        .route("/api/v1/people/{id}/presence", get(org::person_presence))
        .route("/api/v1/assets", get(org::list_assets))
        .route("/api/v1/teams", get(org::list_teams))
        .route("/api/v1/org", get(org::org_status))
        .route("/api/v1/reload", post(org::reload))
        .route(
            "/api/v1/rules",
            get(routes::list_rules)
                .post(routes::add_rule)
                .layer(DefaultBodyLimit::max(MAX_RULE_BYTES)),
        )
        .route("/metrics", get(routes::metrics))
        .route_layer(from_fn_with_state(state.clone(), auth::require_auth));
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/api/v1/login", post(session::login))
        .route("/", get(routes::dashboard))
        .route("/assets/{*path}", get(routes::dashboard_asset))
        .merge(api)
        .fallback(routes::not_found)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    /// The OpenAPI document lists exactly the routes the router serves.
    #[test]
    fn openapi_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("openapi.json")).unwrap();
        let mut paths: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        paths.sort_unstable();
        let source = include_str!("lib.rs");
        let mut routed: Vec<&str> = source
            .split(".route(")
            .skip(1)
            .filter_map(|s| s.trim_start().strip_prefix('"'))
            .filter_map(|s| s.split('"').next())
            // The dashboard's static files are not part of the API.
            .filter(|p| p.starts_with('/') && *p != "/" && !p.starts_with("/assets/"))
            .collect();
        routed.sort_unstable();
        assert_eq!(paths, routed);
    }
}
