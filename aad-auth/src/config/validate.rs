//! The checks every configuration passes, however it was set.

use std::net::IpAddr;

use ipnet::IpNet;
use url::Url;

use super::env::*;
use super::{AadAuthConfig, AadAuthConfigBuilder, ConfigError, PROMPTS, SameSite, Tenant, TokenVersions, is_guid};

const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// Whether a URL points at this machine (where plain http is acceptable).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `scheme://host[:port]` of an http(s) URL that has nothing else (no path beyond `/`, query,
/// fragment or credentials), as the `url` crate serialises origins.
pub(crate) fn origin_only(value: &str) -> Option<String> {
    let url = Url::parse(value).ok()?;
    let bare = matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none();
    let plain = url.username().is_empty() && url.password().is_none();
    // `*` is a valid host character to the URL parser, but no browser sends it in `Origin`: a
    // Django-style wildcard would silently never match.
    let exact = url.host_str().is_some_and(|host| !host.contains('*'));
    (matches!(url.scheme(), "http" | "https") && exact && bare && plain).then(|| url.origin().ascii_serialization())
}

/// An http(s) URL; http only for loopback hosts.
fn secure_url(var: &'static str, value: &str, problems: &mut Vec<ConfigError>) -> Option<Url> {
    const EXPECTED: &str = "an absolute https:// URL (http:// only for localhost/127.0.0.1)";
    match Url::parse(value) {
        // Credentials in a URL end up in logs and in `Debug`.
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            problems.push(ConfigError::invalid_secret(var, "a URL without user or password"));
            None
        }
        Ok(url) if url.scheme() == "https" && url.host().is_some() => Some(url),
        Ok(url) if url.scheme() == "http" && is_loopback(&url) => Some(url),
        _ => {
            problems.push(ConfigError::invalid(var, EXPECTED, value));
            None
        }
    }
}

fn route(var: &'static str, value: &str, problems: &mut Vec<ConfigError>) {
    let ok = value.starts_with('/')
        && !value.starts_with("//")
        && value.len() <= 256
        && value.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'\\' | b'"' | b'<' | b'>'));
    if !ok {
        problems.push(ConfigError::invalid(var, "a path starting with a single `/`, without query or fragment", value));
    }
}

pub(super) fn build(builder: AadAuthConfigBuilder) -> Result<AadAuthConfig, ConfigError> {
    let mut problems = builder.deferred;
    problems.extend(builder.session_secret_problem);
    let enabled = builder.enabled;

    // With authentication switched off, the app must still start without a registration.
    let client_id = match builder.client_id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()) {
        Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => id,
        Some(id) => {
            problems.push(ConfigError::invalid(AAD_CLIENT_ID, "the application (client) id, a GUID", &id));
            String::new()
        }
        None if enabled => {
            problems.push(ConfigError::Missing {
                var: AAD_CLIENT_ID,
                expected: "the application (client) id of the app registration, a GUID",
            });
            String::new()
        }
        None => String::new(),
    };
    let tenant = match builder.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(value) => Tenant::parse(value).unwrap_or_else(|| {
            problems.push(ConfigError::invalid(
                AAD_TENANT_ID,
                "a tenant GUID, a tenant domain, `common` or `organizations`",
                value,
            ));
            Tenant::Common
        }),
        None if enabled => {
            problems.push(ConfigError::Missing {
                var: AAD_TENANT_ID,
                expected: "the directory (tenant) id, a tenant domain, `common` or `organizations`",
            });
            Tenant::Common
        }
        None => Tenant::Common,
    };

    let authority_host_text = builder.authority_host.as_deref().unwrap_or(DEFAULT_AUTHORITY_HOST);
    let authority_host = secure_url(AAD_AUTHORITY_HOST, authority_host_text, &mut problems).and_then(|url| {
        if url.query().is_some() || url.fragment().is_some() || !url.path().trim_matches('/').is_empty() {
            problems.push(ConfigError::invalid(
                AAD_AUTHORITY_HOST,
                "a scheme and host only, such as https://login.microsoftonline.com",
                authority_host_text,
            ));
            None
        } else {
            Some(url)
        }
    });

    let openid_config_url =
        builder.openid_config_url.as_deref().and_then(|value| secure_url(AAD_OPENID_CONFIG_URL, value, &mut problems));

    let ca_pem = builder.ca_file.as_ref().and_then(|path| match std::fs::read(path) {
        Ok(bytes) if bytes.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => Some(bytes),
        Ok(_) => {
            problems.push(ConfigError::File {
                var: AAD_CA_FILE,
                path: path.display().to_string(),
                reason: "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
            });
            None
        }
        Err(error) => {
            problems.push(ConfigError::File {
                var: AAD_CA_FILE,
                path: path.display().to_string(),
                reason: error.to_string(),
            });
            None
        }
    });

    let api_audience = builder.api_audience.unwrap_or_else(|| format!("api://{client_id}"));

    for tenant_id in &builder.allowed_tenants {
        if !is_guid(tenant_id) {
            problems.push(ConfigError::invalid(AAD_ALLOWED_TENANTS, "tenant GUIDs", tenant_id));
        }
    }
    let allowed_tenants: Vec<String> = builder.allowed_tenants.iter().map(|t| t.to_ascii_lowercase()).collect();
    if enabled && tenant.is_multi_tenant() && allowed_tenants.is_empty() && !builder.allow_any_tenant {
        problems.push(ConfigError::Conflict {
            var: AAD_ALLOWED_TENANTS,
            message: format!(
                "AAD_TENANT_ID={} accepts tokens from any tenant; list the tenants to accept in \
                 {AAD_ALLOWED_TENANTS}, or set {AAD_ALLOW_ANY_TENANT}=true to accept every tenant",
                tenant.as_path_segment()
            ),
        });
    }

    let token_versions = match builder.token_versions.as_deref() {
        None => TokenVersions::default(),
        Some(list) if list.is_empty() || list.iter().any(|v| !matches!(v, 1 | 2)) => {
            problems.push(ConfigError::invalid(
                AAD_TOKEN_VERSIONS,
                "a non-empty list of token versions, each 1 or 2",
                &format!("{list:?}"),
            ));
            TokenVersions::default()
        }
        Some(list) => TokenVersions { v1: list.contains(&1), v2: list.contains(&2) },
    };

    let scopes = builder.scopes.filter(|s| !s.is_empty()).unwrap_or_else(|| vec![format!("{client_id}/.default")]);

    let redirect_uri = builder.redirect_uri.as_deref().and_then(|v| secure_url(AAD_REDIRECT_URI, v, &mut problems));
    let public_base_url = builder.public_base_url.as_deref().and_then(|value| {
        let url = secure_url(AAD_PUBLIC_BASE_URL, value, &mut problems)?;
        if url.query().is_some() || url.fragment().is_some() {
            problems.push(ConfigError::invalid(AAD_PUBLIC_BASE_URL, "a base URL without query or fragment", value));
            return None;
        }
        Some(url)
    });

    let trusted_proxies = builder
        .trusted_proxies
        .iter()
        .filter_map(|value| {
            value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    problems.push(ConfigError::invalid(AAD_TRUSTED_PROXIES, "IP addresses or CIDR ranges", value))
                })
                .ok()
        })
        .collect();

    let trusted_origins = builder
        .trusted_origins
        .iter()
        .filter_map(|value| {
            let origin = origin_only(value);
            if origin.is_none() {
                problems.push(ConfigError::invalid(
                    AUTH_TRUSTED_ORIGINS,
                    "exact origins such as https://portal.example.com (scheme, host and port only; no wildcards)",
                    value,
                ));
            }
            origin
        })
        .collect();

    if let Some(prompt) = &builder.prompt
        && !PROMPTS.contains(&prompt.as_str())
    {
        problems.push(ConfigError::invalid(AAD_PROMPT, "login, select_account, consent, none or create", prompt));
    }

    if builder.clock_skew.as_secs() > 600 {
        problems.push(ConfigError::invalid(
            AAD_CLOCK_SKEW_SECONDS,
            "a whole number of seconds between 0 and 600",
            &builder.clock_skew.as_secs().to_string(),
        ));
    }
    if builder.jwks_cache_ttl.as_secs() < 60 {
        problems.push(ConfigError::invalid(
            AAD_JWKS_CACHE_TTL,
            "a whole number of seconds between 60 and 604800",
            &builder.jwks_cache_ttl.as_secs().to_string(),
        ));
    }
    if builder.jwks_stale_ttl.as_secs() > 7 * 86_400 {
        problems.push(ConfigError::invalid(
            AAD_JWKS_STALE_TTL,
            "a whole number of seconds between 0 and 604800",
            &builder.jwks_stale_ttl.as_secs().to_string(),
        ));
    }
    if builder.session.max_age.as_secs() < 60 {
        problems.push(ConfigError::invalid(
            SESSION_MAX_AGE,
            "a whole number of seconds between 60 and 31622400",
            &builder.session.max_age.as_secs().to_string(),
        ));
    }
    if builder.session.idle_timeout.as_secs() < 60 {
        problems.push(ConfigError::invalid(
            SESSION_IDLE_TIMEOUT,
            "a whole number of seconds between 60 and 31622400",
            &builder.session.idle_timeout.as_secs().to_string(),
        ));
    }

    let routes = &builder.routes;
    let fixed_public_base = crate::public_origin::fixed_base(
        public_base_url.as_ref(),
        redirect_uri.as_ref(),
        &routes.oauth_callback(),
        &mut problems,
    );
    route(AUTH_LOGIN_UI_ROUTE, &routes.login_ui, &mut problems);
    route(OAUTH_BASE_ROUTE, &routes.oauth_base, &mut problems);
    route(AUTH_LOGOUT_ROUTE, &routes.logout, &mut problems);
    if let Some(user) = &routes.user {
        route(AUTH_USER_ROUTE, user, &mut problems);
    }
    route(APP_HOME_ROUTE, &routes.home, &mut problems);
    route(AUTH_POST_LOGOUT_ROUTE, &routes.post_logout, &mut problems);
    route(AUTH_LOGIN_STATIC_PATH, &routes.static_path, &mut problems);

    for (var, path) in [
        (AUTH_LOGIN_TEMPLATE_FILE, &builder.ui.login_template),
        (AUTH_USER_TEMPLATE_FILE, &builder.ui.user_template),
        (AUTH_ERROR_TEMPLATE_FILE, &builder.ui.error_template),
        (APP_LOGO_FILE, &builder.ui.logo_file),
    ] {
        if let Some(path) = path
            && !path.is_file()
        {
            problems.push(ConfigError::File { var, path: path.display().to_string(), reason: "no such file".into() });
        }
    }

    let cookie_name = &builder.session.cookie_name;
    if cookie_name.is_empty()
        || !cookie_name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        problems.push(ConfigError::invalid(
            SESSION_COOKIE,
            "a cookie name of letters, digits, `_`, `-` or `.`",
            cookie_name,
        ));
    }
    if builder.session.same_site == SameSite::None && !builder.session.https_only {
        problems.push(ConfigError::Conflict {
            var: SESSION_SAME_SITE,
            message:
                "SameSite=None cookies must be Secure (browsers drop them otherwise); with SESSION_SAME_SITE=none \
                      set SESSION_HTTPS_ONLY=true, or choose lax or strict"
                    .into(),
        });
    }

    ConfigError::collect(problems)?;
    // Only `None` when a problem about it was recorded above.
    let Some(authority_host) = authority_host else {
        return Err(ConfigError::invalid(AAD_AUTHORITY_HOST, "an absolute https:// URL", authority_host_text));
    };
    Ok(AadAuthConfig {
        client_id,
        tenant,
        client_secret: builder.client_secret,
        authority_host,
        openid_config_url,
        ca_file: builder.ca_file,
        ca_pem,
        api_audience,
        client_app_ids: builder.client_app_ids,
        allowed_tenants,
        allow_any_tenant: builder.allow_any_tenant,
        token_versions,
        scopes,
        roles: builder.roles,
        redirect_uri,
        public_base_url,
        fixed_public_base,
        trusted_proxies,
        trusted_origins,
        prompt: builder.prompt,
        domain_hint: builder.domain_hint,
        clock_skew: builder.clock_skew,
        jwks_cache_ttl: builder.jwks_cache_ttl,
        jwks_stale_ttl: builder.jwks_stale_ttl,
        allow_guests: builder.allow_guests,
        enabled,
        dev_mode: builder.dev_mode,
        routes: builder.routes,
        ui: builder.ui,
        session: builder.session,
    })
}
