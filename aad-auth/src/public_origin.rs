//! The app's public origin: the one `scheme://host[:port]` (and base path) browsers use, for
//! every absolute URL the app makes (the callback, `post_logout_redirect_uri`, Swagger UI's
//! redirect page, the protected-resource metadata) and every origin it checks (logout, CSRF).
//!
//! Fixed at start-up when configured: `AAD_PUBLIC_BASE_URL`, else the origin of
//! `AAD_REDIRECT_URI` with the part of its path before the callback route as base path. Only
//! without either is it read from each request: `Host` (or the HTTP/2 authority) and the
//! listener's scheme, overridden by `Forwarded` or `X-Forwarded-Proto`/`X-Forwarded-Host` when
//! the connection comes from a proxy in `AAD_TRUSTED_PROXIES`. Of those headers only the value
//! the nearest proxy appended counts (the last element of the last line): whatever comes before
//! it may have come from the client.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderName};
use url::Url;

use crate::config::AadAuthConfig;

/// `scheme://host[:port][/base path]` of the app as the browser sees it, without a trailing
/// slash.
pub(crate) fn public_base(config: &AadAuthConfig, req: &HttpRequest) -> String {
    match config.fixed_public_base() {
        Some(base) => base.url(),
        None => request_origin(config, req),
    }
}

/// `scheme://host[:port]` of the app as the browser sees it.
pub(crate) fn public_origin(config: &AadAuthConfig, req: &HttpRequest) -> String {
    match config.fixed_public_base() {
        Some(base) => base.origin().to_owned(),
        None => request_origin(config, req),
    }
}

/// The callback URL sent to Entra.
pub(crate) fn redirect_uri(config: &AadAuthConfig, req: &HttpRequest) -> String {
    match config.redirect_uri() {
        Some(uri) => uri.as_str().to_owned(),
        None => format!("{}{}", public_base(config, req), config.routes().oauth_callback()),
    }
}

/// Whether the request's public origin is `http://` on a loopback host (where development mode
/// may drop `Secure` from cookies, since browsers would never send them back).
pub(crate) fn is_http_loopback(config: &AadAuthConfig, req: &HttpRequest) -> bool {
    Url::parse(&public_origin(config, req)).is_ok_and(|url| url.scheme() == "http" && crate::config::is_loopback(&url))
}

/// What start-up logs about the origin.
pub(crate) fn describe(config: &AadAuthConfig) -> String {
    match config.fixed_public_base() {
        Some(base) => format!("{base} (from {})", base.source()),
        None if config.trusted_proxies().is_empty() => {
            "from each request's Host header and the listener's scheme (no AAD_TRUSTED_PROXIES: forwarded headers \
             are ignored); set AAD_REDIRECT_URI or AAD_PUBLIC_BASE_URL behind a proxy"
                .to_owned()
        }
        None => format!(
            "from each request: Host, or the forwarded headers the nearest proxy appended when the peer is in \
             AAD_TRUSTED_PROXIES ({})",
            config.trusted_proxies().iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn request_origin(config: &AadAuthConfig, req: &HttpRequest) -> String {
    let listener_scheme = if req.app_config().secure() { "https" } else { "http" };
    let own_host = header_value(req, &header::HOST)
        .or_else(|| req.uri().authority().map(|authority| authority.as_str().to_owned()))
        .unwrap_or_else(|| req.app_config().host().to_owned());
    let trusted = req.peer_addr().is_some_and(|peer| config.is_trusted_proxy(peer.ip()));
    let forwarded = if trusted { nearest_forwarded(req) } else { Forwarded::default() };
    let scheme = match forwarded.proto.as_deref() {
        Some(proto @ ("http" | "https")) => proto,
        _ => listener_scheme,
    };
    let host = forwarded.host.filter(|host| is_host(host)).unwrap_or(own_host);
    let host = if is_host(&host) { host } else { req.app_config().host().to_owned() };
    format!("{scheme}://{host}")
}

/// What the nearest proxy said about the request it received.
#[derive(Debug, Default, PartialEq, Eq)]
struct Forwarded {
    proto: Option<String>,
    host: Option<String>,
}

/// The nearest proxy's `Forwarded` element, or its `X-Forwarded-Proto`/`X-Forwarded-Host`
/// values. When both kinds are present and disagree, one of them was the client's: neither
/// counts.
fn nearest_forwarded(req: &HttpRequest) -> Forwarded {
    let standard = last_element(req, &header::FORWARDED).map(|element| parse_forwarded_element(&element));
    let legacy = Forwarded {
        proto: last_element(req, &HeaderName::from_static("x-forwarded-proto")).map(|p| p.to_ascii_lowercase()),
        host: last_element(req, &HeaderName::from_static("x-forwarded-host")),
    };
    let has_legacy = legacy.proto.is_some() || legacy.host.is_some();
    match standard {
        None => legacy,
        Some(standard) if !has_legacy => standard,
        Some(standard) => {
            let agree = |a: &Option<String>, b: &Option<String>| a.is_none() || b.is_none() || a == b;
            if agree(&standard.proto, &legacy.proto) && agree(&standard.host, &legacy.host) {
                Forwarded { proto: standard.proto.or(legacy.proto), host: standard.host.or(legacy.host) }
            } else {
                tracing::debug!("Forwarded and X-Forwarded-* disagree: both ignored");
                Forwarded::default()
            }
        }
    }
}

/// The last comma-separated element over every line of `name`, trimmed; `None` when absent or
/// empty. Splitting from the right needs no quote parsing: a client's unbalanced quote can only
/// sit before the element the proxy appended.
fn last_element(req: &HttpRequest, name: &HeaderName) -> Option<String> {
    let last_line = req.headers().get_all(name).filter_map(|value| value.to_str().ok()).last()?;
    let element = last_line.rsplit(',').next()?.trim();
    (!element.is_empty()).then(|| element.to_owned())
}

/// `proto=https;host="app.example:443";for=...` (RFC 7239 §4).
fn parse_forwarded_element(element: &str) -> Forwarded {
    let mut forwarded = Forwarded::default();
    for pair in element.split(';') {
        let Some((name, value)) = pair.split_once('=') else { continue };
        let value = value.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "proto" => forwarded.proto = Some(value.to_ascii_lowercase()),
            "host" => forwarded.host = Some(value.to_owned()),
            _ => {}
        }
    }
    forwarded
}

fn header_value(req: &HttpRequest, name: &HeaderName) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A host[:port] without anything that could turn it into another URL.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::config::ConfigError;

    fn lookup(extra: &[(&str, &str)]) -> Result<AadAuthConfig, ConfigError> {
        let mut vars = vec![
            ("AAD_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
            ("AAD_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ];
        vars.extend_from_slice(extra);
        AadAuthConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    fn config(extra: &[(&str, &str)]) -> AadAuthConfig {
        lookup(extra).unwrap()
    }

    fn from_proxy(headers: &[(&str, &str)]) -> HttpRequest {
        let mut request = TestRequest::default().insert_header(("host", "internal:8080"));
        for header in headers {
            request = request.append_header(*header);
        }
        request.peer_addr("10.0.0.5:1234".parse().unwrap()).to_http_request()
    }

    #[test]
    fn forwarded_headers_only_from_trusted_proxies() {
        let headers = [("x-forwarded-proto", "https"), ("x-forwarded-host", "app.example")];
        assert_eq!(public_base(&config(&[]), &from_proxy(&headers)), "http://internal:8080");
        let trusted = config(&[("AAD_TRUSTED_PROXIES", "10.0.0.0/8")]);
        assert_eq!(public_base(&trusted, &from_proxy(&headers)), "https://app.example");
        let forwarded = from_proxy(&[("forwarded", "for=1.2.3.4;proto=https;host=app.example")]);
        assert_eq!(public_base(&trusted, &forwarded), "https://app.example");
    }

    #[test]
    fn only_the_value_the_nearest_proxy_appended_counts() {
        let trusted = config(&[("AAD_TRUSTED_PROXIES", "10.0.0.0/8")]);
        for headers in [
            // The client's value first, the proxy's appended to the same line or on a line of its own.
            &[("x-forwarded-host", "evil.example, app.example"), ("x-forwarded-proto", "http, https")][..],
            &[
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-host", "app.example"),
                ("x-forwarded-proto", "https"),
            ],
            &[("forwarded", "host=evil.example;proto=http, proto=https;host=\"app.example\"")],
            &[("forwarded", "host=\"evil.example"), ("forwarded", "for=10.1.1.1;proto=https;host=app.example")],
        ] {
            assert_eq!(public_base(&trusted, &from_proxy(headers)), "https://app.example", "{headers:?}");
        }
        // Forwarded from the client, X-Forwarded-* from the proxy: they disagree, neither counts.
        let mixed = from_proxy(&[("forwarded", "host=evil.example"), ("x-forwarded-host", "app.example")]);
        assert_eq!(public_base(&trusted, &mixed), "http://internal:8080");
        // A host that is not a host is ignored.
        let weird = from_proxy(&[("x-forwarded-host", "a@b/c")]);
        assert_eq!(public_base(&trusted, &weird), "http://internal:8080");
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_proxies() {
        let trusted = config(&[("AAD_TRUSTED_PROXIES", "10.0.0.0/8")]);
        assert!(trusted.is_trusted_proxy("::ffff:10.0.0.5".parse().unwrap()));
        assert!(!trusted.is_trusted_proxy("::ffff:11.0.0.5".parse().unwrap()));
        let request = TestRequest::default()
            .insert_header(("host", "internal"))
            .insert_header(("x-forwarded-proto", "https"))
            .insert_header(("x-forwarded-host", "app.example"))
            .peer_addr("[::ffff:10.0.0.5]:1234".parse().unwrap())
            .to_http_request();
        assert_eq!(public_base(&trusted, &request), "https://app.example");
    }

    #[test]
    fn configured_values_win() {
        let request = TestRequest::default().insert_header(("host", "evil.example")).to_http_request();
        let base = config(&[("AAD_PUBLIC_BASE_URL", "https://app.example/base/")]);
        assert_eq!(redirect_uri(&base, &request), "https://app.example/base/oauth/aad/redirect");
        assert_eq!(public_origin(&base, &request), "https://app.example");
        let explicit = config(&[("AAD_REDIRECT_URI", "https://app.example/prefix/oauth/aad/redirect")]);
        assert_eq!(redirect_uri(&explicit, &request), "https://app.example/prefix/oauth/aad/redirect");
        assert_eq!(public_base(&explicit, &request), "https://app.example/prefix");
        assert_eq!(public_origin(&explicit, &request), "https://app.example");
        let both = config(&[
            ("AAD_PUBLIC_BASE_URL", "https://app.example"),
            ("AAD_REDIRECT_URI", "https://app.example/oauth/aad/redirect"),
        ]);
        assert_eq!(public_base(&both, &request), "https://app.example");
        let weird = TestRequest::default().insert_header(("host", "a@b/c")).to_http_request();
        assert!(!public_base(&config(&[]), &weird).contains('@'));
    }

    #[test]
    fn inconsistent_settings_refuse_to_start() {
        let error = lookup(&[("AAD_REDIRECT_URI", "https://app.example/cb")]).unwrap_err();
        assert_eq!(error.variables(), vec!["AAD_REDIRECT_URI"]);
        assert!(error.to_string().contains("/oauth/aad/redirect"), "{error}");
        let error = lookup(&[
            ("AAD_PUBLIC_BASE_URL", "https://app.example"),
            ("AAD_REDIRECT_URI", "https://other.example/oauth/aad/redirect"),
        ])
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("AAD_PUBLIC_BASE_URL") && message.contains("AAD_REDIRECT_URI"), "{message}");
    }

    #[test]
    fn loopback_http_only() {
        let request = TestRequest::default().insert_header(("host", "127.0.0.1:8000")).to_http_request();
        assert!(is_http_loopback(&config(&[]), &request));
        let localhost = TestRequest::default().insert_header(("host", "localhost:8000")).to_http_request();
        assert!(is_http_loopback(&config(&[]), &localhost));
        let remote = TestRequest::default().insert_header(("host", "app.example")).to_http_request();
        assert!(!is_http_loopback(&config(&[]), &remote));
        let https = config(&[("AAD_PUBLIC_BASE_URL", "https://localhost:8443")]);
        assert!(!is_http_loopback(&https, &request), "the public origin, not the listener, decides");
    }
}
