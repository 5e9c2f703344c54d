//! The app's public origin and the callback URL: `AAD_REDIRECT_URI`, else
//! `AAD_PUBLIC_BASE_URL`, else the request, where `Forwarded`/`X-Forwarded-*` headers count only
//! when the connection comes from a proxy in `AAD_TRUSTED_PROXIES`.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::config::AadAuthConfig;

/// `scheme://host[:port][/base path]` of the app as the browser sees it, without a trailing
/// slash.
pub(crate) fn public_base(config: &AadAuthConfig, req: &HttpRequest) -> String {
    if let Some(base) = config.public_base_url() {
        return base.as_str().trim_end_matches('/').to_owned();
    }
    let trusted = req.peer_addr().is_some_and(|peer| config.is_trusted_proxy(peer.ip()));
    let (mut scheme, mut host) = (
        if req.app_config().secure() { "https".to_owned() } else { "http".to_owned() },
        header_value(req, header::HOST.as_str()).unwrap_or_else(|| req.app_config().host().to_owned()),
    );
    if trusted {
        if let Some((forwarded_proto, forwarded_host)) = forwarded(req) {
            if let Some(proto) = forwarded_proto {
                scheme = proto;
            }
            if let Some(forwarded_host) = forwarded_host {
                host = forwarded_host;
            }
        } else {
            if let Some(proto) = header_value(req, "x-forwarded-proto") {
                scheme = proto.split(',').next().unwrap_or_default().trim().to_ascii_lowercase();
            }
            if let Some(forwarded_host) = header_value(req, "x-forwarded-host") {
                host = forwarded_host.split(',').next().unwrap_or_default().trim().to_owned();
            }
        }
    }
    if !matches!(scheme.as_str(), "http" | "https") {
        scheme = "https".into();
    }
    if !is_host(&host) {
        host = req.app_config().host().to_owned();
    }
    format!("{scheme}://{host}")
}

/// The callback URL sent to Entra.
pub(crate) fn redirect_uri(config: &AadAuthConfig, req: &HttpRequest) -> String {
    match config.redirect_uri() {
        Some(uri) => uri.as_str().to_owned(),
        None => format!("{}{}", public_base(config, req), config.routes().oauth_callback()),
    }
}

fn header_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// RFC 7239 `Forwarded: proto=https;host=app.example`, first element only.
fn forwarded(req: &HttpRequest) -> Option<(Option<String>, Option<String>)> {
    let value = header_value(req, "forwarded")?;
    let first = value.split(',').next()?;
    let mut proto = None;
    let mut host = None;
    for pair in first.split(';') {
        let Some((name, value)) = pair.split_once('=') else { continue };
        let value = value.trim().trim_matches('"').to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "proto" => proto = Some(value.to_ascii_lowercase()),
            "host" => host = Some(value),
            _ => {}
        }
    }
    Some((proto, host))
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

    fn config(extra: &[(&str, &str)]) -> AadAuthConfig {
        let mut vars = vec![
            ("AAD_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
            ("AAD_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ];
        vars.extend_from_slice(extra);
        AadAuthConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).unwrap()
    }

    #[test]
    fn forwarded_headers_only_from_trusted_proxies() {
        let request = || {
            TestRequest::default()
                .insert_header(("host", "internal:8080"))
                .insert_header(("x-forwarded-proto", "https"))
                .insert_header(("x-forwarded-host", "evil.example"))
                .peer_addr("10.0.0.5:1234".parse().unwrap())
                .to_http_request()
        };
        assert_eq!(public_base(&config(&[]), &request()), "http://internal:8080");
        let trusted = config(&[("AAD_TRUSTED_PROXIES", "10.0.0.0/8")]);
        assert_eq!(public_base(&trusted, &request()), "https://evil.example");
        let forwarded = TestRequest::default()
            .insert_header(("host", "internal"))
            .insert_header(("forwarded", "for=1.2.3.4;proto=https;host=app.example"))
            .peer_addr("10.0.0.5:1234".parse().unwrap())
            .to_http_request();
        assert_eq!(public_base(&trusted, &forwarded), "https://app.example");
    }

    #[test]
    fn configured_values_win() {
        let request = TestRequest::default().insert_header(("host", "evil.example")).to_http_request();
        let base = config(&[("AAD_PUBLIC_BASE_URL", "https://app.example/base")]);
        assert_eq!(redirect_uri(&base, &request), "https://app.example/base/oauth/aad/redirect");
        let explicit = config(&[("AAD_REDIRECT_URI", "https://app.example/cb")]);
        assert_eq!(redirect_uri(&explicit, &request), "https://app.example/cb");
        let weird = TestRequest::default().insert_header(("host", "a@b/c")).to_http_request();
        assert!(!public_base(&config(&[]), &weird).contains('@'));
    }
}
