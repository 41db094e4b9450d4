//! The one place where failures become AWS error codes, HTTP statuses and messages.
//!
//! Every module keeps its own error enum; the `From` impls at the bottom map them here. The XML
//! (or JSON) rendering lives in `crate::http::response`, and nowhere else.

use std::fmt;

/// An AWS Query error code with its HTTP status. Variants are alphabetical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// 403 — a policy denies, the entity does not exist (same message), bad MFA.
    AccessDenied,
    /// 409 — IAM: modified concurrently.
    ConcurrentModification,
    /// 409 — IAM: entity still has dependants.
    DeleteConflict,
    /// 409 — IAM: the entity exists already.
    EntityAlreadyExists,
    /// 403 — request signed with expired (or revoked) session credentials.
    ExpiredToken,
    /// 400 — a JWT or SAML assertion has expired.
    ExpiredTokenException,
    /// 400 — the IdP could not be reached.
    IdpCommunicationError,
    /// 403 — the IdP rejected the claim.
    IdpRejectedClaim,
    /// 400 — malformed SigV4 authentication.
    IncompleteSignature,
    /// 500 — something went wrong on our side.
    InternalFailure,
    /// 400 — unknown action or version.
    InvalidAction,
    /// 403 — MFA code wrong (IAM device calls).
    InvalidAuthenticationCode,
    /// 400 — DecodeAuthorizationMessage input invalid.
    InvalidAuthorizationMessageException,
    /// 403 — unknown access key or invalid session token.
    InvalidClientTokenId,
    /// 400 — an invalid JWT or SAML response.
    InvalidIdentityToken,
    /// 400 — IAM: invalid input.
    InvalidInput,
    /// 400 — parameters that cannot go together.
    InvalidParameterCombination,
    /// 400 — a parameter value is invalid.
    InvalidParameterValue,
    /// 409 — IAM: quota reached.
    LimitExceeded,
    /// 400 — a policy document is invalid.
    MalformedPolicyDocument,
    /// 404 — the query string could not be parsed.
    MalformedQueryString,
    /// 400 — no `Action` parameter.
    MissingAction,
    /// 403 — the request is not signed.
    MissingAuthenticationToken,
    /// 400 — a required parameter is missing.
    MissingParameter,
    /// 404 — IAM: no such entity.
    NoSuchEntity,
    /// 400 — packed session policies and tags exceed the budget.
    PackedPolicyTooLarge,
    /// 400 — IAM: the policy cannot be attached.
    PolicyNotAttachable,
    /// 413 — the request body is too large.
    RequestEntityTooLarge,
    /// 503 — the service cannot answer now (store unreachable beyond the staleness bound).
    ServiceUnavailable,
    /// 403 — bad signature or clock skew.
    SignatureDoesNotMatch,
    /// 400 — rate limited.
    Throttling,
    /// 400 — IAM: the entity (AWS managed) cannot be changed.
    UnmodifiableEntity,
    /// 400 — a model constraint or semantic limit is violated.
    ValidationError,
}

impl Code {
    /// The code as sent on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::ConcurrentModification => "ConcurrentModification",
            Self::DeleteConflict => "DeleteConflict",
            Self::EntityAlreadyExists => "EntityAlreadyExists",
            Self::ExpiredToken => "ExpiredToken",
            Self::ExpiredTokenException => "ExpiredTokenException",
            Self::IdpCommunicationError => "IDPCommunicationError",
            Self::IdpRejectedClaim => "IDPRejectedClaim",
            Self::IncompleteSignature => "IncompleteSignature",
            Self::InternalFailure => "InternalFailure",
            Self::InvalidAction => "InvalidAction",
            Self::InvalidAuthenticationCode => "InvalidAuthenticationCode",
            Self::InvalidAuthorizationMessageException => "InvalidAuthorizationMessageException",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::InvalidIdentityToken => "InvalidIdentityToken",
            Self::InvalidInput => "InvalidInput",
            Self::InvalidParameterCombination => "InvalidParameterCombination",
            Self::InvalidParameterValue => "InvalidParameterValue",
            Self::LimitExceeded => "LimitExceeded",
            Self::MalformedPolicyDocument => "MalformedPolicyDocument",
            Self::MalformedQueryString => "MalformedQueryString",
            Self::MissingAction => "MissingAction",
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::MissingParameter => "MissingParameter",
            Self::NoSuchEntity => "NoSuchEntity",
            Self::PackedPolicyTooLarge => "PackedPolicyTooLarge",
            Self::PolicyNotAttachable => "PolicyNotAttachable",
            Self::RequestEntityTooLarge => "RequestEntityTooLarge",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::Throttling => "Throttling",
            Self::UnmodifiableEntity => "UnmodifiableEntity",
            Self::ValidationError => "ValidationError",
        }
    }

    /// The HTTP status AWS answers with.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::AccessDenied
            | Self::ExpiredToken
            | Self::IdpRejectedClaim
            | Self::InvalidAuthenticationCode
            | Self::InvalidClientTokenId
            | Self::MissingAuthenticationToken
            | Self::SignatureDoesNotMatch => 403,
            Self::ConcurrentModification
            | Self::DeleteConflict
            | Self::EntityAlreadyExists
            | Self::LimitExceeded => 409,
            Self::MalformedQueryString | Self::NoSuchEntity => 404,
            Self::RequestEntityTooLarge => 413,
            Self::InternalFailure => 500,
            Self::ServiceUnavailable => 503,
            Self::ExpiredTokenException
            | Self::IdpCommunicationError
            | Self::IncompleteSignature
            | Self::InvalidAction
            | Self::InvalidAuthorizationMessageException
            | Self::InvalidIdentityToken
            | Self::InvalidInput
            | Self::InvalidParameterCombination
            | Self::InvalidParameterValue
            | Self::MalformedPolicyDocument
            | Self::MissingAction
            | Self::MissingParameter
            | Self::PackedPolicyTooLarge
            | Self::PolicyNotAttachable
            | Self::Throttling
            | Self::UnmodifiableEntity
            | Self::ValidationError => 400,
        }
    }

    /// `Sender` for 4xx, `Receiver` for 5xx.
    #[must_use]
    pub fn fault(self) -> &'static str {
        if self.status() >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

/// An error answered to the client. The message is what the client sees; `detail` is for the
/// operator (logs and audit) and never reaches the wire. Neither may hold a secret.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The AWS code.
    pub code: Code,
    /// The client-facing message (AWS's terse wording).
    pub message: String,
    /// Operator-side explanation: which policy, statement, clock, key… (audit only).
    pub detail: Option<String>,
}

impl ApiError {
    /// An error with a message.
    #[must_use]
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// Adds an operator-side detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// `AccessDenied` with a message.
    #[must_use]
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(Code::AccessDenied, message)
    }

    /// `ValidationError` with a message.
    #[must_use]
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(Code::ValidationError, message)
    }

    /// `InternalFailure`; the cause goes to the detail, the client sees a fixed text.
    #[must_use]
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::new(
            Code::InternalFailure,
            "We encountered an internal error. Please try again.",
        )
        .with_detail(cause.to_string())
    }

    /// The standard "security token is invalid" answer.
    #[must_use]
    pub fn invalid_token() -> Self {
        Self::new(
            Code::InvalidClientTokenId,
            "The security token included in the request is invalid.",
        )
    }

    /// The standard "security token is expired" answer.
    #[must_use]
    pub fn expired_token() -> Self {
        Self::new(
            Code::ExpiredToken,
            "The security token included in the request is expired",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<crate::store::Error> for ApiError {
    fn from(e: crate::store::Error) -> Self {
        match e {
            crate::store::Error::Conflict(_) => Self::new(
                Code::ConcurrentModification,
                "The request was rejected because multiple requests to change this object were \
                 submitted simultaneously. Wait a few minutes and submit your request again.",
            )
            .with_detail(e.to_string()),
            crate::store::Error::Backend(_) => Self::new(
                Code::ServiceUnavailable,
                "Service is unavailable. Please retry.",
            )
            .with_detail(e.to_string()),
            crate::store::Error::Corrupt { .. } => Self::internal(e),
        }
    }
}

/// SigV4 failures, as AWS answers them: a missed time window, a wrong scope and a wrong
/// signature are all `SignatureDoesNotMatch` (403); malformed authentication is
/// `IncompleteSignature` (400).
impl From<crate::sigv4::Error> for ApiError {
    fn from(e: crate::sigv4::Error) -> Self {
        use crate::sigv4::Error as E;
        let code = match &e {
            E::ClockSkew(_) | E::InvalidScope(_) | E::SignatureDoesNotMatch(_) => {
                Code::SignatureDoesNotMatch
            }
            E::IncompleteSignature(_) | E::MixedForms => Code::IncompleteSignature,
            E::InvalidClientTokenId(_) => Code::InvalidClientTokenId,
            E::MissingAuthenticationToken => Code::MissingAuthenticationToken,
        };
        Self::new(code, e.to_string())
    }
}

/// A policy document that does not parse: `MalformedPolicyDocument`, or `LimitExceeded` when it
/// is too large (as IAM answers both).
impl From<crate::policy::PolicyError> for ApiError {
    fn from(e: crate::policy::PolicyError) -> Self {
        let code = if e.is_size_limit() {
            Code::LimitExceeded
        } else {
            Code::MalformedPolicyDocument
        };
        Self::new(code, e.to_string())
    }
}

/// A session token that does not open (tampered, unknown key, another access key id…): the
/// client sees AWS's "security token is invalid"; the reason goes to the detail (audit, logs).
impl From<crate::token::Error> for ApiError {
    fn from(e: crate::token::Error) -> Self {
        Self::invalid_token().with_detail(format!("session token: {e}"))
    }
}

/// The IAM repository's errors, in AWS's codes and words.
impl From<crate::iam::repo::Error> for ApiError {
    fn from(e: crate::iam::repo::Error) -> Self {
        use crate::iam::repo::Error as E;
        match e {
            E::AccessKeyExists { id } => Self::new(
                Code::EntityAlreadyExists,
                format!("Access key {id} already exists."),
            ),
            E::AccessKeyNotFound { id } => Self::new(
                Code::NoSuchEntity,
                format!("The Access Key with id {id} cannot be found."),
            ),
            E::AlreadyExists { kind, name } => Self::new(
                Code::EntityAlreadyExists,
                format!("{} with name {name} already exists.", capitalised(kind)),
            ),
            E::AtRest(e) => Self::internal(e),
            E::Conflict(key) => Self::from(crate::store::Error::Conflict(key)),
            E::DeleteConflict(d) => Self::new(Code::DeleteConflict, delete_conflict(d)),
            E::InlinePolicyNotFound { kind, policy } => Self::new(
                Code::NoSuchEntity,
                format!("The {kind} policy with name {policy} cannot be found."),
            ),
            E::Invalid(e) => Self::from(e),
            E::InvalidMarker => Self::new(Code::InvalidInput, "Invalid Marker"),
            E::InvalidPrincipal { arn } => Self::new(
                Code::MalformedPolicyDocument,
                format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
            ),
            E::InvalidFederatedPrincipal { arn } => Self::new(
                Code::MalformedPolicyDocument,
                format!("Invalid principal in policy: \"Federated\":\"{arn}\""),
            ),
            E::LimitExceeded(l) => Self::new(Code::LimitExceeded, limit(&l)),
            e @ E::Malformed { .. } => Self::internal(e),
            E::MfaCode(why) => crate::mfa::invalid_authentication_code(&why),
            E::MfaDeviceInUse { serial } => Self::new(
                Code::EntityAlreadyExists,
                format!("MFA Device {serial} is already in use."),
            ),
            E::MfaDeviceNotFound { serial } => Self::new(
                Code::NoSuchEntity,
                format!("VirtualMFADevice with serial number {serial} doesn't exist."),
            ),
            E::NotFound { kind, name } => Self::new(
                Code::NoSuchEntity,
                format!("The {kind} with name {name} cannot be found."),
            ),
            E::NotInGroup { user, group } => Self::new(
                Code::NoSuchEntity,
                format!("The user with name {user} is not in group {group}."),
            ),
            E::PolicyExists { name } => Self::new(
                Code::EntityAlreadyExists,
                format!("A policy called {name} already exists. Duplicate names are not allowed."),
            ),
            E::PolicyNotAttachable { arn } => Self::new(
                Code::NoSuchEntity,
                format!("Policy {arn} does not exist or is not attachable."),
            ),
            E::PolicyNotFound { arn } => {
                Self::new(Code::NoSuchEntity, format!("Policy {arn} was not found."))
            }
            E::Store(e) => Self::from(e),
            E::VersionNotFound {
                arn,
                version,
                deleting,
            } => Self::new(
                Code::NoSuchEntity,
                if deleting {
                    format!("Policy {arn} version {version} does not exist or is not deletable.")
                } else {
                    format!("Policy {arn} version {version} does not exist.")
                },
            ),
        }
    }
}

/// A refused web identity token, in AWS's codes and words; the reason (which claim, which key,
/// how far the clock was off — never the token) goes to the detail.
impl From<crate::idp::oidc::Error> for ApiError {
    fn from(e: crate::idp::oidc::Error) -> Self {
        use crate::idp::oidc::Error as E;
        const NOT_VALIDATED: &str = "The web identity token that was passed could not be \
            validated by AWS. Get a new identity token from the identity provider and then retry \
            the request.";
        const NO_KEY: &str = "Couldn't retrieve verification key from your identity provider,  \
            please reference AssumeRoleWithWebIdentity documentation for requirements";
        let (code, message) = match &e {
            E::Expired { exp, now, .. } => (
                Code::ExpiredTokenException,
                format!(
                    "Token expired: current date/time {now} must be before the expiration \
                     date/time{exp}"
                ),
            ),
            E::TooOld { age, .. } => (Code::ExpiredTokenException, format!("Token too old: {age}")),
            E::IdpUnreachable(_) => (
                Code::IdpCommunicationError,
                "The identity provider could not be reached. Please try again.".to_owned(),
            ),
            E::Keys(_) | E::UnknownKid { .. } => (Code::InvalidIdentityToken, NO_KEY.to_owned()),
            E::Audience { .. } => (
                Code::InvalidIdentityToken,
                "Incorrect token audience".to_owned(),
            ),
            E::AlgorithmMismatch { .. }
            | E::AlgorithmRefused(_)
            | E::ClaimType(_)
            | E::IssuedInFuture { .. }
            | E::Issuer { .. }
            | E::KeyInHeader(_)
            | E::Malformed(_)
            | E::MissingClaim(_)
            | E::NotYetValid { .. }
            | E::Signature { .. }
            | E::TooLarge(_) => (Code::InvalidIdentityToken, NOT_VALIDATED.to_owned()),
        };
        Self::new(code, message).with_detail(e.to_string())
    }
}

/// A refused SAML response, in AWS's codes and words; the reason (which audience was seen and
/// which are accepted, how far the clock was off, which algorithm — never the assertion) goes to
/// the detail, hence to the audit event.
impl From<crate::idp::saml::Error> for ApiError {
    fn from(e: crate::idp::saml::Error) -> Self {
        use crate::idp::saml::Error as E;
        const INVALID: &str = "Invalid SAML response";
        let (code, message) = match &e {
            E::Expired { at, now, .. } => (
                Code::ExpiredTokenException,
                format!(
                    "Token expired: current date/time {now} must be before the expiration \
                     date/time{at}"
                ),
            ),
            E::NotYetValid { .. } => (
                Code::InvalidIdentityToken,
                "Response is not yet valid".to_owned(),
            ),
            E::Audience { .. } => (
                Code::IdpRejectedClaim,
                "Response does not contain the required audience".to_owned(),
            ),
            E::Recipient { .. } => (
                Code::IdpRejectedClaim,
                "Response does not contain a bearer confirmation for an accepted recipient"
                    .to_owned(),
            ),
            E::Issuer { .. } => (
                Code::InvalidIdentityToken,
                "Issuer not present in specified provider".to_owned(),
            ),
            E::MissingNameId => (
                Code::AccessDenied,
                "Not authorized to perform sts:AssumeRoleWithSAML".to_owned(),
            ),
            E::TooLarge(n) => (
                Code::ValidationError,
                format!(
                    "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy \
                     constraint: Member must have length {} {}",
                    if *n < 4 {
                        "greater than or equal to"
                    } else {
                        "less than or equal to"
                    },
                    if *n < 4 {
                        4
                    } else {
                        crate::idp::saml::MAX_ASSERTION_CHARS
                    }
                ),
            ),
            E::Internal(_) => (Code::InternalFailure, "Internal failure".to_owned()),
            E::Algorithm(_) | E::Signature(_) | E::Unsigned => (
                Code::InvalidIdentityToken,
                "Response signature invalid".to_owned(),
            ),
            E::AssertionCount { .. }
            | E::Base64
            | E::Decrypt(_)
            | E::EncryptionRequired
            | E::Malformed(_)
            | E::NoBearer
            | E::NoDecryptionKey
            | E::NotAResponse
            | E::Status(_)
            | E::Xml(_) => (Code::InvalidIdentityToken, INVALID.to_owned()),
        };
        Self::new(code, message).with_detail(e.to_string())
    }
}

/// AWS's words for what must go before a delete.
fn delete_conflict(d: crate::iam::repo::Dependants) -> &'static str {
    use crate::iam::repo::Dependants as D;
    match d {
        D::AccessKeys => "Cannot delete entity, must delete access keys first.",
        D::AttachedPolicies => "Cannot delete entity, must detach all policies first.",
        D::DefaultVersion => "Cannot delete the default version of a policy.",
        D::GroupMembers => "Cannot delete entity, must remove users from group first.",
        D::GroupMemberships => "Cannot delete entity, must remove user from all groups first.",
        D::InlinePolicies => "Cannot delete entity, must delete policies first.",
        D::MfaDevices => "Cannot delete entity, must remove MFA device first.",
        D::PolicyAttachments => "Cannot delete a policy attached to entities.",
        D::PolicyVersions => {
            "This policy has more than one version. Before you delete a policy, you must delete \
             the policy's versions. The default version is deleted with the policy."
        }
    }
}

/// AWS's words for a quota reached.
fn limit(l: &crate::iam::repo::Limit) -> String {
    use crate::iam::repo::Limit as L;
    match l {
        L::AccessKeysPerUser(n) => format!("Cannot exceed quota for AccessKeysPerUser: {n}"),
        L::AttachedPolicies(element, n) => {
            format!("Cannot exceed quota for PoliciesPer{element}: {n}")
        }
        L::GroupsPerUser(n) => format!("Cannot exceed quota for GroupsPerUser: {n}"),
        L::MfaDevicesPerUser(n) => format!("Cannot exceed quota for MFADevicesPerUser: {n}"),
        L::InlinePolicySize { kind, name, limit } => {
            format!("Maximum policy size of {limit} bytes exceeded for {kind} {name}")
        }
        L::PolicyVersions(n) => format!(
            "A managed policy can have up to {n} versions. Before you create a new version, you \
             must delete an existing version."
        ),
        L::Tags(n) => format!("The number of tags has reached the maximum limit of {n}."),
        L::PrivateKeysPerSamlProvider(n) => {
            format!("Cannot exceed quota for PrivateKeysPerSAMLProvider: {n}")
        }
    }
}

/// `user` → `User`.
fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigv4_failures_map_to_aws_codes_and_statuses() {
        use crate::sigv4::Error as E;
        let cases = [
            (
                E::ClockSkew(String::new()),
                Code::SignatureDoesNotMatch,
                403,
            ),
            (
                E::IncompleteSignature(String::new()),
                Code::IncompleteSignature,
                400,
            ),
            (
                E::InvalidClientTokenId(String::new()),
                Code::InvalidClientTokenId,
                403,
            ),
            (
                E::InvalidScope(String::new()),
                Code::SignatureDoesNotMatch,
                403,
            ),
            (
                E::MissingAuthenticationToken,
                Code::MissingAuthenticationToken,
                403,
            ),
            (E::MixedForms, Code::IncompleteSignature, 400),
            (
                E::SignatureDoesNotMatch(String::new()),
                Code::SignatureDoesNotMatch,
                403,
            ),
        ];
        for (e, code, status) in cases {
            let a = ApiError::from(e.clone());
            assert_eq!(a.code, code, "{e:?}");
            assert_eq!(a.code.status(), status, "{e:?}");
            assert_eq!(a.message, e.to_string());
        }
    }

    #[test]
    #[expect(clippy::unwrap_used, reason = "test")]
    fn policy_errors_keep_size_apart() {
        let m = ApiError::from(crate::policy::PolicyError::malformed("Statement", "bad"));
        assert_eq!(m.code, Code::MalformedPolicyDocument);
        let big = crate::policy::parse(&"x".repeat(200_000), crate::policy::PolicyKind::Identity)
            .unwrap_err();
        assert!(big.is_size_limit());
        assert_eq!(ApiError::from(big).code, Code::LimitExceeded);
    }

    #[test]
    fn statuses_follow_aws() {
        assert_eq!(Code::AccessDenied.status(), 403);
        assert_eq!(Code::ExpiredToken.status(), 403);
        assert_eq!(Code::ExpiredTokenException.status(), 400);
        assert_eq!(Code::MalformedQueryString.status(), 404);
        assert_eq!(Code::NoSuchEntity.status(), 404);
        assert_eq!(Code::EntityAlreadyExists.status(), 409);
        assert_eq!(Code::InternalFailure.fault(), "Receiver");
        assert_eq!(Code::ValidationError.fault(), "Sender");
        assert_eq!(
            Code::IdpCommunicationError.as_str(),
            "IDPCommunicationError"
        );
    }
}
