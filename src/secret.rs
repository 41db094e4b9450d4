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

/// Constant-time comparison of two byte strings (the lengths are not secret).
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
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
    }
}
