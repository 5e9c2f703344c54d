//! JWKS documents (`keys::jwks::parse`): a key the crate cannot use is skipped, never the set.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aad_auth::__fuzz::jwks(data);
});
