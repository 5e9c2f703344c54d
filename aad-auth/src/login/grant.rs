//! What a browser session may do: the authorization of the access token the login obtained for
//! this API (scopes, roles, groups, and the authentication contexts `acrs`), so that `allow_session` with `scopes(..)`, `roles(..)` or `groups(..)` decides for
//! a browser exactly as for the same user's bearer token.
//!
//! The id_token names the user but carries no `scp`; the access token does. It is validated as
//! a bearer token would be (signature, issuer, this API's audience, expiry); a token for another
//! resource (`AAD_SCOPES` naming, say, Microsoft Graph) or for another user grants nothing, and
//! the session then holds no scopes.

use crate::config::AadAuthConfig;
use crate::guard::Authenticator;
use crate::user::User;

/// Replaces `user`'s scopes, roles, groups and `acrs` with those of `access_token` when it is a valid
/// token of this API for the same user. Returns whether it was.
pub(crate) async fn apply_access_token(auth: &Authenticator, access_token: &str, user: &mut User) -> bool {
    let token = match auth.validator().validate(access_token).await {
        Ok(token) => token,
        Err(reason) => {
            tracing::debug!(%reason, "the login's access token is not one of this API's: the session has no scopes");
            return false;
        }
    };
    let granted = token.user();
    if granted.oid != user.oid || granted.tid != user.tid {
        tracing::warn!("the login's access token names another user than its id_token: the session has no scopes");
        return false;
    }
    user.scopes.clone_from(&granted.scopes);
    user.roles.clone_from(&granted.roles);
    user.groups.clone_from(&granted.groups);
    user.groups_overage = granted.groups_overage;
    user.acrs.clone_from(&granted.acrs);
    true
}

/// Whether `AAD_SCOPES` asks for a token of this API (`{client id}/...`, `api://{client id}/...`
/// or the configured audience), rather than of another resource.
pub(crate) fn scopes_name_this_api(config: &AadAuthConfig) -> bool {
    let client_id = config.client_id();
    let audience = config.api_audience();
    config.scopes().iter().any(|scope| {
        let resource = scope.rsplit_once('/').map_or("", |(resource, _)| resource);
        !resource.is_empty()
            && (resource.eq_ignore_ascii_case(client_id)
                || resource.eq_ignore_ascii_case(&format!("api://{client_id}"))
                || (!audience.is_empty() && resource.eq_ignore_ascii_case(audience.trim_end_matches('/'))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(scopes: &str) -> AadAuthConfig {
        let vars = [
            ("AAD_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
            ("AAD_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            ("AAD_SCOPES", scopes),
        ];
        AadAuthConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).unwrap()
    }

    #[test]
    fn which_scopes_name_this_api() {
        for scopes in [
            "11111111-2222-3333-4444-555555555555/.default",
            "api://11111111-2222-3333-4444-555555555555/user_impersonation openid",
        ] {
            assert!(scopes_name_this_api(&config(scopes)), "{scopes}");
        }
        for scopes in ["https://graph.microsoft.com/User.Read", "openid profile", "api://other/.default"] {
            assert!(!scopes_name_this_api(&config(scopes)), "{scopes}");
        }
    }
}
