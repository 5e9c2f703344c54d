//! The server-side token cache: the tokens of each login session, never in a cookie. In memory
//! (one process) or in Redis (shared by every instance, encrypted at rest with a key derived from
//! `SESSION_SECRET`).

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::failure::report;
use crate::clock::SharedClock;

const REDIS_PREFIX: &str = "aad-auth:tokens:";
/// Memory cache capacity (sessions); the oldest are evicted first.
const MEMORY_CAPACITY: usize = 100_000;
/// Memory capacity for other values (downstream tokens of bearer callers and of the app).
const MEMORY_BLOB_CAPACITY: usize = 10_000;
/// Downstream tokens kept per session: past this, the one expiring first goes.
const DOWNSTREAM_PER_SESSION: usize = 16;

/// The tokens of one session.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct TokenEntry {
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
    /// `exp` of the access token (Unix seconds).
    pub(crate) expires_at: i64,
    pub(crate) scope: String,
    /// The session's groups when too many for the cookie.
    #[serde(default)]
    pub(crate) groups: Vec<String>,
    /// End of the session: the entry is dropped then.
    pub(crate) session_expires_at: i64,
    /// Tokens for other APIs obtained with the refresh token, by their scopes' key.
    #[serde(default)]
    pub(crate) downstream: Vec<DownstreamToken>,
}

/// A token for another API, kept with the session whose refresh token obtained it, so that it
/// ends with the session (logout, idle timeout, expiry).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct DownstreamToken {
    /// The scopes' key (`downstream::scopes_key`).
    pub(crate) scopes: String,
    pub(crate) access_token: String,
    /// Unix seconds.
    pub(crate) expires_at: i64,
}

impl TokenEntry {
    /// The kept token for `scopes`, if it is valid for `margin` more seconds at `now`.
    pub(crate) fn downstream_token(&self, scopes: &str, now: i64, margin: i64) -> Option<&DownstreamToken> {
        self.downstream.iter().find(|token| token.scopes == scopes && token.expires_at.saturating_sub(margin) > now)
    }

    /// Keeps `token`, replacing the one for the same scopes; past the bound the token that
    /// expires first goes.
    pub(crate) fn keep_downstream(&mut self, token: DownstreamToken) {
        self.downstream.retain(|kept| kept.scopes != token.scopes);
        while self.downstream.len() >= DOWNSTREAM_PER_SESSION {
            let Some(first) = self.downstream.iter().enumerate().min_by_key(|(_, kept)| kept.expires_at) else { break };
            let index = first.0;
            self.downstream.remove(index);
        }
        self.downstream.push(token);
    }
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Where tokens are cached.
#[derive(Clone)]
pub(crate) struct TokenCache {
    backend: Backend,
    clock: SharedClock,
}

/// A value of [`TokenCache::put_blob`] and the Unix second it expires at.
type Blob = (Vec<u8>, i64);

#[derive(Clone)]
enum Backend {
    Memory {
        entries: Arc<quick_cache::sync::Cache<String, Arc<TokenEntry>>>,
        /// Other values, with the Unix second they expire at.
        blobs: Arc<quick_cache::sync::Cache<String, Arc<Blob>>>,
    },
    Redis {
        pool: deadpool_redis::Pool,
        key: Arc<LessSafeKey>,
    },
}

impl TokenCache {
    pub(crate) fn memory(clock: SharedClock) -> Self {
        Self {
            backend: Backend::Memory {
                entries: Arc::new(quick_cache::sync::Cache::new(MEMORY_CAPACITY)),
                blobs: Arc::new(quick_cache::sync::Cache::new(MEMORY_BLOB_CAPACITY)),
            },
            clock,
        }
    }

    /// `master` is the session key's bytes; the encryption key is derived from it (HKDF), so the
    /// cookie key itself never encrypts anything else.
    pub(crate) fn redis(pool: deadpool_redis::Pool, master: &[u8], clock: SharedClock) -> Self {
        let salt = aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"aad-auth token cache v1");
        let prk = salt.extract(master);
        let mut bytes = [0u8; 32];
        let key = prk
            .expand(&[b"aes-256-gcm"], &AES_256_GCM)
            .and_then(|okm| okm.fill(&mut bytes))
            .ok()
            .and_then(|()| UnboundKey::new(&AES_256_GCM, &bytes).ok())
            .map(LessSafeKey::new);
        match key {
            Some(key) => Self { backend: Backend::Redis { pool, key: Arc::new(key) }, clock },
            None => {
                tracing::error!("cannot derive the token cache key; tokens will be kept in memory");
                Self::memory(clock)
            }
        }
    }

    pub(crate) async fn get(&self, sid: &str) -> Option<TokenEntry> {
        let now = self.clock.unix_seconds();
        match &self.backend {
            Backend::Memory { entries: cache, .. } => {
                let entry = cache.get(sid)?;
                if entry.session_expires_at <= now {
                    cache.remove(sid);
                    return None;
                }
                Some((*entry).clone())
            }
            Backend::Redis { pool, key } => {
                let sealed = redis_get(pool, sid).await?;
                let entry: TokenEntry = serde_json::from_slice(&open(key, &sealed, sid)?).ok()?;
                (entry.session_expires_at > now).then_some(entry)
            }
        }
    }

    pub(crate) async fn put(&self, sid: &str, entry: TokenEntry) {
        self.store(sid, entry, false).await;
    }

    /// Applies `change` to the entry of `sid` if it still exists: logout or the idle timeout may
    /// have removed it while the caller waited for Entra, and an ended session's tokens must not
    /// come back. The entry is read again just before, so that what others wrote meanwhile is
    /// kept (a write between this read and the write can still be lost: a token then asked for
    /// again).
    pub(crate) async fn update(&self, sid: &str, change: impl FnOnce(&mut TokenEntry)) {
        let Some(mut entry) = self.get(sid).await else { return };
        change(&mut entry);
        self.store(sid, entry, true).await;
    }

    /// Writes the entry; with `existing_only`, only over an entry still there.
    async fn store(&self, sid: &str, entry: TokenEntry, existing_only: bool) {
        let ttl = entry.session_expires_at.saturating_sub(self.clock.unix_seconds());
        if ttl <= 0 {
            return;
        }
        match &self.backend {
            Backend::Memory { entries, .. } if existing_only => {
                // Not there any more: nothing to update.
                let _ = entries.replace(sid.to_owned(), Arc::new(entry), false);
            }
            Backend::Memory { entries, .. } => entries.insert(sid.to_owned(), Arc::new(entry)),
            Backend::Redis { pool, key } => {
                let Ok(json) = serde_json::to_vec(&entry) else { return };
                let Some(sealed) = seal(key, &json, sid) else { return };
                redis_set(pool, sid, sealed, ttl, existing_only).await;
            }
        }
    }

    pub(crate) async fn remove(&self, sid: &str) {
        match &self.backend {
            Backend::Memory { entries, .. } => {
                entries.remove(sid);
            }
            Backend::Redis { pool, .. } => match pool.get().await {
                Ok(mut connection) => {
                    let result: Result<(), _> =
                        redis::cmd("DEL").arg(format!("{REDIS_PREFIX}{sid}")).query_async(&mut *connection).await;
                    if let Err(error) = result {
                        report("token cache delete failed", &error);
                    }
                }
                Err(error) => {
                    report("token cache unreachable", &error);
                }
            },
        }
    }
}

impl TokenCache {
    /// A value kept by [`TokenCache::put_blob`] under `key`, until it expires.
    pub(crate) async fn get_blob(&self, key: &str) -> Option<Vec<u8>> {
        let now = self.clock.unix_seconds();
        match &self.backend {
            Backend::Memory { blobs, .. } => {
                let blob = blobs.get(key)?;
                if blob.1 <= now {
                    blobs.remove(key);
                    return None;
                }
                Some(blob.0.clone())
            }
            Backend::Redis { pool, key: sealing } => open(sealing, &redis_get(pool, key).await?, key),
        }
    }

    /// Keeps `value` under `key` until `expires_at` (Unix seconds): in memory, or sealed
    /// (AES-256-GCM) in Redis. A value that cannot be kept is only logged: the caller got its
    /// token anyway.
    pub(crate) async fn put_blob(&self, key: &str, value: Vec<u8>, expires_at: i64) {
        let ttl = expires_at.saturating_sub(self.clock.unix_seconds());
        if ttl <= 0 {
            return;
        }
        match &self.backend {
            Backend::Memory { blobs, .. } => blobs.insert(key.to_owned(), Arc::new((value, expires_at))),
            Backend::Redis { pool, key: sealing } => {
                let Some(sealed) = seal(sealing, &value, key) else { return };
                redis_set(pool, key, sealed, ttl, false).await;
            }
        }
    }
}

/// The sealed value under `key` (after the prefix); `None` when absent or Redis is away (logged).
async fn redis_get(pool: &deadpool_redis::Pool, key: &str) -> Option<String> {
    let mut connection = pool.get().await.map_err(|error| report("token cache unreachable", &error)).ok()?;
    redis::cmd("GET")
        .arg(format!("{REDIS_PREFIX}{key}"))
        .query_async::<Option<String>>(&mut *connection)
        .await
        .map_err(|error| report("token cache read failed", &error))
        .ok()?
}

/// Stores `sealed` under `key` (after the prefix) for `ttl` seconds, with `existing_only` only
/// over a value still there (`XX`); a failure is logged.
async fn redis_set(pool: &deadpool_redis::Pool, key: &str, sealed: String, ttl: i64, existing_only: bool) {
    let Ok(mut connection) = pool.get().await.map_err(|error| report("token cache unreachable", &error)) else {
        return;
    };
    let mut command = redis::cmd("SET");
    command.arg(format!("{REDIS_PREFIX}{key}")).arg(sealed).arg("EX").arg(ttl);
    if existing_only {
        command.arg("XX");
    }
    // `XX` answers nil when nothing was there: not an error.
    let result: Result<Option<String>, _> = command.query_async(&mut *connection).await;
    if let Err(error) = result {
        report("token cache write failed", &error);
    }
}

/// Seals `plaintext` for the entry `name`: the name is the additional data, so that a value
/// copied to another key in Redis (another session's, say) does not open there.
fn seal(key: &LessSafeKey, plaintext: &[u8], name: &str) -> Option<String> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).ok()?;
    let mut buffer = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(name.as_bytes()), &mut buffer).ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buffer);
    Some(base64::engine::general_purpose::STANDARD_NO_PAD.encode(out))
}

fn open(key: &LessSafeKey, sealed: &str, name: &str) -> Option<Vec<u8>> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buffer = ciphertext.to_vec();
    let plaintext = key.open_in_place(nonce, Aad::from(name.as_bytes()), &mut buffer).ok()?;
    Some(plaintext.to_vec())
}
