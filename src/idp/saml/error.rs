//! Why a SAML response was refused. Each variant says what the audit needs (which audience was
//! seen and which are accepted, by how much the clock was off, which algorithm) and never holds
//! the assertion; `crate::error` maps them to AWS's codes and terse messages.

/// A refused SAML response. Variants are alphabetical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A signature or digest algorithm outside the allow-list (SHA-1 unless configured).
    #[error("algorithm {0} is not accepted")]
    Algorithm(String),
    /// Not exactly one `Assertion` (or one `EncryptedAssertion`) in the whole message.
    #[error(
        "the response holds {assertions} assertions and {encrypted} encrypted assertions; exactly one is accepted"
    )]
    AssertionCount {
        /// `Assertion` elements anywhere in the message.
        assertions: usize,
        /// `EncryptedAssertion` elements anywhere in the message.
        encrypted: usize,
    },
    /// No `AudienceRestriction` names an accepted audience.
    #[error("audience {got:?} is not accepted (accepted: {accepted:?})")]
    Audience {
        /// The audiences of the assertion.
        got: Vec<String>,
        /// The accepted ones.
        accepted: Vec<String>,
    },
    /// Not base64.
    #[error("SAMLAssertion is not base64")]
    Base64,
    /// An `EncryptedAssertion` that did not decrypt with any of the provider's keys.
    #[error("the encrypted assertion does not decrypt: {0}")]
    Decrypt(String),
    /// The provider requires encrypted assertions and this one is plain.
    #[error(
        "the provider's AssertionEncryptionMode is Required and the assertion is not encrypted"
    )]
    EncryptionRequired,
    /// A time condition passed, beyond the leeway.
    #[error("{what} {at} is past: now is {now} ({} s late, leeway {leeway} s)", now - at)]
    Expired {
        /// Which condition (`Conditions@NotOnOrAfter`, `SubjectConfirmationData@NotOnOrAfter`).
        what: &'static str,
        /// The bound, Unix seconds.
        at: i64,
        /// The broker's clock.
        now: i64,
        /// The leeway applied.
        leeway: i64,
    },
    /// A panic inside the XML-security code, caught.
    #[error("internal error while verifying: {0}")]
    Internal(String),
    /// The assertion's (or the signed response's) issuer is not the provider's entity id.
    #[error("issuer {got} is not the provider's entity id {want}")]
    Issuer {
        /// The issuer in the message.
        got: String,
        /// The provider's entity id.
        want: String,
    },
    /// Something required is missing or malformed (the ID, an unparsable time…).
    #[error("malformed SAML response: {0}")]
    Malformed(String),
    /// The subject has no `NameID`.
    #[error("the assertion has no NameID")]
    MissingNameId,
    /// No bearer `SubjectConfirmation` with `Recipient` and `NotOnOrAfter`.
    #[error("no bearer SubjectConfirmation with a Recipient and a NotOnOrAfter")]
    NoBearer,
    /// The provider has no private key for an encrypted assertion.
    #[error("the assertion is encrypted and the provider has no private key")]
    NoDecryptionKey,
    /// The root is not a SAML 2.0 protocol `Response`.
    #[error("the message is not a SAML 2.0 Response")]
    NotAResponse,
    /// A time condition is still in the future, beyond the leeway.
    #[error("{what} {at} is in the future: now is {now} ({} s early, leeway {leeway} s)", at - now)]
    NotYetValid {
        /// Which condition.
        what: &'static str,
        /// The bound, Unix seconds.
        at: i64,
        /// The broker's clock.
        now: i64,
        /// The leeway applied.
        leeway: i64,
    },
    /// No bearer confirmation's `Recipient` is accepted.
    #[error("recipient {got:?} is not accepted (accepted: {accepted:?})")]
    Recipient {
        /// The recipients of the bearer confirmations.
        got: Vec<String>,
        /// The accepted ones.
        accepted: Vec<String>,
    },
    /// The signature does not verify with the provider's certificates, or covers no assertion.
    #[error("signature: {0}")]
    Signature(String),
    /// The response's status is not Success.
    #[error("status {0} is not Success")]
    Status(String),
    /// Longer than the SAMLAssertion limit (or shorter than 4).
    #[error("SAMLAssertion of {0} characters is outside 4..=100000")]
    TooLarge(usize),
    /// No signature at all.
    #[error("neither the response nor the assertion is signed")]
    Unsigned,
    /// Refused by the XML reader (DTD, entity, processing instruction, bounds, not well formed).
    #[error("XML: {0}")]
    Xml(#[from] super::xml::XmlError),
}
