//! `AadAuth`: the one object an app builds and mounts.

use std::sync::Arc;

use actix_web::web::ServiceConfig;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use crate::authority::Authority;
use crate::clock::{self, SharedClock};
use crate::config::AadAuthConfig;
use crate::error::{AuthError, Error, ErrorPages, ResponseContext};
use crate::keys::{KeyStore, KeyStoreTiming};
use crate::login::Login;
use crate::session::Sessions;
use crate::token::{TokenCacheConfig, TokenError, TokenValidator, VerifiedToken};
use crate::user::User;

/// Reads the login session of a request (provided by the browser-login layer).
pub(crate) trait SessionReader: Send + Sync {
    /// The signed-in user of this request's session, if any; an error when the session store
    /// cannot be reached.
    fn user<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<Option<User>, crate::session::StoreUnavailable>>;
}

pub(crate) struct Inner {
    config: AadAuthConfig,
    validator: TokenValidator,
    realm: String,
    login_url: String,
    sessions: Option<Arc<dyn SessionReader>>,
    pages: Option<Arc<dyn ErrorPages>>,
    login: Option<Arc<Login>>,
    #[cfg(feature = "openapi")]
    docs: std::sync::OnceLock<Arc<crate::openapi::Docs>>,
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
        f.debug_struct("AadAuth").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// Options beyond the configuration (mostly for tests).
#[derive(Debug)]
#[must_use]
pub struct AadAuthBuilder {
    config: AadAuthConfig,
    clock: SharedClock,
    bearer_only: bool,
    token_cache: TokenCacheConfig,
    key_store_timing: Option<KeyStoreTiming>,
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

    /// Bearer tokens only: no sessions, no login routes, no `SESSION_SECRET` needed.
    pub fn bearer_only(mut self) -> Self {
        self.bearer_only = true;
        self
    }

    /// Builds, and starts loading the signing keys in the background when called inside a Tokio
    /// runtime. Never fails because the identity provider is unreachable: requests then get 503
    /// with `Retry-After` until the keys arrive.
    ///
    /// # Errors
    /// A configuration or set-up problem.
    pub fn build(self) -> Result<AadAuth, Error> {
        let config = self.config;
        let http =
            crate::http::client(config.ca_pem()).map_err(|reason| Error::Setup { component: "HTTP client", reason })?;
        let timing = self.key_store_timing.unwrap_or_else(|| {
            KeyStoreTiming::default().ttl(config.jwks_cache_ttl()).stale_ttl(config.jwks_stale_ttl())
        });
        let keys = KeyStore::new(Authority::from_config(&config), http, self.clock.clone(), timing);
        let validator = TokenValidator::new(&config, keys.clone(), self.clock.clone(), self.token_cache);
        if config.enabled() {
            keys.spawn_background_refresh();
        } else {
            tracing::warn!(
                "AUTH_ENABLED=false: AUTHENTICATION IS OFF; every guard lets every request through as anonymous"
            );
        }
        let realm =
            if config.api_audience().is_empty() { "aad-auth".to_owned() } else { config.api_audience().to_owned() };
        let login_url = config.routes().login_ui.clone();
        // With authentication off there is nothing to sign in to: no sessions, no login routes.
        let login = if self.bearer_only || !config.enabled() {
            None
        } else {
            let sessions = Arc::new(Sessions::new(&config, self.clock.clone())?);
            Some(Arc::new(Login::new(&config, sessions)?))
        };
        if login.is_some() {
            tracing::info!(origin = %crate::public_origin::describe(&config), "public origin");
        }
        let sessions = login.as_ref().map(|login| login.sessions.clone() as Arc<dyn SessionReader>);
        let pages = login.as_ref().map(|login| login.pages.clone() as Arc<dyn ErrorPages>);
        Ok(AadAuth {
            inner: Arc::new(Inner {
                config,
                validator,
                realm,
                login_url,
                sessions,
                pages,
                login,
                #[cfg(feature = "openapi")]
                docs: std::sync::OnceLock::new(),
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
        }
    }

    /// Mounts everything on an app: `App::new().configure(auth.configure())`.
    pub fn configure(&self) -> impl FnOnce(&mut ServiceConfig) + 'static {
        let auth = self.clone();
        move |cfg: &mut ServiceConfig| {
            if let Some(login) = auth.inner.login.clone() {
                crate::login::configure(cfg, &auth, &login);
            }
            #[cfg(feature = "openapi")]
            if auth.inner.docs.get().is_some() {
                crate::openapi::docs::configure(cfg);
            }
            cfg.app_data(auth);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AadAuthConfig {
        &self.inner.config
    }

    /// The bearer-token validator.
    pub fn validator(&self) -> &TokenValidator {
        &self.inner.validator
    }

    /// The signing-key store.
    pub fn keys(&self) -> &KeyStore {
        self.inner.validator.keys()
    }

    /// Validates a bearer token.
    ///
    /// # Errors
    /// Why the token was refused.
    pub async fn validate_bearer(&self, token: &str) -> Result<Arc<VerifiedToken>, TokenError> {
        self.inner.validator.validate(token).await
    }

    /// Serves `openapi` (with the security schemes and each guarded operation's requirement
    /// added) at `/openapi.json`, with Swagger UI at `/docs` and ReDoc at `/redoc`, once
    /// [`AadAuth::configure`] is applied. Call it before `HttpServer::new`; a second call is
    /// ignored.
    ///
    /// ```no_run
    /// use aad_auth::AadAuth;
    /// use utoipa::OpenApi;
    ///
    /// #[derive(OpenApi)]
    /// #[openapi(info(title = "My API"))]
    /// struct ApiDoc;
    ///
    /// # fn main() -> Result<(), aad_auth::Error> {
    /// let auth = AadAuth::from_env()?.with_openapi(ApiDoc::openapi());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "openapi")]
    #[must_use]
    pub fn with_openapi(self, openapi: utoipa::openapi::OpenApi) -> Self {
        let docs = Arc::new(crate::openapi::Docs::new(openapi, &self.inner.config));
        if self.inner.docs.set(docs).is_err() {
            tracing::warn!("AadAuth::with_openapi was called twice; the first document is served");
        }
        self
    }

    #[cfg(feature = "openapi")]
    pub(crate) fn docs(&self) -> Option<&Arc<crate::openapi::Docs>> {
        self.inner.docs.get()
    }

    pub(crate) fn login(&self) -> Option<&Arc<Login>> {
        self.inner.login.as_ref()
    }

    /// Tells instances apart (per-request results are kept per instance); clones share it.
    pub(crate) fn instance_id(&self) -> usize {
        Arc::as_ptr(&self.inner).addr()
    }

    pub(crate) fn sessions(&self) -> Option<&Arc<dyn SessionReader>> {
        self.inner.sessions.as_ref()
    }

    /// The response for an authentication error on this request.
    pub fn error_response(&self, error: &AuthError, req: &HttpRequest) -> HttpResponse {
        let context = ResponseContext {
            realm: &self.inner.realm,
            login_url: &self.inner.login_url,
            pages: self.inner.pages.as_deref(),
        };
        crate::error::respond(error, req, &context)
    }
}
