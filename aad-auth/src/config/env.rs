//! Reading the configuration from environment variables (names as in the original, with the
//! `FASTAPI_` prefix dropped). Which variables exist and how each is read is the table in
//! [`super::settings`]; this module walks it
//! (the readers of its `custom` rows and the parsers are `settings::readers`).

use super::AadAuthConfigBuilder;
use super::settings::{AUTH_POST_LOGOUT_ROUTE, Kind, SETTINGS};

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
