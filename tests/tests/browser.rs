//! The demo in a real headless Chromium (Debian `chromium`, driven by `playwright-core` from
//! `tests/e2e`), as a newcomer uses it: `basic` with no `AAD_*` variables, on its embedded local
//! tenant.
//!
//! * `login-flow.mjs`: protected page, login page, the tenant's account picker, back
//!   signed in, the user page and its token (accepted by the API as a bearer token), sign-out;
//!   with `SESSION_SAME_SITE` `lax` and `strict`, the app on `localhost` so that the
//!   tenant (on 127.0.0.1) is another site, as Entra ID is.
//! * `cross-site-attack.mjs`: signed in, attack pages on a same-site sibling origin and
//!   on another site try a form POST and `fetch` with credentials against `POST /notes`; all fail,
//!   while the same note from the demo's own page is added.
//! * `swagger-pkce.mjs`: Swagger UI's Authorize with PKCE against the tenant (an
//!   auto-approving user), then "Try it out" on `/hello`: 200 `{"hello":"world"}`.
//! * `incremental-consent.mjs`: `/me/graph` signs in, then goes through the login again asking
//!   the tenant for Graph's `User.Read` (the user has not consented yet), and shows the user's
//!   Graph profile; a reload is answered from the kept token.
//!
//! `./scripts/install-test-deps.sh` installs Chromium and playwright-core; without them these
//! tests fail and say so.

#![allow(clippy::expect_used, reason = "a failed set-up step is a failed test")]

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use aad_auth_tests::example_processes::{Finished, Process, command, e2e_dir, run, spawn};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The demo on its embedded tenant (free ports for both), with `env` added, and its base URL.
fn start_demo(auto_user: Option<&str>, env: &[(&str, &str)]) -> (Process, String) {
    let mut demo = command("basic");
    demo.env("DEV_TENANT_PORT", "0").env("HOST", "127.0.0.1").env("PORT", "0");
    if let Some(user) = auto_user {
        demo.env("DEV_TENANT_AUTO_USER", user);
    }
    demo.envs(env.iter().copied());
    let process = spawn("basic", demo);
    let line = process.line(Duration::from_secs(60), |line| line.starts_with("aad-auth demo: open "));
    let base_url = line.trim_start_matches("aad-auth demo: open ").trim().trim_end_matches('/').to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{line}");
    (process, base_url)
}

/// Runs a browser scenario against `base_url` with `env` added; returns its JSON result line.
fn scenario(script: &str, base_url: &str, demo: &Process, env: &[(&str, &str)]) -> Value {
    let mut node = Command::new("node");
    node.arg(script)
        .current_dir(e2e_dir())
        .env("BASE_URL", base_url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .envs(env.iter().copied());
    let finished: Finished = run(script, node, SCRIPT_TIMEOUT);
    assert!(finished.status.success(), "{script} failed\n{}\n--- the demo's log\n{}", finished.output(), demo.stderr());
    let line = finished.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{script} printed no JSON result ({e})\n{}", finished.output()))
}

/// `SESSION_SAME_SITE`, the session cookie's `SameSite` as the browser reports it, and how the
/// callback hands over to the page first asked for.
const SAME_SITE_LOGINS: [(&str, &str, u16); 2] = [
    // A redirect: a Lax cookie is sent on a top-level navigation from another site.
    ("lax", "Lax", 303),
    // A signed-in page whose refresh is a navigation from the app's own page: a Strict cookie is
    // not sent on a redirect chain that the tenant's page started.
    ("strict", "Strict", 200),
];

#[test]
fn a_browser_signs_in_on_the_tenants_page_uses_the_token_and_signs_out() {
    for (same_site, cookie, callback_status) in SAME_SITE_LOGINS {
        let (demo, base_url) = start_demo(None, &[("SESSION_SAME_SITE", same_site)]);
        // On `localhost` the app is another site than the tenant on 127.0.0.1 (as an app and Entra
        // ID are): only then would a Strict cookie be held back on the way back from the tenant.
        let base_url = base_url.replacen("http://127.0.0.1:", "http://localhost:", 1);
        let result = scenario("login-flow.mjs", &base_url, &demo, &[("SAME_SITE", cookie)]);
        assert_eq!(result["ok"], true, "{same_site}: {result}");
        // Landed on the #[auth_required] page signed in, after exactly one trip to the tenant.
        assert_eq!(result["user"], "Alice Example", "{same_site}: {result}");
        assert_eq!(result["same_site"], cookie, "{same_site}: {result}");
        assert_eq!(result["authorize_requests"], 1, "{same_site}: {result}");
        assert_eq!(result["callback_statuses"], serde_json::json!([callback_status]), "{same_site}: {result}");
        // Sign-out ends at the tenant, which sends the browser back to the app's login page.
        assert_eq!(result["after_logout"], format!("{base_url}/login"), "{same_site}: {result}");
    }
}

#[test]
fn an_attack_page_on_another_origin_cannot_post_with_the_session_cookie() {
    let (demo, base_url) = start_demo(None, &[]);
    let result = scenario("cross-site-attack.mjs", &base_url, &demo, &[]);
    assert_eq!(result["ok"], true, "{result}");
    let attacks = &result["attacks"];
    // A sibling origin on the same site: the Lax cookie goes along, the app's check refuses it.
    let sibling = &attacks["same_site"];
    for attempt in ["form", "simple_fetch"] {
        assert_eq!(sibling[attempt]["status"], 403, "{attempt}: {sibling}");
        assert_eq!(sibling[attempt]["cookie_sent"], true, "{attempt}: {sibling}");
        assert_eq!(sibling[attempt]["sec_fetch_site"], "same-site", "{attempt}: {sibling}");
    }
    assert_eq!(sibling["simple_fetch"]["body"]["error"], "cross_origin_request", "{sibling}");
    // Another site: the Lax cookie stays behind, so the request is anonymous.
    let foreign = &attacks["cross_site"];
    for attempt in ["form", "simple_fetch"] {
        let status = foreign[attempt]["status"].as_u64();
        assert!(matches!(status, Some(401 | 403)), "{attempt}: {foreign}");
        assert_eq!(foreign[attempt]["cookie_sent"], false, "{attempt}: {foreign}");
    }
    // The preflighted fetch never sent its POST; neither page could read an answer.
    for attack in [sibling, foreign] {
        assert_eq!(attack["preflighted_fetch"]["posts_sent"], 0, "{attack}");
        assert_eq!(attack["simple_fetch"]["in_page"]["readable"], false, "{attack}");
        assert_eq!(attack["preflighted_fetch"]["in_page"]["readable"], false, "{attack}");
    }
    // The same action from the app's own page works, and it is the only note.
    assert_eq!(result["own_post"]["status"], 201, "{result}");
    assert_eq!(result["notes"], serde_json::json!(["from the app"]), "{result}");
}

#[test]
fn swagger_authorizes_with_pkce_and_calls_hello() {
    let (demo, base_url) = start_demo(Some("first"), &[]);
    let result = scenario("swagger-pkce.mjs", &base_url, &demo, &[]);
    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(result["body"], serde_json::json!({ "hello": "world" }), "{result}");
}

#[test]
fn a_page_that_needs_a_graph_token_goes_through_consent_and_shows_the_profile() {
    let (demo, base_url) = start_demo(None, &[]);
    let result = scenario("incremental-consent.mjs", &base_url, &demo, &[]);
    assert_eq!(result["display_name"], "Alice Example", "{result}");
    let scopes = result["authorize_scopes"].as_array().expect("the authorize requests' scopes");
    assert_eq!(scopes.len(), 2, "one login, one consent: {result}");
    assert!(scopes[1].as_str().is_some_and(|scope| scope.contains("User.Read")), "{result}");
}
