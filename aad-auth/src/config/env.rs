//! Reading the configuration from environment variables (names as in the original, with the
//! `FASTAPI_` prefix dropped).

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;

use super::{AadAuthConfigBuilder, ConfigError, RouteConfig, SameSite, SessionStoreKind, UiConfig};

pub(super) const AAD_CLIENT_ID: &str = "AAD_CLIENT_ID";
pub(super) const AAD_TENANT_ID: &str = "AAD_TENANT_ID";
pub(super) const AAD_CLIENT_SECRET: &str = "AAD_CLIENT_SECRET";
pub(super) const AAD_AUTHORITY_HOST: &str = "AAD_AUTHORITY_HOST";
pub(super) const AAD_OPENID_CONFIG_URL: &str = "AAD_OPENID_CONFIG_URL";
pub(super) const AAD_CA_FILE: &str = "AAD_CA_FILE";
pub(super) const AAD_API_AUDIENCE: &str = "AAD_API_AUDIENCE";
pub(super) const AAD_CLIENT_APP_IDS: &str = "AAD_CLIENT_APP_IDS";
pub(super) const AAD_ALLOWED_TENANTS: &str = "AAD_ALLOWED_TENANTS";
pub(super) const AAD_ALLOW_ANY_TENANT: &str = "AAD_ALLOW_ANY_TENANT";
pub(super) const AAD_TOKEN_VERSIONS: &str = "AAD_TOKEN_VERSIONS";
pub(super) const AAD_SCOPES: &str = "AAD_SCOPES";
pub(super) const AAD_ROLES: &str = "AAD_ROLES";
pub(crate) const AAD_REDIRECT_URI: &str = "AAD_REDIRECT_URI";
pub(crate) const AAD_PUBLIC_BASE_URL: &str = "AAD_PUBLIC_BASE_URL";
pub(super) const AAD_TRUSTED_PROXIES: &str = "AAD_TRUSTED_PROXIES";
pub(super) const AUTH_TRUSTED_ORIGINS: &str = "AUTH_TRUSTED_ORIGINS";
pub(super) const AAD_PROMPT: &str = "AAD_PROMPT";
pub(super) const AAD_DOMAIN_HINT: &str = "AAD_DOMAIN_HINT";
pub(super) const AAD_CLOCK_SKEW_SECONDS: &str = "AAD_CLOCK_SKEW_SECONDS";
pub(super) const AAD_JWKS_CACHE_TTL: &str = "AAD_JWKS_CACHE_TTL";
pub(super) const AAD_JWKS_STALE_TTL: &str = "AAD_JWKS_STALE_TTL";
pub(super) const AAD_ALLOW_GUESTS: &str = "AAD_ALLOW_GUESTS";
pub(super) const AUTH_ENABLED: &str = "AUTH_ENABLED";
pub(super) const AUTH_DEV_MODE: &str = "AUTH_DEV_MODE";
pub(super) const AUTH_LOGIN_UI_ROUTE: &str = "AUTH_LOGIN_UI_ROUTE";
pub(super) const OAUTH_BASE_ROUTE: &str = "OAUTH_BASE_ROUTE";
pub(super) const AUTH_LOGOUT_ROUTE: &str = "AUTH_LOGOUT_ROUTE";
pub(super) const AUTH_USER_ROUTE: &str = "AUTH_USER_ROUTE";
pub(super) const APP_HOME_ROUTE: &str = "APP_HOME_ROUTE";
pub(super) const AUTH_POST_LOGOUT_ROUTE: &str = "AUTH_POST_LOGOUT_ROUTE";
pub(super) const AUTH_LOGIN_STATIC_PATH: &str = "AUTH_LOGIN_STATIC_PATH";
pub(super) const APP_NAME: &str = "APP_NAME";
pub(super) const APP_LOGO_FILE: &str = "APP_LOGO_FILE";
pub(super) const AUTH_LOGIN_TEMPLATE_FILE: &str = "AUTH_LOGIN_TEMPLATE_FILE";
pub(super) const AUTH_USER_TEMPLATE_FILE: &str = "AUTH_USER_TEMPLATE_FILE";
pub(super) const AUTH_ERROR_TEMPLATE_FILE: &str = "AUTH_ERROR_TEMPLATE_FILE";
pub(super) const SESSION_SECRET: &str = "SESSION_SECRET";
pub(super) const SESSION_COOKIE: &str = "SESSION_COOKIE";
pub(super) const SESSION_SAME_SITE: &str = "SESSION_SAME_SITE";
pub(super) const SESSION_HTTPS_ONLY: &str = "SESSION_HTTPS_ONLY";
pub(super) const SESSION_MAX_AGE: &str = "SESSION_MAX_AGE";
pub(super) const SESSION_IDLE_TIMEOUT: &str = "SESSION_IDLE_TIMEOUT";
pub(super) const SESSION_STORE: &str = "SESSION_STORE";

pub(super) const SESSION_SECRET_EXPECTED: &str =
    "a key of at least 64 bytes, base64-encoded (generate one with `openssl rand -base64 64`)";

/// Reads every variable; problems are collected so that all of them are reported together.
pub(super) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<AadAuthConfigBuilder, ConfigError> {
    let get = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
    let mut problems = Vec::new();
    let mut builder = AadAuthConfigBuilder::new(get(AAD_CLIENT_ID), get(AAD_TENANT_ID));

    builder.client_secret = get(AAD_CLIENT_SECRET).map(crate::secret::ClientSecret::new);
    builder.authority_host = get(AAD_AUTHORITY_HOST);
    builder.openid_config_url = get(AAD_OPENID_CONFIG_URL);
    builder.ca_file = get(AAD_CA_FILE).map(PathBuf::from);
    builder.api_audience = get(AAD_API_AUDIENCE);
    builder.redirect_uri = get(AAD_REDIRECT_URI);
    builder.public_base_url = get(AAD_PUBLIC_BASE_URL);
    builder.prompt = get(AAD_PROMPT);
    builder.domain_hint = get(AAD_DOMAIN_HINT);

    let mut list = |var: &'static str| match get(var).map(|value| parse_list(&value)) {
        None => None,
        Some(Ok(items)) => Some(items),
        Some(Err(())) => {
            problems.push(ConfigError::invalid(
                var,
                "a comma-separated list or a JSON array of strings",
                &lookup(var).unwrap_or_default(),
            ));
            None
        }
    };
    builder.client_app_ids = list(AAD_CLIENT_APP_IDS).unwrap_or_default();
    builder.allowed_tenants = list(AAD_ALLOWED_TENANTS).unwrap_or_default();
    builder.scopes = list(AAD_SCOPES);
    builder.roles = list(AAD_ROLES).unwrap_or_default();
    builder.trusted_proxies = list(AAD_TRUSTED_PROXIES).unwrap_or_default();
    builder.trusted_origins = list(AUTH_TRUSTED_ORIGINS).unwrap_or_default();
    let versions = list(AAD_TOKEN_VERSIONS);

    if let Some(versions) = versions {
        let parsed: Option<Vec<u8>> = versions
            .iter()
            .map(|v| match v.trim_end_matches(".0") {
                "1" => Some(1),
                "2" => Some(2),
                _ => None,
            })
            .collect();
        match parsed {
            Some(parsed) => builder.token_versions = Some(parsed),
            None => problems.push(ConfigError::invalid(
                AAD_TOKEN_VERSIONS,
                "a list of token versions, each 1 or 2 (for example `1,2`)",
                &versions.join(","),
            )),
        }
    }

    let mut flag = |var: &'static str, default: bool| match get(var) {
        None => default,
        Some(value) => parse_bool(&value).unwrap_or_else(|| {
            problems.push(ConfigError::invalid(var, "true or false (also 1/0, yes/no, on/off)", &value));
            default
        }),
    };
    builder.allow_any_tenant = flag(AAD_ALLOW_ANY_TENANT, false);
    builder.allow_guests = flag(AAD_ALLOW_GUESTS, true);
    builder.enabled = flag(AUTH_ENABLED, true);
    builder.dev_mode = flag(AUTH_DEV_MODE, false);
    builder.session.https_only = flag(SESSION_HTTPS_ONLY, true);

    let mut seconds = |var: &'static str, default: u64, max: u64, expected: &'static str| match get(var) {
        None => Duration::from_secs(default),
        Some(value) => match value.parse::<u64>() {
            Ok(secs) if secs <= max => Duration::from_secs(secs),
            _ => {
                problems.push(ConfigError::invalid(var, expected, &value));
                Duration::from_secs(default)
            }
        },
    };
    builder.clock_skew = seconds(AAD_CLOCK_SKEW_SECONDS, 60, 600, "a whole number of seconds between 0 and 600");
    builder.jwks_cache_ttl =
        seconds(AAD_JWKS_CACHE_TTL, 86_400, 7 * 86_400, "a whole number of seconds between 60 and 604800");
    builder.jwks_stale_ttl =
        seconds(AAD_JWKS_STALE_TTL, 86_400, 7 * 86_400, "a whole number of seconds between 0 and 604800");
    builder.session.max_age =
        seconds(SESSION_MAX_AGE, 86_400, 366 * 86_400, "a whole number of seconds between 60 and 31622400");
    builder.session.idle_timeout =
        seconds(SESSION_IDLE_TIMEOUT, 1_800, 366 * 86_400, "a whole number of seconds between 60 and 31622400");

    let defaults = RouteConfig::default();
    let route = |var: &'static str, default: &str| get(var).unwrap_or_else(|| default.to_owned());
    let login_ui = route(AUTH_LOGIN_UI_ROUTE, &defaults.login_ui);
    builder.routes = RouteConfig {
        post_logout: route(AUTH_POST_LOGOUT_ROUTE, &login_ui),
        login_ui,
        oauth_base: route(OAUTH_BASE_ROUTE, &defaults.oauth_base),
        logout: route(AUTH_LOGOUT_ROUTE, &defaults.logout),
        // Set but empty disables the user page, as in the original.
        user: match lookup(AUTH_USER_ROUTE) {
            Some(value) if value.trim().is_empty() => None,
            Some(value) => Some(value.trim().to_owned()),
            None => defaults.user,
        },
        home: route(APP_HOME_ROUTE, &defaults.home),
        static_path: route(AUTH_LOGIN_STATIC_PATH, &defaults.static_path),
    };
    builder.ui = UiConfig {
        app_name: get(APP_NAME),
        login_template: get(AUTH_LOGIN_TEMPLATE_FILE).map(PathBuf::from),
        user_template: get(AUTH_USER_TEMPLATE_FILE).map(PathBuf::from),
        error_template: get(AUTH_ERROR_TEMPLATE_FILE).map(PathBuf::from),
        logo_file: get(APP_LOGO_FILE).map(PathBuf::from),
    };

    if let Some(value) = get(SESSION_SECRET) {
        match decode_base64(&value).and_then(crate::secret::SessionSecret::from_bytes) {
            Some(secret) => builder.session.secret = Some(secret),
            None => problems.push(ConfigError::invalid_secret(SESSION_SECRET, SESSION_SECRET_EXPECTED)),
        }
    }
    if let Some(name) = get(SESSION_COOKIE) {
        builder.session.cookie_name = name;
    }
    if let Some(value) = get(SESSION_SAME_SITE) {
        match value.to_ascii_lowercase().as_str() {
            "lax" => builder.session.same_site = SameSite::Lax,
            "strict" => builder.session.same_site = SameSite::Strict,
            "none" => builder.session.same_site = SameSite::None,
            _ => problems.push(ConfigError::invalid(SESSION_SAME_SITE, "lax, strict or none", &value)),
        }
    }
    if let Some(value) = get(SESSION_STORE) {
        match parse_store(&value) {
            Some(store) => builder.session.store = store,
            None => problems.push(ConfigError::Invalid {
                var: SESSION_STORE,
                expected: "`cookie` or a redis:// or rediss:// URL",
                // The URL may carry a password.
                got: None,
            }),
        }
    }

    builder.deferred = problems;
    Ok(builder)
}

/// A comma-separated list, or a JSON array of strings (the original only took JSON).
pub(super) fn parse_list(value: &str) -> Result<Vec<String>, ()> {
    let value = value.trim();
    if value.starts_with('[') {
        let items: Vec<String> = serde_json::from_str(value).map_err(|_| ())?;
        return Ok(items.into_iter().map(|item| item.trim().to_owned()).filter(|item| !item.is_empty()).collect());
    }
    Ok(value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect())
}

pub(super) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ]
    .iter()
    .find_map(|engine| engine.decode(value).ok())
}

fn parse_store(value: &str) -> Option<SessionStoreKind> {
    if value.eq_ignore_ascii_case("cookie") {
        return Some(SessionStoreKind::Cookie);
    }
    let url = url::Url::parse(value).ok()?;
    matches!(url.scheme(), "redis" | "rediss").then_some(SessionStoreKind::Redis(url))
}
