//! OpenID discovery documents (`Authority::parse_metadata`), checked against a tenant GUID, the
//! multi-tenant template, a tenant domain, an explicit discovery URL and a loopback host.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aad_auth::__fuzz::discovery(data);
});
