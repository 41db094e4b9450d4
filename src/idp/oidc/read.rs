//! Step 1 of the JWT check, pure: reading a token without trusting anything — what locates the
//! provider and its key (`iss`, `kid`, `alg`), and the claims [`super::verify`] will check —
//! refusing early what can never pass (size, `none`, HMAC, a header naming its own key).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::error::Error;
use super::memo::{MAX_READ_TOKEN, ReadMemo, TokenDigest};

/// What [`inspect`] read from a token, untrusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    /// `iss` (finds the provider).
    pub iss: String,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The header's `alg` (one of the asymmetric algorithms).
    pub alg: Algorithm,
}

/// A token read by [`inspect_for_verify`], to be verified by [`verify_inspected`] without
/// reading it a second time: it holds the token it was read from, so what is verified is
/// always the text whose claims were read.
pub struct Inspected<'t> {
    pub(super) token: &'t str,
    /// What locates the provider and key.
    pub unverified: Unverified,
    pub(super) claims: Arc<Map<String, Value>>,
    pub(super) digest: TokenDigest,
    /// Where a verified token's reading is remembered, and whether it came from there.
    pub(super) reads: Option<&'t ReadMemo>,
    pub(super) remembered: bool,
}

impl Inspected<'_> {
    /// The token's claims as read, untrusted until [`super::verify_inspected`] has checked the
    /// signature (what finds the verifier may look at them, as `iss` does).
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// Never prints the token (a bearer credential) or its claims.
impl std::fmt::Debug for Inspected<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspected")
            .field("unverified", &self.unverified)
            .field("remembered", &self.remembered)
            .finish_non_exhaustive()
    }
}

/// The asymmetric algorithms a federated issuer may use.
fn parse_alg(s: &str) -> Option<Algorithm> {
    Some(match s {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Decodes one base64url segment as a JSON object.
fn json_segment(seg: &str, what: &str) -> Result<Map<String, Value>, Error> {
    let bytes = URL_SAFE_NO_PAD
        .decode(seg.trim_end_matches('='))
        .map_err(|_| Error::Malformed(format!("{what} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::Malformed(format!("{what} is not a JSON object"))),
    }
}

/// Splits a compact JWS into its three segments.
fn segments(token: &str) -> Result<(&str, &str, &str), Error> {
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !p.is_empty() => Ok((h, p, s)),
        _ => Err(Error::Malformed("not three dot-separated segments".into())),
    }
}

/// Reads what locates the provider and key, refusing early what can never verify: a size
/// outside 4..=20000, `alg` `none` or HMAC or unknown, a header carrying `jku`, `x5u` or `jwk`
/// (a key of the token's choosing), or `crit` (no extension is understood). `x5c` is ignored:
/// keys come only from the provider's JWKS.
///
/// # Errors
/// [`Error::TooLarge`], [`Error::Malformed`], [`Error::AlgorithmRefused`],
/// [`Error::KeyInHeader`], [`Error::MissingClaim`]`("iss")`, [`Error::ClaimType`]`("iss")`.
pub fn inspect(token: &str) -> Result<Unverified, Error> {
    read(unpadded(token)).map(|(u, _)| u)
}

/// `token` without the ASCII white space around it. A JWT's compact form holds none, so this
/// changes no token's meaning, while a token file written by `echo` or an editor ends in a
/// newline, and the AWS CLI (`file://`) and SDKs (`AWS_WEB_IDENTITY_TOKEN_FILE`) send a file's
/// text as it is. White space inside a token is still refused.
fn unpadded(token: &str) -> &str {
    token.trim_ascii()
}

/// [`inspect`], keeping what it read for [`verify_inspected`] (the claims are parsed once).
///
/// # Errors
/// As [`inspect`].
pub fn inspect_for_verify(token: &str) -> Result<Inspected<'_>, Error> {
    let token = unpadded(token);
    let (unverified, claims) = read(token)?;
    Ok(Inspected {
        token,
        unverified,
        claims: Arc::new(claims),
        digest: super::memo::digest(token),
        reads: None,
        remembered: false,
    })
}

/// [`inspect_for_verify`], taking a replayed token's reading from `reads` (a token read and
/// verified before, byte for byte) instead of decoding it again; [`verify_inspected`]
/// remembers it there once its signature verified.
///
/// # Errors
/// As [`inspect`].
pub fn inspect_remembered<'t>(token: &'t str, reads: &'t ReadMemo) -> Result<Inspected<'t>, Error> {
    let token = unpadded(token);
    if token.len() <= MAX_READ_TOKEN {
        let digest = super::memo::digest(token);
        if let Some(r) = reads.get(&digest) {
            return Ok(Inspected {
                token,
                unverified: r.unverified.clone(),
                claims: Arc::clone(&r.claims),
                digest,
                reads: Some(reads),
                remembered: true,
            });
        }
        let (unverified, claims) = read(token)?;
        return Ok(Inspected {
            token,
            unverified,
            claims: Arc::new(claims),
            digest,
            reads: Some(reads),
            remembered: false,
        });
    }
    inspect_for_verify(token)
}

/// [`inspect`], with the claims it read (untrusted until the signature is checked).
fn read(token: &str) -> Result<(Unverified, Map<String, Value>), Error> {
    let len = token.chars().count();
    if !(4..=super::MAX_TOKEN_CHARS).contains(&len) {
        return Err(Error::TooLarge(len));
    }
    let (h, p, _) = segments(token)?;
    let header = json_segment(h, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.as_str(),
        Some(_) => return Err(Error::Malformed("alg is not a string".into())),
        None => return Err(Error::Malformed("header has no alg".into())),
    };
    let alg =
        parse_alg(alg).ok_or_else(|| Error::AlgorithmRefused(alg.chars().take(16).collect()))?;
    for name in ["jku", "x5u", "jwk"] {
        if header.contains_key(name) {
            return Err(Error::KeyInHeader(name));
        }
    }
    if header.contains_key("crit") {
        return Err(Error::Malformed(
            "crit header: no extension is understood".into(),
        ));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) if k.len() <= 256 => Some(k.clone()),
        Some(_) => {
            return Err(Error::Malformed(
                "kid is not a string of at most 256".into(),
            ));
        }
    };
    let claims = json_segment(p, "claims")?;
    let iss = match claims.get("iss") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Error::ClaimType("iss")),
        None => return Err(Error::MissingClaim("iss")),
    };
    Ok((Unverified { iss, kid, alg }, claims))
}
