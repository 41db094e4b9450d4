//! OpenID Connect web identity tokens (`AssumeRoleWithWebIdentity`).
//!
//! | file | owns |
//! |---|---|
//! | [`read`] | step 1, pure: a token read untrusted (`iss`, `kid`, `alg`, claims), early refusals |
//! | [`verify`] | the pure JWT check: (token, the provider's keys, rules, `now`) → [`Verified`] |
//! | [`keys`] | discovery and JWKS over HTTP(S), cached per provider, refetch rate-limited |
//! | [`memo`] | signatures a key set already verified (the claims are still checked each time) |
//! | [`context`] | the condition keys a verified token brings to the trust evaluation |
//! | [`error`] | [`Error`], every refusal with what the audit needs (claim, kid, clock) |
//!
//! Rules (reference README, decisions 3, 11, 12): keys come only from the provider's JWKS, by
//! `kid`; the algorithm is fixed by the key, never by the token header; `none` and HMAC are
//! refused, and so is a token naming its own key (`jku`, `x5u`, `jwk`); `exp`, `iat`, `iss`,
//! `aud` and `sub` are required and times are integers, checked against the injected clock with
//! a bounded leeway; tokens are at most [`MAX_TOKEN_CHARS`] characters.

pub mod context;
pub mod error;
pub mod keys;
pub mod memo;
pub mod read;
pub mod verify;

pub use self::error::Error;
pub use self::keys::{KeyCache, KeySet};
pub use self::read::{Inspected, Unverified, inspect, inspect_for_verify, inspect_remembered};
pub use self::verify::{Rules, Verified, verify, verify_inspected};

/// The longest web identity token accepted (AWS's model limit for `WebIdentityToken`).
pub const MAX_TOKEN_CHARS: usize = 20_000;

/// The provider name of an issuer URL: the URL without its scheme (`host[:port]/path`), as in
/// `arn:aws:iam::A:oidc-provider/<name>` and the condition-key prefix `<name>:sub`.
#[must_use]
pub fn provider_name(url: &str) -> &str {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
}
