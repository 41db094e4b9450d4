//! The injected clock. Core code never reads the system time itself: it takes `now` as an
//! argument, and the edges get it from a [`Clock`], so tests can drive time.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move; for tests.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    /// A clock stopped at `at`.
    #[must_use]
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *t += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The system clock shifted by a fixed offset (`testing.insecure_clock_offset_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock(pub Duration);

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

/// The monotonic time as of the kernel's last timer tick (`CLOCK_MONOTONIC_COARSE`), read in
/// about a fifth of the time of [`Instant::now`] (~5 ns against ~23 here). For timeouts,
/// debounces and cache freshness measured in seconds, where a few ms do not matter; never for
/// anything a client can see. It is never ahead of [`Instant::now`]: a deadline compared with it
/// is met late, never early. It lags by the time since the kernel last updated its clocks,
/// normally a tick or two (1–10 ms), more on a virtual machine whose timekeeping CPU is held up.
/// Taken as the start of a span that the precise clock ends (the listener's phase times, whose
/// deadlines tokio's timer meets), the span comes out longer by that lag: a timeout started from
/// it ends up to the lag early.
///
/// [`Instant::now`]: std::time::Instant::now
#[must_use]
pub fn coarse_instant() -> std::time::Instant {
    #[cfg(target_os = "linux")]
    {
        use nix::time::{ClockId, clock_gettime};
        use std::sync::OnceLock;
        use std::time::{Duration, Instant};

        // Fails only for a clock the kernel lacks (before Linux 2.6.32): then the coarse time
        // is the precise one.
        let read = |id: ClockId| clock_gettime(id).ok().map(Duration::from);
        // `Instant` is `CLOCK_MONOTONIC`, and the coarse clock is that same clock as of its last
        // update. So one `Instant` paired with a raw `CLOCK_MONOTONIC` reading taken just after
        // it maps every coarse reading onto `Instant`s. The raw reading is at or after the
        // `Instant`, so the mapping can only put a coarse time earlier than it was, never later.
        // (Anchoring on a coarse reading instead would carry that reading's own unknown lag.)
        static ANCHOR: OnceLock<Option<(Instant, Duration)>> = OnceLock::new();
        let anchor = ANCHOR.get_or_init(|| {
            let now = Instant::now();
            Some((now, read(ClockId::CLOCK_MONOTONIC)?))
        });
        match (anchor, read(ClockId::CLOCK_MONOTONIC_COARSE)) {
            (Some((base, at)), Some(t)) => *base + t.saturating_sub(*at),
            _ => Instant::now(),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        std::time::Instant::now()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::coarse_instant;

    #[test]
    fn the_coarse_instant_is_never_ahead_and_never_far_behind() {
        let start = coarse_instant();
        let mut last = start;
        let end = Instant::now() + Duration::from_millis(200);
        while Instant::now() < end {
            let before = Instant::now();
            let c = coarse_instant();
            let after = Instant::now();
            assert!(c <= after, "ahead of the precise clock by {:?}", c - after);
            // A tick or two normally; the bound leaves room for a virtual machine whose
            // timekeeping CPU is held up, and still catches a mapping that is off.
            assert!(
                before.saturating_duration_since(c) < Duration::from_millis(250),
                "lags by {:?}",
                before - c
            );
            assert!(c >= last, "went back");
            last = c;
        }
        assert!(
            last > start + Duration::from_millis(100),
            "it moves: {:?}",
            last - start
        );
    }
}
