//! Soak: `bench_server` under mixed traffic while the local tenant rotates its keys as Entra does,
//! withdraws the old one, and puts its JWKS endpoint through every fault mode it has.
//!
//! The key store runs on a short time scale (TTL 5 s, stale window 30 s, cooldown 5 s, retries
//! at most 1 s apart) so that one 60 s cycle holds a whole rotation and withdrawal and an outage
//! four times the TTL; one outage longer than TTL + stale window follows every fifth cycle (and
//! the first, so that a short run has one). `SOAK_SECONDS` sets the length (default: one cycle
//! and one long outage, about two minutes); `scripts/soak.sh SECONDS` runs a longer one.
//!
//! Every answer is judged at the instant its request was sent:
//! * false accept: 200 for a token SPEC says must be refused then (a key withdrawn more than one
//!   TTL ago, a never-published key, a random `kid`, a bad signature, an expired token);
//! * false reject: 401 for a token whose key has been published for a full TTL and is not
//!   withdrawn (which is also every key of the last good set);
//! * unexpected 503: a 503 outside the long outage (the only time SPEC allows one for a valid
//!   token; an unknown `kid` may get one while refreshes fail, so during any outage);
//! * other 5xx and transport errors.
//!
//! Goal and assertion: all of them 0; JWKS fetches per minute within the bound the cooldown and
//! backoff allow.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aad_auth::testing::{Endpoint, Fault, Tenant, TestKey, random_guid};
use base64::Engine as _;
use serde_json::json;

const TTL: Duration = Duration::from_secs(5);
const STALE: Duration = Duration::from_secs(30);
const COOLDOWN: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
const CYCLE: Duration = Duration::from_secs(60);
const LONG_OUTAGE: Duration = Duration::from_secs(50);
/// After a withdrawal the server may accept the key's tokens until its next refresh: background
/// refreshes come every TTL/2, so one TTL is a safe bound.
const WITHDRAWAL_GRACE: Duration = TTL;
/// After an outage ends, answers may lag by one retry pause and one fetch.
const RECOVERY_GRACE: Duration = Duration::from_secs(3);
const WORKERS: usize = 6;

/// One signing key as the soak tracks it.
struct KeyInfo {
    key: Arc<TestKey>,
    published: Instant,
    withdrawn: Option<Instant>,
    /// Tokens sent again and again (cache hits on the server).
    repeated: Vec<String>,
}

/// What the tenant is doing, as the traffic sees it.
struct World {
    keys: Vec<KeyInfo>,
    /// Never published: its tokens must always be refused.
    stranger: Arc<TestKey>,
    phase: &'static str,
    /// A JWKS outage is under way (or ended less than the recovery grace ago).
    outage_until: Option<Instant>,
    /// The long outage: valid tokens may get 503 (past the stale window).
    long_outage_until: Option<Instant>,
}

impl World {
    fn in_outage(&self, at: Instant) -> bool {
        self.outage_until.is_some_and(|until| at < until + RECOVERY_GRACE)
    }
    fn in_long_outage(&self, at: Instant) -> bool {
        self.long_outage_until.is_some_and(|until| at < until + RECOVERY_GRACE)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ValidRepeated,
    ValidFresh,
    WithdrawnRepeated,
    WithdrawnFresh,
    NeverPublished,
    RandomKid,
    BadSignature,
    Expired,
}

impl Kind {
    fn must_pass(self) -> bool {
        matches!(self, Kind::ValidRepeated | Kind::ValidFresh)
    }
}

/// Counts and latencies.
#[derive(Default)]
struct Tally {
    by_kind: BTreeMap<(Kind, u16), u64>,
    latencies: BTreeMap<&'static str, Vec<u32>>,
    false_accepts: Vec<String>,
    false_rejects: Vec<String>,
    unexpected_503: Vec<String>,
    server_errors: Vec<String>,
    transport_errors: Vec<String>,
}

fn mint(tenant: &Tenant, key: &Arc<TestKey>) -> String {
    tenant.token().member().signed_with(key.clone()).sign()
}

fn flip_signature(token: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = engine.decode(signature).unwrap();
    bytes[3] ^= 0x40;
    format!("{input}.{}", engine.encode(bytes))
}

/// Picks a request: its kind and token, from the world as it is now.
/// The third value is when the token's key was withdrawn, for tokens of withdrawn keys.
fn pick(n: u64, tenant: &Tenant, world: &World, now: Instant) -> Option<(Kind, String, Option<Instant>)> {
    let usable: Vec<&KeyInfo> =
        world.keys.iter().filter(|k| k.withdrawn.is_none() && now.duration_since(k.published) >= TTL).collect();
    let withdrawn: Vec<&KeyInfo> = world.keys.iter().filter(|k| k.withdrawn.is_some()).collect();
    let index = usize::try_from(n / 10).unwrap_or(0);
    let kind = match n % 10 {
        0..=2 => Kind::ValidRepeated,
        3 | 4 => Kind::ValidFresh,
        5 if !withdrawn.is_empty() => Kind::WithdrawnRepeated,
        5 => Kind::ValidFresh,
        6 => Kind::NeverPublished,
        7 => Kind::RandomKid,
        8 => [Kind::BadSignature, Kind::WithdrawnFresh][index % 2],
        _ => Kind::Expired,
    };
    let kind = if kind == Kind::WithdrawnFresh && withdrawn.is_empty() { Kind::BadSignature } else { kind };
    let valid = usable.get(index % usable.len().max(1))?;
    let gone = withdrawn.get(index % withdrawn.len().max(1));
    let token = match (kind, gone) {
        (Kind::WithdrawnRepeated, Some(key)) => key.repeated[index % key.repeated.len()].clone(),
        (Kind::WithdrawnFresh, Some(key)) => mint(tenant, &key.key),
        _ => String::new(),
    };
    let withdrawn_at = gone.and_then(|key| key.withdrawn).filter(|_| !token.is_empty());
    let token = match kind {
        _ if !token.is_empty() => token,
        Kind::ValidRepeated | Kind::WithdrawnRepeated | Kind::WithdrawnFresh => {
            valid.repeated[index % valid.repeated.len()].clone()
        }
        Kind::ValidFresh => mint(tenant, &valid.key),
        Kind::NeverPublished => mint(tenant, &world.stranger),
        Kind::RandomKid => {
            tenant.token().member().signed_with(valid.key.clone()).header("kid", json!(random_guid())).sign()
        }
        Kind::BadSignature => flip_signature(&valid.repeated[index % valid.repeated.len()]),
        Kind::Expired => {
            let past =
                i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
                    .unwrap()
                    - 7200;
            tenant
                .token()
                .member()
                .signed_with(valid.key.clone())
                .claim("iat", json!(past))
                .claim("nbf", json!(past))
                .claim("exp", json!(past + 3600))
                .sign()
        }
    };
    Some((kind, token, withdrawn_at))
}

/// Judges one answer against what SPEC says at the instant the request was sent.
fn judge(
    tally: &mut Tally,
    request: (Kind, Option<Instant>),
    status: u16,
    sent: Instant,
    world: &World,
    label: String,
) {
    let (kind, withdrawn_at) = request;
    let outage = world.in_outage(sent);
    let long_outage = world.in_long_outage(sent);
    let within_withdrawal_grace = withdrawn_at.is_some_and(|at| sent < at + WITHDRAWAL_GRACE);
    match status {
        200 if kind.must_pass() => {}
        200 if within_withdrawal_grace => {}
        200 => tally.false_accepts.push(label),
        401 if kind.must_pass() => tally.false_rejects.push(label),
        401 => {}
        503 if long_outage => {}
        503 if outage && !kind.must_pass() => {}
        503 => tally.unexpected_503.push(label),
        _ if status >= 500 => tally.server_errors.push(label),
        _ => tally.false_rejects.push(label),
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The schedule's steps, each at an offset from the start.
#[derive(Debug, Clone)]
enum Step {
    Phase(&'static str),
    Rotate,
    Withdraw,
    Fault(Fault),
    Clear,
    OutageStart(Duration),
    LongOutageStart(Duration),
    OutageEnd,
    LongOutageEnd,
}

fn schedule(total: Duration) -> Vec<(Duration, Step)> {
    let mut steps = Vec::new();
    let mut at = Duration::ZERO;
    let mut cycle = 0u32;
    let ms = Duration::from_millis;
    while at + CYCLE <= total || cycle == 0 {
        let s = |offset: u64| at + Duration::from_secs(offset);
        steps.push((s(0), Step::Phase("rotation")));
        steps.push((s(0), Step::Rotate));
        // While two keys are published, one answer leaves out the new one (a lagging replica):
        // the confirming fetch must keep it.
        steps.push((s(7), Step::Phase("one partial answer")));
        steps.push((s(7), Step::Fault(Fault::PartialKeysOnce)));
        steps.push((s(10), Step::Phase("withdrawal")));
        steps.push((s(10), Step::Withdraw));
        // A fetch started in the slow phase fails at the server's 10 s timeout, before the end.
        steps.push((s(20), Step::Phase("outage: slow past the timeout")));
        steps.push((s(20), Step::OutageStart(Duration::from_secs(20))));
        steps.push((s(20), Step::Fault(Fault::Slow(Duration::from_secs(12)))));
        steps.push((s(26), Step::Phase("outage: 503")));
        steps.push((s(26), Step::Fault(Fault::Status(503))));
        steps.push((s(31), Step::Phase("outage: garbage")));
        steps.push((s(31), Step::Fault(Fault::Garbage)));
        steps.push((s(35), Step::Phase("outage: empty set")));
        steps.push((s(35), Step::Fault(Fault::EmptyKeys)));
        steps.push((s(40), Step::Phase("recovered")));
        steps.push((s(40), Step::Clear));
        steps.push((s(40), Step::OutageEnd));
        steps.push((s(44), Step::Phase("steady")));
        at += CYCLE;
        // After the first cycle (so that every run has one), then after every fifth that fits.
        if cycle.is_multiple_of(5) && (cycle == 0 || at + LONG_OUTAGE + ms(10_000) <= total) {
            steps.push((at, Step::Phase("long outage (past the stale window)")));
            steps.push((at, Step::LongOutageStart(LONG_OUTAGE)));
            steps.push((at, Step::Fault(Fault::Status(500))));
            at += LONG_OUTAGE;
            steps.push((at, Step::Phase("after the long outage")));
            steps.push((at, Step::Clear));
            steps.push((at, Step::LongOutageEnd));
            at += ms(10_000);
        }
        cycle += 1;
    }
    steps.push((at, Step::Phase("end")));
    steps
}

#[test]
fn soak_rotation_withdrawal_and_outages_under_traffic() {
    let total = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(CYCLE + LONG_OUTAGE + Duration::from_secs(10), Duration::from_secs);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run(total));
}

async fn run(total: Duration) {
    let tenant = Arc::new(Tenant::start().await);
    let mut command = aad_auth_tests::example_processes::command("bench_server");
    command
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("WORKERS", "2")
        .env("AAD_TENANT_ID", tenant.tenant_id())
        .env("AAD_CLIENT_ID", tenant.api_app().client_id)
        .env("AAD_OPENID_CONFIG_URL", tenant.openid_config_url())
        .env("SOAK_JWKS_TTL", TTL.as_secs().to_string())
        .env("SOAK_JWKS_STALE_TTL", STALE.as_secs().to_string())
        .env("SOAK_KEY_REFRESH_COOLDOWN", COOLDOWN.as_secs().to_string())
        .env("SOAK_MAX_BACKOFF_MS", MAX_BACKOFF.as_millis().to_string());
    let server = aad_auth_tests::example_processes::spawn("bench_server", command);
    let line = server.line(Duration::from_secs(60), |line| line.starts_with("bench_server: listening on "));
    let base = line.trim_start_matches("bench_server: listening on ").trim().to_owned();

    let start = Instant::now();
    let first = tenant.active_key();
    let world = Arc::new(RwLock::new(World {
        keys: vec![KeyInfo {
            repeated: (0..4).map(|_| mint(&tenant, &first)).collect(),
            key: first,
            // The tenant published its first key before the server started.
            published: start.checked_sub(TTL).unwrap_or(start),
            withdrawn: None,
        }],
        stranger: Arc::new(TestKey::generate(format!("never-published-{}", &random_guid()[..8]))),
        phase: "start",
        outage_until: None,
        long_outage_until: None,
    }));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = start + total;
    let counter = Arc::new(AtomicU64::new(0));
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();

    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (tenant, world, tally, counter, http, base) =
            (tenant.clone(), world.clone(), tally.clone(), counter.clone(), http.clone(), base.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                let picked = pick(n, &tenant, &world.read().unwrap(), sent);
                let Some((kind, token, withdrawn_at)) = picked else { continue };
                // A withdrawn kind without a withdrawn key fell back to a valid token.
                let kind = if withdrawn_at.is_none() && !matches!(kind, Kind::WithdrawnRepeated | Kind::WithdrawnFresh)
                {
                    kind
                } else if withdrawn_at.is_none() {
                    Kind::ValidRepeated
                } else {
                    kind
                };
                let phase = world.read().unwrap().phase;
                let answer = http.get(format!("{base}/hello")).bearer_auth(&token).send().await;
                let elapsed = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                let world = world.read().unwrap();
                let mut tally = tally.lock().unwrap();
                tally.latencies.entry(phase).or_default().push(elapsed);
                let at = sent.duration_since(start).as_secs_f64();
                match answer {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        *tally.by_kind.entry((kind, status)).or_default() += 1;
                        let label = format!("{kind:?} -> {status} at {at:.1} s ({phase})");
                        judge(&mut tally, (kind, withdrawn_at), status, sent, &world, label);
                    }
                    Err(error) => tally.transport_errors.push(format!("{kind:?} at {at:.1} s: {error}")),
                }
            }
        }));
    }

    // The controller: the schedule, and JWKS fetches per minute.
    let mut fetches_per_minute = Vec::new();
    let mut minute_start = (Instant::now(), tenant.requests(Endpoint::Jwks));
    for (offset, step) in schedule(total) {
        let at = start + offset;
        while minute_start.0 + Duration::from_secs(60) <= at {
            tokio::time::sleep_until((minute_start.0 + Duration::from_secs(60)).into()).await;
            let now_count = tenant.requests(Endpoint::Jwks);
            fetches_per_minute.push(now_count - minute_start.1);
            minute_start = (Instant::now(), now_count);
        }
        tokio::time::sleep_until(at.into()).await;
        let now = Instant::now();
        let mut world = world.write().unwrap();
        match step {
            Step::Phase(name) => world.phase = name,
            Step::Rotate => {
                tenant.rotate_keys();
                let key = tenant.active_key();
                let repeated = (0..4).map(|_| mint(&tenant, &key)).collect();
                world.keys.push(KeyInfo { key, published: now, withdrawn: None, repeated });
            }
            Step::Withdraw => {
                // The oldest key still published (the tenant has signed with the new one for a
                // full TTL by now).
                if let Some(old) = world.keys.iter_mut().find(|k| k.withdrawn.is_none()) {
                    tenant.retire_key(old.key.kid());
                    old.withdrawn = Some(now);
                }
                // Keep the tally small: keys withdrawn long ago add nothing new.
                let keep_from = world.keys.len().saturating_sub(4);
                world.keys.drain(..keep_from);
            }
            Step::Fault(fault) => tenant.set_fault(Endpoint::Jwks, fault),
            Step::Clear => tenant.clear_fault(Endpoint::Jwks),
            Step::OutageStart(length) => world.outage_until = Some(now + length),
            Step::LongOutageStart(length) => {
                world.outage_until = Some(now + length);
                world.long_outage_until = Some(now + length);
            }
            Step::OutageEnd => world.outage_until = Some(now),
            Step::LongOutageEnd => {
                world.outage_until = Some(now);
                world.long_outage_until = Some(now);
            }
        }
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let last = tenant.requests(Endpoint::Jwks) - minute_start.1;
    let last_minutes = minute_start.0.elapsed().as_secs_f64() / 60.0;

    // The report.
    let tally = tally.lock().unwrap();
    let mut report = String::new();
    let total_requests: u64 = tally.by_kind.values().sum();
    report.push_str(&format!(
        "soak: {:.0} s, {total_requests} requests, {WORKERS} client tasks on 2 threads, bench_server with 2 workers; \
         key store TTL {} s, stale window {} s, cooldown {} s, backoff cap {} ms\n",
        start.elapsed().as_secs_f64(),
        TTL.as_secs(),
        STALE.as_secs(),
        COOLDOWN.as_secs(),
        MAX_BACKOFF.as_millis()
    ));
    report.push_str("answers by kind:\n");
    for ((kind, status), count) in &tally.by_kind {
        report.push_str(&format!("  {kind:?} {status}: {count}\n"));
    }
    report.push_str("latency per phase (ms): requests p50 p90 p99 max\n");
    for (phase, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort_unstable();
        let ms = |micros: u32| f64::from(micros) / 1000.0;
        report.push_str(&format!(
            "  {phase:<40} {:>7} {:>7.2} {:>7.2} {:>7.2} {:>8.2}\n",
            sorted.len(),
            ms(percentile(&sorted, 0.5)),
            ms(percentile(&sorted, 0.9)),
            ms(percentile(&sorted, 0.99)),
            ms(sorted.last().copied().unwrap_or(0))
        ));
    }
    // Bound: background refreshes every TTL/2 and unknown-kid refreshes every cooldown, each at
    // most two fetches (one confirming), plus retries at most one per backoff cap.
    let bound = 2 * 60 / (TTL.as_secs() / 2).max(1) + 2 * 60 / COOLDOWN.as_secs() + 60 / MAX_BACKOFF.as_secs().max(1);
    let last_rate = if last_minutes > 0.1 { (last as f64 / last_minutes).round() as u64 } else { 0 };
    report.push_str(&format!(
        "JWKS fetches per whole minute: {fetches_per_minute:?}, last {last_minutes:.2} min at {last_rate}/min; bound {bound}/min\n"
    ));
    let show = |name: &str, list: &[String]| {
        let first: Vec<&String> = list.iter().take(5).collect();
        format!("{name}: {}{}\n", list.len(), if list.is_empty() { String::new() } else { format!(" e.g. {first:?}") })
    };
    report.push_str(&show("false accepts", &tally.false_accepts));
    report.push_str(&show("false rejects", &tally.false_rejects));
    report.push_str(&show("unexpected 503", &tally.unexpected_503));
    report.push_str(&show("other 5xx", &tally.server_errors));
    report.push_str(&show("transport errors", &tally.transport_errors));
    // Straight to the terminal, past the test harness's capture, so that CI's log has the report.
    let _ = std::io::stdout().lock().write_all(report.as_bytes());
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak-report.txt");
    let _ = std::fs::write(&path, &report);

    assert!(total_requests > 1000, "too little traffic to judge:\n{report}");
    assert!(tally.false_accepts.is_empty(), "{report}");
    assert!(tally.false_rejects.is_empty(), "{report}");
    assert!(tally.unexpected_503.is_empty(), "{report}");
    assert!(tally.server_errors.is_empty() && tally.transport_errors.is_empty(), "{report}");
    assert!(fetches_per_minute.iter().all(|&n| n <= bound), "{report}");
    assert!(last_rate <= bound, "{report}");
    // The schedule really exercised the key store: every 503 kind was seen during the long
    // outage, and valid tokens passed both before and after it.
    assert!(tally.by_kind.contains_key(&(Kind::ValidRepeated, 503)), "the long outage reached 503:\n{report}");
    drop(server);
}
