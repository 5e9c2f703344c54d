//! The grants of the token endpoint (authorization code + PKCE, refresh token, client
//! credentials, device code, on-behalf-of) and the token replies they build.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use serde_json::{Map, Value, json};

use super::Shared;
use super::client_auth::Client;
use super::consent;
use super::flows::{Poll, REFRESH_SECONDS, Redeem, RefreshGrant, SPA_REFRESH_SECONDS};
use super::proto::{OAuthError, Params, param};
use super::registry::{TestUser, random_secret};
use super::scopes::{self, ScopeRequest};
use super::token::{ACCESS_TOKEN_SECONDS, TokenBuilder};
use crate::log_safe::clip;

fn user_by_oid<'a>(shared: &'a Shared, oid: &str) -> Result<&'a TestUser, OAuthError> {
    shared
        .users
        .iter()
        .find(|user| user.oid == oid)
        .ok_or_else(|| OAuthError::invalid_grant(50_034, "The user account does not exist in the directory."))
}

/// What a user-flow reply carries besides the access token.
struct UserReply<'a> {
    nonce: Option<&'a str>,
    /// Authentication contexts for the access token's `acrs`.
    acrs: &'a [String],
    id_token: bool,
    refresh: Option<RefreshGrant>,
}

/// The reply of every user flow: `access_token` for the resource, and as asked `id_token`
/// (`aud` = the client), `refresh_token` (stored for the refresh grant), `client_info`.
/// Refused (AADSTS65001) when the access token would carry Graph scopes the user did not
/// consent to for this client.
fn user_tokens(
    shared: &Arc<Shared>,
    user: &TestUser,
    client: &Client,
    request: &ScopeRequest,
    reply: UserReply<'_>,
) -> Result<Value, OAuthError> {
    let scp = consent::delegated_scp(shared, &user.oid, &client.app, request)?;
    let mut access_token = TokenBuilder::new(shared.clone()).delegated(
        user,
        &client.app.client_id,
        client.azpacr(),
        &request.resource,
        &scp,
    );
    // Only the contexts the tenant has: an Entra tenant without a policy for one issues none.
    let acrs: Vec<&String> =
        reply.acrs.iter().filter(|id| shared.auth_contexts.as_ref().is_none_or(|known| known.contains(id))).collect();
    if !acrs.is_empty() {
        access_token = access_token.acrs(acrs);
    }
    let access_token = access_token.sign();
    let mut body = json!({
        "token_type": "Bearer",
        "scope": request.response_scope(),
        "expires_in": ACCESS_TOKEN_SECONDS,
        "ext_expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": access_token,
    });
    let Some(object) = body.as_object_mut() else {
        return Ok(body);
    };
    if let Some(grant) = reply.refresh {
        let refresh_token = format!("1.emulator.{}", random_secret(48));
        shared.flows.insert_refresh(refresh_token.clone(), grant, shared.clock.unix_seconds());
        object.insert("refresh_token".into(), json!(refresh_token));
    }
    if reply.id_token {
        let id_token = TokenBuilder::new(shared.clone()).id_token_for(user, &client.app.client_id, reply.nonce).sign();
        object.insert("id_token".into(), json!(id_token));
    }
    let client_info = json!({ "uid": user.oid, "utid": shared.tenant_id }).to_string();
    object.insert("client_info".into(), json!(super::keys::b64(client_info.as_bytes())));
    Ok(body)
}

fn refresh_grant(
    shared: &Shared,
    client: &Client,
    scope: &str,
    user: &TestUser,
    spa: bool,
    acrs: &[String],
) -> RefreshGrant {
    let lifetime = if spa { SPA_REFRESH_SECONDS } else { REFRESH_SECONDS };
    RefreshGrant {
        client_id: client.app.client_id.clone(),
        scope: scope.to_owned(),
        user_oid: user.oid.clone(),
        spa,
        acrs: acrs.to_vec(),
        expires_at: shared.clock.unix_seconds().saturating_add(lifetime),
    }
}

/// Code and refresh-token redemption by a browser (with `Origin`) is for SPA redirect URIs only,
/// and SPA codes and refresh tokens are redeemed by browsers only, as Entra enforces both ways.
fn refuse_cross_origin(req: &HttpRequest, spa: bool) -> Result<(), OAuthError> {
    match req.headers().get(header::ORIGIN) {
        Some(origin) if !spa => Err(OAuthError::invalid_request(
            9_002_326,
            format!(
                "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. \
                 Request origin: '{}'.",
                clip(origin.to_str().unwrap_or_default())
            ),
        )),
        None if spa => Err(OAuthError::invalid_request(
            9_002_327,
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin \
             requests.",
        )),
        _ => Ok(()),
    }
}

/// `code_verifier`: 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636).
fn pkce_matches(verifier: &str, challenge: &str) -> Result<bool, OAuthError> {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return Err(OAuthError::invalid_request(
            50_148,
            "The code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~].",
        ));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    Ok(super::keys::b64(digest.as_ref()) == challenge)
}

pub(crate) fn authorization_code(
    req: &HttpRequest,
    shared: &Arc<Shared>,
    client: &Client,
    params: &Params,
) -> Result<Value, OAuthError> {
    let code = param(params, "code").ok_or_else(|| OAuthError::missing("code"))?;
    let grant = match shared.flows.redeem_code(code) {
        Redeem::Ok(grant) => grant,
        Redeem::Used => {
            return Err(OAuthError::invalid_grant(
                54_005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an \
                 existing refresh token.",
            ));
        }
        Redeem::Unknown => {
            return Err(OAuthError::invalid_grant(9_002_313, "Invalid request. The authorization code is not valid."));
        }
    };
    if grant.client_id != client.app.client_id {
        return Err(OAuthError::invalid_grant(70_000, "The provided authorization code was issued to another client."));
    }
    if grant.expires_at <= shared.clock.unix_seconds() {
        return Err(OAuthError::invalid_grant(
            70_008,
            "The provided authorization code or refresh token has expired due to inactivity.",
        ));
    }
    if param(params, "redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            50_011,
            "The redirect URI specified in the request does not match the redirect URI used when the authorization \
             code was requested.",
        ));
    }
    match (&grant.challenge, param(params, "code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !pkce_matches(verifier, challenge)? {
                return Err(OAuthError::invalid_grant(
                    50_148,
                    "The code_verifier does not match the code_challenge supplied in the authorization request for \
                     PKCE.",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                501_481,
                "The code_verifier is missing: the authorization request had a code_challenge.",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                501_481,
                "A code_verifier was sent but the authorization request had no code_challenge.",
            ));
        }
        (None, None) => {}
    }
    if !grant.spa {
        client.require_secret()?;
    }
    refuse_cross_origin(req, grant.spa)?;
    let user = user_by_oid(shared, &grant.user_oid)?;
    let authorized = scopes::resolve(shared, &grant.scope)?;
    let request = match param(params, "scope") {
        Some(scope) => scopes::resolve(shared, scope)?,
        None => authorized.clone(),
    };
    // msal also sends the claims on the redemption: either asks.
    let acrs = super::claims::union(grant.acrs.clone(), super::claims::requested_acrs(params)?);
    let refresh =
        authorized.has("offline_access").then(|| refresh_grant(shared, client, &grant.scope, user, grant.spa, &acrs));
    let reply = UserReply { nonce: grant.nonce.as_deref(), acrs: &acrs, id_token: authorized.has("openid"), refresh };
    user_tokens(shared, user, client, &request, reply)
}

pub(crate) fn refresh_token(
    req: &HttpRequest,
    shared: &Arc<Shared>,
    client: &Client,
    params: &Params,
) -> Result<Value, OAuthError> {
    let token = param(params, "refresh_token").ok_or_else(|| OAuthError::missing("refresh_token"))?;
    let now = shared.clock.unix_seconds();
    let requested_acrs = super::claims::requested_acrs(params)?;
    // Every check before the token is taken: a refused attempt does not spend it.
    let (grant, (original, request, acrs)) = shared.flows.take_refresh(token, |grant| {
        if grant.client_id != client.app.client_id {
            return Err(OAuthError::invalid_grant(70_000, "The refresh token was issued to a different client."));
        }
        if grant.expires_at <= now {
            return Err(OAuthError::invalid_grant(700_082, "The refresh token has expired due to inactivity."));
        }
        if !grant.spa {
            client.require_secret()?;
        }
        refuse_cross_origin(req, grant.spa)?;
        // Entra's refresh tokens are multi-resource: `scope` may name another resource.
        let original = scopes::resolve(shared, &grant.scope)?;
        let request = match param(params, "scope") {
            Some(scope) => scopes::resolve(shared, scope)?,
            None => original.clone(),
        };
        let acrs = super::claims::union(grant.acrs.clone(), requested_acrs.clone());
        super::claims::require_auth_contexts(shared, &request.resource, &acrs)?;
        consent::delegated_scp(shared, &grant.user_oid, &client.app, &request)?;
        Ok((original, request, acrs))
    })?;
    let user = user_by_oid(shared, &grant.user_oid)?.clone();
    let rotated = refresh_grant(shared, client, &grant.scope, &user, grant.spa, &acrs);
    let reply = UserReply { nonce: None, acrs: &acrs, id_token: original.has("openid"), refresh: Some(rotated) };
    user_tokens(shared, &user, client, &request, reply)
}

pub(crate) fn client_credentials(shared: &Arc<Shared>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    client.require_secret()?;
    if !client.confidential {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            700_025,
            "A public client cannot use the client credentials grant.".into(),
        ));
    }
    let scope = param(params, "scope").ok_or_else(|| OAuthError::missing("scope"))?;
    let items: Vec<&str> = scope.split_whitespace().collect();
    if !matches!(items.as_slice(), [only] if only.ends_with("/.default")) {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            1_002_012,
            format!(
                "The provided value for scope {} is not valid. Client credential flows must have a scope value with \
                 /.default suffixed to the resource identifier (application ID URI).",
                clip(scope)
            ),
        ));
    }
    let request = scopes::resolve(shared, scope)?;
    let access_token =
        TokenBuilder::new(shared.clone()).app_for(&client.app, client.azpacr(), &request.resource).sign();
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "ext_expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": access_token,
    }))
}

pub(crate) fn device_code(shared: &Arc<Shared>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    client.require_secret()?;
    let code = param(params, "device_code")
        .or_else(|| param(params, "code"))
        .ok_or_else(|| OAuthError::missing("device_code"))?;
    let now = shared.clock.unix_seconds();
    let (user_oid, scope, acrs) =
        match shared.flows.poll_device(code, &client.app.client_id, now, shared.auto_user.as_deref()) {
            Poll::Approved { user_oid, scope, acrs } => (user_oid, scope, acrs),
            Poll::Pending => {
                return Err(OAuthError::bad_request(
                    "authorization_pending",
                    70_016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.".into(),
                ));
            }
            Poll::Declined => {
                return Err(OAuthError::bad_request(
                    "authorization_declined",
                    70_000,
                    "The end user denied the authorization request.".into(),
                ));
            }
            Poll::Expired => {
                return Err(OAuthError::bad_request(
                "expired_token",
                70_020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired."
                    .into(),
            ));
            }
            Poll::Unknown => {
                return Err(OAuthError::bad_request(
                    "bad_verification_code",
                    70_000,
                    "The provided value for the input parameter 'device_code' is not valid.".into(),
                ));
            }
            Poll::WrongClient => {
                return Err(OAuthError::invalid_grant(70_000, "The device code was issued to a different client."));
            }
        };
    let user = user_by_oid(shared, &user_oid)?;
    let request = scopes::resolve(shared, &scope)?;
    // The approval was a sign-in with these scopes: the user consented to them.
    consent::record_sign_in(shared, &user.oid, &client.app, &request);
    let acrs = super::claims::union(acrs, super::claims::requested_acrs(params)?);
    let refresh = request.has("offline_access").then(|| refresh_grant(shared, client, &scope, user, false, &acrs));
    let reply = UserReply { nonce: None, acrs: &acrs, id_token: request.has("openid"), refresh };
    user_tokens(shared, user, client, &request, reply)
}

/// Checks an on-behalf-of assertion: signed by this tenant, for the calling app, in its
/// lifetime, a user's token. Returns its claims.
fn verify_assertion(shared: &Shared, assertion: &str, client_id: &str) -> Result<Map<String, Value>, OAuthError> {
    let bad_signature = || OAuthError::invalid_grant(50_013, "Assertion failed signature validation.");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad_signature())?;
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return Err(bad_signature());
    }
    let kid = header.kid.ok_or_else(bad_signature)?;
    let key = shared.published_keys().into_iter().find(|key| key.kid() == kid).ok_or_else(bad_signature)?;
    let jwk = key.jwk(None);
    let component = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(&component("n"), &component("e"))
        .map_err(|_| bad_signature())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Map<String, Value>>(assertion, &decoding, &validation)
        .map_err(|_| bad_signature())?
        .claims;

    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let now = shared.clock.unix_seconds();
    let in_time =
        number("exp").is_some_and(|exp| exp > now) && number("nbf").is_none_or(|nbf| nbf <= now.saturating_add(300));
    if !in_time {
        return Err(OAuthError::invalid_grant(500_133, "Assertion is not within its valid time range."));
    }
    let tid = &shared.tenant_id;
    let issuer = text("iss");
    if text("tid") != *tid || (issuer != shared.v2_issuer(tid) && issuer != format!("https://sts.windows.net/{tid}/")) {
        return Err(OAuthError::invalid_grant(50_013, "Assertion was not issued by this tenant."));
    }
    let audience = text("aud");
    if audience != client_id && audience != format!("api://{client_id}") {
        return Err(OAuthError::invalid_grant(
            50_013,
            "Assertion audience does not match the Client app presenting the assertion.",
        ));
    }
    if text("scp").is_empty() || text("idtyp") == "app" {
        return Err(OAuthError::invalid_grant(
            50_013,
            "Assertion is not a delegated (user) token; an app-only token cannot be exchanged on behalf of a user.",
        ));
    }
    Ok(claims)
}

pub(crate) fn on_behalf_of(shared: &Arc<Shared>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    if param(params, "requested_token_use") != Some("on_behalf_of") {
        return Err(OAuthError::invalid_request(
            900_144,
            "The request body must contain the following parameter: 'requested_token_use' with the value \
             'on_behalf_of'.",
        ));
    }
    client.require_secret()?;
    if !client.confidential {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            700_025,
            "A public client cannot use the on-behalf-of flow.".into(),
        ));
    }
    let assertion = param(params, "assertion").ok_or_else(|| OAuthError::missing("assertion"))?;
    let claims = verify_assertion(shared, assertion, &client.app.client_id)?;
    let oid = claims.get("oid").and_then(Value::as_str).unwrap_or_default();
    let user = user_by_oid(shared, oid)?;
    let scope = param(params, "scope").ok_or_else(|| OAuthError::missing("scope"))?;
    let request = scopes::resolve(shared, scope)?;
    // The authentication contexts the user satisfied, as the incoming token says; the
    // downstream token keeps them.
    let acrs: Vec<String> = claims
        .get("acrs")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    super::claims::require_auth_contexts(shared, &request.resource, &acrs)?;
    let refresh = request.has("offline_access").then(|| refresh_grant(shared, client, scope, user, false, &acrs));
    let reply = UserReply { nonce: None, acrs: &acrs, id_token: request.has("openid"), refresh };
    user_tokens(shared, user, client, &request, reply)
}
