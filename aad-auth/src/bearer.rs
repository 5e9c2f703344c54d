//! Finding the bearer token in a request (RFC 6750 §2): the `Authorization` header only.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::error::AuthError;
use crate::token::TokenError;

/// The token in `Authorization: Bearer <token>`, `None` when no bearer credential was sent.
///
/// * The scheme is case-insensitive; other schemes (`Basic`) count as no bearer credential.
/// * Two `Authorization` headers, or a header token plus an `access_token` query parameter, are
///   an invalid request (RFC 6750 §2: one method only).
/// * A token in the query alone is not accepted (tokens in URLs end up in logs).
pub(crate) fn bearer_token(req: &HttpRequest) -> Result<Option<&str>, AuthError> {
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = headers.next() else {
        return Ok(None);
    };
    if headers.next().is_some() {
        return Err(AuthError::InvalidRequest("More than one Authorization header was sent."));
    }
    let not_ascii = || AuthError::InvalidToken(TokenError::Malformed("header is not ASCII"));
    // What `HeaderValue::to_str` accepts: visible ASCII, space and tab.
    let outside_header = |b: u8| !(b == b'\t' || (0x20..0x7f).contains(&b));
    let value = std::str::from_utf8(value.as_bytes()).map_err(|_| not_ascii())?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if any_byte(scheme.as_bytes(), outside_header) {
        return Err(not_ascii());
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return if any_byte(rest.as_bytes(), outside_header) { Err(not_ascii()) } else { Ok(None) };
    }
    // One pass over the token for both checks: visible ASCII other than space (no tab either).
    // Only a token that fails it is looked at again, to tell which error it is.
    let token = rest;
    let one_token = !any_byte(token.as_bytes(), |b| !(0x21..0x7f).contains(&b));
    if !one_token && any_byte(token.as_bytes(), outside_header) {
        return Err(not_ascii());
    }
    if has_query_token(req) {
        return Err(AuthError::InvalidRequest("The access token was sent by more than one method."));
    }
    // One space, then one token68 (RFC 6750 §2.1): extra spaces make it malformed, not lenient.
    if token.is_empty() || !one_token {
        return Err(AuthError::InvalidToken(TokenError::Malformed("bearer credential is not one token")));
    }
    Ok(Some(token))
}

/// The bytes after `Bearer ` when the request has exactly one `Authorization` header, with the
/// bearer scheme and one space, and no `access_token` in the query; the token's characters are
/// not checked. Only for looking the token up in the validator's cache, which answers only for
/// the exact bytes of a token that passed [`bearer_token`] and full validation before: for those
/// bytes [`bearer_token`] returns the same token, so a hit skips a parse that costs more than
/// the hit. Anything else goes through [`bearer_token`].
pub(crate) fn cached_bearer_candidate(req: &HttpRequest) -> Option<&[u8]> {
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let value = headers.next()?.as_bytes();
    if headers.next().is_some() {
        return None;
    }
    let (scheme, token) = value.split_at_checked(BEARER_PREFIX.len())?;
    (scheme.eq_ignore_ascii_case(BEARER_PREFIX) && !has_query_token(req)).then_some(token)
}

/// The scheme and its one space, as [`cached_bearer_candidate`] expects them.
const BEARER_PREFIX: &[u8] = b"bearer ";

/// Whether any byte matches, with no early exit inside fixed 32-byte blocks so that the loop
/// compiles to vector compares: these checks run over the whole token on every request, and a
/// per-char scan cost as much as the cached validation itself.
fn any_byte(bytes: &[u8], matches: impl Fn(u8) -> bool) -> bool {
    let (blocks, tail) = bytes.as_chunks::<32>();
    blocks.iter().any(|block| block.iter().fold(false, |found, &b| found | matches(b)))
        || tail.iter().any(|&b| matches(b))
}

fn has_query_token(req: &HttpRequest) -> bool {
    url::form_urlencoded::parse(req.query_string().as_bytes()).any(|(name, _)| name == "access_token")
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn extract(req: TestRequest) -> Result<Option<String>, AuthError> {
        let req = req.to_http_request();
        bearer_token(&req).map(|t| t.map(str::to_owned))
    }

    #[test]
    fn header_forms() {
        assert_eq!(extract(TestRequest::default()), Ok(None));
        assert_eq!(
            extract(TestRequest::default().insert_header(("authorization", "Bearer abc"))),
            Ok(Some("abc".into()))
        );
        assert_eq!(
            extract(TestRequest::default().insert_header(("authorization", "bearer abc"))),
            Ok(Some("abc".into()))
        );
        assert_eq!(extract(TestRequest::default().insert_header(("authorization", "Basic dXNlcjpwYXNz"))), Ok(None));
        for bad in ["Bearer", "Bearer ", "Bearer    ", "Bearer abc extra"] {
            assert!(
                matches!(
                    extract(TestRequest::default().insert_header(("authorization", bad))),
                    Err(AuthError::InvalidToken(_))
                ),
                "{bad}"
            );
        }
        let twice = TestRequest::default()
            .append_header(("authorization", "Bearer a"))
            .append_header(("authorization", "Bearer b"));
        assert!(matches!(extract(twice), Err(AuthError::InvalidRequest(_))));
        // Non-ASCII text anywhere is refused as not ASCII, whatever the scheme, before the query
        // is looked at.
        let not_ascii = Err(AuthError::InvalidToken(TokenError::Malformed("header is not ASCII")));
        for bad in ["Basic ab\u{e9}", "Be\u{e9}arer abc", "Bearer a b\u{e9}", "Bearer \u{e9}", "Bearer\u{e9} abc"] {
            let value = actix_web::http::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap();
            let req = TestRequest::with_uri("/x?access_token=abc").insert_header(("authorization", value));
            assert_eq!(extract(req), not_ascii, "{bad:?}");
        }
        let spaced = TestRequest::with_uri("/x?access_token=abc").insert_header(("authorization", "Bearer a b"));
        assert!(matches!(extract(spaced), Err(AuthError::InvalidRequest(_))));
        let both = TestRequest::with_uri("/x?access_token=abc").insert_header(("authorization", "Bearer abc"));
        assert!(matches!(extract(both), Err(AuthError::InvalidRequest(_))));
        assert_eq!(extract(TestRequest::with_uri("/x?access_token=abc")), Ok(None));
    }

    #[test]
    fn the_cache_candidate_is_what_bearer_token_returns_for_a_good_header() {
        let candidate = |req: TestRequest| {
            let req = req.to_http_request();
            cached_bearer_candidate(&req).map(<[u8]>::to_vec)
        };
        for value in ["Bearer abc.def.ghi", "bearer abc", "BEARER a-b_c"] {
            let req = || TestRequest::default().insert_header(("authorization", value));
            let parsed = extract(req()).unwrap().unwrap();
            assert_eq!(candidate(req()), Some(parsed.into_bytes()), "{value}");
        }
        // Whatever bearer_token refuses or does not read as a bearer token has no candidate,
        // except a token with bad characters, which no cache entry matches.
        assert_eq!(candidate(TestRequest::default()), None);
        for value in ["Basic abc", "Bearer", "Bearerabc", "Bearer\tabc"] {
            assert_eq!(candidate(TestRequest::default().insert_header(("authorization", value))), None, "{value}");
        }
        let twice = TestRequest::default()
            .append_header(("authorization", "Bearer a"))
            .append_header(("authorization", "Bearer a"));
        assert_eq!(candidate(twice), None);
        let both = TestRequest::with_uri("/x?access_token=abc").insert_header(("authorization", "Bearer abc"));
        assert_eq!(candidate(both), None);
        let other_query = TestRequest::with_uri("/x?page=2").insert_header(("authorization", "Bearer abc"));
        assert_eq!(candidate(other_query), Some(b"abc".to_vec()));
    }

    #[test]
    fn every_byte_of_a_long_token_is_checked() {
        let header = |value: Vec<u8>| {
            let value = actix_web::http::header::HeaderValue::from_bytes(&value).unwrap();
            extract(TestRequest::default().insert_header(("authorization", value)))
        };
        for len in [1, 31, 32, 33, 64, 100, 1400] {
            let token = vec![b'a'; len];
            let mut good = b"Bearer ".to_vec();
            good.extend_from_slice(&token);
            assert_eq!(header(good.clone()), Ok(Some("a".repeat(len))), "{len}");
            // A space, a tab and a non-ASCII byte at every position: the first and last block, the tail.
            for at in 7..good.len() {
                for bad in [b' ', b'\t', 0x80] {
                    let mut value = good.clone();
                    value[at] = bad;
                    assert!(matches!(header(value), Err(AuthError::InvalidToken(_))), "{len} {at} {bad}");
                }
            }
        }
    }
}
