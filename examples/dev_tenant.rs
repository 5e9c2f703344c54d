//! A standalone local Entra ID tenant, for trying clients (Python `msal`, a browser, curl)
//! against the same emulator the tests use.
//!
//! ```text
//! DEV_TENANT_HTTPS=1 DEV_TENANT_AUTO_USER=first cargo run --example dev_tenant
//! ```
//!
//! When ready it prints exactly one JSON line on stdout: `authority_host`, `tenant_id`,
//! `openid_config_url`, `api_client_id`, `api_client_secret`, `public_client_id`, `ca_cert`
//! (https only: the PEM file to trust, e.g. `REQUESTS_CA_BUNDLE` for msal) and `users` (the
//! usernames, `preferred_username` in tokens). Logs go to stderr. It runs until SIGTERM or
//! Ctrl-C.
//!
//! Variables (see `aad_auth::testing::TenantBuilder::from_dev_env`): `DEV_TENANT_PORT` (8400;
//! 0 = any free port), `DEV_TENANT_HTTPS` (`1` = https with a self-signed certificate),
//! `DEV_TENANT_AUTO_USER` (`first` or a username: sign in without UI and approve device codes
//! at once), `DEV_TENANT_REDIRECT_ORIGINS` (origins of an app behind a proxy, such as
//! `https://localhost:8443`, whose callback, Swagger UI and post-logout URIs the dev API then
//! accepts), and for ids that survive restarts `DEV_TENANT_ID`, `DEV_TENANT_API_CLIENT_ID`,
//! `DEV_TENANT_API_CLIENT_SECRET`.

use std::io::Write as _;

use aad_auth::testing::TenantBuilder;
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    aad_auth_examples::exit_status("dev_tenant", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    // Listen for signals before announcing readiness, so that a signal sent right after the
    // JSON line is never missed.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;

    let tenant = TenantBuilder::from_dev_env()?.start().await;
    let api = tenant.api_app();
    let public = tenant.public_app();
    let mut ready = json!({
        "authority_host": tenant.authority_host(),
        "tenant_id": tenant.tenant_id(),
        "openid_config_url": tenant.openid_config_url(),
        "api_client_id": api.client_id,
        "api_client_secret": api.client_secret.clone().unwrap_or_default(),
        "public_client_id": public.client_id,
        "users": tenant.users().iter().map(|user| user.username.clone()).collect::<Vec<_>>(),
    });
    if let (Some(path), Some(object)) = (tenant.ca_cert_path(), ready.as_object_mut()) {
        object.insert("ca_cert".into(), json!(std::path::absolute(path)?));
    }
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{ready}")?;
        stdout.flush()?;
    }
    tracing::info!(
        authority = %tenant.authority(),
        openid_config_url = %tenant.openid_config_url(),
        "local tenant ready; stop with Ctrl-C or SIGTERM"
    );

    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
    }
    // Dropping the tenant stops its server and removes the certificate's directory.
    drop(tenant);
    Ok(())
}
