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

#[derive(Clone)]
enum Backend {
    Memory(Arc<quick_cache::sync::Cache<String, Arc<TokenEntry>>>),
    Redis { pool: deadpool_redis::Pool, key: Arc<LessSafeKey> },
}

impl TokenCache {
    pub(crate) fn memory(clock: SharedClock) -> Self {
        Self { backend: Backend::Memory(Arc::new(quick_cache::sync::Cache::new(MEMORY_CAPACITY))), clock }
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
            Backend::Memory(cache) => {
                let entry = cache.get(sid)?;
                if entry.session_expires_at <= now {
                    cache.remove(sid);
                    return None;
                }
                Some((*entry).clone())
            }
            Backend::Redis { pool, key } => {
                let mut connection =
                    pool.get().await.map_err(|error| report("token cache unreachable", &error)).ok()?;
                let sealed: Option<String> = redis::cmd("GET")
                    .arg(format!("{REDIS_PREFIX}{sid}"))
                    .query_async(&mut *connection)
                    .await
                    .map_err(|error| report("token cache read failed", &error))
                    .ok()?;
                let entry: TokenEntry = serde_json::from_slice(&open(key, &sealed?)?).ok()?;
                (entry.session_expires_at > now).then_some(entry)
            }
        }
    }

    pub(crate) async fn put(&self, sid: &str, entry: TokenEntry) {
        let ttl = entry.session_expires_at.saturating_sub(self.clock.unix_seconds());
        if ttl <= 0 {
            return;
        }
        match &self.backend {
            Backend::Memory(cache) => cache.insert(sid.to_owned(), Arc::new(entry)),
            Backend::Redis { pool, key } => {
                let Ok(json) = serde_json::to_vec(&entry) else { return };
                let Some(sealed) = seal(key, &json) else { return };
                let Ok(mut connection) = pool.get().await.map_err(|error| report("token cache unreachable", &error))
                else {
                    return;
                };
                let result: Result<(), _> = redis::cmd("SET")
                    .arg(format!("{REDIS_PREFIX}{sid}"))
                    .arg(sealed)
                    .arg("EX")
                    .arg(ttl)
                    .query_async(&mut *connection)
                    .await;
                if let Err(error) = result {
                    report("token cache write failed", &error);
                }
            }
        }
    }

    pub(crate) async fn remove(&self, sid: &str) {
        match &self.backend {
            Backend::Memory(cache) => {
                cache.remove(sid);
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

fn seal(key: &LessSafeKey, plaintext: &[u8]) -> Option<String> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).ok()?;
    let mut buffer = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buffer).ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buffer);
    Some(base64::engine::general_purpose::STANDARD_NO_PAD.encode(out))
}

fn open(key: &LessSafeKey, sealed: &str) -> Option<Vec<u8>> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buffer = ciphertext.to_vec();
    let plaintext = key.open_in_place(nonce, Aad::empty(), &mut buffer).ok()?;
    Some(plaintext.to_vec())
}
