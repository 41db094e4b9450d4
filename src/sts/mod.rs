//! The STS actions: one file each under `actions/`, dispatched by one `match`.

pub mod actions;
pub mod mint;

use crate::error::{ApiError, Code};
use crate::http::{Ctx, Reply};
use crate::wire::Params;

/// Runs an STS action.
pub async fn dispatch(ctx: &Ctx, action: &str, p: &mut Params) -> Result<Reply, ApiError> {
    use actions as a;
    let reply = match action {
        "GetCallerIdentity" => a::get_caller_identity::run(ctx, p).await,
        "GetSessionToken" => a::get_session_token::run(ctx, p).await,
        "GetAccessKeyInfo" => a::get_access_key_info::run(ctx, p).await,
        _ => Err(ApiError::new(
            Code::InvalidAction,
            format!("Could not find operation {action} for version 2011-06-15"),
        )),
    }?;
    Ok(reply)
}
