//! Reading the configuration from environment variables (names as in the original, with the
//! `FASTAPI_` prefix dropped). Which variables exist and how each is read is the table in
//! [`super::settings`]; this module holds the readers of its `custom` rows and the parsers.

use base64::Engine as _;

pub(crate) use super::settings::{AAD_PUBLIC_BASE_URL, AAD_REDIRECT_URI};
use super::settings::{AUTH_POST_LOGOUT_ROUTE, Kind, LIST_EXPECTED, SETTINGS};
use super::{AadAuthConfigBuilder, ConfigError, SameSite, SessionStoreKind};

pub(super) const SESSION_SECRET_EXPECTED: &str =
    "a key of at least 64 bytes, base64-encoded (generate one with `openssl rand -base64 64`)";

/// Reads every variable of the table; problems are collected so that all of them are reported
/// together, and a variable with a bad value keeps its default (its problem is the only one
/// reported about it: `validate` skips the checks that would follow from the default).
pub(super) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> AadAuthConfigBuilder {
    let mut problems = Vec::new();
    let mut builder = AadAuthConfigBuilder::new(None, None);
    for setting in SETTINGS {
        let Some(value) = lookup(setting.var) else { continue };
        let value = value.trim();
        if value.is_empty() {
            // Set but empty disables the user page, as in the original; elsewhere it is unset.
            if let Kind::OptionalRoute(field) = setting.kind {
                *field(&mut builder) = None;
            }
            continue;
        }
        if let Err(problem) = setting.read(&mut builder, value) {
            problems.push(problem);
        }
    }
    // The page logout lands on follows the login page unless it is set (a refused login page is
    // not followed, so that it is reported once).
    if lookup(AUTH_POST_LOGOUT_ROUTE).is_none_or(|value| value.trim().is_empty())
        && super::validate::is_route(&builder.routes.login_ui)
    {
        builder.routes.post_logout = builder.routes.login_ui.clone();
    }
    builder.deferred = problems;
    builder
}

pub(super) fn read_client_secret(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.client_secret = Some(crate::secret::ClientSecret::new(value));
    Ok(())
}

pub(super) fn read_token_versions(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    use super::settings::AAD_TOKEN_VERSIONS;
    let versions = parse_list(value).map_err(|()| ConfigError::invalid(AAD_TOKEN_VERSIONS, LIST_EXPECTED, value))?;
    let parsed: Option<Vec<u8>> = versions
        .iter()
        .map(|v| match v.trim_end_matches(".0") {
            "1" => Some(1),
            "2" => Some(2),
            _ => None,
        })
        .collect();
    match parsed {
        Some(parsed) => {
            builder.token_versions = Some(parsed);
            Ok(())
        }
        None => Err(ConfigError::invalid(
            AAD_TOKEN_VERSIONS,
            "a list of token versions, each 1 or 2 (for example `1,2`)",
            &versions.join(","),
        )),
    }
}

pub(super) fn read_session_secret(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    use super::settings::SESSION_SECRET;
    match decode_base64(value).and_then(crate::secret::SessionSecret::from_bytes) {
        Some(secret) => {
            builder.session.secret = Some(secret);
            Ok(())
        }
        None => Err(ConfigError::invalid_secret(SESSION_SECRET, SESSION_SECRET_EXPECTED)),
    }
}

pub(super) fn read_cookie_name(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    // Checked by `validate`, for the builder's value too.
    value.clone_into(&mut builder.session.cookie_name);
    Ok(())
}

pub(super) fn read_same_site(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.session.same_site = match value.to_ascii_lowercase().as_str() {
        "lax" => SameSite::Lax,
        "strict" => SameSite::Strict,
        "none" => SameSite::None,
        _ => return Err(ConfigError::invalid(super::settings::SESSION_SAME_SITE, "lax, strict or none", value)),
    };
    Ok(())
}

pub(super) fn read_store(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.session.store = parse_store(value).ok_or(ConfigError::Invalid {
        var: super::settings::SESSION_STORE,
        expected: "`cookie` or a redis:// or rediss:// URL",
        // The URL may carry a password.
        got: None,
    })?;
    Ok(())
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
