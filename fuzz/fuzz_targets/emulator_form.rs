//! The emulator's form-body and query-string parser (`testing::oauth::parse_params` and
//! `param`), as its token, device-code, sign-in, authorize and logout endpoints use it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aad_auth::__fuzz::emulator_form(data);
});
