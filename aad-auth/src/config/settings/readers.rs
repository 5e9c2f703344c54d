//! The readers of the table's `custom` rows and the value parsers the kinds share.

use base64::Engine as _;

use super::{
    AAD_GROUPS_OVERAGE, AAD_MANAGED_IDENTITY, AAD_TOKEN_VERSIONS, LIST_EXPECTED, SESSION_SAME_SITE, SESSION_SECRET,
    SESSION_STORE,
};
use crate::config::credentials::ManagedIdentityChoice;
use crate::config::{AadAuthConfigBuilder, ConfigError, GroupsOverage, SameSite, SessionStoreKind};

pub(crate) const SESSION_SECRET_EXPECTED: &str =
    "a key of at least 64 bytes, base64-encoded (generate one with `openssl rand -base64 64`)";

pub(crate) fn read_client_secret(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.credentials.secret = Some(crate::secret::ClientSecret::new(value));
    Ok(())
}

pub(crate) fn read_identity_header(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.credentials.identity_header = Some(crate::secret::IdentityHeader::new(value));
    Ok(())
}

pub(crate) fn read_managed_identity(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.credentials.managed_identity = parse_managed_identity(value).ok_or_else(|| {
        ConfigError::invalid(
            AAD_MANAGED_IDENTITY,
            "true (the system-assigned identity), false, or the client id (a GUID) of a user-assigned identity",
            value,
        )
    })?;
    Ok(())
}

/// `AAD_MANAGED_IDENTITY`: a flag, or a user-assigned identity's client id.
pub(crate) fn parse_managed_identity(value: &str) -> Option<ManagedIdentityChoice> {
    match parse_bool(value) {
        Some(true) => Some(ManagedIdentityChoice::System),
        Some(false) => Some(ManagedIdentityChoice::Off),
        None if crate::config::is_guid(value.trim()) => {
            Some(ManagedIdentityChoice::User(value.trim().to_ascii_lowercase()))
        }
        None => None,
    }
}

pub(crate) fn read_token_versions(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
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

pub(crate) fn read_session_secret(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    match decode_base64(value).and_then(crate::secret::SessionSecret::from_bytes) {
        Some(secret) => {
            builder.session.secret = Some(secret);
            Ok(())
        }
        None => Err(ConfigError::invalid_secret(SESSION_SECRET, SESSION_SECRET_EXPECTED)),
    }
}

pub(crate) fn read_groups_overage(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.groups_overage = match value.to_ascii_lowercase().as_str() {
        "off" => GroupsOverage::Off,
        "graph" => GroupsOverage::Graph,
        _ => return Err(ConfigError::invalid(AAD_GROUPS_OVERAGE, "off or graph", value)),
    };
    Ok(())
}

pub(crate) fn read_cookie_name(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    // Checked by `validate`, for the builder's value too.
    value.clone_into(&mut builder.session.cookie_name);
    Ok(())
}

pub(crate) fn read_same_site(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.session.same_site = match value.to_ascii_lowercase().as_str() {
        "lax" => SameSite::Lax,
        "strict" => SameSite::Strict,
        "none" => SameSite::None,
        _ => return Err(ConfigError::invalid(SESSION_SAME_SITE, "lax, strict or none", value)),
    };
    Ok(())
}

pub(crate) fn read_store(builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
    builder.session.store = parse_store(value).ok_or(ConfigError::Invalid {
        var: SESSION_STORE,
        expected: "`cookie` or a redis:// or rediss:// URL",
        // The URL may carry a password.
        got: None,
    })?;
    Ok(())
}

/// A comma-separated list, or a JSON array of strings (the original only took JSON).
pub(crate) fn parse_list(value: &str) -> Result<Vec<String>, ()> {
    let value = value.trim();
    if value.starts_with('[') {
        let items: Vec<String> = serde_json::from_str(value).map_err(|_| ())?;
        return Ok(items.into_iter().map(|item| item.trim().to_owned()).filter(|item| !item.is_empty()).collect());
    }
    Ok(value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect())
}

pub(crate) fn parse_bool(value: &str) -> Option<bool> {
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
