//! Why a request's SigV4 authentication was refused.
//!
//! Messages follow the texts AWS returns (sts-spec.md §1.3 and §4); `crate::error` maps each
//! variant to its AWS code and status, in the one table of them.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_authentication_reads_as_aws_says() {
        assert_eq!(
            Error::MissingAuthenticationToken.to_string(),
            "Request is missing Authentication Token"
        );
    }
}
