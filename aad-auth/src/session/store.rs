//! The session store: actix-session's cookie store or its Redis store, behind one type so that
//! the middleware and the direct reader use the same one.

use std::collections::HashMap;

use actix_session::storage::{
    CookieSessionStore, LoadError, RedisSessionStore, SaveError, SessionKey, SessionStore, UpdateError,
};
use actix_web::cookie::time::Duration;
use futures_util::FutureExt as _;
use url::Url;

use crate::error::Error;

/// Redis keys of sessions start with this.
const SESSION_PREFIX: &str = "aad-auth:session:";

/// Where session state lives.
#[derive(Clone)]
pub(crate) enum Store {
    /// In the (encrypted) cookie itself.
    Cookie,
    /// In Redis; the cookie holds only the session key.
    Redis(RedisSessionStore),
}

pub(crate) fn redis_pool(url: &Url) -> Result<deadpool_redis::Pool, Error> {
    deadpool_redis::Config::from_url(url.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| Error::Setup { component: "Redis pool (SESSION_STORE)", reason: e.to_string() })
}

impl Store {
    pub(crate) fn cookie() -> Self {
        Self::Cookie
    }

    pub(crate) fn redis(pool: deadpool_redis::Pool) -> Result<Self, Error> {
        // With a pool, building connects nothing, so the future is ready at once.
        let store = RedisSessionStore::builder_pooled(pool)
            .cache_keygen(|key| format!("{SESSION_PREFIX}{key}"))
            .build()
            .now_or_never()
            .ok_or_else(|| Error::Setup {
                component: "Redis session store",
                reason: "did not build synchronously".into(),
            })?
            .map_err(|e| Error::Setup { component: "Redis session store", reason: e.to_string() })?;
        Ok(Self::Redis(store))
    }

    pub(crate) fn is_cookie(&self) -> bool {
        matches!(self, Self::Cookie)
    }
}

type State = HashMap<String, String>;

impl SessionStore for Store {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        match self {
            Self::Cookie => CookieSessionStore::default().load(session_key).await,
            Self::Redis(store) => store.load(session_key).await,
        }
    }

    async fn save(&self, session_state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        match self {
            Self::Cookie => CookieSessionStore::default().save(session_state, ttl).await,
            Self::Redis(store) => store.save(session_state, ttl).await,
        }
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        match self {
            Self::Cookie => CookieSessionStore::default().update(session_key, session_state, ttl).await,
            Self::Redis(store) => store.update(session_key, session_state, ttl).await,
        }
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        match self {
            Self::Cookie => CookieSessionStore::default().update_ttl(session_key, ttl).await,
            Self::Redis(store) => store.update_ttl(session_key, ttl).await,
        }
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        match self {
            Self::Cookie => CookieSessionStore::default().delete(session_key).await,
            Self::Redis(store) => store.delete(session_key).await,
        }
    }
}
