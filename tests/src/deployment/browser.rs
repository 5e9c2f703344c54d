//! Runs a browser scenario of `tests/e2e` (Debian Chromium driven by playwright-core, as
//! `tests/browser.rs` does) and returns its JSON result line.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::example_processes::{Finished, e2e_dir, run};

/// The longest a scenario may run (it normally takes a few seconds).
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `node script` in `tests/e2e` with `env`; on failure, the message carries the script's
/// output and `logs` (the servers' logs).
pub fn scenario(script: &str, env: &[(&str, String)], logs: impl Fn() -> String) -> (Value, Finished) {
    let mut node = Command::new("node");
    node.arg(script)
        .current_dir(e2e_dir())
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let finished = run(script, node, SCRIPT_TIMEOUT);
    assert!(finished.status.success(), "expected {script} to pass\n{}\n--- servers\n{}", finished.output(), logs());
    let line = finished.stdout.lines().last().unwrap_or_default();
    let result = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("expected a JSON result line from {script} ({e})\n{}", finished.output()));
    (result, finished)
}
