//! Session claims: what a sealed token says about its session, and their compact encoding.
//!
//! Encoding: postcard (compact, not self-describing) then raw deflate. The format is fixed by the
//! token header's version byte; any change to [`SessionClaims`] or [`SessionKind`] (field order,
//! types, variant order) needs a new version.
//!
//! Compression happens before encryption, so the ciphertext length depends on the claims. Every
//! claim is known to the session's holder and nothing secret is sealed, so the length reveals
//! nothing the holder does not already know.

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize as _;

use super::error::{Error, InvalidReason};

/// Budget, in compressed bytes, for session policies plus session tags (AWS's "packed" form).
/// [`packed_size_percent`] reports usage as a percentage of this. At 100 % a token with typical
/// ARNs still fits in 4 KB (decision 8; tested).
pub const PACKED_BUDGET_BYTES: usize = 2048;

/// Upper bound on decompressed claims. Bounds the work an attacker-controlled deflate stream can
/// cause (only reachable after the AEAD tag verified, but cheap insurance).
pub const MAX_CLAIMS_BYTES: usize = 64 * 1024;

/// Most federation claims a token carries (decision: never copy IdP claims wholesale).
pub const MAX_FEDERATION_CLAIMS: usize = 8;

/// Longest key or value of one federation claim, in bytes.
pub const MAX_FEDERATION_CLAIM_LEN: usize = 512;

/// What kind of session a token belongs to.
// INVARIANT: postcard encodes the variant index; never reorder, only append (with a new version
// if old builds must reject the new variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SessionKind {
    /// `AssumeRole` (including chained assumes).
    AssumedRole,
    /// `GetFederationToken`.
    FederatedUser,
    /// `GetSessionToken` (a user's or root's own session).
    UserSession,
    /// `AssumeRoleWithSAML`.
    Saml,
    /// `AssumeRoleWithWebIdentity`.
    WebIdentity,
}

impl SessionKind {
    /// Whether the session is a role session (`aws:PrincipalType` `AssumedRole`).
    #[must_use]
    pub fn is_role_session(self) -> bool {
        matches!(self, Self::AssumedRole | Self::Saml | Self::WebIdentity)
    }
}

/// Everything the broker needs to know about a session when it comes back with a request.
///
/// The temporary secret is never a claim: it is derived from the ring key and the access key id.
// INVARIANT: field order and types are the wire format of token version 1 (postcard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The kind of session.
    pub kind: SessionKind,
    /// The 12-digit account the session acts in.
    pub account: String,
    /// The `ASIA…` id the token was minted for.
    pub access_key_id: String,
    /// Caller ARN: assumed-role session ARN, federated-user ARN, or user/root ARN.
    pub arn: String,
    /// The underlying principal: role ARN (with path) or user ARN.
    pub principal_arn: String,
    /// `AROA…`/`AIDA…` unique id, or the account id for root.
    pub principal_id: String,
    /// Role session name or federated user name.
    pub session_name: Option<String>,
    /// Issue time, Unix seconds (`aws:TokenIssueTime`; revocation cut-offs compare to it).
    pub issued_at: i64,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// When MFA was last verified for this chain, Unix seconds (`aws:MultiFactorAuthAge`).
    pub mfa_auth_time: Option<i64>,
    /// `sts:SourceIdentity`, carried over on chaining.
    pub source_identity: Option<String>,
    /// Session tags (`aws:PrincipalTag/…`), case preserved.
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` that are transitive on chaining.
    pub transitive_tag_keys: Vec<String>,
    /// Inline session policy (JSON), if any.
    pub session_policy: Option<String>,
    /// Managed session policy ARNs.
    pub session_policy_arns: Vec<String>,
    /// The long-term key that started the chain (revocation, audit).
    pub parent_access_key_id: Option<String>,
    /// The user id that started the chain.
    pub parent_user_id: Option<String>,
    /// Whether this session came from another temporary session (chaining rules apply).
    pub chained: bool,
    /// SAML/OIDC provider ARN for federated sessions.
    pub federated_provider: Option<String>,
    /// The few `saml:`/OIDC keys that stay visible later (bounded by
    /// [`MAX_FEDERATION_CLAIMS`]).
    pub federation_claims: Vec<(String, String)>,
}

/// Who a new session is: the fields every kind of session sets.
#[derive(Debug, Clone)]
pub struct SessionSubject {
    /// The account the session acts in.
    pub account: String,
    /// The session's own ARN (assumed-role, federated-user, or the user/root ARN).
    pub arn: String,
    /// The role or user behind it.
    pub principal_arn: String,
    /// Its unique id (`AROA…`, `AIDA…`), or the account id for root.
    pub principal_id: String,
}

impl SessionClaims {
    /// The one way claims are built: a session of `kind` for `who`, issued at `now` (Unix
    /// seconds) for `seconds`, with no name, tags, policies, lineage, MFA or federation; the
    /// `with_*` methods add those. The access key id is filled in when the token is minted.
    #[must_use]
    pub fn new(kind: SessionKind, who: SessionSubject, now: i64, seconds: i64) -> Self {
        Self {
            kind,
            account: who.account,
            access_key_id: String::new(),
            arn: who.arn,
            principal_arn: who.principal_arn,
            principal_id: who.principal_id,
            session_name: None,
            issued_at: now,
            expires_at: now.saturating_add(seconds),
            mfa_auth_time: None,
            source_identity: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            session_policy: None,
            session_policy_arns: Vec::new(),
            parent_access_key_id: None,
            parent_user_id: None,
            chained: false,
            federated_provider: None,
            federation_claims: Vec::new(),
        }
    }

    /// Sets the role session name or federated user name.
    #[must_use]
    pub fn with_session_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = Some(name.into());
        self
    }

    /// Sets the long-term key and user the chain started from.
    #[must_use]
    pub fn with_lineage(mut self, key: Option<String>, user: Option<String>) -> Self {
        self.parent_access_key_id = key;
        self.parent_user_id = user;
        self
    }

    /// Sets session tags and which of them are transitive.
    #[must_use]
    pub fn with_tags(mut self, tags: Vec<(String, String)>, transitive: Vec<String>) -> Self {
        self.tags = tags;
        self.transitive_tag_keys = transitive;
        self
    }

    /// Sets the session policies (inline JSON and managed ARNs).
    #[must_use]
    pub fn with_policies(mut self, inline: Option<String>, arns: Vec<String>) -> Self {
        self.session_policy = inline;
        self.session_policy_arns = arns;
        self
    }

    /// Sets when MFA was last verified for this chain.
    #[must_use]
    pub fn with_mfa_auth_time(mut self, at: Option<i64>) -> Self {
        self.mfa_auth_time = at;
        self
    }

    /// Sets the source identity.
    #[must_use]
    pub fn with_source_identity(mut self, s: Option<String>) -> Self {
        self.source_identity = s;
        self
    }

    /// Sets the identity provider the session came from (`aws:FederatedProvider`) and the few
    /// provider keys that stay visible in its later calls (at most [`MAX_FEDERATION_CLAIMS`];
    /// sealing refuses more).
    #[must_use]
    pub fn with_federation(mut self, provider: String, claims: Vec<(String, String)>) -> Self {
        self.federated_provider = Some(provider);
        self.federation_claims = claims;
        self
    }

    /// Marks the session as chained from another session, carrying its federation claims.
    #[must_use]
    pub fn chained_from(mut self, parent: Option<&SessionClaims>) -> Self {
        if let Some(p) = parent {
            self.chained = true;
            self.federation_claims.clone_from(&p.federation_claims);
        }
        self
    }

    /// Whether the session has expired at `now` (expiry is exclusive: valid while
    /// `now < expires_at`).
    #[must_use]
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() >= self.expires_at
    }

    /// The expiry as a timestamp (`Credentials/Expiration`), if representable.
    #[must_use]
    pub fn expiration(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.expires_at, 0)
    }

    /// The issue time as a timestamp (`aws:TokenIssueTime`), if representable.
    #[must_use]
    pub fn issue_time(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.issued_at, 0)
    }

    /// Checks the bounds that sealing enforces.
    pub(crate) fn check_sealable(&self) -> Result<(), Error> {
        if self.expires_at <= self.issued_at {
            return Err(Error::Claims("expires_at must be after issued_at".into()));
        }
        if self.federation_claims.len() > MAX_FEDERATION_CLAIMS {
            return Err(Error::Claims(format!(
                "{} federation claims (max {MAX_FEDERATION_CLAIMS})",
                self.federation_claims.len()
            )));
        }
        if self
            .federation_claims
            .iter()
            .any(|(k, v)| k.len() > MAX_FEDERATION_CLAIM_LEN || v.len() > MAX_FEDERATION_CLAIM_LEN)
        {
            return Err(Error::Claims(format!(
                "federation claim longer than {MAX_FEDERATION_CLAIM_LEN} bytes"
            )));
        }
        Ok(())
    }

    /// postcard + deflate.
    #[cfg(test)]
    pub(crate) fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(ENCODE_CAPACITY);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// [`Self::encode`] appended to `out` (the sealing buffer, after the token header): no
    /// buffer of its own for the stored form, which is most tokens.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        out.push(FORM_RAW);
        // postcard extends a Vec it owns: the buffer moves in and back out, no copy.
        let mut buf = postcard::to_extend(self, std::mem::take(out))
            .map_err(|e| Error::Claims(e.to_string()))?;
        // Small claims gain little from deflate and it is most of the sealing cost: store them
        // as they are. The first byte says which (the AEAD covers it like the rest).
        let raw = buf.get(start + 1..).unwrap_or_default();
        if raw.len() > STORE_RAW_UP_TO {
            let packed = deflate(raw)?;
            buf.get_mut(start..).unwrap_or_default().zeroize();
            buf.truncate(start);
            buf.push(FORM_DEFLATE);
            buf.extend_from_slice(&packed);
        }
        *out = buf;
        Ok(())
    }

    /// The room [`Self::encode_into`] needs for the stored form (the deflated form is smaller).
    pub(crate) const ENCODED_CAPACITY: usize = ENCODE_CAPACITY;

    /// Inverse of [`Self::encode`]; any failure is [`InvalidReason::Decode`].
    pub(crate) fn decode(compressed: &[u8]) -> Result<Self, Error> {
        let invalid = || Error::Invalid(InvalidReason::Decode);
        let raw = match compressed.split_first() {
            Some((&FORM_RAW, rest)) if rest.len() <= STORE_RAW_UP_TO => rest.to_vec(),
            Some((&FORM_DEFLATE, rest)) => inflate(rest, MAX_CLAIMS_BYTES).ok_or_else(invalid)?,
            _ => return Err(invalid()),
        };
        let (claims, rest) = postcard::take_from_bytes::<Self>(&raw).map_err(|_| invalid())?;
        if !rest.is_empty() {
            return Err(invalid());
        }
        Ok(claims)
    }
}

/// AWS's `PackedPolicySize`: the compressed size of the session policy, policy ARNs and session
/// tags as a percentage (rounded up) of [`PACKED_BUDGET_BYTES`]. Above 100 the request must fail
/// with `PackedPolicyTooLarge`.
#[must_use]
pub fn packed_size_percent(
    policy: Option<&str>,
    policy_arns: &[String],
    tags: &[(String, String)],
) -> u32 {
    if policy.is_none() && policy_arns.is_empty() && tags.is_empty() {
        return 0;
    }
    let Ok(raw) = postcard::to_allocvec(&(policy, policy_arns, tags)) else {
        return u32::MAX;
    };
    let Ok(packed) = deflate(&raw) else {
        return u32::MAX;
    };
    let pct = packed
        .len()
        .saturating_mul(100)
        .div_ceil(PACKED_BUDGET_BYTES);
    u32::try_from(pct).unwrap_or(u32::MAX)
}

/// Room reserved for encoded claims: the stored form always fits, so encoding it does not
/// reallocate (a reallocation would leave a copy of the claims behind).
const ENCODE_CAPACITY: usize = STORE_RAW_UP_TO + 1;

/// Claims encoded up to this many bytes are stored without compression.
const STORE_RAW_UP_TO: usize = 512;
/// Encoding form byte: postcard bytes as they are.
const FORM_RAW: u8 = 0;
/// Encoding form byte: raw deflate of the postcard bytes.
const FORM_DEFLATE: u8 = 1;

thread_local! {
    /// Per-thread deflate state: miniz_oxide's compressor holds ~300 KB of tables, and allocating
    /// them per token dominated sealing (~150 µs against ~10 µs reused).
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
    /// Per-thread inflate state, for the same reason.
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Most rounds of a (de)compression loop; each round grows the buffer, so this is never reached
/// within [`MAX_CLAIMS_BYTES`].
const MAX_ROUNDS: usize = 64;

/// Raw deflate at the default level.
fn deflate(raw: &[u8]) -> Result<Vec<u8>, Error> {
    let run = |c: &mut Compress| {
        c.reset();
        let err = |e: &dyn std::fmt::Display| Error::Claims(format!("deflate: {e}"));
        let mut out = Vec::with_capacity(raw.len() + raw.len() / 16 + 64);
        for _ in 0..MAX_ROUNDS {
            let consumed = usize::try_from(c.total_in()).map_err(|e| err(&e))?;
            let input = raw.get(consumed..).unwrap_or_default();
            match c
                .compress_vec(input, &mut out, FlushCompress::Finish)
                .map_err(|e| err(&e))?
            {
                Status::StreamEnd => return Ok(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(64)),
            }
        }
        Err(err(&"did not finish"))
    };
    DEFLATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut c) => run(&mut c),
        Err(_) => run(&mut Compress::new(Compression::default(), false)),
    })
}

/// Raw inflate of a complete stream, refusing output over `limit` bytes, truncated streams and
/// trailing input.
fn inflate(compressed: &[u8], limit: usize) -> Option<Vec<u8>> {
    let run = |d: &mut Decompress| {
        d.reset(false);
        let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit) + 1);
        for _ in 0..MAX_ROUNDS {
            let (in_before, out_before) = (d.total_in(), d.total_out());
            let consumed = usize::try_from(in_before).ok()?;
            let input = compressed.get(consumed..)?;
            let status = d
                .decompress_vec(input, &mut out, FlushDecompress::None)
                .ok()?;
            if out.len() > limit {
                return None;
            }
            match status {
                Status::StreamEnd => {
                    let all = usize::try_from(d.total_in()).ok()? == compressed.len();
                    return all.then_some(out);
                }
                Status::Ok | Status::BufError => {
                    if out.len() < out.capacity()
                        && d.total_in() == in_before
                        && d.total_out() == out_before
                    {
                        return None; // no progress with room to spare: truncated input
                    }
                    out.reserve(out.capacity().min(limit + 1 - out.len()).max(64));
                }
            }
        }
        None
    };
    INFLATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut d) => run(&mut d),
        Err(_) => run(&mut Decompress::new(false)),
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
pub(crate) mod tests {
    use super::*;

    /// Typical AssumeRole claims: realistic ARNs, a 64-character session name, source identity,
    /// MFA, parent key; no policy, no tags.
    pub(crate) fn typical() -> SessionClaims {
        SessionClaims {
            kind: SessionKind::AssumedRole,
            account: "123456789012".into(),
            access_key_id: "ASIAY34FZKBOKMUTVV7A".into(),
            arn: format!(
                "arn:aws:sts::123456789012:assumed-role/DeploymentPipelineAdmin/{}",
                "s".repeat(64)
            ),
            principal_arn: "arn:aws:iam::123456789012:role/service-role/ci/DeploymentPipelineAdmin"
                .into(),
            principal_id: "AROAY34FZKBOKMUTVV7AB".into(),
            session_name: Some("s".repeat(64)),
            issued_at: 1_700_000_000,
            expires_at: 1_700_043_200,
            mfa_auth_time: Some(1_699_999_990),
            source_identity: Some("alice.example@corp.example.com".into()),
            tags: vec![],
            transitive_tag_keys: vec![],
            session_policy: None,
            session_policy_arns: vec![],
            parent_access_key_id: Some("AKIAY34FZKBOKMUTVV7A".into()),
            parent_user_id: Some("AIDAY34FZKBOKMUTVV7AB".into()),
            chained: false,
            federated_provider: None,
            federation_claims: vec![],
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut c = typical();
        c.tags = vec![("Project".into(), "Blue".into())];
        c.federation_claims = vec![("saml:sub".into(), "alice".into())];
        c.kind = SessionKind::Saml;
        let enc = c.encode().unwrap();
        assert_eq!(SessionClaims::decode(&enc).unwrap(), c);
    }

    fn deflated(raw: &[u8]) -> Vec<u8> {
        let mut out = vec![FORM_DEFLATE];
        out.extend_from_slice(&deflate(raw).unwrap());
        out
    }

    fn stored(raw: &[u8]) -> Vec<u8> {
        let mut out = vec![FORM_RAW];
        out.extend_from_slice(raw);
        out
    }

    #[test]
    fn decode_rejects_trailing_and_garbage() {
        let raw = postcard::to_allocvec(&typical()).unwrap();
        let mut extra = raw.clone();
        extra.push(0);
        for form in [deflated, stored] {
            assert_eq!(
                SessionClaims::decode(&form(&raw)).unwrap(),
                typical(),
                "both forms decode"
            );
            let e = SessionClaims::decode(&form(&extra)).unwrap_err();
            assert_eq!(e.invalid_reason(), Some(InvalidReason::Decode));
            let e = SessionClaims::decode(&form(raw.get(..raw.len() / 2).unwrap())).unwrap_err();
            assert_eq!(e.invalid_reason(), Some(InvalidReason::Decode));
        }
        assert!(SessionClaims::decode(b"\xff\xff\xff").is_err());
        assert!(SessionClaims::decode(b"").is_err());
        // A stored form longer than the raw limit is refused (it would have been deflated).
        assert!(SessionClaims::decode(&stored(&vec![0; STORE_RAW_UP_TO + 1])).is_err());
    }

    #[test]
    fn small_claims_are_stored_and_large_ones_deflated() {
        assert_eq!(typical().encode().unwrap().first(), Some(&FORM_RAW));
        let mut big = typical();
        big.session_policy = Some(format!("{{\"Statement\":[{}]}}", "{}".repeat(300)));
        let enc = big.encode().unwrap();
        assert_eq!(enc.first(), Some(&FORM_DEFLATE));
        assert_eq!(SessionClaims::decode(&enc).unwrap(), big);
        assert_eq!(packed_size_percent(None, &[], &[]), 0);
    }

    #[test]
    fn decode_bounds_decompression() {
        // A deflate bomb: 1 MB of zeros compresses to ~1 KB.
        let bomb = deflated(&vec![0_u8; 1 << 20]);
        assert!(bomb.len() < 4096);
        let e = SessionClaims::decode(&bomb).unwrap_err();
        assert_eq!(e.invalid_reason(), Some(InvalidReason::Decode));
    }

    #[test]
    fn inflate_is_exact_and_bounded() {
        for len in [0_usize, 1, 300, 5000, 100_000] {
            let data: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i * 7 % 251).unwrap())
                .collect();
            let z = deflate(&data).unwrap();
            assert_eq!(inflate(&z, len), Some(data), "len {len}");
            if len > 0 {
                assert_eq!(inflate(&z, len - 1), None, "limit below size, len {len}");
            }
            let mut trailing = z.clone();
            trailing.push(0);
            assert_eq!(inflate(&trailing, len), None, "trailing byte, len {len}");
        }
        let z = deflate(&typical().encode().unwrap()).unwrap();
        for cut in 0..z.len() {
            assert_eq!(
                inflate(z.get(..cut).unwrap(), MAX_CLAIMS_BYTES),
                None,
                "cut {cut}"
            );
        }
        // Reusing the per-thread state across calls leaks nothing between them.
        let a = deflate(b"aaaa").unwrap();
        let b = deflate(b"aaaa").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn expiry_is_exclusive() {
        let c = typical();
        let at = |t| DateTime::from_timestamp(t, 0).unwrap();
        assert!(!c.is_expired(at(c.expires_at - 1)));
        assert!(c.is_expired(at(c.expires_at)));
        assert_eq!(c.expiration(), Some(at(c.expires_at)));
        assert_eq!(c.issue_time(), Some(at(c.issued_at)));
    }

    #[test]
    fn sealable_bounds() {
        let mut c = typical();
        assert!(c.check_sealable().is_ok());
        c.expires_at = c.issued_at;
        assert!(matches!(c.check_sealable(), Err(Error::Claims(_))));
        let mut c = typical();
        c.federation_claims = vec![("k".into(), "v".into()); MAX_FEDERATION_CLAIMS + 1];
        assert!(matches!(c.check_sealable(), Err(Error::Claims(_))));
        let mut c = typical();
        c.federation_claims = vec![("k".into(), "v".repeat(MAX_FEDERATION_CLAIM_LEN + 1))];
        assert!(matches!(c.check_sealable(), Err(Error::Claims(_))));
    }

    #[test]
    fn packed_size_grows_with_content() {
        let empty = packed_size_percent(None, &[], &[]);
        assert!(empty <= 1, "{empty}");
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}"#;
        let small = packed_size_percent(Some(policy), &[], &[]);
        assert!(small > empty && small < 10, "{small}");
        let tags: Vec<(String, String)> = (0..50)
            .map(|i| {
                (
                    format!("key-{i}-{}", "k".repeat(100)),
                    format!("{i:x}").repeat(128),
                )
            })
            .collect();
        assert!(packed_size_percent(Some(policy), &[], &tags) > small);
    }
}
