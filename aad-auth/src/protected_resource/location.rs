//! Where the protected-resource metadata lives (RFC 9728 §3.1): the `resource` identifier and
//! the well-known URL built from it, for the metadata route and for the `resource_metadata`
//! parameter of every 401 challenge. Below the guards, so that `rejection`'s callers can use it.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use actix_web::HttpRequest;
use url::Url;

use crate::config::AadAuthConfig;

/// The well-known path segment of RFC 9728 §3.1.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The resource identifier: `AAD_RESOURCE_URL`, else the public base URL (fixed, or of this
/// request), without a trailing slash.
pub(crate) fn resource(config: &AadAuthConfig, req: &HttpRequest) -> String {
    match config.resource_url() {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => crate::public_origin::public_base(config, req),
    }
}

/// `{origin}/.well-known/oauth-protected-resource{path}` of `resource` (RFC 9728 §3.1: the
/// well-known segment goes between the host and the path, a terminating slash removed).
pub(crate) fn metadata_url(resource: &str) -> String {
    match Url::parse(resource) {
        Ok(url) => {
            format!("{}{WELL_KNOWN}{}", url.origin().ascii_serialization(), url.path().trim_end_matches('/'))
        }
        // Only reached with a request origin the URL parser refuses (public_origin filters
        // hosts, so in practice never): the plain well-known path of the app.
        Err(_) => format!("{}{WELL_KNOWN}", resource.trim_end_matches('/')),
    }
}

/// The metadata URL for this request (the `resource_metadata` challenge parameter).
pub(crate) fn metadata_url_for(config: &AadAuthConfig, req: &HttpRequest) -> String {
    metadata_url(&resource(config, req))
}

/// The path the app serves the metadata at: the well-known segment followed by the path of
/// the resource identifier when it is fixed by configuration (`AAD_RESOURCE_URL`, else
/// `AAD_PUBLIC_BASE_URL`/`AAD_REDIRECT_URI`'s base path). The other routes are mounted without
/// the base path (the proxy strips it); this one is requested outside the base path, so a
/// proxy forwards it unchanged (README, "Protected-resource metadata").
pub(crate) fn route_path(config: &AadAuthConfig) -> String {
    let path = match (config.resource_url(), config.fixed_public_base()) {
        (Some(url), _) => url.path().trim_end_matches('/').to_owned(),
        (None, Some(base)) => base.path().to_owned(),
        (None, None) => String::new(),
    };
    format!("{WELL_KNOWN}{path}")
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
    fn well_known_goes_between_origin_and_path() {
        assert_eq!(metadata_url("https://app.example"), "https://app.example/.well-known/oauth-protected-resource");
        assert_eq!(
            metadata_url("https://app.example/base/"),
            "https://app.example/.well-known/oauth-protected-resource/base"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8000/a/b"),
            "http://127.0.0.1:8000/.well-known/oauth-protected-resource/a/b"
        );
    }

    #[test]
    fn resource_and_route_follow_the_configuration() {
        let req = TestRequest::default().insert_header(("host", "127.0.0.1:8000")).to_http_request();
        let plain = config(&[]);
        assert_eq!(resource(&plain, &req), "http://127.0.0.1:8000");
        assert_eq!(route_path(&plain), WELL_KNOWN);
        let based = config(&[("AAD_PUBLIC_BASE_URL", "https://app.example/base/")]);
        assert_eq!(resource(&based, &req), "https://app.example/base");
        assert_eq!(metadata_url_for(&based, &req), "https://app.example/.well-known/oauth-protected-resource/base");
        assert_eq!(route_path(&based), "/.well-known/oauth-protected-resource/base");
        let explicit = config(&[
            ("AAD_PUBLIC_BASE_URL", "https://app.example/base"),
            ("AAD_RESOURCE_URL", "https://api.example/mcp"),
        ]);
        assert_eq!(resource(&explicit, &req), "https://api.example/mcp");
        assert_eq!(route_path(&explicit), "/.well-known/oauth-protected-resource/mcp");
    }

    #[test]
    fn resource_url_is_checked() {
        for bad in ["http://app.example", "https://app.example/?a=1", "https://app.example/#x", "not a url"] {
            let vars = [
                ("AAD_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
                ("AAD_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
                ("AAD_RESOURCE_URL", bad),
            ];
            let error =
                AadAuthConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
                    .unwrap_err();
            assert_eq!(error.variables(), vec!["AAD_RESOURCE_URL"], "{bad}");
        }
    }
}
