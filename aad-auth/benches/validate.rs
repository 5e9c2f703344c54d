//! Micro-benchmarks of bearer validation, on one core:
//!
//! * `validate/cached_hit`: a token seen before (keyed fast hash, cache lookup, comparison with
//!   the stored token, time/key re-checks);
//! * `validate/uncached`: the full path with the cache disabled (decode, key lookup, RS256
//!   verify, claims parse and checks, the user);
//! * `validate/miss_and_insert`: 2048 distinct tokens through a cache of 16 entries, so that
//!   (nearly) every call misses, inserts and evicts (the full path plus hashing, the placeholder,
//!   the insertion and dropping the evicted entry). The cache's eviction is scan-resistant: with
//!   a set only a few times larger than the cache, a part of the calls would hit;
//! * `key_lookup`: the key-store lookup by `kid`;
//! * `floor/rs256_verify`: aws-lc-rs verifying one RSA-2048 PKCS#1 v1.5 SHA-256 signature with a
//!   pre-parsed key, exactly as the validator calls it: the floor of any uncached validation;
//! * `floor/fast_hash_key`: the cache's keyed lookup hash (foldhash of the token's length and
//!   last 64 bytes), and `floor/compare_token`: comparing the token with a copy, byte for byte:
//!   together, the floor of a cache hit; `floor/fast_hash_token`: the same hash over the whole
//!   token, for comparison;
//! * `floor/sha256_token`: SHA-256 of the token, what a cache hit cost before (for reference).
//!
//! ```text
//! cargo bench -p aad-auth --features testing --bench validate
//! ```
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use aad_auth::AadAuth;
use aad_auth::testing::{Tenant, TestKey};
use aad_auth::token::TokenCacheConfig;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Distinct tokens for the miss benchmark, and the cache size that guarantees misses.
const DISTINCT_TOKENS: usize = 2048;
const SMALL_CACHE_ENTRIES: usize = 16;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _entered = rt.enter();
    let tenant = rt.block_on(Tenant::start());
    let build = |cache: TokenCacheConfig| {
        AadAuth::builder(tenant.api_config().build().unwrap()).bearer_only().token_cache(cache).build().unwrap()
    };
    let cached = build(TokenCacheConfig::default());
    let uncached = build(TokenCacheConfig::disabled());
    let small = build(TokenCacheConfig::new(SMALL_CACHE_ENTRIES, TokenCacheConfig::DEFAULT_MAX_BYTES));

    let token = tenant.token().member().sign();
    for auth in [&cached, &uncached, &small] {
        rt.block_on(auth.validate_bearer(&token)).unwrap();
    }
    let distinct: Vec<String> = (0..DISTINCT_TOKENS).map(|_| tenant.token().member().sign()).collect();
    println!("token: {} bytes; distinct tokens: {}", token.len(), distinct.len());

    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("cached_hit", |b| {
        b.to_async(&rt).iter(|| async { cached.validate_bearer(black_box(&token)).await.unwrap() });
    });
    group.bench_function("uncached", |b| {
        b.to_async(&rt).iter(|| async { uncached.validate_bearer(black_box(&token)).await.unwrap() });
    });
    let next = AtomicUsize::new(0);
    group.bench_function("miss_and_insert", |b| {
        b.to_async(&rt).iter(|| async {
            let token = &distinct[next.fetch_add(1, Ordering::Relaxed) % DISTINCT_TOKENS];
            small.validate_bearer(black_box(token)).await.unwrap()
        });
    });
    group.finish();
    let stats = small.validator().cache_stats().unwrap();
    assert!(stats.entries <= SMALL_CACHE_ENTRIES, "the miss benchmark's cache stayed bounded");

    let kid = tenant.active_kid();
    c.bench_function("key_lookup", |b| {
        b.to_async(&rt).iter(|| async { assert!(aad_auth::token::bench::key_lookup(cached.validator(), &kid).await) });
    });

    // The floor: the same verification call on the same kind of key, nothing else.
    let key = TestKey::generate("floor");
    let public_key = RsaPublicKeyComponents { n: key.modulus(), e: vec![1, 0, 1] }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .unwrap();
    // The benchmark token's own header and claims, so that the hashed input has the same size.
    let unb64 = |text: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
    };
    let (header, claims) = token.rsplit_once('.').unwrap().0.split_once('.').unwrap();
    let signed = key.sign_raw(&unb64(header), &unb64(claims), &aad_auth::testing::SigningAlg::Rs256);
    let (signing_input, signature_b64) = signed.rsplit_once('.').unwrap();
    let signature_bytes = unb64(signature_b64);
    public_key.verify_sig(signing_input.as_bytes(), &signature_bytes).unwrap();
    let mut floor = c.benchmark_group("floor");
    floor.throughput(Throughput::Elements(1));
    floor.bench_function("rs256_verify", |b| {
        b.iter(|| public_key.verify_sig(black_box(signing_input.as_bytes()), black_box(&signature_bytes)).unwrap());
    });
    let seed = foldhash::SharedSeed::from_u64(0x5eed);
    // What the cache hashes: the length and the last 64 bytes.
    floor.bench_function("fast_hash_key", |b| {
        b.iter(|| {
            use std::hash::Hasher as _;
            let bytes = black_box(token.as_bytes());
            let mut hasher = foldhash::fast::FoldHasher::with_seed(0x1234, &seed);
            hasher.write_usize(bytes.len());
            hasher.write(&bytes[bytes.len() - 64..]);
            hasher.finish()
        });
    });
    // For comparison: the same hash over the whole token.
    floor.bench_function("fast_hash_token", |b| {
        b.iter(|| {
            use std::hash::Hasher as _;
            let mut hasher = foldhash::fast::FoldHasher::with_seed(0x1234, &seed);
            hasher.write(black_box(token.as_bytes()));
            hasher.finish()
        });
    });
    let copy = token.clone();
    floor.bench_function("compare_token", |b| {
        b.iter(|| {
            let (x, y) = (black_box(token.as_bytes()), black_box(copy.as_bytes()));
            x.len() == y.len() && black_box(x.iter().zip(y).fold(0u8, |acc, (p, q)| acc | (p ^ q))) == 0
        });
    });
    floor.bench_function("sha256_token", |b| {
        b.iter(|| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(token.as_bytes())));
    });
    floor.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
