//! Browser sessions authorize like bearer tokens (review F3): the same guards, run once with the
//! user's bearer token and once with their browser session, decide the same way, because the
//! session carries the scopes, roles and groups of the access token the login obtained.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::OnceLock;

use aad_auth::testing::Tenant;
use aad_auth::{AuthenticationState, Policy, RequireAuth};
use aad_auth_tests::site::{Browser, Site, login_config};
use actix_web::{HttpResponse, web};

/// The group the table asks for: Alice's first group (set before the sites start).
static GROUP: OnceLock<String> = OnceLock::new();

async fn ok(state: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().json(state.user().map(|user| user.scopes.clone()))
}

/// One route per row; every policy accepts sessions.
fn routes(cfg: &mut web::ServiceConfig) {
    let group = GROUP.get().cloned().unwrap_or_default();
    let policies = [
        ("/scope", Policy::api().allow_session().scopes(["user_impersonation"])),
        ("/other-scope", Policy::api().allow_session().scopes(["Notes.Write"])),
        ("/admin", Policy::api().allow_session().roles(["Admin"])),
        ("/group", Policy::api().allow_session().groups([group])),
        ("/unknown-group", Policy::api().allow_session().groups(["00000000-0000-0000-0000-000000000000"])),
    ];
    for (path, policy) in policies {
        cfg.service(web::scope(path).wrap(RequireAuth::new(policy)).route("", web::get().to(ok)));
    }
}

/// (path, Alice's answer, Bob's answer): Alice is an Admin in two groups, Bob holds no role and
/// only the second group.
const TABLE: [(&str, u16, u16); 5] = [
    ("/scope", 200, 200),
    ("/other-scope", 403, 403),
    ("/admin", 200, 403),
    ("/group", 200, 403),
    ("/unknown-group", 403, 403),
];

async fn signed_in(tenant: &Tenant) -> (Site, Browser, String) {
    let config = login_config(tenant.api_config()).build().unwrap();
    let site = Site::start_with(config, None, routes).await;
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
    assert!(hops.last().is_some_and(|hop| hop.status == 200 || hop.status == 404), "{hops:#?}");
    let token = browser.get(&site.url("/me/token")).await;
    assert_eq!(token.status, 200, "{token:?}");
    let access_token = token.json()["access_token"].as_str().unwrap().to_owned();
    (site, browser, access_token)
}

#[actix_web::test]
async fn a_session_passes_and_fails_the_guards_exactly_as_the_same_users_bearer_token() {
    let alice = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let alice_user = alice.users()[0].clone();
    GROUP.set(alice_user.groups[0].clone()).unwrap();
    let bob_name = alice.users()[1].username.clone();
    let bob = Tenant::builder().dev_defaults().auto_user(bob_name).start().await;

    for (who, tenant, column) in [("Alice", &alice, 0), ("Bob", &bob, 1)] {
        let (site, browser, access_token) = signed_in(tenant).await;
        for (path, alice_expects, bob_expects) in TABLE {
            let expected = if column == 0 { alice_expects } else { bob_expects };
            let bearer = reqwest::Client::new().get(site.url(path)).bearer_auth(&access_token).send().await.unwrap();
            let session = browser.send(browser.client.get(site.url(path)).header("accept", "application/json")).await;
            assert_eq!(bearer.status().as_u16(), expected, "{who}'s bearer token on {path}");
            assert_eq!(session.status, expected, "{who}'s session on {path}: {session:?}");
            if expected == 200 {
                assert_eq!(session.json(), serde_json::json!(["user_impersonation"]), "{who}: the session's scopes");
            }
        }
        // The user page shows what the session carries: the scope, and Alice's role.
        let me = browser.get(&site.url("/me")).await;
        assert_eq!(me.status, 200, "{me:?}");
        assert!(me.body.contains(r#"<li class="chip">user_impersonation</li>"#), "{who}: /me shows the scope");
        assert_eq!(me.body.contains(r#"<li class="chip">Admin</li>"#), column == 0, "{who}: /me shows the roles");
    }
}
