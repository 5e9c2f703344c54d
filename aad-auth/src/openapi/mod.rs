//! OpenAPI: the OAuth2 (authorization code + PKCE) and bearer security schemes, each guarded
//! operation's requirement taken from its guard, and the docs: `/openapi.json`, Swagger UI at
//! `/docs` (PKCE login, redirect page at `/docs/oauth2-redirect`) and ReDoc at `/redoc`, all
//! bundled (no CDN).
//!
//! The requirements come from the same [`Policy`] the runtime enforces: the guard macros register
//! each handler's policy, and [`AadAuthSecurity`] writes it into the operation whose
//! `operation_id` is the handler's name (utoipa's default), so the spec cannot drift from the
//! checks. [`guard_coverage`] lists operations where that link is missing or ambiguous.

pub(crate) mod docs;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(crate) use docs::Docs;
use serde_json::json;
use utoipa::Modify;
use utoipa::openapi::security::{
    AuthorizationCode, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{OpenApi, PathItem, ResponseBuilder};

use crate::config::AadAuthConfig;
use crate::policy::{GuardKind, GuardRegistration, Policy, guard_registrations};

/// Name of the OAuth2 authorization-code scheme (Swagger's "Authorize" with PKCE).
pub const OAUTH2_SCHEME: &str = "entra_id";
/// Name of the HTTP bearer scheme (paste a token, for example from `/me/token`).
pub const BEARER_SCHEME: &str = "bearer";

/// A [`utoipa::Modify`] that adds the security schemes, to every operation guarded by
/// `#[api_auth_required]`/`#[auth_required]` the requirement of its guard (and, with
/// `auth_context(..)`, a note in its description), and the protected-resource metadata route
/// (RFC 9728) that [`crate::AadAuth::configure`] mounts.
///
/// [`crate::AadAuthBuilder::openapi`] applies it for you; use it directly with
/// `#[openapi(modifiers(...))]` only when serving the document yourself.
#[derive(Debug, Clone)]
pub struct AadAuthSecurity {
    authorize_url: String,
    token_url: String,
    login_scopes: Vec<String>,
    api_audience: String,
    /// Where `AadAuth::configure` serves the protected-resource metadata.
    metadata_path: String,
}

impl AadAuthSecurity {
    /// The schemes for this configuration's authority and scopes.
    pub fn from_config(config: &AadAuthConfig) -> Self {
        let authority = config.authority();
        Self {
            authorize_url: format!("{authority}/oauth2/v2.0/authorize"),
            token_url: format!("{authority}/oauth2/v2.0/token"),
            login_scopes: config.scopes().to_vec(),
            api_audience: config.api_audience().to_owned(),
            metadata_path: crate::protected_resource::location::route_path(config),
        }
    }

    /// The full scope value a token request names for a guard's short scope
    /// (`user_impersonation` → `api://{client id}/user_impersonation`).
    fn scope_uri(&self, scope: &str) -> String {
        if scope.contains('/') {
            scope.to_owned()
        } else {
            format!("{}/{scope}", self.api_audience.trim_end_matches('/'))
        }
    }
}

impl Modify for AadAuthSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let registrations = registrations_by_handler();
        let mut scopes: BTreeMap<String, String> =
            self.login_scopes.iter().map(|s| (s.clone(), "Sign in and call this API".to_owned())).collect();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                let Some(policy) = operation.operation_id.as_deref().and_then(|id| unique_policy(&registrations, id))
                else {
                    continue;
                };
                let required: Vec<String> = policy.required_scopes().iter().map(|s| self.scope_uri(s)).collect();
                for scope in &required {
                    scopes.entry(scope.clone()).or_insert_with(|| "Required by some operations".to_owned());
                }
                operation.security = Some(vec![
                    SecurityRequirement::new(OAUTH2_SCHEME, required),
                    SecurityRequirement::new(BEARER_SCHEME, Vec::<String>::new()),
                ]);
                let mut extension = json!({
                    "kind": match policy.kind() { GuardKind::Api => "api", GuardKind::Page => "page" },
                    "allow_session": policy.allows_session(),
                    "scopes": policy.required_scopes(),
                    "roles": policy.required_roles(),
                    "groups": policy.required_groups(),
                });
                if !policy.required_auth_context().is_empty() {
                    if let Some(fields) = extension.as_object_mut() {
                        fields.insert("auth_context".into(), json!(policy.required_auth_context()));
                    }
                    let note = auth_context_note(policy.required_auth_context());
                    operation.description = Some(match operation.description.take() {
                        Some(text) if !text.is_empty() => format!("{text}\n\n{note}"),
                        _ => note,
                    });
                }
                let extensions = operation.extensions.get_or_insert_with(Default::default);
                extensions.insert("x-aad-auth".into(), extension);
                for (status, description) in [
                    ("401", "No valid credentials (RFC 6750 `WWW-Authenticate: Bearer` challenge)"),
                    ("403", "Authenticated, but without a required scope, role or group (`insufficient_scope`)"),
                ] {
                    operation
                        .responses
                        .responses
                        .entry(status.into())
                        .or_insert_with(|| ResponseBuilder::new().description(description).build().into());
                }
            }
        }
        add_metadata_path(openapi, &self.metadata_path);
        let components = openapi.components.get_or_insert_with(Default::default);
        let flow = AuthorizationCode::new(&self.authorize_url, &self.token_url, Scopes::from_iter(scopes));
        components
            .add_security_scheme(OAUTH2_SCHEME, SecurityScheme::OAuth2(OAuth2::new([Flow::AuthorizationCode(flow)])));
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// What an operation with `auth_context(..)` says in its description.
fn auth_context_note(ids: &[String]) -> String {
    let names = ids.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(" or ");
    format!(
        "Requires a sign-in that satisfied the Conditional Access authentication context {names} (the token's \
         `acrs` claim). Without it: 401 with `WWW-Authenticate: Bearer error=\"insufficient_claims\", \
         claims=\"...\"`; ask Entra for a new token with those claims (msal: `claims_challenge`) and retry."
    )
}

/// Adds the protected-resource metadata route (RFC 9728) to the document, at `path`.
fn add_metadata_path(openapi: &mut OpenApi, path: &str) {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    let operation = OperationBuilder::new()
        .operation_id(Some("oauth_protected_resource"))
        .summary(Some("Protected-resource metadata (RFC 9728)"))
        .description(Some(
            "How to get a token for this API: `resource`, `authorization_servers` (the Entra tenant's issuer; read \
             its OpenID discovery), `scopes_supported`, `bearer_methods_supported`. Every 401 names this URL in \
             `resource_metadata`. Public: no credentials, any origin.",
        ))
        .tag("aad-auth")
        .response("200", ResponseBuilder::new().description("The metadata document (JSON)").build())
        .build();
    openapi.paths.paths.insert(path.to_owned(), PathItem::new(HttpMethod::Get, operation));
}

fn registrations_by_handler() -> HashMap<&'static str, Vec<&'static GuardRegistration>> {
    let mut map: HashMap<&'static str, Vec<&'static GuardRegistration>> = HashMap::new();
    for registration in guard_registrations() {
        map.entry(registration.handler).or_default().push(registration);
    }
    map
}

/// The policy of the guarded handler named `id`, when exactly one policy goes by that name.
fn unique_policy(
    registrations: &HashMap<&'static str, Vec<&'static GuardRegistration>>,
    id: &str,
) -> Option<&'static Policy> {
    let found = registrations.get(id)?;
    let first = (found.first()?.policy)();
    if found.iter().all(|r| (r.policy)() == first) {
        Some(first)
    } else {
        tracing::warn!(operation = %id, "several guarded handlers share this name with different policies; its OpenAPI requirement is left out");
        None
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Where the document and the runtime guards may disagree, one line each:
///
/// * an operation that declares a security requirement but whose handler has no guard
///   (documented as protected, open at runtime);
/// * an operation id shared by guarded handlers with different policies (ambiguous).
///
/// An empty list means every documented requirement is enforced. Operations are matched to
/// guards by `operation_id` = handler name (utoipa's default); a guarded handler documented under
/// a custom `operation_id` is not linked, gets no requirement, and is not listed here either
/// (nothing in the document names it), so keep the default id on guarded handlers. Use it in a
/// test:
///
/// ```
/// # use utoipa::OpenApi;
/// #[derive(utoipa::OpenApi)]
/// #[openapi()]
/// struct ApiDoc;
/// assert!(aad_auth::openapi::guard_coverage(&ApiDoc::openapi()).is_empty());
/// ```
pub fn guard_coverage(openapi: &OpenApi) -> Vec<String> {
    let registrations = registrations_by_handler();
    let mut problems = BTreeSet::new();
    let mut paths = openapi.paths.paths.clone();
    for (path, item) in &mut paths {
        for operation in operations_mut(item) {
            let id = operation.operation_id.clone().unwrap_or_default();
            match registrations.get(id.as_str()) {
                Some(found) if found.iter().any(|r| (r.policy)() != (found[0].policy)()) => {
                    problems.insert(format!(
                        "{path} ({id}): several guarded handlers share this name with different policies"
                    ));
                }
                Some(_) => {}
                None if operation.security.as_ref().is_some_and(|s| !s.is_empty()) => {
                    problems.insert(format!("{path} ({id}): documented with a security requirement but not guarded"));
                }
                None => {}
            }
        }
    }
    problems.into_iter().collect()
}
