//! Sealed, self-contained session tokens and the key ring that seals them.
//!
//! Spec: `shared/design/architecture.md` §2 (credentials) and §3 (revocation compares
//! `issued_at`), `shared/reference/README.md` decision 8 (size budget), `sts-spec.md` §9.
//!
//! - [`claims`]: what a token says ([`SessionClaims`]) and its compact encoding; the
//!   `PackedPolicySize` measure ([`packed_size_percent`]).
//! - [`seal`]: the wire format (`SKS1` + base64url(header ‖ nonce ‖ XChaCha20-Poly1305
//!   ciphertext)) and the derivation of the temporary secret, which is never in the token.
//! - [`keyring`]: the active key plus retained older keys, their file, rotation, and the
//!   `seal_at` / `open_at` / `open_and_derive` / `mint_at` entry points.
//! - [`error`]: one [`Error`]; every rejection of a presented token is [`Error::Invalid`], with
//!   the cause kept for logs only.
//!
//! Pure apart from the key-ring file functions: everything takes `now`.

pub mod claims;
pub mod error;
pub mod keyring;
pub mod seal;

pub use claims::{
    PACKED_BUDGET_BYTES, SessionClaims, SessionKind, SessionSubject, packed_size_percent,
};
pub use error::{Error, InvalidReason};
pub use keyring::{DEFAULT_RETAIN, KeyInfo, KeyRing, Minted};
pub use seal::{KeyId, MAX_TOKEN_LEN, TOKEN_PREFIX};

#[cfg(test)]
mod tests;
