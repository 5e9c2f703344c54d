//! The session benchmark server (`scripts/bench/sessions.sh`): `GET /open` (no auth), `GET
//! /hello` (bearer only) and `GET /session` (bearer or the login session), against a local tenant
//! started in this process, so that a bearer request and a session request of the same user can
//! be compared in one run. `examples/bench_server` stays bearer-only.
//!
//! Reads `HOST` (127.0.0.1), `PORT` (8000; 0 = a free port), `WORKERS` (the number of cores) and
//! `SESSION_STORE` (`cookie` or `redis://…`). Once listening it signs the tenant's first user
//! in through the real login (authorization code + PKCE against the local tenant) and prints one
//! JSON line on stdout: `{"url": …, "cookie": "session=…", "token": "<the session's access
//! token>"}`. The line carries a live credential: it is for the benchmark's local run only.
//!
//! ```text
//! SESSION_STORE=redis://127.0.0.1:6379/0 cargo run --release --example bench_sessions
//! ```

use aad_auth::testing::Tenant;
use aad_auth::{AadAuth, AadAuthConfig, api_auth_required};
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

#[get("/session")]
#[api_auth_required(allow_session)]
async fn session() -> impl Responder {
    HttpResponse::Ok().json(json!({ "hello": "world" }))
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    aad_auth_examples::exit_status("bench_sessions", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    aad_auth_examples::init_logging("warn");
    let host = env_or("HOST", "127.0.0.1");
    let port: u16 = env_or("PORT", "8000").parse().map_err(|_| "PORT must be a port number")?;
    let workers: usize = env_or("WORKERS", "0").parse().map_err(|_| "WORKERS must be a number")?;
    let workers = if workers == 0 { std::thread::available_parallelism().map_or(1, usize::from) } else { workers };

    let tenant = Tenant::builder().dev_defaults().auto_user("first").port(0).start().await;
    let store = env_or("SESSION_STORE", "cookie");
    let api = tenant.api_app();
    let (tenant_id, authority_host) = (tenant.tenant_id().to_owned(), tenant.authority_host().to_owned());
    // Read as the environment would be, so that `SESSION_STORE` gets the same checks; http on
    // loopback and a throw-away session key, as in development.
    let config = AadAuthConfig::from_lookup(|name| match name {
        "AAD_CLIENT_ID" => Some(api.client_id.clone()),
        "AAD_CLIENT_SECRET" => api.client_secret.clone(),
        "AAD_TENANT_ID" => Some(tenant_id.clone()),
        "AAD_AUTHORITY_HOST" => Some(authority_host.clone()),
        "SESSION_STORE" => Some(store.clone()),
        "SESSION_HTTPS_ONLY" => Some("false".into()),
        "AUTH_DEV_MODE" => Some("true".into()),
        _ => None,
    })?;
    let auth = AadAuth::builder(config).build()?;
    let server =
        HttpServer::new(move || App::new().configure(auth.configure()).service(open).service(hello).service(session))
            .workers(workers.max(1))
            .bind((host.as_str(), port))?;
    let url = match server.addrs().first() {
        Some(addr) => format!("http://{addr}"),
        None => return Err("the server is bound to no address".into()),
    };
    let running = server.run();
    let handle = running.handle();
    let serving = actix_web::rt::spawn(running);

    match sign_in(&url).await {
        Ok((cookie, token)) => println!("{}", json!({ "url": url, "cookie": cookie, "token": token })),
        Err(error) => {
            handle.stop(false).await;
            return Err(format!("signing in failed: {error}").into());
        }
    }
    serving.await??;
    drop(tenant);
    Ok(())
}

/// Signs the tenant's first user in (the tenant signs them in without UI) and returns the
/// session cookie (`name=value`) and the session's access token.
async fn sign_in(url: &str) -> Result<(String, String), Box<dyn std::error::Error>> {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder().cookie_provider(jar.clone()).build()?;
    let landed = client.get(format!("{url}/oauth/aad/login?redirect=/open")).send().await?;
    if !landed.status().is_success() {
        return Err(format!("the login ended with {}", landed.status()).into());
    }
    let site: reqwest::Url = url.parse()?;
    let cookie = reqwest::cookie::CookieStore::cookies(&*jar, &site)
        .and_then(|value| value.to_str().ok().map(str::to_owned))
        .ok_or("no session cookie after the login")?;
    let token: serde_json::Value =
        client.get(format!("{url}/me/token")).send().await?.error_for_status()?.json().await?;
    let token = token["access_token"].as_str().ok_or("no access_token from /me/token")?.to_owned();
    Ok((cookie, token))
}
