//! Errors of the token module.
//!
//! Every way a presented token can fail to open is one variant, [`Error::Invalid`], whose
//! `Display` is the same whatever the cause: callers (and through them, clients) cannot tell a
//! tampered token from an unknown key or garbage. The [`InvalidReason`] inside is for logs only.

use std::fmt;
use std::path::PathBuf;

/// A token or key-ring failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The presented token cannot be accepted. The reason is for logs, never for clients.
    #[error("invalid session token")]
    Invalid(InvalidReason),
    /// The claims cannot be sealed: a field is over its bound or the token would be too large.
    #[error("session claims rejected: {0}")]
    Claims(String),
    /// The key-ring file exists but is not a valid key ring.
    #[error("key ring file {path}: {reason}")]
    CorruptKeyRing {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing the key-ring file failed.
    #[error("key ring file {path}: {source}")]
    Io {
        /// The file (or its temporary sibling).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
}

impl Error {
    /// The log-only reason, if this is [`Error::Invalid`].
    #[must_use]
    pub fn invalid_reason(&self) -> Option<InvalidReason> {
        match self {
            Self::Invalid(r) => Some(*r),
            _ => None,
        }
    }
}

/// Why a token was rejected. For logs and audit events only; never shown to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidReason {
    /// The access key id used to sign is not the one the token was minted for.
    AccessKeyMismatch,
    /// The claims decrypted but do not decode (format bug or version skew).
    Decode,
    /// The key that sealed the token is past its retention window.
    KeyRetired,
    /// Wrong prefix, bad base64, too short.
    Malformed,
    /// Longer than the accepted maximum.
    Oversize,
    /// The AEAD tag does not verify: the token was altered or forged.
    Tampered,
    /// The key id in the header is not in the ring (never existed here, or pruned).
    UnknownKey,
    /// The header names a format version this build does not know.
    UnknownVersion,
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AccessKeyMismatch => "access key id does not match the token",
            Self::Decode => "claims do not decode",
            Self::KeyRetired => "sealing key is past its retention",
            Self::Malformed => "malformed token",
            Self::Oversize => "token too long",
            Self::Tampered => "authentication tag mismatch",
            Self::UnknownKey => "unknown sealing key",
            Self::UnknownVersion => "unknown token version",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_display_hides_the_reason() {
        let a = Error::Invalid(InvalidReason::Tampered).to_string();
        let b = Error::Invalid(InvalidReason::UnknownKey).to_string();
        assert_eq!(a, b);
        assert_eq!(
            Error::Invalid(InvalidReason::UnknownKey).invalid_reason(),
            Some(InvalidReason::UnknownKey)
        );
        assert_eq!(Error::Claims("x".into()).invalid_reason(), None);
    }
}
