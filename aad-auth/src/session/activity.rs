//! The idle timeout: when each session was last used, kept server-side, because guards read the
//! session outside the session middleware and cannot rewrite a cookie.
//!
//! * Redis (`SESSION_STORE=redis://`): one key per session holding its last use (Unix seconds,
//!   by the app's clock), checked and renewed by one atomic script per request. A missing key is
//!   an ended session, the same for every instance. A guard's session read loads the session
//!   state and checks its idle clock in one script call over one multiplexed connection: one
//!   round trip per request (a pooled connection costs a health-check PING first).
//! * Memory (the cookie store): the same, per process. A session this process has not seen yet
//!   (after a restart, or on another instance) starts its idle clock at its first request here;
//!   the absolute bound holds regardless. A session that ended here stays ended here, so a copy of
//!   its cookie is refused by this process after logout too.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::failure::{StoreUnavailable, report};
use super::store::REDIS_WAIT;
use crate::clock::SharedClock;

const REDIS_PREFIX: &str = "aad-auth:seen:";
/// Memory capacity (sessions); the least used are forgotten first.
const MEMORY_CAPACITY: usize = 100_000;
/// The last use of a session that ended.
const ENDED: i64 = i64::MIN;

/// Checks the last use against the idle timeout and renews it, in one step, so that two
/// requests racing past the timeout cannot revive the session.
/// KEYS[1]: the session's key. ARGV: now, the idle timeout, the key's lifetime (seconds).
/// Returns 1 (live), -1 (idle: ended now) or 0 (ended before).
const TOUCH_SCRIPT: &str = r"
local last = redis.call('GET', KEYS[1])
if not last then return 0 end
if tonumber(ARGV[1]) - tonumber(last) > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
";

/// Reads a session's state and uses the session, in one step: [`TOUCH_SCRIPT`] for the session
/// id the state names. KEYS[1]: the state's key (written by the Redis session store: a JSON
/// object whose member ARGV[4] is the session record, itself JSON with a `sid`). ARGV: now, the
/// idle timeout, the key's lifetime, the record's member, the prefix of the activity keys.
/// Returns `{2, nil, nil}` without a state, `{3, nil, nil}` for a state without a readable
/// session id, else `{touch's answer, the state, the session id}`.
const READ_AND_TOUCH_SCRIPT: &str = r"
local state = redis.call('GET', KEYS[1])
if not state then return {2, false, false} end
local ok, map = pcall(cjson.decode, state)
if not ok or type(map) ~= 'table' or type(map[ARGV[4]]) ~= 'string' then return {3, false, false} end
local ok_record, record = pcall(cjson.decode, map[ARGV[4]])
if not ok_record or type(record) ~= 'table' or type(record['sid']) ~= 'string' then return {3, false, false} end
local seen = ARGV[5] .. record['sid']
local last = redis.call('GET', seen)
if not last then return {0, state, record['sid']} end
if tonumber(ARGV[1]) - tonumber(last) > tonumber(ARGV[2]) then
  redis.call('DEL', seen)
  return {-1, state, record['sid']}
end
redis.call('SET', seen, ARGV[1], 'EX', ARGV[3])
return {1, state, record['sid']}
";

/// What [`Activity::read_and_touch`] found.
#[derive(Debug)]
pub(crate) enum Read {
    /// No session state under that key.
    Missing,
    /// A state this library did not write (no readable session id).
    Unreadable,
    /// The state (JSON), the session id it names, and what its use found.
    Found { state: String, sid: String, used: Use },
}

/// What a use of a session found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Used within the idle timeout; renewed.
    Live,
    /// Unused for longer than the idle timeout: it ends with this use.
    Idle,
    /// Ended before (logout, an earlier idle check, or unknown to Redis).
    Ended,
}

/// When each session was last used.
#[derive(Clone)]
pub(crate) struct Activity {
    backend: Backend,
    idle: i64,
    clock: SharedClock,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<quick_cache::sync::Cache<String, Arc<AtomicI64>>>),
    Redis {
        pool: deadpool_redis::Pool,
        touch: Arc<redis::Script>,
        read_and_touch: Arc<redis::Script>,
        link: Arc<Multiplexed>,
    },
}

/// One multiplexed connection for the per-request read, made on first use (so that start-up
/// does not wait for Redis) and reconnected by the redis crate's `ConnectionManager`.
struct Multiplexed {
    client: redis::Client,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
}

impl Multiplexed {
    async fn get(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        self.connection
            .get_or_try_init(|| {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(REDIS_WAIT)
                    .set_response_timeout(REDIS_WAIT)
                    .set_number_of_retries(1);
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }
}

impl Activity {
    pub(crate) fn memory(idle: Duration, clock: SharedClock) -> Self {
        let cache = quick_cache::sync::Cache::new(MEMORY_CAPACITY);
        Self { backend: Backend::Memory(Arc::new(cache)), idle: seconds(idle), clock }
    }

    pub(crate) fn redis(pool: deadpool_redis::Pool, client: redis::Client, idle: Duration, clock: SharedClock) -> Self {
        let backend = Backend::Redis {
            pool,
            touch: Arc::new(redis::Script::new(TOUCH_SCRIPT)),
            read_and_touch: Arc::new(redis::Script::new(READ_AND_TOUCH_SCRIPT)),
            link: Arc::new(Multiplexed { client, connection: tokio::sync::OnceCell::new() }),
        };
        Self { backend, idle: seconds(idle), clock }
    }

    /// With Redis, the state under `state_key` and its session's use, in one round trip
    /// ([`READ_AND_TOUCH_SCRIPT`]); `None` for the memory backend (the caller loads and then
    /// calls [`Activity::touch`]). Fails closed when Redis cannot answer. `record_member` is the
    /// state's member that holds the session record.
    pub(crate) async fn read_and_touch(
        &self,
        state_key: &str,
        record_member: &str,
    ) -> Option<Result<Read, StoreUnavailable>> {
        let Backend::Redis { read_and_touch, link, .. } = &self.backend else { return None };
        let now = self.clock.unix_seconds();
        let mut invocation = read_and_touch.key(state_key);
        invocation.arg(now).arg(self.idle).arg(self.key_lifetime()).arg(record_member).arg(REDIS_PREFIX);
        // A connection Redis dropped (a restart) fails once before the manager reconnects: one
        // retry, so that the first request after a restart does not get a 503. Running the
        // script twice is harmless: the second run sees the first one's renewal.
        let mut retried = false;
        let found: (i64, Option<String>, Option<String>) = loop {
            let answer = match link.get().await {
                Ok(mut connection) => invocation.invoke_async(&mut connection).await,
                Err(error) => Err(error),
            };
            match answer {
                Ok(found) => break found,
                Err(error) if !retried && (error.is_connection_dropped() || error.is_io_error()) => retried = true,
                Err(error) => return Some(Err(report("session store read failed", &error))),
            }
        };
        Some(Ok(match found {
            (2, ..) => Read::Missing,
            (code, Some(state), Some(sid)) => {
                let used = match code {
                    1 => Use::Live,
                    -1 => Use::Idle,
                    _ => Use::Ended,
                };
                Read::Found { state, sid, used }
            }
            _ => Read::Unreadable,
        }))
    }

    /// A session starts now (at login).
    pub(crate) async fn start(&self, sid: &str) {
        let now = self.clock.unix_seconds();
        match &self.backend {
            Backend::Memory(cache) => cache.insert(sid.to_owned(), Arc::new(AtomicI64::new(now))),
            Backend::Redis { pool, .. } => {
                let Ok(mut connection) = pool.get().await.map_err(|error| report("session store unreachable", &error))
                else {
                    return;
                };
                let result: Result<(), _> = redis::cmd("SET")
                    .arg(key(sid))
                    .arg(now)
                    .arg("EX")
                    .arg(self.key_lifetime())
                    .query_async(&mut *connection)
                    .await;
                if let Err(error) = result {
                    report("session activity write failed", &error);
                }
            }
        }
    }

    /// Whether the session was used within the idle timeout; if it was, it is used now. A session
    /// found idle ends (later calls answer [`Use::Ended`]). Fails closed when Redis cannot answer.
    pub(crate) async fn touch(&self, sid: &str) -> Result<Use, StoreUnavailable> {
        let now = self.clock.unix_seconds();
        match &self.backend {
            Backend::Memory(cache) => {
                let last_use = cache
                    .get_or_insert_with(sid, || Ok::<_, Infallible>(Arc::new(AtomicI64::new(now))))
                    .unwrap_or_else(|never| match never {});
                let idle = self.idle;
                let renewed = last_use.fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                    (last != ENDED && now.saturating_sub(last) <= idle).then_some(now.max(last))
                });
                Ok(match renewed {
                    Ok(_) => Use::Live,
                    Err(ENDED) => Use::Ended,
                    // Another request may have ended it meanwhile; either way it ends.
                    Err(_) => match last_use.swap(ENDED, Ordering::AcqRel) {
                        ENDED => Use::Ended,
                        _ => Use::Idle,
                    },
                })
            }
            Backend::Redis { pool, touch, .. } => {
                let mut connection = pool.get().await.map_err(|error| report("session store unreachable", &error))?;
                let found: Result<i64, _> = touch
                    .key(key(sid))
                    .arg(now)
                    .arg(self.idle)
                    .arg(self.key_lifetime())
                    .invoke_async(&mut *connection)
                    .await;
                match found {
                    Ok(1) => Ok(Use::Live),
                    Ok(-1) => Ok(Use::Idle),
                    Ok(_) => Ok(Use::Ended),
                    Err(error) => Err(report("session activity check failed", &error)),
                }
            }
        }
    }

    /// A session ends (logout).
    pub(crate) async fn end(&self, sid: &str) {
        match &self.backend {
            Backend::Memory(cache) => cache.insert(sid.to_owned(), Arc::new(AtomicI64::new(ENDED))),
            Backend::Redis { pool, .. } => match pool.get().await {
                Ok(mut connection) => {
                    let result: Result<(), _> = redis::cmd("DEL").arg(key(sid)).query_async(&mut *connection).await;
                    if let Err(error) = result {
                        report("session activity delete failed", &error);
                    }
                }
                Err(error) => {
                    report("session store unreachable", &error);
                }
            },
        }
    }

    /// How long Redis keeps a key: the timeout decides by the app's clock; this only lets Redis
    /// forget abandoned sessions.
    fn key_lifetime(&self) -> i64 {
        self.idle.saturating_add(60)
    }
}

fn key(sid: &str) -> String {
    format!("{REDIS_PREFIX}{sid}")
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
