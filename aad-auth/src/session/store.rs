//! The session store: actix-session's cookie store or its Redis store, behind one type so that
//! the middleware and the direct reader use the same one.

use std::collections::HashMap;

use actix_session::storage::{
    CookieSessionStore, LoadError, RedisSessionStore, SaveError, SessionKey, SessionStore, UpdateError,
};
use actix_web::cookie::time::Duration;
use futures_util::FutureExt as _;
use url::Url;

use super::failure::report;
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

/// How long a request waits for a Redis connection (to make one, or for a free one) before the
/// session counts as unavailable (503), so that a hung Redis does not hang every request.
pub(super) const REDIS_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// How long start-up waits for Redis to answer.
const STARTUP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const STORE: &str = "Redis (SESSION_STORE)";

/// The Redis client for `SESSION_STORE`: `rediss://` is TLS with rustls, trusting the
/// operating system's roots plus `AAD_CA_FILE`; user and password come from the URL.
fn redis_client(url: &Url, ca_pem: Option<&[u8]>) -> Result<redis::Client, Error> {
    let client = match ca_pem {
        Some(extra) if url.scheme() == "rediss" => {
            // The redis crate replaces the system roots when given roots of our own, so they go in too.
            let mut roots = native_roots_pem();
            roots.extend_from_slice(extra);
            redis::Client::build_with_tls(
                url.as_str(),
                redis::TlsCertificates { client_tls: None, root_cert: Some(roots) },
            )
        }
        _ => redis::Client::open(url.as_str()),
    };
    client.map_err(|error| setup_error(url, &error.to_string()))
}

/// The operating system's trusted certificates, as PEM.
fn native_roots_pem() -> Vec<u8> {
    use base64::Engine as _;
    let found = rustls_native_certs::load_native_certs();
    let mut pem = String::new();
    for cert in found.certs {
        let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

/// A start-up error naming `SESSION_STORE`, with the URL's password kept out of the reason.
fn setup_error(url: &Url, reason: &str) -> Error {
    let reason = match url.password() {
        Some(password) if !password.is_empty() => reason.replace(password, "***"),
        _ => reason.to_owned(),
    };
    Error::Setup { component: STORE, reason: format!("{reason} (at {})", crate::config::redacted_url(url)) }
}

/// Connects once and sends `PING`, so that a wrong password or a TLS failure stops start-up
/// rather than every later request. Redis that does not answer at all (not started yet) is
/// only logged: session requests answer 503 until it does.
fn check_reachable(client: &redis::Client, url: &Url) -> Result<(), Error> {
    let answer = client
        .get_connection_with_timeout(STARTUP_WAIT)
        .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
    match answer {
        Ok(_) => Ok(()),
        Err(error) if is_unreachable(&error) => {
            tracing::warn!(
                store = %crate::config::redacted_url(url),
                "Redis (SESSION_STORE) does not answer at start-up; requests that need a session answer 503 until it does"
            );
            Ok(())
        }
        Err(error) => Err(setup_error(url, &error.to_string())),
    }
}

fn is_unreachable(error: &redis::RedisError) -> bool {
    error.is_connection_refusal() || error.is_timeout()
}

/// The connection pool shared by the session store, the token cache and the idle clock, and the
/// client it was made from (for the guards' one multiplexed connection, `activity`).
///
/// # Errors
/// A malformed URL, a wrong password or a TLS failure, naming `SESSION_STORE` and never the
/// password.
pub(crate) fn redis_pool(url: &Url, ca_pem: Option<&[u8]>) -> Result<(deadpool_redis::Pool, redis::Client), Error> {
    let client = redis_client(url, ca_pem)?;
    check_reachable(&client, url)?;
    let manager = deadpool_redis::Manager::new(client.get_connection_info().clone())
        .map_err(|error| setup_error(url, &error.to_string()))?;
    deadpool_redis::Pool::builder(manager)
        .runtime(deadpool_redis::Runtime::Tokio1)
        .create_timeout(Some(REDIS_WAIT))
        .wait_timeout(Some(REDIS_WAIT))
        .recycle_timeout(Some(REDIS_WAIT))
        .build()
        .map(|pool| (pool, client))
        .map_err(|error| setup_error(url, &error.to_string()))
}

/// The Redis key of a session's state (as the session middleware writes it).
pub(crate) fn redis_state_key(session_key: &SessionKey) -> String {
    format!("{SESSION_PREFIX}{}", session_key.as_ref())
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
            Self::Redis(store) => store.load(session_key).await.inspect_err(|error| {
                if let LoadError::Other(error) = error {
                    report("session store read failed", error);
                }
            }),
        }
    }

    async fn save(&self, session_state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        match self {
            Self::Cookie => CookieSessionStore::default().save(session_state, ttl).await,
            Self::Redis(store) => store.save(session_state, ttl).await.inspect_err(|error| {
                report("session store write failed", error);
            }),
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
            Self::Redis(store) => store.update(session_key, session_state, ttl).await.inspect_err(|error| {
                report("session store write failed", error);
            }),
        }
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        match self {
            Self::Cookie => CookieSessionStore::default().update_ttl(session_key, ttl).await,
            Self::Redis(store) => store.update_ttl(session_key, ttl).await.inspect_err(|error| {
                report("session store write failed", error);
            }),
        }
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        match self {
            Self::Cookie => CookieSessionStore::default().delete(session_key).await,
            Self::Redis(store) => store.delete(session_key).await.inspect_err(|error| {
                report("session store delete failed", error);
            }),
        }
    }
}
