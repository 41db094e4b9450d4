//! The per-device state that makes codes single-use and guesses slow, and the pure transition
//! an attempt makes on it. The repository stores the state next to the device and commits the
//! transition with a compare-and-swap (`Check::Equals` on the old state), so of two requests
//! carrying the same fresh code exactly one wins, on every store backend.

use serde::{Deserialize, Serialize};

use super::totp::{self, Code, Seed};

/// Failed attempts allowed per device in [`THROTTLE_SECONDS`] before every attempt is refused
/// until the period ends. Six digits and three live steps make a guess succeed with odds of
/// 3 in 10⁶; five guesses per five minutes keeps a year of guessing under 1 %.
pub const MAX_FAILURES: u32 = 5;
/// The throttling period, in seconds.
pub const THROTTLE_SECONDS: i64 = 300;
/// Half-width, in steps, of the window `ResyncMFADevice` searches (±10 minutes).
pub const RESYNC_WINDOW: u64 = 20;

/// What the store keeps per device, besides the device record. It outlives deactivation, so a
/// code (and every earlier one) is accepted once per device, across re-enabling too; and it
/// names the owner, so the owner check is under the same compare-and-swap as the step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Whom the device is enabled for (a user's unique id, or the account id for the root);
    /// `None` while it is not enabled.
    #[serde(default)]
    pub owner: Option<String>,
    /// The last step accepted; codes of this step and earlier ones are refused.
    #[serde(default)]
    pub last_step: Option<u64>,
    /// The device's clock offset in steps, learned by a resync.
    #[serde(default)]
    pub drift: i64,
    /// Failed attempts in the current throttling period.
    #[serde(default)]
    pub failures: u32,
    /// When the current throttling period began (Unix seconds).
    #[serde(default)]
    pub failures_since: i64,
}

/// Why an attempt was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Wrong code, or one already used.
    #[error(transparent)]
    Code(#[from] totp::Error),
    /// Too many failures lately; the code was not even checked.
    #[error("too many failed MFA attempts for this device; retry after {until}")]
    Throttled {
        /// When attempts are accepted again (Unix seconds).
        until: i64,
    },
}

/// An attempt's outcome: the new state to commit (also on failure: the failure counts) and the
/// answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The state to store (compare-and-swap against the state read).
    pub next: DeviceState,
    /// The accepted step, or why not.
    pub result: Result<u64, Refusal>,
}

impl DeviceState {
    /// The same state, no longer enabled for anyone (the steps used stay used).
    #[must_use]
    pub fn deactivated(&self) -> Self {
        Self {
            owner: None,
            failures: 0,
            failures_since: 0,
            ..self.clone()
        }
    }

    /// Whether the device is enabled for `owner`.
    #[must_use]
    pub fn is_enabled_for(&self, owner: &str) -> bool {
        self.owner.as_deref() == Some(owner)
    }

    fn throttled_until(&self, now: i64) -> Option<i64> {
        let until = self.failures_since.saturating_add(THROTTLE_SECONDS);
        (self.failures >= MAX_FAILURES && now < until).then_some(until)
    }

    fn with_failure(&self, now: i64) -> Self {
        let mut next = self.clone();
        if now >= self.failures_since.saturating_add(THROTTLE_SECONDS) {
            next.failures = 1;
            next.failures_since = now;
        } else {
            next.failures = next.failures.saturating_add(1);
        }
        next
    }

    /// One code presented at `now` (`GetSessionToken`, `AssumeRole`).
    #[must_use]
    pub fn attempt(&self, seed: &Seed, code: &Code, now: i64) -> Outcome {
        if let Some(until) = self.throttled_until(now) {
            return Outcome {
                next: self.clone(),
                result: Err(Refusal::Throttled { until }),
            };
        }
        match totp::verify(seed, code, now, self.drift, self.last_step) {
            Ok(step) => Outcome {
                next: Self {
                    last_step: Some(step),
                    failures: 0,
                    ..self.clone()
                },
                result: Ok(step),
            },
            // A reused code is no guess (it was right once): refused, but not counted, so a
            // client that retries with the same code, or loses a race with its own duplicate,
            // does not lock its device. A random guess lands on a used step with odds of 2 in
            // 10⁶, which leaves the throttle's bound as it is.
            Err(e @ totp::Error::Replayed { .. }) => Outcome {
                next: self.clone(),
                result: Err(e.into()),
            },
            Err(e) => Outcome {
                next: self.with_failure(now),
                result: Err(e.into()),
            },
        }
    }

    /// Two consecutive codes presented at `now` to resynchronise: searched in ±[`RESYNC_WINDOW`]
    /// steps; on success the drift becomes the offset found.
    #[must_use]
    pub fn resync(&self, seed: &Seed, code1: &Code, code2: &Code, now: i64) -> Outcome {
        self.pair(seed, code1, code2, now, |step| {
            let center = totp::step_at(now).map_or(0, i128::from);
            let drift = i64::try_from(i128::from(step) - center).unwrap_or(0);
            Self {
                last_step: Some(step),
                drift,
                failures: 0,
                ..self.clone()
            }
        })
    }

    /// Two consecutive codes presented at `now` to enable the device for `owner`: searched in
    /// ±[`RESYNC_WINDOW`] steps (AWS enables a device with codes submitted late), after the
    /// steps used while it was enabled before; the device's clock is taken as right (no drift).
    #[must_use]
    pub fn enable(
        &self,
        seed: &Seed,
        code1: &Code,
        code2: &Code,
        now: i64,
        owner: &str,
    ) -> Outcome {
        self.pair(seed, code1, code2, now, |step| Self {
            owner: Some(owner.to_owned()),
            last_step: Some(step),
            drift: 0,
            failures: 0,
            failures_since: 0,
        })
    }

    fn pair(
        &self,
        seed: &Seed,
        code1: &Code,
        code2: &Code,
        now: i64,
        accepted: impl FnOnce(u64) -> Self,
    ) -> Outcome {
        if let Some(until) = self.throttled_until(now) {
            return Outcome {
                next: self.clone(),
                result: Err(Refusal::Throttled { until }),
            };
        }
        match totp::verify_pair(seed, code1, code2, now, RESYNC_WINDOW, self.last_step) {
            Ok(step) => Outcome {
                next: accepted(step),
                result: Ok(step),
            },
            Err(e @ totp::Error::Replayed { .. }) => Outcome {
                next: self.clone(),
                result: Err(e.into()),
            },
            Err(e) => Outcome {
                next: self.with_failure(now),
                result: Err(e.into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::mfa::totp::{code_at_step, step_at};

    const NOW: i64 = 1_800_000_015;

    fn seed() -> Seed {
        Seed::new(b"12345678901234567890".to_vec())
    }

    fn at(step: u64) -> Code {
        Code::parse(&code_at_step(&seed(), step)).unwrap()
    }

    fn wrong() -> Code {
        let n = step_at(NOW).unwrap();
        let c: u32 = code_at_step(&seed(), n).parse().unwrap();
        Code::parse(&format!("{:06}", (c + 500_000) % 1_000_000)).unwrap()
    }

    #[test]
    fn success_records_the_step_and_refuses_reuse() {
        let n = step_at(NOW).unwrap();
        let s0 = DeviceState::default();
        let o = s0.attempt(&seed(), &at(n), NOW);
        assert_eq!(o.result, Ok(n));
        assert_eq!(o.next.last_step, Some(n));
        let again = o.next.attempt(&seed(), &at(n), NOW);
        assert_eq!(
            again.result,
            Err(Refusal::Code(totp::Error::Replayed { step: n }))
        );
        assert_eq!(again.next, o.next, "a replay is refused but not counted");
    }

    #[test]
    fn failures_throttle_until_the_period_ends() {
        let n = step_at(NOW).unwrap();
        let mut s = DeviceState::default();
        for i in 0..MAX_FAILURES {
            let o = s.attempt(&seed(), &wrong(), NOW + i64::from(i));
            assert_eq!(o.result, Err(Refusal::Code(totp::Error::Invalid)));
            s = o.next;
        }
        assert_eq!(s.failures, MAX_FAILURES);
        // Now even the right code is refused, unchecked.
        let o = s.attempt(&seed(), &at(n), NOW + 10);
        assert_eq!(
            o.result,
            Err(Refusal::Throttled {
                until: NOW + THROTTLE_SECONDS
            })
        );
        assert_eq!(o.next, s, "a throttled attempt changes nothing");
        // After the period, the code of that time is accepted and the count resets.
        let later = NOW + THROTTLE_SECONDS;
        let o = s.attempt(&seed(), &at(step_at(later).unwrap()), later);
        assert!(o.result.is_ok());
        assert_eq!(o.next.failures, 0);
    }

    #[test]
    fn failures_spread_out_do_not_throttle() {
        let mut s = DeviceState::default();
        for i in 0..10 {
            let t = NOW + i * THROTTLE_SECONDS;
            let o = s.attempt(&seed(), &wrong(), t);
            assert_eq!(o.next.failures, 1);
            s = o.next;
        }
    }

    #[test]
    fn resync_learns_the_drift() {
        let n = step_at(NOW).unwrap();
        let s = DeviceState::default()
            .enable(&seed(), &at(n - 4), &at(n - 3), NOW, "AIDAA")
            .next;
        assert_eq!(s.last_step, Some(n - 3));
        // A device 8 steps (4 minutes) fast: its codes are refused…
        assert!(s.attempt(&seed(), &at(n + 8), NOW).result.is_err());
        // …until a resync with two consecutive codes from it.
        let o = s.resync(&seed(), &at(n + 7), &at(n + 8), NOW);
        assert_eq!(o.result, Ok(n + 8));
        assert_eq!(o.next.drift, 8);
        let later = NOW + 30;
        let o = o.next.attempt(&seed(), &at(n + 9), later);
        assert_eq!(o.result, Ok(n + 9));
        // Beyond the resync window: refused.
        let s = DeviceState::default();
        let far = n + RESYNC_WINDOW + 2;
        assert!(
            s.resync(&seed(), &at(far - 1), &at(far), NOW)
                .result
                .is_err()
        );
    }

    #[test]
    fn enabling_names_the_owner_and_deactivating_keeps_the_used_steps() {
        let n = step_at(NOW).unwrap();
        let on = DeviceState::default().enable(&seed(), &at(n - 1), &at(n), NOW, "AIDAA");
        assert_eq!(on.result, Ok(n));
        assert!(on.next.is_enabled_for("AIDAA") && !on.next.is_enabled_for("AIDAB"));
        assert_eq!(on.next.drift, 0);
        let off = on.next.deactivated();
        assert_eq!((off.owner.clone(), off.last_step), (None, Some(n)));
        // Enabling again with that pair is a reuse; a later pair is accepted.
        let again = off.enable(&seed(), &at(n - 1), &at(n), NOW, "AIDAB");
        assert_eq!(
            again.result,
            Err(Refusal::Code(totp::Error::Replayed { step: n }))
        );
        assert_eq!(again.next, off);
        let later = off.enable(&seed(), &at(n + 1), &at(n + 2), NOW + 60, "AIDAB");
        assert_eq!(later.result, Ok(n + 2));
        assert!(later.next.is_enabled_for("AIDAB"));
        // Stale pairs (up to ten minutes) still enable, as AWS does; the drift stays 0.
        let stale = DeviceState::default().enable(&seed(), &at(n - 15), &at(n - 14), NOW, "AIDAA");
        assert_eq!((stale.result, stale.next.drift), (Ok(n - 14), 0));
    }
}
