//! Dashboard logins over a real socket: username and password open a session cookie (HttpOnly,
//! SameSite=Strict); reads work with the cookie alone, changes need the session's CSRF token;
//! logout ends the session; repeated failures are throttled even for the right password; a
//! viewer may read but not change; the live stream accepts the cookie.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin_store::User;
use tocsin_testkit::{TestApp, spawn_app};

const CONFIG: &str = "version = 1\n";

async fn with_user(name: &str, role: &str, password: &str) -> TestApp {
    let app = spawn_app(CONFIG).await;
    add_user(&app, name, role, password).await;
    app
}

async fn add_user(app: &TestApp, name: &str, role: &str, password: &str) {
    app.server
        .state
        .store
        .upsert_user(&User {
            username: name.into(),
            password_hash: tocsin_api::session::hash_password(password).unwrap(),
            role: role.into(),
            tenant: "default".into(),
            created: chrono::Utc::now(),
        })
        .await
        .unwrap();
}

async fn login(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/login"))
        .json(&json!({ "username": name, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The `name=value` part of the session cookie a response set.
fn session_cookie(resp: &reqwest::Response) -> String {
    let set = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tocsin_session="))
        .expect("a session cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

async fn logged_in(app: &TestApp, name: &str, password: &str) -> (String, String) {
    let resp = login(app, name, password).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = session_cookie(&resp);
    let body: Value = resp.json().await.unwrap();
    (cookie, body["csrf_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_session_reads_with_the_cookie_and_changes_only_with_its_csrf_token() {
    let app = with_user("ana", "lead", "correct horse battery").await;
    let resp = login(&app, "ana", "wrong").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("set-cookie").is_none());
    let resp = login(&app, "nobody", "correct horse battery").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let resp = login(&app, "ana", "correct horse battery").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = session_cookie(&resp);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["name"], "ana");
    assert_eq!(body["user"]["role"], "lead");
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);
    assert!(body["ui"].is_object());

    let get = |path: &str| {
        app.client
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
    };
    let session: Value = get("/api/v1/session").await.unwrap().json().await.unwrap();
    assert_eq!(session["user"]["name"], "ana");
    assert_eq!(session["csrf_token"], csrf.as_str());
    assert_eq!(
        get("/api/v1/alerts").await.unwrap().status(),
        StatusCode::OK
    );

    // A change with the cookie but without (or with a wrong) CSRF token is refused before it
    // reaches the handler; with the token it reaches it (and the unknown incident is 404).
    let note = |csrf: Option<&str>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/incidents/01J0000000000000000000000A/notes"))
            .header("cookie", &cookie)
            .json(&json!({ "text": "guard on the way" }));
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    let resp = note(None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "csrf");
    assert_eq!(
        note(Some("0".repeat(64).as_str())).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        note(Some(&csrf)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // The live stream takes the cookie (EventSource cannot set headers).
    let stream = get("/api/v1/stream").await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    drop(stream);

    let out = app
        .client
        .post(app.url("/api/v1/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let cleared = out.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        get("/api/v1/session").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_username_even_for_the_right_password() {
    let app = with_user("ben", "viewer", "correct horse battery").await;
    for _ in 0..tocsin_api::session::THROTTLE_FAILURES {
        assert_eq!(
            login(&app, "ben", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let resp = login(&app, "ben", "correct horse battery").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "throttled");
}

#[tokio::test]
async fn a_viewer_session_reads_but_may_not_change() {
    let app = with_user("cy", "viewer", "correct horse battery").await;
    let (cookie, csrf) = logged_in(&app, "cy", "correct horse battery").await;
    let resp = app
        .client
        .get(app.url("/api/v1/incidents"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .client
        .post(app.url("/api/v1/incidents/01J0000000000000000000000A/notes"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "text": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn login_input_is_bounded() {
    let app = spawn_app(CONFIG).await;
    let long = "a".repeat(200);
    assert_eq!(
        login(&app, &long, "x").await.status(),
        StatusCode::BAD_REQUEST
    );
    let resp = app
        .client
        .post(app.url("/api/v1/login"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = app
        .client
        .post(app.url("/api/v1/login"))
        .body(vec![b' '; 10_000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
