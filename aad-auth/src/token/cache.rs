//! The verified-token cache: a token that passed every check is remembered, so that the next
//! request with the same token skips the RSA verification and the claim parsing.
//!
//! * **Key**: SHA-256 of the whole compact token (never the token itself: a memory dump of the
//!   cache holds no credential, and a token that differs in any byte, signature included, has
//!   another key and goes through the full validation).
//! * **Value**: the same `Arc<VerifiedToken>` the first validation returned (the user and the
//!   checks' results; the claims map is parsed again only if `claims()` is called).
//! * **Hit**: served only while the uncached path would accept the token too: `exp`, `nbf` and
//!   `iat` are checked again against the clock with the configured skew, and the signing key and
//!   issuer policy must still be the ones in the key store (a key retired from the JWKS and
//!   expired from the key cache, replaced under the same `kid`, or a changed discovery issuer,
//!   ends the entry). A stale entry is removed and the token validated again from scratch.
//! * **Bounds**: entries *and* bytes. Every entry weighs its estimated heap footprint (payload,
//!   claims map as if parsed, user, the token record, the cache slot, allocator overhead), at least
//!   `max_bytes / max_entries`; the total weight is capped at `max_bytes`, so the number of
//!   entries cannot pass `max_entries` either. Eviction is quick_cache's (CLOCK-Pro-like).
//! * **Misses**: concurrent requests with the same new token wait for one validation (single
//!   flight); only a successful validation is inserted. Failures are never cached: caching them
//!   would let anyone fill the cache with garbage and evict valid entries, and most failures are
//!   refused before any cryptography anyway.

// No indexing or unwrap (README, Security notes). Arithmetic is allowed: it only adds up the sizes
// of values that are already allocated, which the address space bounds.
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used))]
#![allow(clippy::arithmetic_side_effects)]

use std::mem::size_of;
use std::sync::Arc;

use quick_cache::sync::{Cache, DefaultLifecycle, PlaceholderGuard};
use quick_cache::{DefaultHashBuilder, Weighter};
use serde_json::{Map, Value};

use super::VerifiedToken;
use crate::user::User;

/// How big the verified-token cache may grow. Set it with
/// [`crate::AadAuthBuilder::token_cache`]; the default holds up to 100,000 tokens and 64 MiB.
///
/// ```
/// use aad_auth::token::TokenCacheConfig;
///
/// let small = TokenCacheConfig::new(10_000, 8 * 1024 * 1024);
/// assert_eq!((small.max_entries(), small.max_bytes()), (10_000, 8 * 1024 * 1024));
/// assert!(!TokenCacheConfig::disabled().is_enabled());
/// assert_eq!(TokenCacheConfig::default().max_bytes(), TokenCacheConfig::DEFAULT_MAX_BYTES);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheConfig {
    max_entries: usize,
    max_bytes: u64,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_ENTRIES, Self::DEFAULT_MAX_BYTES)
    }
}

impl TokenCacheConfig {
    /// Default entry bound.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
    /// Default memory bound (64 MiB).
    pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

    /// At most `max_entries` tokens and `max_bytes` of estimated memory. Either one zero disables
    /// the cache.
    #[must_use]
    pub const fn new(max_entries: usize, max_bytes: u64) -> Self {
        Self { max_entries, max_bytes }
    }

    /// No cache: every request verifies its token's signature.
    #[must_use]
    pub const fn disabled() -> Self {
        Self::new(0, 0)
    }

    /// The entry bound.
    pub const fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The memory bound, in bytes.
    pub const fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Whether tokens are cached at all.
    pub const fn is_enabled(&self) -> bool {
        self.max_entries > 0 && self.max_bytes > 0
    }

    /// The weight every entry counts at least, so that the byte bound implies the entry bound.
    fn min_weight(&self) -> u64 {
        let entries = u64::try_from(self.max_entries).unwrap_or(u64::MAX).max(1);
        self.max_bytes.div_ceil(entries).max(1)
    }
}

/// What the cache holds right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenCacheStats {
    /// Tokens cached.
    pub entries: usize,
    /// Their total weight (estimated bytes, each entry counted at least
    /// `max_bytes / max_entries`).
    pub weight: u64,
    /// The bounds in force.
    pub config: TokenCacheConfig,
}

/// SHA-256 of a compact token.
pub(crate) type Fingerprint = [u8; 32];

pub(crate) fn fingerprint(token: &str) -> Fingerprint {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A cached token and its weight, computed once at insertion (the weighter runs on every
/// eviction and must be cheap).
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) token: Arc<VerifiedToken>,
    weight: u64,
}

#[derive(Clone)]
pub(crate) struct EntryWeighter {
    min_weight: u64,
}

impl Weighter<Fingerprint, Entry> for EntryWeighter {
    fn weight(&self, _key: &Fingerprint, entry: &Entry) -> u64 {
        entry.weight.max(self.min_weight)
    }
}

type Inner = Cache<Fingerprint, Entry, EntryWeighter>;
/// Held by the one request validating a new token; others with the same token wait for it.
pub(crate) type Guard<'a> =
    PlaceholderGuard<'a, Fingerprint, Entry, EntryWeighter, DefaultHashBuilder, DefaultLifecycle<Fingerprint, Entry>>;

/// The bounded cache of verified tokens (see the module docs).
pub(crate) struct TokenCache {
    inner: Inner,
    config: TokenCacheConfig,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").field("config", &self.config).field("entries", &self.inner.len()).finish()
    }
}

/// A guess of the average entry, only used to size the cache's internal tables.
const TYPICAL_ENTRY_BYTES: u64 = 4096;

impl TokenCache {
    /// `None` when the configuration disables caching.
    pub(crate) fn new(config: TokenCacheConfig) -> Option<Self> {
        if !config.is_enabled() {
            return None;
        }
        let by_bytes = usize::try_from(config.max_bytes / TYPICAL_ENTRY_BYTES).unwrap_or(usize::MAX);
        let estimated_items = config.max_entries.min(by_bytes).max(1);
        let weighter = EntryWeighter { min_weight: config.min_weight() };
        Some(Self { inner: Cache::with_weighter(estimated_items, config.max_bytes, weighter), config })
    }

    /// The cached entry, or a guard to fill it (waiting while another request fills it).
    pub(crate) async fn get_or_guard(&self, key: &Fingerprint) -> Result<Entry, Guard<'_>> {
        self.inner.get_value_or_guard_async(key).await
    }

    /// Drops `stale` (and nothing inserted after it).
    pub(crate) fn remove_stale(&self, key: &Fingerprint, stale: &Arc<VerifiedToken>) {
        self.inner.remove_if(key, |entry| Arc::ptr_eq(&entry.token, stale));
    }

    /// Fills the slot the guard holds.
    pub(crate) fn fill(guard: Guard<'_>, token: Arc<VerifiedToken>) {
        let weight = entry_weight(&token);
        // `Err` only when the guard's slot was replaced meanwhile; the token is valid either way.
        let _ = guard.insert(Entry { token, weight });
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        TokenCacheStats { entries: self.inner.len(), weight: self.inner.weight(), config: self.config }
    }
}

/// One heap allocation of `bytes` as glibc's malloc lays it out: 8 bytes of header, 16-byte
/// granularity, 32 bytes at least.
fn alloc(bytes: usize) -> usize {
    if bytes == 0 { 0 } else { (bytes + 8).next_multiple_of(16).max(32) }
}

/// quick_cache's own cost per entry: the slab slot (key, value, links, state), the hash-table
/// slot at its load factor, and the ghost list's share.
const SLOT_BYTES: usize = size_of::<Fingerprint>() + size_of::<Entry>() + 32 + 16 + 8;

/// The estimated bytes an entry keeps alive: the cache slot, the `Arc<VerifiedToken>`
/// allocation, the decoded payload, the claims map with every key and value (counted even
/// before `claims()` parses it), and the user's strings. The signing key and issuer policy are
/// shared by every entry and not counted.
pub(crate) fn entry_weight(token: &VerifiedToken) -> u64 {
    let record = alloc(2 * size_of::<usize>() + size_of::<VerifiedToken>());
    let payload = alloc(token.payload.capacity());
    let bytes = SLOT_BYTES + record + payload + token.claims_heap + user_heap(&token.user);
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

fn string_heap(s: &str, capacity: usize) -> usize {
    debug_assert!(capacity >= s.len());
    alloc(capacity)
}

fn strings_heap(list: &[String], capacity: usize) -> usize {
    alloc(capacity * size_of::<String>()) + list.iter().map(|s| string_heap(s, s.capacity())).sum::<usize>()
}

fn user_heap(user: &User) -> usize {
    let text = |s: &String| string_heap(s, s.capacity());
    let maybe = |s: &Option<String>| s.as_ref().map_or(0, text);
    text(&user.oid)
        + text(&user.tid)
        + text(&user.sub)
        + maybe(&user.name)
        + maybe(&user.username)
        + maybe(&user.email)
        + maybe(&user.app_id)
        + strings_heap(&user.roles, user.roles.capacity())
        + strings_heap(&user.groups, user.groups.capacity())
        + strings_heap(&user.scopes, user.scopes.capacity())
}

/// `serde_json::Map` is a `BTreeMap<String, Value>`: nodes of up to 11 pairs (leaves: parent
/// link and lengths besides; internal nodes: 12 child links more). Nodes split in the middle, so
/// claims that arrive sorted (as serde_json writes them) leave nodes about half full: count one
/// node per 6 entries.
pub(crate) fn map_heap(map: &Map<String, Value>) -> usize {
    const PAIR: usize = size_of::<String>() + size_of::<Value>();
    const LEAF: usize = 16 + 11 * PAIR;
    const INTERNAL: usize = LEAF + 12 * size_of::<usize>();
    if map.is_empty() {
        return 0;
    }
    let leaves = map.len().div_ceil(6);
    let internals = if leaves > 1 { leaves.div_ceil(6) } else { 0 };
    let nodes = leaves * alloc(LEAF) + internals * alloc(INTERNAL);
    nodes + map.iter().map(|(key, value)| string_heap(key, key.capacity()) + value_heap(value)).sum::<usize>()
}

fn value_heap(value: &Value) -> usize {
    match value {
        Value::String(s) => string_heap(s, s.capacity()),
        Value::Array(items) => {
            alloc(items.capacity() * size_of::<Value>()) + items.iter().map(value_heap).sum::<usize>()
        }
        Value::Object(map) => map_heap(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_bounds() {
        let config = TokenCacheConfig::default();
        assert_eq!((config.max_entries(), config.max_bytes()), (100_000, 64 * 1024 * 1024));
        // 64 MiB / 100k entries: every entry counts at least 672 bytes, so 100k entries fill it.
        assert_eq!(config.min_weight(), 672);
        assert!(TokenCache::new(TokenCacheConfig::disabled()).is_none());
        assert!(TokenCache::new(TokenCacheConfig::new(10, 0)).is_none());
        assert!(TokenCache::new(TokenCacheConfig::new(0, 10)).is_none());
        assert_eq!(TokenCacheConfig::new(3, 10).min_weight(), 4);
        assert_eq!(TokenCacheConfig::new(usize::MAX, 10).min_weight(), 1);
    }

    #[test]
    fn fingerprint_is_sha256_of_the_whole_token() {
        let a = fingerprint("aaa.bbb.ccc");
        assert_ne!(a, fingerprint("aaa.bbb.ccd"));
        assert_ne!(a, fingerprint("aaa.bbb.cc"));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            fingerprint("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "the key is SHA-256 of the token bytes, nothing else"
        );
    }

    #[test]
    fn allocation_model() {
        assert_eq!(alloc(0), 0);
        assert_eq!(alloc(1), 32);
        assert_eq!(alloc(24), 32);
        assert_eq!(alloc(25), 48);
    }

    #[test]
    fn weight_grows_with_the_claims() {
        let claims = |extra: usize| -> Map<String, Value> {
            let mut map = Map::new();
            for i in 0..20 {
                map.insert(format!("claim{i}"), Value::String("x".repeat(40)));
            }
            map.insert("groups".into(), Value::Array((0..extra).map(|i| Value::String(format!("g{i:036}"))).collect()));
            map
        };
        let small = map_heap(&claims(0));
        let large = map_heap(&claims(100));
        // 20 string claims: keys, values and at least 3 B-tree nodes.
        assert!(small > 20 * (32 + 48) + 3 * 600, "{small}");
        // 100 more 37-byte strings: each a 48-byte allocation plus a 32-byte array slot.
        assert!(large >= small + 100 * (48 + 32), "{large} vs {small}");
    }
}
