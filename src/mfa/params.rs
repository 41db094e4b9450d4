//! MFA parameters decoded at the edge: `SerialNumber` (a virtual device's ARN or a hardware
//! serial) and six-digit codes (`TokenCode`, `AuthenticationCode1`/`2`). A malformed value is
//! AWS's `ValidationError`; codes are never echoed in it (AWS leaves sensitive values out too).

use super::totp::Code;
use crate::error::ApiError;
use crate::iam::names::EntityArn;
use crate::wire::Params;
use crate::wire::params::{check_chars, check_len, is_name_char, lower_camel};

/// The ARN resource type of virtual MFA devices (`arn:aws:iam::A:mfa/NAME`).
pub const MFA_KIND: &str = "mfa";

/// The longest virtual MFA device name (`VirtualMFADeviceName`: 1–226).
pub const MAX_DEVICE_NAME: usize = 226;

/// A `SerialNumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialNumber {
    /// A hardware token's serial (`GAHT12345678`); Sekisho has none, so it never verifies.
    Hardware(String),
    /// A virtual device's ARN.
    Virtual(EntityArn),
}

impl SerialNumber {
    /// Parses `SerialNumber`: 9–256 characters of `[\w+=/:,.@-]`; one that starts with `arn:`
    /// must be a virtual MFA device ARN of a 12-digit account.
    ///
    /// # Errors
    /// `ValidationError`.
    pub fn parse(param: &str, text: &str) -> Result<Self, ApiError> {
        check_len(param, text, 9, 256)?;
        check_chars(param, text, "[\\w+=/:,.@-]+", |c| {
            is_name_char(c) || c == '/' || c == ':'
        })?;
        if text.starts_with("arn:") {
            return Ok(Self::Virtual(EntityArn::parse_with_max(
                param,
                text,
                MFA_KIND,
                MAX_DEVICE_NAME,
            )?));
        }
        Ok(Self::Hardware(text.to_owned()))
    }

    /// The serial as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Hardware(s) => s,
            Self::Virtual(a) => &a.text,
        }
    }
}

/// Parses a six-digit code.
///
/// # Errors
/// `ValidationError` naming the parameter but not the value.
pub fn parse_code(param: &str, text: &str) -> Result<Code, ApiError> {
    let n = text.chars().count();
    let field = lower_camel(param);
    let constraint = if n < 6 {
        "Member must have length greater than or equal to 6".to_owned()
    } else if n > 6 {
        "Member must have length less than or equal to 6".to_owned()
    } else {
        "Member must satisfy regular expression pattern: [\\d]+".to_owned()
    };
    Code::parse(text).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: \
             {constraint}"
        ))
    })
}

/// `SerialNumber` with `TokenCode`, as `GetSessionToken` and `AssumeRole` take them.
#[derive(Debug, Clone)]
pub struct MfaInput {
    /// The device.
    pub serial: SerialNumber,
    /// The code it shows.
    pub code: Code,
}

/// What a request said about MFA: nothing, both parameters, or only one of them.
#[derive(Debug, Clone)]
pub enum MfaParams {
    /// Neither parameter.
    Absent,
    /// Both, decoded.
    Given(MfaInput),
    /// `SerialNumber` without `TokenCode`.
    SerialOnly(SerialNumber),
    /// `TokenCode` without `SerialNumber`.
    CodeOnly,
}

impl MfaParams {
    /// Reads and decodes `SerialNumber` and `TokenCode`.
    ///
    /// # Errors
    /// `ValidationError` for a malformed value.
    pub fn read(p: &mut Params) -> Result<Self, ApiError> {
        // Decoded where they are read, without copies (an error ends the request, so which
        // parameters were marked read by then does not matter).
        let serial = p
            .opt_str("SerialNumber")
            .map(|s| SerialNumber::parse("SerialNumber", s))
            .transpose()?;
        let code = p
            .opt_str("TokenCode")
            .map(|c| parse_code("TokenCode", c))
            .transpose()?;
        Ok(match (serial, code) {
            (None, None) => Self::Absent,
            (Some(serial), Some(code)) => Self::Given(MfaInput { serial, code }),
            (Some(serial), None) => Self::SerialOnly(serial),
            (None, Some(_)) => Self::CodeOnly,
        })
    }

    /// Whether either parameter was given.
    #[must_use]
    pub fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::error::Code as ErrCode;

    #[test]
    fn serials_are_virtual_arns_or_hardware() {
        let s = SerialNumber::parse("SerialNumber", "arn:aws:iam::123456789012:mfa/alice").unwrap();
        let SerialNumber::Virtual(a) = &s else {
            unreachable!("virtual")
        };
        assert_eq!(
            (a.account.as_str(), a.name.as_str()),
            ("123456789012", "alice")
        );
        let s =
            SerialNumber::parse("SerialNumber", "arn:aws:iam::123456789012:mfa/team/bob").unwrap();
        assert!(matches!(&s, SerialNumber::Virtual(a) if a.path == "/team/" && a.name == "bob"));
        assert_eq!(
            SerialNumber::parse("SerialNumber", "GAHT12345678").unwrap(),
            SerialNumber::Hardware("GAHT12345678".into())
        );
        for bad in [
            "short",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::12345:mfa/alice",
            "arn:aws:sts::123456789012:mfa/alice",
            "GAHT 12345678",
        ] {
            assert_eq!(
                SerialNumber::parse("SerialNumber", bad).unwrap_err().code,
                ErrCode::ValidationError,
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_codes_are_validation_errors_that_do_not_echo_the_code() {
        assert!(parse_code("TokenCode", "123456").is_ok());
        for bad in ["12345", "1234567", "12345x", ""] {
            let e = parse_code("TokenCode", bad).unwrap_err();
            assert_eq!(e.code, ErrCode::ValidationError);
            assert!(e.message.contains("'tokenCode'"), "{e}");
            if !bad.is_empty() {
                assert!(!e.message.contains(bad), "{e}");
            }
        }
    }

    #[test]
    fn both_parameters_or_neither() {
        let mut p = Params::from_pairs([
            ("SerialNumber", "arn:aws:iam::123456789012:mfa/alice"),
            ("TokenCode", "123456"),
        ]);
        assert!(matches!(
            MfaParams::read(&mut p).unwrap(),
            MfaParams::Given(_)
        ));
        let mut p = Params::from_pairs([("TokenCode", "123456")]);
        assert!(matches!(
            MfaParams::read(&mut p).unwrap(),
            MfaParams::CodeOnly
        ));
        let mut p = Params::from_pairs([("SerialNumber", "GAHT12345678")]);
        assert!(matches!(
            MfaParams::read(&mut p).unwrap(),
            MfaParams::SerialOnly(_)
        ));
        let mut p = Params::from_pairs(Vec::<(String, String)>::new());
        assert!(!MfaParams::read(&mut p).unwrap().is_present());
    }
}
