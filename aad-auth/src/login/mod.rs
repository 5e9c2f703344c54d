//! The browser login: the login page, authorization code + PKCE with state and nonce, the
//! callback, logout, the user page and its token route, and the login UI's assets.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

mod grant;
mod middleware;
mod oidc;
mod transaction;

use std::sync::Arc;

use actix_session::{Session, SessionExt as _};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::guard::Authenticator;
use crate::log_safe::clip;
use crate::policy::{Forbidden, Policy, check_app_wide};
use crate::redirect::sanitize;
use crate::session::{SessionRecord, Sessions, TokenEntry, USER_KEY, random_id};
use crate::step_up::ClaimsChallenge;
use crate::ui::{ErrorView, LoginView, LogoutView, Pages, SignedInView, SignedOutView, UserView};
use transaction::Transaction;

/// Query values longer than this are refused before any lookup (authorization codes and states
/// are a few hundred bytes).
const MAX_PARAM_LEN: usize = 4096;
/// An access token this close to expiry is refreshed before `/me/token` hands it out.
const REFRESH_MARGIN_SECONDS: i64 = 60;

/// The browser-login layer, built once and registered as app data for its routes.
pub(crate) struct Login {
    /// The request side, for the user page's guard and the error responses.
    auth: web::Data<Authenticator>,
    sessions: Arc<Sessions>,
    pages: Arc<Pages>,
    http: reqwest::Client,
    /// States already redeemed, so that a copied transaction cookie cannot replay a callback.
    consumed: quick_cache::sync::Cache<String, ()>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("sessions", &self.sessions).finish_non_exhaustive()
    }
}

impl Login {
    /// `http` calls the token endpoint (no redirects).
    pub(crate) fn new(
        auth: web::Data<Authenticator>,
        sessions: Arc<Sessions>,
        pages: Arc<Pages>,
        http: reqwest::Client,
    ) -> Self {
        if !grant::scopes_name_this_api(auth.config()) {
            tracing::warn!(
                scopes = ?auth.config().scopes(),
                "AAD_SCOPES asks for a token of another resource: browser sessions carry no scopes, so \
                 allow_session guards with scopes(..) refuse them"
            );
        }
        Self { auth, sessions, pages, http, consumed: quick_cache::sync::Cache::new(100_000) }
    }
}

/// Mounts the login routes; each is wrapped in the session middleware.
pub(crate) fn configure(cfg: &mut ServiceConfig, login: &Login) {
    let routes = login.auth.config().routes().clone();
    // The session middleware inside, our wrapper (503 while Redis is away; development cookies)
    // outside it, so that the wrapper sees the cookies the middleware sets.
    let session = || login.sessions.middleware();
    let outer = || actix_web::middleware::from_fn(middleware::session_route);
    cfg.service(web::resource(routes.login_ui.clone()).wrap(session()).wrap(outer()).route(web::get().to(login_page)))
        .service(web::resource(routes.oauth_login()).wrap(session()).wrap(outer()).route(web::get().to(start)))
        .service(web::resource(routes.oauth_callback()).wrap(session()).wrap(outer()).route(web::get().to(callback)))
        .service(
            web::resource(routes.logout.clone())
                .wrap(session())
                .wrap(outer())
                .route(web::get().to(logout_confirm))
                .route(web::post().to(logout)),
        )
        .service(
            web::resource(format!("{}/{{asset:.*}}", routes.static_path.trim_end_matches('/')))
                .route(web::get().to(static_asset)),
        );
    if let (Some(user), Some(token)) = (routes.user.clone(), routes.user_token()) {
        cfg.service(web::resource(user).wrap(session()).wrap(outer()).route(web::get().to(user_page)))
            .service(web::resource(token).wrap(session()).wrap(outer()).route(web::get().to(user_token)));
    }
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn login_route_exclusions(auth: &Authenticator) -> Vec<String> {
    let routes = auth.config().routes();
    vec![routes.login_ui.clone(), routes.oauth_base.clone(), routes.logout.clone()]
}

/// The checked post-login target from `?redirect=`.
fn target(auth: &Authenticator, req: &HttpRequest) -> String {
    let excluded = login_route_exclusions(auth);
    let excluded: Vec<&str> = excluded.iter().map(String::as_str).collect();
    let requested = query_param(req, "redirect");
    sanitize(requested.as_deref(), &excluded, &auth.config().routes().home).to_owned()
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn error_page(login: &Login, status: StatusCode, title: &str, description: &str) -> HttpResponse {
    let routes = login.auth.config().routes();
    let view = ErrorView {
        status: status.as_u16(),
        title,
        description,
        login_url: Some(&routes.login_ui),
        home_url: &routes.home,
    };
    login.pages.html_response(status, login.pages.render_error(&view))
}

/// The live session record of a request to one of the crate's routes (a use of the session).
/// A store failure has already marked the request, which then answers 503
/// (`session::session_route`).
async fn record_of(session: &Session, sessions: &Sessions) -> Option<SessionRecord> {
    let record = session.get::<SessionRecord>(USER_KEY).ok().flatten()?;
    sessions.use_record(record).await.ok().flatten()
}

async fn login_page(req: HttpRequest, login: web::Data<Login>) -> HttpResponse {
    let auth = &login.auth;
    let routes = auth.config().routes();
    if record_of(&req.get_session(), &login.sessions).await.is_some() {
        return redirect(&routes.home);
    }
    let target = target(auth, &req);
    let login_url = format!(
        "{}?redirect={}",
        routes.oauth_login(),
        url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
    );
    // Only fixed messages: the `error` parameter is attacker-controlled.
    let error = match query_param(&req, "error").as_deref() {
        Some("session_expired") => Some("Your session has ended. Please sign in again."),
        Some(_) => Some("Sign-in did not complete. Please try again."),
        None => None,
    };
    let view = LoginView { login_url: &login_url, error, explanation: None, copyright: None };
    login.pages.html_response(StatusCode::OK, login.pages.render_login(&view))
}

async fn start(req: HttpRequest, login: web::Data<Login>) -> HttpResponse {
    let auth = &login.auth;
    let config = auth.config();
    let metadata = match auth.keys().ensure_loaded().await {
        true => auth.keys().metadata(),
        false => None,
    };
    let Some(metadata) = metadata else {
        return error_page(
            &login,
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in unavailable",
            "The identity provider cannot be reached right now. Please try again in a moment.",
        );
    };
    let target = target(auth, &req);
    // A step-up (a page that needs an authentication context): the claims request is built
    // here from ids that must each be c1..c99, never taken from the caller as JSON.
    let challenge = match query_param(&req, "auth_context") {
        None => None,
        Some(ids) => match ClaimsChallenge::new(ids.split(',').map(str::trim)) {
            Some(challenge) => Some(challenge),
            None => {
                return error_page(
                    &login,
                    StatusCode::BAD_REQUEST,
                    "Sign-in failed",
                    "The requested authentication context is not valid.",
                );
            }
        },
    };
    // Incremental consent (a page whose downstream token needs the user's consent): the
    // scopes go to Entra, which asks the user; only well-formed scope strings are passed on.
    let Some(extra_scopes) = consent_scopes(query_param(&req, "scope").as_deref()) else {
        return error_page(&login, StatusCode::BAD_REQUEST, "Sign-in failed", "The requested scopes are not valid.");
    };
    let redirect_uri = crate::public_origin::redirect_uri(config, &req);
    let claims = challenge.as_ref().map(ClaimsChallenge::claims_json);
    let authorization = match oidc::authorize(config, &metadata, &redirect_uri, claims, &extra_scopes) {
        Ok(authorization) => authorization,
        Err(reason) => {
            tracing::error!(%reason, "cannot build the authorize request");
            return error_page(
                &login,
                StatusCode::BAD_GATEWAY,
                "Sign-in unavailable",
                "The identity provider's configuration is not usable.",
            );
        }
    };
    tracing::debug!(redirect_uri = %redirect_uri, "starting a login");
    let mut pending = transaction::pending(&req, &login.sessions);
    pending.push(Transaction {
        state: authorization.state,
        nonce: authorization.nonce,
        verifier: authorization.verifier,
        redirect_uri,
        target,
        created_at: login.sessions.now(),
        auth_context: challenge.map(|challenge| challenge.ids().to_vec()).unwrap_or_default(),
        consent_scopes: extra_scopes,
    });
    HttpResponse::Found()
        .insert_header((header::LOCATION, authorization.url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(transaction::cookie(&login.sessions, pending, &config.routes().oauth_base))
        .finish()
}

/// At most this many scopes are asked for at once, each at most this long.
const MAX_CONSENT_SCOPES: usize = 10;
const MAX_SCOPE_LEN: usize = 256;

/// The scopes of a login's `scope` parameter (space-separated): `None` when there are too many,
/// or one is too long or has a character no scope has (scopes are URIs or names: letters,
/// digits and `-._~:/`).
fn consent_scopes(value: Option<&str>) -> Option<Vec<String>> {
    let Some(value) = value else { return Some(Vec::new()) };
    let scopes: Vec<String> = value.split_ascii_whitespace().map(str::to_owned).collect();
    let well_formed = |scope: &String| {
        scope.len() <= MAX_SCOPE_LEN
            && scope.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'/'))
    };
    (scopes.len() <= MAX_CONSENT_SCOPES && scopes.iter().all(well_formed)).then_some(scopes)
}

/// The callback: every check that does not need the identity provider runs before the code is
/// redeemed, and nothing is stored until the id_token has been validated.
async fn callback(req: HttpRequest, session: Session, login: web::Data<Login>) -> HttpResponse {
    let auth = &login.auth;
    let bad = |description: &str| error_page(&login, StatusCode::BAD_REQUEST, "Sign-in failed", description);
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    if params.iter().any(|(_, value)| value.len() > MAX_PARAM_LEN) {
        return bad("The sign-in response is malformed.");
    }
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let mut pending = transaction::pending(&req, &login.sessions);
    let matched = param("state").and_then(|state| pending.iter().position(|tx| tx.state == state));
    let cookie_path = auth.config().routes().oauth_base.clone();
    let with_cookie = |mut response: HttpResponse, pending: Vec<Transaction>| {
        let _ = response.add_cookie(&transaction::cookie(&login.sessions, pending, &cookie_path));
        no_referrer(response)
    };

    if let Some(error) = param("error") {
        tracing::info!(error = %clip(error), "the identity provider returned an error to the callback");
        if let Some(index) = matched {
            pending.remove(index);
        }
        let response = bad("The sign-in was cancelled or refused by the identity provider.");
        return with_cookie(response, pending);
    }
    let (Some(code), Some(_)) = (param("code"), param("state")) else {
        return no_referrer(bad("The sign-in response is incomplete."));
    };
    let Some(index) = matched else {
        return no_referrer(bad(
            "This sign-in response does not belong to a sign-in started in this browser, or it has expired.",
        ));
    };
    let tx = pending.remove(index);
    if login.consumed.get(&tx.state).is_some() {
        return with_cookie(bad("This sign-in response has already been used."), pending);
    }
    login.consumed.insert(tx.state.clone(), ());
    // Behind a load balancer the login may have started on another instance while this one is
    // still loading discovery: wait for it as the login route does.
    auth.keys().ensure_loaded().await;
    let Some(metadata) = auth.keys().metadata() else {
        return with_cookie(
            error_page(
                &login,
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in unavailable",
                "The identity provider cannot be reached right now.",
            ),
            pending,
        );
    };
    // RFC 9207: when the provider names itself, it must be the expected issuer.
    if let Some(iss) = param("iss")
        && let Some(policy) = auth.keys().issuer_policy()
        && !policy.is_issuer_of_some_tenant(iss)
    {
        return with_cookie(bad("The sign-in response came from an unexpected identity provider."), pending);
    }

    let tokens =
        match oidc::exchange_code(auth.config(), &metadata, &login.http, code, &tx.verifier, &tx.redirect_uri).await {
            Ok(tokens) => tokens,
            Err(oidc::ExchangeError::Refused(error)) => {
                tracing::info!(error = %clip(&error), "the token endpoint refused the authorization code");
                return with_cookie(bad("The sign-in could not be completed. Please try again."), pending);
            }
            Err(oidc::ExchangeError::Upstream(reason)) => {
                tracing::warn!(%reason, "the token endpoint failed");
                let response = error_page(
                    &login,
                    StatusCode::BAD_GATEWAY,
                    "Sign-in failed",
                    "The identity provider did not complete the sign-in. Please try again.",
                );
                return with_cookie(response, pending);
            }
        };
    let Some(id_token) = tokens.id_token.as_deref() else {
        tracing::warn!("the token response has no id_token");
        return with_cookie(
            error_page(
                &login,
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                "The identity provider did not identify the user.",
            ),
            pending,
        );
    };
    let claims = match auth.validator().validate_id_token(id_token, &tx.nonce).await {
        Ok(claims) => claims,
        Err(error) => {
            tracing::warn!(reason = %error, "id_token refused at login");
            return with_cookie(bad("The sign-in response could not be verified."), pending);
        }
    };
    let mut user = claims.user;
    grant::apply_access_token(auth, &tokens.access_token, &mut user).await;
    if let Err(reason) = check_app_wide(&user, auth.config().roles(), auth.config().allow_guests()) {
        let response = error_page(&login, StatusCode::FORBIDDEN, "Access denied", forbidden_text(reason));
        return with_cookie(response, pending);
    }

    // A new session id at the privilege change (session fixation).
    session.renew();
    let sid = random_id();
    let bound = tokens.refresh_token.is_none().then_some(claims.expires_at);
    let (mut record, groups) = login.sessions.record_for(sid.clone(), user, bound);
    record.consent_asked.clone_from(&tx.consent_scopes);
    let now = login.sessions.now();
    let entry = TokenEntry {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: now.saturating_add(i64::try_from(tokens.expires_in.unwrap_or(3600)).unwrap_or(3600)),
        scope: tokens.scope,
        groups,
        session_expires_at: record.expires_at,
        downstream: Vec::new(),
    };
    if session.insert(USER_KEY, &record).is_err() {
        return with_cookie(HttpResponse::InternalServerError().finish(), pending);
    }
    login.sessions.tokens.put(&sid, entry).await;
    login.sessions.start(&record).await;
    tracing::info!(oid = %record.user.oid, tid = %record.user.tid, "signed in");
    // A step-up whose token still lacks the context (no Conditional Access policy issues it, or
    // the provider ignored the claims): going back to the page would send the browser round
    // again, forever. Signed in, but stopped here with the reason.
    if !tx.auth_context.is_empty() && !tx.auth_context.iter().any(|id| record.user.has_auth_context(id)) {
        tracing::warn!(
            required = ?tx.auth_context,
            "the step-up login's token has none of the requested authentication contexts (acrs); is a Conditional \
             Access policy targeting them, and is the context published to apps?"
        );
        let response = error_page(
            &login,
            StatusCode::FORBIDDEN,
            "Stronger sign-in not obtained",
            "This page needs a stronger sign-in (a Conditional Access authentication context), and the sign-in \
             that just completed did not provide it. Contact the administrator of this application.",
        );
        return with_cookie(response, pending);
    }
    with_cookie(continue_to(&login, &tx.target), pending)
}

/// The end of a successful login. A `SameSite=Strict` session cookie is not sent on a redirect
/// chain that began on Entra's site, so then the browser gets a page that navigates on by itself
/// (a same-site navigation, which sends it); otherwise a plain redirect.
fn continue_to(login: &Login, target: &str) -> HttpResponse {
    if login.sessions.same_site() == actix_web::cookie::SameSite::Strict {
        let page = login.pages.render_signed_in(&SignedInView { target_url: target });
        login.pages.html_response(StatusCode::OK, page)
    } else {
        redirect(target)
    }
}

fn forbidden_text(reason: Forbidden) -> &'static str {
    match reason {
        Forbidden::Guest => "Guest accounts cannot sign in to this application.",
        _ => "Your account does not have a role this application requires.",
    }
}

/// The callback page must not leak the code or state through `Referer`.
fn no_referrer(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn logout_confirm(session: Session, login: web::Data<Login>) -> HttpResponse {
    let auth = &login.auth;
    let routes = auth.config().routes();
    let record = record_of(&session, &login.sessions).await;
    let view = LogoutView {
        logout_url: &routes.logout,
        cancel_url: &routes.home,
        user_name: record.as_ref().map(|r| r.user.display_name()),
        csrf_token: None,
    };
    login.pages.html_response(StatusCode::OK, login.pages.render_logout_confirm(&view))
}

/// POST logout: ends the session and its cached tokens, then Entra's session (a provider without
/// an end-session endpoint gets the signed-out page instead). Cross-site posts are refused (the
/// SameSite cookie is not sent on them anyway).
async fn logout(req: HttpRequest, session: Session, login: web::Data<Login>) -> HttpResponse {
    let auth = &login.auth;
    let config = auth.config();
    let base = crate::public_origin::public_base(config, &req);
    if !crate::csrf::allows_session(config, &req) {
        return error_page(
            &login,
            StatusCode::FORBIDDEN,
            "Sign-out refused",
            "Sign-out requests must come from this site.",
        );
    }
    if let Ok(Some(record)) = session.get::<SessionRecord>(USER_KEY) {
        login.sessions.end(&record).await;
        tracing::info!(oid = %record.user.oid, "signed out");
    }
    session.purge();
    let routes = config.routes();
    // Just after start-up the discovery document may still be on its way.
    auth.keys().ensure_loaded().await;
    let Some(mut end_session) = auth.keys().metadata().and_then(|m| m.end_session_endpoint.clone()) else {
        // A provider without an end-session endpoint (or unreachable): the session here is over
        // but the provider's is not, which the page says, rather than a silent redirect.
        let view = SignedOutView { login_url: &routes.login_ui, home_url: &routes.home };
        return login.pages.html_response(StatusCode::OK, login.pages.render_signed_out(&view));
    };
    end_session
        .query_pairs_mut()
        .append_pair("post_logout_redirect_uri", &format!("{base}{}", routes.post_logout))
        .append_pair("client_id", config.client_id());
    redirect(end_session.as_str())
}

async fn user_page(req: HttpRequest, login: web::Data<Login>) -> HttpResponse {
    let auth = &login.auth;
    let state = match auth.authorize(&req, &Policy::page()).await {
        Ok(state) => state,
        Err(error) => return auth.error_response(&error, &req),
    };
    let routes = auth.config().routes();
    let Some(user) = state.user() else { return redirect(&routes.home) };
    let token_url = routes.user_token();
    let view = UserView {
        user,
        token_url: (state.source() == Some(crate::AuthSource::Session)).then_some(token_url.as_deref()).flatten(),
        logout_url: &routes.logout,
        home_url: &routes.home,
        csrf_token: None,
    };
    login.pages.html_response(StatusCode::OK, login.pages.render_user(&view))
}

/// The signed-in user's access token, refreshed when it is about to expire.
async fn user_token(req: HttpRequest, session: Session, login: web::Data<Login>) -> HttpResponse {
    let auth = &login.auth;
    let config = auth.config();
    let login_url = format!(
        "{}?redirect={}",
        config.routes().login_ui,
        url::form_urlencoded::byte_serialize(config.routes().user.as_deref().unwrap_or("/").as_bytes())
            .collect::<String>()
    );
    let login_required = |description: &str| {
        HttpResponse::Unauthorized()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "error": "login_required", "error_description": description, "status": 401, "login_url": login_url }))
    };
    let Some(record) = record_of(&session, &login.sessions).await else {
        return login_required("Sign in to get a token.");
    };
    let Some(mut entry) = login.sessions.tokens.get(&record.sid).await else {
        return login_required("This session's tokens are no longer available; sign in again.");
    };
    let now = login.sessions.now();
    if entry.expires_at.saturating_sub(REFRESH_MARGIN_SECONDS) <= now {
        let (Some(refresh_token), Some(metadata)) = (entry.refresh_token.clone(), auth.keys().metadata()) else {
            return login_required("The token has expired; sign in again.");
        };
        let redirect_uri = crate::public_origin::redirect_uri(config, &req);
        match oidc::refresh(config, &metadata, &login.http, &refresh_token, &redirect_uri).await {
            Ok(tokens) => {
                entry.access_token = tokens.access_token;
                entry.refresh_token = tokens.refresh_token.or(Some(refresh_token));
                entry.expires_at = now.saturating_add(i64::try_from(tokens.expires_in.unwrap_or(3600)).unwrap_or(3600));
                if !tokens.scope.is_empty() {
                    entry.scope = tokens.scope;
                }
                login.sessions.tokens.put(&record.sid, entry.clone()).await;
                // The session's authorization follows the refreshed token (groups stay as they
                // were stored at login).
                let mut refreshed = record.clone();
                let (groups, overage) = (refreshed.user.groups.clone(), refreshed.user.groups_overage);
                if grant::apply_access_token(auth, &entry.access_token, &mut refreshed.user).await {
                    (refreshed.user.groups, refreshed.user.groups_overage) = (groups, overage);
                    if session.insert(USER_KEY, &refreshed).is_err() {
                        tracing::warn!("the session's refreshed authorization could not be stored");
                    }
                }
            }
            Err(error) => {
                tracing::info!(?error, "refreshing the session's token failed");
                return login_required("The token could not be refreshed; sign in again.");
            }
        }
    }
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(json!({
        "token_type": "Bearer",
        "access_token": entry.access_token,
        "expires_in": entry.expires_at.saturating_sub(now).max(0),
        "expires_on": entry.expires_at,
        "scope": entry.scope,
    }))
}

async fn static_asset(req: HttpRequest, login: web::Data<Login>) -> HttpResponse {
    let asset = req.match_info().get("asset").unwrap_or_default().to_owned();
    login.pages.static_response(&asset)
}
