//! The demo's `/me/graph` and `GET /api/me/graph` on its embedded tenant: the caller's Microsoft
//! Graph profile, through `DownstreamTokens`. Alice has not consented to Graph's `User.Read`:
//! her bearer call is 401 `consent_required`, her browser visit goes through the login (which
//! records the consent) and shows the profile, and then her bearer call gets it by
//! on-behalf-of. Needs `cargo build --examples` first.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use aad_auth_tests::example_processes::{command, spawn};
use aad_auth_tests::site::Browser;
use serde_json::json;

#[actix_web::test]
async fn the_demo_shows_the_graph_profile_after_incremental_consent_to_a_page_and_then_to_an_api() {
    let mut demo = command("basic");
    demo.env("DEV_TENANT_PORT", "0").env("HOST", "127.0.0.1").env("PORT", "0").env("DEV_TENANT_AUTO_USER", "first");
    let process = spawn("basic", demo);
    let line = process.line(Duration::from_secs(60), |line| line.starts_with("aad-auth demo: open "));
    let base = line.trim_start_matches("aad-auth demo: open ").trim().trim_end_matches('/').to_owned();
    let browser = Browser::new();
    let hops = browser.follow(&format!("{base}/oauth/aad/login"), 6).await;
    assert!(hops.last().is_some_and(|hop| hop.status == 200), "{hops:#?}\n{}", process.stderr());
    let token = browser.get(&format!("{base}/me/token")).await.json()["access_token"].as_str().unwrap().to_owned();
    let api = reqwest::Client::new();
    let call = || api.get(format!("{base}/api/me/graph")).bearer_auth(&token).send();

    let refused = call().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"consent_required\"") && challenge.contains("/User.Read\""), "{challenge}");

    let hops = browser.follow(&format!("{base}/me/graph"), 8).await;
    let page = hops.last().unwrap();
    assert_eq!(page.status, 200, "{hops:#?}\n{}", process.stderr());
    assert!(page.url.ends_with("/me/graph"), "{}", page.url);
    assert!(page.body.contains("<p id=\"displayName\">Alice Example</p>"), "{}", page.body);

    let profile = call().await.unwrap();
    assert_eq!(profile.status().as_u16(), 200);
    assert_eq!(
        profile.json::<serde_json::Value>().await.unwrap(),
        json!({ "displayName": "Alice Example", "userPrincipalName": "alice@contoso.onmicrosoft.com" })
    );
}
