//! SAML 2.0 responses (`AssumeRoleWithSAML`, and the browser sign-in that reuses it).
//!
//! | file | owns |
//! |---|---|
//! | [`xml`] | the strict XML reader every value is read with (no DTD, comments never split text) |
//! | [`verify`] | the pure check: (response XML, the provider's [`Trust`], [`Rules`], `now`) → [`Verified`] |
//! | [`assertion`] | step 4 of [`verify`]: issuer, confirmation, conditions, times, values read |
//! | [`memo`] | successful reductions (step 3 of [`verify`]) by text, certificates and SHA-1 flag |
//! | [`decrypt`] | `EncryptedAssertion` with the provider's private keys |
//! | [`metadata`] | IdP metadata → entity id and signing certificates |
//! | [`attributes`] | AWS's attributes (Role pairs, session name, tags…) and the `saml:*` keys |
//! | [`error`] | [`Error`], every refusal with what the audit needs, never the assertion |
//!
//! samael (xmlsec) does the XML-signature work: it verifies with the provider's certificates
//! and reduces the document to what the signatures cover; everything else — shape, algorithm
//! allow-list, issuer, audience, recipient, times with the injected clock — is ours
//! (../shared/reference/crates.md §samael, decisions 1–3). The replay mark (decision 2) is the
//! caller's: it needs the store.

pub mod assertion;
pub mod attributes;
pub mod decrypt;
pub mod error;
pub mod memo;
pub mod metadata;
pub mod verify;
pub mod xml;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use self::attributes::RolePair;
pub use self::error::Error;
pub use self::memo::ReductionMemo;
pub use self::verify::{CertPreference, Rules, Signed, Trust, Verified, verify, verify_memoized};

/// The longest `SAMLAssertion` (base64) accepted: AWS's model limit.
pub const MAX_ASSERTION_CHARS: usize = 100_000;

/// SAML 2.0 protocol namespace.
pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML 2.0 assertion namespace.
pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// SAML 2.0 metadata namespace.
pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// XML Signature namespace.
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XML Encryption namespace.
pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";

/// Decodes a `SAMLAssertion`/`SAMLResponse` parameter (base64 of the whole response; line
/// breaks tolerated) into its XML text, bounded before anything is decoded.
///
/// # Errors
/// [`Error::TooLarge`], [`Error::Base64`], or [`Error::Xml`] for text that is not UTF-8.
pub fn decode(b64: &str) -> Result<String, Error> {
    if !(4..=MAX_ASSERTION_CHARS).contains(&b64.len()) {
        return Err(Error::TooLarge(b64.len()));
    }
    let compact: String = b64.split_ascii_whitespace().collect();
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Error::Base64)?;
    String::from_utf8(bytes).map_err(|_| Error::Xml(xml::XmlError::Encoding("not UTF-8".into())))
}
