//! The STS actions: one file each under `actions/`, dispatched by one `match`.

pub mod actions;
pub mod mfa;
pub mod mint;
pub mod session_input;

use crate::action::{Ctx, Reply, Service};
use crate::error::{ApiError, Code};
use crate::wire::Params;

/// The STS actions Sekisho serves (an unknown one is `InvalidAction`, before authentication).
/// Checked against the `match` in [`dispatch`] by a test, so the two cannot drift apart.
pub const ACTIONS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
    "GetCallerIdentity",
    "GetFederationToken",
    "GetSessionToken",
    "GetWebIdentityToken",
];

/// Runs an STS action.
pub async fn dispatch(ctx: &Ctx, action: &str, p: &mut Params) -> Result<Reply, ApiError> {
    use actions as a;
    if let Some(c) = ctx.caller.as_ref().and_then(|c| c.session()) {
        crate::action::session_may_call(Service::Sts, action, c)?;
    }
    // The federation actions' futures are boxed: several times AssumeRole's, they would size
    // (and make every request copy) the request's whole future; one allocation is nothing
    // beside their signature checks.
    let reply = match action {
        "AssumeRole" => a::assume_role::run(ctx, p).await,
        "AssumeRoleWithSAML" => Box::pin(a::assume_role_with_saml::run(ctx, p)).await,
        "AssumeRoleWithWebIdentity" => {
            Box::pin(a::assume_role_with_web_identity::run(ctx, p)).await
        }
        "DecodeAuthorizationMessage" => a::decode_authorization_message::run(ctx, p).await,
        "GetCallerIdentity" => a::get_caller_identity::run(ctx, p).await,
        "GetFederationToken" => Box::pin(a::get_federation_token::run(ctx, p)).await,
        "GetSessionToken" => a::get_session_token::run(ctx, p).await,
        "GetAccessKeyInfo" => a::get_access_key_info::run(ctx, p).await,
        "GetWebIdentityToken" => Box::pin(a::get_web_identity_token::run(ctx, p)).await,
        _ => Err(ApiError::new(
            Code::InvalidAction,
            format!("Could not find operation {action} for version 2011-06-15"),
        )),
    }?;
    Ok(reply)
}

#[cfg(test)]
mod dispatch_tests {
    /// Every action [`super::ACTIONS`] names has an arm in `dispatch`, and every arm is listed.
    #[test]
    fn the_action_list_is_the_dispatch_table() {
        let mut listed = super::ACTIONS.to_vec();
        listed.sort_unstable();
        assert_eq!(crate::action::dispatch_arms(include_str!("mod.rs")), listed);
    }
}
