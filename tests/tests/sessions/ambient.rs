//! The ambient `AuthenticationState` of an unguarded handler (review F8, F10): the app-wide
//! rules apply to it, an invalid bearer token never falls back to the session cookie, and two
//! `AadAuth` instances on one request each decide for themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aad_auth::testing::Tenant;
use aad_auth::{AadAuth, Policy};
use aad_auth_tests::site::{Browser, Site, login_config};

/// `/` of the test site greets the ambient user, or "guest".
async fn greeting(site: &Site, token: Option<&str>, browser: &Browser) -> String {
    let mut request = browser.client.get(site.url("/"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    browser.send(request).await.body
}

#[actix_web::test]
async fn the_app_wide_rules_apply_to_the_ambient_state() {
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let strict = Site::for_tenant(&tenant, None, |c| c.allow_guests(false).roles(["Admin"])).await;
    let anonymous = Browser::new();
    let admin = tenant.token().member().roles(["Admin"]).sign();
    assert!(greeting(&strict, Some(&admin), &anonymous).await.contains("Hello, "), "control");
    assert!(!greeting(&strict, Some(&admin), &anonymous).await.contains("guest"), "an Admin member is seen");
    let guest = tenant.token().guest().roles(["Admin"]).sign();
    assert!(greeting(&strict, Some(&guest), &anonymous).await.contains("guest"), "AAD_ALLOW_GUESTS=false");
    let without_role = tenant.token().member().roles(Vec::<String>::new()).sign();
    assert!(greeting(&strict, Some(&without_role), &anonymous).await.contains("guest"), "AAD_ROLES=Admin");
}

#[actix_web::test]
async fn an_invalid_bearer_token_never_falls_back_to_the_session() {
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let site = Site::for_tenant(&tenant, None, |c| c).await;
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
    assert!(!hops.is_empty());
    assert!(greeting(&site, None, &browser).await.contains("Alice"), "the session alone is seen");
    let expired = tenant.token().expired().sign();
    assert!(greeting(&site, Some(&expired), &browser).await.contains("guest"), "a failed token is anonymous");
}

#[actix_web::test]
async fn two_instances_on_one_request_each_check_their_own_audience() {
    let tenant = Tenant::builder().dev_defaults().start().await;
    let ours = AadAuth::bearer_only(login_config(tenant.api_config()).build().unwrap()).unwrap();
    // Another API of the same tenant: its own client id and audience.
    let another_api = aad_auth::AadAuthConfig::builder("0b8d5e63-9f6a-4c37-8e2b-1f0d2c3b4a59", tenant.tenant_id())
        .authority_host(tenant.authority_host());
    let other = AadAuth::bearer_only(login_config(another_api).build().unwrap()).unwrap();
    let token = tenant.token().sign();
    let req = actix_web::test::TestRequest::default()
        .insert_header(("authorization", format!("Bearer {token}")))
        .to_http_request();
    assert!(ours.authorize(&req, &Policy::api()).await.is_ok(), "the token is for this instance's API");
    let refused = other.authorize(&req, &Policy::api()).await;
    assert!(refused.is_err(), "the other instance checks its own audience: {refused:?}");
    assert!(!other.authenticate(&req).await.is_authenticated());
    assert!(ours.authenticate(&req).await.is_authenticated());
}
