//! Finding the bearer token in a request (RFC 6750 §2): the `Authorization` header only.

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
    let value = value.to_str().map_err(|_| AuthError::InvalidToken(TokenError::Malformed("header is not ASCII")))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    if has_query_token(req) {
        return Err(AuthError::InvalidRequest("The access token was sent by more than one method."));
    }
    // One space, then one token68 (RFC 6750 §2.1): extra spaces make it malformed, not lenient.
    let token = rest;
    if token.is_empty() || token.contains([' ', '\t']) {
        return Err(AuthError::InvalidToken(TokenError::Malformed("bearer credential is not one token")));
    }
    Ok(Some(token))
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
        let both = TestRequest::with_uri("/x?access_token=abc").insert_header(("authorization", "Bearer abc"));
        assert!(matches!(extract(both), Err(AuthError::InvalidRequest(_))));
        assert_eq!(extract(TestRequest::with_uri("/x?access_token=abc")), Ok(None));
    }
}
