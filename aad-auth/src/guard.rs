//! Authentication and authorization of one request, done once and kept in the request's
//! extensions; plus the extractor and middleware forms of the guards.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::cell::RefCell;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use tokio::sync::OnceCell;

use crate::bearer::{bearer_token, cached_bearer_candidate};
use crate::config::AadAuthConfig;
use crate::error::AuthError;
use crate::groups::GroupsResolver;
use crate::keys::KeyStore;
use crate::policy::{Forbidden, GuardKind, Policy, StaticPolicy, check_app_wide};
use crate::rejection::{AuthRejection, ResponseContext};
use crate::session::Sessions;
use crate::state::AuthenticationState;
use crate::token::{TokenValidator, VerifiedToken};
use crate::ui::Pages;
use crate::user::User;

/// Per-request results, so that a token is validated once however many extractors ask.
#[derive(Default)]
struct RequestAuth {
    bearer: OnceCell<Result<Option<Arc<VerifiedToken>>, AuthError>>,
    session: OnceCell<Result<Option<User>, AuthError>>,
    /// The key of the session's server-side tokens and what its login asked consent for, once
    /// the session was read.
    session_ref: std::cell::OnceCell<SessionRef>,
    authorized: RefCell<Option<AuthenticationState>>,
}

/// A request's login session, for the features that use its server-side tokens.
#[derive(Debug, Clone)]
pub(crate) struct SessionRef {
    pub(crate) sid: String,
    /// The scopes its login asked Entra to consent to, and when (Unix seconds).
    pub(crate) consent_asked: Vec<String>,
    pub(crate) consent_asked_at: i64,
}

/// What the rules decided about an authenticated request.
enum Decision {
    /// Let through.
    Allowed(AuthenticationState),
    /// The route requires a group and the token has a groups overage: only Graph can tell.
    Overage(AuthenticationState),
}

/// The per-request results of every [`Authenticator`] that looked at the request, by
/// instance: two instances (say, two APIs with different audiences in one app) each decide for
/// themselves.
#[derive(Default)]
struct RequestAuths(Vec<(usize, Rc<RequestAuth>)>);

/// The request side of an [`AadAuth`](crate::AadAuth): who made a request and whether a policy
/// lets it through, and how a refusal is answered. Built once by the composition root and
/// registered as app data, where the guards find it.
pub(crate) struct Authenticator {
    config: Arc<AadAuthConfig>,
    validator: TokenValidator,
    sessions: Option<Arc<Sessions>>,
    pages: Option<Arc<Pages>>,
    /// `AAD_GROUPS_OVERAGE=graph`: asks Graph about a caller with a groups overage.
    groups: Option<GroupsResolver>,
    realm: String,
    /// `{authority}/oauth2/v2.0/authorize`, for claims challenges.
    authorize_url: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("realm", &self.realm).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// `sessions` and `pages` are `None` for a bearer-only app, `groups` unless
    /// `AAD_GROUPS_OVERAGE=graph`.
    pub(crate) fn new(
        config: Arc<AadAuthConfig>,
        validator: TokenValidator,
        sessions: Option<Arc<Sessions>>,
        pages: Option<Arc<Pages>>,
        groups: Option<GroupsResolver>,
    ) -> Self {
        let realm =
            if config.api_audience().is_empty() { "aad-auth".to_owned() } else { config.api_audience().to_owned() };
        let authorize_url = format!("{}/oauth2/v2.0/authorize", config.authority());
        Self { config, validator, sessions, pages, groups, realm, authorize_url }
    }

    pub(crate) fn config(&self) -> &AadAuthConfig {
        &self.config
    }

    pub(crate) fn validator(&self) -> &TokenValidator {
        &self.validator
    }

    pub(crate) fn keys(&self) -> &KeyStore {
        self.validator.keys()
    }

    /// This instance's results for `req`, created on first use. Keyed by the instance, so that
    /// two of them guarding one request each decide for themselves.
    fn request_auth(&self, req: &HttpRequest) -> Rc<RequestAuth> {
        let id = std::ptr::from_ref(self).addr();
        let mut extensions = req.extensions_mut();
        if !extensions.contains::<RequestAuths>() {
            extensions.insert(RequestAuths::default());
        }
        let Some(all) = extensions.get_mut::<RequestAuths>() else { return Rc::new(RequestAuth::default()) };
        if let Some((_, existing)) = all.0.iter().find(|(owner, _)| *owner == id) {
            return existing.clone();
        }
        let created = Rc::new(RequestAuth::default());
        all.0.push((id, created.clone()));
        created
    }

    /// The bearer token of the request, validated (once per request).
    async fn request_bearer(
        &self,
        req: &HttpRequest,
        cache: &RequestAuth,
    ) -> Result<Option<Arc<VerifiedToken>>, AuthError> {
        cache
            .bearer
            .get_or_init(|| async {
                // A token seen before is answered before the header is parsed (see
                // `cached_bearer_candidate`); anything else takes the full path.
                if let Some(hit) = cached_bearer_candidate(req).and_then(|raw| self.validator.cached(raw)) {
                    return Ok(Some(hit));
                }
                let Some(token) = bearer_token(req)? else {
                    return Ok(None);
                };
                self.validator.validate(token).await.map(Some).map_err(|error| {
                    tracing::debug!(reason = %error, "bearer token refused");
                    AuthError::from_token(error)
                })
            })
            .await
            .clone()
    }

    /// The session user of the request, if a login session is present (once per request).
    ///
    /// The session store's futures (about 8 KB) are boxed, and only when the session is read:
    /// inline, they would make every guard's future that large, and each bearer request would
    /// copy those 8 KB when actix boxes the handler's extractor future.
    async fn request_session(&self, req: &HttpRequest, cache: &RequestAuth) -> Result<Option<User>, AuthError> {
        let Some(sessions) = &self.sessions else { return Ok(None) };
        cache
            .session
            .get_or_init(|| {
                Box::pin(async {
                    match sessions.read(req).await.map_err(|_| AuthError::SessionUnavailable)? {
                        Some(record) => {
                            // Set once: this closure runs at most once per request.
                            let _ = cache.session_ref.set(SessionRef {
                                sid: record.sid.clone(),
                                consent_asked: record.consent_asked.clone(),
                                consent_asked_at: record.created_at,
                            });
                            Ok(Some(sessions.user_of(record).await))
                        }
                        None => Ok(None),
                    }
                })
            })
            .await
            .clone()
    }

    /// The request's login session (the key of its server-side tokens), when the request comes
    /// with a live one.
    pub(crate) async fn session_ref(&self, req: &HttpRequest) -> Result<Option<SessionRef>, AuthError> {
        let cache = self.request_auth(req);
        self.request_session(req, &cache).await?;
        Ok(cache.session_ref.get().cloned())
    }

    /// The login sessions, unless bearer-only.
    pub(crate) fn sessions(&self) -> Option<&Arc<Sessions>> {
        self.sessions.as_ref()
    }

    /// See [`AadAuth::authenticate`](crate::AadAuth::authenticate).
    pub(crate) async fn authenticate(&self, req: &HttpRequest) -> AuthenticationState {
        let cache = self.request_auth(req);
        if let Some(state) = cache.authorized.borrow().clone() {
            return state;
        }
        if !self.config.enabled() {
            return AuthenticationState::anonymous();
        }
        let state = self.ambient(req, &cache).await;
        match state.user() {
            Some(user) if check_app_wide(user, self.config.roles(), self.config.allow_guests()).is_err() => {
                AuthenticationState::anonymous()
            }
            _ => state,
        }
    }

    async fn ambient(&self, req: &HttpRequest, cache: &RequestAuth) -> AuthenticationState {
        match self.request_bearer(req, cache).await {
            Ok(Some(token)) => return AuthenticationState::from_token(token),
            // A presented token that failed is the caller's answer; the cookie does not count.
            Err(_) => return AuthenticationState::anonymous(),
            Ok(None) => {}
        }
        // A cross-site request that changes state does not get to use the cookie.
        if !crate::csrf::allows_session(&self.config, req) {
            return AuthenticationState::anonymous();
        }
        match self.request_session(req, cache).await {
            Ok(Some(user)) => AuthenticationState::from_session(user),
            // A page that does not require sign-in still renders while the session store is away.
            Ok(None) | Err(_) => AuthenticationState::anonymous(),
        }
    }

    /// See [`AadAuth::authorize`](crate::AadAuth::authorize).
    pub(crate) async fn authorize(&self, req: &HttpRequest, policy: &Policy) -> Result<AuthenticationState, AuthError> {
        let cache = self.request_auth(req);
        if !self.config.enabled() {
            tracing::debug!(path = %req.path(), "AUTH_ENABLED=false: guard bypassed");
            return Ok(AuthenticationState::anonymous());
        }
        let state = match self.request_bearer(req, &cache).await? {
            Some(token) => AuthenticationState::from_token(token),
            None => match policy.allows_session().then_some(()) {
                Some(()) => match self.request_session(req, &cache).await? {
                    Some(_) if !crate::csrf::allows_session(&self.config, req) => {
                        tracing::info!(path = %req.path(), "cross-origin request with the session cookie refused");
                        return Err(AuthError::CrossOriginRequest);
                    }
                    Some(user) => AuthenticationState::from_session(user),
                    None => return Err(missing(policy, req)),
                },
                None => return Err(missing(policy, req)),
            },
        };
        // `state` is only moved here, never borrowed: a local borrowed before an await is kept in
        // the future across it, and this future is copied whole on every bearer request (when
        // actix boxes the extractor), so the overage's await must not make it larger.
        match self.decide(state, policy, req)? {
            Decision::Allowed(state) => {
                *cache.authorized.borrow_mut() = Some(state.clone());
                Ok(state)
            }
            Decision::Overage(state) => self.authorize_overage(state, policy, req, cache).await,
        }
    }

    /// The app-wide rules, then the policy, then its authentication context, for an authenticated
    /// (or anonymous) `state`.
    fn decide(&self, state: AuthenticationState, policy: &Policy, req: &HttpRequest) -> Result<Decision, AuthError> {
        if let Some(user) = state.user() {
            check_app_wide(user, self.config.roles(), self.config.allow_guests()).map_err(AuthError::Forbidden)?;
        }
        match policy.check(&state) {
            Ok(()) => match policy.missing_auth_context(&state) {
                Some(challenge) => Err(step_up(policy, &state, req, challenge)),
                None => Ok(Decision::Allowed(state)),
            },
            Err(Forbidden::GroupsOverage) => Ok(Decision::Overage(state)),
            Err(refused) => Err(AuthError::Forbidden(refused)),
        }
    }

    /// The end of [`Authenticator::authorize`] for a groups overage on a route that requires
    /// groups: with `AAD_GROUPS_OVERAGE=graph`, Graph decides; without, the overage is refused.
    /// A member still needs the route's authentication context, as in [`Authenticator::decide`].
    fn authorize_overage<'a>(
        &'a self,
        state: AuthenticationState,
        policy: &'a Policy,
        req: &'a HttpRequest,
        cache: Rc<RequestAuth>,
    ) -> LocalBoxFuture<'a, Result<AuthenticationState, AuthError>> {
        Box::pin(async move {
            let lookup = match (&self.groups, state.user()) {
                (Some(groups), Some(user)) => groups.is_member(user, policy.required_groups()),
                _ => return Err(AuthError::Forbidden(Forbidden::GroupsOverage)),
            };
            match lookup.await {
                Ok(true) => {
                    if let Some(challenge) = policy.missing_auth_context(&state) {
                        return Err(step_up(policy, &state, req, challenge));
                    }
                    *cache.authorized.borrow_mut() = Some(state.clone());
                    Ok(state)
                }
                Ok(false) => Err(AuthError::Forbidden(Forbidden::MissingGroup)),
                Err(unavailable) => Err(AuthError::GroupsUnavailable { retry_after: unavailable.retry_after }),
            }
        })
    }

    /// The response for an authentication error on this request.
    pub(crate) fn error_response(&self, error: &AuthError, req: &HttpRequest) -> HttpResponse {
        let step_up_url = self.config.routes().oauth_login();
        // Only a 401 names the metadata; it depends on the request's origin unless configured.
        let resource_metadata = (error.status() == actix_web::http::StatusCode::UNAUTHORIZED)
            .then(|| crate::protected_resource::location::metadata_url_for(&self.config, req));
        let context = ResponseContext {
            realm: &self.realm,
            login_url: &self.config.routes().login_ui,
            step_up_url: &step_up_url,
            authorize_url: &self.authorize_url,
            client_id: self.config.client_id(),
            resource_metadata,
            pages: self.pages.as_deref(),
        };
        crate::rejection::respond(error, req, &context)
    }

    /// The typed error a guard rejects `req` with.
    pub(crate) fn reject(&self, req: &HttpRequest, error: AuthError) -> actix_web::Error {
        self.rejection(req, error).into()
    }

    /// [`Authenticator::reject`] as the typed error itself.
    pub(crate) fn rejection(&self, req: &HttpRequest, error: AuthError) -> AuthRejection {
        let response = self.error_response(&error, req);
        AuthRejection::new(error, response)
    }
}

/// No credential: browsers on pages go to the login UI; API clients (and non-browser callers of
/// pages, chosen by `Accept`) get a 401 challenge.
fn missing(policy: &Policy, req: &HttpRequest) -> AuthError {
    match policy.kind() {
        GuardKind::Page if crate::rejection::prefers_html(req) => AuthError::LoginRequired,
        GuardKind::Page | GuardKind::Api => AuthError::MissingCredentials,
    }
}

/// A sign-in without a required authentication context: a browser session on a page goes
/// through the login again (asking Entra for the context); everyone else gets the claims
/// challenge. A bearer-only app has no login to send the browser to.
fn step_up(
    policy: &Policy,
    state: &AuthenticationState,
    req: &HttpRequest,
    challenge: &crate::step_up::ClaimsChallenge,
) -> AuthError {
    let session = state.source() == Some(crate::state::AuthSource::Session);
    match policy.kind() {
        GuardKind::Page if session && crate::rejection::prefers_html(req) => {
            AuthError::StepUpRequired(challenge.clone())
        }
        GuardKind::Page | GuardKind::Api => AuthError::InsufficientClaims(challenge.clone()),
    }
}

/// The rejection of a guard on an app without [`AadAuth::configure`](crate::AadAuth::configure).
pub(crate) fn not_configured() -> actix_web::Error {
    tracing::error!("aad-auth guard used on an app without AadAuth::configure; answering 500");
    AuthRejection::new(AuthError::NotConfigured, HttpResponse::InternalServerError().finish()).into()
}

/// The request side of the app's `AadAuth`, registered by `AadAuth::configure`.
fn app_auth(req: &HttpRequest) -> Option<web::Data<Authenticator>> {
    req.app_data::<web::Data<Authenticator>>().cloned()
}

impl FromRequest for AuthenticationState {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match app_auth(&req) {
                Some(auth) => Ok(auth.authenticate(&req).await),
                None => Err(not_configured()),
            }
        })
    }
}

/// An extractor that enforces the policy `P` and yields the [`AuthenticationState`].
///
/// This is what the guard macros inject; use it directly to avoid macros:
///
/// ```
/// use aad_auth::{Authorized, Policy, StaticPolicy};
/// use std::sync::LazyLock;
///
/// struct Admins;
/// impl StaticPolicy for Admins {
///     fn policy() -> &'static Policy {
///         static POLICY: LazyLock<Policy> = LazyLock::new(|| Policy::api().roles(["Admin"]));
///         &POLICY
///     }
/// }
///
/// async fn admin(auth: Authorized<Admins>) -> String {
///     format!("hello {}", auth.user().map(|u| u.display_name()).unwrap_or("?"))
/// }
/// ```
pub struct Authorized<P: StaticPolicy> {
    state: AuthenticationState,
    policy: PhantomData<fn() -> P>,
}

impl<P: StaticPolicy> Authorized<P> {
    /// The authenticated state.
    pub fn into_inner(self) -> AuthenticationState {
        self.state
    }
}

impl<P: StaticPolicy> Deref for Authorized<P> {
    type Target = AuthenticationState;

    fn deref(&self) -> &AuthenticationState {
        &self.state
    }
}

impl<P: StaticPolicy> std::fmt::Debug for Authorized<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Authorized").field(&self.state).finish()
    }
}

impl<P: StaticPolicy> Authorized<P> {
    async fn authorize(req: &HttpRequest) -> Result<Self, actix_web::Error> {
        let Some(auth) = app_auth(req) else {
            return Err(not_configured());
        };
        match auth.authorize(req, P::policy()).await {
            Ok(state) => Ok(Self { state, policy: PhantomData }),
            Err(error) => Err(auth.reject(req, error)),
        }
    }
}

/// As the first argument of a handler, the request body is held back until the guard has
/// decided: actix polls every extractor of a handler together, so without the gate a JSON or
/// form extractor after it would read (and parse) the body of a request the guard then refuses,
/// whenever the guard has to wait (a key fetch, a Redis session). An extractor *before*
/// `Authorized<P>` takes the body first; the gate cannot hold that back.
impl<P: StaticPolicy> FromRequest for Authorized<P> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let opened = match payload.take() {
            Payload::None => None,
            body => {
                let (open, gate) = tokio::sync::oneshot::channel();
                *payload = Payload::Stream { payload: Box::pin(GatedBody { gate: Some(gate), body }) };
                Some(open)
            }
        };
        Box::pin(async move {
            let authorized = Self::authorize(&req).await?;
            if let Some(open) = opened {
                let _ = open.send(());
            }
            Ok(authorized)
        })
    }
}

/// A request body that yields nothing until its gate opens; a gate dropped unopened (the guard
/// refused) ends it empty.
struct GatedBody {
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
    body: Payload,
}

impl futures_util::Stream for GatedBody {
    type Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if let Some(gate) = self.gate.as_mut() {
            match std::pin::Pin::new(gate).poll(cx) {
                std::task::Poll::Pending => return std::task::Poll::Pending,
                std::task::Poll::Ready(Err(_)) => return std::task::Poll::Ready(None),
                std::task::Poll::Ready(Ok(())) => self.gate = None,
            }
        }
        std::pin::Pin::new(&mut self.body).poll_next(cx)
    }
}

/// What the guard macros inject: the guard of `P` first, and only once it has let the request
/// through, the handler's other extractors `Rest` (a tuple), which then get the body. A refused
/// request runs none of them and its body is never read.
#[doc(hidden)]
pub struct Guarded<P: StaticPolicy, Rest> {
    authorized: Authorized<P>,
    rest: Rest,
}

impl<P: StaticPolicy, Rest> Guarded<P, Rest> {
    /// The guard's result and the other extractors' values.
    pub fn into_parts(self) -> (Authorized<P>, Rest) {
        (self.authorized, self.rest)
    }
}

impl<P: StaticPolicy, Rest> std::fmt::Debug for Guarded<P, Rest> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded").field("authorized", &self.authorized).finish_non_exhaustive()
    }
}

impl<P: StaticPolicy, Rest: FromRequest + 'static> FromRequest for Guarded<P, Rest> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut body = payload.take();
        Box::pin(async move {
            let authorized = Authorized::<P>::authorize(&req).await?;
            let rest = Rest::from_request(&req, &mut body).await.map_err(Into::into)?;
            Ok(Self { authorized, rest })
        })
    }
}

/// Middleware enforcing a [`Policy`] on every route of a scope or resource; handlers behind it
/// take [`AuthenticationState`] as usual.
///
/// ```no_run
/// use aad_auth::{AuthenticationState, Policy, RequireAuth};
/// use actix_web::{web, App};
///
/// let app = App::new().service(
///     web::scope("/api")
///         .wrap(RequireAuth::new(Policy::api().scopes(["user_impersonation"])))
///         .route("/hello", web::get().to(|auth: AuthenticationState| async move {
///             format!("{:?}", auth.user().map(|u| &u.oid))
///         })),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct RequireAuth {
    policy: Rc<Policy>,
}

impl RequireAuth {
    /// Guards with `policy`.
    pub fn new(policy: Policy) -> Self {
        Self { policy: Rc::new(policy) }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireAuthService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireAuthService { service: Rc::new(service), policy: self.policy.clone() }))
    }
}

/// The service [`RequireAuth`] wraps around a route (named by actix's `Transform`; not used
/// directly).
#[doc(hidden)]
#[derive(Debug)]
pub struct RequireAuthService<S> {
    service: Rc<S>,
    policy: Rc<Policy>,
}

impl<S, B> Service<ServiceRequest> for RequireAuthService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            let outcome = {
                // The clone must be gone before the inner service runs: routing needs the
                // request uniquely owned.
                let http = req.request().clone();
                match app_auth(&http) {
                    Some(auth) => auth.authorize(&http, &policy).await.map_err(|e| auth.reject(&http, e)),
                    None => Err(not_configured()),
                }
            };
            match outcome {
                Ok(_) => service.call(req).await.map(ServiceResponse::map_into_left_body),
                // The rejection stays attached, so that error handlers can see why.
                Err(rejection) => Ok(req.error_response(rejection).map_into_right_body()),
            }
        })
    }
}
