//! The signing-key store: discovery, then the JWKS from the discovered `jwks_uri`, shared by every
//! worker.
//!
//! * A successful refresh **replaces** the key set: a key the tenant no longer publishes is no
//!   longer trusted, and tokens it signed (cached ones included) are refused from then on, as an
//!   emergency rollover needs. When an answer drops keys, one confirming fetch is made at once
//!   and a key goes only if that answer lacks it too, so one replica's partial answer drops
//!   nothing. An empty or unusable set is a failed refresh.
//! * A failed refresh keeps the last good set: fresh for the TTL after its last successful
//!   fetch, then *stale* for up to the stale window while retries back off (capped, so a
//!   recovered endpoint is seen quickly), then *expired*: 503, never 401, for tokens whose key
//!   was in it.
//! * A token with an unknown `kid` triggers one refresh, at most once per cooldown, shared by every
//!   request waiting for it (single flight); the request that saw the new key succeeds in the same
//!   call. While refreshes fail, an unknown `kid` is 503 too: our view of the keys is the problem.
//! * A background task refreshes discovery and keys before they expire.
//! * A JWKS sent with an `ETag` is asked for again with `If-None-Match`; a 304 reuses the keys of
//!   that document without parsing anything.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

pub(crate) mod jwks;
mod timing;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
pub(crate) use jwks::SigningKey;
pub use timing::KeyStoreTiming;

use crate::authority::{Authority, IssuerPolicy, ProviderMetadata};
use crate::clock::SharedClock;
use crate::http::{self, Conditional, FetchError};
use crate::log_safe::clip;

/// While no usable keys are loaded, fetches on the request path are made at most this often.
const EMPTY_RETRY: Duration = Duration::from_secs(1);
/// Background refreshes happen at least this often (Microsoft: about hourly).
const MAX_REFRESH_INTERVAL: Duration = Duration::from_secs(3600);
const MAX_DISCOVERY_BYTES: usize = 256 * 1024;
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// How a token names its key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyRef<'a> {
    Kid(&'a str),
    X5t(&'a str),
}

/// Why no key could be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// No usable key set (never loaded, or expired past the stale window), or the key is
    /// unknown while refreshes fail: 503.
    Unavailable,
    /// The keys are loaded and current but none matches, even after a refresh.
    Unknown,
}

/// How current the key set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFreshness {
    /// No key set has been loaded yet: protected routes answer 503.
    NotLoaded,
    /// Confirmed by a fetch within the TTL.
    Fresh,
    /// Past the TTL and refreshes fail: the last good set still serves, within the stale window.
    Stale,
    /// Past the stale window with refreshes still failing: protected routes answer 503.
    Expired,
}

/// A point-in-time view of the store, for health checks and logs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyStoreStatus {
    /// Usable keys in the current set.
    pub keys: usize,
    /// Whether the set is fresh, stale or expired.
    pub freshness: KeyFreshness,
    /// Time since the current set was last confirmed by a successful fetch.
    pub age: Option<Duration>,
    /// When keys were last fetched successfully.
    pub last_success: Option<SystemTime>,
    /// The last fetch error, if the last fetch failed.
    pub last_error: Option<String>,
    /// Discovery documents fetched so far.
    pub discovery_fetches: u64,
    /// JWKS documents fetched so far (confirming fetches included).
    pub jwks_fetches: u64,
    /// Of those, the fetches answered 304 Not Modified (the cached set reused, nothing parsed).
    pub jwks_not_modified: u64,
    /// Keys dropped because the tenant stopped publishing them (confirmed by a second fetch).
    pub keys_withdrawn: u64,
}

/// Keys by `kid` or `x5t`. foldhash rather than SipHash: the map is looked up on every request
/// (a cache hit re-checks its key) and only ever holds what the tenant's JWKS published, so a
/// token's `kid` cannot flood it; the hasher is still seeded per map.
type KeyMap = HashMap<String, Arc<SigningKey>, foldhash::fast::RandomState>;

#[derive(Default)]
struct Snapshot {
    metadata: Option<Arc<ProviderMetadata>>,
    issuer_policy: Option<Arc<IssuerPolicy>>,
    by_kid: KeyMap,
    by_x5t: KeyMap,
    /// When the set was last confirmed by a successful fetch.
    confirmed_at: Option<SystemTime>,
}

/// What a lookup found.
enum Lookup {
    Usable(Arc<SigningKey>, Arc<IssuerPolicy>),
    /// The set is current and does not hold the key.
    Absent,
    /// No usable set: never loaded, or expired.
    NoUsableSet,
}

impl Snapshot {
    fn freshness(&self, now: SystemTime, timing: &KeyStoreTiming) -> KeyFreshness {
        // `confirmed_at` is set together with the metadata, by every successful fetch.
        match self.confirmed_at {
            None => KeyFreshness::NotLoaded,
            Some(at) => {
                let age = crate::clock::elapsed(at, now);
                if age < timing.ttl {
                    KeyFreshness::Fresh
                } else if age < timing.stale_window_end() {
                    KeyFreshness::Stale
                } else {
                    KeyFreshness::Expired
                }
            }
        }
    }

    fn get(&self, key_ref: KeyRef<'_>) -> Option<&Arc<SigningKey>> {
        match key_ref {
            KeyRef::Kid(kid) => self.by_kid.get(kid),
            KeyRef::X5t(x5t) => self.by_x5t.get(x5t),
        }
    }

    fn keys(&self) -> Vec<Arc<SigningKey>> {
        let mut keys: Vec<Arc<SigningKey>> = self.by_kid.values().cloned().collect();
        keys.extend(self.by_x5t.values().filter(|key| key.kid.is_none()).cloned());
        keys
    }
}

/// Held across a fetch: serialises fetches (single flight).
#[derive(Default)]
struct RefreshState {
    last_attempt: Option<SystemTime>,
    last_forced: Option<SystemTime>,
    jwks_validator: Option<JwksValidator>,
}

/// The last JWKS document that came with an `ETag`, and the keys parsed from it.
struct JwksValidator {
    uri: url::Url,
    etag: String,
    keys: Vec<Arc<SigningKey>>,
}

/// The outcome of the last fetch, readable without waiting for a fetch in progress.
#[derive(Default, Clone)]
struct FetchOutcome {
    last_success: Option<SystemTime>,
    last_error: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reason {
    /// No usable set (nothing loaded yet, or expired).
    Reload,
    /// A token named a key we do not have.
    UnknownKey,
    /// Periodic refresh of discovery and keys.
    Scheduled,
}

struct Inner {
    authority: Authority,
    http: reqwest::Client,
    clock: SharedClock,
    timing: KeyStoreTiming,
    snapshot: ArcSwap<Snapshot>,
    refresh: tokio::sync::Mutex<RefreshState>,
    outcome: std::sync::Mutex<FetchOutcome>,
    /// Whether the last fetch attempt failed (read on the request path without the lock).
    failing: AtomicBool,
    /// The freshness last reported in the log, so that each change is logged once.
    reported: AtomicU8,
    /// Completed fetch attempts; waiters compare it to know whether someone fetched for them.
    attempts: AtomicU64,
    /// Unix seconds of the last unknown-key refresh, read without the lock on the hot path.
    last_forced_unix: AtomicU64,
    discovery_fetches: AtomicU64,
    jwks_fetches: AtomicU64,
    jwks_not_modified: AtomicU64,
    keys_withdrawn: AtomicU64,
}

/// Discovery metadata and signing keys, shared by every worker (clones share one cache).
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("discovery_url", &http::display_url(&self.inner.authority.discovery_url))
            .field("timing", &self.inner.timing)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    pub(crate) fn new(authority: Authority, http: reqwest::Client, clock: SharedClock, timing: KeyStoreTiming) -> Self {
        Self {
            inner: Arc::new(Inner {
                authority,
                http,
                clock,
                timing,
                snapshot: ArcSwap::from_pointee(Snapshot::default()),
                refresh: tokio::sync::Mutex::new(RefreshState::default()),
                outcome: std::sync::Mutex::new(FetchOutcome::default()),
                failing: AtomicBool::new(false),
                reported: AtomicU8::new(Reported::Healthy as u8),
                attempts: AtomicU64::new(0),
                last_forced_unix: AtomicU64::new(0),
                discovery_fetches: AtomicU64::new(0),
                jwks_fetches: AtomicU64::new(0),
                jwks_not_modified: AtomicU64::new(0),
                keys_withdrawn: AtomicU64::new(0),
            }),
        }
    }

    /// Starts the background task that loads the keys and keeps them fresh. It stops when the
    /// last clone of the store is dropped. Does nothing outside a Tokio runtime (keys are then
    /// loaded by the first request).
    pub(crate) fn spawn_background_refresh(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(background(weak));
    }

    /// Loads discovery and keys now if none are loaded; returns whether keys are available.
    pub async fn ensure_loaded(&self) -> bool {
        if self.inner.snapshot.load().metadata.is_none() {
            self.refresh(Reason::Reload).await;
        }
        self.inner.snapshot.load().metadata.is_some()
    }

    /// Fetches discovery and the key set now, whatever their age (single flight with any fetch
    /// in progress). For health checks that want to force a look, and for tests that move a
    /// manual clock past the TTL (the background task sleeps in real time). Returns whether the
    /// fetch succeeded.
    pub async fn refresh_now(&self) -> bool {
        self.refresh(Reason::Scheduled).await;
        !self.inner.failing.load(Ordering::Acquire)
    }

    /// The discovery metadata, once loaded.
    pub fn metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.inner.snapshot.load().metadata.clone()
    }

    pub(crate) fn issuer_policy(&self) -> Option<Arc<IssuerPolicy>> {
        self.inner.snapshot.load().issuer_policy.clone()
    }

    /// The timing this store runs with.
    pub fn timing(&self) -> KeyStoreTiming {
        self.inner.timing
    }

    /// The state of the cache.
    pub fn status(&self) -> KeyStoreStatus {
        let snapshot = self.inner.snapshot.load();
        let now = self.inner.clock.now();
        let FetchOutcome { last_success, last_error } = self.outcome();
        KeyStoreStatus {
            keys: snapshot.by_kid.len().max(snapshot.by_x5t.len()),
            freshness: snapshot.freshness(now, &self.inner.timing),
            age: snapshot.confirmed_at.map(|at| crate::clock::elapsed(at, now)),
            last_success,
            last_error,
            discovery_fetches: self.inner.discovery_fetches.load(Ordering::Relaxed),
            jwks_fetches: self.inner.jwks_fetches.load(Ordering::Relaxed),
            jwks_not_modified: self.inner.jwks_not_modified.load(Ordering::Relaxed),
            keys_withdrawn: self.inner.keys_withdrawn.load(Ordering::Relaxed),
        }
    }

    /// Finds the key a token names, loading or refreshing the set when needed.
    pub(crate) async fn key(&self, key_ref: KeyRef<'_>) -> Result<(Arc<SigningKey>, Arc<IssuerPolicy>), KeyError> {
        match self.lookup(key_ref) {
            Lookup::Usable(key, policy) => return Ok((key, policy)),
            Lookup::NoUsableSet => {
                self.refresh(Reason::Reload).await;
                return match self.lookup(key_ref) {
                    Lookup::Usable(key, policy) => Ok((key, policy)),
                    Lookup::Absent => Err(self.unknown_key()),
                    Lookup::NoUsableSet => Err(KeyError::Unavailable),
                };
            }
            Lookup::Absent => {}
        }
        if self.in_cooldown() {
            tracing::debug!(key = %key_label(key_ref), "unknown signing key; refresh cooling down");
            return Err(self.unknown_key());
        }
        tracing::debug!(key = %key_label(key_ref), "unknown signing key; refreshing the key set");
        let fetched = self.refresh(Reason::UnknownKey).await;
        match self.lookup(key_ref) {
            Lookup::Usable(key, policy) => Ok((key, policy)),
            Lookup::NoUsableSet => Err(KeyError::Unavailable),
            Lookup::Absent => {
                // Once per cooldown at most (only the caller that fetched logs it), and only when
                // the tenant answered: a failed fetch has its own warning.
                if fetched && !self.inner.failing.load(Ordering::Acquire) {
                    tracing::warn!(
                        key = %key_label(key_ref),
                        "a token names a signing key the tenant does not publish, even after a refresh; an app \
                         with custom signing keys (claims mapping) needs AAD_OPENID_CONFIG_URL with ?appid=<client id>"
                    );
                }
                Err(self.unknown_key())
            }
        }
    }

    /// An unknown key is the token's problem only while our view of the keys is current.
    fn unknown_key(&self) -> KeyError {
        if self.inner.failing.load(Ordering::Acquire) { KeyError::Unavailable } else { KeyError::Unknown }
    }

    /// Whether a token verified with `key` under `policy` would still verify the same way: the
    /// key is still in the set, unchanged, the set is usable, and the issuer policy is the one in
    /// force (the verified-token cache calls it on every hit; lock-free).
    pub(crate) fn still_trusts(&self, key: &Arc<SigningKey>, policy: &Arc<IssuerPolicy>, now: SystemTime) -> bool {
        let snapshot = self.inner.snapshot.load();
        let policy_current = snapshot.issuer_policy.as_ref().is_some_and(|current| Arc::ptr_eq(current, policy));
        let key_ref = match (&key.kid, &key.x5t) {
            (Some(kid), _) => KeyRef::Kid(kid),
            (None, Some(x5t)) => KeyRef::X5t(x5t),
            (None, None) => return false,
        };
        policy_current
            && snapshot.get(key_ref).is_some_and(|cached| Arc::ptr_eq(cached, key))
            && matches!(snapshot.freshness(now, &self.inner.timing), KeyFreshness::Fresh | KeyFreshness::Stale)
    }

    fn outcome(&self) -> FetchOutcome {
        self.inner.outcome.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn lookup(&self, key_ref: KeyRef<'_>) -> Lookup {
        let snapshot = self.inner.snapshot.load();
        let now = self.inner.clock.now();
        let freshness = snapshot.freshness(now, &self.inner.timing);
        match freshness {
            KeyFreshness::Fresh => {}
            KeyFreshness::Stale => self.report(freshness),
            KeyFreshness::NotLoaded | KeyFreshness::Expired => {
                self.report(freshness);
                return Lookup::NoUsableSet;
            }
        }
        match (snapshot.get(key_ref), &snapshot.issuer_policy) {
            (Some(key), Some(policy)) => Lookup::Usable(key.clone(), policy.clone()),
            _ => Lookup::Absent,
        }
    }

    fn in_cooldown(&self) -> bool {
        let last = self.inner.last_forced_unix.load(Ordering::Acquire);
        last != 0
            && (self.inner.clock.unix_seconds().max(0) as u64)
                < last.saturating_add(self.inner.timing.refresh_cooldown.as_secs())
    }

    /// Logs each change of the set's health once: stale, expired, recovered.
    fn report(&self, freshness: KeyFreshness) {
        let now = match freshness {
            KeyFreshness::Stale => Reported::Stale,
            KeyFreshness::Expired => Reported::Expired,
            KeyFreshness::Fresh => Reported::Healthy,
            // Before the first load the failed fetch logs its own error.
            KeyFreshness::NotLoaded => return,
        };
        let before = self.inner.reported.swap(now as u8, Ordering::AcqRel);
        if before == now as u8 {
            return;
        }
        let stale_window = self.inner.timing.stale_ttl.as_secs();
        match now {
            Reported::Stale => tracing::warn!(
                stale_window_seconds = stale_window,
                "signing keys are past their TTL and refreshes fail; the last good keys keep serving for up to \
                 {stale_window} s more"
            ),
            Reported::Expired => tracing::error!(
                "signing keys expired past the stale window with refreshes still failing; protected routes answer \
                 503 until a refresh succeeds"
            ),
            Reported::Healthy => {
                tracing::info!("signing keys recovered: a refresh succeeded after the key set went stale");
            }
        }
    }

    /// Fetches, once for everyone waiting: a caller that waited while another fetch completed
    /// uses that fetch's result instead of starting its own. Returns whether this call fetched
    /// (false when it waited for another caller's fetch or was held back by a cooldown or retry
    /// interval).
    async fn refresh(&self, reason: Reason) -> bool {
        let seen = self.inner.attempts.load(Ordering::Acquire);
        let mut state = self.inner.refresh.lock().await;
        if self.inner.attempts.load(Ordering::Acquire) != seen && reason != Reason::Scheduled {
            return false;
        }
        let now = self.inner.clock.now();
        match reason {
            Reason::Reload => {
                if state.last_attempt.is_some_and(|last| crate::clock::elapsed(last, now) < EMPTY_RETRY) {
                    return false;
                }
            }
            Reason::UnknownKey => {
                let cooldown = self.inner.timing.refresh_cooldown;
                if state.last_forced.is_some_and(|last| crate::clock::elapsed(last, now) < cooldown) {
                    return false;
                }
                state.last_forced = Some(now);
                let unix = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                self.inner.last_forced_unix.store(unix.max(1), Ordering::Release);
            }
            Reason::Scheduled => {}
        }
        state.last_attempt = Some(now);
        let result = self.fetch(reason, &mut state).await;
        let mut outcome = self.outcome();
        match result {
            Ok(()) => {
                outcome.last_success = Some(self.inner.clock.now());
                outcome.last_error = None;
                self.inner.failing.store(false, Ordering::Release);
                self.report(KeyFreshness::Fresh);
            }
            Err(error) => {
                let message = error.to_string();
                self.inner.failing.store(true, Ordering::Release);
                let snapshot = self.inner.snapshot.load();
                match snapshot.freshness(self.inner.clock.now(), &self.inner.timing) {
                    KeyFreshness::NotLoaded => tracing::error!(
                        error = %message,
                        "cannot load signing keys; protected routes answer 503 until they load"
                    ),
                    freshness => {
                        tracing::warn!(error = %message, "signing key refresh failed; keeping the last good keys");
                        self.report(freshness);
                    }
                }
                outcome.last_error = Some(message);
            }
        }
        if let Ok(mut shared) = self.inner.outcome.lock() {
            *shared = outcome;
        }
        self.inner.attempts.fetch_add(1, Ordering::AcqRel);
        true
    }

    async fn fetch(&self, reason: Reason, state: &mut RefreshState) -> Result<(), FetchError> {
        let current = self.inner.snapshot.load_full();
        let metadata = match (&current.metadata, reason) {
            (Some(metadata), Reason::UnknownKey) => metadata.clone(),
            _ => {
                let url = &self.inner.authority.discovery_url;
                self.inner.discovery_fetches.fetch_add(1, Ordering::Relaxed);
                let body = http::get_bytes(&self.inner.http, url, MAX_DISCOVERY_BYTES).await?;
                let metadata = self
                    .inner
                    .authority
                    .parse_metadata(&body)
                    .map_err(|reason| FetchError::Invalid { url: http::display_url(url), reason })?;
                Arc::new(metadata)
            }
        };
        let first = self.fetch_jwks(&metadata, state).await?;
        let old = current.keys();
        let dropped: Vec<Arc<SigningKey>> = old.iter().filter(|key| !contains(&first, key)).cloned().collect();
        let keys = if dropped.is_empty() {
            first
        } else {
            // One answer without a key we hold may come from one lagging replica: ask again, and
            // drop only the keys that this answer lacks too.
            match self.fetch_jwks(&metadata, state).await {
                Ok(second) => union(first, second),
                Err(error) => {
                    tracing::warn!(
                        error = %error,
                        "a JWKS answer left out signing keys, but the confirming fetch failed; keeping them for now"
                    );
                    union(first, dropped)
                }
            }
        };
        let withdrawn: Vec<String> = old.iter().filter(|key| !contains(&keys, key)).map(|key| label(key)).collect();
        if !withdrawn.is_empty() {
            self.inner.keys_withdrawn.fetch_add(withdrawn.len() as u64, Ordering::Relaxed);
            tracing::warn!(
                withdrawn = ?withdrawn,
                "signing keys withdrawn by the tenant (confirmed by a second fetch); tokens they signed are refused"
            );
        }
        self.replace(&current, metadata, keys);
        Ok(())
    }

    /// One JWKS fetch: a usable, non-empty key set or an error.
    async fn fetch_jwks(
        &self,
        metadata: &ProviderMetadata,
        state: &mut RefreshState,
    ) -> Result<Vec<Arc<SigningKey>>, FetchError> {
        self.inner.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let shown = http::display_url(&metadata.jwks_uri);
        let validator = state.jwks_validator.as_ref().filter(|validator| validator.uri == metadata.jwks_uri);
        let etag = validator.map(|validator| validator.etag.as_str());
        let keys = match http::get_conditional(&self.inner.http, &metadata.jwks_uri, MAX_JWKS_BYTES, etag).await? {
            // Only a request that sent the validator's ETag can be answered 304.
            Conditional::NotModified => {
                self.inner.jwks_not_modified.fetch_add(1, Ordering::Relaxed);
                validator.map(|validator| validator.keys.clone()).unwrap_or_default()
            }
            Conditional::Modified { body, etag } => {
                let (keys, skipped) =
                    jwks::parse(&body).map_err(|reason| FetchError::Invalid { url: shown.clone(), reason })?;
                for (kid, why) in &skipped {
                    tracing::debug!(kid = kid.as_deref().unwrap_or("-"), reason = ?why, "skipped an unusable JWKS key");
                }
                let keys: Vec<Arc<SigningKey>> = keys.into_iter().map(Arc::new).collect();
                state.jwks_validator =
                    etag.map(|etag| JwksValidator { uri: metadata.jwks_uri.clone(), etag, keys: keys.clone() });
                keys
            }
        };
        if keys.is_empty() {
            return Err(FetchError::Invalid { url: shown, reason: "no usable RS256 signing key in the set".into() });
        }
        Ok(keys)
    }

    /// Installs `keys` as the whole set, confirmed now.
    fn replace(&self, current: &Snapshot, metadata: Arc<ProviderMetadata>, keys: Vec<Arc<SigningKey>>) {
        let mut by_kid = KeyMap::default();
        let mut by_x5t = KeyMap::default();
        let mut added = Vec::new();
        for key in keys {
            let previous = key
                .kid
                .as_deref()
                .map(KeyRef::Kid)
                .or_else(|| key.x5t.as_deref().map(KeyRef::X5t))
                .and_then(|key_ref| current.get(key_ref));
            // Keep the same Arc when the key is unchanged, so verified-token cache entries stay valid.
            let key = match previous {
                Some(previous) if same_key(previous, &key) => previous.clone(),
                _ => {
                    added.push(label(&key));
                    key
                }
            };
            if let Some(kid) = &key.kid {
                by_kid.insert(kid.clone(), key.clone());
            }
            if let Some(x5t) = &key.x5t {
                by_x5t.insert(x5t.clone(), key);
            }
        }
        if !added.is_empty() {
            tracing::info!(added = ?added, total = by_kid.len().max(by_x5t.len()), "signing keys updated");
        }
        // Keep the same policy while the issuer is unchanged, so that verified-token cache
        // entries survive a routine refresh; a changed issuer invalidates every entry.
        let issuer_policy = match (&current.metadata, &current.issuer_policy) {
            (Some(previous), Some(policy)) if previous.issuer == metadata.issuer => policy.clone(),
            _ => Arc::new(IssuerPolicy::new(&metadata)),
        };
        self.inner.snapshot.store(Arc::new(Snapshot {
            metadata: Some(metadata),
            issuer_policy: Some(issuer_policy),
            by_kid,
            by_x5t,
            confirmed_at: Some(self.inner.clock.now()),
        }));
    }
}

/// What the log last said about the set's health.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Reported {
    Healthy = 0,
    Stale = 1,
    Expired = 2,
}

/// Same identifiers, same key material, same per-key issuer.
fn same_key(a: &SigningKey, b: &SigningKey) -> bool {
    a.kid == b.kid && a.x5t == b.x5t && a.material == b.material && a.issuer == b.issuer
}

fn contains(keys: &[Arc<SigningKey>], key: &SigningKey) -> bool {
    keys.iter().any(|candidate| same_key(candidate, key))
}

/// The keys of both answers, each once.
fn union(mut first: Vec<Arc<SigningKey>>, second: Vec<Arc<SigningKey>>) -> Vec<Arc<SigningKey>> {
    for key in second {
        if !contains(&first, &key) {
            first.push(key);
        }
    }
    first
}

fn label(key: &SigningKey) -> String {
    clip(key.kid.as_deref().or(key.x5t.as_deref()).unwrap_or_default())
}

fn key_label(key_ref: KeyRef<'_>) -> String {
    match key_ref {
        KeyRef::Kid(kid) => format!("kid={}", clip(kid)),
        KeyRef::X5t(x5t) => format!("x5t={}", clip(x5t)),
    }
}

async fn background(weak: Weak<Inner>) {
    let mut failures = 0u32;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let store = KeyStore { inner };
        let loaded_before = store.inner.snapshot.load().metadata.is_some();
        store.refresh(if loaded_before { Reason::Scheduled } else { Reason::Reload }).await;
        let timing = store.inner.timing;
        let pause = if store.inner.failing.load(Ordering::Acquire) {
            failures = failures.saturating_add(1);
            Duration::from_millis(500u64 << failures.min(10)).min(timing.max_backoff)
        } else {
            failures = 0;
            timing.ttl.checked_div(2).unwrap_or(timing.ttl).min(MAX_REFRESH_INTERVAL)
        };
        drop(store);
        tokio::time::sleep(pause).await;
    }
}
