//! How the key store paces itself: key lifetime, the stale window, the unknown-`kid` cooldown and
//! the retry backoff.

use std::time::Duration;

/// Unknown-`kid` refreshes happen at most this often by default (Microsoft's guidance: 5 minutes),
/// so that tokens with made-up `kid`s cannot turn into a flood of requests to the identity provider.
const KEY_REFRESH_COOLDOWN: Duration = Duration::from_secs(300);
/// Longest pause between retries while the provider is unreachable, by default (SPEC: 30 s, so a
/// recovered endpoint and a key published meanwhile are picked up within it).
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// The key store's timing. Production takes it from the configuration (`AAD_JWKS_CACHE_TTL`,
/// `AAD_JWKS_STALE_TTL`) with the default cooldown and backoff; tests and soak runs shrink it to
/// their time scale with [`crate::AadAuthBuilder::key_store_timing`].
///
/// ```
/// use std::time::Duration;
/// use aad_auth::KeyStoreTiming;
///
/// let timing = KeyStoreTiming::default()
///     .ttl(Duration::from_secs(20))
///     .stale_ttl(Duration::from_secs(40))
///     .refresh_cooldown(Duration::from_secs(5))
///     .max_backoff(Duration::from_secs(2));
/// assert_eq!(timing.stale_window_end(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct KeyStoreTiming {
    pub(crate) ttl: Duration,
    pub(crate) stale_ttl: Duration,
    pub(crate) refresh_cooldown: Duration,
    pub(crate) max_backoff: Duration,
}

impl Default for KeyStoreTiming {
    /// 24 h lifetime, 24 h stale window, 5-minute cooldown, 30 s backoff cap.
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(86_400),
            stale_ttl: Duration::from_secs(86_400),
            refresh_cooldown: KEY_REFRESH_COOLDOWN,
            max_backoff: MAX_RETRY_BACKOFF,
        }
    }
}

impl KeyStoreTiming {
    /// The default unknown-`kid` cooldown (5 minutes, Microsoft's guidance), for tests that step
    /// a clock past it.
    pub const DEFAULT_REFRESH_COOLDOWN: Duration = KEY_REFRESH_COOLDOWN;

    /// How long a fetched key set is fresh (`AAD_JWKS_CACHE_TTL`); at least one second.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How long past the TTL the last good set keeps serving while refreshes fail
    /// (`AAD_JWKS_STALE_TTL`; zero: none, 503 as soon as the TTL passes).
    pub fn stale_ttl(mut self, stale_ttl: Duration) -> Self {
        self.stale_ttl = stale_ttl;
        self
    }

    /// The least time between two refreshes caused by unknown `kid`s.
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = cooldown;
        self
    }

    /// The longest pause between retries of a failing refresh; at least 100 ms.
    pub fn max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff.max(Duration::from_millis(100));
        self
    }

    /// How long after a successful fetch its keys stop being used if no refresh succeeds:
    /// the TTL plus the stale window.
    pub fn stale_window_end(&self) -> Duration {
        self.ttl.saturating_add(self.stale_ttl)
    }
}
