//! The browser side of the tenant: the authorize endpoint (a user picker, or no UI at all with
//! an automatic user), logout, and the `/device` page where device codes are approved.
//!
//! Pages are small self-contained HTML (no external assets, everything escaped). Errors go back
//! to the client's redirect URI as `error`/`error_description`/`state` once that URI is known to
//! be registered, and are shown as a page before that.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::HtmlEscape;

use super::consent;
use super::flows::{AuthCode, CODE_SECONDS};
use super::proto::{OAuthError, Params, fault_response, param, parse_params, resolve_tenant, tenant_not_found};
use super::registry::{AppRegistration, TestUser, random_secret};
use super::scopes::{self, ScopeRequest};
use super::uris::redirect_matches;
use super::{Endpoint, Shared};
use crate::log_safe::clip;

/// The emulator's sign-in session cookie.
const SESSION_COOKIE: &str = "aad_emulator_session";

/// Authorize parameters carried from the picker page back to the endpoint.
const CARRIED: [&str; 14] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "prompt",
    "login_hint",
    "response_mode",
    "code_challenge",
    "code_challenge_method",
    "domain_hint",
    "claims",
    "resource",
];

// ---------------------------------------------------------------------------------------------
// HTML

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f3f2f1;margin:0}\
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
h1{font-size:1.4rem;font-weight:600}ul{list-style:none;padding:0}li{margin:.5rem 0}\
button{width:100%;text-align:left;padding:.7rem;border:1px solid #8a8886;background:#fff;cursor:pointer;font-size:1rem}\
button:hover,button:focus{background:#edebe9}button.secondary{text-align:center}small{color:#605e5c;display:block}\
.error{color:#a4262c}.tag{font-size:.75rem;background:#deecf9;padding:0 .3rem;margin-left:.3rem}\
input[type=text]{width:100%;padding:.6rem;font-size:1.1rem;box-sizing:border-box;margin:.5rem 0}footer{color:#605e5c;font-size:.8rem}";

/// A complete page (status, title, body HTML already escaped).
fn page(status: actix_web::http::StatusCode, shared: &Shared, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title} · local Entra ID tenant</title><style>{STYLE}\
         </style></head><body><main><h1>{title}</h1>{body}<footer><p>Local Entra ID tenant {tenant} (aad-auth \
         testing emulator)</p></footer></main></body></html>",
        title = HtmlEscape(title),
        tenant = HtmlEscape(&shared.tenant_id),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(html)
}

fn error_page(shared: &Shared, error: &OAuthError) -> HttpResponse {
    let body = format!(
        "<p class=\"error\">Sorry, but we're having trouble signing you in.</p><p><b>{}</b></p><p>AADSTS{}: {}</p>",
        HtmlEscape(error.error),
        error.code,
        HtmlEscape(&error.description)
    );
    page(actix_web::http::StatusCode::BAD_REQUEST, shared, "Sign-in error", &body)
}

fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", HtmlEscape(name), HtmlEscape(value))
}

/// `Location` = `uri` with `pairs` added to its query.
fn redirect_to(uri: &str, pairs: &[(&str, &str)]) -> Option<HttpResponse> {
    let mut url = url::Url::parse(uri).ok()?;
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    Some(
        HttpResponse::Found()
            .insert_header((header::LOCATION, url.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    )
}

// ---------------------------------------------------------------------------------------------
// Authorize

/// A request that passed every check.
struct Authorize {
    app: AppRegistration,
    redirect_uri: String,
    spa: bool,
    scope: String,
    /// `scope` as read.
    scopes: ScopeRequest,
    /// Other resources' scopes the request asked for: consented to at sign-in, no token.
    consent_only: Vec<ScopeRequest>,
    state: Option<String>,
    nonce: Option<String>,
    prompt: Option<String>,
    login_hint: Option<String>,
    challenge: Option<String>,
    /// Authentication contexts the `claims` parameter asks for.
    acrs: Vec<String>,
}

/// Why a request is refused: before the redirect URI is trusted, a page; after, a redirect.
enum Refusal {
    Page(OAuthError),
    Redirect { redirect_uri: String, state: Option<String>, error: OAuthError },
}

impl Refusal {
    fn response(self, shared: &Shared) -> HttpResponse {
        match self {
            Self::Page(error) => error_page(shared, &error),
            Self::Redirect { redirect_uri, state, error } => {
                let description = format!("AADSTS{}: {}", error.code, error.description);
                let mut pairs = vec![("error", error.error), ("error_description", description.as_str())];
                if let Some(state) = &state {
                    pairs.push(("state", state));
                }
                redirect_to(&redirect_uri, &pairs).unwrap_or_else(|| error_page(shared, &error))
            }
        }
    }
}

fn check(shared: &Shared, params: &Params) -> Result<Authorize, Refusal> {
    let page = |error: OAuthError| Refusal::Page(error);
    let client_id = param(params, "client_id").ok_or_else(|| page(OAuthError::missing("client_id")))?;
    let app = shared.app(client_id).cloned().ok_or_else(|| {
        page(OAuthError::bad_request(
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{}' was not found in the directory '{}'.",
                clip(client_id),
                shared.tenant_id
            ),
        ))
    })?;
    let redirect_uri = param(params, "redirect_uri").ok_or_else(|| page(OAuthError::missing("redirect_uri")))?;
    let web = app.redirect_uris.iter().any(|pattern| redirect_matches(pattern, redirect_uri));
    let spa = !web && app.spa_redirect_uris.iter().any(|pattern| redirect_matches(pattern, redirect_uri));
    if !web && !spa {
        return Err(page(OAuthError::invalid_request(
            50_011,
            format!(
                "The redirect URI '{}' specified in the request does not match the redirect URIs configured for the \
                 application '{}'.",
                clip(redirect_uri),
                app.client_id
            ),
        )));
    }
    let state = param(params, "state").map(str::to_owned);
    let refuse =
        |error: OAuthError| Refusal::Redirect { redirect_uri: redirect_uri.to_owned(), state: state.clone(), error };

    match param(params, "response_mode") {
        None | Some("query") => {}
        Some(mode) => {
            return Err(refuse(OAuthError::invalid_request(
                900_144,
                format!(
                    "response_mode '{}' is not supported by the local tenant; use response_mode=query (the default \
                     for response_type=code).",
                    clip(mode)
                ),
            )));
        }
    }
    match param(params, "response_type") {
        Some("code") => {}
        None => return Err(refuse(OAuthError::missing("response_type"))),
        Some(other) => {
            return Err(refuse(OAuthError::bad_request(
                "unsupported_response_type",
                700_054,
                format!(
                    "response_type '{}' is not enabled for the application; the local tenant supports 'code'.",
                    clip(other)
                ),
            )));
        }
    }
    let requested = param(params, "scope").ok_or_else(|| refuse(OAuthError::missing("scope")))?;
    let (scope, consent_only) = scopes::split_for_authorize(shared, requested).map_err(&refuse)?;
    let scope = scope.as_str();
    let scope_request = scopes::resolve(shared, scope).map_err(&refuse)?;
    let consent_only = consent_only
        .iter()
        .map(|other| scopes::resolve(shared, other))
        .collect::<Result<Vec<_>, _>>()
        .map_err(&refuse)?;
    super::claims::check_resource(params, Some(&scope_request)).map_err(&refuse)?;
    let acrs = super::claims::requested_acrs(params).map_err(&refuse)?;
    let prompt = param(params, "prompt").map(str::to_owned);
    if let Some(value) = &prompt
        && !["none", "login", "select_account", "consent", "create"].contains(&value.as_str())
    {
        return Err(refuse(OAuthError::invalid_request(90_023, format!("Invalid prompt value '{}'.", clip(value)))));
    }
    let challenge = match (param(params, "code_challenge"), param(params, "code_challenge_method")) {
        (None, None) if spa => {
            return Err(refuse(OAuthError::invalid_request(
                9_002_325,
                "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
            )));
        }
        (None, None) => None,
        (None, Some(_)) => return Err(refuse(OAuthError::missing("code_challenge"))),
        (Some(challenge), Some("S256")) => {
            let well_formed =
                challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed {
                return Err(refuse(OAuthError::invalid_request(
                    501_491,
                    "The code_challenge is not a valid S256 challenge (43 base64url characters).",
                )));
            }
            Some(challenge.to_owned())
        }
        (Some(_), method) => {
            return Err(refuse(OAuthError::invalid_request(
                501_491,
                format!(
                    "The code_challenge_method '{}' is not supported: the local tenant accepts S256 only.",
                    clip(method.unwrap_or("plain"))
                ),
            )));
        }
    };
    Ok(Authorize {
        app,
        redirect_uri: redirect_uri.to_owned(),
        spa,
        scope: scope.to_owned(),
        scopes: scope_request,
        consent_only,
        state,
        nonce: param(params, "nonce").map(str::to_owned),
        prompt,
        login_hint: param(params, "login_hint").map(str::to_owned),
        challenge,
        acrs,
    })
}

fn find_user<'a>(shared: &'a Shared, name: &str) -> Option<&'a TestUser> {
    shared.users.iter().find(|user| user.username.eq_ignore_ascii_case(name))
}

fn session_user<'a>(req: &HttpRequest, shared: &'a Shared) -> Option<&'a TestUser> {
    let cookie = req.cookie(SESSION_COOKIE)?;
    let oid = shared.flows.session_user(cookie.value())?;
    shared.users.iter().find(|user| user.oid == oid)
}

fn session_cookie(shared: &Shared, value: String, remove: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(shared.base_url.starts_with("https://"))
        .finish();
    if remove {
        cookie.make_removal();
    }
    cookie
}

/// Issues a code for `user` and sends the browser back to the client, starting a session
/// unless the browser already has one for `user`. The user consents to the Graph scopes asked
/// for, as on Entra's consent screen; `prompt=none`, which cannot show one, answers
/// `consent_required` instead when consent is missing.
fn sign_in(req: &HttpRequest, shared: &Shared, request: Authorize, user: &TestUser) -> HttpResponse {
    let asked = std::iter::once(&request.scopes).chain(&request.consent_only);
    if request.prompt.as_deref() == Some("none")
        && asked.clone().any(|scopes| consent::needs_prompt(shared, &user.oid, &request.app, scopes))
    {
        let mut error = consent::consent_required(&request.app);
        error.error = "consent_required";
        return Refusal::Redirect { redirect_uri: request.redirect_uri, state: request.state, error }.response(shared);
    }
    for scopes in asked {
        consent::record_sign_in(shared, &user.oid, &request.app, scopes);
    }
    let code = format!("1.emulator.{}", random_secret(64));
    let now = shared.clock.unix_seconds();
    let grant = AuthCode {
        client_id: request.app.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        challenge: request.challenge.clone(),
        spa: request.spa,
        user_oid: user.oid.clone(),
        acrs: request.acrs.clone(),
        expires_at: now.saturating_add(CODE_SECONDS),
    };
    shared.flows.insert_code(code.clone(), grant, now);
    let session = match session_user(req, shared) {
        Some(current) if current.oid == user.oid => None,
        _ => Some(shared.flows.start_session(&user.oid)),
    };
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        pairs.push(("state", state));
    }
    match redirect_to(&request.redirect_uri, &pairs) {
        Some(mut response) => {
            if let Some(session) = session {
                let _ = response.add_cookie(&session_cookie(shared, session, false));
            }
            response
        }
        None => error_page(shared, &OAuthError::invalid_request(50_011, "The redirect URI is not a valid URL.")),
    }
}

fn picker(req: &HttpRequest, shared: &Shared, request: &Authorize, params: &Params) -> HttpResponse {
    let carried: String =
        CARRIED.iter().filter_map(|name| params.get(*name).map(|value| hidden(name, value))).collect();
    let action = HtmlEscape(req.path());
    let hint = request.login_hint.as_deref().and_then(|hint| find_user(shared, hint)).map(|user| user.oid.clone());
    let mut items = String::new();
    for user in &shared.users {
        let tag = if user.guest { "<span class=\"tag\">guest</span>" } else { "" };
        let focus = if hint.as_deref() == Some(user.oid.as_str()) { " autofocus" } else { "" };
        items.push_str(&format!(
            "<li><form method=\"post\" action=\"{action}\">{carried}{}<button type=\"submit\" \
             name=\"emulator_action\" value=\"signin\"{focus}>{}{tag}<small>{}</small></button></form></li>",
            hidden("emulator_user", &user.oid),
            HtmlEscape(&user.name),
            HtmlEscape(&user.username),
        ));
    }
    let body = format!(
        "<p>Pick an account to continue to <b>{}</b>.</p><ul>{items}</ul><form method=\"post\" \
         action=\"{action}\">{carried}<button class=\"secondary\" type=\"submit\" name=\"emulator_action\" \
         value=\"cancel\">Cancel</button></form>",
        HtmlEscape(&request.app.name)
    );
    page(actix_web::http::StatusCode::OK, shared, "Pick an account", &body)
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub(crate) async fn authorize(req: HttpRequest, shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    if let Some(response) = fault_response(&shared, Endpoint::Authorize).await {
        return response;
    }
    if resolve_tenant(&shared, &path).is_none() {
        return tenant_not_found(&path);
    }
    let params = parse_params(req.query_string().as_bytes());
    let request = match check(&shared, &params) {
        Ok(request) => request,
        Err(refusal) => return refusal.response(&shared),
    };
    if let Some(auto) = shared.auto_user.as_deref() {
        let hinted = request.login_hint.as_deref().and_then(|hint| find_user(&shared, hint));
        let user = hinted.or_else(|| shared.users.iter().find(|user| user.oid == auto));
        if let Some(user) = user {
            return sign_in(&req, &shared, request, user);
        }
    }
    let prompt = request.prompt.as_deref();
    let session = session_user(&req, &shared);
    match (prompt, session) {
        (Some("login" | "select_account"), _) => picker(&req, &shared, &request, &params),
        (_, Some(user)) => sign_in(&req, &shared, request, user),
        (Some("none"), None) => Refusal::Redirect {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: OAuthError::bad_request(
                "login_required",
                50_058,
                "A silent sign-in request was sent but no user is signed in.".into(),
            ),
        }
        .response(&shared),
        _ => picker(&req, &shared, &request, &params),
    }
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the picker's choice.
pub(crate) async fn authorize_submit(
    req: HttpRequest,
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(response) = fault_response(&shared, Endpoint::Authorize).await {
        return response;
    }
    if resolve_tenant(&shared, &path).is_none() {
        return tenant_not_found(&path);
    }
    let params = parse_params(&body);
    let request = match check(&shared, &params) {
        Ok(request) => request,
        Err(refusal) => return refusal.response(&shared),
    };
    if param(&params, "emulator_action") == Some("cancel") {
        return Refusal::Redirect {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: OAuthError::bad_request(
                "access_denied",
                65_004,
                "User declined to consent to access the app.".into(),
            ),
        }
        .response(&shared);
    }
    let user = param(&params, "emulator_user").and_then(|oid| shared.users.iter().find(|user| user.oid == oid));
    match user {
        Some(user) => sign_in(&req, &shared, request, user),
        None => picker(&req, &shared, &request, &params),
    }
}

// ---------------------------------------------------------------------------------------------
// Logout

/// `GET /{tenant}/oauth2/v2.0/logout`: ends the emulator's session, then returns to a
/// registered `post_logout_redirect_uri` (with `state`) or shows a signed-out page.
pub(crate) async fn logout(req: HttpRequest, shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    if let Some(response) = fault_response(&shared, Endpoint::Logout).await {
        return response;
    }
    if resolve_tenant(&shared, &path).is_none() {
        return tenant_not_found(&path);
    }
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        shared.flows.end_session(cookie.value());
    }
    let params = parse_params(req.query_string().as_bytes());
    let target = param(&params, "post_logout_redirect_uri");
    let client = param(&params, "client_id");
    let registered = target.filter(|uri| {
        shared
            .apps
            .iter()
            .filter(|app| client.is_none_or(|id| app.client_id == id))
            .flat_map(|app| app.post_logout_redirect_uris.iter())
            .any(|pattern| redirect_matches(pattern, uri))
    });
    let mut response = match registered {
        Some(uri) => {
            let mut pairs = Vec::new();
            if let Some(state) = param(&params, "state") {
                pairs.push(("state", state));
            }
            redirect_to(uri, &pairs)
        }
        None => None,
    }
    .unwrap_or_else(|| {
        let note = match target {
            Some(uri) => format!(
                "<p class=\"error\">The post_logout_redirect_uri '{}' is not registered for the application, so you \
                 stay here.</p>",
                HtmlEscape(&clip(uri))
            ),
            None => String::new(),
        };
        let body =
            format!("<p>You signed out of your account. It's a good idea to close all browser windows.</p>{note}");
        page(actix_web::http::StatusCode::OK, &shared, "You signed out of your account", &body)
    });
    let _ = response.add_cookie(&session_cookie(&shared, String::new(), true));
    response
}

// ---------------------------------------------------------------------------------------------
// Device page

fn code_form(shared: &Shared, message: &str, status: actix_web::http::StatusCode) -> HttpResponse {
    let body = format!(
        "{message}<form method=\"post\" action=\"/device\"><label for=\"user_code\">Enter the code displayed on \
         your app or device.</label><input type=\"text\" id=\"user_code\" name=\"user_code\" autocomplete=\"off\" \
         autofocus><button class=\"secondary\" type=\"submit\">Next</button></form>"
    );
    page(status, shared, "Enter code", &body)
}

/// `GET /device`: asks for the user code.
pub(crate) async fn device_page(shared: web::Data<Shared>) -> HttpResponse {
    code_form(&shared, "", actix_web::http::StatusCode::OK)
}

/// `POST /device`: with a valid code, shows the user picker; with a user, approves.
pub(crate) async fn device_submit(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let params = parse_params(&body);
    let now = shared.clock.unix_seconds();
    let user_code = param(&params, "user_code").unwrap_or_default();
    let Some(pending) = shared.flows.pending_device(user_code, now) else {
        let message = "<p class=\"error\">That code didn't work. Check the code and try again (codes expire after 15 \
                       minutes and can be used once).</p>";
        return code_form(&shared, message, actix_web::http::StatusCode::BAD_REQUEST);
    };
    let app_name = shared.app(&pending.client_id).map_or(pending.client_id.clone(), |app| app.name.clone());
    if param(&params, "emulator_action") == Some("cancel") {
        shared.flows.decide_device(user_code, None, now);
        let body = format!("<p>You declined to sign in to <b>{}</b> on your device.</p>", HtmlEscape(&app_name));
        return page(actix_web::http::StatusCode::OK, &shared, "Sign-in declined", &body);
    }
    let user = param(&params, "emulator_user").and_then(|oid| shared.users.iter().find(|user| user.oid == oid));
    if let Some(user) = user {
        shared.flows.decide_device(user_code, Some(user.oid.clone()), now);
        let body = format!(
            "<p>{} signed in to <b>{}</b> on your device. You may now close this window.</p>",
            HtmlEscape(&user.username),
            HtmlEscape(&app_name)
        );
        return page(actix_web::http::StatusCode::OK, &shared, "You're signed in", &body);
    }
    let code = hidden("user_code", user_code);
    let mut items = String::new();
    for user in &shared.users {
        items.push_str(&format!(
            "<li><form method=\"post\" action=\"/device\">{code}{}<button type=\"submit\" name=\"emulator_action\" \
             value=\"signin\">{}<small>{}</small></button></form></li>",
            hidden("emulator_user", &user.oid),
            HtmlEscape(&user.name),
            HtmlEscape(&user.username),
        ));
    }
    let body = format!(
        "<p><b>{}</b> wants to sign you in (scopes: {}). Pick an account.</p><ul>{items}</ul><form method=\"post\" \
         action=\"/device\">{code}<button class=\"secondary\" type=\"submit\" name=\"emulator_action\" \
         value=\"cancel\">Cancel</button></form>",
        HtmlEscape(&app_name),
        HtmlEscape(&pending.scope)
    );
    page(actix_web::http::StatusCode::OK, &shared, "Pick an account", &body)
}
