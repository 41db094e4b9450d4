//! MFA in `GetSessionToken` and `AssumeRole`: whose devices a caller may present, and the
//! answer when a code is refused (sts-spec §8). The code itself is checked, and consumed, by the
//! repository (`Iam::use_mfa_device`: the pure `mfa::guard` transition, committed with a
//! compare-and-swap).

use crate::action::Ctx;
use crate::authn::{Caller, Principal};
use crate::error::ApiError;
use crate::iam::repo::MfaUse;
use crate::mfa::params::{MfaParams, SerialNumber};
use crate::mfa::{self, INVALID_CODE};
use crate::token::SessionKind;

/// The unique id of whom `caller` presents MFA as: the user's (`AIDA…`), or the account id for
/// the root — with long-term keys or from a `GetSessionToken` session. Role and federated
/// sessions own no devices.
fn device_owner(caller: &Caller) -> Option<&str> {
    match &caller.principal {
        Principal::Root => Some(&caller.account),
        Principal::User(u) => Some(&u.id),
        Principal::Session(c) if c.kind == SessionKind::UserSession => Some(&c.principal_id),
        Principal::Session(_) => None,
    }
}

/// Checks the MFA parameters of a request, consuming the code. Returns the MFA time to put in
/// the session (`now`), or `None` when the request carries no MFA parameters.
///
/// # Errors
/// `AccessDenied` with AWS's messages: "unable to validate" for a serial that is not a device
/// assigned to the caller (hardware serials, other users' devices, other accounts' devices,
/// unassigned ones), "invalid MFA one time pass code" for a wrong, reused or throttled code or a
/// missing `TokenCode`.
pub async fn check(
    ctx: &Ctx,
    caller: &Caller,
    params: &MfaParams,
) -> Result<Option<i64>, ApiError> {
    let input = match params {
        MfaParams::Absent => return Ok(None),
        MfaParams::CodeOnly => return Err(mfa::unknown_serial("TokenCode without SerialNumber")),
        MfaParams::SerialOnly(_) => {
            return Err(
                ApiError::access_denied(INVALID_CODE).with_detail("SerialNumber without TokenCode")
            );
        }
        MfaParams::Given(i) => i,
    };
    let arn = match &input.serial {
        SerialNumber::Hardware(_) => {
            return Err(mfa::unknown_serial(
                "hardware MFA devices are not supported: only virtual devices",
            ));
        }
        SerialNumber::Virtual(a) => a,
    };
    let Some(owner) = device_owner(caller) else {
        return Err(mfa::unknown_serial(
            "only users and the root have MFA devices, not role or federated sessions",
        ));
    };
    // Cross-account MFA uses a device of the caller's own account (sts-spec §8).
    if arn.account != caller.account {
        return Err(mfa::unknown_serial(
            "the device is not in the caller's account",
        ));
    }
    let now = ctx.env.now.timestamp();
    match ctx
        .st
        .iam
        .use_mfa_device(&arn.account, &arn.name, &arn.text, owner, &input.code, now)
        .await?
    {
        MfaUse::Accepted { .. } => Ok(Some(now)),
        MfaUse::NotAssigned => Err(mfa::unknown_serial(
            "no such device is assigned to the caller",
        )),
        MfaUse::Refused(why) => Err(mfa::invalid_code(&why)),
    }
}
