//! Discovery and key-store resilience, one row per case J of `docs/security.md`, plus
//! the multi-tenant and JWKS-content cases of §2.1 (B14, B15, B22).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aad_auth::testing::{Endpoint, Fault, ManualClock, Tenant, TestKey, random_guid};
use aad_auth::{AadAuth, AadAuthConfig, KeyFreshness, KeyStoreTiming, TokenError};
use aad_auth_tests::logs::Captured;
use aad_auth_tests::mock_idp::MockIdp;
use aad_auth_tests::{Harness, app, get};
use base64::Engine as _;
use serde_json::{Value, json};

/// A mock provider publishing `keys`, a tenant used only to mint tokens, and a signing key.
struct Mock {
    idp: MockIdp,
    minter: Tenant,
    key: Arc<TestKey>,
    tid: String,
}

impl Mock {
    async fn start() -> Self {
        let tid = random_guid();
        let idp = MockIdp::start(&tid).await;
        let key = Arc::new(TestKey::generate("mock-key-1"));
        idp.set_jwks(vec![key.jwk(None)]);
        Self { idp, minter: Tenant::start().await, key, tid }
    }

    fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.idp.base, self.tid)
    }

    fn token(&self) -> aad_auth::testing::TokenBuilder {
        self.minter
            .token()
            .member()
            .claim("iss", json!(self.issuer()))
            .claim("tid", json!(self.tid))
            .signed_with(self.key.clone())
    }

    fn config(&self) -> AadAuthConfig {
        AadAuthConfig::builder(self.minter.api_app().client_id, &self.tid)
            .authority_host(&self.idp.base)
            .build()
            .unwrap()
    }

    fn auth(&self) -> AadAuth {
        AadAuth::bearer_only(self.config()).unwrap()
    }
}

async fn status(auth: &AadAuth, token: &str) -> Result<(), TokenError> {
    auth.validate_bearer(token).await.map(|_| ())
}

#[actix_web::test]
async fn j01_keys_come_from_the_discovered_jwks_uri_in_one_fetch_each() {
    let mock = Mock::start().await;
    let auth = mock.auth();
    assert_eq!(status(&auth, &mock.token().sign()).await, Ok(()));
    assert_eq!(status(&auth, &mock.token().sign()).await, Ok(()));
    // The mock's jwks_uri is `/{tid}/keys`, not Entra's usual path: a hard-coded URL would miss.
    assert_eq!((mock.idp.discovery_hits(), mock.idp.jwks_hits(), mock.idp.other_hits()), (1, 1, 0));
}

#[actix_web::test]
async fn j17_unknown_and_null_discovery_members_are_ignored() {
    let mock = Mock::start().await;
    let mut document = mock.idp.discovery();
    for (name, value) in [
        ("cloud_instance_name", json!("microsoftonline.com")),
        ("rbac_url", json!("https://pas.windows.net")),
        ("tenant_region_scope", json!(null)),
        ("msgraph_host", json!("graph.microsoft.com")),
        ("frontchannel_logout_supported", json!(true)),
        ("x_future_member", json!({"nested": [1, 2, {"deep": null}]})),
    ] {
        document[name] = value;
    }
    mock.idp.set_discovery(document);
    let auth = mock.auth();
    assert_eq!(status(&auth, &mock.token().sign()).await, Ok(()));
    assert_eq!(auth.keys().status().last_error, None);
}

#[actix_web::test]
async fn j02_new_kid_refreshes_once_and_the_same_request_succeeds() {
    let h = Harness::new().await;
    assert!(h.auth.keys().ensure_loaded().await);
    let before = h.tenant.requests(Endpoint::Jwks);
    h.tenant.rotate_keys();
    let token = h.tenant.token().member().sign();
    assert_eq!(status(&h.auth, &token).await, Ok(()), "the request that saw the new kid succeeds");
    assert_eq!(h.tenant.requests(Endpoint::Jwks), before + 1, "exactly one refresh");
    assert_eq!(status(&h.auth, &h.tenant.token().member().sign()).await, Ok(()));
    assert_eq!(h.tenant.requests(Endpoint::Jwks), before + 1, "the second token with the new kid fetches nothing");
    assert_eq!(h.tenant.requests(Endpoint::Discovery), 1, "unknown kids refresh the JWKS only");
}

#[actix_web::test]
async fn j04_unknown_kid_flood_is_one_fetch_per_cooldown() {
    let h = Harness::new().await;
    assert!(h.auth.keys().ensure_loaded().await);
    let before = h.tenant.requests(Endpoint::Jwks);
    let tokens: Vec<String> =
        (0..1000).map(|_| h.tenant.token().member().header("kid", json!(random_guid())).sign()).collect();
    let started = Instant::now();
    for chunk in tokens.chunks(50) {
        let results = futures_util::future::join_all(chunk.iter().map(|t| h.auth.validate_bearer(t))).await;
        assert!(results.iter().all(|r| matches!(r, Err(TokenError::UnknownKey))));
    }
    assert!(h.tenant.requests(Endpoint::Jwks) <= before + 1, "at most one JWKS fetch for 1000 unknown kids");
    assert_eq!(status(&h.auth, &h.tenant.token().member().sign()).await, Ok(()), "valid tokens keep working");
    assert!(started.elapsed() < Duration::from_secs(30), "the flood was not serialised behind fetches");
    // After the cooldown, one more refresh is allowed.
    h.clock.advance(KeyStoreTiming::DEFAULT_REFRESH_COOLDOWN + Duration::from_secs(1));
    let _ = status(&h.auth, &h.tenant.token().member().header("kid", json!("yet-another")).sign()).await;
    assert_eq!(h.tenant.requests(Endpoint::Jwks), before + 2);
}

#[actix_web::test]
async fn j06_failed_refreshes_keep_the_last_good_keys() {
    let h = Harness::new().await;
    let good = h.tenant.token().member().sign();
    assert_eq!(status(&h.auth, &good).await, Ok(()));
    for fault in [Fault::Status(500), Fault::Garbage, Fault::EmptyKeys, Fault::Status(404)] {
        h.tenant.set_fault(Endpoint::Jwks, fault.clone());
        h.clock.advance(KeyStoreTiming::DEFAULT_REFRESH_COOLDOWN + Duration::from_secs(1));
        let before = h.tenant.requests(Endpoint::Jwks);
        let unknown = h.tenant.token().member().header("kid", json!(random_guid())).sign();
        // While refreshes fail an unknown key is our problem, not the token's: 503, never 401.
        assert_eq!(status(&h.auth, &unknown).await, Err(TokenError::KeysUnavailable), "{fault:?}");
        assert_eq!(h.tenant.requests(Endpoint::Jwks), before + 1, "{fault:?}: the refresh was attempted");
        let fresh = h.tenant.token().member().sign();
        assert_eq!(status(&h.auth, &fresh).await, Ok(()), "{fault:?}: cached keys still verify");
        assert!(h.auth.keys().status().last_error.is_some(), "{fault:?}: the failure is reported");
        h.tenant.clear_fault(Endpoint::Jwks);
    }
}

#[actix_web::test]
async fn j07_b14_unusable_keys_are_skipped_one_by_one() {
    let mock = Mock::start().await;
    let real = mock.key.jwk(None);
    let kid = real["kid"].clone();
    let mut no_n = real.clone();
    no_n.as_object_mut().unwrap().remove("n");
    no_n["kid"] = json!("missing-n");
    let mut bad_n = real.clone();
    bad_n["n"] = json!("***not base64url***");
    bad_n["kid"] = json!("bad-n");
    let decoys = vec![
        json!({"kty": "AKP", "kid": "akp", "alg": "ML-DSA-44", "pub": "AAAA"}),
        json!({"kty": "XYZ", "kid": "xyz"}),
        json!({"kty": "EC", "kid": "ec-unknown-curve", "crv": "P-999", "x": "AAAA", "y": "AAAA"}),
        json!({"kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
        json!({"kty": "RSA", "kid": kid, "use": "enc", "n": real["n"], "e": real["e"]}),
        json!({"kty": "RSA", "kid": "rs384-only", "alg": "RS384", "n": real["n"], "e": real["e"]}),
        json!({"kty": "RSA", "kid": "verify-not-allowed", "key_ops": ["encrypt"], "n": real["n"], "e": real["e"]}),
        json!("not an object"),
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
        no_n,
        bad_n,
    ];
    let mut keys = decoys.clone();
    keys.push(real);
    mock.idp.set_jwks(keys);
    let auth = mock.auth();
    assert_eq!(status(&auth, &mock.token().sign()).await, Ok(()), "J7/B14: the real key verifies among decoys");
    assert_eq!(auth.keys().status().keys, 1, "only the real key is usable");

    // B14: a token whose kid matches only an encryption key is refused.
    let enc_only = Arc::new(TestKey::generate("enc-only"));
    let mut enc_jwk = enc_only.jwk(None);
    enc_jwk["use"] = json!("enc");
    let mock2 = Mock::start().await;
    mock2.idp.set_jwks(vec![mock2.key.jwk(None), enc_jwk]);
    let auth2 = mock2.auth();
    let token = mock2.token().signed_with(enc_only).sign();
    assert_eq!(status(&auth2, &token).await, Err(TokenError::UnknownKey));
}

#[actix_web::test]
async fn b15_rsa_keys_under_2048_bits_are_refused() {
    use rsa::pkcs1v15::SigningKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let mock = Mock::start().await;
    use rsa::pkcs8::DecodePrivateKey;
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../fixtures/rsa1024.pem")).unwrap();
    let public = private.to_public_key();
    use rsa::traits::PublicKeyParts;
    let weak_jwk = json!({"kty": "RSA", "use": "sig", "kid": "weak", "n": aad_auth_tests::b64(&public.n().to_bytes_be()), "e": aad_auth_tests::b64(&public.e().to_bytes_be())});
    mock.idp.set_jwks(vec![mock.key.jwk(None), weak_jwk]);
    let claims = Value::Object(mock.token().claims().clone());
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "weak"});
    let signing_input = format!(
        "{}.{}",
        aad_auth_tests::b64(header.to_string().as_bytes()),
        aad_auth_tests::b64(claims.to_string().as_bytes())
    );
    let signature = SigningKey::<rsa::sha2::Sha256>::new(private).sign(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", aad_auth_tests::b64(&signature.to_bytes()));
    let auth = mock.auth();
    assert_eq!(status(&auth, &token).await, Err(TokenError::UnknownKey), "a 1024-bit key is never used");
    assert_eq!(status(&auth, &mock.token().sign()).await, Ok(()));
}

/// A harness whose key store runs on a short time scale: 60 s fresh, then 120 s stale.
async fn short_ttl_harness(stale: Duration) -> Harness {
    let clock = Arc::new(ManualClock::new());
    let tenant = Tenant::builder().clock(clock.clone()).start().await;
    let timing = KeyStoreTiming::default().ttl(Duration::from_secs(60)).stale_ttl(stale);
    let auth = AadAuth::builder(tenant.api_config().build().unwrap())
        .clock(clock.clone())
        .key_store_timing(timing)
        .bearer_only()
        .build()
        .unwrap();
    Harness { tenant, auth, clock }
}

#[actix_web::test]
async fn j08_a_withdrawn_key_is_refused_right_after_the_refresh_that_drops_it() {
    let h = Harness::new().await;
    let compromised = Arc::new(TestKey::generate("compromised-key"));
    h.tenant.publish_key(compromised.clone());
    let forged = || h.tenant.token().member().signed_with(compromised.clone()).sign();
    let cached = forged();
    assert_eq!(status(&h.auth, &cached).await, Ok(()), "published: trusted");
    assert_eq!(status(&h.auth, &cached).await, Ok(()), "and now cached");
    // Emergency rollover: the tenant stops publishing the key.
    h.tenant.retire_key("compromised-key");
    let before = h.tenant.requests(Endpoint::Jwks);
    assert!(h.auth.keys().refresh_now().await);
    assert_eq!(h.tenant.requests(Endpoint::Jwks), before + 2, "the drop was confirmed by a second fetch");
    assert_eq!(status(&h.auth, &cached).await, Err(TokenError::UnknownKey), "the cached token dies with its key");
    assert_eq!(status(&h.auth, &forged()).await, Err(TokenError::UnknownKey), "a new token signed by it too");
    assert_eq!(h.auth.keys().status().keys_withdrawn, 1);
    assert_eq!(status(&h.auth, &h.tenant.token().member().sign()).await, Ok(()), "the tenant's own key still works");
}

#[actix_web::test]
async fn j08_an_unknown_kid_refresh_drops_withdrawn_keys_too() {
    // Security review F2's exploit: forcing a refresh with an unknown kid must not keep the key.
    let h = Harness::new().await;
    let compromised = Arc::new(TestKey::generate("compromised-key"));
    h.tenant.publish_key(compromised.clone());
    let token = h.tenant.token().member().signed_with(compromised.clone()).sign();
    assert_eq!(status(&h.auth, &token).await, Ok(()));
    h.tenant.retire_key("compromised-key");
    h.clock.advance(KeyStoreTiming::DEFAULT_REFRESH_COOLDOWN + Duration::from_secs(1));
    let unknown = h.tenant.token().member().header("kid", json!(random_guid())).sign();
    assert_eq!(status(&h.auth, &unknown).await, Err(TokenError::UnknownKey));
    assert_eq!(status(&h.auth, &token).await, Err(TokenError::UnknownKey), "gone after the forced refresh");
}

#[actix_web::test]
async fn j08_one_partial_answer_drops_no_key() {
    let h = Harness::new().await;
    let token = h.tenant.token().member().sign();
    assert_eq!(status(&h.auth, &token).await, Ok(()));
    // One replica answers without the active key; the confirming fetch reaches a full one.
    h.tenant.set_fault(Endpoint::Jwks, Fault::PartialKeysOnce);
    let other = h.tenant.rotate_keys();
    let (captured, _guard) = Captured::start();
    assert!(h.auth.keys().refresh_now().await);
    assert_eq!(h.auth.keys().status().keys_withdrawn, 0);
    assert_eq!(status(&h.auth, &token).await, Ok(()), "the key the partial answer left out is kept");
    assert_eq!(status(&h.auth, &h.tenant.token().member().sign()).await, Ok(()), "{other} arrived");
    assert!(!captured.text().contains("withdrawn"), "{}", captured.text());
}

#[actix_web::test]
async fn j18_valid_tokens_pass_through_an_outage_longer_than_the_ttl_then_503() {
    let h = short_ttl_harness(Duration::from_secs(120)).await;
    let (captured, _guard) = Captured::start();
    let cached = h.tenant.token().member().sign();
    assert_eq!(status(&h.auth, &cached).await, Ok(()));
    h.tenant.set_fault(Endpoint::Jwks, Fault::Status(503));
    h.tenant.set_fault(Endpoint::Discovery, Fault::Status(503));
    h.clock.advance(Duration::from_secs(61));
    assert!(!h.auth.keys().refresh_now().await, "the provider is down");
    let keys = h.auth.keys().status();
    assert_eq!(keys.freshness, KeyFreshness::Stale, "{keys:?}");
    assert!(keys.last_error.is_some() && keys.age >= Some(Duration::from_secs(61)), "{keys:?}");
    assert_eq!(status(&h.auth, &cached).await, Ok(()), "cached token, past the TTL, within the stale window");
    let fresh = h.tenant.token().member().sign();
    assert_eq!(status(&h.auth, &fresh).await, Ok(()), "new token signed by a key of the last good set");
    h.clock.advance(Duration::from_secs(100));
    assert!(!h.auth.keys().refresh_now().await);
    assert_eq!(status(&h.auth, &fresh).await, Ok(()), "still within the window at 161 s");
    h.clock.advance(Duration::from_secs(20));
    assert!(!h.auth.keys().refresh_now().await);
    assert_eq!(h.auth.keys().status().freshness, KeyFreshness::Expired);
    assert_eq!(status(&h.auth, &cached).await, Err(TokenError::KeysUnavailable), "503, never 401");
    assert_eq!(status(&h.auth, &h.tenant.token().member().sign()).await, Err(TokenError::KeysUnavailable));
    let app = app(&h.auth).await;
    let reply = get(&app, "/api", Some(&cached)).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.retry_after.is_some(), "{reply:?}");
    h.tenant.clear_fault(Endpoint::Jwks);
    h.tenant.clear_fault(Endpoint::Discovery);
    assert!(h.auth.keys().refresh_now().await);
    assert_eq!(h.auth.keys().status().freshness, KeyFreshness::Fresh);
    assert_eq!(status(&h.auth, &cached).await, Ok(()), "recovered");
    let logs = captured.text();
    let once = |needle: &str| logs.matches(needle).count() == 1;
    assert!(once("signing keys are past their TTL and refreshes fail"), "stale logged once:\n{logs}");
    assert!(once("signing keys expired past the stale window"), "expiry logged once:\n{logs}");
    assert!(once("signing keys recovered"), "recovery logged once:\n{logs}");
}

#[actix_web::test]
async fn j18_without_a_stale_window_the_ttl_is_the_limit() {
    let h = short_ttl_harness(Duration::ZERO).await;
    let token = h.tenant.token().member().sign();
    assert_eq!(status(&h.auth, &token).await, Ok(()));
    h.tenant.set_fault(Endpoint::Jwks, Fault::Garbage);
    h.clock.advance(Duration::from_secs(61));
    assert!(!h.auth.keys().refresh_now().await);
    assert_eq!(status(&h.auth, &token).await, Err(TokenError::KeysUnavailable));
}

#[actix_web::test]
async fn j18_a_set_past_its_ttl_is_refreshed_by_the_next_request_once_expired() {
    // With the background task asleep (manual clock), an expired set reloads on demand.
    let h = short_ttl_harness(Duration::from_secs(10)).await;
    let token = h.tenant.token().member().sign();
    assert_eq!(status(&h.auth, &token).await, Ok(()));
    h.clock.advance(Duration::from_secs(100));
    assert_eq!(status(&h.auth, &token).await, Ok(()), "reloaded in the same call");
    assert_eq!(h.auth.keys().status().freshness, KeyFreshness::Fresh);
}

#[actix_web::test]
async fn j09_unreachable_discovery_answers_503_then_recovers_without_lockout() {
    let clock = Arc::new(ManualClock::new());
    let tenant = Tenant::builder().clock(clock.clone()).start().await;
    tenant.set_fault(Endpoint::Discovery, Fault::Status(500));
    let auth =
        AadAuth::builder(tenant.api_config().build().unwrap()).clock(clock.clone()).bearer_only().build().unwrap();
    let app = app(&auth).await;
    let token = tenant.token().member().sign();
    let down = get(&app, "/api", Some(&token)).await;
    assert_eq!(down.status, 503, "{down:?}");
    assert!(down.retry_after.as_deref().is_some_and(|s| s.parse::<u32>().is_ok()), "Retry-After is set");
    assert_eq!(down.json()["error"], json!("temporarily_unavailable"));
    tenant.clear_fault(Endpoint::Discovery);
    clock.advance(Duration::from_secs(2));
    assert_eq!(get(&app, "/api", Some(&token)).await.status, 200, "recovered on the next request");
}

#[actix_web::test]
async fn j10_j11_untrustworthy_discovery_fails_closed() {
    let attacker = MockIdp::start("x").await;
    type Break = Box<dyn Fn(&Mock)>;
    let mut cases: Vec<(&str, Break)> = Vec::new();
    cases.push((
        "J10 issuer with a trailing slash",
        Box::new(|m: &Mock| {
            let mut d = m.idp.discovery();
            d["issuer"] = json!(format!("{}/", m.issuer()));
            m.idp.set_discovery(d);
        }),
    ));
    cases.push((
        "J10 issuer of another tenant",
        Box::new(|m: &Mock| {
            let mut d = m.idp.discovery();
            d["issuer"] = json!(format!("{}/{}/v2.0", m.idp.base, random_guid()));
            m.idp.set_discovery(d);
        }),
    ));
    cases.push((
        "J10 jwks_uri over http on a public host",
        Box::new(|m: &Mock| {
            let mut d = m.idp.discovery();
            d["jwks_uri"] = json!("http://keys.example.com/keys");
            m.idp.set_discovery(d);
        }),
    ));
    let attacker_keys = format!("{}/x/keys", attacker.base);
    cases.push((
        "J10 jwks_uri on another host",
        Box::new(move |m: &Mock| {
            let mut d = m.idp.discovery();
            d["jwks_uri"] = json!(attacker_keys.replace("127.0.0.1", "localhost"));
            m.idp.set_discovery(d);
        }),
    ));
    let redirect =
        format!("{}/x/v2.0/.well-known/openid-configuration", attacker.base.replace("127.0.0.1", "localhost"));
    cases.push((
        "J11 discovery redirects off-host",
        Box::new(move |m: &Mock| m.idp.set_discovery_raw(302, redirect.clone())),
    ));
    cases.push((
        "J11 JWKS larger than the cap",
        Box::new(|m: &Mock| {
            let filler: Vec<Value> =
                (0..40).map(|i| json!({"kty": "XYZ", "kid": format!("pad-{i}"), "pad": "A".repeat(16_000)})).collect();
            m.idp.set_jwks(filler);
        }),
    ));
    cases.push(("discovery not JSON", Box::new(|m: &Mock| m.idp.set_discovery_raw(200, "<html>"))));
    cases.push(("JWKS not JSON", Box::new(|m: &Mock| m.idp.set_jwks_raw(200, "{\"keys\": ["))));
    let mut failures = Vec::new();
    for (name, break_it) in &cases {
        let mock = Mock::start().await;
        break_it(&mock);
        let auth = mock.auth();
        match status(&auth, &mock.token().sign()).await {
            Err(TokenError::KeysUnavailable) => {}
            other => failures.push(format!("{name}: {other:?} (expected KeysUnavailable)")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        attacker.discovery_hits() + attacker.jwks_hits() + attacker.other_hits(),
        0,
        "nothing fetched from the other host"
    );
}

#[actix_web::test]
async fn j11_d14_hanging_jwks_times_out_without_blocking_other_routes() {
    let h = Harness::new().await;
    h.tenant.set_fault(Endpoint::Jwks, Fault::Hang);
    // The provider timeout shortened from 10 s, so that the test does not wait the real one.
    const TIMEOUT: Duration = Duration::from_millis(500);
    let auth = AadAuth::builder(h.auth.config().clone())
        .clock(h.clock.clone())
        .bearer_only()
        .http_timeout(TIMEOUT)
        .build()
        .unwrap();
    let app = app(&auth).await;
    let token = h.tenant.token().member().sign();
    let started = Instant::now();
    // The guarded request is polled first and starts the hanging fetch; the open route answers
    // while it hangs.
    let (guarded, open) = futures_util::future::join(get(&app, "/api", Some(&token)), async {
        let reply = get(&app, "/open", None).await;
        (reply.status, started.elapsed())
    })
    .await;
    let waited = started.elapsed();
    assert_eq!(open.0, 200);
    assert!(open.1 < TIMEOUT, "other routes answer while the fetch hangs ({:?})", open.1);
    assert_eq!(guarded.status, 503);
    assert!(waited >= TIMEOUT, "gave up after the timeout, not before ({waited:?})");
}

#[actix_web::test]
async fn j12_custom_signing_keys_need_the_appid_discovery_url() {
    let mock = Mock::start().await;
    let client_id = mock.minter.api_app().client_id;
    let app_key = Arc::new(TestKey::generate("app-custom-key"));
    mock.idp.set_app_jwks(&client_id, vec![app_key.jwk(None)]);
    let token = mock.token().signed_with(app_key).sign();

    // Without `?appid=` the key is not in the tenant's JWKS: 401, and a warning saying what to set.
    let (captured, _guard) = Captured::start();
    let plain = mock.auth();
    assert!(plain.keys().ensure_loaded().await);
    assert_eq!(status(&plain, &token).await, Err(TokenError::UnknownKey));
    let logs = captured.text();
    assert!(logs.contains("WARN") && logs.contains("AAD_OPENID_CONFIG_URL with ?appid=<client id>"), "{logs}");

    // With the discovery URL carrying `?appid=`, the app's JWKS is used and the token verifies.
    let discovery = format!("{}/{}/v2.0/.well-known/openid-configuration?appid={client_id}", mock.idp.base, mock.tid);
    let config = AadAuthConfig::builder(&client_id, &mock.tid).openid_config_url(discovery).build().unwrap();
    let with_appid = AadAuth::bearer_only(config).unwrap();
    assert_eq!(status(&with_appid, &token).await, Ok(()));
    assert_eq!(status(&with_appid, &mock.token().sign()).await, Ok(()), "the tenant's own keys still verify");
}

#[actix_web::test]
async fn j14_an_unchanged_jwks_answers_304_and_the_cached_keys_stay() {
    let mock = Mock::start().await;
    mock.idp.set_jwks_etag("\"set-1\"");
    let clock = Arc::new(ManualClock::new());
    let auth = AadAuth::builder(mock.config()).clock(clock.clone()).bearer_only().build().unwrap();
    assert_eq!(status(&auth, &mock.token().sign()).await, Ok(()));

    // An unknown kid refreshes with the ETag; the 304 keeps the keys and parses nothing.
    let unknown = mock.token().header("kid", json!("not-published")).sign();
    assert_eq!(status(&auth, &unknown).await, Err(TokenError::UnknownKey));
    assert_eq!(mock.idp.jwks_if_none_match(), vec![None, Some("\"set-1\"".to_owned())]);
    let keys = auth.keys().status();
    assert_eq!((keys.jwks_fetches, keys.jwks_not_modified, keys.keys), (2, 1, 1));
    assert_eq!(keys.last_error, None, "a 304 is a successful refresh");
    assert_eq!(status(&auth, &mock.token().sign()).await, Ok(()), "the cached key still verifies");

    // A changed set comes with a new ETag: fetched, parsed, and its new key verifies.
    let next = Arc::new(TestKey::generate("mock-key-2"));
    mock.idp.set_jwks(vec![mock.key.jwk(None), next.jwk(None)]);
    mock.idp.set_jwks_etag("\"set-2\"");
    clock.advance(KeyStoreTiming::DEFAULT_REFRESH_COOLDOWN + Duration::from_secs(1));
    assert_eq!(status(&auth, &mock.token().signed_with(next).sign()).await, Ok(()));
    assert_eq!(mock.idp.jwks_if_none_match().last(), Some(&Some("\"set-1\"".to_owned())));
    let keys = auth.keys().status();
    assert_eq!((keys.jwks_fetches, keys.jwks_not_modified, keys.keys), (3, 1, 2));
}

#[actix_web::test]
async fn j15_startup_burst_is_one_discovery_and_one_jwks_fetch() {
    let h = Harness::new().await;
    let tokens: Vec<String> = (0..200).map(|_| h.tenant.token().member().sign()).collect();
    let results = futures_util::future::join_all(tokens.iter().map(|t| h.auth.validate_bearer(t))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!((h.tenant.requests(Endpoint::Discovery), h.tenant.requests(Endpoint::Jwks)), (1, 1));
}

#[actix_web::test]
async fn b22_multi_tenant_rules() {
    let tenant = Tenant::start().await;
    let tid = tenant.tenant_id().to_owned();
    let host = tenant.authority_host().to_owned();
    let build = |adjust: fn(aad_auth::config::AadAuthConfigBuilder) -> aad_auth::config::AadAuthConfigBuilder| {
        AadAuth::bearer_only(
            adjust(tenant.api_config().tenant_id("organizations").allowed_tenants([tid.clone()])).build().unwrap(),
        )
        .unwrap()
    };
    let auth = build(|c| c);
    let consumer = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let rows: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("allowed tenant", tenant.token().member().sign(), Ok(())),
        ("allowed tenant, v1 token", tenant.token().member().v1().sign(), Ok(())),
        (
            "B22a iss tenant differs from tid",
            tenant.token().member().claim("iss", json!(format!("{host}/{}/v2.0", random_guid()))).sign(),
            Err(TokenError::InvalidIssuer),
        ),
        ("B22b tid not a GUID", tenant.token().member().tenant("contoso").sign(), Err(TokenError::InvalidClaim("tid"))),
        (
            "B22c tenant not in the allow-list",
            tenant.token().member().other_tenant().sign(),
            Err(TokenError::TenantNotAllowed),
        ),
        (
            "B22d tid and TID",
            tenant.token().member().claim("TID", json!(tid)).sign(),
            Err(TokenError::InvalidClaim("tid")),
        ),
        ("B22e consumer tenant", tenant.token().member().tenant(consumer).sign(), Err(TokenError::TenantNotAllowed)),
        (
            "B22g iss still templated",
            tenant.token().member().claim("iss", json!(format!("{host}/{{tenantid}}/v2.0"))).sign(),
            Err(TokenError::InvalidIssuer),
        ),
    ];
    let mut failures = Vec::new();
    for (name, token, expected) in rows {
        let got = status(&auth, &token).await;
        if got != expected {
            failures.push(format!("{name}: {got:?} (expected {expected:?})"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let any = build(|c| c.insecure_allow_any_tenant(true));
    assert_eq!(status(&any, &tenant.token().member().other_tenant().sign()).await, Ok(()), "AAD_ALLOW_ANY_TENANT=true");
}

#[actix_web::test]
async fn b22f_j13_a_key_scoped_to_one_tenant_never_verifies_another() {
    // Multi-tenant metadata whose only key is scoped (JWKS `issuer`) to the consumer tenant.
    let consumer = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let idp = MockIdp::start("organizations").await;
    let minter = Tenant::start().await;
    let key = Arc::new(TestKey::generate("scoped"));
    let enterprise = random_guid();
    idp.set_discovery(json!({
        "issuer": format!("{}/{{tenantid}}/v2.0", idp.base),
        "jwks_uri": format!("{}/organizations/keys", idp.base),
    }));
    idp.set_jwks(vec![key.jwk(Some(&format!("{}/{consumer}/v2.0", idp.base)))]);
    let config = AadAuthConfig::builder(minter.api_app().client_id, "organizations")
        .authority_host(&idp.base)
        .allowed_tenants([enterprise.clone(), consumer.to_owned()])
        .build()
        .unwrap();
    let auth = AadAuth::bearer_only(config).unwrap();
    let token_for = |tid: &str| {
        minter
            .token()
            .member()
            .claim("tid", json!(tid))
            .claim("iss", json!(format!("{}/{tid}/v2.0", idp.base)))
            .signed_with(key.clone())
            .sign()
    };
    assert_eq!(status(&auth, &token_for(&enterprise)).await, Err(TokenError::KeyNotForTenant));
    assert_eq!(status(&auth, &token_for(consumer)).await, Ok(()), "the key verifies its own tenant's tokens");
}

#[actix_web::test]
async fn d09_invalid_tokens_with_known_kids_never_fetch() {
    let h = Harness::new().await;
    assert!(h.auth.keys().ensure_loaded().await);
    let before = (h.tenant.requests(Endpoint::Discovery), h.tenant.requests(Endpoint::Jwks));
    let stranger = Arc::new(TestKey::generate(h.tenant.active_kid()));
    for _ in 0..200 {
        let forged = h.tenant.token().member().signed_with(stranger.clone()).sign();
        assert_eq!(status(&h.auth, &forged).await, Err(TokenError::BadSignature));
    }
    assert_eq!((h.tenant.requests(Endpoint::Discovery), h.tenant.requests(Endpoint::Jwks)), before);
}

/// A token Microsoft signed, with the key that signed it, from a public repository
/// (`tests/fixtures/entra/README.md` says where each comes from and how its signature was checked).
struct Genuine {
    name: String,
    token: String,
    jwks: Value,
    kind: String,
    tid: String,
    aud: String,
    iat: u64,
    exp: u64,
}

fn genuine_tokens() -> Vec<Genuine> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/entra");
    let mut fixtures: Vec<Genuine> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let fixture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let text = |name: &str| fixture[name].as_str().unwrap().to_owned();
            Genuine {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                token: text("token"),
                jwks: fixture["jwks"].clone(),
                kind: text("kind"),
                tid: text("tid"),
                aud: text("aud"),
                iat: fixture["iat"].as_u64().unwrap(),
                exp: fixture["exp"].as_u64().unwrap(),
            }
        })
        .collect();
    fixtures.sort_by(|a, b| a.name.cmp(&b.name));
    fixtures
}

/// A validator for the fixture's tenant as Entra serves it (issuer
/// `https://login.microsoftonline.com/{tid}/v2.0`, the fixture's JWKS as published), under a
/// clock frozen at `at`. The fixture's `aud` is the API's audience (the client id for the
/// id_tokens; Graph's URI for the one Graph token, so that its checks run to the end).
async fn genuine_validator(fixture: &Genuine, at: u64) -> (AadAuth, Arc<ManualClock>, MockIdp) {
    let idp = MockIdp::start(&fixture.tid).await;
    let issuer = format!("https://login.microsoftonline.com/{}/v2.0", fixture.tid);
    let mut discovery = idp.discovery();
    discovery["issuer"] = json!(issuer);
    idp.set_discovery(discovery);
    idp.set_jwks(fixture.jwks["keys"].as_array().unwrap().clone());
    let clock = Arc::new(ManualClock::at(std::time::UNIX_EPOCH + Duration::from_secs(at)));
    let client_id = if fixture.aud.contains(':') { random_guid() } else { fixture.aud.clone() };
    let config = AadAuthConfig::builder(client_id, &fixture.tid)
        .openid_config_url(format!("{}/{}/v2.0/.well-known/openid-configuration", idp.base, fixture.tid))
        .api_audience(&fixture.aud)
        .build()
        .unwrap();
    let auth = AadAuth::builder(config).clock(clock.clone()).bearer_only().build().unwrap();
    (auth, clock, idp)
}

/// The token with one byte of its decoded signature changed, re-encoded (so that every
/// base64url check still passes and only the RSA verification can refuse it).
fn with_signature_byte_flipped(token: &str) -> String {
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[17] ^= 0x01;
    format!("{signing_input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[actix_web::test]
async fn genuine_microsoft_signed_tokens_under_a_frozen_clock() {
    let fixtures = genuine_tokens();
    assert!(fixtures.len() >= 4, "{} fixtures", fixtures.len());
    // Every fixture is checked before failing, so that a failure names each token it affects.
    let mut mismatches = Vec::new();
    for fixture in &fixtures {
        let name = &fixture.name;
        let (auth, clock, _idp) = genuine_validator(fixture, fixture.iat + 1).await;
        let expected = if fixture.kind == "access" { Ok(()) } else { Err(TokenError::NotAnAccessToken) };
        let flipped = with_signature_byte_flipped(&fixture.token);
        let mut checks = vec![
            ("at its time", status(&auth, &fixture.token).await, expected),
            ("again (cached when accepted)", status(&auth, &fixture.token).await, expected),
            ("with one signature byte changed", status(&auth, &flipped).await, Err(TokenError::BadSignature)),
        ];
        clock.set(std::time::UNIX_EPOCH + Duration::from_secs(fixture.exp + 61));
        checks.push(("past exp and the skew", status(&auth, &fixture.token).await, Err(TokenError::Expired)));
        for (what, got, want) in checks {
            if got != want {
                mismatches.push(format!("{name} {what}: {got:?}, expected {want:?}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[actix_web::test]
async fn genuine_graph_token_is_refused_by_an_api_of_our_own() {
    let fixture = genuine_tokens().into_iter().find(|f| f.aud == "https://graph.microsoft.com").unwrap();
    let (_, _, idp) = genuine_validator(&fixture, fixture.iat + 1).await;
    let config = AadAuthConfig::builder(random_guid(), &fixture.tid)
        .openid_config_url(format!("{}/{}/v2.0/.well-known/openid-configuration", idp.base, fixture.tid))
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::at(std::time::UNIX_EPOCH + Duration::from_secs(fixture.iat + 1)));
    let auth = AadAuth::builder(config).clock(clock).bearer_only().build().unwrap();
    assert_eq!(status(&auth, &fixture.token).await, Err(TokenError::InvalidAudience));
}
