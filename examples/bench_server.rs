//! The load-benchmark server: `GET /open` (no auth) and `GET /hello` behind the bearer-only
//! guard.
//!
//! Reads `HOST` (default 127.0.0.1), `PORT` (8000), `WORKERS` (the number of cores),
//! `AAD_TENANT_ID`, `AAD_CLIENT_ID`, `AAD_OPENID_CONFIG_URL`, and honours `AAD_JWKS_CACHE_TTL`
//! and `AAD_CA_FILE`. No session secret: bearer tokens only. Logs at warn (override with
//! `RUST_LOG`); stops on SIGTERM or Ctrl-C. Prints `bench_server: listening on http://ADDR` on
//! stdout once bound (`PORT=0` picks a free port).
//!
//! Soak runs (`tests/tests/soak.rs`) shrink the key store's time scale with `SOAK_JWKS_TTL`,
//! `SOAK_JWKS_STALE_TTL`, `SOAK_KEY_REFRESH_COOLDOWN` (seconds) and `SOAK_MAX_BACKOFF_MS`; unset,
//! the configuration's timing applies.
//!
//! ```text
//! AAD_TENANT_ID=... AAD_CLIENT_ID=... AAD_OPENID_CONFIG_URL=... cargo run --release --example bench_server
//! ```

use std::time::Duration;

use aad_auth::{AadAuth, AadAuthConfig, KeyStoreTiming, api_auth_required};
use aad_auth_examples::env_or;
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

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    aad_auth_examples::exit_status("bench_server", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    aad_auth_examples::init_logging("warn");
    let host = env_or("HOST", "127.0.0.1");
    let port: u16 = env_or("PORT", "8000").parse().map_err(|_| "PORT must be a port number")?;
    let workers: usize = match std::env::var("WORKERS") {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|_| "WORKERS must be a positive number")?
        }
        _ => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let mut builder = AadAuth::builder(AadAuthConfig::from_env()?).bearer_only();
    if let Some(timing) = soak_timing()? {
        builder = builder.key_store_timing(timing);
    }
    let auth = builder.build()?;
    let server = HttpServer::new(move || App::new().configure(auth.configure()).service(open).service(hello))
        .workers(workers.max(1))
        .bind((host.as_str(), port))?;
    for addr in server.addrs() {
        println!("bench_server: listening on http://{addr}");
    }
    server.run().await?;
    Ok(())
}

/// The key store's timing from the `SOAK_*` variables, when any is set.
fn soak_timing() -> Result<Option<KeyStoreTiming>, String> {
    let read = |name: &str| -> Result<Option<u64>, String> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => {
                value.trim().parse().map(Some).map_err(|_| format!("{name} must be a whole number"))
            }
            _ => Ok(None),
        }
    };
    let (ttl, stale, cooldown, backoff) = (
        read("SOAK_JWKS_TTL")?,
        read("SOAK_JWKS_STALE_TTL")?,
        read("SOAK_KEY_REFRESH_COOLDOWN")?,
        read("SOAK_MAX_BACKOFF_MS")?,
    );
    if [ttl, stale, cooldown, backoff].iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut timing = KeyStoreTiming::default();
    if let Some(ttl) = ttl {
        timing = timing.ttl(Duration::from_secs(ttl));
    }
    if let Some(stale) = stale {
        timing = timing.stale_ttl(Duration::from_secs(stale));
    }
    if let Some(cooldown) = cooldown {
        timing = timing.refresh_cooldown(Duration::from_secs(cooldown));
    }
    if let Some(backoff) = backoff {
        timing = timing.max_backoff(Duration::from_millis(backoff));
    }
    Ok(Some(timing))
}
