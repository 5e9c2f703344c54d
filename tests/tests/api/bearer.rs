//! Bearer validation, one row per case B of `docs/security.md`, against a local tenant
//! that serves discovery and the JWKS over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use aad_auth::testing::{Endpoint, SigningAlg, TestKey, random_guid};
use aad_auth_tests::{Harness, app, assert_rows, b64, call, expect_row, get, segments, unb64};
use serde_json::{Value, json};

const INVALID: Option<&str> = Some("invalid_token");
const SCOPE: Option<&str> = Some("insufficient_scope");

/// Re-encodes a token's header (keeping payload and signature).
fn with_header(token: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let (header, payload, signature) = segments(token);
    let mut header: serde_json::Map<String, Value> = serde_json::from_slice(&unb64(&header)).unwrap();
    edit(&mut header);
    format!("{}.{payload}.{signature}", b64(Value::Object(header).to_string().as_bytes()))
}

#[actix_web::test]
async fn b01_valid_token_exposes_claims_to_the_handler() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let token = h.tenant.token().member().sign();
    let reply = get(&app, "/scoped", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    let alice = &h.tenant.users()[0];
    assert_eq!(body["oid"], json!(alice.oid));
    assert_eq!(body["username"], json!(alice.username));
    assert_eq!(body["tid"], json!(h.tenant.tenant_id()));
    assert_eq!(body["scopes"], json!(["user_impersonation"]));
    assert_eq!(body["source"], json!("Bearer"));
    assert!(body["claims"].as_u64().unwrap() > 10, "raw claims are exposed");
}

#[actix_web::test]
async fn b02_to_b11_signature_and_algorithm_attacks_are_refused() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let good = h.tenant.token().member().sign();
    // Warm the key cache so that later fetch counts measure refreshes only.
    assert_eq!(get(&app, "/api", Some(&good)).await.status, 200);
    let kid = h.tenant.active_kid();
    let attacker = Arc::new(TestKey::generate(kid.clone()));
    let claims = Value::Object(h.tenant.token().member().claims().clone());
    let (header_b64, payload_b64, signature_b64) = segments(&good);

    let mut flipped = unb64(&signature_b64);
    flipped[17] ^= 0x01;
    let edited_claims = {
        let mut c = claims.clone();
        c["oid"] = json!(random_guid());
        b64(c.to_string().as_bytes())
    };
    let mut rows: Vec<(String, String)> = vec![
        ("B2a bit flipped in the signature".into(), format!("{header_b64}.{payload_b64}.{}", b64(&flipped))),
        ("B2b right kid, other key".into(), h.tenant.token().member().signed_with(attacker.clone()).sign()),
        ("B2c payload edited after signing".into(), format!("{header_b64}.{edited_claims}.{signature_b64}")),
        ("B3 signature stripped, trailing dot".into(), format!("{header_b64}.{payload_b64}.")),
        ("B3 signature stripped, two segments".into(), format!("{header_b64}.{payload_b64}")),
    ];
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"typ": "JWT", "alg": alg, "kid": kid});
        let unsigned = attacker.sign_compact(&header, &claims, &SigningAlg::Unsigned);
        rows.push((format!("B4 alg {alg}, empty signature"), unsigned.clone()));
        let (h2, p2, _) = segments(&unsigned);
        rows.push((format!("B4 alg {alg}, original signature kept"), format!("{h2}.{p2}.{signature_b64}")));
    }
    let public_pem = attacker_public_of_tenant(&h);
    for (encoding, secret) in public_pem {
        let header = json!({"typ": "JWT", "alg": "HS256", "kid": kid});
        rows.push((
            format!("B5 HS256 keyed with the public key ({encoding})"),
            attacker.sign_compact(&header, &claims, &SigningAlg::Hs256(secret)),
        ));
    }
    for secret in ["", "secret", "your-256-bit-secret"] {
        let header = json!({"typ": "JWT", "alg": "HS256", "kid": kid});
        rows.push((
            format!("B6 HS256 with {secret:?}"),
            attacker.sign_compact(&header, &claims, &SigningAlg::Hs256(secret.as_bytes().to_vec())),
        ));
    }
    for alg in [SigningAlg::Rs384, SigningAlg::Rs512, SigningAlg::Ps256] {
        rows.push((format!("B7 {} with the genuine key", alg.name()), h.tenant.token().member().alg(alg).sign()));
    }
    let es256 = with_header(&format!("{header_b64}.{payload_b64}.{}", b64(&[0u8; 64])), |hd| {
        hd.insert("alg".into(), json!("ES256"));
    });
    rows.push(("B8 ES256 psychic signature (r = s = 0)".into(), es256));
    let eddsa = with_header(&format!("{header_b64}.{payload_b64}.{}", b64(&[0u8; 64])), |hd| {
        hd.insert("alg".into(), json!("EdDSA"));
    });
    rows.push(("B8 EdDSA".into(), eddsa));
    let embedded = json!({"typ": "JWT", "alg": "RS256", "kid": kid, "jwk": attacker.jwk(None)});
    rows.push(("B9 embedded jwk, matching kid".into(), attacker.sign_compact(&embedded, &claims, &SigningAlg::Rs256)));
    let embedded_no_kid = json!({"typ": "JWT", "alg": "RS256", "jwk": attacker.jwk(None)});
    rows.push(("B9 embedded jwk, no kid".into(), attacker.sign_compact(&embedded_no_kid, &claims, &SigningAlg::Rs256)));
    let x5c = json!({"typ": "JWT", "alg": "RS256", "kid": kid, "x5t": "attacker", "x5c": [base64_std(&attacker.public_key_der())]});
    rows.push(("B11 x5c with the attacker's key".into(), attacker.sign_compact(&x5c, &claims, &SigningAlg::Rs256)));
    rows.push(("B1 control: the original token".into(), good.clone()));
    // Counted after building the rows: fetching the public key above is itself a JWKS request.
    let jwks_before = h.tenant.requests(Endpoint::Jwks);

    let mut failures = Vec::new();
    for (name, token) in &rows {
        let reply = get(&app, "/api", Some(token)).await;
        let expected = if name.starts_with("B1 ") { (200, None) } else { (401, INVALID) };
        failures.extend(expect_row(name, &reply, expected.0, expected.1, token));
    }
    assert_rows(failures);
    assert_eq!(h.tenant.requests(Endpoint::Jwks), jwks_before, "B2: known kid, bad signature: no JWKS refresh");
}

/// The tenant's active public key in the four encodings of the RS→HS confusion attack.
fn attacker_public_of_tenant(h: &Harness) -> Vec<(&'static str, Vec<u8>)> {
    // The published JWK is all an attacker has; rebuild the encodings from it.
    let jwk = fetch_active_jwk(h);
    let n = unb64(jwk["n"].as_str().unwrap());
    let e = unb64(jwk["e"].as_str().unwrap());
    let der = rsa_spki_der(&n, &e);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64_std(&der).as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\n")
    );
    vec![("PEM", pem.into_bytes()), ("DER", der), ("raw modulus", n), ("JWK JSON", jwk.to_string().into_bytes())]
}

fn fetch_active_jwk(h: &Harness) -> Value {
    let url = format!("{}/discovery/v2.0/keys", h.tenant.authority());
    let body: Value = std::thread::scope(|s| s.spawn(|| reqwest_blocking_json(&url)).join().unwrap());
    body["keys"].as_array().unwrap().iter().find(|k| k["kid"] == json!(h.tenant.active_kid())).unwrap().clone()
}

fn reqwest_blocking_json(url: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// SubjectPublicKeyInfo DER for an RSA key (what `openssl` would print as the PEM body).
fn rsa_spki_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    use rsa::pkcs8::EncodePublicKey;
    let key = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e)).unwrap();
    key.to_public_key_der().unwrap().as_bytes().to_vec()
}

#[actix_web::test]
async fn b10_header_key_urls_are_never_fetched() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let attacker_host = aad_auth_tests::mock_idp::MockIdp::start("attacker").await;
    let attacker = Arc::new(TestKey::generate("attacker-kid"));
    let claims = Value::Object(h.tenant.token().member().claims().clone());
    let mut failures = Vec::new();
    for member in ["jku", "x5u"] {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": "attacker-kid", member: format!("{}/attacker/keys", attacker_host.base)});
        let token = attacker.sign_compact(&header, &claims, &SigningAlg::Rs256);
        let reply = get(&app, "/api", Some(&token)).await;
        failures.extend(expect_row(&format!("B10 {member}"), &reply, 401, INVALID, &token));
    }
    assert_rows(failures);
    assert_eq!(attacker_host.jwks_hits() + attacker_host.other_hits() + attacker_host.discovery_hits(), 0, "no SSRF");
}

#[actix_web::test]
async fn b13_key_id_by_kid_or_x5t_only() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let by_x5t = h.tenant.token().member().without_header("kid").sign();
    let neither = h.tenant.token().member().without_header("kid").without_header("x5t").sign();
    let mut failures = Vec::new();
    failures.extend(expect_row(
        "B13 no kid, x5t names the key",
        &get(&app, "/api", Some(&by_x5t)).await,
        200,
        None,
        &by_x5t,
    ));
    failures.extend(expect_row(
        "B13 neither kid nor x5t",
        &get(&app, "/api", Some(&neither)).await,
        401,
        INVALID,
        &neither,
    ));
    assert_rows(failures);
}

#[actix_web::test]
async fn b16_to_b18_lifetime_with_the_configured_skew() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let now = h.tenant.token().claims()["iat"].as_i64().unwrap();
    let t = |iat: i64, nbf: i64, exp: i64| h.tenant.token().member().times(iat, nbf, exp).sign();
    let rows = vec![
        ("B16a exp 61 s ago (beyond 60 s skew)", t(now - 3600, now - 3600, now - 61), 401, INVALID),
        ("B16b exp 59 s ago (within skew)", t(now - 3600, now - 3600, now - 59), 200, None),
        ("B16c exp absent", h.tenant.token().member().without_claim("exp").sign(), 401, INVALID),
        ("B16d exp as a string", h.tenant.token().member().claim("exp", json!("9999999999")).sign(), 401, INVALID),
        (
            "B16 exp as a float",
            h.tenant.token().member().claim("exp", json!((now + 600) as f64 + 0.5)).sign(),
            200,
            None,
        ),
        ("B17a nbf beyond skew in the future", t(now, now + 120, now + 3600), 401, INVALID),
        ("B17 nbf within skew", t(now, now + 50, now + 3600), 200, None),
        ("B17b nbf after exp", t(now - 10, now + 30, now + 20), 401, INVALID),
        ("B17c nbf as a string", h.tenant.token().member().claim("nbf", json!(now.to_string())).sign(), 401, INVALID),
        ("B17 nbf absent (optional)", h.tenant.token().member().without_claim("nbf").sign(), 200, None),
        ("B18a iat an hour ahead", t(now + 3600, now, now + 7200), 401, INVALID),
        (
            "B18 iat absent on an access token (optional)",
            h.tenant.token().member().without_claim("iat").sign(),
            200,
            None,
        ),
        ("B34 expired token replayed", h.tenant.token().member().expired().sign(), 401, INVALID),
        ("not yet valid preset", h.tenant.token().member().not_yet_valid().sign(), 401, INVALID),
    ];
    let mut failures = Vec::new();
    for (name, token, status, code) in rows {
        failures.extend(expect_row(name, &get(&app, "/api", Some(&token)).await, status, code, &token));
    }
    assert_rows(failures);
}

#[actix_web::test]
async fn b16_skew_follows_the_clock() {
    let h = Harness::with(|c| c.clock_skew(Duration::from_secs(300))).await;
    let app = app(&h.auth).await;
    let token = h.tenant.token().member().lifetime(Duration::from_secs(600)).sign();
    h.clock.advance(Duration::from_secs(600 + 240));
    assert_eq!(get(&app, "/api", Some(&token)).await.status, 200, "J16: 4 minutes past exp within a 5 minute skew");
    h.clock.advance(Duration::from_secs(120));
    assert_eq!(get(&app, "/api", Some(&token)).await.status, 401, "J16: 6 minutes past exp beyond a 5 minute skew");
}

#[actix_web::test]
async fn b19_to_b25_audience_issuer_and_token_kind() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let api = h.tenant.api_app().client_id;
    let tid = h.tenant.tenant_id().to_owned();
    let host = h.tenant.authority_host().to_owned();
    let aud = |value: Value| h.tenant.token().member().audience(value).sign();
    let iss = |value: &str| h.tenant.token().member().claim("iss", json!(value)).sign();
    let upper_host = host.replace("http://127.0.0.1", "HTTP://127.0.0.1");
    let raw = Arc::new(TestKey::generate("raw-signer"));
    h.tenant.publish_key(raw.clone());
    let other_app = json!(random_guid()).to_string();
    let rows = vec![
        ("B19a another app's client id", h.tenant.token().member().wrong_audience().sign(), 401, INVALID),
        ("B19b aud missing", h.tenant.token().member().without_claim("aud").sign(), 401, INVALID),
        ("B19c aud empty string", aud(json!("")), 401, INVALID),
        ("B19c aud empty array", aud(json!([])), 401, INVALID),
        ("B19d aud array with ours and another", aud(json!([api, random_guid()])), 200, None),
        ("B19 aud api://{client id} (the default API audience)", aud(json!(format!("api://{api}"))), 200, None),
        ("B19f ours with a trailing slash", aud(json!(format!("{api}/"))), 401, INVALID),
        ("B19g aud a number", aud(json!(42)), 401, INVALID),
        ("B20a another tenant's issuer", iss(&format!("{host}/{}/v2.0", random_guid())), 401, INVALID),
        ("B20b iss missing", h.tenant.token().member().without_claim("iss").sign(), 401, INVALID),
        ("B20c case-changed scheme and host", iss(&format!("{upper_host}/{tid}/v2.0")), 401, INVALID),
        ("B20d trailing slash added", iss(&format!("{host}/{tid}/v2.0/")), 401, INVALID),
        ("B20d trailing /v2.0 removed", iss(&format!("{host}/{tid}")), 401, INVALID),
        ("B20e PPE cloud", iss(&format!("https://login.windows-ppe.net/{tid}/v2.0")), 401, INVALID),
        ("B20e US government cloud", iss(&format!("https://login.microsoftonline.us/{tid}/v2.0")), 401, INVALID),
        ("B21b v2 issuer with ver 1.0", h.tenant.token().member().claim("ver", json!("1.0")).sign(), 401, INVALID),
        ("B21c v1 token, both versions accepted (default)", h.tenant.token().member().v1().sign(), 200, None),
        (
            "B21 v1 issuer with ver 2.0",
            h.tenant.token().member().claim("iss", json!(format!("https://sts.windows.net/{tid}/"))).sign(),
            401,
            INVALID,
        ),
        ("B21 ver unknown", h.tenant.token().member().claim("ver", json!("3.0")).sign(), 401, INVALID),
        ("B21 ver missing", h.tenant.token().member().without_claim("ver").sign(), 401, INVALID),
        ("B22 tid not this tenant", h.tenant.token().member().claim("tid", json!(random_guid())).sign(), 401, INVALID),
        (
            "B23 another app in the same tenant",
            h.tenant.token().member().audience(json!(h.tenant.public_app().client_id)).sign(),
            401,
            INVALID,
        ),
        ("B24 Microsoft Graph token", h.tenant.token().member().graph_audience().sign(), 401, INVALID),
        ("B24 Graph URL audience", aud(json!("https://graph.microsoft.com")), 401, INVALID),
        ("B25 the app's id_token", h.tenant.token().member().id_token().sign(), 401, INVALID),
        (
            "B25b an id_token of a user with app roles",
            h.tenant.token().member().id_token().claim("roles", json!(["Admin"])).sign(),
            401,
            INVALID,
        ),
        ("B25c scopes and an at_hash", h.tenant.token().member().claim("at_hash", json!("x")).sign(), 401, INVALID),
        ("B25c scopes and a c_hash", h.tenant.token().member().claim("c_hash", json!("x")).sign(), 401, INVALID),
        ("B25c scopes and a nonce", h.tenant.token().member().claim("nonce", json!("n")).sign(), 401, INVALID),
        ("D4 control: the raw signer, no duplicate", duplicated(&h, &raw, None), 200, None),
        ("D4 exp twice, an expired one first", duplicated(&h, &raw, Some(("exp", "1"))), 401, INVALID),
        ("D4 aud twice, another app's first", duplicated(&h, &raw, Some(("aud", &other_app))), 401, INVALID),
        ("D4 scp twice", duplicated(&h, &raw, Some(("scp", r#""Admin.Everything""#))), 401, INVALID),
        ("B35 sub missing", h.tenant.token().member().without_claim("sub").sign(), 401, INVALID),
        ("B36 oid missing", h.tenant.token().member().without_claim("oid").sign(), 401, INVALID),
        ("B36 tid missing", h.tenant.token().member().without_claim("tid").sign(), 401, INVALID),
        ("B22d tid and TID both present", h.tenant.token().member().claim("TID", json!(tid)).sign(), 401, INVALID),
        (
            "B27 scp of the wrong type",
            h.tenant.token().member().claim("scp", json!(["user_impersonation"])).sign(),
            401,
            INVALID,
        ),
        ("roles of the wrong type", h.tenant.token().member().claim("roles", json!("Admin")).sign(), 401, INVALID),
        ("B32 typ JWT", h.tenant.token().member().header("typ", json!("JWT")).sign(), 200, None),
        ("B32 typ absent", h.tenant.token().member().without_header("typ").sign(), 200, None),
        ("B32 typ logout+jwt", h.tenant.token().member().header("typ", json!("logout+jwt")).sign(), 401, INVALID),
        ("B32 typ at+jwt", h.tenant.token().member().header("typ", json!("at+jwt")).sign(), 401, INVALID),
        ("crit header", h.tenant.token().member().header("crit", json!(["exp"])).sign(), 401, INVALID),
        ("B33 five-segment JWE", format!("{}.a.b.c.d", b64(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#)), 401, INVALID),
    ];
    let mut failures = Vec::new();
    for (name, token, status, code) in rows {
        failures.extend(expect_row(name, &get(&app, "/api", Some(&token)).await, status, code, &token));
    }
    assert_rows(failures);
}

/// A valid token of the tenant's signed by `key`, whose payload holds `"name":value` before the
/// real member when `first` is given (serde_json keeps the last; another reader may take the
/// first).
fn duplicated(h: &Harness, key: &TestKey, first: Option<(&str, &str)>) -> String {
    let claims = serde_json::to_string(h.tenant.token().member().claims()).unwrap();
    let payload = match first {
        Some((name, value)) => format!("{{\"{name}\":{value},{}", &claims[1..]),
        None => claims,
    };
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": key.kid() }).to_string();
    key.sign_raw(header.as_bytes(), payload.as_bytes(), &SigningAlg::Rs256)
}

#[actix_web::test]
async fn b19e_api_uri_audience_refused_when_another_is_configured() {
    let h = Harness::with(|c| c.api_audience("api://my-custom-api")).await;
    let app = app(&h.auth).await;
    let api = h.tenant.api_app().client_id;
    let default_form = h.tenant.token().member().audience(json!(format!("api://{api}"))).sign();
    let custom = h.tenant.token().member().audience(json!("api://my-custom-api")).sign();
    let guid = h.tenant.token().member().sign();
    let mut failures = Vec::new();
    failures.extend(expect_row(
        "B19e api://{id} when api://my-custom-api is configured",
        &get(&app, "/api", Some(&default_form)).await,
        401,
        INVALID,
        &default_form,
    ));
    failures.extend(expect_row("configured API audience", &get(&app, "/api", Some(&custom)).await, 200, None, &custom));
    failures.extend(expect_row("client id audience", &get(&app, "/api", Some(&guid)).await, 200, None, &guid));
    assert_rows(failures);
}

#[actix_web::test]
async fn b21a_v1_refused_when_only_v2_is_accepted() {
    let h = Harness::with(|c| c.token_versions([2])).await;
    let app = app(&h.auth).await;
    let v1 = h.tenant.token().member().v1().sign();
    let v2 = h.tenant.token().member().sign();
    let mut failures = Vec::new();
    failures.extend(expect_row("B21a v1 token, v2 only", &get(&app, "/api", Some(&v1)).await, 401, INVALID, &v1));
    failures.extend(expect_row("v2 token, v2 only", &get(&app, "/api", Some(&v2)).await, 200, None, &v2));
    assert_rows(failures);
}

#[actix_web::test]
async fn b26_to_b28_authorization_answers_403() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let bob = h.tenant.user("bob@contoso.onmicrosoft.com").unwrap().clone();
    let rows = vec![
        ("B26 app-only token on a delegated (scope) route", "/scoped", h.tenant.token().app_only().sign(), 403, SCOPE),
        ("B26 app-only token on an app-role route", "/reader", h.tenant.token().app_only().sign(), 200, None),
        (
            "B26 delegated token without the role on an app-role route",
            "/reader",
            h.tenant.token().for_user(&bob).sign(),
            403,
            SCOPE,
        ),
        ("B27 scope missing", "/scoped", h.tenant.token().member().scopes(["other"]).sign(), 403, SCOPE),
        (
            "B27 scope prefix-extended",
            "/scoped",
            h.tenant.token().member().scopes(["not_user_impersonation"]).sign(),
            403,
            SCOPE,
        ),
        (
            "B27 scope suffix-extended",
            "/scoped",
            h.tenant.token().member().scopes(["user_impersonationX"]).sign(),
            403,
            SCOPE,
        ),
        (
            "B27 scope among others",
            "/scoped",
            h.tenant.token().member().scopes(["a", "user_impersonation", "b"]).sign(),
            200,
            None,
        ),
        ("role held", "/admin", h.tenant.token().member().sign(), 200, None),
        ("role missing", "/admin", h.tenant.token().for_user(&bob).sign(), 403, SCOPE),
        ("B28 guest allowed by default", "/api", h.tenant.token().guest().sign(), 200, None),
    ];
    let mut failures = Vec::new();
    for (name, path, token, status, code) in rows {
        failures.extend(expect_row(name, &get(&app, path, Some(&token)).await, status, code, &token));
    }
    assert_rows(failures);
    let app_only = get(&app, "/reader", Some(&h.tenant.token().app_only().sign())).await.json();
    assert_eq!(app_only["is_app"], json!(true), "app-only tokens are marked as such");
    let guest = get(&app, "/api", Some(&h.tenant.token().guest().sign())).await.json();
    assert_eq!(guest["is_guest"], json!(true));
}

#[actix_web::test]
async fn b28_guests_refused_when_disallowed_and_app_roles_enforced() {
    let h = Harness::with(|c| c.allow_guests(false).roles(["Admin", "Reader"])).await;
    let app = app(&h.auth).await;
    let bob = h.tenant.user("bob@contoso.onmicrosoft.com").unwrap().clone();
    let rows = vec![
        ("B28 guest refused", h.tenant.token().guest().roles(["Admin"]).sign(), 403, SCOPE),
        ("AAD_ROLES: member holding Admin", h.tenant.token().member().sign(), 200, None),
        ("AAD_ROLES: member holding neither role", h.tenant.token().for_user(&bob).sign(), 403, SCOPE),
        ("AAD_ROLES: app-only with Reader", h.tenant.token().app_only().sign(), 200, None),
    ];
    let mut failures = Vec::new();
    for (name, token, status, code) in rows {
        let reply = get(&app, "/api", Some(&token)).await;
        failures.extend(expect_row(name, &reply, status, code, &token));
    }
    assert_rows(failures);
}

#[actix_web::test]
async fn b29_b30_d11_how_the_token_is_presented() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let token = h.tenant.token().member().sign();
    let request = || actix_web::test::TestRequest::get().uri("/api");
    let absent = call(&app, request()).await;
    assert_eq!(absent.status, 401);
    assert!(
        absent.challenge.as_deref().is_some_and(|c| c.starts_with("Bearer realm=\"") && !c.contains("error=")),
        "{absent:?}"
    );
    let rows = vec![
        ("B29 Bearer with nothing after it", request().insert_header(("authorization", "Bearer")), 401, INVALID),
        ("B29 Bearer and spaces", request().insert_header(("authorization", "Bearer    ")), 401, INVALID),
        ("B29 lowercase scheme", request().insert_header(("authorization", format!("bearer {token}"))), 200, None),
        ("B29 Basic scheme", request().insert_header(("authorization", "Basic dXNlcjpwYXNz")), 401, None),
        (
            "B29 token followed by garbage",
            request().insert_header(("authorization", format!("Bearer {token} extra"))),
            401,
            INVALID,
        ),
        ("B29 garbage token", request().insert_header(("authorization", "Bearer not-a-token")), 401, INVALID),
        (
            "B30 token in the query only",
            actix_web::test::TestRequest::get().uri(&format!("/api?access_token={token}")),
            401,
            None,
        ),
        (
            "B30 token in a form body only",
            actix_web::test::TestRequest::post()
                .uri("/api")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(format!("access_token={token}")),
            401,
            None,
        ),
        (
            "D11 two Authorization headers",
            request()
                .append_header(("authorization", format!("Bearer {token}")))
                .append_header(("authorization", format!("Bearer {token}"))),
            400,
            Some("invalid_request"),
        ),
        (
            "D11 header and query token",
            actix_web::test::TestRequest::get()
                .uri(&format!("/api?access_token={token}"))
                .insert_header(("authorization", format!("Bearer {token}"))),
            400,
            Some("invalid_request"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, request, status, code) in rows {
        failures.extend(expect_row(name, &call(&app, request).await, status, code, &token));
    }
    assert_rows(failures);
}

#[actix_web::test]
async fn b34_valid_token_is_replayable_and_results_are_json() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let token = h.tenant.token().member().sign();
    for _ in 0..2 {
        assert_eq!(get(&app, "/api", Some(&token)).await.status, 200);
    }
    let refused = get(&app, "/api", Some(&h.tenant.token().member().expired().sign())).await;
    assert_eq!(refused.content_type.as_deref(), Some("application/json"));
    let body = refused.json();
    assert_eq!(body["error"], json!("invalid_token"));
    assert_eq!(body["status"], json!(401));
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
}

#[actix_web::test]
async fn unguarded_handlers_see_an_anonymous_state_for_bad_tokens() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let anonymous = get(&app, "/open", None).await.json();
    assert_eq!(anonymous["authenticated"], json!(false));
    let bad = get(&app, "/open", Some("not-a-token")).await;
    assert_eq!(bad.status, 200);
    assert_eq!(bad.json()["authenticated"], json!(false));
    let good = get(&app, "/open", Some(&h.tenant.token().member().sign())).await.json();
    assert_eq!(good["authenticated"], json!(true));
}

#[actix_web::test]
async fn browsers_get_html_errors_by_accept_not_user_agent() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let curl =
        call(&app, actix_web::test::TestRequest::get().uri("/api").insert_header(("user-agent", "Mozilla/5.0"))).await;
    assert_eq!(curl.content_type.as_deref(), Some("application/json"), "User-Agent alone never selects HTML");
}
