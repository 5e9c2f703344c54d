//! Memory of the verified-token cache under a flood of distinct valid tokens: validates
//! `MEM_TOKENS` (1,000,000) distinct tokens through one validator whose cache is bounded by
//! `MEM_CACHE_ENTRIES` (100,000) and `MEM_CACHE_BYTES` (64 MiB), and reports the resident memory
//! (`VmRSS`, and the peak `VmHWM`, from `/proc/self/status`) before and after.
//!
//! ```text
//! cargo run --release --example token_cache_memory
//! ```
//!
//! Every token is signed here (RSA-2048, on `MEM_THREADS` threads, default: the number of
//! cores), so a million takes minutes; the tokens flow through a small bounded queue and are
//! dropped once validated, so that what stays resident is the cache. The baseline is taken once
//! the signing threads run and the queue is full. Prints progress on stderr
//! and one JSON line on stdout; exits non-zero when the growth of the resident memory passes the
//! byte bound.

use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use aad_auth::AadAuth;
use aad_auth::testing::Tenant;
use aad_auth::token::TokenCacheConfig;
use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|_| format!("{name}: bad value {value:?}"))
        }
        _ => Ok(default),
    }
}

/// A `/proc/self/status` field, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = env_or("MEM_TOKENS", 1_000_000)?;
    let entries: usize = env_or("MEM_CACHE_ENTRIES", TokenCacheConfig::DEFAULT_MAX_ENTRIES)?;
    let bytes: u64 = env_or("MEM_CACHE_BYTES", TokenCacheConfig::DEFAULT_MAX_BYTES)?;
    let threads: usize = env_or("MEM_THREADS", std::thread::available_parallelism().map_or(1, usize::from))?;
    let threads = threads.max(1);

    let tenant = Arc::new(Tenant::start().await);
    let config = tenant.api_config().build()?;
    let auth = AadAuth::builder(config).bearer_only().token_cache(TokenCacheConfig::new(entries, bytes)).build()?;
    // Load the keys and warm every code path before the baseline.
    let warm = tenant.token().member().sign();
    auth.validate_bearer(&warm).await?;

    let (sender, receiver) = sync_channel::<String>(1024);
    let per_thread = total.div_ceil(threads);
    let producers: Vec<_> = (0..threads)
        .map(|t| {
            let sender = sender.clone();
            let tenant = tenant.clone();
            let count = per_thread.min(total.saturating_sub(t * per_thread));
            std::thread::spawn(move || {
                for _ in 0..count {
                    let token = tenant.token().member().lifetime(Duration::from_secs(4 * 3600)).sign();
                    if sender.send(token).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(sender);
    // The baseline includes the measuring apparatus: the signing threads and a full queue.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = status_kib("VmRSS");

    let started = Instant::now();
    let (mut valid, mut refused) = (0u64, 0u64);
    let mut peak_weight = 0u64;
    let mut peak_entries = 0usize;
    while let Ok(token) = receiver.recv() {
        match auth.validate_bearer(&token).await {
            Ok(_) => valid += 1,
            Err(_) => refused += 1,
        }
        let done = valid + refused;
        if done.is_multiple_of(1000) {
            let stats = auth.validator().cache_stats().ok_or("cache disabled")?;
            peak_weight = peak_weight.max(stats.weight);
            peak_entries = peak_entries.max(stats.entries);
            if done.is_multiple_of(100_000) {
                eprintln!(
                    "{done} tokens, {:.0} s: {} entries, {} KiB weight, VmRSS {} KiB (+{} KiB)",
                    started.elapsed().as_secs_f64(),
                    stats.entries,
                    stats.weight / 1024,
                    status_kib("VmRSS"),
                    status_kib("VmRSS").saturating_sub(rss_before),
                );
            }
        }
    }
    for producer in producers {
        let _ = producer.join();
    }
    let stats = auth.validator().cache_stats().ok_or("cache disabled")?;
    let rss_after = status_kib("VmRSS");
    let hwm_after = status_kib("VmHWM");
    let growth_kib = rss_after.saturating_sub(rss_before);
    let peak_growth_kib = hwm_after.saturating_sub(rss_before);
    let bound_kib = bytes / 1024;
    let summary = json!({
        "tokens": valid + refused,
        "valid": valid,
        "refused": refused,
        "seconds": started.elapsed().as_secs_f64().round(),
        "cache_max_entries": entries,
        "cache_max_bytes": bytes,
        "cache_entries": stats.entries,
        "cache_weight_bytes": stats.weight,
        "cache_peak_entries": peak_entries,
        "cache_peak_weight_bytes": peak_weight,
        "avg_entry_weight_bytes": stats.weight.checked_div(stats.entries as u64).unwrap_or(0),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_growth_kib": growth_kib,
        "rss_peak_kib": hwm_after,
        "rss_peak_growth_kib": peak_growth_kib,
        "bound_kib": bound_kib,
        "under_bound": peak_growth_kib < bound_kib && growth_kib < bound_kib,
    });
    println!("{summary}");
    if refused > 0 || peak_growth_kib >= bound_kib {
        return Err("a token was refused or the resident memory grew past the bound".into());
    }
    Ok(())
}
