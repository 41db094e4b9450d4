//! Why a request's SigV4 authentication was refused.
//!
//! Messages follow the texts AWS returns (sts-spec.md §1.3 and §4); the central STS error table
//! maps each variant through [`Error::aws_code`] and [`Error::status`].

/// A SigV4 verification failure. Every variant means "deny".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The time window was missed: `Signature expired: …` or `Signature not yet current: …`
    /// (AWS answers `SignatureDoesNotMatch`, 403).
    #[error("{0}")]
    ClockSkew(String),
    /// Malformed authentication: bad `Authorization` header, missing query parameters, unknown
    /// algorithm, malformed signature or date (`IncompleteSignature`, 400).
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key id is not well formed (`InvalidClientTokenId`, 403).
    #[error("{0}")]
    InvalidClientTokenId(String),
    /// The credential scope names the wrong service, region, terminator or date
    /// (`SignatureDoesNotMatch`, 403, as AWS does).
    #[error("{0}")]
    InvalidScope(String),
    /// The request carries no authentication at all (`MissingAuthenticationToken`, 403).
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// The request carries both an `Authorization` header and presigned query parameters
    /// (`IncompleteSignature`, 400).
    #[error(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the \
         Authorization header should be specified"
    )]
    MixedForms,
    /// The recomputed signature differs, or a signed detail does not hold
    /// (`SignatureDoesNotMatch`, 403).
    #[error("{0}")]
    SignatureDoesNotMatch(String),
}

/// AWS's text when the recomputed signature differs.
pub(crate) const MISMATCH: &str = "The request signature we calculated does not match the signature \
     you provided. Check your AWS Secret Access Key and signing method. Consult the service \
     documentation for details.";

/// AWS's text for an unknown or malformed access key id.
pub(crate) const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

impl Error {
    /// The AWS error code (`Code` element of the error response).
    #[must_use]
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::ClockSkew(_) | Self::InvalidScope(_) | Self::SignatureDoesNotMatch(_) => {
                "SignatureDoesNotMatch"
            }
            Self::IncompleteSignature(_) | Self::MixedForms => "IncompleteSignature",
            Self::InvalidClientTokenId(_) => "InvalidClientTokenId",
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
        }
    }

    /// The HTTP status AWS answers with.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::IncompleteSignature(_) | Self::MixedForms => 400,
            Self::ClockSkew(_)
            | Self::InvalidClientTokenId(_)
            | Self::InvalidScope(_)
            | Self::MissingAuthenticationToken
            | Self::SignatureDoesNotMatch(_) => 403,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases = [
            (
                Error::ClockSkew(String::new()),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                Error::IncompleteSignature(String::new()),
                "IncompleteSignature",
                400,
            ),
            (
                Error::InvalidClientTokenId(String::new()),
                "InvalidClientTokenId",
                403,
            ),
            (
                Error::InvalidScope(String::new()),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                Error::MissingAuthenticationToken,
                "MissingAuthenticationToken",
                403,
            ),
            (Error::MixedForms, "IncompleteSignature", 400),
            (
                Error::SignatureDoesNotMatch(String::new()),
                "SignatureDoesNotMatch",
                403,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.aws_code(), code, "{e:?}");
            assert_eq!(e.status(), status, "{e:?}");
        }
        assert_eq!(
            Error::MissingAuthenticationToken.to_string(),
            "Request is missing Authentication Token"
        );
    }
}
