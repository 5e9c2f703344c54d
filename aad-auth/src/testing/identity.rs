//! The App Service / Container Apps managed identity endpoint, on the tenant's origin
//! (`GET /msi/token?resource=api://AzureADTokenExchange&api-version=2019-08-01` with
//! `X-IDENTITY-HEADER`): a token for `api://AzureADTokenExchange` whose `iss` is the tenant's
//! and whose `sub` and `oid` are the identity's object id, which an app registration trusts as
//! a federated credential, as a user-assigned managed identity is used in Azure.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::keys::SigningAlg;
use super::proto::{fault_response, parse_params};
use super::registry::random_guid;
use super::{Endpoint, Shared};
use crate::credential::TOKEN_EXCHANGE_AUDIENCE;

/// Lifetime of a managed identity's token (Azure's last about a day; an hour here).
const TOKEN_SECONDS: i64 = 3600;

/// A managed identity the tenant serves tokens for ([`super::TenantBuilder::managed_identity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestManagedIdentity {
    /// Its object id: the `sub` and `oid` of its tokens, the subject of a federated credential
    /// that trusts it.
    pub object_id: String,
    /// Its client id (`client_id` selects it, as for a user-assigned identity).
    pub client_id: String,
    /// The secret the endpoint expects in `X-IDENTITY-HEADER` (`IDENTITY_HEADER`).
    pub header: String,
}

impl TestManagedIdentity {
    /// An identity with fresh ids, answering requests that carry `header`.
    pub fn new(header: impl Into<String>) -> Self {
        Self { object_id: random_guid(), client_id: random_guid(), header: header.into() }
    }
}

fn error(status: u16, code: &str, description: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .json(json!({ "statusCode": status, "error": code, "error_description": description }))
}

/// `GET /msi/token`.
pub(crate) async fn token(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    if let Some(response) = fault_response(&shared, Endpoint::ManagedIdentity).await {
        return response;
    }
    let Some(identity) = &shared.managed_identity else {
        return error(404, "not_found", "No managed identity is enabled on this app.");
    };
    // App Service: no header is a bad request, a wrong one is unauthorized.
    let Some(presented) = req.headers().get("x-identity-header") else {
        return error(400, "invalid_request", "Required metadata header not specified: X-IDENTITY-HEADER.");
    };
    if aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), identity.header.as_bytes()).is_err() {
        return error(401, "unauthorized", "The X-IDENTITY-HEADER is not valid.");
    }
    let params = parse_params(req.query_string().as_bytes());
    let get = |name: &str| params.get(name).map(String::as_str);
    if get("api-version") != Some("2019-08-01") {
        return error(400, "invalid_request", "api-version must be 2019-08-01.");
    }
    if get("resource") != Some(TOKEN_EXCHANGE_AUDIENCE) {
        return error(
            400,
            "invalid_resource",
            "The local tenant issues managed identity tokens only for api://AzureADTokenExchange.",
        );
    }
    if get("client_id").is_some_and(|client_id| client_id != identity.client_id)
        || get("object_id").is_some_and(|object_id| object_id != identity.object_id)
    {
        return error(400, "invalid_request", "No identity with this client_id or object_id is assigned to the app.");
    }
    let now = shared.clock.unix_seconds();
    let expires_on = now.saturating_add(TOKEN_SECONDS);
    let tid = &shared.tenant_id;
    let claims = json!({
        "aud": TOKEN_EXCHANGE_AUDIENCE,
        "iss": shared.v2_issuer(tid),
        "iat": now, "nbf": now, "exp": expires_on,
        "sub": identity.object_id,
        "oid": identity.object_id,
        "tid": tid,
        "azp": identity.client_id,
        "appid": identity.client_id,
        "idtyp": "app",
        "jti": random_guid(),
        "ver": "2.0",
    });
    let key = shared.active_key();
    let header = json!({ "typ": "JWT", "alg": "RS256", "kid": key.kid(), "x5t": key.kid() });
    let access_token = key.sign_compact(&header, &claims, &SigningAlg::Rs256);
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "expires_on": expires_on.to_string(),
        "resource": TOKEN_EXCHANGE_AUDIENCE,
        "token_type": "Bearer",
        "client_id": identity.client_id,
    }))
}
