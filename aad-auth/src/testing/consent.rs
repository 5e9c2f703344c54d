//! Consent to Microsoft Graph's delegated permissions, as Entra models it: per (user, client
//! app), given by signing in with the scopes in `scope`, or by an administrator for every user
//! ([`super::AppRegistration::admin_consent_graph_scope`]).
//!
//! What needs none: the OpenID scopes and the scopes of an app registered in the tenant (its own
//! API, `api://{id}/...`, `{id}/.default`; the emulator models no consent to an app's own API).
//! What needs it: Graph scopes named (`User.Read`, `https://graph.microsoft.com/User.Read`), and
//! Graph's `.default`, which asks for the app's configured Graph delegated permissions
//! ([`super::AppRegistration::graph_delegated_permissions`]). A token request for a Graph scope
//! nobody consented to is refused with AADSTS65001 and `suberror: consent_required`, as Entra
//! refuses a refresh-token or on-behalf-of request (Microsoft identity platform docs, "Error
//! codes" (65001 `DelegationDoesNotExist`) and "Handle errors and exceptions in MSAL"
//! (`suberror` values)).

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::Shared;
use super::proto::OAuthError;
use super::registry::AppRegistration;
use super::scopes::{Resource, ScopeRequest};

/// The OpenID scopes a Graph access token's `scp` lists when they were asked for.
const OIDC_SCP: [&str; 3] = ["openid", "profile", "email"];

/// Consent each user gave each client app: (user oid, client id) → Graph scopes.
#[derive(Debug, Default)]
pub(crate) struct Consents {
    granted: Mutex<HashMap<(String, String), Vec<String>>>,
}

impl Consents {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Vec<String>>> {
        self.granted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that `user_oid` consented to `scopes` (Graph's, bare names) for `client_id`.
    pub(crate) fn record(&self, user_oid: &str, client_id: &str, scopes: &[String]) {
        if scopes.is_empty() {
            return;
        }
        let mut granted = self.lock();
        let entry = granted.entry((user_oid.to_owned(), client_id.to_ascii_lowercase())).or_default();
        for scope in scopes {
            if !contains(entry, scope) {
                entry.push(scope.clone());
            }
        }
    }

    /// The Graph scopes `user_oid` consented to for `client_id`.
    pub(crate) fn granted(&self, user_oid: &str, client_id: &str) -> Vec<String> {
        self.lock().get(&(user_oid.to_owned(), client_id.to_ascii_lowercase())).cloned().unwrap_or_default()
    }

    /// Forgets what `user_oid` consented to for `client_id`.
    pub(crate) fn revoke(&self, user_oid: &str, client_id: &str) {
        self.lock().remove(&(user_oid.to_owned(), client_id.to_ascii_lowercase()));
    }
}

/// Graph scope names compare without case, as Entra compares them.
fn contains(list: &[String], scope: &str) -> bool {
    list.iter().any(|known| known.eq_ignore_ascii_case(scope))
}

/// The Graph delegated scopes `request` asks `app`'s user to have consented to.
fn required(app: &AppRegistration, request: &ScopeRequest) -> Vec<String> {
    match request.resource {
        Resource::Graph if request.oidc_only => Vec::new(),
        Resource::Graph if request.default => app.graph_delegated_permissions.clone(),
        Resource::Graph => request.scp.clone(),
        Resource::App { .. } => Vec::new(),
    }
}

/// What `user_oid` has for `app`: their own consent and the administrator's.
fn consented(shared: &Shared, user_oid: &str, app: &AppRegistration) -> Vec<String> {
    let mut all = shared.consents.granted(user_oid, &app.client_id);
    for scope in &app.admin_consented_graph_scopes {
        if !contains(&all, scope) {
            all.push(scope.clone());
        }
    }
    all
}

/// A sign-in with `request` (the authorize endpoint, the device page): the user consents to
/// what it asks for, as on Entra's consent screen.
pub(crate) fn record_sign_in(shared: &Shared, user_oid: &str, app: &AppRegistration, request: &ScopeRequest) {
    shared.consents.record(user_oid, &app.client_id, &required(app, request));
}

/// Whether a sign-in with `request` would show Entra's consent screen (`prompt=none` cannot).
pub(crate) fn needs_prompt(shared: &Shared, user_oid: &str, app: &AppRegistration, request: &ScopeRequest) -> bool {
    let have = consented(shared, user_oid, app);
    required(app, request).iter().any(|scope| !contains(&have, scope))
}

/// AADSTS65001, as Entra answers a token request for scopes without consent.
pub(crate) fn consent_required(app: &AppRegistration) -> OAuthError {
    OAuthError::invalid_grant(
        65_001,
        format!(
            "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an \
             interactive authorization request for this user and resource.",
            app.client_id, app.name
        ),
    )
    .with_suberror("consent_required")
}

/// The `scp` of a delegated token for `request`, issued to `app` for `user_oid`, once every
/// Graph scope it needs was consented to (else AADSTS65001). For Graph, `.default` and the
/// OpenID scopes alone carry every Graph scope consented to, as Entra's tokens do.
pub(crate) fn delegated_scp(
    shared: &Shared,
    user_oid: &str,
    app: &AppRegistration,
    request: &ScopeRequest,
) -> Result<Vec<String>, OAuthError> {
    let have = consented(shared, user_oid, app);
    let needed = required(app, request);
    if needed.iter().any(|scope| !contains(&have, scope)) {
        return Err(consent_required(app));
    }
    let mut scp = match request.resource {
        Resource::App { .. } => return Ok(request.scp.clone()),
        Resource::Graph if request.oidc_only => {
            OIDC_SCP.iter().filter(|name| request.has(name)).map(|name| (*name).to_owned()).collect()
        }
        Resource::Graph => needed,
    };
    if request.oidc_only || request.default {
        for scope in have {
            if !contains(&scp, &scope) {
                scp.push(scope);
            }
        }
    }
    Ok(scp)
}

#[cfg(test)]
mod tests {
    use super::{consent_required, delegated_scp, needs_prompt, record_sign_in};
    use crate::testing::scopes::resolve;
    use crate::testing::{AppRegistration, Tenant};

    #[actix_web::test]
    async fn graph_scopes_need_consent_the_apps_own_do_not() {
        let tenant =
            Tenant::builder().app(AppRegistration::dev_api().admin_consent_graph_scope("Mail.Read")).start().await;
        let shared = &tenant.shared;
        let api = tenant.api_app();
        let alice = tenant.users()[0].oid.clone();
        let request = |scope: &str| resolve(shared, scope).unwrap_or_else(|e| panic!("{scope}: {e:?}"));
        let scp = |scope: &str| delegated_scp(shared, &alice, &api, &request(scope)).map_err(|e| e.code);

        // The app's own API and the OpenID scopes: no consent.
        assert_eq!(scp(&format!("{}/.default offline_access", api.client_id)), Ok(vec!["user_impersonation".into()]));
        assert_eq!(scp("openid profile"), Ok(vec!["openid".into(), "profile".into(), "Mail.Read".into()]));
        // Admin consent covers Mail.Read; User.Read (configured) and Files.Read need the user's.
        assert_eq!(scp("Mail.Read"), Ok(vec!["Mail.Read".into()]));
        assert_eq!(scp("https://graph.microsoft.com/Mail.Read"), Ok(vec!["Mail.Read".into()]));
        assert_eq!(scp("User.Read"), Err(65_001));
        assert_eq!(scp("https://graph.microsoft.com/.default"), Err(65_001));
        assert!(needs_prompt(shared, &alice, &api, &request("User.Read")));

        record_sign_in(shared, &alice, &api, &request("openid user.read offline_access"));
        assert!(!needs_prompt(shared, &alice, &api, &request("User.Read")));
        assert_eq!(scp("User.Read"), Ok(vec!["User.Read".into()]));
        assert_eq!(scp("https://graph.microsoft.com/.default"), Ok(vec!["User.Read".into(), "Mail.Read".into()]));
        assert_eq!(scp("Files.Read"), Err(65_001));
        // Per user and per app.
        let bob = tenant.users()[1].oid.clone();
        assert_eq!(delegated_scp(shared, &bob, &api, &request("User.Read")).map_err(|e| e.code), Err(65_001));
        let public = tenant.public_app();
        assert_eq!(delegated_scp(shared, &alice, &public, &request("User.Read")).map_err(|e| e.code), Err(65_001));
        tenant.revoke_consent(&tenant.users()[0], &api.client_id);
        assert_eq!(scp("User.Read"), Err(65_001));

        let error = consent_required(&api);
        assert_eq!((error.error, error.suberror()), ("invalid_grant", Some("consent_required")));
        assert!(error.description.starts_with(&format!(
            "The user or administrator has not consented to use the application with ID '{}' named 'Dev API'.",
            api.client_id
        )));
    }
}
