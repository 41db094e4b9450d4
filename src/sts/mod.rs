//! The STS actions: one file each under `actions/`, dispatched by one `match`.

pub mod actions;
pub mod mint;
pub mod session_input;

use crate::action::{Ctx, Reply, Service};
use crate::error::{ApiError, Code};
use crate::wire::Params;

/// Runs an STS action.
pub async fn dispatch(ctx: &Ctx, action: &str, p: &mut Params) -> Result<Reply, ApiError> {
    use actions as a;
    if let Some(c) = ctx.caller.as_ref().and_then(|c| c.session()) {
        crate::action::session_may_call(Service::Sts, action, c)?;
    }
    let reply = match action {
        "AssumeRole" => a::assume_role::run(ctx, p).await,
        "DecodeAuthorizationMessage" => a::decode_authorization_message::run(ctx, p).await,
        "GetCallerIdentity" => a::get_caller_identity::run(ctx, p).await,
        "GetFederationToken" => a::get_federation_token::run(ctx, p).await,
        "GetSessionToken" => a::get_session_token::run(ctx, p).await,
        "GetAccessKeyInfo" => a::get_access_key_info::run(ctx, p).await,
        _ => Err(ApiError::new(
            Code::InvalidAction,
            format!("Could not find operation {action} for version 2011-06-15"),
        )),
    }?;
    Ok(reply)
}
