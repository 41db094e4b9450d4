//! Signatures one key set has already verified: a web identity token is replayed as it is
//! (a CI job's or a pod's token file is read again for every credential refresh), and its
//! signature check — the fixed cost of a request, most of it — need not be repeated.
//!
//! Only the signature is remembered, never a decision: every claim check (`iss`, `aud`, `sub`,
//! `exp`, `nbf`, `iat` and the maximum age, against the request's `now`), the trust policy, and
//! revocation run on every request. An entry is the SHA-256 of the exact token text (header,
//! claims and signature: the token itself is not kept), so any change to a byte misses; it
//! lives in the [`KeySet`](super::KeySet) that verified it, so a refetched JWKS (a rotated or
//! withdrawn key) starts with an empty memo.

use sha2::{Digest, Sha256};

use crate::bounded::BoundedMap;

/// Most digests kept per key set; when full, the memo starts over (a bound on memory: only
/// tokens with a valid signature of the provider's key get in).
pub const MAX_ENTRIES: usize = 4096;

/// The digest a token is remembered by.
pub type TokenDigest = [u8; 32];

/// The SHA-256 of the token's exact text.
#[must_use]
pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Digests of tokens whose signature verified with this key set.
pub struct SignatureMemo {
    seen: BoundedMap<TokenDigest, ()>,
}

impl Default for SignatureMemo {
    fn default() -> Self {
        Self {
            seen: BoundedMap::new(MAX_ENTRIES),
        }
    }
}

impl SignatureMemo {
    /// Whether a token with this digest verified before.
    #[must_use]
    pub fn contains(&self, d: &TokenDigest) -> bool {
        self.seen.get(d).is_some()
    }

    /// Remembers a token whose signature verified.
    pub fn insert(&self, d: TokenDigest) {
        self.seen.insert(d, ());
    }

    /// How many are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Tokens longer than this are never read from [`ReadMemo`] (a bound on its memory: an account
/// can register an issuer of its own and sign large tokens); ID tokens are 1-2 KB.
pub const MAX_READ_TOKEN: usize = 4096;

/// Most tokens [`ReadMemo`] keeps; when full, it starts over.
pub const MAX_READS: usize = 2048;

/// What a token's text reads to before anything is verified: its header facts and claims.
#[derive(Debug)]
pub struct ReadToken {
    /// `iss`, `kid`, `alg`.
    pub unverified: super::Unverified,
    /// Every claim.
    pub claims: std::sync::Arc<serde_json::Map<String, serde_json::Value>>,
}

/// Tokens already read, by the SHA-256 of their exact text: decoding and parsing a token is a
/// pure function of its text, so a replayed one is not read again. Only tokens whose signature
/// then verified are kept (unsigned junk cannot fill it), and at most [`MAX_READ_TOKEN`]
/// characters long. Nothing read is trusted: the signature (or the key set's
/// [`SignatureMemo`]) and every claim check run on each request, as for a token read afresh.
pub struct ReadMemo {
    seen: BoundedMap<TokenDigest, std::sync::Arc<ReadToken>>,
}

impl Default for ReadMemo {
    fn default() -> Self {
        Self {
            seen: BoundedMap::new(MAX_READS),
        }
    }
}

impl ReadMemo {
    /// The token with this digest, if it was read (and verified) before.
    #[must_use]
    pub fn get(&self, d: &TokenDigest) -> Option<std::sync::Arc<ReadToken>> {
        self.seen.get(d)
    }

    /// Remembers what a verified token read to.
    pub fn insert(&self, d: TokenDigest, read: std::sync::Arc<ReadToken>) {
        self.seen.insert(d, read);
    }

    /// How many are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

impl std::fmt::Debug for ReadMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadMemo")
            .field("entries", &self.len())
            .finish()
    }
}

/// A copy of a key set remembers nothing (it is verified afresh).
impl Clone for SignatureMemo {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for SignatureMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureMemo")
            .field("entries", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_exact() {
        let m = SignatureMemo::default();
        let a = digest("a.b.c");
        assert!(!m.contains(&a));
        m.insert(a);
        assert!(m.contains(&a));
        assert!(!m.contains(&digest("a.b.d")), "one byte changed misses");
        for i in 0..MAX_ENTRIES {
            m.insert(digest(&i.to_string()));
        }
        assert!(m.len() <= MAX_ENTRIES, "never more than the bound");
        assert!(m.clone().is_empty(), "a copy remembers nothing");
    }
}
