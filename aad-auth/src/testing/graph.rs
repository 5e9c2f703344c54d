//! Microsoft Graph's `POST /v1.0/users/{oid}/checkMemberGroups`, served on the tenant's own
//! origin, as an app resolving a groups overage calls it, and `GET /v1.0/me`, as an app calling
//! Graph for its signed-in user does.
//!
//! As Graph does: the caller's token must be a Graph token of this tenant, signed by it and in
//! its lifetime (else 401 `InvalidAuthenticationToken`). `/me` needs a delegated token (an
//! app-only one is 400 `BadRequest`) whose `scp` has `User.Read` or a broader permission (else
//! 403 `Authorization_RequestDenied`), and answers the user's profile in Graph's shape.
//! `checkMemberGroups` needs one app-only and carrying the application
//! permissions Graph lists for the call, `User.Read.All` with `GroupMember.Read.All` (or
//! `Group.Read.All`), or `Directory.Read.All` (else 403 `Authorization_RequestDenied`); the body
//! is `{"groupIds": [..]}` with at most 20 ids (else 400 `Request_BadRequest`); an unknown user
//! is 404 `Request_ResourceNotFound`; the answer is `{"value": [..]}`, the ids of the request
//! the user is in. Errors have Graph's shape, `{"error": {"code", "message", "innerError"}}`.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::registry::{TestUser, random_guid};
use super::scopes::GRAPH_APP_ID;
use super::{Endpoint, Fault, Shared};

/// Graph checks at most this many groups per call.
const MAX_GROUP_IDS: usize = 20;

/// A Graph-shaped error.
fn graph_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": { "request-id": random_guid(), "client-request-id": random_guid() },
        }
    }))
}

/// Graph's answer for a user id it does not know.
fn user_not_found(oid: &str) -> HttpResponse {
    let shown = crate::log_safe::clip(oid);
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{shown}' does not exist or one of its queried reference-property objects are not present."),
    )
}

/// The configured fault of a Graph endpoint, in Graph's words; `None`: answer normally.
async fn fault(shared: &Shared, endpoint: Endpoint) -> Option<HttpResponse> {
    match shared.fault(endpoint)? {
        Fault::Status(status) => {
            Some(graph_error(status, "serviceNotAvailable", "The service is temporarily unavailable."))
        }
        Fault::Throttled(wait) => {
            let mut response = graph_error(429, "TooManyRequests", "Too many requests.");
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(wait.as_secs()));
            Some(response)
        }
        Fault::Garbage => Some(HttpResponse::Ok().content_type("application/json").body("<html>not json{")),
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            None
        }
        Fault::EmptyKeys | Fault::PartialKeys | Fault::PartialKeysOnce => None,
    }
}

/// The claims of a token this tenant signed (RS256, a published key), or `None`.
fn signed_claims(shared: &Shared, token: &str) -> Option<Map<String, Value>> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return None;
    }
    let kid = header.kid?;
    let key = shared.published_keys().into_iter().find(|key| key.kid() == kid)?;
    let jwk = key.jwk(None);
    let component = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(&component("n"), &component("e")).ok()?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // Times are checked against the tenant's clock below.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &validation).ok().map(|data| data.claims)
}

/// Whether these application permissions let an app call `checkMemberGroups` for any user.
fn permitted(roles: &[&str]) -> bool {
    let has = |name: &str| roles.contains(&name);
    has("Directory.Read.All") || (has("User.Read.All") && (has("GroupMember.Read.All") || has("Group.Read.All")))
}

/// Why Graph refuses a caller: the status, Graph's error code and message.
type Refusal = (u16, &'static str, &'static str);

/// Checks the caller's token as Graph does for every call: a Graph token of this tenant, signed
/// by it, in its lifetime. Returns its claims.
fn graph_token(req: &HttpRequest, shared: &Shared) -> Result<Map<String, Value>, Refusal> {
    let invalid = |message: &'static str| (401, "InvalidAuthenticationToken", message);
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| invalid("Access token is empty."))?;
    let claims = signed_claims(shared, token).ok_or_else(|| invalid("Access token validation failure."))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let now = shared.clock.unix_seconds();
    if claims.get("exp").and_then(Value::as_i64).is_none_or(|exp| exp <= now) {
        return Err(invalid("Lifetime validation failed, the token is expired."));
    }
    let audience = text("aud").trim_end_matches('/');
    let graph_audiences = [GRAPH_APP_ID, "https://graph.microsoft.com", shared.base_url.as_str()];
    if !graph_audiences.iter().any(|graph| graph.eq_ignore_ascii_case(audience)) {
        return Err(invalid("Access token validation failure. Invalid audience."));
    }
    if text("tid") != shared.tenant_id {
        return Err(invalid("Access token validation failure. Invalid issuer."));
    }
    Ok(claims)
}

/// Whether the token is app-only (client credentials), as Graph tells: `idtyp: app`, or no `scp`.
fn is_app_only(claims: &Map<String, Value>) -> bool {
    claims.get("idtyp").and_then(Value::as_str) == Some("app") || claims.get("scp").is_none()
}

/// `checkMemberGroups`: an app-only token with the application permissions it needs.
fn authorize(req: &HttpRequest, shared: &Shared) -> Result<(), Refusal> {
    let claims = graph_token(req, shared)?;
    let roles: Vec<&str> = claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| roles.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !is_app_only(&claims) || !permitted(&roles) {
        return Err((403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."));
    }
    Ok(())
}

/// `POST /v1.0/users/{oid}/checkMemberGroups`.
pub(crate) async fn check_member_groups(
    req: HttpRequest,
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    shared.count(Endpoint::Graph);
    if let Some(response) = fault(&shared, Endpoint::Graph).await {
        return response;
    }
    if let Err((status, code, message)) = authorize(&req, &shared) {
        return graph_error(status, code, message);
    }
    let ids: Option<Vec<String>> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body.get("groupIds").cloned())
        .and_then(|ids| serde_json::from_value(ids).ok());
    let Some(ids) = ids else {
        return graph_error(
            400,
            "Request_BadRequest",
            "A value for the parameter 'groupIds' is required (an array of strings).",
        );
    };
    if ids.len() > MAX_GROUP_IDS {
        return graph_error(
            400,
            "Request_BadRequest",
            "The value of the parameter 'groupIds' exceeds the limit of 20 group ids per request.",
        );
    }
    let oid = path.into_inner();
    let Some(user) = shared.users.iter().find(|user| user.oid.eq_ignore_ascii_case(&oid)) else {
        return user_not_found(&oid);
    };
    let value: Vec<&String> =
        ids.iter().filter(|id| user.groups.iter().any(|group| group.eq_ignore_ascii_case(id))).collect();
    HttpResponse::Ok().json(json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
        "value": value,
    }))
}

/// The delegated permissions Graph lists for `GET /me` (the least privileged first).
const ME_SCOPES: [&str; 7] = [
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// `GET /me`: a delegated token with one of [`ME_SCOPES`] in `scp`. Returns the user's oid.
fn authorize_me(req: &HttpRequest, shared: &Shared) -> Result<String, Refusal> {
    let claims = graph_token(req, shared)?;
    if is_app_only(&claims) {
        return Err((400, "BadRequest", "/me request is only valid with delegated authentication flow."));
    }
    let scp = claims.get("scp").and_then(Value::as_str).unwrap_or_default();
    if !scp.split(' ').any(|scope| ME_SCOPES.iter().any(|me| me.eq_ignore_ascii_case(scope))) {
        return Err((403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."));
    }
    Ok(claims.get("oid").and_then(Value::as_str).unwrap_or_default().to_owned())
}

/// `GET /v1.0/me`: the signed-in user, in Graph's default selection of properties.
pub(crate) async fn me(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    shared.count(Endpoint::GraphMe);
    if let Some(response) = fault(&shared, Endpoint::GraphMe).await {
        return response;
    }
    let oid = match authorize_me(&req, &shared) {
        Ok(oid) => oid,
        Err((status, code, message)) => return graph_error(status, code, message),
    };
    let Some(user) = shared.users.iter().find(|user| user.oid.eq_ignore_ascii_case(&oid)) else {
        return user_not_found(&oid);
    };
    HttpResponse::Ok().json(user_json(user, &shared.domain))
}

/// A user as Graph returns one: a guest's `userPrincipalName` is `{mail with _ for @}#EXT#@{domain}`.
fn user_json(user: &TestUser, domain: &str) -> Value {
    let (given_name, surname) = match user.name.split_once(' ') {
        Some((given, family)) => (Some(given), Some(family)),
        None => (Some(user.name.as_str()), None),
    };
    let upn =
        if user.guest { format!("{}#EXT#@{domain}", user.username.replace('@', "_")) } else { user.username.clone() };
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": user.name,
        "givenName": given_name,
        "jobTitle": user.job_title,
        "mail": user.username,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": surname,
        "userPrincipalName": upn,
        "id": user.oid,
    })
}

#[cfg(test)]
mod tests {
    use super::user_json;
    use crate::testing::TestUser;

    #[test]
    fn users_in_graphs_shape() {
        let member = TestUser::member("ann@contoso.example", "Ann Lee Smith").job_title("Engineer");
        let json = user_json(&member, "contoso.example");
        assert_eq!(json["givenName"], "Ann");
        assert_eq!(json["surname"], "Lee Smith");
        assert_eq!(json["jobTitle"], "Engineer");
        assert_eq!(json["userPrincipalName"], "ann@contoso.example");
        assert_eq!(json["id"], member.oid.as_str());
        let guest = TestUser::guest("carol@fabrikam.example", "Carol");
        let json = user_json(&guest, "contoso.example");
        assert_eq!(json["userPrincipalName"], "carol_fabrikam.example#EXT#@contoso.example");
        assert_eq!(json["mail"], "carol@fabrikam.example");
        assert_eq!((json["surname"].is_null(), json["jobTitle"].is_null()), (true, true));
    }
}
