//! The machine side of the OAuth endpoints: the token endpoint (authorization code + PKCE,
//! refresh token, client credentials, device code, on-behalf-of), the device-code endpoint,
//! CORS for single-page apps, instance discovery, and the in-memory state of every flow.
//!
//! Replies follow Entra field by field where clients depend on them (see the msal contract):
//! errors are `{error, error_description: "AADSTS...", error_codes, ...}` with HTTP 400, or 401
//! for `invalid_client`; a pending device code is HTTP 400 `authorization_pending`, never 429 or
//! 5xx and never with `Retry-After`.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::registry::{AppRegistration, TestUser, random_secret};
use super::scopes::{self, ScopeRequest};
use super::server::{TenantPath, entra_error, fault_response, resolve_tenant, tenant_not_found};
use super::token::{ACCESS_TOKEN_SECONDS, TokenBuilder};
use super::{Endpoint, Shared};

/// Authorization codes live 10 minutes.
pub(crate) const CODE_SECONDS: i64 = 600;
/// Device codes live 15 minutes (`expires_in: 900`, as Entra).
const DEVICE_CODE_SECONDS: i64 = 900;
/// Polling interval of the device flow; never 0 (msal would spin).
const DEVICE_INTERVAL_SECONDS: u64 = 5;
/// Refresh tokens: 90 days, 24 hours for single-page apps (as Entra).
const REFRESH_SECONDS: i64 = 90 * 24 * 3600;
const SPA_REFRESH_SECONDS: i64 = 24 * 3600;
/// Form bodies larger than this are refused.
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;

/// An OAuth error, rendered the Entra way.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) code: u32,
    pub(crate) description: String,
}

impl OAuthError {
    /// An HTTP 400 error.
    pub(crate) fn bad_request(error: &'static str, code: u32, description: String) -> Self {
        Self { status: 400, error, code, description }
    }

    /// An HTTP 400 `invalid_grant`.
    fn invalid_grant(code: u32, description: impl Into<String>) -> Self {
        Self::bad_request("invalid_grant", code, description.into())
    }

    /// An HTTP 400 `invalid_request`.
    pub(crate) fn invalid_request(code: u32, description: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", code, description.into())
    }

    /// An HTTP 401 `invalid_client`.
    fn invalid_client(code: u32, description: impl Into<String>) -> Self {
        Self { status: 401, error: "invalid_client", code, description: description.into() }
    }

    /// A missing required parameter.
    pub(crate) fn missing(name: &str) -> Self {
        Self::invalid_request(900_144, format!("The request body must contain the following parameter: '{name}'."))
    }

    /// The JSON reply.
    pub(crate) fn response(&self) -> HttpResponse {
        entra_error(self.status, self.error, self.code, &self.description)
    }
}

/// Keeps a client-supplied value short and printable for an error message.
pub(crate) fn shorten(value: &str) -> String {
    let mut shown: String = value.chars().filter(|c| !c.is_control()).take(120).collect();
    if value.chars().count() > 120 {
        shown.push('…');
    }
    shown
}

/// Request parameters (query string or form body). The first occurrence of a name wins.
pub(crate) type Params = HashMap<String, String>;

pub(crate) fn parse_params(bytes: &[u8]) -> Params {
    let mut params = Params::new();
    for (name, value) in url::form_urlencoded::parse(bytes) {
        params.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    params
}

/// A parameter that is present and not blank.
pub(crate) fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str).filter(|value| !value.trim().is_empty())
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

// ---------------------------------------------------------------------------------------------
// Flow state

/// What an authorization code stands for.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: Option<String>,
    pub(crate) spa: bool,
    pub(crate) user_oid: String,
    pub(crate) expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DeviceStatus {
    Pending,
    Approved(String),
    Declined,
}

#[derive(Debug, Clone)]
struct DeviceGrant {
    client_id: String,
    user_code: String,
    scope: String,
    expires_at: i64,
    status: DeviceStatus,
}

#[derive(Debug, Clone)]
struct RefreshGrant {
    client_id: String,
    scope: String,
    user_oid: String,
    spa: bool,
    expires_at: i64,
}

#[derive(Debug, Default)]
struct FlowState {
    /// Code → grant; `None` once redeemed (kept to tell reuse from garbage).
    codes: HashMap<String, Option<AuthCode>>,
    code_expiry: HashMap<String, i64>,
    devices: HashMap<String, DeviceGrant>,
    refresh: HashMap<String, RefreshGrant>,
    /// Session id (cookie) → user oid.
    sessions: HashMap<String, String>,
}

/// In-flight OAuth state: authorization codes, device codes, refresh tokens and browser
/// sessions. In memory, gone when the tenant stops.
#[derive(Debug, Default)]
pub(crate) struct Flows {
    state: Mutex<FlowState>,
}

/// What redeeming an authorization code finds.
enum Redeem {
    Ok(AuthCode),
    Unknown,
    Used,
}

/// What a device-code poll finds.
enum Poll {
    Approved { user_oid: String, scope: String },
    Pending,
    Declined,
    Expired,
    Unknown,
    WrongClient,
}

/// A device code as the `/device` page sees it.
#[derive(Debug, Clone)]
pub(crate) struct PendingDevice {
    pub(crate) client_id: String,
    pub(crate) scope: String,
}

impl Flows {
    fn lock(&self) -> MutexGuard<'_, FlowState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new authorization code and forgets codes that expired long ago.
    pub(crate) fn insert_code(&self, code: String, grant: AuthCode, now: i64) {
        let mut state = self.lock();
        let stale: Vec<String> = state
            .code_expiry
            .iter()
            .filter(|(_, expiry)| expiry.saturating_add(3600) < now)
            .map(|(code, _)| code.clone())
            .collect();
        for code in stale {
            state.codes.remove(&code);
            state.code_expiry.remove(&code);
        }
        state.code_expiry.insert(code.clone(), grant.expires_at);
        state.codes.insert(code, Some(grant));
    }

    /// Burns `code` (any attempt uses it up) and returns what it stood for.
    fn redeem_code(&self, code: &str) -> Redeem {
        match self.lock().codes.get_mut(code) {
            None => Redeem::Unknown,
            Some(slot) => slot.take().map_or(Redeem::Used, Redeem::Ok),
        }
    }

    /// Stores a refresh token and forgets those that expired long ago (a long-running tenant
    /// stays small; a recently expired one still gets its own error).
    fn insert_refresh(&self, token: String, grant: RefreshGrant, now: i64) {
        let mut state = self.lock();
        state.refresh.retain(|_, grant| grant.expires_at.saturating_add(3600) > now);
        state.refresh.insert(token, grant);
    }

    /// Takes a refresh token once `check` accepts its grant (rotation: it cannot be used
    /// again). A refused attempt leaves the token alone.
    fn take_refresh(
        &self,
        token: &str,
        check: impl FnOnce(&RefreshGrant) -> Result<(), OAuthError>,
    ) -> Result<RefreshGrant, OAuthError> {
        let mut state = self.lock();
        let grant = state.refresh.get(token).ok_or_else(|| {
            OAuthError::invalid_grant(
                70_000,
                "The provided value for the 'refresh_token' is not valid (unknown, revoked, or already used: refresh \
                 tokens rotate).",
            )
        })?;
        check(grant)?;
        state.refresh.remove(token).ok_or_else(|| OAuthError::invalid_grant(70_000, "The refresh token is gone."))
    }

    /// Stores a new device code; returns its user code.
    fn insert_device(&self, device_code: String, client_id: String, scope: String, expires_at: i64) -> String {
        let mut state = self.lock();
        let user_code = loop {
            let candidate = user_code();
            if !state.devices.values().any(|grant| grant.user_code == candidate) {
                break candidate;
            }
        };
        state.devices.retain(|_, grant| grant.expires_at.saturating_add(3600) > expires_at);
        let grant =
            DeviceGrant { client_id, user_code: user_code.clone(), scope, expires_at, status: DeviceStatus::Pending };
        state.devices.insert(device_code, grant);
        user_code
    }

    /// The pending device code with this user code (case and dashes ignored).
    pub(crate) fn pending_device(&self, user_code: &str, now: i64) -> Option<PendingDevice> {
        let wanted = normalise_user_code(user_code);
        self.lock()
            .devices
            .values()
            .find(|grant| grant.user_code == wanted && grant.status == DeviceStatus::Pending && grant.expires_at > now)
            .map(|grant| PendingDevice { client_id: grant.client_id.clone(), scope: grant.scope.clone() })
    }

    /// Approves (`Some(oid)`) or declines (`None`) the pending device code `user_code`.
    pub(crate) fn decide_device(&self, user_code: &str, user_oid: Option<String>, now: i64) -> bool {
        let wanted = normalise_user_code(user_code);
        let mut state = self.lock();
        let grant = state
            .devices
            .values_mut()
            .find(|grant| grant.user_code == wanted && grant.status == DeviceStatus::Pending && grant.expires_at > now);
        match grant {
            Some(grant) => {
                grant.status = user_oid.map_or(DeviceStatus::Declined, DeviceStatus::Approved);
                true
            }
            None => false,
        }
    }

    /// One poll of the device flow. With an automatic user, a pending code is approved for
    /// them at the first poll.
    fn poll_device(&self, device_code: &str, client_id: &str, now: i64, auto_user: Option<&str>) -> Poll {
        let mut state = self.lock();
        let Some(grant) = state.devices.get_mut(device_code) else {
            return Poll::Unknown;
        };
        if grant.client_id != client_id {
            return Poll::WrongClient;
        }
        if grant.expires_at <= now {
            return Poll::Expired;
        }
        if let (DeviceStatus::Pending, Some(oid)) = (&grant.status, auto_user) {
            grant.status = DeviceStatus::Approved(oid.to_owned());
        }
        match grant.status.clone() {
            DeviceStatus::Pending => Poll::Pending,
            DeviceStatus::Declined => {
                state.devices.remove(device_code);
                Poll::Declined
            }
            DeviceStatus::Approved(user_oid) => {
                let scope = grant.scope.clone();
                state.devices.remove(device_code);
                Poll::Approved { user_oid, scope }
            }
        }
    }

    /// Starts a browser session for `user_oid`; returns its id (the cookie value).
    pub(crate) fn start_session(&self, user_oid: &str) -> String {
        let id = random_secret(24);
        self.lock().sessions.insert(id.clone(), user_oid.to_owned());
        id
    }

    /// The user of a browser session.
    pub(crate) fn session_user(&self, id: &str) -> Option<String> {
        self.lock().sessions.get(id).cloned()
    }

    /// Ends a browser session.
    pub(crate) fn end_session(&self, id: &str) {
        self.lock().sessions.remove(id);
    }
}

/// Eight letters from an alphabet without look-alikes, shown as `ABCD-EFGH`.
fn user_code() -> String {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let raw = random_secret(16);
    raw.bytes()
        .filter_map(|b| usize::from(b).checked_rem(ALPHABET.len()).and_then(|i| ALPHABET.get(i)))
        .take(8)
        .map(|&letter| char::from(letter))
        .collect()
}

fn normalise_user_code(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// The user code as shown to people.
pub(crate) fn display_user_code(code: &str) -> String {
    match code.len() {
        8 => format!("{}-{}", &code[..4], &code[4..]),
        _ => code.to_owned(),
    }
}

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
        .any(|pattern| super::uris::origin_matches(pattern, text))
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
// Client authentication

/// The calling client, and whether it proved its secret.
struct Client {
    app: AppRegistration,
    authenticated: bool,
}

impl Client {
    /// Confidential clients must authenticate (unless the grant says otherwise).
    fn require_secret(&self) -> Result<(), OAuthError> {
        if self.app.client_secret.is_some() && !self.authenticated {
            return Err(OAuthError::invalid_client(
                7_000_218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
        Ok(())
    }
}

/// `client_secret_basic`: `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed =
        || OAuthError::invalid_client(7_000_216, "The Authorization header is not valid Basic authentication.");
    let text = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |part: &str| -> String {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// Finds the client and checks any secret it presented (in the body or with HTTP Basic).
fn identify_client(req: &HttpRequest, shared: &Shared, params: &Params) -> Result<Client, OAuthError> {
    let basic = basic_credentials(req)?;
    let posted = param(params, "client_secret");
    let client_id = match (&basic, param(params, "client_id")) {
        (Some((id, _)), Some(form_id)) if id != form_id => {
            return Err(OAuthError::invalid_request(
                900_144,
                "The client_id in the Authorization header differs from the one in the body.",
            ));
        }
        (Some((id, _)), _) => id.clone(),
        (None, Some(id)) => id.to_owned(),
        (None, None) => return Err(OAuthError::missing("client_id")),
    };
    let secret = match (&basic, posted) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                900_144,
                "The client authenticated with more than one method (HTTP Basic and client_secret).",
            ));
        }
        (Some((_, secret)), None) => Some(secret.as_str()),
        (None, posted) => posted,
    };
    let Some(app) = shared.app(&client_id) else {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{}' was not found in the directory '{}'.",
                shorten(&client_id),
                shared.tenant_id
            ),
        ));
    };
    let Some(presented) = secret else {
        return Ok(Client { app: app.clone(), authenticated: false });
    };
    let Some(expected) = &app.client_secret else {
        return Err(OAuthError::invalid_client(
            700_025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    };
    if aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), expected.as_bytes()).is_err() {
        return Err(OAuthError::invalid_client(
            7_000_215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }
    Ok(Client { app: app.clone(), authenticated: true })
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

fn json_no_store(status: actix_web::http::StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store, no-cache"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

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
    let result = match param(&params, "grant_type") {
        None => Err(OAuthError::missing("grant_type")),
        Some(grant) => match identify_client(req, &shared, &params) {
            Err(error) => Err(error),
            Ok(client) => match grant {
                "authorization_code" => authorization_code(req, &shared, &client, &params),
                "refresh_token" => refresh_token(req, &shared, &client, &params),
                "client_credentials" => client_credentials(&shared, &client, &params),
                "urn:ietf:params:oauth:grant-type:device_code" => device_code(&shared, &client, &params),
                "urn:ietf:params:oauth:grant-type:jwt-bearer" => on_behalf_of(&shared, &client, &params),
                other => Err(OAuthError::bad_request(
                    "unsupported_grant_type",
                    70_003,
                    format!("The app requested an unsupported grant type '{}'.", shorten(other)),
                )),
            },
        },
    };
    match result {
        Ok(body) => json_no_store(actix_web::http::StatusCode::OK, &body),
        Err(error) => error.response(),
    }
}

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
    id_token: bool,
    refresh: Option<RefreshGrant>,
}

/// The reply of every user flow: `access_token` for the resource, and as asked `id_token`
/// (`aud` = the client), `refresh_token` (stored for the refresh grant), `client_info`.
fn user_tokens(
    shared: &Arc<Shared>,
    user: &TestUser,
    client: &Client,
    request: &ScopeRequest,
    reply: UserReply<'_>,
) -> Value {
    let access_token = TokenBuilder::new(shared.clone())
        .delegated(user, &client.app.client_id, client.authenticated, &request.resource, &request.scp)
        .sign();
    let mut body = json!({
        "token_type": "Bearer",
        "scope": request.response_scope(),
        "expires_in": ACCESS_TOKEN_SECONDS,
        "ext_expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": access_token,
    });
    let Some(object) = body.as_object_mut() else {
        return body;
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
    body
}

fn refresh_grant(shared: &Shared, client: &Client, scope: &str, user: &TestUser, spa: bool) -> RefreshGrant {
    let lifetime = if spa { SPA_REFRESH_SECONDS } else { REFRESH_SECONDS };
    RefreshGrant {
        client_id: client.app.client_id.clone(),
        scope: scope.to_owned(),
        user_oid: user.oid.clone(),
        spa,
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
                shorten(origin.to_str().unwrap_or_default())
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

fn authorization_code(
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
    let refresh =
        authorized.has("offline_access").then(|| refresh_grant(shared, client, &grant.scope, user, grant.spa));
    let reply = UserReply { nonce: grant.nonce.as_deref(), id_token: authorized.has("openid"), refresh };
    Ok(user_tokens(shared, user, client, &request, reply))
}

fn refresh_token(
    req: &HttpRequest,
    shared: &Arc<Shared>,
    client: &Client,
    params: &Params,
) -> Result<Value, OAuthError> {
    let token = param(params, "refresh_token").ok_or_else(|| OAuthError::missing("refresh_token"))?;
    let now = shared.clock.unix_seconds();
    let grant = shared.flows.take_refresh(token, |grant| {
        if grant.client_id != client.app.client_id {
            return Err(OAuthError::invalid_grant(70_000, "The refresh token was issued to a different client."));
        }
        if grant.expires_at <= now {
            return Err(OAuthError::invalid_grant(700_082, "The refresh token has expired due to inactivity."));
        }
        if !grant.spa {
            client.require_secret()?;
        }
        refuse_cross_origin(req, grant.spa)
    })?;
    let user = user_by_oid(shared, &grant.user_oid)?.clone();
    let original = scopes::resolve(shared, &grant.scope)?;
    let request = match param(params, "scope") {
        Some(scope) => scopes::resolve(shared, scope)?,
        None => original.clone(),
    };
    let rotated = refresh_grant(shared, client, &grant.scope, &user, grant.spa);
    let reply = UserReply { nonce: None, id_token: original.has("openid"), refresh: Some(rotated) };
    Ok(user_tokens(shared, &user, client, &request, reply))
}

fn client_credentials(shared: &Arc<Shared>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    client.require_secret()?;
    if client.app.client_secret.is_none() {
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
                shorten(scope)
            ),
        ));
    }
    let request = scopes::resolve(shared, scope)?;
    let access_token = TokenBuilder::new(shared.clone()).app_for(&client.app, &request.resource).sign();
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "ext_expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": access_token,
    }))
}

fn device_code(shared: &Arc<Shared>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    client.require_secret()?;
    let code = param(params, "device_code")
        .or_else(|| param(params, "code"))
        .ok_or_else(|| OAuthError::missing("device_code"))?;
    let now = shared.clock.unix_seconds();
    let (user_oid, scope) =
        match shared.flows.poll_device(code, &client.app.client_id, now, shared.auto_user.as_deref()) {
            Poll::Approved { user_oid, scope } => (user_oid, scope),
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
    let refresh = request.has("offline_access").then(|| refresh_grant(shared, client, &scope, user, false));
    let reply = UserReply { nonce: None, id_token: request.has("openid"), refresh };
    Ok(user_tokens(shared, user, client, &request, reply))
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

fn on_behalf_of(shared: &Arc<Shared>, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    if param(params, "requested_token_use") != Some("on_behalf_of") {
        return Err(OAuthError::invalid_request(
            900_144,
            "The request body must contain the following parameter: 'requested_token_use' with the value \
             'on_behalf_of'.",
        ));
    }
    client.require_secret()?;
    if client.app.client_secret.is_none() {
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
    let refresh = request.has("offline_access").then(|| refresh_grant(shared, client, scope, user, false));
    let reply = UserReply { nonce: None, id_token: request.has("openid"), refresh };
    Ok(user_tokens(shared, user, client, &request, reply))
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
                    shorten(client_id),
                    shared.tenant_id
                ),
            )
        })?;
        let scope = param(&params, "scope").ok_or_else(|| OAuthError::missing("scope"))?;
        scopes::resolve(shared, scope)?;
        let device_code = format!("DAQABAAEAAA.emulator.{}", random_secret(48));
        let expires_at = shared.clock.unix_seconds().saturating_add(DEVICE_CODE_SECONDS);
        let user_code =
            shared.flows.insert_device(device_code.clone(), app.client_id.clone(), scope.to_owned(), expires_at);
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
