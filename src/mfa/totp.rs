//! RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s steps) over RFC 4226 HOTP: pure functions of the
//! seed, the code and the time. The HMAC is the `hmac` crate's; comparisons are constant-time.
//!
//! A code is checked against the steps `center - window ..= center + window`, where `center` is
//! the current step shifted by the device's recorded drift (set by a resync). A code may be used
//! once: only steps strictly after the device's last accepted step are accepted (reference
//! README, decision 5), so a code, and every earlier one, is refused once a later one was used.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::secret::SecretBytes;

/// Seconds per step (RFC 6238 `X`, AWS: 30).
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code (AWS: 6).
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one (decision 5: ±1).
pub const WINDOW: u64 = 1;

/// A device's shared secret (RFC 4226 `K`). Redacted `Debug`, zeroized on drop.
#[derive(Clone)]
pub struct Seed(SecretBytes);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

impl Seed {
    /// Bytes of a generated seed (160 bits, RFC 4226 §4 R6 recommends at least this).
    pub const LEN: usize = 20;

    /// Wraps seed bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(SecretBytes::new(bytes))
    }

    /// A fresh random seed.
    #[must_use]
    pub fn generate() -> Self {
        let mut b = vec![0u8; Self::LEN];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
        Self::new(b)
    }

    /// Decodes the RFC 4648 base32 form (upper case, padding optional), as authenticator apps
    /// take it. `None` if it is not base32 or is empty.
    #[must_use]
    pub fn from_base32(text: &str) -> Option<Self> {
        let trimmed = text.trim_end_matches('=');
        let b = data_encoding::BASE32_NOPAD
            .decode(trimmed.as_bytes())
            .ok()?;
        (!b.is_empty()).then(|| Self::new(b))
    }

    /// The base32 form (no padding for the 20-byte seeds generated here).
    #[must_use]
    pub fn to_base32(&self) -> crate::secret::SecretString {
        crate::secret::SecretString::new(data_encoding::BASE32.encode(self.0.expose()))
    }

    fn expose(&self) -> &[u8] {
        self.0.expose()
    }
}

/// A six-digit code as given (`TokenCode`, `AuthenticationCode1`…), checked for shape.
#[derive(Clone, PartialEq, Eq)]
pub struct Code([u8; 6]);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

impl Code {
    /// Parses exactly six ASCII digits.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let b: [u8; 6] = text.as_bytes().try_into().ok()?;
        b.iter().all(u8::is_ascii_digit).then_some(Self(b))
    }

    fn digits(&self) -> &[u8; 6] {
        &self.0
    }
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The code matches no step of the window.
    #[error("the code matches no step of the window")]
    Invalid,
    /// The code matches a step at or before the device's last accepted step (a reuse).
    #[error("the code was already used (step {step} is not after the last accepted step)")]
    Replayed {
        /// The step the code belongs to.
        step: u64,
    },
}

/// RFC 4226 §5.3 HOTP value of `counter`, as the low `digits` decimal digits (zero-padded).
#[must_use]
pub fn hotp(seed: &Seed, counter: u64, digits: u32) -> String {
    // RFC 4226 §5.3 step 1: HS = HMAC-SHA-1(K, C), C as 8 big-endian bytes.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(seed.expose()) else {
        // INVARIANT: HMAC accepts keys of any length; unreachable.
        return String::new();
    };
    mac.update(&counter.to_be_bytes());
    let hs = mac.finalize().into_bytes();
    // Step 2: dynamic truncation — the low 4 bits of the last byte give the offset.
    let offset = usize::from(hs.last().copied().unwrap_or(0) & 0x0f);
    let word = hs
        .get(offset..offset + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_be_bytes)
        & 0x7fff_ffff;
    // Step 3: Snum mod 10^Digit.
    let modulus = 10u64.pow(digits);
    format!(
        "{:0width$}",
        u64::from(word) % modulus,
        width = usize::try_from(digits).unwrap_or(6)
    )
}

/// The RFC 6238 step of `unix_seconds` (`T = floor((now - T0) / X)`, `T0 = 0`), or `None`
/// before the epoch.
#[must_use]
pub fn step_at(unix_seconds: i64) -> Option<u64> {
    u64::try_from(unix_seconds.div_euclid(STEP_SECONDS)).ok()
}

/// The six-digit code of `step` (authenticator apps show this; tests use it).
#[must_use]
pub fn code_at_step(seed: &Seed, step: u64) -> String {
    hotp(seed, step, DIGITS)
}

fn matches(seed: &Seed, code: &Code, step: u64) -> bool {
    let expected = code_at_step(seed, step);
    bool::from(expected.as_bytes().ct_eq(code.digits()))
}

/// The steps to try: `center - window ..= center + window`, clipped at zero.
fn candidates(now: i64, drift: i64, window: u64) -> impl Iterator<Item = u64> {
    let center = step_at(now).map(|s| i128::from(s) + i128::from(drift));
    let w = i128::from(window);
    let range = center.map(|c| ((c - w).max(0), c + w));
    range
        .into_iter()
        .flat_map(|(lo, hi)| lo..=hi)
        .filter_map(|s| u64::try_from(s).ok())
}

/// Checks one code: the lowest step of the window after `last` that it matches.
///
/// Every step of the window is computed and compared (no early exit), so the time taken does
/// not tell which step matched.
///
/// # Errors
/// [`Error::Replayed`] when the code matches only steps at or before `last`;
/// [`Error::Invalid`] when it matches none.
pub fn verify(
    seed: &Seed,
    code: &Code,
    now: i64,
    drift: i64,
    last: Option<u64>,
) -> Result<u64, Error> {
    let mut fresh: Option<u64> = None;
    let mut used: Option<u64> = None;
    for step in candidates(now, drift, WINDOW) {
        if matches(seed, code, step) {
            if last.is_some_and(|l| step <= l) {
                used = used.or(Some(step));
            } else {
                fresh = fresh.or(Some(step));
            }
        }
    }
    match (fresh, used) {
        (Some(step), _) => Ok(step),
        (None, Some(step)) => Err(Error::Replayed { step }),
        (None, None) => Err(Error::Invalid),
    }
}

/// Checks two consecutive codes (`EnableMFADevice`, `ResyncMFADevice`): a step `s` in the window
/// (of half-width `window` around the current step, no drift) with `code1` at `s - 1` and
/// `code2` at `s`, both after `last`. Returns `s`, the step of the second code.
///
/// # Errors
/// [`Error::Replayed`] when the pair matches only steps at or before `last`;
/// [`Error::Invalid`] when no consecutive pair matches.
pub fn verify_pair(
    seed: &Seed,
    code1: &Code,
    code2: &Code,
    now: i64,
    window: u64,
    last: Option<u64>,
) -> Result<u64, Error> {
    let mut fresh: Option<u64> = None;
    let mut used: Option<u64> = None;
    for step in candidates(now, 0, window).filter(|s| *s >= 1) {
        let both = matches(seed, code1, step - 1) & matches(seed, code2, step);
        if both {
            if last.is_some_and(|l| step - 1 <= l) {
                used = used.or(Some(step));
            } else {
                fresh = fresh.or(Some(step));
            }
        }
    }
    match (fresh, used) {
        (Some(step), _) => Ok(step),
        (None, Some(step)) => Err(Error::Replayed { step }),
        (None, None) => Err(Error::Invalid),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn rfc_seed() -> Seed {
        Seed::new(b"12345678901234567890".to_vec())
    }

    fn code(s: &str) -> Code {
        Code::parse(s).unwrap()
    }

    #[test]
    fn rfc4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(hotp(&rfc_seed(), counter as u64, 6), *want, "{counter}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1() {
        for (t, want) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = step_at(t).unwrap();
            assert_eq!(hotp(&rfc_seed(), step, 8), want, "{t}");
            // Six-digit apps show the low six digits.
            assert_eq!(code_at_step(&rfc_seed(), step), want[2..], "{t}");
        }
    }

    #[test]
    fn base32_round_trip() {
        let s = Seed::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(hotp(&s, 1, 6), "287082");
        let g = Seed::generate();
        let text = g.to_base32();
        assert_eq!(text.expose().len(), 32);
        let back = Seed::from_base32(text.expose()).unwrap();
        assert_eq!(hotp(&back, 7, 6), hotp(&g, 7, 6));
        assert!(Seed::from_base32("not base32!").is_none());
        assert!(Seed::from_base32("").is_none());
        assert!(!format!("{g:?}").contains(text.expose()));
    }

    #[test]
    fn codes_are_six_digits() {
        assert!(Code::parse("123456").is_some());
        for bad in ["12345", "1234567", "12345a", " 12345", "", "１２３４５６"] {
            assert!(Code::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(format!("{:?}", code("123456")), "Code(<redacted>)");
    }

    #[test]
    fn the_window_is_one_step_either_side() {
        let seed = rfc_seed();
        let now = 1_234_567_890; // step 41152263, 0 s into the step
        let n = step_at(now).unwrap();
        for (delta, ok) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = n.checked_add_signed(delta).unwrap();
            let c = code(&code_at_step(&seed, step));
            let r = verify(&seed, &c, now, 0, None);
            assert_eq!(r.is_ok(), ok, "delta {delta}");
            if ok {
                assert_eq!(r.unwrap(), step);
            } else {
                assert_eq!(r.unwrap_err(), Error::Invalid);
            }
        }
        // Edges of the current step: the last second of step n still accepts n-1's code, the
        // first second of n+1 no longer does.
        let c = code(&code_at_step(&seed, n - 1));
        let end_of_n = i64::try_from(n).unwrap() * STEP_SECONDS + STEP_SECONDS - 1;
        assert!(verify(&seed, &c, end_of_n, 0, None).is_ok());
        assert_eq!(
            verify(&seed, &c, end_of_n + 1, 0, None),
            Err(Error::Invalid)
        );
    }

    #[test]
    fn a_code_and_every_earlier_one_are_accepted_once() {
        let seed = rfc_seed();
        let now = 1_234_567_890;
        let n = step_at(now).unwrap();
        let current = code(&code_at_step(&seed, n));
        let earlier = code(&code_at_step(&seed, n - 1));
        let step = verify(&seed, &current, now, 0, None).unwrap();
        assert_eq!(step, n);
        assert_eq!(
            verify(&seed, &current, now, 0, Some(step)),
            Err(Error::Replayed { step: n })
        );
        assert_eq!(
            verify(&seed, &earlier, now, 0, Some(step)),
            Err(Error::Replayed { step: n - 1 })
        );
        let next = code(&code_at_step(&seed, n + 1));
        assert_eq!(verify(&seed, &next, now, 0, Some(step)), Ok(n + 1));
    }

    #[test]
    fn drift_moves_the_window() {
        let seed = rfc_seed();
        let now = 1_234_567_890;
        let n = step_at(now).unwrap();
        let ahead = code(&code_at_step(&seed, n + 5));
        assert_eq!(verify(&seed, &ahead, now, 0, None), Err(Error::Invalid));
        assert_eq!(verify(&seed, &ahead, now, 5, None), Ok(n + 5));
        assert_eq!(verify(&seed, &ahead, now, 4, None), Ok(n + 5));
        assert_eq!(verify(&seed, &ahead, now, 7, None), Err(Error::Invalid));
    }

    #[test]
    fn wrong_codes_and_other_seeds_fail() {
        let seed = rfc_seed();
        let now = 1_234_567_890;
        let n = step_at(now).unwrap();
        let right = code_at_step(&seed, n);
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(
            verify(&seed, &code(&wrong), now, 0, None),
            Err(Error::Invalid)
        );
        let other = Seed::new(b"another seed of twenty".to_vec());
        assert_eq!(
            verify(&other, &code(&right), now, 0, None),
            Err(Error::Invalid)
        );
        assert_eq!(step_at(-1), None);
    }

    #[test]
    fn pairs_must_be_consecutive_and_fresh() {
        let seed = rfc_seed();
        let now = 1_234_567_890;
        let n = step_at(now).unwrap();
        let at = |s: u64| code(&code_at_step(&seed, s));
        assert_eq!(verify_pair(&seed, &at(n - 1), &at(n), now, 1, None), Ok(n));
        assert_eq!(
            verify_pair(&seed, &at(n), &at(n + 1), now, 1, None),
            Ok(n + 1)
        );
        // Not consecutive, reversed, or the same code twice.
        assert!(verify_pair(&seed, &at(n - 2), &at(n), now, 1, None).is_err());
        assert!(verify_pair(&seed, &at(n), &at(n - 1), now, 1, None).is_err());
        assert!(verify_pair(&seed, &at(n), &at(n), now, 1, None).is_err());
        // Outside the window unless the window is wider (resync).
        assert!(verify_pair(&seed, &at(n + 9), &at(n + 10), now, 1, None).is_err());
        assert_eq!(
            verify_pair(&seed, &at(n + 9), &at(n + 10), now, 10, None),
            Ok(n + 10)
        );
        // A pair whose first code was already used is a replay.
        assert_eq!(
            verify_pair(&seed, &at(n - 1), &at(n), now, 1, Some(n - 1)),
            Err(Error::Replayed { step: n })
        );
    }
}
