//! Cross-origin protection for requests the session cookie authenticates (SPEC "CSRF").
//!
//! An unsafe request (not GET, HEAD or OPTIONS) may use the cookie only when it comes from the
//! app's own origin: `Sec-Fetch-Site: same-origin` (or `none`: typed by the user), else an
//! `Origin` equal to the public origin or listed in `AUTH_TRUSTED_ORIGINS`. A request with
//! neither header is not a browser's cross-site request (browsers send `Origin` on every
//! cross-origin POST since 2020, and `Sec-Fetch-Site` everywhere they have it) and passes.
//! `Origin: null` (sandboxed frames, some redirects) never passes.
//!
//! The order is Go's `net/http.CrossOriginProtection` (Go 1.25): `Sec-Fetch-Site` first, then
//! `Origin`. Two differences: Go compares `Origin` with the `Host` header, we with the configured
//! or computed public origin (the same value the logout and the callback use, correct behind a
//! TLS proxy); and `Origin: null` is refused even where Go's trusted-origin list could admit it.
//! Unlike Django's `CSRF_TRUSTED_ORIGINS` there is no token and no `Referer` check: the
//! browser's own headers decide, so no form or `fetch` of the app needs changing.
//!
//! Bearer requests are not affected: a bearer token is not sent by the browser on its own.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use actix_web::HttpRequest;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};

use crate::config::AadAuthConfig;

/// Whether `req` may use the session cookie.
pub(crate) fn allows_session(config: &AadAuthConfig, req: &HttpRequest) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let origin = req.headers().get(header::ORIGIN).map(|value| value.to_str().unwrap_or("null"));
    if origin == Some("null") {
        return false;
    }
    let fetch_site = req.headers().get(HeaderName::from_static("sec-fetch-site")).and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("same-origin" | "none")) {
        return true;
    }
    match origin {
        Some(origin) => {
            origin == crate::public_origin::public_origin(config, req)
                || config.trusted_origins().iter().any(|trusted| trusted == origin)
        }
        // No Origin: a cross-site browser request would carry one, whatever Sec-Fetch-Site says.
        None => fetch_site.is_none(),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn config() -> AadAuthConfig {
        let vars = [
            ("AAD_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
            ("AAD_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            ("AAD_PUBLIC_BASE_URL", "https://app.example"),
            ("AUTH_TRUSTED_ORIGINS", "https://portal.example"),
        ];
        AadAuthConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).unwrap()
    }

    #[test]
    fn the_table() {
        let config = config();
        let rows: [(&str, Option<&str>, Option<&str>, bool); 12] = [
            ("GET", Some("cross-site"), Some("https://evil.example"), true),
            ("POST", None, None, true),
            ("POST", Some("same-origin"), Some("https://app.example"), true),
            ("POST", Some("none"), None, true),
            ("POST", None, Some("https://app.example"), true),
            ("POST", Some("cross-site"), Some("https://portal.example"), true),
            ("POST", None, Some("https://evil.example"), false),
            ("POST", Some("same-origin"), Some("null"), false),
            ("PUT", Some("cross-site"), Some("https://evil.example"), false),
            ("PATCH", Some("same-site"), Some("https://other.app.example"), false),
            ("DELETE", Some("cross-site"), None, false),
            ("POST", None, Some("http://app.example"), false),
        ];
        for (method, fetch_site, origin, allowed) in rows {
            let mut request = TestRequest::default().method(method.parse().unwrap());
            if let Some(value) = fetch_site {
                request = request.insert_header(("sec-fetch-site", value));
            }
            if let Some(value) = origin {
                request = request.insert_header(("origin", value));
            }
            let request = request.to_http_request();
            assert_eq!(allows_session(&config, &request), allowed, "{method} {fetch_site:?} {origin:?}");
        }
    }
}
