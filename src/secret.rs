//! Secret values: zeroized on drop, redacted in `Debug`, compared in constant time, and read only
//! through `expose()`.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string (secret access key, session token, seed, …).
#[derive(Clone, Zeroize, ZeroizeOnDrop, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    #[must_use]
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The secret itself. Call only where the value must be used (HMAC key, response body).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality.
    #[must_use]
    pub fn ct_eq(&self, other: &str) -> bool {
        ct_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A secret read from a request (a session token): borrowed from the request where it can be,
/// owned where it had to be decoded. Redacted in `Debug`; an owned copy is zeroized on drop.
#[derive(Clone)]
pub struct SecretCow<'a>(std::borrow::Cow<'a, str>);

impl<'a> SecretCow<'a> {
    /// Wraps a secret borrowed from the request.
    #[must_use]
    pub fn borrowed(s: &'a str) -> Self {
        Self(std::borrow::Cow::Borrowed(s))
    }

    /// Wraps a decoded copy.
    #[must_use]
    pub fn owned(s: String) -> Self {
        Self(std::borrow::Cow::Owned(s))
    }

    /// The secret itself.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretCow<'_> {
    fn drop(&mut self) {
        if let std::borrow::Cow::Owned(s) = &mut self.0 {
            s.zeroize();
        }
    }
}

impl fmt::Debug for SecretCow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCow(<redacted>)")
    }
}

/// Secret bytes (keys).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps secret bytes.
    #[must_use]
    pub fn new(b: Vec<u8>) -> Self {
        Self(b)
    }

    /// The bytes themselves.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// Constant-time comparison of two byte strings (the lengths are not secret): eight bytes at a
/// time with `subtle`'s word comparison (one optimization barrier a word, not a byte: secrets
/// and signatures are compared on every signed request), the tail with its byte comparison.
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = a8.remainder().ct_eq(b8.remainder());
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    let same = a8
        .zip(b8)
        .fold(tail, |acc, (x, y)| acc & word(x).ct_eq(&word(y)));
    bool::from(same)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert!(!format!("{s:?}").contains("wJalr"));
        let b = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(format!("{b:?}"), "SecretBytes(<3 bytes redacted>)");
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(SecretString::from("x").ct_eq("x"));
        assert!(!SecretString::from("x").ct_eq("y"));
        assert!(ct_eq(b"", b""));
    }

    proptest::proptest! {
        /// Equal to `==` for every length (whole words and tails) and every differing byte.
        #[test]
        fn ct_eq_is_equality(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            at in proptest::prelude::any::<usize>(),
            flip in 1_u8..=255,
        ) {
            proptest::prop_assert!(ct_eq(&a, &a.clone()));
            if !a.is_empty() {
                let mut b = a.clone();
                let i = at % a.len();
                if let Some(x) = b.get_mut(i) {
                    *x ^= flip;
                }
                proptest::prop_assert!(!ct_eq(&a, &b), "byte {} differs", i);
                let shorter = a.get(..a.len() - 1).unwrap_or_default();
                proptest::prop_assert!(!ct_eq(&a, shorter));
            }
        }
    }
}
