//! The load-benchmark server: `GET /open` (no auth) and `GET /hello` behind the bearer-only
//! guard.
//!
//! Reads `HOST` (default 127.0.0.1), `PORT` (8000), `WORKERS` (the number of cores),
//! `AAD_TENANT_ID`, `AAD_CLIENT_ID`, `AAD_OPENID_CONFIG_URL`, and honours `AAD_JWKS_CACHE_TTL`
//! and `AAD_CA_FILE`. No session secret: bearer tokens only. Logs at warn (override with
//! `RUST_LOG`); stops on SIGTERM or Ctrl-C.
//!
//! ```text
//! AAD_TENANT_ID=... AAD_CLIENT_ID=... AAD_OPENID_CONFIG_URL=... cargo run --release --example bench_server
//! ```

use aad_auth::{AadAuth, AadAuthConfig, api_auth_required};
use actix_web::{App, HttpResponse, HttpServer, Responder, get};
use serde_json::json;

#[get("/open")]
async fn open() -> impl Responder {
    HttpResponse::Ok().json(json!({ "open": true }))
}

#[get("/hello")]
#[api_auth_required]
async fn hello() -> impl Responder {
    HttpResponse::Ok().json(json!({ "hello": "world" }))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let host = env_or("HOST", "127.0.0.1");
    let port: u16 = env_or("PORT", "8000").parse().map_err(|_| "PORT must be a port number")?;
    let workers: usize = match std::env::var("WORKERS") {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|_| "WORKERS must be a positive number")?
        }
        _ => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let auth = AadAuth::bearer_only(AadAuthConfig::from_env()?)?;
    HttpServer::new(move || App::new().configure(auth.configure()).service(open).service(hello))
        .workers(workers.max(1))
        .bind((host.as_str(), port))?
        .run()
        .await?;
    Ok(())
}
