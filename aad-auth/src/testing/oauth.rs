//! The machine side of the OAuth endpoints: the token endpoint (which authenticates the client
//! and hands the request to its grant), the device-code endpoint, CORS for single-page apps on
//! both, and instance discovery.
//!
//! Replies follow Entra field by field where clients depend on them (`docs/emulator.md` says which and why):
//! errors are `{error, error_description: "AADSTS...", error_codes, ...}` with HTTP 400, or 401
//! for `invalid_client`; a pending device code is HTTP 400 `authorization_pending`, never 429 or
//! 5xx and never with `Retry-After`.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::client_auth::identify_client;
use super::flows::{DEVICE_CODE_SECONDS, display_user_code};
use super::grants;
use super::proto::{
    OAuthError, TenantPath, fault_response, is_form, json_no_store, param, parse_params, resolve_tenant,
    tenant_not_found,
};
use super::registry::random_secret;
use super::scopes;
use super::uris::origin_matches;
use super::{Endpoint, Shared};
use crate::log_safe::clip;

/// Polling interval of the device flow; never 0 (msal would spin).
const DEVICE_INTERVAL_SECONDS: u64 = 5;

// ---------------------------------------------------------------------------------------------
// CORS

/// The request's `Origin` when it is the origin of a registered single-page-app redirect URI.
fn allowed_origin(req: &HttpRequest, shared: &Shared) -> Option<HeaderValue> {
    let origin = req.headers().get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    shared
        .apps
        .iter()
        .flat_map(|app| app.spa_redirect_uris.iter())
        .any(|pattern| origin_matches(pattern, text))
        .then(|| origin.clone())
}

fn with_cors(req: &HttpRequest, shared: &Shared, mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin(req, shared) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

/// `OPTIONS` on the token and device-code endpoints: allowed for registered SPA origins only.
pub(crate) async fn preflight(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let Some(origin) = allowed_origin(&req, &shared) else {
        return HttpResponse::Forbidden()
            .insert_header((header::VARY, "Origin"))
            .content_type("text/plain; charset=utf-8")
            .body("Origin not allowed: it is not the origin of a registered single-page-application redirect URI.");
    };
    let requested = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ',' | ' ')))
        .unwrap_or("content-type")
        .to_owned();
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .insert_header((header::VARY, "Origin"))
        .finish()
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    req: HttpRequest,
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let response = token_reply(&req, &shared, &path, &body).await;
    with_cors(&req, &shared, response)
}

async fn token_reply(req: &HttpRequest, shared: &web::Data<Shared>, tenant: &str, body: &[u8]) -> HttpResponse {
    if let Some(response) = fault_response(shared, Endpoint::Token).await {
        return response;
    }
    if resolve_tenant(shared, tenant).is_none() {
        return tenant_not_found(tenant);
    }
    if !is_form(req) {
        return OAuthError::invalid_request(
            900_144,
            "The request body must be application/x-www-form-urlencoded and contain the parameter 'grant_type'.",
        )
        .response();
    }
    let params = parse_params(body);
    let shared = shared.clone().into_inner();
    if param(&params, "resource").is_some() {
        let scope = param(&params, "scope").and_then(|scope| scopes::resolve(&shared, scope).ok());
        if let Err(error) = super::claims::check_resource(&params, scope.as_ref()) {
            return error.response();
        }
    }
    let result = match param(&params, "grant_type") {
        None => Err(OAuthError::missing("grant_type")),
        Some(grant) => match identify_client(req, &shared, &params).await {
            Err(error) => Err(error),
            Ok(client) => match grant {
                "authorization_code" => grants::authorization_code(req, &shared, &client, &params),
                "refresh_token" => grants::refresh_token(req, &shared, &client, &params),
                "client_credentials" => grants::client_credentials(&shared, &client, &params),
                "urn:ietf:params:oauth:grant-type:device_code" => grants::device_code(&shared, &client, &params),
                "urn:ietf:params:oauth:grant-type:jwt-bearer" => grants::on_behalf_of(&shared, &client, &params),
                other => Err(OAuthError::bad_request(
                    "unsupported_grant_type",
                    70_003,
                    format!("The app requested an unsupported grant type '{}'.", clip(other)),
                )),
            },
        },
    };
    match result {
        Ok(body) => json_no_store(actix_web::http::StatusCode::OK, &body),
        Err(error) => error.response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Device-code endpoint

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) async fn devicecode(
    req: HttpRequest,
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let response = devicecode_reply(&req, &shared, &path, &body).await;
    with_cors(&req, &shared, response)
}

async fn devicecode_reply(req: &HttpRequest, shared: &Shared, tenant: &str, body: &[u8]) -> HttpResponse {
    if let Some(response) = fault_response(shared, Endpoint::DeviceCode).await {
        return response;
    }
    if resolve_tenant(shared, tenant).is_none() {
        return tenant_not_found(tenant);
    }
    if !is_form(req) {
        return OAuthError::invalid_request(900_144, "The request body must be application/x-www-form-urlencoded.")
            .response();
    }
    let params = parse_params(body);
    let result = (|| {
        let client_id = param(&params, "client_id").ok_or_else(|| OAuthError::missing("client_id"))?;
        let app = shared.app(client_id).ok_or_else(|| {
            OAuthError::bad_request(
                "unauthorized_client",
                700_016,
                format!(
                    "Application with identifier '{}' was not found in the directory '{}'.",
                    clip(client_id),
                    shared.tenant_id
                ),
            )
        })?;
        let scope = param(&params, "scope").ok_or_else(|| OAuthError::missing("scope"))?;
        let request = scopes::resolve(shared, scope)?;
        super::claims::check_resource(&params, Some(&request))?;
        let acrs = super::claims::requested_acrs(&params)?;
        let device_code = format!("DAQABAAEAAA.emulator.{}", random_secret(48));
        let expires_at = shared.clock.unix_seconds().saturating_add(DEVICE_CODE_SECONDS);
        let user_code =
            shared.flows.insert_device(device_code.clone(), app.client_id.clone(), scope.to_owned(), acrs, expires_at);
        let shown = display_user_code(&user_code);
        let verification_uri = format!("{}/device", shared.base_url);
        Ok::<_, OAuthError>(json!({
            "user_code": shown,
            "device_code": device_code,
            "verification_uri": verification_uri,
            "expires_in": DEVICE_CODE_SECONDS,
            "interval": DEVICE_INTERVAL_SECONDS,
            "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {shown} to authenticate."),
        }))
    })();
    match result {
        Ok(body) => json_no_store(actix_web::http::StatusCode::OK, &body),
        Err(error) => error.response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Instance discovery

/// `GET /common/discovery/instance` (msal's instance discovery), answered from the tenant's own
/// host: msal drops the port from the `authorization_endpoint` it sends.
pub(crate) async fn instance_discovery(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    if let Some(response) = fault_response(&shared, Endpoint::InstanceDiscovery).await {
        return response;
    }
    let params = parse_params(req.query_string().as_bytes());
    let tenant = param(&params, "authorization_endpoint")
        .and_then(|endpoint| url::Url::parse(endpoint).ok())
        .and_then(|url| url.path_segments().and_then(|mut segments| segments.next().map(str::to_owned)))
        .filter(|segment| resolve_tenant(&shared, segment).is_some())
        .unwrap_or_else(|| shared.tenant_id.clone());
    let tenant = match resolve_tenant(&shared, &tenant) {
        Some(TenantPath::Own) => shared.tenant_id.clone(),
        _ => tenant,
    };
    let host = shared.base_url.split_once("://").map_or(shared.base_url.as_str(), |(_, host)| host).to_owned();
    let bare = host.rsplit_once(':').map_or(host.as_str(), |(bare, _)| bare).to_owned();
    HttpResponse::Ok().json(json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", shared.base_url),
        "api-version": "1.1",
        "metadata": [{ "preferred_network": host, "preferred_cache": host, "aliases": [host, bare] }],
    }))
}
