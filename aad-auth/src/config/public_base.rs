//! The public base fixed by the configuration (`AAD_PUBLIC_BASE_URL`, else `AAD_REDIRECT_URI`'s
//! origin and base path), computed once when the configuration is built. The per-request part
//! of the public origin is `crate::public_origin`'s.

use std::fmt;

use url::Url;

use super::ConfigError;
use super::settings::{AAD_PUBLIC_BASE_URL, AAD_REDIRECT_URI};

/// A public base fixed by the configuration: `scheme://host[:port]` and a base path (empty, or
/// `/path` without a trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FixedBase {
    origin: String,
    path: String,
    source: &'static str,
}

impl FixedBase {
    /// The variable it comes from.
    pub(crate) fn source(&self) -> &'static str {
        self.source
    }

    /// The origin (`scheme://host[:port]`).
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// The base path: empty, or `/path` without a trailing slash.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Origin and base path.
    pub(crate) fn url(&self) -> String {
        format!("{}{}", self.origin, self.path)
    }
}

impl fmt::Display for FixedBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.path)
    }
}

/// The fixed base from `AAD_PUBLIC_BASE_URL` and `AAD_REDIRECT_URI` (already checked to be
/// absolute http(s) URLs), `None` when neither is set. `callback` is the callback route
/// (`/oauth/aad/redirect`).
///
/// # Errors
/// `AAD_REDIRECT_URI` whose path does not end with the callback route; both set with different
/// origins (the message names both).
pub(crate) fn fixed_base(
    public_base_url: Option<&Url>,
    redirect_uri: Option<&Url>,
    callback: &str,
    problems: &mut Vec<ConfigError>,
) -> Option<FixedBase> {
    let from_redirect = redirect_uri.and_then(|uri| {
        let Some(path) = uri.path().strip_suffix(callback) else {
            problems.push(ConfigError::Conflict {
                var: AAD_REDIRECT_URI,
                message: format!(
                    "its path must end with the callback route {callback} (after any base path the proxy adds), \
                     because the app serves the callback there; got path {}",
                    uri.path()
                ),
            });
            return None;
        };
        Some(FixedBase {
            origin: origin_of(uri),
            path: path.trim_end_matches('/').to_owned(),
            source: AAD_REDIRECT_URI,
        })
    });
    let from_base = public_base_url.map(|url| FixedBase {
        origin: origin_of(url),
        path: url.path().trim_end_matches('/').to_owned(),
        source: AAD_PUBLIC_BASE_URL,
    });
    match (from_base, from_redirect) {
        (Some(base), Some(redirect)) if base.origin != redirect.origin => {
            problems.push(ConfigError::Conflict {
                var: AAD_PUBLIC_BASE_URL,
                message: format!(
                    "its origin {} differs from the origin {} of AAD_REDIRECT_URI; the app has one public origin, \
                     so set one of them, or both to the same origin",
                    base.origin, redirect.origin
                ),
            });
            None
        }
        (Some(base), _) => Some(base),
        (None, redirect) => redirect,
    }
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}
