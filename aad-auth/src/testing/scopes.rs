//! Reading a `scope` parameter the way Entra's v2 endpoint does: OpenID scopes, then the scopes
//! of exactly one resource (`{app id}/.default`, `api://{app id}/{scope}`, or Microsoft Graph
//! for bare names such as `User.Read`).

use super::Shared;
use super::proto::OAuthError;
use super::registry::AppRegistration;
use crate::log_safe::clip;

/// The Microsoft Graph application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The OpenID Connect scopes, which name no resource.
const OIDC: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The resource a request is for.
#[derive(Debug, Clone)]
pub(crate) enum Resource {
    /// A registered app; `uri_form` when it was named by its `api://` Application ID URI.
    App { app: Box<AppRegistration>, uri_form: bool },
    /// Microsoft Graph (bare scopes, or none besides the OpenID ones).
    Graph,
}

impl Resource {
    /// The access token's `aud`: the client id in v2 tokens; in v1 tokens the resource as it
    /// was named.
    pub(crate) fn audience(&self) -> String {
        match self {
            Self::App { app, uri_form } if app.token_version == 1 && *uri_form => format!("api://{}", app.client_id),
            Self::App { app, .. } => app.client_id.clone(),
            Self::Graph => GRAPH_APP_ID.to_owned(),
        }
    }

    /// The access-token version the resource is issued (Graph: 1, as Entra does).
    pub(crate) fn token_version(&self) -> u8 {
        match self {
            Self::App { app, .. } => app.token_version,
            Self::Graph => 1,
        }
    }

    /// The client id of the resource app (Graph's well-known id for Graph).
    pub(crate) fn client_id(&self) -> &str {
        match self {
            Self::App { app, .. } => &app.client_id,
            Self::Graph => GRAPH_APP_ID,
        }
    }
}

/// A parsed `scope` parameter.
#[derive(Debug, Clone)]
pub(crate) struct ScopeRequest {
    /// The scopes as sent, in order, without duplicates.
    pub(crate) requested: Vec<String>,
    /// The resource the access token is for.
    pub(crate) resource: Resource,
    /// The `scp` of a delegated token (resource scopes without their prefix; for
    /// `{resource}/.default`, every scope the resource exposes). Empty for Graph's `.default`
    /// and for OpenID scopes alone: what those carry depends on consent (`consent.rs`).
    pub(crate) scp: Vec<String>,
    /// `{resource}/.default` was asked for.
    pub(crate) default: bool,
    /// Only OpenID scopes were asked for (Entra then issues a Graph token).
    pub(crate) oidc_only: bool,
}

impl ScopeRequest {
    /// Whether `name` (an OpenID scope) was requested.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.requested.iter().any(|s| s == name)
    }

    /// The `scope` of a token response: the scopes as requested, without `offline_access`.
    pub(crate) fn response_scope(&self) -> String {
        let kept: Vec<&str> =
            self.requested.iter().map(String::as_str).filter(|s| !s.eq_ignore_ascii_case("offline_access")).collect();
        kept.join(" ")
    }
}

fn invalid_scope(description: String) -> OAuthError {
    OAuthError::bad_request("invalid_scope", 70011, description)
}

/// Finds the resource named by `name` (`api://{id}`, `{id}`, Graph's URL or id).
fn find_resource(shared: &Shared, name: &str) -> Result<Resource, OAuthError> {
    let lower = name.to_ascii_lowercase();
    // The tenant serves Graph on its own origin too (`checkMemberGroups`), named as apps name a
    // national cloud's Graph: by its origin.
    if lower == "https://graph.microsoft.com"
        || lower == shared.base_url.to_ascii_lowercase()
        || lower == GRAPH_APP_ID
        || lower == "00000003-0000-0000-c000-000000000000"
    {
        return Ok(Resource::Graph);
    }
    let (id, uri_form) = match name.strip_prefix("api://") {
        Some(id) => (id, true),
        None => (name, false),
    };
    match shared.apps.iter().find(|app| app.client_id.eq_ignore_ascii_case(id)) {
        Some(app) => Ok(Resource::App { app: Box::new(app.clone()), uri_form }),
        None => Err(OAuthError::bad_request(
            "invalid_resource",
            500_011,
            format!(
                "The resource principal named {} was not found in the tenant named {}.",
                clip(name),
                shared.tenant_id
            ),
        )),
    }
}

/// The `scope` of an authorize request, which may name several resources: Entra asks the user
/// to consent to every one of them (MSAL's `extraScopesToConsent`), and the code's tokens are for
/// the first. Returns the scope of the code (the OpenID scopes and the first resource's) and the
/// other resources' scopes, one string per resource, in the order first named.
pub(crate) fn split_for_authorize(shared: &Shared, scope: &str) -> Result<(String, Vec<String>), OAuthError> {
    // Each item with its resource's client id (`None`: an OpenID scope, which goes with the code).
    let mut items: Vec<(&str, Option<String>)> = Vec::new();
    for item in scope.split_whitespace() {
        let resource = match item.rsplit_once('/') {
            _ if OIDC.iter().any(|o| o.eq_ignore_ascii_case(item)) => None,
            Some((resource_name, name)) if !resource_name.is_empty() && !name.is_empty() => {
                Some(find_resource(shared, resource_name)?.client_id().to_owned())
            }
            // Malformed: `resolve` says so.
            Some(_) => Some(String::new()),
            None => Some(GRAPH_APP_ID.to_owned()),
        };
        items.push((item, resource));
    }
    let first = items.iter().find_map(|(_, resource)| resource.clone());
    let code: Vec<&str> =
        items.iter().filter(|(_, resource)| resource.is_none() || *resource == first).map(|(item, _)| *item).collect();
    let mut others: Vec<(String, Vec<&str>)> = Vec::new();
    for (item, resource) in &items {
        let Some(resource) = resource.as_ref().filter(|resource| Some(*resource) != first.as_ref()) else { continue };
        match others.iter_mut().find(|(id, _)| id == resource) {
            Some((_, scopes)) => scopes.push(item),
            None => others.push((resource.clone(), vec![item])),
        }
    }
    Ok((code.join(" "), others.into_iter().map(|(_, scopes)| scopes.join(" ")).collect()))
}

/// Parses and checks `scope`.
pub(crate) fn resolve(shared: &Shared, scope: &str) -> Result<ScopeRequest, OAuthError> {
    let mut requested: Vec<String> = Vec::new();
    for item in scope.split_whitespace() {
        if !requested.iter().any(|s| s == item) {
            requested.push(item.to_owned());
        }
    }
    if requested.is_empty() {
        return Err(OAuthError::bad_request(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'scope'.".into(),
        ));
    }
    let mut resource: Option<(Resource, String)> = None;
    let mut scp: Vec<String> = Vec::new();
    let mut default = false;
    for item in &requested {
        if OIDC.iter().any(|o| o.eq_ignore_ascii_case(item)) {
            continue;
        }
        let (found, name, resource_name) = match item.rsplit_once('/') {
            Some((resource_name, name)) if !resource_name.is_empty() && !name.is_empty() => {
                (find_resource(shared, resource_name)?, name.to_owned(), resource_name.to_owned())
            }
            Some(_) => {
                return Err(invalid_scope(format!("The provided value for scope {} is not valid.", clip(item))));
            }
            None => (Resource::Graph, item.clone(), "https://graph.microsoft.com".to_owned()),
        };
        match &resource {
            Some((current, _)) if current.client_id() != found.client_id() => {
                return Err(invalid_scope(
                    "Provided value for the input parameter scope is not valid because it contains more than one \
                     resource. Scope {} is not valid."
                        .replace("{}", &clip(item)),
                ));
            }
            Some(_) => {}
            None => resource = Some((found.clone(), resource_name)),
        }
        if name == ".default" {
            default = true;
            continue;
        }
        if let Resource::App { app, .. } = &found
            && !app.exposed_scopes.iter().any(|exposed| exposed == &name)
        {
            return Err(invalid_scope(format!(
                "The application '{}' asked for scope '{}' that doesn't exist on the resource '{}'.",
                app.name,
                clip(&name),
                app.client_id
            )));
        }
        if !scp.contains(&name) {
            scp.push(name);
        }
    }
    if default && !scp.is_empty() {
        return Err(invalid_scope(
            "The scope .default cannot be combined with other scopes of the same resource.".into(),
        ));
    }
    let oidc_only = resource.is_none();
    // OpenID scopes only: Entra issues a Graph token.
    let resource = resource.map_or(Resource::Graph, |(resource, _)| resource);
    if default && let Resource::App { app, .. } = &resource {
        scp = app.exposed_scopes.clone();
    }
    Ok(ScopeRequest { requested, resource, scp, default, oidc_only })
}

#[cfg(test)]
mod tests {
    use super::{Resource, resolve};
    use crate::testing::Tenant;

    #[actix_web::test]
    async fn resolves_resources() {
        let tenant = Tenant::start().await;
        let shared = &tenant.shared;
        let api = tenant.api_app().client_id;

        let request = resolve(shared, &format!("{api}/.default openid profile offline_access")).unwrap_or_else(|e| {
            panic!("{e:?}");
        });
        assert!(matches!(&request.resource, Resource::App { app, uri_form: false } if app.client_id == api));
        assert_eq!(request.scp, vec!["user_impersonation".to_owned()]);
        assert_eq!(request.response_scope(), format!("{api}/.default openid profile"));

        let request = resolve(shared, &format!("api://{api}/user_impersonation")).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(request.resource, Resource::App { uri_form: true, .. }));

        assert!(matches!(resolve(shared, "openid profile").map(|r| r.resource), Ok(Resource::Graph)));
        assert!(matches!(resolve(shared, "User.Read").map(|r| r.resource), Ok(Resource::Graph)));
        let error = |scope: &str| resolve(shared, scope).err().map(|e| e.error);
        assert_eq!(error(&format!("api://{api}/nope")), Some("invalid_scope"));
        assert_eq!(error("api://unknown-app/.default"), Some("invalid_resource"));
        assert_eq!(error(&format!("{api}/.default User.Read")), Some("invalid_scope"));
        assert_eq!(error(&format!("{api}/.default {api}/user_impersonation")), Some("invalid_scope"));
        assert_eq!(error("  "), Some("invalid_request"));
    }
}
