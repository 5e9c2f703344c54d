//! A developer aid: serves every page of the login UI with sample data, so that the pages can be
//! looked at (and screenshotted) without an identity provider.
//!
//! ```text
//! cargo run --example ui_preview            # then open http://127.0.0.1:8765/
//! ```
//!
//! Pages: `/` (index), `/login` (`?error=`, `?explanation=`, `?copyright=`), `/me` (`?guest`,
//! `?app`, `?overage`, `?expired`), `/error` (`?status=`, `?error_description=`), `/logout`
//! (GET confirms; POST lands on `/signed-out`), and the static files under `/static-login/`.
//! Every page carries the real Content-Security-Policy and security headers. Nothing signs in:
//! the user and the token are made up.
//!
//! Reads `HOST` (default 127.0.0.1) and `PORT` (8765), and the login UI settings `APP_NAME`,
//! `APP_LOGO_FILE`, `AUTH_LOGIN_TEMPLATE_FILE`, `AUTH_USER_TEMPLATE_FILE`,
//! `AUTH_ERROR_TEMPLATE_FILE` and the `*_ROUTE`/`AUTH_LOGIN_STATIC_PATH` variables, so that
//! custom templates can be previewed too. The app registration variables are not needed.

use aad_auth::AadAuthConfig;
use aad_auth_examples::env_or;
use actix_web::{App, HttpRequest, HttpServer, web};

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    aad_auth_examples::exit_status("ui_preview", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let host = env_or("HOST", "127.0.0.1");
    let port: u16 = env_or("PORT", "8765").parse().map_err(|_| "PORT must be a port number")?;

    // A made-up registration; everything else (app name, templates, routes) from the environment.
    let config = AadAuthConfig::from_lookup(|name| match name {
        "AAD_CLIENT_ID" => Some("00000000-0000-0000-0000-00000000c11e".into()),
        "AAD_TENANT_ID" => Some("contoso.onmicrosoft.com".into()),
        "AUTH_DEV_MODE" => Some("true".into()),
        _ => std::env::var(name).ok(),
    })?;
    let preview = aad_auth::testing::ui_preview(&config)?;

    eprintln!("login UI preview on http://{host}:{port}/");
    HttpServer::new(move || {
        let preview = preview.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let preview = preview.clone();
            async move { preview(&req) }
        }))
    })
    .workers(1)
    .bind((host.as_str(), port))?
    .run()
    .await?;
    Ok(())
}
