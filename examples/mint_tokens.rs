//! The identity provider of the load benchmark (`scripts/bench/load.sh`): a local tenant that
//! serves discovery and the JWKS, after writing bearer tokens signed with its key to files, and
//! that reports how often its discovery and JWKS were fetched.
//!
//! The tokens must come from the process that serves the keys (the tenant's keys live in its
//! memory), hence one process for both.
//!
//! ```text
//! MINT_COUNT=200000 MINT_DIR=target/bench cargo run --release --example mint_tokens
//! ```
//!
//! Writes `{MINT_DIR}/tokens.txt` (`MINT_COUNT` distinct v2 access tokens for the dev API, one
//! per line) and `{MINT_DIR}/hot.txt` (one more), then prints one JSON line on stdout:
//! `authority_host`, `tenant_id`, `openid_config_url`, `api_client_id`, `tokens`, `hot`, `count`,
//! `status_url`. `GET {status_url}` answers `{"discovery":N,"jwks":N}`: the requests the tenant
//! served so far. Runs until SIGTERM or Ctrl-C.
//!
//! Variables: `MINT_TENANT_PORT` (8401), `MINT_STATUS_PORT` (tenant port + 1), `MINT_COUNT`
//! (200000), `MINT_DIR` (`target/bench`), `MINT_THREADS` (the number of cores),
//! `MINT_LIFETIME_SECONDS` (7200).

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aad_auth::testing::{Endpoint, Tenant};
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|_| format!("{name}: bad value {value:?}"))
        }
        _ => Ok(default),
    }
}

/// Signs `count` tokens on `threads` threads, in order, one per line.
fn mint(tenant: &Tenant, count: usize, threads: usize, lifetime: Duration) -> Vec<String> {
    let per_thread = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = (t * per_thread).min(count);
                let end = ((t + 1) * per_thread).min(count);
                scope.spawn(move || {
                    // Every token carries a fresh `uti`, so all of them are distinct.
                    (start..end).map(|_| tenant.token().member().lifetime(lifetime).sign()).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap_or_default()).collect()
    })
}

fn write_lines(path: &PathBuf, lines: &[String]) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for line in lines {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tenant_port: u16 = env_or("MINT_TENANT_PORT", 8401)?;
    let status_port: u16 = env_or("MINT_STATUS_PORT", tenant_port.wrapping_add(1))?;
    let count: usize = env_or("MINT_COUNT", 200_000)?;
    let dir: PathBuf = env_or("MINT_DIR", PathBuf::from("target/bench"))?;
    let threads: usize = env_or("MINT_THREADS", std::thread::available_parallelism().map_or(1, usize::from))?;
    let lifetime = Duration::from_secs(env_or("MINT_LIFETIME_SECONDS", 7200)?);

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;

    let tenant = Arc::new(Tenant::builder().port(tenant_port).start().await);
    std::fs::create_dir_all(&dir)?;
    let started = Instant::now();
    let minter = tenant.clone();
    let tokens = tokio::task::spawn_blocking(move || mint(&minter, count + 1, threads.max(1), lifetime)).await?;
    let (hot, distinct) = tokens.split_last().ok_or("nothing minted")?;
    let tokens_path = dir.join("tokens.txt");
    let hot_path = dir.join("hot.txt");
    write_lines(&tokens_path, distinct)?;
    write_lines(&hot_path, std::slice::from_ref(hot))?;
    eprintln!("minted {} tokens in {:.1} s on {threads} threads", tokens.len(), started.elapsed().as_secs_f64());

    let counts = tenant.clone();
    let status = HttpServer::new(move || {
        let tenant = counts.clone();
        App::new().route(
            "/counts",
            web::get().to(move || {
                let tenant = tenant.clone();
                async move {
                    HttpResponse::Ok().json(json!({
                        "discovery": tenant.requests(Endpoint::Discovery) + tenant.requests(Endpoint::DiscoveryV1),
                        "jwks": tenant.requests(Endpoint::Jwks),
                    }))
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", status_port))?
    .run();
    let status_handle = status.handle();
    let status_task = actix_web::rt::spawn(status);

    let ready = json!({
        "authority_host": tenant.authority_host(),
        "tenant_id": tenant.tenant_id(),
        "openid_config_url": tenant.openid_config_url(),
        "api_client_id": tenant.api_app().client_id,
        "tokens": std::path::absolute(&tokens_path)?,
        "hot": std::path::absolute(&hot_path)?,
        "count": distinct.len(),
        "status_url": format!("http://127.0.0.1:{status_port}/counts"),
    });
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{ready}")?;
        stdout.flush()?;
    }

    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    status_handle.stop(true).await;
    drop(status_task);
    Ok(())
}
