//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each feeds bytes to one of
//! the crate's own parsers, the crate-private ones included. Not a public API.
//!
//! A hook never panics itself (no `unwrap`, no indexing, no assertion): a panic while fuzzing is
//! the parser's. Hooks that return `bool` document what it means; the fuzz targets assert on it
//! only where it is a contract (`*_holds` in the name), never where it is just accepted/refused.

use std::sync::OnceLock;

use actix_web::http::Uri;
use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::test::TestRequest;

use crate::authority::Authority;
use crate::config::AadAuthConfig;

/// A client id for configurations the hooks build.
const CLIENT_ID: &str = "6f1c1b3e-2a4d-4c5e-9f7a-0b1c2d3e4f50";
/// A tenant GUID for configurations the hooks build.
const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Splits `token` as a compact JWS (`token::compact::split`), decodes its payload and signature
/// segments and parses its JOSE header (`token::compact::header`). Returns whether the token
/// split and its header parsed.
pub fn compact_token(token: &str) -> bool {
    use crate::token::compact;
    let Ok(parts) = compact::split(token) else {
        return false;
    };
    let _ = compact::decode(parts.payload);
    let _ = compact::decode(parts.signature);
    compact::header(&parts).is_ok()
}

/// Parses `body` as a JWKS document (`keys::jwks::parse`). Returns whether the document parsed
/// (with or without usable keys).
pub fn jwks(body: &[u8]) -> bool {
    crate::keys::jwks::parse(body).is_ok()
}

/// The authorities `discovery` checks a document against: one per kind of expected issuer (a
/// tenant GUID, a multi-tenant template, a tenant domain, an explicit discovery URL) and a
/// loopback http host.
fn authorities() -> &'static [Authority] {
    static AUTHORITIES: OnceLock<Vec<Authority>> = OnceLock::new();
    AUTHORITIES.get_or_init(|| {
        let builders = [
            AadAuthConfig::builder(CLIENT_ID, TENANT_ID),
            AadAuthConfig::builder(CLIENT_ID, "common").insecure_allow_any_tenant(true),
            AadAuthConfig::builder(CLIENT_ID, "organizations").allowed_tenants([TENANT_ID]),
            AadAuthConfig::builder(CLIENT_ID, "contoso.onmicrosoft.com"),
            AadAuthConfig::builder(CLIENT_ID, "consumers"),
            AadAuthConfig::builder(CLIENT_ID, TENANT_ID)
                .openid_config_url("https://login.example.com/tenant/v2.0/.well-known/openid-configuration"),
            AadAuthConfig::builder(CLIENT_ID, TENANT_ID).authority_host("http://127.0.0.1:8400"),
        ];
        builders.into_iter().filter_map(|builder| builder.build().ok()).map(|c| Authority::from_config(&c)).collect()
    })
}

/// Parses `body` as an OpenID discovery document (`Authority::parse_metadata`) for each of a
/// fixed set of authorities. Returns whether any of them accepted it.
pub fn discovery(body: &[u8]) -> bool {
    authorities().iter().fold(false, |accepted, authority| authority.parse_metadata(body).is_ok() | accepted)
}

/// Finds the bearer token in a request (`bearer::bearer_token`) whose `Authorization` headers are
/// the lines of `input` (lines that are not valid header values are left out) and whose query
/// string is the line starting with `?`, if any. Returns whether a bearer token was found.
pub fn authorization_header(input: &[u8]) -> bool {
    let mut request = TestRequest::default();
    for line in input.split(|&byte| byte == b'\n') {
        if let Some(query) = line.strip_prefix(b"?") {
            let uri = std::str::from_utf8(query).map(|query| format!("/api?{query}"));
            // `TestRequest::uri` unwraps the same parse.
            if let Ok(uri) = uri
                && uri.parse::<Uri>().is_ok()
            {
                request = request.uri(&uri);
            }
        } else if let Ok(value) = HeaderValue::from_bytes(line) {
            request = request.append_header((AUTHORIZATION, value));
        }
    }
    let request = request.to_http_request();
    matches!(crate::bearer::bearer_token(&request), Ok(Some(_)))
}

/// The login routes `redirect_target_holds` excludes.
const LOGIN_ROUTES: [&str; 3] = ["/login", "/oauth/aad", "/logout"];

/// Checks `target` as a post-login target: `redirect::is_safe_target` and `redirect::sanitize`,
/// and `redirect::current_target` of a request for it (when it parses as a request URI). Returns
/// whether their contract holds: `sanitize` keeps the target or falls back, keeps it only when
/// it is safe, and `current_target` only ever yields a safe target.
pub fn redirect_target_holds(target: &str) -> bool {
    let safe = crate::redirect::is_safe_target(target);
    let kept = crate::redirect::sanitize(Some(target), &LOGIN_ROUTES, "/fallback");
    let sanitized = if kept == target { safe } else { kept == "/fallback" };
    // `TestRequest::uri` unwraps the same parse.
    let current = target.parse::<Uri>().is_err() || {
        let request = TestRequest::default().uri(target).to_http_request();
        crate::redirect::is_safe_target(&crate::redirect::current_target(&request))
    };
    sanitized && current
}

/// The variables `config_values_hold` may set: every setting of the configuration table but
/// those naming files (`AAD_CA_FILE`, the template and logo files), so that no input reads the
/// file system.
pub fn config_variables() -> &'static [&'static str] {
    static VARIABLES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        crate::config::settings::SETTINGS.iter().filter(|s| !s.names_a_file()).map(|s| s.var).collect()
    });
    &VARIABLES
}

/// Variables whose values must never appear in an error message (a session store URL may carry
/// a password).
const SECRET_VARIABLES: [&str; 4] = ["AAD_CLIENT_SECRET", "IDENTITY_HEADER", "SESSION_SECRET", "SESSION_STORE"];

/// Secret values shorter than this are not looked for in messages (a one-letter secret appears
/// in any message).
const MIN_SECRET_LEN: usize = 12;

/// Reads a configuration (`AadAuthConfig::from_lookup`, which runs the list, flag and duration
/// parsers of `config::env` and the checks of `config::validate`) from `input`: one variable a
/// line, `NAME=value` for a name in [`config_variables`], otherwise the whole line is the value
/// of the variable at the line's index. `AAD_CLIENT_ID` and `AAD_TENANT_ID` default to GUIDs so
/// that the other checks are reached. Returns whether the contract holds: an accepted
/// configuration has its durations in range and its lists free of empty or untrimmed items, and
/// an error message never carries the value of a secret variable.
pub fn config_values_hold(input: &str) -> bool {
    let variables = config_variables();
    let mut values: Vec<(&str, String)> = Vec::new();
    for (index, line) in input.split('\n').enumerate() {
        match line.split_once('=') {
            Some((name, value)) if variables.contains(&name) => values.push((name, value.to_owned())),
            _ => {
                let name = variables.get(index % variables.len().max(1)).copied().unwrap_or_default();
                values.push((name, line.to_owned()));
            }
        }
    }
    let message = match read_config(&values) {
        Ok(config) => return config_in_range(&config),
        Err(error) => error.to_string(),
    };
    let secrets: Vec<String> = values
        .iter()
        .filter(|(name, _)| SECRET_VARIABLES.contains(name))
        .map(|(_, value)| value.trim().to_owned())
        .filter(|secret| secret.len() >= MIN_SECRET_LEN && message.contains(secret.as_str()))
        .collect();
    if secrets.is_empty() {
        return true;
    }
    // The secret's text may be in the message for another reason (another variable holds it
    // too, or it is a phrase of some message). Then it is still there when the secrets are
    // changed (ASCII case swapped, so that they stay as valid or invalid as they were); an
    // echoed secret is not.
    let swapped = |value: &str| -> String {
        value
            .chars()
            .map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect()
    };
    if secrets.iter().any(|secret| swapped(secret) == *secret) {
        return true;
    }
    let changed: Vec<(&str, String)> = values
        .iter()
        .map(|(name, value)| (*name, if SECRET_VARIABLES.contains(name) { swapped(value) } else { value.clone() }))
        .collect();
    match read_config(&changed) {
        // The changed secret made the configuration valid: nothing to compare with.
        Ok(_) => true,
        Err(error) => {
            let message = error.to_string();
            secrets.iter().all(|secret| message.contains(secret.as_str()))
        }
    }
}

/// `AadAuthConfig::from_lookup` over `values` (the first value of a name wins).
fn read_config(values: &[(&str, String)]) -> Result<AadAuthConfig, crate::ConfigError> {
    AadAuthConfig::from_lookup(|name| {
        let value = values.iter().find(|(set, _)| *set == name).map(|(_, value)| value.clone());
        match name {
            "AAD_CLIENT_ID" => value.or_else(|| Some(CLIENT_ID.to_owned())),
            "AAD_TENANT_ID" => value.or_else(|| Some(TENANT_ID.to_owned())),
            _ => value,
        }
    })
}

/// What `AadAuthConfig`'s accessors promise about values read from the environment.
fn config_in_range(config: &AadAuthConfig) -> bool {
    let listed = |items: &[String]| items.iter().all(|item| !item.is_empty() && item.trim() == item);
    config.clock_skew().as_secs() <= 600
        && (60..=7 * 86_400).contains(&config.jwks_cache_ttl().as_secs())
        && listed(config.scopes())
        && listed(config.roles())
        && listed(config.client_app_ids())
        && listed(config.allowed_tenants())
}

/// The parameters the emulator's endpoints read from a form body or query string.
#[cfg(feature = "testing")]
const FORM_PARAMETERS: [&str; 24] = [
    "grant_type",
    "client_id",
    "client_secret",
    "code",
    "code_verifier",
    "redirect_uri",
    "scope",
    "refresh_token",
    "device_code",
    "assertion",
    "requested_token_use",
    "state",
    "nonce",
    "prompt",
    "login_hint",
    "response_mode",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "emulator_action",
    "emulator_user",
    "user_code",
    "post_logout_redirect_uri",
    "authorization_endpoint",
];

/// Parses `body` as the emulator parses token-endpoint, device-code and sign-in form bodies and
/// authorize / logout query strings (`testing::oauth::parse_params`), and reads every parameter
/// its endpoints read (`testing::oauth::param`). Returns whether a `grant_type` was present.
#[cfg(feature = "testing")]
pub fn emulator_form(body: &[u8]) -> bool {
    let params = crate::testing::parse_params(body);
    let mut grant = false;
    for name in FORM_PARAMETERS {
        let value = crate::testing::param(&params, name);
        grant |= name == "grant_type" && value.is_some();
    }
    grant
}
