//! The verified-token cache: a token that passed every check is remembered, so that the next
//! request with the same token skips the RSA verification and the claim parsing.
//!
//! * **Key**: a 64-bit keyed hash of the compact token's length and last 64 bytes, the end of its
//!   signature (foldhash, seeded from the system's CSPRNG when the cache is created, so
//!   unpredictable per process and per cache). It only *finds* the entry; it is not trusted.
//! * **Acceptance**: the entry keeps the token's bytes, and a hit requires the presented token
//!   to be byte-for-byte the stored one (lengths, then every byte, compared without an early
//!   exit). A token that differs in any byte, signature included, is never answered from the
//!   cache. Two distinct tokens with the same key (by chance, about `n / 2^64` per lookup, or a
//!   token made to end like a cached one) do not share an entry: the second is validated in full
//!   every time and not cached. SHA-256 was used
//!   before; it cost 0.80 µs of a 0.93 µs hit for a 1.3 KB token.
//! * **Value**: the same `Arc<VerifiedToken>` the first validation returned (the user and the
//!   checks' results; the claims map is parsed again only if `claims()` is called), and the
//!   token's bytes, which are a credential: they are never logged, and no `Debug` shows them.
//! * **Hit**: served only while the uncached path would accept the token too: `exp`, `nbf` and
//!   `iat` are checked again against the clock with the configured skew, and the signing key and
//!   issuer policy must still be the ones in the key store (a key retired from the JWKS and
//!   expired from the key cache, replaced under the same `kid`, or a changed discovery issuer,
//!   ends the entry). A stale entry is removed and the token validated again from scratch.
//! * **Bounds**: entries *and* bytes. Every entry weighs its estimated heap footprint (the token's
//!   bytes, payload, claims map as if parsed, user, the token record, the cache slot, allocator
//!   overhead), at least
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

use std::hash::Hasher as _;
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

/// Where an entry lives: the keyed fast hash of its compact token. Not trusted: an entry is
/// only used for the token whose bytes it stores.
pub(crate) type CacheKey = u64;

/// How much of the end of a token its key covers (see [`HashKey::hash`]).
const KEY_TAIL_BYTES: usize = 64;

/// The per-cache secret key of the fast hash.
struct HashKey {
    shared: foldhash::SharedSeed,
    seed: u64,
}

impl HashKey {
    /// 128 bits from the system's CSPRNG; if it fails (it does not on supported systems),
    /// foldhash's own per-process seed (address-space layout and time). The key only makes the
    /// slots unpredictable; acceptance never depends on it.
    fn random() -> Self {
        let word = |half: &[u8]| half.try_into().map_or(0, u64::from_le_bytes);
        let mut bytes = [0u8; 16];
        let (shared, seed) = if aws_lc_rs::rand::fill(&mut bytes).is_ok() {
            let (shared, seed) = bytes.split_at(8);
            (word(shared), word(seed))
        } else {
            use std::hash::BuildHasher as _;
            let state = foldhash::fast::RandomState::default();
            (state.hash_one(0u64), state.hash_one(1u64))
        };
        Self { shared: foldhash::SharedSeed::from_u64(shared), seed }
    }

    /// The token's length and its last [`KEY_TAIL_BYTES`] bytes, hashed. Only these: a key
    /// needs to tell distinct valid tokens apart, and those end with distinct RS256 signatures
    /// (the last 64 characters encode 48 bytes of a 2048-bit RSA value); every byte is compared
    /// before a hit anyway, so a token that shares a cached token's tail only costs that
    /// comparison before its full validation, and can never take the slot (failures are not
    /// cached). Hashing all 1.3 KB would cost 10 times as much (about 600 instructions).
    fn hash(&self, bytes: &[u8]) -> CacheKey {
        let tail = bytes.get(bytes.len().saturating_sub(KEY_TAIL_BYTES)..).unwrap_or(bytes);
        let mut hasher = foldhash::fast::FoldHasher::with_seed(self.seed, &self.shared);
        hasher.write_usize(bytes.len());
        hasher.write(tail);
        hasher.finish()
    }
}

/// Whether `a` and `b` are the same bytes: lengths first (a token's length is not secret), then
/// every byte, with no exit on the first difference, so that the time taken does not say how
/// much of a stored token a guess got right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// A cached token, its bytes and its weight (computed once at insertion: the weighter runs on
/// every eviction and must be cheap). Cloned on every hit, so only reference counts.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) token: Arc<VerifiedToken>,
    /// The compact token the entry was verified from: a credential, never shown.
    compact: Arc<[u8]>,
    weight: u64,
}

impl Entry {
    /// Whether this entry was made from exactly `token`.
    pub(crate) fn is_for(&self, token: &[u8]) -> bool {
        same_bytes(&self.compact, token)
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("token_bytes", &self.compact.len())
            .field("weight", &self.weight)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub(crate) struct EntryWeighter {
    min_weight: u64,
}

impl Weighter<CacheKey, Entry> for EntryWeighter {
    fn weight(&self, _key: &CacheKey, entry: &Entry) -> u64 {
        entry.weight.max(self.min_weight)
    }
}

type Inner = Cache<CacheKey, Entry, EntryWeighter>;
/// Held by the one request validating a new token; others with the same token (or, rarely, the
/// same hash) wait for it.
pub(crate) type Guard<'a> =
    PlaceholderGuard<'a, CacheKey, Entry, EntryWeighter, DefaultHashBuilder, DefaultLifecycle<CacheKey, Entry>>;

/// The bounded cache of verified tokens (see the module docs).
pub(crate) struct TokenCache {
    inner: Inner,
    config: TokenCacheConfig,
    hash_key: HashKey,
    /// Tests: every token gets the same key, so that lookups collide.
    #[cfg(test)]
    collide: std::sync::atomic::AtomicBool,
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
        Some(Self {
            inner: Cache::with_weighter(estimated_items, config.max_bytes, weighter),
            config,
            hash_key: HashKey::random(),
            #[cfg(test)]
            collide: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Where `token`'s entry lives (see [`CacheKey`]).
    pub(crate) fn key(&self, token: &[u8]) -> CacheKey {
        #[cfg(test)]
        if self.collide.load(std::sync::atomic::Ordering::Relaxed) {
            return 0;
        }
        self.hash_key.hash(token)
    }

    /// Tests: from now on every token has the same key.
    #[cfg(test)]
    pub(crate) fn force_collisions(&self) {
        self.collide.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The entry under `key`, or a guard to fill it (waiting while another request fills it).
    /// The entry may be another token's: check [`Entry::is_for`].
    pub(crate) async fn get_or_guard(&self, key: CacheKey) -> Result<Entry, Guard<'_>> {
        self.inner.get_value_or_guard_async(&key).await
    }

    /// The entry at `key`, if one is there, without waiting for a slot that is being filled.
    /// The entry may be another token's: check [`Entry::is_for`].
    pub(crate) fn peek(&self, key: CacheKey) -> Option<Entry> {
        self.inner.get(&key)
    }

    /// Drops `stale` (and nothing inserted after it).
    pub(crate) fn remove_stale(&self, key: CacheKey, stale: &Arc<VerifiedToken>) {
        self.inner.remove_if(&key, |entry| Arc::ptr_eq(&entry.token, stale));
    }

    /// Fills the slot the guard holds with `verified`, the validation of `compact`.
    pub(crate) fn fill(guard: Guard<'_>, compact: &str, verified: Arc<VerifiedToken>) {
        let weight = entry_weight(&verified, compact.len());
        // `Err` only when the guard's slot was replaced meanwhile; the token is valid either way.
        let _ = guard.insert(Entry { token: verified, compact: Arc::from(compact.as_bytes()), weight });
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
const SLOT_BYTES: usize = size_of::<CacheKey>() + size_of::<Entry>() + 32 + 16 + 8;

/// The estimated bytes an entry keeps alive: the cache slot, the compact token's bytes
/// (`compact_len` of them, in an `Arc<[u8]>`), the `Arc<VerifiedToken>` allocation, the decoded
/// payload, the claims map with every key and value (counted even before `claims()` parses it),
/// and the user's strings. The signing key and issuer policy are shared by every entry and not
/// counted.
pub(crate) fn entry_weight(token: &VerifiedToken, compact_len: usize) -> u64 {
    let compact = alloc(2 * size_of::<usize>() + compact_len);
    let record = alloc(2 * size_of::<usize>() + size_of::<VerifiedToken>());
    let payload = alloc(token.payload.capacity());
    let bytes = SLOT_BYTES + compact + record + payload + token.claims_heap + user_heap(&token.user);
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
    fn the_lookup_hash_is_keyed_per_cache() {
        let (one, two) = (HashKey::random(), HashKey::random());
        let token = "aaa.bbb.ccc";
        assert_eq!(one.hash(token.as_bytes()), one.hash(token.as_bytes()));
        // Each fails with probability 2^-64.
        assert_ne!(one.hash(token.as_bytes()), two.hash(token.as_bytes()), "every cache draws its own key");
        assert_ne!(one.hash(token.as_bytes()), one.hash(b"aaa.bbb.ccd"));
        assert_ne!(one.hash(token.as_bytes()), one.hash(b"aaa.bbb.cc"));
        // Long tokens: the length and the last 64 bytes.
        let long = format!("{}.{}", "h".repeat(100), "s".repeat(400));
        let mut other_tail = long.clone();
        other_tail.replace_range(long.len() - 64..long.len() - 63, "t");
        assert_ne!(one.hash(long.as_bytes()), one.hash(other_tail.as_bytes()));
        assert_ne!(one.hash(long.as_bytes()), one.hash(format!("x{long}").as_bytes()), "the length counts");
        let other_head = format!("H{}", &long[1..]);
        assert_eq!(
            one.hash(long.as_bytes()),
            one.hash(other_head.as_bytes()),
            "the same slot: only the comparison tells them apart"
        );
    }

    #[test]
    fn same_bytes_compares_lengths_and_every_byte() {
        assert!(same_bytes(b"", b""));
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"xbc"));
        assert!(!same_bytes(b"abc", b"ab"));
        assert!(!same_bytes(b"ab", b"abc"));
        let long = vec![b'x'; 1500];
        for at in [0, 1, 700, 1499] {
            let mut other = long.clone();
            other[at] ^= 1;
            assert!(!same_bytes(&long, &other), "a difference at byte {at}");
        }
        assert!(same_bytes(&long, &long.clone()));
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

    /// Through a validator whose cache gives every token the same key: the stored bytes alone
    /// decide a hit.
    #[cfg(feature = "testing")]
    mod with_a_tenant {
        use std::sync::Arc;

        use serde_json::json;

        use crate::AadAuth;
        use crate::testing::Tenant;
        use crate::token::TokenError;

        async fn colliding() -> (Tenant, AadAuth) {
            let tenant = Tenant::start().await;
            let auth = AadAuth::bearer_only(tenant.api_config().build().unwrap()).unwrap();
            auth.validator().cache.as_deref().unwrap().force_collisions();
            (tenant, auth)
        }

        #[actix_web::test]
        async fn tokens_with_the_same_key_are_never_taken_for_each_other() {
            let (tenant, auth) = colliding().await;
            let cache = auth.validator().cache.as_deref().unwrap();
            let first = tenant.token().member().claim("marker", json!("first")).sign();
            let second = tenant.token().guest().claim("marker", json!("second")).sign();
            assert_eq!(
                cache.key(first.as_bytes()),
                cache.key(second.as_bytes()),
                "the test hook makes every key collide"
            );

            let a = auth.validate_bearer(&first).await.unwrap();
            assert_eq!(a.claims()["marker"], "first");
            // The slot holds `first`; `second` is validated in full, every time, and not cached.
            for _ in 0..3 {
                let b = auth.validate_bearer(&second).await.unwrap();
                assert!(!Arc::ptr_eq(&a, &b));
                assert_eq!(b.claims()["marker"], "second");
                assert_ne!(b.user().oid, a.user().oid);
            }
            assert!(Arc::ptr_eq(&a, &auth.validate_bearer(&first).await.unwrap()), "the first entry is intact");
            assert_eq!(cache.stats().entries, 1);
        }

        #[actix_web::test]
        async fn a_tampered_token_with_the_same_key_and_prefix_is_refused() {
            let (tenant, auth) = colliding().await;
            let token = tenant.token().member().sign();
            let first = auth.validate_bearer(&token).await.unwrap();
            let replace = |at: usize| {
                let mut bytes = token.clone().into_bytes();
                bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
                String::from_utf8(bytes).unwrap()
            };
            let tampered = [
                ("last character", replace(token.len() - 1)),
                ("a signature character", replace(token.len() - 20)),
                ("a payload character", replace(token.find('.').unwrap() + 5)),
                ("truncated", token[..token.len() - 1].to_owned()),
                ("extended", format!("{token}A")),
            ];
            for (name, bad) in &tampered {
                assert_ne!(bad, &token);
                for _ in 0..2 {
                    let error = auth.validate_bearer(bad).await.expect_err(name);
                    assert!(matches!(error, TokenError::BadSignature | TokenError::Malformed(_)), "{name}: {error:?}");
                }
            }
            assert!(Arc::ptr_eq(&first, &auth.validate_bearer(&token).await.unwrap()));
            assert_eq!(auth.validator().cache_stats().unwrap().entries, 1, "failures are not cached");
        }

        /// Without the test hook: a token that ends like a cached one lands in its slot, and the
        /// comparison sends it to the full validation.
        #[actix_web::test]
        async fn a_forgery_with_the_signature_of_a_cached_token_is_refused() {
            let tenant = Tenant::start().await;
            let auth = AadAuth::bearer_only(tenant.api_config().build().unwrap()).unwrap();
            let token = tenant.token().member().sign();
            let first = auth.validate_bearer(&token).await.unwrap();
            let (signing_input, signature) = token.rsplit_once('.').unwrap();
            let (header, payload) = signing_input.split_once('.').unwrap();
            // The same payload with one character changed, and the genuine signature.
            let mut forged_payload = payload.to_owned().into_bytes();
            forged_payload[10] = if forged_payload[10] == b'A' { b'B' } else { b'A' };
            let forged = format!("{header}.{}.{signature}", String::from_utf8(forged_payload).unwrap());
            let cache = auth.validator().cache.as_deref().unwrap();
            assert_eq!(cache.key(forged.as_bytes()), cache.key(token.as_bytes()), "same length, same tail: same slot");
            for _ in 0..2 {
                let error = auth.validate_bearer(&forged).await.unwrap_err();
                assert!(matches!(error, TokenError::BadSignature | TokenError::Malformed(_)), "{error:?}");
            }
            assert!(Arc::ptr_eq(&first, &auth.validate_bearer(&token).await.unwrap()));
            assert_eq!(cache.stats().entries, 1);
        }

        #[actix_web::test]
        async fn an_entry_weighs_its_token_and_never_shows_it() {
            let tenant = Tenant::start().await;
            let auth = AadAuth::bearer_only(tenant.api_config().build().unwrap()).unwrap();
            let token = tenant.token().member().sign();
            let verified = auth.validate_bearer(&token).await.unwrap();
            let cache = auth.validator().cache.as_deref().unwrap();
            let weight = super::entry_weight(&verified, token.len());
            assert_eq!(cache.stats().weight, weight.max(cache.config.min_weight()));
            // The token's bytes are counted (in an `Arc<[u8]>`: two counters and the bytes).
            assert_eq!(weight - super::entry_weight(&verified, 0), super::alloc(16 + token.len()) as u64 - 32);

            let entry = cache.get_or_guard(cache.key(token.as_bytes())).await.unwrap();
            assert!(entry.is_for(token.as_bytes()));
            let signature = token.rsplit('.').next().unwrap();
            for shown in [format!("{entry:?}"), format!("{cache:?}"), format!("{:?}", auth.validator())] {
                assert!(!shown.contains(signature), "{shown}");
            }
        }
    }
}
