//! The verified-token cache: hits return the same `Arc`, and a cached token is refused at the
//! instant the uncached path would refuse it (expiry, clock skew, its signing key gone); the
//! cache stays within its entry and byte bounds; tampered and invalid tokens never hit.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use aad_auth::config::AadAuthConfigBuilder;
use aad_auth::testing::{ManualClock, Tenant};
use aad_auth::token::{TokenCacheConfig, TokenCacheStats};
use aad_auth::{AadAuth, TokenError};
use aad_auth_tests::{Harness, app, b64, get, segments, unb64};

/// A harness whose app uses `cache` (and `adjust` on its configuration).
async fn harness(
    cache: TokenCacheConfig,
    adjust: impl FnOnce(AadAuthConfigBuilder) -> AadAuthConfigBuilder,
) -> Harness {
    let clock = Arc::new(ManualClock::new());
    let tenant = Tenant::builder().clock(clock.clone()).start().await;
    let config = adjust(tenant.api_config()).build().expect("valid test configuration");
    let auth =
        AadAuth::builder(config).clock(clock.clone()).bearer_only().token_cache(cache).build().expect("auth builds");
    Harness { tenant, auth, clock }
}

fn stats(h: &Harness) -> TokenCacheStats {
    h.auth.validator().cache_stats().expect("the cache is enabled")
}

#[actix_web::test]
async fn a_hit_returns_the_same_arc() {
    let h = Harness::new().await;
    let token = h.tenant.token().member().sign();
    let first = h.auth.validate_bearer(&token).await.unwrap();
    let second = h.auth.validate_bearer(&token).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second), "the second validation must be answered from the cache");
    assert_eq!(stats(&h).entries, 1);

    let other = h.tenant.token().member().sign();
    let third = h.auth.validate_bearer(&other).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &third));
    assert_eq!(third.user().oid, first.user().oid);
    assert_eq!(stats(&h).entries, 2);

    // Through the guard as well.
    let service = app(&h.auth).await;
    for _ in 0..3 {
        assert_eq!(get(&service, "/api", Some(&token)).await.status, 200);
    }
    assert_eq!(stats(&h).entries, 2);
}

/// The cache keeps the decoded payload, not the claims map: `claims()` parses it again, and must
/// give exactly the token's claims, first call or later, from the cache or not.
#[actix_web::test]
async fn claims_of_a_cached_token_are_the_tokens_claims() {
    let h = Harness::new().await;
    let token = h.tenant.token().member().sign();
    let sent: serde_json::Value = serde_json::from_slice(&unb64(&segments(&token).1)).unwrap();
    let first = h.auth.validate_bearer(&token).await.unwrap();
    let second = h.auth.validate_bearer(&token).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(serde_json::Value::Object(second.claims().clone()), sent);
    assert!(std::ptr::eq(first.claims(), second.claims()), "parsed once per cached token");
    assert_eq!(first.claims()["oid"].as_str(), Some(first.user().oid.as_str()));
}

#[actix_web::test]
async fn concurrent_first_use_verifies_once() {
    let h = Harness::new().await;
    let warm = h.tenant.token().member().sign();
    h.auth.validate_bearer(&warm).await.unwrap();
    let token = h.tenant.token().member().sign();
    let results = futures_util::future::join_all((0..8).map(|_| h.auth.validate_bearer(&token))).await;
    let first = results[0].as_ref().unwrap();
    for result in &results {
        assert!(Arc::ptr_eq(first, result.as_ref().unwrap()), "every concurrent caller gets the one verified token");
    }
    assert_eq!(stats(&h).entries, 2);
}

#[actix_web::test]
async fn the_validate_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let h = Harness::new().await;
    let token = h.tenant.token().member().sign();
    let future = h.auth.validate_bearer(&token);
    assert_send(&future);
    future.await.unwrap();
}

#[actix_web::test]
async fn a_cached_token_expires_at_exp_plus_skew() {
    let h = Harness::new().await;
    let token = h.tenant.token().member().lifetime(Duration::from_secs(600)).sign();
    let first = h.auth.validate_bearer(&token).await.unwrap();
    // exp + skew (60 s) is the last second the uncached path accepts.
    h.clock.advance(Duration::from_secs(600 + 60));
    let again = h.auth.validate_bearer(&token).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(h.auth.validate_bearer(&token).await.unwrap_err(), TokenError::Expired);
    assert_eq!(stats(&h).entries, 0, "the expired entry is dropped");
    assert_eq!(h.auth.validate_bearer(&token).await.unwrap_err(), TokenError::Expired);
}

#[actix_web::test]
async fn a_clock_set_back_refuses_a_cached_token_before_its_nbf() {
    let h = Harness::new().await;
    let token = h.tenant.token().member().sign();
    let first = h.auth.validate_bearer(&token).await.unwrap();
    h.clock.rewind(Duration::from_secs(60));
    assert!(Arc::ptr_eq(&first, &h.auth.validate_bearer(&token).await.unwrap()), "within the skew");
    h.clock.rewind(Duration::from_secs(1));
    assert_eq!(h.auth.validate_bearer(&token).await.unwrap_err(), TokenError::NotYetValid);
}

#[actix_web::test]
async fn a_cached_token_dies_with_its_signing_key() {
    let h = harness(TokenCacheConfig::default(), |config| config.jwks_cache_ttl(Duration::from_secs(120))).await;
    let old_kid = h.tenant.active_kid();
    let token = h.tenant.token().member().sign();
    let first = h.auth.validate_bearer(&token).await.unwrap();

    h.tenant.rotate_keys();
    h.tenant.retire_key(&old_kid);
    // Until the key store refreshes it still holds the retired key (and so would the uncached
    // path).
    h.clock.advance(Duration::from_secs(60));
    assert!(Arc::ptr_eq(&first, &h.auth.validate_bearer(&token).await.unwrap()));

    // The refresh that drops the key drops the cached token with it.
    assert!(h.auth.keys().refresh_now().await);
    assert_eq!(h.auth.validate_bearer(&token).await.unwrap_err(), TokenError::UnknownKey);
    assert_eq!(stats(&h).entries, 0);
    // Tokens from the new key are fine.
    let fresh = h.tenant.token().member().sign();
    h.auth.validate_bearer(&fresh).await.unwrap();
}

#[actix_web::test]
async fn a_routine_refresh_keeps_cached_tokens_and_an_expired_set_verifies_them_again() {
    let h = harness(TokenCacheConfig::default(), |config| {
        config.jwks_cache_ttl(Duration::from_secs(120)).jwks_stale_ttl(Duration::from_secs(60))
    })
    .await;
    let token = h.tenant.token().member().sign();
    let first = h.auth.validate_bearer(&token).await.unwrap();
    h.clock.advance(Duration::from_secs(121));
    // Past the TTL the set is stale but still trusted; a refresh that finds the same key keeps
    // the entry.
    assert!(Arc::ptr_eq(&first, &h.auth.validate_bearer(&token).await.unwrap()));
    assert!(h.auth.keys().refresh_now().await);
    assert!(Arc::ptr_eq(&first, &h.auth.validate_bearer(&token).await.unwrap()));
    // Past TTL + stale window with no refresh: the entry is not trusted, the token is verified
    // again (the set is loaded anew) and cached as a new entry.
    h.clock.advance(Duration::from_secs(181));
    let second = h.auth.validate_bearer(&token).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(Arc::ptr_eq(&second, &h.auth.validate_bearer(&token).await.unwrap()));
    assert_eq!(stats(&h).entries, 1);
}

#[actix_web::test]
async fn the_cache_is_bounded_by_entries() {
    let h = harness(TokenCacheConfig::new(8, 64 * 1024 * 1024), |config| config).await;
    for i in 0..40 {
        let token = h.tenant.token().member().sign();
        h.auth.validate_bearer(&token).await.unwrap();
        let now = stats(&h);
        assert!(now.entries <= 8, "after {} tokens: {} entries", i + 1, now.entries);
    }
    assert!(stats(&h).entries >= 1);
}

#[actix_web::test]
async fn the_cache_is_bounded_by_bytes_and_weighs_entries_honestly() {
    // One entry's weight, from an unbounded cache.
    let probe = Harness::new().await;
    let token = probe.tenant.token().member().sign();
    probe.auth.validate_bearer(&token).await.unwrap();
    let weight = stats(&probe).weight;
    // The claims as JSON are a lower bound of what the parsed map, the user and the record hold.
    let payload = unb64(&segments(&token).1).len() as u64;
    assert!(weight > payload + 1024, "an entry weighs {weight} bytes for a {payload}-byte payload");
    assert!(weight < 64 * 1024, "an entry weighs {weight} bytes");

    let bound = weight * 5 + weight / 2;
    let h = harness(TokenCacheConfig::new(100_000, bound), |config| config).await;
    for i in 0..30 {
        let token = h.tenant.token().member().sign();
        h.auth.validate_bearer(&token).await.unwrap();
        let now = stats(&h);
        assert!(now.weight <= bound, "after {} tokens: {} bytes > {bound}", i + 1, now.weight);
        assert!(now.entries <= 5, "after {} tokens: {} entries", i + 1, now.entries);
    }
    assert!(stats(&h).entries >= 1);
}

#[actix_web::test]
async fn tampered_tokens_never_hit() {
    let h = Harness::new().await;
    let token = h.tenant.token().member().sign();
    let first = h.auth.validate_bearer(&token).await.unwrap();
    let (header, payload, signature) = segments(&token);

    // Same header and payload, another signature (a valid one for other claims).
    let other = h.tenant.token().member().sign();
    let foreign = format!("{header}.{payload}.{}", segments(&other).2);
    // One signature byte changed.
    let mut bytes = unb64(&signature);
    bytes[100] ^= 1;
    let flipped = format!("{header}.{payload}.{}", b64(&bytes));
    // The payload changed, the signature kept.
    let mut claims: serde_json::Value = serde_json::from_slice(&unb64(&payload)).unwrap();
    claims["roles"] = serde_json::json!(["Owner"]);
    let forged = format!("{header}.{}.{signature}", b64(claims.to_string().as_bytes()));
    assert_ne!(forged, token);
    // A prefix, and the token with something after it.
    let prefix = token[..token.len() - 10].to_owned();
    let extended = format!("{token}A");

    for (name, bad) in
        [("foreign", foreign), ("flipped", flipped), ("forged", forged), ("prefix", prefix), ("extended", extended)]
    {
        for _ in 0..2 {
            let error = h.auth.validate_bearer(&bad).await.expect_err(name);
            assert!(matches!(error, TokenError::BadSignature | TokenError::Malformed(_)), "{name}: {error:?}");
        }
    }
    assert_eq!(stats(&h).entries, 1, "failures are not cached");
    assert!(Arc::ptr_eq(&first, &h.auth.validate_bearer(&token).await.unwrap()), "the genuine entry is intact");
}

#[actix_web::test]
async fn invalid_tokens_are_never_cached() {
    let h = Harness::new().await;
    let expired = h.tenant.token().member().expired().sign();
    let wrong_audience = h.tenant.token().member().wrong_audience().sign();
    for _ in 0..2 {
        assert_eq!(h.auth.validate_bearer(&expired).await.unwrap_err(), TokenError::Expired);
        assert_eq!(h.auth.validate_bearer(&wrong_audience).await.unwrap_err(), TokenError::InvalidAudience);
    }
    assert_eq!(stats(&h).entries, 0);
    assert_eq!(stats(&h).weight, 0);
}

#[actix_web::test]
async fn a_disabled_cache_verifies_every_time() {
    let h = harness(TokenCacheConfig::disabled(), |config| config).await;
    assert!(h.auth.validator().cache_stats().is_none());
    let token = h.tenant.token().member().sign();
    let first = h.auth.validate_bearer(&token).await.unwrap();
    let second = h.auth.validate_bearer(&token).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(first.user(), second.user());
}

/// A token the guard has seen is answered before the header is parsed; that shortcut must refuse
/// exactly what the full path refuses: expiry, a withdrawn key, a second credential, and an
/// `Authorization` header that is not exactly `Bearer <token>`.
#[actix_web::test]
async fn the_guards_shortcut_for_a_cached_token_rechecks_like_the_full_path() {
    let h = harness(TokenCacheConfig::default(), |config| config.jwks_cache_ttl(Duration::from_secs(120))).await;
    let service = app(&h.auth).await;
    let token = h.tenant.token().member().lifetime(Duration::from_secs(600)).sign();
    assert_eq!(get(&service, "/api", Some(&token)).await.status, 200);
    assert_eq!(get(&service, "/api", Some(&token)).await.status, 200, "now from the cache");
    assert_eq!(stats(&h).entries, 1);

    // A second credential, the same token twice, a token with a space: refused as before.
    let both = get(&service, "/api?access_token=x", Some(&token)).await;
    assert_eq!((both.status, both.error_code().as_deref()), (400, Some("invalid_request")));
    let twice = actix_web::test::TestRequest::get()
        .uri("/api")
        .append_header(("authorization", format!("Bearer {token}")))
        .append_header(("authorization", format!("Bearer {token}")));
    assert_eq!(aad_auth_tests::call(&service, twice).await.status, 400);
    let spaced =
        actix_web::test::TestRequest::get().uri("/api").insert_header(("authorization", format!("Bearer  {token}")));
    assert_eq!(aad_auth_tests::call(&service, spaced).await.status, 401);

    // The cached token expires at exp + skew through the guard too.
    h.clock.advance(Duration::from_secs(600 + 60));
    assert_eq!(get(&service, "/api", Some(&token)).await.status, 200);
    h.clock.advance(Duration::from_secs(1));
    let expired = get(&service, "/api", Some(&token)).await;
    assert_eq!((expired.status, expired.error_code().as_deref()), (401, Some("invalid_token")));

    // And it dies with its signing key.
    let fresh = h.tenant.token().member().sign();
    assert_eq!(get(&service, "/api", Some(&fresh)).await.status, 200);
    assert_eq!(get(&service, "/api", Some(&fresh)).await.status, 200);
    let old_kid = h.tenant.active_kid();
    h.tenant.rotate_keys();
    h.tenant.retire_key(&old_kid);
    assert!(h.auth.keys().refresh_now().await);
    assert_eq!(get(&service, "/api", Some(&fresh)).await.status, 401);
}
