//! Policy parse errors, shaped for the IAM/STS error table.
//!
//! Every error names the problem and where it is (`Statement[2].Condition: …`). The IAM layer
//! maps [`PolicyError::is_size_limit`] errors to `LimitExceeded` (or `PackedPolicyTooLarge`) and
//! everything else to `MalformedPolicyDocument`.

use std::fmt;

/// What kind of policy error this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// The document is malformed: syntax, grammar, unknown operator, bad value.
    Malformed,
    /// The document exceeds the size quota for its policy type.
    SizeLimit,
}

/// A policy document was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    kind: PolicyErrorKind,
    location: String,
    message: String,
}

impl PolicyError {
    /// A malformed-document error at `location` (may be empty for the whole document).
    pub(crate) fn malformed(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind: PolicyErrorKind::Malformed, location: location.into(), message: message.into() }
    }

    /// A size-quota error.
    pub(crate) fn size_limit(message: impl Into<String>) -> Self {
        Self { kind: PolicyErrorKind::SizeLimit, location: String::new(), message: message.into() }
    }

    /// The error kind.
    #[must_use]
    pub fn kind(&self) -> PolicyErrorKind {
        self.kind
    }

    /// True when the document was rejected for size (AWS `LimitExceeded`-type errors).
    #[must_use]
    pub fn is_size_limit(&self) -> bool {
        self.kind == PolicyErrorKind::SizeLimit
    }

    /// The AWS error code this error maps to by default.
    #[must_use]
    pub fn aws_code(&self) -> &'static str {
        match self.kind {
            PolicyErrorKind::Malformed => "MalformedPolicyDocument",
            PolicyErrorKind::SizeLimit => "LimitExceeded",
        }
    }

    /// Where the problem is, e.g. `Statement[2].Condition` (empty for the whole document).
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The problem, without the location.
    #[must_use]
    pub fn problem(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_location_and_problem() {
        let e = PolicyError::malformed("Statement[2].Condition", "unknown operator 'StringEqualz'");
        assert_eq!(e.to_string(), "Statement[2].Condition: unknown operator 'StringEqualz'");
        assert!(!e.is_size_limit());
        assert_eq!(e.aws_code(), "MalformedPolicyDocument");
        let s = PolicyError::size_limit("Cannot exceed quota for PolicySize: 6144");
        assert!(s.is_size_limit());
        assert_eq!(s.to_string(), "Cannot exceed quota for PolicySize: 6144");
        assert_eq!(s.aws_code(), "LimitExceeded");
    }
}
