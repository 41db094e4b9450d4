//! The STS actions: one file each under `actions/`, dispatched by one `match`.

pub mod actions;
pub mod mint;
pub mod session_input;

use crate::error::{ApiError, Code};
use crate::http::{Ctx, Reply};
use crate::wire::Params;

/// Runs an STS action.
pub async fn dispatch(ctx: &Ctx, action: &str, p: &mut Params) -> Result<Reply, ApiError> {
    use actions as a;
    // Credentials from GetFederationToken may call only GetCallerIdentity; GetSessionToken
    // credentials only AssumeRole and GetCallerIdentity (sts-spec §2.1).
    if let Some(c) = ctx.caller.as_ref().and_then(|c| c.session()) {
        let allowed = match c.kind {
            crate::token::SessionKind::FederatedUser => action == "GetCallerIdentity",
            crate::token::SessionKind::UserSession => {
                matches!(action, "GetCallerIdentity" | "AssumeRole")
            }
            _ => true,
        };
        if !allowed {
            return Err(ApiError::access_denied(format!(
                "Cannot call {action} with session credentials"
            )));
        }
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
