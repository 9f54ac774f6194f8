//! Authentication, in one place: every `/api/v1` request and `/metrics` pass through
//! [`require_auth`]. Tokens are compared by their SHA-256; plain tokens are never stored or logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use tocsin_sources::Source;
use tocsin_sources::http::HttpSource;

use crate::session::{SessionAuth, principal_of_session, session_secret};
use crate::{AppState, error::ApiError};

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An API token (or the bootstrap token) with a role, bound to one tenant.
    User {
        name: String,
        role: Role,
        tenant: String,
    },
    /// An HTTP source's own token: may only post events to that source.
    Source(Arc<HttpSource>),
}

/// Roles, from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    PhysicalAnalyst,
    CyberAnalyst,
    Lead,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "physical_analyst" => Some(Role::PhysicalAnalyst),
            "cyber_analyst" => Some(Role::CyberAnalyst),
            "lead" => Some(Role::Lead),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::PhysicalAnalyst => "physical_analyst",
            Role::CyberAnalyst => "cyber_analyst",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }
}

impl Principal {
    pub fn tenant(&self) -> &str {
        match self {
            Principal::User { tenant, .. } => tenant,
            Principal::Source(s) => &s.info().tenant,
        }
    }

    /// The role, for user tokens; sources have none.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::User { role, .. } => Some(*role),
            Principal::Source(_) => None,
        }
    }
}

/// Hex SHA-256 of a token, as tokens are stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty() && t.len() <= 512)
}

/// Resolves the caller, then checks what it may do. A bearer token is tried first, then the
/// dashboard's session cookie (whose changes must carry the CSRF token, see [`crate::session`]).
/// Source tokens may only `POST /api/v1/events`.
pub async fn require_auth(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(token) = bearer(&req) else {
        let secret = session_secret(req.headers()).ok_or(ApiError::Unauthorized)?;
        let changes = !matches!(*req.method(), Method::GET | Method::HEAD);
        let (principal, session) =
            principal_of_session(&state, &secret, req.headers(), changes).await?;
        req.extensions_mut().insert(principal);
        req.extensions_mut().insert(Some(session));
        return Ok(next.run(req).await);
    };
    let hash = hash_token(token);
    let principal = if state
        .bootstrap_token_hash
        .as_deref()
        .is_some_and(|h| constant_time_eq(h.as_bytes(), hash.as_bytes()))
    {
        Principal::User {
            name: "bootstrap".into(),
            role: Role::Admin,
            tenant: tocsin_model::DEFAULT_TENANT.into(),
        }
    } else if let Some(t) = state.store.find_token(&hash).await? {
        Principal::User {
            role: Role::parse(&t.role).ok_or(ApiError::Forbidden)?,
            name: t.name,
            tenant: t.tenant,
        }
    } else if let Some(src) = state.http_sources.iter().find(|s| s.verify_token(token)) {
        Principal::Source(src.clone())
    } else {
        return Err(ApiError::Unauthorized);
    };
    if let Principal::Source(_) = principal {
        let posting_events = req.method() == Method::POST && req.uri().path() == "/api/v1/events";
        if !posting_events {
            return Err(ApiError::Forbidden);
        }
    }
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(None::<SessionAuth>);
    Ok(next.run(req).await)
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_hex_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(b"ab", b"ab"));
        assert!(!constant_time_eq(b"ab", b"ac"));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
