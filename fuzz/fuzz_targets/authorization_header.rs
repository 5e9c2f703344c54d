//! The `Authorization` header parser (`bearer::bearer_token`): each line is one header value,
//! a line starting with `?` is the request's query string (`access_token` there conflicts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aad_auth::__fuzz::authorization_header(data);
});
