//! The clock of the cache, injectable so tests advance time without sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Where the cache reads the time.
///
/// `now` (monotonic) drives in-memory expiry; `system_now` (wall clock) is
/// only used for the expiry stamped in on-disk cache files, which must make
/// sense to other processes.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Monotonic now.
    fn now(&self) -> Instant;
    /// Wall-clock now.
    fn system_now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn system_now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (for tests).
#[derive(Debug)]
pub struct ManualClock {
    base_instant: Instant,
    base_system: SystemTime,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock whose wall time starts at `system` (monotonic time starts at
    /// the real `Instant::now()`; only differences matter).
    pub fn starting_at(system: SystemTime) -> Self {
        ManualClock {
            base_instant: Instant::now(),
            base_system: system,
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *off = off.saturating_add(by);
    }

    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let off = self.offset();
        self.base_instant
            .checked_add(off)
            .unwrap_or(self.base_instant)
    }
    fn system_now(&self) -> SystemTime {
        let off = self.offset();
        self.base_system
            .checked_add(off)
            .unwrap_or(self.base_system)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let c = ManualClock::starting_at(start);
        let i0 = c.now();
        assert_eq!(c.system_now(), start);
        c.advance(Duration::from_secs(90));
        assert_eq!(c.now() - i0, Duration::from_secs(90));
        assert_eq!(c.system_now(), start + Duration::from_secs(90));
    }
}
