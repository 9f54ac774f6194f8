//! The embedded dashboard over a real socket: the page and its hashed assets are served without
//! a login, with a strict Content-Security-Policy and the right caching; unknown assets are 404;
//! the API behind them still needs a login.

use reqwest::StatusCode;
use tocsin_testkit::spawn_app;

#[tokio::test]
async fn the_dashboard_shell_is_public_static_and_locked_down() {
    let app = spawn_app("version = 1\n").await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    let html = page.text().await.unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .filter(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("no hashed script in {html}"));

    let js = app.client.get(app.url(script)).send().await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(
        header(&js, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header(&js, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(!js.bytes().await.unwrap().is_empty());

    let missing = app
        .client
        .get(app.url("/assets/nothing-here.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let escape = app
        .client
        .get(app.url("/assets/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(escape.status(), StatusCode::NOT_FOUND);

    let api = app
        .client
        .get(app.url("/api/v1/alerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
}
