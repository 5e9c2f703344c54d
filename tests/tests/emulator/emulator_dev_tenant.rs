//! The contract of `cargo run --example dev_tenant`: one JSON line on stdout with every key
//! `docs/emulator.md` lists (what msal and the examples read), a tenant that answers at the
//! advertised URLs (over https with the advertised certificate), and a clean stop on SIGTERM and
//! on SIGINT.

#![allow(clippy::expect_used, reason = "a failed set-up step is a failed test")]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use aad_auth_tests::example_processes::{Process, command, spawn};

/// A running dev_tenant (https or http, a free port, the first user signed in without UI).
fn start(https: bool) -> Process {
    let mut command = command("dev_tenant");
    command
        .env("DEV_TENANT_PORT", "0")
        .env("DEV_TENANT_HTTPS", if https { "1" } else { "0" })
        .env("DEV_TENANT_AUTO_USER", "first");
    spawn("dev_tenant", command)
}

/// Its first stdout line, as JSON.
fn ready_line(tenant: &Process) -> Value {
    let line = tenant.line(Duration::from_secs(60), |_| true);
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("the first stdout line is not JSON ({e}): {line}"))
}

fn text<'a>(line: &'a Value, key: &str) -> &'a str {
    let value = line[key].as_str().unwrap_or_else(|| panic!("`{key}` missing or not a string: {line}"));
    assert!(!value.trim().is_empty(), "`{key}` is empty: {line}");
    value
}

#[tokio::test]
async fn https_dev_tenant_prints_one_line_serves_it_and_stops_on_sigterm() {
    let tenant = start(true);
    let line = ready_line(&tenant);
    let host = text(&line, "authority_host");
    assert!(host.starts_with("https://127.0.0.1:"), "{host}");
    let tenant_id = text(&line, "tenant_id");
    assert_eq!(tenant_id.len(), 36, "a GUID: {tenant_id}");
    let config_url = text(&line, "openid_config_url");
    assert_eq!(config_url, format!("{host}/{tenant_id}/v2.0/.well-known/openid-configuration"));
    for key in ["api_client_id", "api_client_secret", "public_client_id"] {
        text(&line, key);
    }
    let users: Vec<&str> = line["users"].as_array().expect("users list").iter().filter_map(Value::as_str).collect();
    assert!(!users.is_empty() && users.len() == line["users"].as_array().map_or(0, Vec::len), "{line}");
    assert!(users.iter().all(|user| !user.is_empty()));
    let ca_cert = PathBuf::from(text(&line, "ca_cert"));
    assert!(ca_cert.is_absolute() && ca_cert.is_file(), "{}", ca_cert.display());

    let pem = std::fs::read(&ca_cert).expect("certificate file");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .no_proxy()
        .build()
        .expect("client");
    let discovery: Value = client
        .get(config_url)
        .send()
        .await
        .expect("discovery")
        .error_for_status()
        .expect("200")
        .json()
        .await
        .expect("JSON");
    assert_eq!(discovery["issuer"], format!("{host}/{tenant_id}/v2.0"));
    for field in ["token_endpoint", "device_authorization_endpoint", "authorization_endpoint", "jwks_uri"] {
        assert!(discovery[field].as_str().is_some_and(|url| url.starts_with(host)), "{field}: {discovery}");
    }
    // The first user is signed in without UI: a device code is approved at the first poll.
    let api = text(&line, "api_client_id");
    let flow: Value = client
        .post(discovery["device_authorization_endpoint"].as_str().expect("endpoint"))
        .form(&[("client_id", text(&line, "public_client_id")), ("scope", &format!("{api}/.default openid"))])
        .send()
        .await
        .expect("devicecode")
        .json()
        .await
        .expect("JSON");
    let device_code = flow["device_code"].as_str().expect("device_code");
    let reply: Value = client
        .post(discovery["token_endpoint"].as_str().expect("endpoint"))
        .form(&[
            ("client_id", text(&line, "public_client_id")),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
        ])
        .send()
        .await
        .expect("poll")
        .json()
        .await
        .expect("JSON");
    let id_token = reply["id_token"].as_str().unwrap_or_else(|| panic!("no id_token: {reply}"));
    let payload = id_token.split('.').nth(1).expect("payload");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).expect("base64url"),
    )
    .expect("claims");
    assert_eq!(claims["preferred_username"], users[0]);

    let (status, rest) = tenant.stop("-TERM");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(rest.is_empty(), "more than one line on stdout: {rest:?}");
    assert!(!ca_cert.exists(), "the certificate's directory is removed at exit");
}

#[test]
fn http_dev_tenant_has_no_certificate_and_stops_on_sigint() {
    let tenant = start(false);
    let line = ready_line(&tenant);
    assert!(text(&line, "authority_host").starts_with("http://127.0.0.1:"));
    assert!(line.get("ca_cert").is_none(), "ca_cert is for https only: {line}");
    let (status, rest) = tenant.stop("-INT");
    assert!(status.success(), "exit status after SIGINT: {status}");
    assert!(rest.is_empty(), "more than one line on stdout: {rest:?}");
}
