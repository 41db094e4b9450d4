//! Why a web identity token was refused. Each variant says what the audit needs (the claim, the
//! key id, how far the clock was off) and never holds the token; `crate::error` maps them to
//! AWS's codes and terse messages.

/// A refused token, or keys that could not be had. Variants are alphabetical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The header's `alg` is not one the key allows (the key fixes the algorithm).
    #[error("the token says alg {header_alg} but key {kid} allows only {allowed}")]
    AlgorithmMismatch {
        /// The key id.
        kid: String,
        /// The header's algorithm.
        header_alg: String,
        /// What the key allows.
        allowed: String,
    },
    /// `none`, HMAC or an unknown algorithm: never accepted from a federated issuer.
    #[error("algorithm {0} is refused")]
    AlgorithmRefused(String),
    /// No client id of the provider is among the token's audiences.
    #[error("no audience of the token ({got}) is a client id of the provider")]
    Audience {
        /// The token's audiences, comma-separated.
        got: String,
    },
    /// A claim that must be an integer (a time) or a string is of another type.
    #[error("claim {0} has the wrong type")]
    ClaimType(&'static str),
    /// `exp` is past, beyond the leeway.
    #[error("token expired at {exp}, now is {now} ({} s ago, leeway {leeway} s)", now - exp)]
    Expired {
        /// `exp`.
        exp: i64,
        /// The broker's clock.
        now: i64,
        /// The leeway applied.
        leeway: i64,
    },
    /// The IdP's keys could not be fetched and none are cached for this key id.
    #[error("identity provider unreachable: {0}")]
    IdpUnreachable(String),
    /// `iat` is in the future, beyond the leeway.
    #[error("token issued at {iat}, {} s after now ({now})", iat - now)]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// The broker's clock.
        now: i64,
    },
    /// `iss` is not the provider's URL.
    #[error("issuer {got} is not the provider URL {want}")]
    Issuer {
        /// The token's `iss`.
        got: String,
        /// The provider URL.
        want: String,
    },
    /// The provider's discovery document or key set is not acceptable.
    #[error("identity provider keys: {0}")]
    Keys(String),
    /// The header names a key of its own (`jku`, `x5u`, `jwk`): never trusted.
    #[error("the token header carries {0}, which is never trusted")]
    KeyInHeader(&'static str),
    /// Not a compact JWS of a JSON header and JSON claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// A required claim is absent.
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    /// `nbf` is in the future, beyond the leeway.
    #[error("token not valid before {nbf}, now is {now} ({} s early)", nbf - now)]
    NotYetValid {
        /// `nbf`.
        nbf: i64,
        /// The broker's clock.
        now: i64,
    },
    /// The signature does not verify with the key.
    #[error("the signature does not verify with key {kid}")]
    Signature {
        /// The key id.
        kid: String,
    },
    /// `iat` is older than the maximum token age.
    #[error("token issued {age} s ago, older than the maximum of {max} s")]
    TooOld {
        /// Seconds since `iat`.
        age: i64,
        /// The configured maximum.
        max: i64,
    },
    /// Longer than [`super::MAX_TOKEN_CHARS`] (or shorter than 4).
    #[error("token of {0} characters is outside 4..=20000")]
    TooLarge(usize),
    /// No key of the provider has this key id (after a refetch, when one was allowed).
    #[error("no key {kid} in the provider's key set{}", if *.refetch_limited { " (refetch rate-limited)" } else { "" })]
    UnknownKid {
        /// The key id (`-` when the token has none).
        kid: String,
        /// Whether a refetch was skipped because one happened within the interval.
        refetch_limited: bool,
    },
}
