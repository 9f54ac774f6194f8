//! Dashboard logins: username and password (argon2id), a session cookie (HttpOnly,
//! SameSite=Strict), a CSRF token that every change made with the cookie must echo, and a
//! throttle on failed logins per username and per client address.
//!
//! The cookie holds a random secret; the store keeps only its SHA-256, so a copy of the database
//! opens no session. Bearer tokens (scripts, sources) need no CSRF token: a browser never sends
//! them on its own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use axum::Json;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use cookie::{Cookie, SameSite};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tocsin_store::{Session, User};

use crate::AppState;
use crate::auth::{Principal, Role, hash_token};
use crate::error::{ApiError, ApiResult};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tocsin_session";

/// The header that carries the CSRF token on changes made with the session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long a login lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Longest username and password a login accepts.
pub const MAX_USERNAME: usize = 128;
/// Longest password a login accepts (argon2 takes any length; the limit keeps requests cheap).
pub const MAX_PASSWORD: usize = 1024;
/// Largest login request body.
const MAX_LOGIN_BODY: usize = 4096;

/// Failed logins allowed per username or client address within [`THROTTLE_WINDOW`] before
/// further attempts are refused.
pub const THROTTLE_FAILURES: u32 = 5;
/// The window failed logins are counted over.
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The first lock-out; each further failure doubles it, up to [`THROTTLE_WINDOW`].
const THROTTLE_BASE: Duration = Duration::from_secs(30);
/// Most keys the throttle remembers; beyond it the oldest quiet ones are forgotten.
const THROTTLE_KEYS: usize = 100_000;

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC string `hash`. A malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random secret, hex encoded (256 bits).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Counts failed logins per key (a username or a client address) and refuses further attempts
/// for a while once there are too many.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    keys: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

impl LoginThrottle {
    /// Seconds to wait when `key` is locked out at `now`.
    pub fn locked(&self, key: &str, now: Instant) -> Option<u64> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let until = keys.get(key)?.locked_until?;
        (until > now).then(|| until.duration_since(now).as_secs().max(1))
    }

    /// Records a failed login for `key`.
    pub fn failed(&self, key: &str, now: Instant) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= THROTTLE_KEYS && !keys.contains_key(key) {
            keys.retain(|_, f| now.duration_since(f.first) < THROTTLE_WINDOW);
            if keys.len() >= THROTTLE_KEYS {
                // Under a flood of distinct keys, forget them all rather than grow without
                // bound; the per-address key still slows each sender.
                keys.clear();
            }
        }
        let f = keys.entry(key.to_owned()).or_insert(Failures {
            count: 0,
            first: now,
            locked_until: None,
        });
        if now.duration_since(f.first) >= THROTTLE_WINDOW {
            *f = Failures {
                count: 0,
                first: now,
                locked_until: None,
            };
        }
        f.count += 1;
        if f.count >= THROTTLE_FAILURES {
            let doublings = (f.count - THROTTLE_FAILURES).min(10);
            let lock = THROTTLE_BASE
                .saturating_mul(1 << doublings)
                .min(THROTTLE_WINDOW);
            f.locked_until = Some(now + lock);
        }
    }

    /// Forgets the failures of `key` (after a successful login).
    pub fn succeeded(&self, key: &str) {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// Settings the dashboard reads at login.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UiConfig {
    /// A tile server URL template (`https://…/{z}/{x}/{y}.png`) for connected sites; without
    /// it the map draws its built-in world outline only.
    pub tile_url: Option<String>,
}

/// Cookie settings.
#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    /// Mark the cookie `Secure` (set when Tocsin is served over HTTPS, directly or behind a
    /// proxy).
    pub secure_cookie: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn session_body(user: &User, csrf: Option<&str>, ui: &UiConfig) -> serde_json::Value {
    json!({
        "user": { "name": user.username, "role": user.role, "tenant": user.tenant },
        "csrf_token": csrf,
        "ui": ui,
    })
}

/// A PHC string that no password matches, verified against when the username is unknown so
/// that the answer takes as long as for a known one.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_secret()).unwrap_or_default())
}

/// `POST /api/v1/login`: checks the password and opens a session.
pub async fn login(State(state): State<Arc<AppState>>, req: Request) -> ApiResult<Response> {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| format!("addr:{}", c.0.ip()));
    let bytes = axum::body::to_bytes(req.into_body(), MAX_LOGIN_BODY)
        .await
        .map_err(|_| {
            ApiError::PayloadTooLarge(format!("a login is at most {MAX_LOGIN_BODY} bytes"))
        })?;
    let body: LoginBody = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("login body: {e}")))?;
    if body.username.is_empty() || body.username.len() > MAX_USERNAME {
        return Err(ApiError::BadRequest(format!(
            "username must be 1 to {MAX_USERNAME} bytes"
        )));
    }
    if body.password.len() > MAX_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "password must be at most {MAX_PASSWORD} bytes"
        )));
    }
    let user_key = format!("user:{}", body.username);
    let now = Instant::now();
    for key in std::iter::once(&user_key).chain(client.as_ref()) {
        if let Some(wait) = state.login_throttle.locked(key, now) {
            return Err(ApiError::Throttled(wait));
        }
    }
    let user = state.store.find_user(&body.username).await?;
    let hash = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))?;
    let user = match user {
        Some(u) if ok && Role::parse(&u.role).is_some() => u,
        _ => {
            for key in std::iter::once(&user_key).chain(client.as_ref()) {
                state.login_throttle.failed(key, now);
            }
            tracing::info!(username = %body.username, "failed login");
            return Err(ApiError::BadCredentials);
        }
    };
    state.login_throttle.succeeded(&user_key);

    let secret = random_secret();
    let created = Utc::now();
    let session = Session {
        id_hash: hash_token(&secret),
        username: user.username.clone(),
        csrf_token: random_secret(),
        created,
        expires: created + chrono::Duration::from_std(SESSION_TTL).unwrap_or_default(),
    };
    state.store.insert_session(&session).await?;
    tracing::info!(username = %user.username, "login");
    let cookie = session_cookie(&secret, SESSION_TTL, state.session.secure_cookie);
    Ok(with_cookie(
        Json(session_body(&user, Some(&session.csrf_token), &state.ui)).into_response(),
        &cookie,
    ))
}

/// `GET /api/v1/session`: who is logged in, with the CSRF token to send on changes.
pub async fn current(
    State(state): State<Arc<AppState>>,
    axum::Extension(principal): axum::Extension<Principal>,
    axum::Extension(session): axum::Extension<Option<SessionAuth>>,
) -> ApiResult<Json<serde_json::Value>> {
    let Principal::User { name, role, tenant } = &principal else {
        return Err(ApiError::Forbidden);
    };
    let user = User {
        username: name.clone(),
        password_hash: String::new(),
        role: role.as_str().to_owned(),
        tenant: tenant.clone(),
        created: Utc::now(),
    };
    let csrf = session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(Json(session_body(&user, csrf, &state.ui)))
}

/// `POST /api/v1/logout`: ends the session and clears the cookie.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    axum::Extension(session): axum::Extension<Option<SessionAuth>>,
) -> ApiResult<Response> {
    if let Some(s) = session {
        state.store.delete_session(&s.id_hash).await?;
    }
    let cookie = session_cookie("", Duration::ZERO, state.session.secure_cookie);
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), &cookie))
}

fn session_cookie(value: &str, max_age: Duration, secure: bool) -> String {
    Cookie::build((SESSION_COOKIE, value.to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
        .to_string()
}

fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The session a request was authenticated with (inserted by the auth middleware; `None` for
/// bearer tokens).
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub id_hash: String,
    pub csrf_token: String,
}

/// The session cookie's secret, when the request carries one.
pub fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Resolves a session cookie to its principal. Changes (anything but GET and HEAD) must carry
/// the session's CSRF token.
pub async fn principal_of_session(
    state: &AppState,
    secret: &str,
    headers: &HeaderMap,
    changes: bool,
) -> Result<(Principal, SessionAuth), ApiError> {
    let id_hash = hash_token(secret);
    let session = state
        .store
        .find_session(&id_hash, Utc::now())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let user = state
        .store
        .find_user(&session.username)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if changes {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !crate::auth::constant_time_eq(sent.as_bytes(), session.csrf_token.as_bytes()) {
            return Err(ApiError::Csrf);
        }
    }
    let role = Role::parse(&user.role).ok_or(ApiError::Forbidden)?;
    Ok((
        Principal::User {
            name: user.username,
            role,
            tenant: user.tenant,
        },
        SessionAuth {
            id_hash,
            csrf_token: session.csrf_token,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn throttle_locks_after_repeated_failures_and_forgets_on_success() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..THROTTLE_FAILURES - 1 {
            t.failed("user:ann", now);
        }
        assert_eq!(t.locked("user:ann", now), None);
        t.failed("user:ann", now);
        let wait = t.locked("user:ann", now).unwrap();
        assert_eq!(wait, THROTTLE_BASE.as_secs());
        // Each further failure doubles the lock.
        t.failed("user:ann", now);
        assert_eq!(t.locked("user:ann", now), Some(THROTTLE_BASE.as_secs() * 2));
        assert_eq!(t.locked("user:ann", now + THROTTLE_BASE * 2), None);
        assert_eq!(t.locked("user:bob", now), None);
        t.succeeded("user:ann");
        assert_eq!(t.locked("user:ann", now), None);
    }

    #[test]
    fn failures_outside_the_window_start_afresh() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..THROTTLE_FAILURES - 1 {
            t.failed("k", now);
        }
        t.failed("k", now + THROTTLE_WINDOW);
        assert_eq!(t.locked("k", now + THROTTLE_WINDOW), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_and_same_site_strict() {
        let c = session_cookie("abc", SESSION_TTL, false);
        assert!(c.starts_with("tocsin_session=abc"), "{c}");
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict"),
            "{c}"
        );
        assert!(c.contains("Path=/") && c.contains("Max-Age=43200"), "{c}");
        assert!(!c.contains("Secure"), "{c}");
        assert!(session_cookie("abc", SESSION_TTL, true).contains("Secure"));
    }

    #[test]
    fn the_secret_is_read_from_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; tocsin_session=s3cr3t; x=1"),
        );
        assert_eq!(session_secret(&h).as_deref(), Some("s3cr3t"));
        assert_eq!(session_secret(&HeaderMap::new()), None);
    }
}
