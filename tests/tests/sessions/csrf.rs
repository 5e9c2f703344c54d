//! Cross-site requests cannot ride the session cookie (review F4, SPEC "CSRF"): each way a
//! browser marks a cross-site state-changing request is refused with 403
//! `cross_origin_request` before the handler runs, on every unsafe method; the app's own
//! requests, requests with neither header, and bearer requests pass; on an unguarded handler the
//! cross-site request is anonymous.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};

use aad_auth::testing::Tenant;
use aad_auth::{AuthenticationState, Policy, RequireAuth};
use aad_auth_tests::site::{Browser, Site, login_config};
use actix_web::{HttpResponse, web};
use reqwest::Method;

/// How many times the guarded handler ran.
static RAN: AtomicUsize = AtomicUsize::new(0);

async fn change(state: AuthenticationState) -> HttpResponse {
    RAN.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().json(state.is_authenticated())
}

async fn ambient(state: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().json(state.is_authenticated())
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/notes").wrap(RequireAuth::new(Policy::api().allow_session())).default_service(web::to(change)),
    )
    .route("/ambient", web::post().to(ambient));
}

#[actix_web::test]
async fn cross_site_requests_with_the_cookie_are_refused_and_the_handler_does_not_run() {
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let config = login_config(tenant.api_config()).trusted_origins(["https://portal.example"]).build().unwrap();
    let site = Site::start_with(config, None, routes).await;
    // The public origin comes from the request here: the site's own http://127.0.0.1:port.
    let app = site.base.clone();
    let app = app.as_str();
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
    assert!(!hops.is_empty());
    let token = browser.get(&site.url("/me/token")).await.json()["access_token"].as_str().unwrap().to_owned();

    let send = |method: &Method, fetch_site: Option<&str>, origin: Option<&str>, bearer: bool| {
        let mut request =
            browser.client.request(method.clone(), site.url("/notes")).header("accept", "application/json");
        if let Some(value) = fetch_site {
            request = request.header("sec-fetch-site", value);
        }
        if let Some(value) = origin {
            request = request.header("origin", value);
        }
        if bearer {
            request = request.bearer_auth(&token);
        }
        browser.send(request)
    };
    let refused: [(Option<&str>, Option<&str>, &str); 4] = [
        (None, Some("https://evil.example"), "no Sec-Fetch-Site and a foreign Origin"),
        (Some("same-origin"), Some("null"), "Origin: null"),
        (Some("cross-site"), Some("https://evil.example"), "Sec-Fetch-Site: cross-site"),
        (Some("same-site"), Some("https://blog.example"), "same-site from a sibling subdomain (another origin)"),
    ];
    let passed: [(Option<&str>, Option<&str>, &str); 4] = [
        (None, None, "neither header (not a browser's cross-site request)"),
        (Some("same-origin"), Some(app), "the app's own page"),
        (None, Some(app), "the app's own origin without Sec-Fetch-Site"),
        (Some("cross-site"), Some("https://portal.example"), "an origin in AUTH_TRUSTED_ORIGINS"),
    ];
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        for (fetch_site, origin, case) in refused {
            let before = RAN.load(Ordering::SeqCst);
            let page = send(&method, fetch_site, origin, false).await;
            assert_eq!(page.status, 403, "{method} {case}: {page:?}");
            assert_eq!(page.json()["error"], "cross_origin_request", "{method} {case}");
            assert_eq!(RAN.load(Ordering::SeqCst), before, "{method} {case}: the handler ran");
            let bearer = send(&method, fetch_site, origin, true).await;
            assert_eq!(bearer.status, 200, "{method} {case} with a bearer token is not a cookie request");
        }
        for (fetch_site, origin, case) in passed {
            let page = send(&method, fetch_site, origin, false).await;
            assert_eq!((page.status, page.body.as_str()), (200, "true"), "{method} {case}: {page:?}");
        }
    }

    // An unguarded handler: the cross-site request's cookie does not count.
    let post = |origin: &str| browser.client.post(site.url("/ambient")).header("origin", origin.to_owned());
    assert_eq!(browser.send(post("https://evil.example")).await.body, "false", "cross-site: anonymous");
    assert_eq!(browser.send(post(app)).await.body, "true", "same origin: the session");
}
