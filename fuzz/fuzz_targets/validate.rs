//! Full bearer validation (`AadAuth::validate_bearer`) against a local tenant's key set.
//!
//! * An input whose first byte is 1 to 6 is a token to mint: the rest is a JSON object merged
//!   into the default member token (`"h:name"` members go to the header; `null` removes a
//!   member), signed with the tenant's key (1: RS256, 2: RS384, 3: RS512, 4: PS256) or without
//!   it (5: HS256 with a made-up secret, 6: `alg: none`). Only RS256 tokens may validate, and
//!   then with exactly the claims that were signed.
//! * First byte 7: the rest is a raw payload (any bytes, JSON or not), signed RS256 with a second
//!   key the tenant publishes (`TestKey::sign_raw`) under a fixed header; first byte 8: the rest
//!   is a raw header, a newline, and a raw payload, signed the same way. A payload that
//!   validates is a JSON object with exactly the claims the validator returns.
//! * Any other input is a token as sent (lossy UTF-8). It must never validate: the tenant's key
//!   is made at start-up, so nothing the fuzzer writes itself carries its signature.
#![no_main]

use std::sync::{Arc, OnceLock};

use aad_auth::AadAuth;
use aad_auth::testing::{SigningAlg, Tenant, TestKey};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

struct Harness {
    runtime: tokio::runtime::Runtime,
    tenant: Tenant,
    auth: AadAuth,
    raw_key: Arc<TestKey>,
}

const RAW_KID: &str = "fuzz-raw-key";

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
        let raw_key = Arc::new(TestKey::generate(RAW_KID));
        let (tenant, auth) = runtime.block_on(async {
            let tenant = Tenant::start().await;
            tenant.publish_key(raw_key.clone());
            let config = tenant.api_config().build().expect("the tenant's API configuration");
            let auth = AadAuth::bearer_only(config).expect("a bearer-only AadAuth");
            assert!(auth.keys().ensure_loaded().await, "the tenant's keys load");
            (tenant, auth)
        });
        Harness { runtime, tenant, auth, raw_key }
    })
}

fn mint_and_validate(harness: &Harness, marker: u8, json: &[u8]) {
    let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let alg = match marker {
        1 => SigningAlg::Rs256,
        2 => SigningAlg::Rs384,
        3 => SigningAlg::Rs512,
        4 => SigningAlg::Ps256,
        5 => SigningAlg::Hs256(b"not the tenant's key".to_vec()),
        _ => SigningAlg::Unsigned,
    };
    let mut builder = harness.tenant.token().member().alg(alg);
    for (name, value) in members {
        builder = match (name.strip_prefix("h:"), value.is_null()) {
            (Some(header), true) => builder.without_header(header),
            (Some(header), false) => builder.header(header, value),
            (None, true) => builder.without_claim(&name),
            (None, false) => builder.claim(&name, value),
        };
    }
    // The claims as the payload carries them: serialised, then parsed again. Not the builder's
    // map itself: serde_json's default float parser is not exact (without its `float_roundtrip`
    // feature), so `1.3733333333333333e29` printed and parsed back can differ in the last bit.
    let signed: Value = serde_json::from_str(&Value::Object(builder.claims().clone()).to_string()).expect("claims");
    let token = builder.sign();
    if let Ok(verified) = harness.runtime.block_on(harness.auth.validate_bearer(&token)) {
        assert_eq!(marker, 1, "a token not signed with RS256 by the tenant validated: {token}");
        assert_eq!(signed.as_object(), Some(verified.claims()), "the verified claims are not the signed ones: {token}");
    }
}

// The tenant starts before the first input: its server leaks, on purpose and once, the names of
// its route patterns (actix-router's `ResourceDef::parse`), which LeakSanitizer would otherwise
// pin on whichever input ran first.
fn sign_raw_and_validate(harness: &Harness, header: &[u8], payload: &[u8]) {
    let token = harness.raw_key.sign_raw(header, payload, &SigningAlg::Rs256);
    if let Ok(verified) = harness.runtime.block_on(harness.auth.validate_bearer(&token)) {
        let parsed = serde_json::from_slice::<Value>(payload).ok();
        assert_eq!(parsed.as_ref().and_then(Value::as_object), Some(verified.claims()), "{token}");
    }
}

fuzz_target!(init: drop(harness()), |data: &[u8]| {
    let harness = harness();
    match data.split_first() {
        Some((&marker, json)) if (1..=6).contains(&marker) => mint_and_validate(harness, marker, json),
        Some((7, payload)) => {
            let header = format!(r#"{{"alg":"RS256","kid":"{RAW_KID}","typ":"JWT"}}"#);
            sign_raw_and_validate(harness, header.as_bytes(), payload);
        }
        Some((8, rest)) => {
            let (header, payload) = rest.split_at(rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len()));
            sign_raw_and_validate(harness, header, payload.get(1..).unwrap_or_default());
        }
        _ => {
            let token = String::from_utf8_lossy(data);
            let result = harness.runtime.block_on(harness.auth.validate_bearer(&token));
            assert!(result.is_err(), "a token the fuzzer wrote validated: {token:?}");
        }
    }
});
