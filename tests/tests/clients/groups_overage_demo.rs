//! The demo's `GET /team` on its embedded tenant: `dave`, whose 250 groups do not fit in a token,
//! gets in through the tenant's Microsoft Graph; `bob`, not in the group, does not.
//! Needs `cargo build --examples` first.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use aad_auth_tests::example_processes::{command, spawn};
use aad_auth_tests::site::Browser;

#[actix_web::test]
async fn the_demo_resolves_daves_overage_on_team_and_refuses_bob() {
    for (user, expected) in [("dave@contoso.onmicrosoft.com", 200), ("bob@contoso.onmicrosoft.com", 403)] {
        let mut demo = command("basic");
        demo.env("DEV_TENANT_PORT", "0").env("HOST", "127.0.0.1").env("PORT", "0").env("DEV_TENANT_AUTO_USER", user);
        let process = spawn("basic", demo);
        let line = process.line(Duration::from_secs(60), |line| line.starts_with("aad-auth demo: open "));
        let base = line.trim_start_matches("aad-auth demo: open ").trim().trim_end_matches('/').to_owned();
        let browser = Browser::new();
        let hops = browser.follow(&format!("{base}/oauth/aad/login"), 6).await;
        assert!(hops.last().is_some_and(|hop| hop.status == 200), "{user}: {hops:#?}\n{}", process.stderr());
        let team = browser.send(browser.client.get(format!("{base}/team")).header("accept", "application/json")).await;
        assert_eq!(team.status, expected, "{user}: {team:?}\n{}", process.stderr());
        if expected == 200 {
            assert_eq!(team.json()["group"], aad_auth::testing::OVERAGE_TEAM_GROUP);
        }
    }
}
