//! The demo in a real headless Chromium (Debian `chromium`, driven by `playwright-core` from
//! `tests/e2e`), as a newcomer uses it: `basic` with no `AAD_*` variables, on its embedded local
//! tenant.
//!
//! * `login-flow.mjs` (issue 5): protected page, login page, the tenant's account picker, back
//!   signed in, the user page and its token (accepted by the API as a bearer token), sign-out.
//! * `swagger-pkce.mjs` (issue 6): Swagger UI's Authorize with PKCE against the tenant (an
//!   auto-approving user), then "Try it out" on `/hello`: 200 `{"hello":"world"}`.
//!
//! `./scripts/install-test-deps.sh` installs Chromium and playwright-core; without them these
//! tests fail and say so.

#![allow(clippy::expect_used, reason = "a failed set-up step is a failed test")]

mod emulator_support;
mod example_processes;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use example_processes::{Finished, Process, command, e2e_dir, run, spawn};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// The demo on its embedded tenant (free ports for both), and its base URL.
fn start_demo(auto_user: Option<&str>) -> (Process, String) {
    let mut demo = command("basic");
    demo.env("DEV_TENANT_PORT", "0").env("HOST", "127.0.0.1").env("PORT", "0");
    if let Some(user) = auto_user {
        demo.env("DEV_TENANT_AUTO_USER", user);
    }
    let process = spawn("basic", demo);
    let line = process.line(Duration::from_secs(60), |line| line.starts_with("aad-auth demo: open "));
    let base_url = line.trim_start_matches("aad-auth demo: open ").trim().trim_end_matches('/').to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{line}");
    (process, base_url)
}

/// Runs a browser scenario against `base_url`; returns its JSON result line.
fn scenario(script: &str, base_url: &str, demo: &Process) -> Value {
    let mut node = Command::new("node");
    node.arg(script)
        .current_dir(e2e_dir())
        .env("BASE_URL", base_url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let finished: Finished = run(script, node, SCRIPT_TIMEOUT);
    assert!(finished.status.success(), "{script} failed\n{}\n--- the demo's log\n{}", finished.output(), demo.stderr());
    let line = finished.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{script} printed no JSON result ({e})\n{}", finished.output()))
}

#[test]
fn a_browser_signs_in_on_the_tenants_page_uses_the_token_and_signs_out() {
    let (demo, base_url) = start_demo(None);
    let result = scenario("login-flow.mjs", &base_url, &demo);
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["user"], "Alice Example", "{result}");
    // Sign-out ends at the tenant, which sends the browser back to the app's login page.
    assert_eq!(result["after_logout"], format!("{base_url}/login"), "{result}");
}

#[test]
fn swagger_authorizes_with_pkce_and_calls_hello() {
    let (demo, base_url) = start_demo(Some("first"));
    let result = scenario("swagger-pkce.mjs", &base_url, &demo);
    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(result["body"], serde_json::json!({ "hello": "world" }), "{result}");
}
