//! A clock tests can move.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::clock::Clock;

/// A clock that only moves when told to. Share one `Arc<ManualClock>` between the app
/// ([`crate::AadAuthBuilder::clock`]) and the tenant ([`super::TenantBuilder::clock`]).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// Starts at the current system time.
    pub fn new() -> Self {
        Self::at(SystemTime::now())
    }

    /// Starts at `time`.
    pub fn at(time: SystemTime) -> Self {
        Self { now: Mutex::new(time) }
    }

    /// Moves forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }

    /// Moves back by `by` (a clock running slow).
    pub fn rewind(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now -= by;
    }

    /// Jumps to `time`.
    pub fn set(&self, time: SystemTime) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = time;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
