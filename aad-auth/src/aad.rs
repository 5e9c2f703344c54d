//! `AadAuth`: the one object an app builds and mounts, and the composition root: it builds the
//! request side (`guard::Authenticator`), the browser login (`login::Login`) and the docs
//! (`openapi::Docs`), and `configure` registers each as app data next to its routes. Nothing
//! below imports this module.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use crate::authority::Authority;
use crate::clock::{self, SharedClock};
use crate::config::AadAuthConfig;
use crate::downstream::Downstream;
use crate::error::{AuthError, Error};
use crate::groups::GroupsResolver;
use crate::guard::Authenticator;
use crate::keys::{KeyStore, KeyStoreTiming};
use crate::login::Login;
use crate::policy::Policy;
use crate::protected_resource::ProtectedResource;
use crate::session::Sessions;
use crate::state::AuthenticationState;
use crate::token::{TokenCacheConfig, TokenError, TokenValidator, VerifiedToken};
use crate::ui::Pages;

struct Inner {
    auth: web::Data<Authenticator>,
    resource: web::Data<ProtectedResource>,
    downstream: web::Data<Downstream>,
    login: Option<web::Data<Login>>,
    #[cfg(feature = "openapi")]
    docs: Option<web::Data<crate::openapi::Docs>>,
}

/// Entra ID authentication for an Actix-web app: configuration, signing keys, the token
/// validator and (unless bearer-only) the browser login. Cheap to clone; build it once, before
/// `HttpServer::new`, so that every worker shares one key cache.
///
/// ```no_run
/// use aad_auth::{AadAuth, AuthenticationState, api_auth_required};
/// use actix_web::{App, HttpServer, Responder, get};
///
/// #[get("/hello")]
/// #[api_auth_required(scopes("user_impersonation"))]
/// async fn hello(auth_state: AuthenticationState) -> impl Responder {
///     format!("hello {}", auth_state.user().map(|u| u.display_name()).unwrap_or_default())
/// }
///
/// #[actix_web::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let auth = AadAuth::bearer_only(aad_auth::AadAuthConfig::from_env()?)?;
///     HttpServer::new(move || App::new().configure(auth.configure()).service(hello))
///         .bind(("127.0.0.1", 8000))?
///         .run()
///         .await?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct AadAuth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AadAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AadAuth").field("config", self.config()).finish_non_exhaustive()
    }
}

/// Options beyond the configuration: bearer-only, the OpenAPI document, the token cache's
/// bounds, and (for tests and soak runs) the clock and the key store's timing.
#[must_use]
pub struct AadAuthBuilder {
    config: AadAuthConfig,
    clock: SharedClock,
    bearer_only: bool,
    token_cache: TokenCacheConfig,
    key_store_timing: Option<KeyStoreTiming>,
    http_timeout: Duration,
    groups_cache_capacity: usize,
    #[cfg(feature = "openapi")]
    openapi: Option<utoipa::openapi::OpenApi>,
}

impl std::fmt::Debug for AadAuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AadAuthBuilder")
            .field("config", &self.config)
            .field("bearer_only", &self.bearer_only)
            .field("token_cache", &self.token_cache)
            .field("http_timeout", &self.http_timeout)
            .field("groups_cache_capacity", &self.groups_cache_capacity)
            .finish_non_exhaustive()
    }
}

impl AadAuthBuilder {
    /// Reads every time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Bounds of the verified-token cache (default: 100,000 tokens, 64 MiB;
    /// [`TokenCacheConfig::disabled`] turns it off).
    pub fn token_cache(mut self, token_cache: TokenCacheConfig) -> Self {
        self.token_cache = token_cache;
        self
    }

    /// The key store's timing (lifetime, stale window, unknown-`kid` cooldown, retry backoff),
    /// replacing what `AAD_JWKS_CACHE_TTL` and `AAD_JWKS_STALE_TTL` set. For tests and soak runs
    /// that need a short time scale; production leaves it to the configuration.
    pub fn key_store_timing(mut self, timing: KeyStoreTiming) -> Self {
        self.key_store_timing = Some(timing);
        self
    }

    /// How many groups-overage answers from Microsoft Graph are kept at most (default 10,000,
    /// about 100 bytes each; past it the oldest goes first). Only used with
    /// `AAD_GROUPS_OVERAGE=graph`.
    pub fn groups_cache_capacity(mut self, answers: usize) -> Self {
        self.groups_cache_capacity = answers;
        self
    }

    /// How long every call to the identity provider (discovery, JWKS, the login's token
    /// requests, Microsoft Graph) may take before it counts as failed (default 10 s). For tests that simulate a
    /// hanging provider; production leaves the default.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Bearer tokens only: no sessions, no login routes, no `SESSION_SECRET` needed.
    pub fn bearer_only(mut self) -> Self {
        self.bearer_only = true;
        self
    }

    /// Serves `openapi` (with the security schemes and each guarded operation's requirement
    /// added) at `/openapi.json`, with Swagger UI at `/docs` and ReDoc at `/redoc`, once
    /// [`AadAuth::configure`] is applied.
    ///
    /// ```no_run
    /// use aad_auth::{AadAuth, AadAuthConfig};
    /// use utoipa::OpenApi;
    ///
    /// #[derive(OpenApi)]
    /// #[openapi(info(title = "My API"))]
    /// struct ApiDoc;
    ///
    /// # fn main() -> Result<(), aad_auth::Error> {
    /// let auth = AadAuth::builder(AadAuthConfig::from_env()?).openapi(ApiDoc::openapi()).build()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "openapi")]
    pub fn openapi(mut self, openapi: utoipa::openapi::OpenApi) -> Self {
        self.openapi = Some(openapi);
        self
    }

    /// Builds, and starts loading the signing keys in the background when called inside a Tokio
    /// runtime. Never fails because the identity provider is unreachable: requests then get 503
    /// with `Retry-After` until the keys arrive.
    ///
    /// # Errors
    /// A configuration or set-up problem.
    pub fn build(self) -> Result<AadAuth, Error> {
        let config = Arc::new(self.config);
        let client = |redirects| {
            crate::http::client(config.ca_pem(), self.http_timeout, redirects)
                .map_err(|reason| Error::Setup { component: "HTTP client", reason: reason.to_string() })
        };
        let http = client(crate::http::Redirects::SameHost)?;
        let timing = self.key_store_timing.unwrap_or_else(|| {
            KeyStoreTiming::default().ttl(config.jwks_cache_ttl()).stale_ttl(config.jwks_stale_ttl())
        });
        let keys = KeyStore::new(Authority::from_config(&config), http, self.clock.clone(), timing);
        let validator = TokenValidator::new(&config, keys.clone(), self.clock.clone(), self.token_cache);
        #[cfg(feature = "openapi")]
        let documentation = self.openapi.is_some().then_some(crate::openapi::docs::SWAGGER_PATH);
        #[cfg(not(feature = "openapi"))]
        let documentation = None;
        let resource = web::Data::new(ProtectedResource::new(config.clone(), keys.clone(), documentation));
        if config.enabled() {
            keys.spawn_background_refresh();
        } else {
            tracing::warn!(
                "AUTH_ENABLED=false: AUTHENTICATION IS OFF; every guard lets every request through as anonymous"
            );
        }
        // With authentication off there is nothing to sign in to: no sessions, no login routes.
        let browser_login = !self.bearer_only && config.enabled();
        let (sessions, pages) = if browser_login {
            (Some(Arc::new(Sessions::new(&config, self.clock.clone())?)), Some(Arc::new(Pages::new(&config)?)))
        } else {
            (None, None)
        };
        let groups = match config.groups_overage() {
            crate::config::GroupsOverage::Graph if config.enabled() => {
                let http = client(crate::http::Redirects::Never)?;
                GroupsResolver::new(&config, http, self.clock.clone(), self.groups_cache_capacity)
            }
            _ => None,
        };
        let token_store = match &sessions {
            Some(sessions) => sessions.tokens.clone(),
            None => crate::session::TokenCache::memory(self.clock.clone()),
        };
        let downstream = web::Data::new(Downstream::new(
            crate::client::ClientConfig::from(config.as_ref()),
            client(crate::http::Redirects::Never)?,
            token_store,
            self.clock.clone(),
        ));
        let auth =
            web::Data::new(Authenticator::new(config.clone(), validator, sessions.clone(), pages.clone(), groups));
        let login = match (sessions, pages) {
            (Some(sessions), Some(pages)) => {
                let token_http = client(crate::http::Redirects::Never)?;
                Some(web::Data::new(Login::new(auth.clone(), sessions, pages, token_http)))
            }
            _ => None,
        };
        if login.is_some() {
            tracing::info!(origin = %crate::public_origin::describe(&config), "public origin");
        }
        Ok(AadAuth {
            inner: Arc::new(Inner {
                auth,
                resource,
                downstream,
                login,
                #[cfg(feature = "openapi")]
                docs: self.openapi.map(|openapi| web::Data::new(crate::openapi::Docs::new(openapi, config.clone()))),
            }),
        })
    }
}

impl AadAuth {
    /// Reads the configuration from the environment (and `.env`) and builds.
    ///
    /// # Errors
    /// A [`crate::ConfigError`] naming each bad variable, or a set-up problem.
    pub fn from_env() -> Result<Self, Error> {
        Self::new(AadAuthConfig::from_env()?)
    }

    /// Builds with this configuration.
    ///
    /// # Errors
    /// A set-up problem.
    pub fn new(config: AadAuthConfig) -> Result<Self, Error> {
        Self::builder(config).build()
    }

    /// Builds for bearer tokens only (no sessions or login routes; `SESSION_SECRET` not needed).
    /// [`AadAuth::new`] and [`AadAuth::from_env`] build the browser login too, and need
    /// `SESSION_SECRET` (or `AUTH_DEV_MODE=true`).
    ///
    /// # Errors
    /// A set-up problem.
    pub fn bearer_only(config: AadAuthConfig) -> Result<Self, Error> {
        Self::builder(config).bearer_only().build()
    }

    /// Starts a builder for options beyond the configuration.
    pub fn builder(config: AadAuthConfig) -> AadAuthBuilder {
        AadAuthBuilder {
            config,
            clock: clock::system(),
            bearer_only: false,
            token_cache: TokenCacheConfig::default(),
            key_store_timing: None,
            http_timeout: crate::http::TIMEOUT,
            groups_cache_capacity: crate::groups::DEFAULT_CAPACITY,
            #[cfg(feature = "openapi")]
            openapi: None,
        }
    }

    /// Mounts everything on an app: `App::new().configure(auth.configure())`: the
    /// protected-resource metadata (RFC 9728) at
    /// `/.well-known/oauth-protected-resource{base path}`, the login routes (unless bearer-only)
    /// and the docs (when an OpenAPI document was given).
    pub fn configure(&self) -> impl FnOnce(&mut ServiceConfig) + 'static {
        let auth = self.clone();
        move |cfg: &mut ServiceConfig| {
            let inner = &auth.inner;
            cfg.app_data(inner.auth.clone());
            cfg.app_data(inner.resource.clone());
            cfg.app_data(inner.downstream.clone());
            crate::protected_resource::configure(cfg, &inner.resource);
            if let Some(login) = &inner.login {
                cfg.app_data(login.clone());
                crate::login::configure(cfg, login);
            }
            #[cfg(feature = "openapi")]
            if let Some(docs) = &inner.docs {
                cfg.app_data(docs.clone());
                crate::openapi::docs::configure(cfg);
            }
            cfg.app_data(auth.clone());
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AadAuthConfig {
        self.inner.auth.config()
    }

    /// The bearer-token validator.
    pub fn validator(&self) -> &TokenValidator {
        self.inner.auth.validator()
    }

    /// The signing-key store.
    pub fn keys(&self) -> &KeyStore {
        self.inner.auth.keys()
    }

    /// Validates a bearer token.
    ///
    /// # Errors
    /// Why the token was refused.
    pub async fn validate_bearer(&self, token: &str) -> Result<Arc<VerifiedToken>, TokenError> {
        self.validator().validate(token).await
    }

    /// Who made the request, without requiring anything: a valid bearer token, else a login
    /// session, else anonymous. An invalid token counts as anonymous here (it never falls back
    /// to the session), and so does a caller the app-wide rules (`AAD_ROLES`,
    /// `AAD_ALLOW_GUESTS`) refuse.
    pub async fn authenticate(&self, req: &HttpRequest) -> AuthenticationState {
        self.inner.auth.authenticate(req).await
    }

    /// Enforces `policy` on the request: the credential kinds it accepts, the app-wide
    /// requirements (`AAD_ROLES`, `AAD_ALLOW_GUESTS`), then the policy's scopes, roles and groups.
    ///
    /// A presented bearer token is always validated, and an invalid one is refused even where a
    /// session would have been accepted: an explicit credential never silently falls back.
    ///
    /// # Errors
    /// The [`AuthError`] to answer with ([`AadAuth::error_response`] renders it).
    pub async fn authorize(&self, req: &HttpRequest, policy: &Policy) -> Result<AuthenticationState, AuthError> {
        self.inner.auth.authorize(req, policy).await
    }

    /// The response for an authentication error on this request.
    pub fn error_response(&self, error: &AuthError, req: &HttpRequest) -> HttpResponse {
        self.inner.auth.error_response(error, req)
    }
}
