//! The protected-resource metadata (RFC 9728), what MCP clients and other generic OAuth clients
//! read to find out how to get a token for this API: a client that gets a 401 takes
//! `resource_metadata` from the `WWW-Authenticate` challenge, fetches this document, reads the
//! authorization server's OpenID discovery and signs in there with the scopes listed.
//!
//! `GET {origin}/.well-known/oauth-protected-resource{path}` (`location` says which path):
//!
//! * `resource`: `AAD_RESOURCE_URL`, else the public base URL; exactly the identifier the
//!   metadata URL was built from (§3.3);
//! * `authorization_servers`: the tenant's v2 issuer (the discovery document's); multi-tenant:
//!   `{host}/organizations/v2.0` or `{host}/common/v2.0`, whose discovery clients can read
//!   (its `issuer` is Entra's `{tenantid}` template, which no client can match: Entra's, not
//!   ours);
//! * `scopes_supported`: this API's scopes in full (`api://{client id}/user_impersonation`):
//!   those `AAD_SCOPES` names for this API, then those the guards require;
//! * `bearer_methods_supported: ["header"]` (the guards refuse tokens in the query or body);
//! * `resource_name` (`APP_NAME`) and `resource_documentation` (Swagger UI, when mounted).
//!
//! A public document: any origin may read it (no credentials), and caches may keep it an hour.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

pub(crate) mod location;

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use crate::config::AadAuthConfig;
use crate::keys::KeyStore;
use crate::policy::guard_registrations;

/// How long clients and caches may keep the document.
const MAX_AGE_SECONDS: u32 = 3600;

/// What the metadata route needs, built once by the composition root.
pub(crate) struct ProtectedResource {
    config: Arc<AadAuthConfig>,
    keys: KeyStore,
    scopes: Vec<String>,
    /// The docs route (Swagger UI) when the docs are mounted.
    documentation: Option<&'static str>,
}

impl std::fmt::Debug for ProtectedResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtectedResource").field("scopes", &self.scopes).finish_non_exhaustive()
    }
}

impl ProtectedResource {
    /// `documentation`: the path of the API documentation, when mounted.
    pub(crate) fn new(config: Arc<AadAuthConfig>, keys: KeyStore, documentation: Option<&'static str>) -> Self {
        let scopes = scopes_supported(&config, guard_registrations().flat_map(|r| (r.policy)().required_scopes()));
        Self { config, keys, scopes, documentation }
    }

    /// The path the document is served at.
    pub(crate) fn route_path(&self) -> String {
        location::route_path(&self.config)
    }

    /// The document for this request, and whether it may be cached (not while the
    /// authorization server could not be named from discovery yet).
    async fn document(&self, req: &HttpRequest) -> (Value, bool) {
        let config = &self.config;
        let (issuer, settled) = self.authorization_server().await;
        let mut document = Map::new();
        document.insert("resource".into(), json!(location::resource(config, req)));
        document.insert("authorization_servers".into(), json!([issuer]));
        document.insert("scopes_supported".into(), json!(self.scopes));
        document.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some(name) = &config.ui().app_name {
            document.insert("resource_name".into(), json!(name));
        }
        if let Some(path) = self.documentation {
            let base = crate::public_origin::public_base(config, req);
            document.insert("resource_documentation".into(), json!(format!("{base}{path}")));
        }
        (Value::Object(document), settled)
    }

    /// The issuer clients sign in with, and whether it is final (false: discovery has not
    /// answered yet and the issuer is derived from the configuration).
    async fn authorization_server(&self) -> (String, bool) {
        let config = &self.config;
        let tenant = config.tenant();
        if tenant.is_multi_tenant() {
            return (format!("{}/{}/v2.0", config.authority_host(), tenant.as_path_segment()), true);
        }
        // A domain tenant's issuer names the tenant's GUID, which only discovery knows.
        if self.keys.ensure_loaded().await
            && let Some(metadata) = self.keys.metadata()
        {
            return (metadata.issuer.clone(), true);
        }
        (format!("{}/v2.0", config.authority()), false)
    }
}

/// `AAD_SCOPES` entries that name this API, then the guards' scopes, each in full form
/// (`{audience}/{scope}`), without duplicates.
fn scopes_supported<'a>(config: &AadAuthConfig, guard_scopes: impl Iterator<Item = &'a String>) -> Vec<String> {
    let client_id = config.client_id();
    let audience = match config.api_audience().trim_end_matches('/') {
        "" => format!("api://{client_id}"),
        audience => audience.to_owned(),
    };
    let mut scopes: Vec<String> = Vec::new();
    let mut add = |scope: String| {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    };
    for scope in config.scopes() {
        let Some((resource, name)) = scope.rsplit_once('/') else { continue };
        if resource.eq_ignore_ascii_case(client_id)
            || resource.eq_ignore_ascii_case(&format!("api://{client_id}"))
            || resource.eq_ignore_ascii_case(&audience)
        {
            add(format!("{audience}/{name}"));
        }
    }
    let mut guards: Vec<&String> = guard_scopes.collect();
    guards.sort();
    for scope in guards {
        add(if scope.contains('/') { scope.clone() } else { format!("{audience}/{scope}") });
    }
    scopes
}

/// Mounts the metadata route (and its CORS preflight).
pub(crate) fn configure(cfg: &mut ServiceConfig, resource: &ProtectedResource) {
    cfg.service(
        web::resource(resource.route_path())
            .route(web::get().to(metadata))
            .route(web::head().to(metadata))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    );
}

async fn metadata(req: HttpRequest, resource: web::Data<ProtectedResource>) -> HttpResponse {
    let (document, settled) = resource.document(&req).await;
    let cache = if settled { format!("public, max-age={MAX_AGE_SECONDS}") } else { "no-store".to_owned() };
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, cache)).insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    if resource.config.fixed_public_base().is_none() && resource.config.resource_url().is_none() {
        // The document names the request's own origin.
        response.insert_header((header::VARY, "Host, Forwarded, X-Forwarded-Host, X-Forwarded-Proto"));
    }
    response.json(document)
}

/// A browser-based client (an MCP inspector, say) may send headers of its own: any origin may
/// read the document, without credentials.
async fn preflight(req: HttpRequest) -> HttpResponse {
    let requested = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.len() <= 512 && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_, ".contains(c)))
        .unwrap_or("")
        .to_owned();
    let mut response = HttpResponse::NoContent();
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"));
    if !requested.is_empty() {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested));
    }
    response.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_this_apis_in_full() {
        let vars = [
            ("AAD_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
            ("AAD_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            (
                "AAD_SCOPES",
                "11111111-2222-3333-4444-555555555555/.default,https://graph.microsoft.com/User.Read,openid",
            ),
        ];
        let config =
            AadAuthConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
                .unwrap();
        let guards = ["user_impersonation".to_owned(), "api://other/x".to_owned(), "user_impersonation".to_owned()];
        assert_eq!(
            scopes_supported(&config, guards.iter()),
            [
                "api://11111111-2222-3333-4444-555555555555/.default",
                "api://other/x",
                "api://11111111-2222-3333-4444-555555555555/user_impersonation",
            ]
        );
    }
}
