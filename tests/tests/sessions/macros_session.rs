//! The guard macros with a real browser session (after a login through the local tenant):
//! which guards accept a session, and that an explicit bad bearer never falls back to it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aad_auth::testing::Tenant;
use aad_auth::{AuthenticationState, api_auth_required, auth_required};
use aad_auth_tests::site::{Browser, Site, login_config};
use actix_web::{HttpResponse, Responder, get, web};
use serde_json::json;

#[get("/bearer-only")]
#[api_auth_required]
async fn bearer_only(auth_state: AuthenticationState) -> impl Responder {
    HttpResponse::Ok().json(json!({ "source": format!("{:?}", auth_state.source()) }))
}

#[get("/with-session")]
#[api_auth_required(allow_session)]
async fn with_session(auth_state: AuthenticationState) -> impl Responder {
    HttpResponse::Ok().json(json!({ "source": format!("{:?}", auth_state.source()) }))
}

#[get("/admins")]
#[api_auth_required(allow_session, roles("Admin"))]
async fn admins() -> impl Responder {
    HttpResponse::Ok().finish()
}

#[get("/page")]
#[auth_required]
async fn page(auth_state: AuthenticationState) -> impl Responder {
    HttpResponse::Ok().body(format!("hello {}", auth_state.user().map(|u| u.display_name()).unwrap_or("?")))
}

#[get("/admin-page")]
#[auth_required(roles("Admin"))]
async fn admin_page() -> impl Responder {
    HttpResponse::Ok().finish()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(bearer_only).service(with_session).service(admins).service(page).service(admin_page);
}

async fn signed_in(user: &str) -> (Tenant, Site, Browser) {
    let tenant = Tenant::builder().dev_defaults().auto_user(user).start().await;
    let config = login_config(tenant.api_config()).build().unwrap();
    let site = Site::start_with(config, None, routes).await;
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login?redirect=%2Fwith-session"), 6).await;
    assert_eq!(hops.last().unwrap().status, 200, "{hops:#?}");
    (tenant, site, browser)
}

#[actix_web::test]
async fn which_guards_take_a_session() {
    let (tenant, site, browser) = signed_in("first").await;
    let bearer_route = browser.get(&site.url("/bearer-only")).await;
    assert_eq!(bearer_route.status, 401, "#[api_auth_required] ignores the session cookie");
    let session_route = browser.get(&site.url("/with-session")).await;
    assert_eq!(session_route.status, 200);
    assert_eq!(session_route.json()["source"], "Some(Session)");
    assert_eq!(browser.get(&site.url("/admins")).await.status, 200, "alice holds Admin");
    let page_reply = browser.get(&site.url("/page")).await;
    assert_eq!((page_reply.status, page_reply.body.as_str()), (200, "hello Alice Example"));
    assert_eq!(browser.get(&site.url("/admin-page")).await.status, 200);
    // An explicit, invalid bearer token is refused even though a valid session is present.
    let expired = tenant.token().member().expired().sign();
    let mixed = browser.send(browser.client.get(site.url("/with-session")).bearer_auth(&expired)).await;
    assert_eq!(mixed.status, 401, "no silent fallback from a bad bearer to the session");
    let good = tenant.token().member().sign();
    let bearer = browser.send(browser.client.get(site.url("/with-session")).bearer_auth(&good)).await;
    assert_eq!(bearer.json()["source"], "Some(Bearer)", "a presented bearer token wins over the session");
}

#[actix_web::test]
async fn session_users_without_the_role_get_403() {
    let (_tenant, site, browser) = signed_in("bob@contoso.onmicrosoft.com").await;
    assert_eq!(browser.get(&site.url("/with-session")).await.status, 200);
    assert_eq!(browser.get(&site.url("/admins")).await.status, 403);
    assert_eq!(browser.get(&site.url("/admin-page")).await.status, 403);
    let anonymous = Browser::new().get(&site.url("/admin-page?x=1")).await;
    assert_eq!(
        (anonymous.status, anonymous.location().as_deref()),
        (303, Some("/login?redirect=%2Fadmin-page%3Fx%3D1"))
    );
}
