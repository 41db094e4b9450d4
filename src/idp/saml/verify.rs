//! The pure SAML response check: (the response's XML, the provider's trust material, rules,
//! `now`) → [`Verified`] or a typed [`Error`]. No I/O and no clock of its own.
//!
//! Order (sts-spec §6; reference README decisions 1–3; crates.md §samael):
//! 1. The message is read by our strict reader ([`super::xml`]): no DTD, no entities beyond
//!    XML's five, bounded. Its root is a `samlp:Response` holding exactly one `Assertion` or one
//!    `EncryptedAssertion` — counted in the whole tree, so an assertion hidden in `Extensions`,
//!    a signature's `Object` or around the signed one (every XML-signature-wrapping shape) is
//!    refused before any signature work.
//! 2. Every `ds:Signature`'s algorithms are on the allow-list (SHA-1 only when configured).
//! 3. samael/xmlsec verifies every signature with the provider's certificates only (never a key
//!    or certificate from `KeyInfo`) and reduces the document to what the signatures cover.
//!    Encrypted assertions are decrypted first (inside a signed response: from the reduced
//!    response; otherwise the decrypted assertion itself must be signed).
//! 4. Every value acted upon is read from that reduced document: issuer, bearer confirmation
//!    (recipient, times), conditions (times, audiences), NameID, attributes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openssl::pkey::{PKey, Private};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};

use super::assertion::read_assertion;
use super::error::Error;
use super::memo::{self, Reduction, ReductionMemo};
use super::xml::{self, Element};
use super::{DS, SAML, SAMLP};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Signature algorithms always accepted.
const SIGNATURE_ALGORITHMS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
/// Digest algorithms always accepted.
const DIGEST_ALGORITHMS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
/// Accepted only with `[saml] insecure_allow_sha1`.
const SHA1_ALGORITHMS: &[&str] = &[
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#sha1",
];
/// The same allow-list in samael's terms (used when SHA-1 is not allowed).
const SAMAEL_ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// What the provider contributes: its entity id, signing certificates and decryption keys.
#[derive(Clone)]
pub struct Trust {
    /// The metadata's entity id (the `Issuer` required).
    pub entity_id: String,
    /// Signing certificates (DER).
    pub certs: Vec<CertificateDer>,
    /// Private keys for `EncryptedAssertion`.
    pub decryption_keys: Vec<PKey<Private>>,
    /// `AssertionEncryptionMode = Required`.
    pub encryption_required: bool,
    /// Which of `certs` verified last: tried first next time.
    pub preferred: CertPreference,
}

/// Which of a provider's signing certificates verified its last response, shared by the clones
/// of one [`Trust`] (the trust cache keeps one per provider).
///
/// During a rotation a provider lists two certificates and signs with one of them; each is
/// tried on its own (see `reduce`), so without this a response signed with the second paid for
/// a failed verification with the first every time. Only the order of the attempts follows
/// it: what verifies, and what is refused, does not depend on it.
#[derive(Debug, Clone, Default)]
pub struct CertPreference(Arc<AtomicUsize>);

impl CertPreference {
    /// The index of the certificate that verified last (0 before any).
    #[must_use]
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, i: usize) {
        self.0.store(i, Ordering::Relaxed);
    }

    /// The indices of `n` certificates in the order to try them: the preferred one first, then
    /// the others in their order.
    fn order(&self, n: usize) -> impl Iterator<Item = usize> {
        let first = self.get();
        let first = if first < n { first } else { 0 };
        std::iter::once(first)
            .chain((0..n).filter(move |&i| i != first))
            .take(n)
    }
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("entity_id", &self.entity_id)
            .field("certs", &self.certs.len())
            .field("decryption_keys", &self.decryption_keys.len())
            .field("encryption_required", &self.encryption_required)
            .finish()
    }
}

/// The broker's side: what it accepts.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Accepted `Audience` values (decision 1).
    pub audiences: Vec<String>,
    /// Accepted `Recipient` values (decision 1).
    pub recipients: Vec<String>,
    /// Also accept AWS's regional sign-in endpoints (`https://<region>.signin.aws.amazon.com/saml`).
    pub aws_regional_recipients: bool,
    /// Leeway for every time condition, seconds (decision 3).
    pub leeway_seconds: i64,
    /// Accept RSA-SHA1 / ECDSA-SHA1 signatures and SHA-1 digests.
    pub allow_sha1: bool,
}

/// Which element a verified signature covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// The assertion (ADFS's way).
    Assertion,
    /// The whole response (Okta's way), with or without the assertion signed too.
    Response,
}

/// The subject's `NameID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    /// The text, read in full.
    pub value: String,
    /// `Format`, if given.
    pub format: Option<String>,
}

/// An `Attribute` of the assertion: its `Name` and every `AttributeValue`'s text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// `Name`.
    pub name: String,
    /// The values, in order.
    pub values: Vec<String>,
}

/// A verified assertion: only what the signature covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The assertion's `ID` (the replay key).
    pub id: String,
    /// `Issuer` (= the provider's entity id).
    pub issuer: String,
    /// The subject.
    pub name_id: NameId,
    /// The accepted bearer confirmation's `Recipient` (`saml:aud`, the response's Audience).
    pub recipient: String,
    /// The accepted bearer confirmation's `InResponseTo`: the AuthnRequest this assertion
    /// answers (SP-initiated sign-in), read from the signed assertion; `None` when unsolicited.
    pub in_response_to: Option<String>,
    /// The `Audience` values of the conditions.
    pub audiences: Vec<String>,
    /// The earliest `NotOnOrAfter` (conditions, confirmation), Unix seconds: the assertion is
    /// dead after it plus the leeway (the replay mark's lifetime).
    pub not_on_or_after: i64,
    /// `AuthnStatement@SessionNotOnOrAfter`, Unix seconds.
    pub session_not_on_or_after: Option<i64>,
    /// The attributes.
    pub attributes: Vec<Attribute>,
    /// What the signature covered.
    pub signed: Signed,
    /// Whether it came encrypted.
    pub encrypted: bool,
    /// The signature algorithm(s) seen.
    pub algorithms: Vec<String>,
}

/// Step 1: the message's shape. Returns the signature algorithms seen.
fn check_shape(root: &Element, rules: &Rules) -> Result<Vec<String>, Error> {
    if !root.is(SAMLP, "Response") {
        return Err(Error::NotAResponse);
    }
    let assertions = root.count(SAML, "Assertion");
    let encrypted = root.count(SAML, "EncryptedAssertion");
    if assertions + encrypted != 1 {
        return Err(Error::AssertionCount {
            assertions,
            encrypted,
        });
    }
    // The one assertion is a child of the Response, where the profile puts it.
    if root.child(SAML, "Assertion").is_none() && root.child(SAML, "EncryptedAssertion").is_none() {
        return Err(Error::Malformed(
            "the assertion is not a child of the Response".into(),
        ));
    }
    // Step 2: algorithms.
    let mut seen = Vec::new();
    for sig in root
        .descendants()
        .into_iter()
        .filter(|e| e.is(DS, "Signature"))
    {
        let info = sig
            .child(DS, "SignedInfo")
            .ok_or_else(|| Error::Signature("a Signature without SignedInfo".into()))?;
        let method = info
            .child(DS, "SignatureMethod")
            .and_then(|m| m.attr("Algorithm"))
            .unwrap_or_default();
        check_algorithm(method, SIGNATURE_ALGORITHMS, rules)?;
        for r in info.children_named(DS, "Reference") {
            let digest = r
                .child(DS, "DigestMethod")
                .and_then(|m| m.attr("Algorithm"))
                .unwrap_or_default();
            check_algorithm(digest, DIGEST_ALGORITHMS, rules)?;
        }
        if !seen.iter().any(|s| s == method) {
            seen.push(method.to_owned());
        }
    }
    Ok(seen)
}

fn check_algorithm(alg: &str, allowed: &[&str], rules: &Rules) -> Result<(), Error> {
    if allowed.contains(&alg) || (rules.allow_sha1 && SHA1_ALGORITHMS.contains(&alg)) {
        Ok(())
    } else {
        Err(Error::Algorithm(if alg.is_empty() {
            "(none)".into()
        } else {
            alg.to_owned()
        }))
    }
}

/// Step 3: samael verifies every signature with the provider's certificates and returns what
/// they cover; a panic in it is caught. A reduction the memo holds under `key` (the same text,
/// certificates and SHA-1 flag) is not done again ([`super::memo`]); a new one is remembered
/// with `prechecked` (the text's algorithms when it is a plain response whose pre-checks passed).
///
/// Each certificate is tried on its own: samael gives up on the first certificate whose key type
/// does not fit the signature (an RSA certificate for an ECDSA signature is an error, not a
/// mismatch), so a provider with an RSA and an EC certificate needs one attempt per certificate.
/// Every signature of the document must then verify with the same certificate. The one that
/// verified last is tried first ([`CertPreference`]).
fn reduce(
    xml: &str,
    key: Option<memo::Key>,
    trust: &Trust,
    rules: &Rules,
    memo: &ReductionMemo,
    prechecked: Option<&[String]>,
) -> Result<Arc<Reduction>, Error> {
    if let Some(hit) = key.as_ref().and_then(|k| memo.get(k)) {
        return Ok(hit);
    }
    let allowed = (!rules.allow_sha1).then_some(SAMAEL_ALGORITHMS);
    let mut last = Error::Signature("the provider has no signing certificate".into());
    for i in trust.preferred.order(trust.certs.len()) {
        let Some(cert) = trust.certs.get(i) else {
            continue;
        };
        let out = catch_unwind(AssertUnwindSafe(|| {
            Crypto::reduce_xml_to_signed_with_allowed_algorithms(
                xml,
                std::slice::from_ref(cert),
                ReduceMode::ValidateAndMarkNoAncestors,
                allowed,
            )
        }))
        .map_err(|_| Error::Internal("xmlsec verification panicked".into()))?;
        match out {
            Ok(reduced) => {
                trust.preferred.set(i);
                let reduced = Arc::new(Reduction {
                    element: xml::parse(&reduced)?,
                    prechecked: prechecked.map(<[String]>::to_vec),
                });
                if let Some(k) = key {
                    memo.insert(k, Arc::clone(&reduced));
                }
                return Ok(reduced);
            }
            Err(e) => last = Error::Signature(describe(&e)),
        }
    }
    Err(last)
}

/// samael's error, with its source (e.g. libxml2's refusal of an ID that starts with a digit).
fn describe(e: &samael::crypto::CryptoError) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    }
}

/// Verifies a SAML response (its XML text) for a provider, every signature checked afresh.
///
/// # Errors
/// Every refusal as an [`Error`] variant naming what failed.
pub fn verify(xml: &str, trust: &Trust, rules: &Rules, now: i64) -> Result<Verified, Error> {
    verify_memoized(xml, trust, rules, now, &ReductionMemo::off())
}

/// [`verify`], with the signature work (step 3) looked up in and added to `memo`; every other
/// check runs as in [`verify`], against `now`.
///
/// A plain response the memo holds was read and pre-checked when it was first verified: steps
/// 1–2 and the unsigned status are pure functions of its exact text and the SHA-1 flag (both in
/// the memo's key), so it is not read again; the provider's encryption mode, the issuer, the
/// signed status and step 4 are checked as for any response.
///
/// # Errors
/// Every refusal as an [`Error`] variant naming what failed.
pub fn verify_memoized(
    xml: &str,
    trust: &Trust,
    rules: &Rules,
    now: i64,
    memo: &ReductionMemo,
) -> Result<Verified, Error> {
    let key = memo.key(xml, &trust.certs, rules.allow_sha1);
    if let Some(answer) = remembered(key.as_ref(), trust, rules, now, memo) {
        return answer;
    }
    let root = xml::parse(xml)?;
    let mut algorithms = check_shape(&root, rules)?;
    let encrypted = root.child(SAML, "EncryptedAssertion").is_some();
    // (An encrypted assertion's own signature is only visible once it is decrypted.)
    if algorithms.is_empty() && !encrypted {
        return Err(Error::Unsigned);
    }
    if trust.encryption_required && !encrypted {
        return Err(Error::EncryptionRequired);
    }
    // An unsigned status can only make us refuse, never accept: read it from the message.
    check_status(&root)?;
    if !encrypted {
        let reduced = reduce(xml, key, trust, rules, memo, Some(&algorithms))?;
        return read_plain(&reduced.element, trust, rules, now, algorithms);
    }
    let response_signed = root.child(DS, "Signature").is_some();
    let (assertion, signed) = if response_signed {
        let reduced = reduce(xml, key, trust, rules, memo, None)?;
        let resp = signed_response(&reduced.element, trust)?;
        let enc = resp
            .child(SAML, "EncryptedAssertion")
            .ok_or_else(|| Error::Signature("the signature does not cover the assertion".into()))?;
        let text = super::decrypt::decrypt(enc, &trust.decryption_keys)?;
        let plain = xml::parse(&text)?;
        // A signature inside the decrypted assertion must verify too.
        let inner = assertion_shape(&plain, rules)?;
        let a = if inner.is_empty() {
            plain
        } else {
            algorithms.extend(inner);
            let k = memo.key(&text, &trust.certs, rules.allow_sha1);
            reduce(&text, k, trust, rules, memo, None)?.element.clone()
        };
        (a, Signed::Response)
    } else {
        let enc = root
            .child(SAML, "EncryptedAssertion")
            .ok_or_else(|| Error::Malformed("no EncryptedAssertion".into()))?;
        let text = super::decrypt::decrypt(enc, &trust.decryption_keys)?;
        let plain = xml::parse(&text)?;
        let inner = assertion_shape(&plain, rules)?;
        if inner.is_empty() {
            return Err(Error::Unsigned);
        }
        algorithms.extend(inner);
        let k = memo.key(&text, &trust.certs, rules.allow_sha1);
        let a = reduce(&text, k, trust, rules, memo, None)?.element.clone();
        (a, Signed::Assertion)
    };
    if !assertion.is(SAML, "Assertion") {
        return Err(Error::Signature(
            "the signature does not cover an assertion".into(),
        ));
    }
    read_assertion(&assertion, trust, rules, now, signed, true, algorithms)
}

/// [`verify_memoized`]'s answer when `memo` holds `xml` as a plain response (steps 1–3 done
/// before for this text, these certificates and SHA-1 flag): the provider's encryption mode,
/// the signed response's issuer and status and step 4, against `now` — microseconds of work,
/// which callers may run without leaving an async thread. `None` when the memo does not.
#[must_use]
pub fn verify_remembered(
    xml: &str,
    trust: &Trust,
    rules: &Rules,
    now: i64,
    memo: &ReductionMemo,
) -> Option<Result<Verified, Error>> {
    let key = memo.key(xml, &trust.certs, rules.allow_sha1);
    remembered(key.as_ref(), trust, rules, now, memo)
}

/// [`verify_remembered`] for the text whose key is `key`.
fn remembered(
    key: Option<&memo::Key>,
    trust: &Trust,
    rules: &Rules,
    now: i64,
    memo: &ReductionMemo,
) -> Option<Result<Verified, Error>> {
    let hit = memo.get(key?)?;
    let algorithms = hit.prechecked.as_ref()?;
    Some(if trust.encryption_required {
        Err(Error::EncryptionRequired)
    } else {
        read_plain(&hit.element, trust, rules, now, algorithms.clone())
    })
}

/// The rest of a plain (unencrypted) response, from what its signatures cover: the signed
/// response (its issuer, its status, exactly one assertion) or the signed assertion; then step 4.
fn read_plain(
    reduced: &Element,
    trust: &Trust,
    rules: &Rules,
    now: i64,
    algorithms: Vec<String>,
) -> Result<Verified, Error> {
    let (assertion, signed) = if reduced.is(SAMLP, "Response") {
        let resp = signed_response(reduced, trust)?;
        let mut it = resp.children_named(SAML, "Assertion");
        let (Some(a), None) = (it.next(), it.next()) else {
            return Err(Error::Signature(
                "the signed response does not hold exactly one assertion".into(),
            ));
        };
        (a, Signed::Response)
    } else {
        (reduced, Signed::Assertion)
    };
    if !assertion.is(SAML, "Assertion") {
        return Err(Error::Signature(
            "the signature does not cover an assertion".into(),
        ));
    }
    read_assertion(assertion, trust, rules, now, signed, false, algorithms)
}

/// A decrypted assertion: exactly one assertion, allowed algorithms. Returns the signature
/// algorithms it carries (none when it is unsigned).
fn assertion_shape(a: &Element, rules: &Rules) -> Result<Vec<String>, Error> {
    if !a.is(SAML, "Assertion") || a.count(SAML, "Assertion") != 1 {
        return Err(Error::AssertionCount {
            assertions: a.count(SAML, "Assertion"),
            encrypted: a.count(SAML, "EncryptedAssertion"),
        });
    }
    let wrapper = Element {
        ns: SAMLP.into(),
        name: "Response".into(),
        attrs: Vec::new(),
        children: vec![xml::Node::Element(a.clone())],
    };
    check_shape(&wrapper, rules)
}

/// The reduced, signed response: its issuer (if any) must be the provider.
fn signed_response<'a>(reduced: &'a Element, trust: &Trust) -> Result<&'a Element, Error> {
    if !reduced.is(SAMLP, "Response") {
        return Err(Error::Signature(
            "the signature does not cover the response".into(),
        ));
    }
    if let Some(i) = reduced.child(SAML, "Issuer") {
        let got = i.text();
        if got != trust.entity_id {
            return Err(Error::Issuer {
                got,
                want: trust.entity_id.clone(),
            });
        }
    }
    check_status(reduced)?;
    Ok(reduced)
}

fn check_status(resp: &Element) -> Result<(), Error> {
    if let Some(code) = resp
        .child(SAMLP, "Status")
        .and_then(|s| s.child(SAMLP, "StatusCode"))
        .and_then(|c| c.attr("Value"))
        && code != SUCCESS
    {
        return Err(Error::Status(code.to_owned()));
    }
    Ok(())
}

/// What locates the provider, read **unverified** from a response: the assertion's (or the
/// response's) `Issuer` and the provider ARNs its `Role` attribute names. Only for choosing
/// which provider's certificates to verify with (the browser sign-in, which has no
/// `PrincipalArn`); nothing read here is trusted.
///
/// # Errors
/// [`Error::Xml`] / [`Error::NotAResponse`] for a message that cannot be read.
pub fn peek(xml: &str) -> Result<(String, Vec<String>), Error> {
    let root = xml::parse(xml)?;
    if !root.is(SAMLP, "Response") {
        return Err(Error::NotAResponse);
    }
    let assertion = root.child(SAML, "Assertion");
    let issuer = assertion
        .and_then(|a| a.child(SAML, "Issuer"))
        .or_else(|| root.child(SAML, "Issuer"))
        .map(Element::text)
        .unwrap_or_default();
    let mut providers = Vec::new();
    for a in assertion
        .into_iter()
        .flat_map(|a| a.children_named(SAML, "AttributeStatement"))
        .flat_map(|s| s.children_named(SAML, "Attribute"))
        .filter(|a| a.attr("Name") == Some("https://aws.amazon.com/SAML/Attributes/Role"))
    {
        for v in a.children_named(SAML, "AttributeValue") {
            for part in v.text().split(',') {
                let part = part.trim();
                if crate::iam::names::parse_saml_provider_arn(part).is_some()
                    && !providers.iter().any(|p| p == part)
                {
                    providers.push(part.to_owned());
                }
            }
        }
    }
    Ok((issuer, providers))
}

#[cfg(test)]
mod tests {
    use super::CertPreference;

    #[test]
    fn the_certificate_that_verified_last_is_tried_first() {
        let p = CertPreference::default();
        assert_eq!(p.order(3).collect::<Vec<_>>(), [0, 1, 2]);
        p.set(2);
        assert_eq!(p.order(3).collect::<Vec<_>>(), [2, 0, 1]);
        assert_eq!(p.clone().get(), 2, "clones share it");
        assert_eq!(
            p.order(2).collect::<Vec<_>>(),
            [0, 1],
            "a stale index (fewer certificates now) falls back to the first"
        );
        assert_eq!(p.order(0).count(), 0, "no certificate, no attempt");
    }
}
