//! Login sessions on actix-session: an encrypted cookie (default) or Redis, a server-side token
//! cache keyed by session, and each session's last use (the idle timeout). The cookie never holds
//! a token.
//!
//! The session middleware wraps the crate's own routes (login, callback, logout, user page).
//! Handlers elsewhere in the app read the session through [`Sessions::read`], which decrypts the
//! cookie and loads the state from the same store, so that `App::new().configure(auth.configure())`
//! is all an app needs.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

mod activity;
mod failure;
mod store;
mod tokens;

use std::collections::HashMap;
use std::time::Duration;

use activity::{Activity, Read, Use};
use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession, SessionMiddlewareBuilder, TtlExtensionPolicy};
use actix_session::storage::{SessionKey, SessionStore};
use actix_web::HttpRequest;
use actix_web::cookie::{CookieJar, Key, SameSite as CookieSameSite};
pub(crate) use failure::{StoreUnavailable, watch};
use serde::{Deserialize, Serialize};
pub(crate) use store::Store;
pub(crate) use tokens::{DownstreamToken, TokenCache, TokenEntry};

use crate::clock::SharedClock;
use crate::config::{AadAuthConfig, SameSite, SessionStoreKind};
use crate::error::Error;
use crate::user::User;

/// The session state key holding the signed-in user.
pub(crate) const USER_KEY: &str = "aad_auth.user";

/// Group lists longer than this are kept in the server-side cache rather than in a cookie
/// session, so that the cookie stays well under the 4 KB browser limit.
const INLINE_GROUPS_IN_COOKIE: usize = 30;

/// What a login session holds: who, until when, and the key of its cached tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    /// Random key of this session's entry in the token cache.
    pub(crate) sid: String,
    pub(crate) user: User,
    /// The groups are in the token cache entry, not here.
    #[serde(default)]
    pub(crate) groups_in_cache: bool,
    pub(crate) created_at: i64,
    /// Absolute end of the session (`SESSION_MAX_AGE` after login).
    pub(crate) expires_at: i64,
    /// The scopes the login asked Entra to consent to (incremental consent), so that a page
    /// still without its token right after does not send the browser round again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) consent_asked: Vec<String>,
}

/// Session settings and stores, shared by every worker.
pub(crate) struct Sessions {
    key: Key,
    cookie_name: String,
    secure: bool,
    same_site: CookieSameSite,
    max_age: Duration,
    store: Store,
    pub(crate) tokens: TokenCache,
    activity: Activity,
    clock: SharedClock,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("cookie_name", &self.cookie_name)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub(crate) fn new(config: &AadAuthConfig, clock: SharedClock) -> Result<Self, Error> {
        let session = config.session();
        let key = match &session.secret {
            Some(secret) => Key::try_from(secret.expose_secret()).map_err(|_| Error::Setup {
                component: "session key",
                reason: "SESSION_SECRET must decode to at least 64 bytes".into(),
            })?,
            None if config.dev_mode() => {
                tracing::warn!(
                    "AUTH_DEV_MODE=true and no SESSION_SECRET: using a random session key; sessions end when the process stops"
                );
                Key::generate()
            }
            None => {
                return Err(crate::config::ConfigError::Missing {
                    var: "SESSION_SECRET",
                    expected: "a key of at least 64 bytes, base64-encoded (generate one with `openssl rand -base64 64`); \
                               set AUTH_DEV_MODE=true for a throw-away key in development",
                }
                .into());
            }
        };
        // Development mode drops Secure per response, and only for an http loopback origin
        // (`login::middleware`).
        let secure = session.https_only;
        let same_site = match session.same_site {
            SameSite::Lax => CookieSameSite::Lax,
            SameSite::Strict => CookieSameSite::Strict,
            SameSite::None => CookieSameSite::None,
        };
        let idle = session.idle_timeout;
        let (store, tokens, activity) = match &session.store {
            SessionStoreKind::Cookie => {
                (Store::cookie(), TokenCache::memory(clock.clone()), Activity::memory(idle, clock.clone()))
            }
            SessionStoreKind::Redis(url) => {
                let (pool, client) = store::redis_pool(url, config.ca_pem())?;
                (
                    Store::redis(pool.clone())?,
                    TokenCache::redis(pool.clone(), key.master(), clock.clone()),
                    Activity::redis(pool, client, idle, clock.clone()),
                )
            }
        };
        Ok(Self {
            key,
            cookie_name: session.cookie_name.clone(),
            secure,
            same_site,
            max_age: session.max_age,
            store,
            tokens,
            activity,
            clock,
        })
    }

    /// The actix-session middleware for the crate's routes.
    pub(crate) fn middleware(&self) -> SessionMiddleware<Store> {
        self.builder().build()
    }

    fn builder(&self) -> SessionMiddlewareBuilder<Store> {
        SessionMiddleware::builder(self.store.clone(), self.key.clone())
            .cookie_name(self.cookie_name.clone())
            .cookie_secure(self.secure)
            .cookie_http_only(true)
            .cookie_same_site(self.same_site)
            .cookie_path("/".into())
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(
                PersistentSession::default()
                    .session_ttl(actix_web::cookie::time::Duration::seconds(
                        i64::try_from(self.max_age.as_secs()).unwrap_or(86_400),
                    ))
                    .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
            )
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    pub(crate) fn secure(&self) -> bool {
        self.secure
    }

    pub(crate) fn same_site(&self) -> CookieSameSite {
        self.same_site
    }

    pub(crate) fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.unix_seconds()
    }

    /// Builds the record stored at login. Long group lists of cookie sessions go to the token
    /// cache entry instead.
    /// Without a refresh token the session cannot outlive the id_token (`bound`).
    pub(crate) fn record_for(&self, sid: String, mut user: User, bound: Option<i64>) -> (SessionRecord, Vec<String>) {
        let now = self.now();
        let absolute = now.saturating_add(i64::try_from(self.max_age.as_secs()).unwrap_or(86_400));
        let expires_at = bound.map_or(absolute, |bound| bound.min(absolute));
        let inline_limit = if self.store.is_cookie() { INLINE_GROUPS_IN_COOKIE } else { usize::MAX };
        let groups = user.groups.clone();
        let groups_in_cache = groups.len() > inline_limit;
        if groups_in_cache {
            user.groups.clear();
        }
        (SessionRecord { sid, user, groups_in_cache, created_at: now, expires_at, consent_asked: Vec::new() }, groups)
    }

    /// The session record of a request, without the session middleware: decrypts the cookie
    /// and loads the state from the store. `None` for a missing, tampered, foreign or expired
    /// session (a bad cookie is an anonymous request); an error only when the store cannot be
    /// reached.
    pub(crate) async fn read(&self, req: &HttpRequest) -> Result<Option<SessionRecord>, StoreUnavailable> {
        let Some(session_key) = self.session_key(req) else { return Ok(None) };
        if let Some(read) = self.activity.read_and_touch(&store::redis_state_key(&session_key), USER_KEY).await {
            return self.found(read?).await;
        }
        let state = match self.store.load(&session_key).await {
            Ok(Some(state)) => state,
            Ok(None) => return Ok(None),
            Err(actix_session::storage::LoadError::Deserialization(_)) => return Ok(None),
            Err(error) => return Err(failure::report("session store unreachable", &error)),
        };
        let Some(record) = state.get(USER_KEY).and_then(|value| serde_json::from_str(value).ok()) else {
            return Ok(None);
        };
        self.use_record(record).await
    }

    /// The record of a state read together with its use (Redis, one round trip), checked as
    /// [`Sessions::use_record`] checks one.
    async fn found(&self, read: Read) -> Result<Option<SessionRecord>, StoreUnavailable> {
        let Read::Found { state, sid, used } = read else { return Ok(None) };
        let record = serde_json::from_str::<HashMap<String, String>>(&state)
            .ok()
            .and_then(|mut state| state.remove(USER_KEY))
            .and_then(|record: String| serde_json::from_str::<SessionRecord>(&record).ok())
            // The script read the same state; a record it read differently is refused.
            .filter(|record| record.sid == sid);
        let Some(record) = record else { return Ok(None) };
        if record.expires_at <= self.now() {
            return Ok(None);
        }
        self.after_use(record, used).await
    }

    fn session_key(&self, req: &HttpRequest) -> Option<SessionKey> {
        let cookie = req.cookie(&self.cookie_name)?;
        let mut jar = CookieJar::new();
        jar.add_original(cookie);
        let value = jar.private(&self.key).get(&self.cookie_name)?.value().to_owned();
        SessionKey::try_from(value).ok()
    }

    /// The record if its session is live: within its absolute bound and used within the idle
    /// timeout, which this use renews. A session found idle loses its cached tokens.
    pub(crate) async fn use_record(&self, record: SessionRecord) -> Result<Option<SessionRecord>, StoreUnavailable> {
        if record.expires_at <= self.now() {
            return Ok(None);
        }
        let used = self.activity.touch(&record.sid).await?;
        self.after_use(record, used).await
    }

    /// A live record, or `None` (a session found idle loses its cached tokens).
    async fn after_use(&self, record: SessionRecord, used: Use) -> Result<Option<SessionRecord>, StoreUnavailable> {
        match used {
            Use::Live => Ok(Some(record)),
            Use::Idle => {
                self.tokens.remove(&record.sid).await;
                tracing::debug!("a session ended after the idle timeout");
                Ok(None)
            }
            Use::Ended => Ok(None),
        }
    }

    /// A session starts: its idle clock starts now.
    pub(crate) async fn start(&self, record: &SessionRecord) {
        self.activity.start(&record.sid).await;
    }

    /// A session ends: its cached tokens are gone and this store refuses it from now on.
    pub(crate) async fn end(&self, record: &SessionRecord) {
        self.tokens.remove(&record.sid).await;
        self.activity.end(&record.sid).await;
    }

    /// The user of a record, with groups restored from the token cache when they live there.
    pub(crate) async fn user_of(&self, record: SessionRecord) -> User {
        let mut user = record.user;
        if record.groups_in_cache {
            match self.tokens.get(&record.sid).await {
                Some(entry) => user.groups = entry.groups,
                // The cache lost them (restart of a cookie-session app): say so rather than
                // pretend the user is in no group.
                None => user.groups_overage = true,
            }
        }
        user
    }
}

/// A random URL-safe identifier with 256 bits of entropy.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 32];
    // The system RNG failing is not recoverable in any meaningful way for a login.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        tracing::error!("the system random number generator failed");
    }
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
