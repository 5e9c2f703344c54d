//! The clock every time check reads, so that tests can move time.
//!
//! `jsonwebtoken` reads the system clock itself and skips `nbf`/`iat` by default; this crate does
//! all time checks against a [`Clock`] instead.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time in whole seconds since the Unix epoch (0 before 1970).
    fn unix_seconds(&self) -> i64 {
        self.now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The default clock: the system clock.
pub(crate) fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// Seconds between two times, saturating at zero.
pub(crate) fn elapsed(since: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(since).unwrap_or_default()
}
