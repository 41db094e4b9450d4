//! Multi-factor authentication with virtual TOTP devices (sts-spec §8; reference README,
//! decisions 4 and 5).
//!
//! | file | owns |
//! |---|---|
//! | [`totp`] | RFC 6238/4226 codes and their verification: pure (seed, code, `now`) |
//! | [`guard`] | the per-device state (last accepted step, drift, failures) and its transitions |
//! | [`enroll`] | the `otpauth://` URI and its QR code PNG, handed out once at creation |
//! | [`params`] | `SerialNumber` and code parameters, decoded at the edge |
//!
//! The devices themselves are an IAM entity kind (the repository); the actions that use them are
//! IAM's device actions and STS `GetSessionToken`/`AssumeRole`. Seeds are sealed at rest with the
//! store key, returned only by `CreateVirtualMFADevice`, and never logged.

pub mod enroll;
pub mod guard;
pub mod params;
pub mod totp;

use crate::error::{ApiError, Code};

/// AWS's answer to a wrong, reused or throttled code in STS.
pub const INVALID_CODE: &str =
    "MultiFactorAuthentication failed with invalid MFA one time pass code.";

/// AWS's answer to a serial number that is no device of the caller.
pub const UNKNOWN_SERIAL: &str = "MultiFactorAuthentication failed, unable to validate MFA code.  \
                                  Please verify your MFA serial number is valid and associated \
                                  with this user.";

/// The STS `AccessDenied` for a refused code; the reason goes to the operator detail only.
#[must_use]
pub fn invalid_code(why: &guard::Refusal) -> ApiError {
    ApiError::access_denied(INVALID_CODE).with_detail(why.to_string())
}

/// The STS `AccessDenied` for a serial number that is no device of the caller.
#[must_use]
pub fn unknown_serial(detail: impl Into<String>) -> ApiError {
    ApiError::access_denied(UNKNOWN_SERIAL).with_detail(detail)
}

/// The IAM answer to wrong codes in `EnableMFADevice`/`ResyncMFADevice`.
#[must_use]
pub fn invalid_authentication_code(why: &guard::Refusal) -> ApiError {
    ApiError::new(
        Code::InvalidAuthenticationCode,
        "Authentication code for device is not valid.",
    )
    .with_detail(why.to_string())
}
