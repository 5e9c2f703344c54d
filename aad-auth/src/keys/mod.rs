//! The signing-key store: discovery, then the JWKS from the discovered `jwks_uri`, shared by every
//! worker.
//!
//! * Keys are cached by `kid` (and `x5t`) for `AAD_JWKS_CACHE_TTL`, renewed each time a fetch
//!   sees them again; a fetch merges into the cache instead of replacing it, and a failed fetch
//!   keeps the last good keys.
//! * A token with an unknown `kid` triggers one refresh, at most once per [`KEY_REFRESH_COOLDOWN`],
//!   shared by every request waiting for it (single flight); the request that saw the new key
//!   succeeds in the same call.
//! * A background task refreshes discovery and keys before they expire.
//! * A JWKS sent with an `ETag` is asked for again with `If-None-Match`; a 304 reuses the keys of
//!   that document without parsing anything.

mod jwks;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
pub(crate) use jwks::SigningKey;

use crate::authority::{Authority, IssuerPolicy, ProviderMetadata};
use crate::clock::SharedClock;
use crate::http::{self, Conditional, FetchError};
use crate::log_safe::clip;

/// Unknown-`kid` refreshes happen at most this often (Microsoft's guidance: 5 minutes), so that
/// tokens with made-up `kid`s cannot turn into a flood of requests to the identity provider.
pub const KEY_REFRESH_COOLDOWN: Duration = Duration::from_secs(300);
/// While no keys have ever been loaded, fetches are retried at most this often.
const EMPTY_RETRY: Duration = Duration::from_secs(1);
/// Longest pause between background retries while the provider is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
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
    /// No key has ever been loaded (discovery or JWKS unreachable): 503.
    Unavailable,
    /// The keys are loaded but none matches, even after a refresh.
    Unknown,
}

/// A point-in-time view of the store, for health checks and logs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyStoreStatus {
    /// Usable keys currently cached.
    pub keys: usize,
    /// When keys were last fetched successfully.
    pub last_success: Option<SystemTime>,
    /// The last fetch error, if the last fetch failed.
    pub last_error: Option<String>,
    /// Discovery documents fetched so far.
    pub discovery_fetches: u64,
    /// JWKS documents fetched so far.
    pub jwks_fetches: u64,
    /// Of those, the fetches answered 304 Not Modified (the cached set reused, nothing parsed).
    pub jwks_not_modified: u64,
}

struct CachedKey {
    key: Arc<SigningKey>,
    expires_at: SystemTime,
}

#[derive(Default)]
struct Snapshot {
    metadata: Option<Arc<ProviderMetadata>>,
    issuer_policy: Option<Arc<IssuerPolicy>>,
    by_kid: HashMap<String, Arc<CachedKey>>,
    by_x5t: HashMap<String, Arc<CachedKey>>,
}

impl Snapshot {
    fn find(&self, key_ref: KeyRef<'_>, now: SystemTime) -> Option<&Arc<CachedKey>> {
        let found = match key_ref {
            KeyRef::Kid(kid) => self.by_kid.get(kid),
            KeyRef::X5t(x5t) => self.by_x5t.get(x5t),
        }?;
        (found.expires_at > now).then_some(found)
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
    /// Nothing loaded yet.
    Empty,
    /// A token named a key we do not have.
    UnknownKey,
    /// Periodic refresh of discovery and keys.
    Scheduled,
}

struct Inner {
    authority: Authority,
    http: reqwest::Client,
    clock: SharedClock,
    ttl: Duration,
    snapshot: ArcSwap<Snapshot>,
    refresh: tokio::sync::Mutex<RefreshState>,
    outcome: std::sync::Mutex<FetchOutcome>,
    /// Completed fetch attempts; waiters compare it to know whether someone fetched for them.
    attempts: AtomicU64,
    /// Unix seconds of the last unknown-key refresh, read without the lock on the hot path.
    last_forced_unix: AtomicU64,
    discovery_fetches: AtomicU64,
    jwks_fetches: AtomicU64,
    jwks_not_modified: AtomicU64,
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
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    pub(crate) fn new(authority: Authority, http: reqwest::Client, clock: SharedClock, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                authority,
                http,
                clock,
                ttl,
                snapshot: ArcSwap::from_pointee(Snapshot::default()),
                refresh: tokio::sync::Mutex::new(RefreshState::default()),
                outcome: std::sync::Mutex::new(FetchOutcome::default()),
                attempts: AtomicU64::new(0),
                last_forced_unix: AtomicU64::new(0),
                discovery_fetches: AtomicU64::new(0),
                jwks_fetches: AtomicU64::new(0),
                jwks_not_modified: AtomicU64::new(0),
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
            self.refresh(Reason::Empty).await;
        }
        self.inner.snapshot.load().metadata.is_some()
    }

    /// The discovery metadata, once loaded.
    pub fn metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.inner.snapshot.load().metadata.clone()
    }

    pub(crate) fn issuer_policy(&self) -> Option<Arc<IssuerPolicy>> {
        self.inner.snapshot.load().issuer_policy.clone()
    }

    /// The state of the cache.
    pub fn status(&self) -> KeyStoreStatus {
        let snapshot = self.inner.snapshot.load();
        let FetchOutcome { last_success, last_error } = self.outcome();
        KeyStoreStatus {
            keys: snapshot.by_kid.len().max(snapshot.by_x5t.len()),
            last_success,
            last_error,
            discovery_fetches: self.inner.discovery_fetches.load(Ordering::Relaxed),
            jwks_fetches: self.inner.jwks_fetches.load(Ordering::Relaxed),
            jwks_not_modified: self.inner.jwks_not_modified.load(Ordering::Relaxed),
        }
    }

    /// Finds the key a token names, loading or refreshing the set when needed.
    pub(crate) async fn key(&self, key_ref: KeyRef<'_>) -> Result<(Arc<SigningKey>, Arc<IssuerPolicy>), KeyError> {
        if let Some(found) = self.lookup(key_ref) {
            return Ok(found);
        }
        if self.inner.snapshot.load().metadata.is_none() {
            self.refresh(Reason::Empty).await;
            if self.inner.snapshot.load().metadata.is_none() {
                return Err(KeyError::Unavailable);
            }
        } else {
            if self.in_cooldown() {
                tracing::debug!(key = %key_label(key_ref), "unknown signing key; refresh cooling down");
                return Err(KeyError::Unknown);
            }
            tracing::debug!(key = %key_label(key_ref), "unknown signing key; refreshing the key set");
            let fetched = self.refresh(Reason::UnknownKey).await;
            let found = self.lookup(key_ref);
            // Once per cooldown at most (only the caller that fetched logs it), and only when the
            // tenant answered: a failed fetch has its own warning.
            if found.is_none() && fetched {
                tracing::warn!(
                    key = %key_label(key_ref),
                    "a token names a signing key the tenant does not publish, even after a refresh; an app with \
                     custom signing keys (claims mapping) needs AAD_OPENID_CONFIG_URL with ?appid=<client id>"
                );
            }
            return found.ok_or(KeyError::Unknown);
        }
        self.lookup(key_ref).ok_or(KeyError::Unknown)
    }

    /// Whether the key a token was verified with is still current (used by the verified-token
    /// cache: entries die with their key).
    pub(crate) fn is_current(&self, key: &Arc<SigningKey>, now: SystemTime) -> bool {
        let snapshot = self.inner.snapshot.load();
        let key_ref = match (&key.kid, &key.x5t) {
            (Some(kid), _) => KeyRef::Kid(kid),
            (None, Some(x5t)) => KeyRef::X5t(x5t),
            (None, None) => return false,
        };
        snapshot.find(key_ref, now).is_some_and(|cached| Arc::ptr_eq(&cached.key, key))
    }

    /// Whether a token verified with `key` under `policy` would still verify the same way: the
    /// key is still cached, unexpired and unchanged, and the issuer policy is the one in force
    /// (the verified-token cache calls it on every hit; lock-free).
    pub(crate) fn still_trusts(&self, key: &Arc<SigningKey>, policy: &Arc<IssuerPolicy>, now: SystemTime) -> bool {
        let policy_current =
            self.inner.snapshot.load().issuer_policy.as_ref().is_some_and(|current| Arc::ptr_eq(current, policy));
        policy_current && self.is_current(key, now)
    }

    fn outcome(&self) -> FetchOutcome {
        self.inner.outcome.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn lookup(&self, key_ref: KeyRef<'_>) -> Option<(Arc<SigningKey>, Arc<IssuerPolicy>)> {
        let snapshot = self.inner.snapshot.load();
        let cached = snapshot.find(key_ref, self.inner.clock.now())?;
        Some((cached.key.clone(), snapshot.issuer_policy.clone()?))
    }

    fn in_cooldown(&self) -> bool {
        let last = self.inner.last_forced_unix.load(Ordering::Acquire);
        last != 0 && (self.inner.clock.unix_seconds().max(0) as u64) < last + KEY_REFRESH_COOLDOWN.as_secs()
    }

    /// Fetches, once for everyone waiting: a caller that waited while another fetch completed
    /// uses that fetch's result instead of starting its own. Returns whether this call fetched a
    /// key set (false when it waited for another caller's fetch, was held back by a cooldown, or
    /// failed).
    async fn refresh(&self, reason: Reason) -> bool {
        let seen = self.inner.attempts.load(Ordering::Acquire);
        let mut state = self.inner.refresh.lock().await;
        if self.inner.attempts.load(Ordering::Acquire) != seen && reason != Reason::Scheduled {
            return false;
        }
        let now = self.inner.clock.now();
        match reason {
            Reason::Empty => {
                if state.last_attempt.is_some_and(|last| crate::clock::elapsed(last, now) < EMPTY_RETRY) {
                    return false;
                }
            }
            Reason::UnknownKey => {
                if state.last_forced.is_some_and(|last| crate::clock::elapsed(last, now) < KEY_REFRESH_COOLDOWN) {
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
        let fetched = result.is_ok();
        let mut outcome = self.outcome();
        match result {
            Ok(()) => {
                outcome.last_success = Some(self.inner.clock.now());
                outcome.last_error = None;
            }
            Err(error) => {
                let message = error.to_string();
                if self.inner.snapshot.load().metadata.is_some() {
                    tracing::warn!(error = %message, "signing key refresh failed; keeping the last good keys");
                } else {
                    tracing::error!(error = %message, "cannot load signing keys; protected routes answer 503 until they load");
                }
                outcome.last_error = Some(message);
            }
        }
        if let Ok(mut shared) = self.inner.outcome.lock() {
            *shared = outcome;
        }
        self.inner.attempts.fetch_add(1, Ordering::AcqRel);
        fetched
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
        self.merge(&current, metadata, keys);
        Ok(())
    }

    /// New keys are added or renewed by `kid`; cached keys the fetch did not list stay until they
    /// expire, so a partial or flapping key set never removes a key early.
    fn merge(&self, current: &Snapshot, metadata: Arc<ProviderMetadata>, keys: Vec<Arc<SigningKey>>) {
        let now = self.inner.clock.now();
        let expires_at = now + self.inner.ttl;
        let mut by_kid: HashMap<String, Arc<CachedKey>> = current
            .by_kid
            .iter()
            .filter(|(_, key)| key.expires_at > now)
            .map(|(kid, key)| (kid.clone(), key.clone()))
            .collect();
        let mut by_x5t: HashMap<String, Arc<CachedKey>> = current
            .by_x5t
            .iter()
            .filter(|(_, key)| key.expires_at > now)
            .map(|(x5t, key)| (x5t.clone(), key.clone()))
            .collect();
        let mut added = Vec::new();
        for key in keys {
            let previous = key
                .kid
                .as_ref()
                .and_then(|kid| by_kid.get(kid))
                .or_else(|| key.x5t.as_ref().and_then(|x5t| by_x5t.get(x5t)));
            // Keep the same Arc when the key is unchanged, so verified-token cache entries stay valid.
            let key = match previous {
                Some(previous) if previous.key.material == key.material && previous.key.issuer == key.issuer => {
                    previous.key.clone()
                }
                _ => {
                    added.push(key.kid.clone().or_else(|| key.x5t.clone()).unwrap_or_default());
                    key
                }
            };
            let cached = Arc::new(CachedKey { key: key.clone(), expires_at });
            if let Some(kid) = &key.kid {
                by_kid.insert(kid.clone(), cached.clone());
            }
            if let Some(x5t) = &key.x5t {
                by_x5t.insert(x5t.clone(), cached);
            }
        }
        if !added.is_empty() {
            let added: Vec<String> = added.iter().map(|kid| clip(kid)).collect();
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
        }));
    }
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
        store.refresh(if loaded_before { Reason::Scheduled } else { Reason::Empty }).await;
        let ok = store.outcome().last_error.is_none();
        let pause = if ok {
            failures = 0;
            (store.inner.ttl / 2).min(MAX_REFRESH_INTERVAL)
        } else {
            failures = failures.saturating_add(1);
            Duration::from_secs(1u64 << failures.min(6)).min(MAX_BACKOFF)
        };
        drop(store);
        tokio::time::sleep(pause).await;
    }
}
