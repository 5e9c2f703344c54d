//! The compact-JWS splitter and JOSE header parser (`token::compact::split`, `decode`,
//! `header`). A token they accept has three base64url segments and fits the size limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if aad_auth::__fuzz::compact_token(token) {
        assert!(token.len() <= aad_auth::token::MAX_TOKEN_BYTES, "an oversized token split");
        assert_eq!(token.split('.').count(), 3, "not three segments: {token:?}");
        assert!(token.split('.').all(|segment| !segment.is_empty()), "an empty segment: {token:?}");
        let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.';
        assert!(token.bytes().all(alphabet), "not base64url: {token:?}");
    }
});
