//! The IAM Query API (Version 2010-05-08): one module per action (or tight action group).

pub mod revoke_sessions;

use crate::error::{ApiError, Code};
use crate::http::{Ctx, Reply};
use crate::wire::Params;

/// Runs an IAM action.
pub async fn dispatch(ctx: &Ctx, action: &str, p: &mut Params) -> Result<Reply, ApiError> {
    // Credentials from GetFederationToken cannot call IAM; GetSessionToken credentials only with
    // MFA, and otherwise get InvalidClientTokenId (sts-spec §2.1).
    if let Some(c) = ctx.caller.as_ref().and_then(|c| c.session()) {
        match c.kind {
            crate::token::SessionKind::FederatedUser => {
                return Err(ApiError::access_denied(format!(
                    "Cannot call {action} with federated-user credentials"
                )));
            }
            crate::token::SessionKind::UserSession if c.mfa_auth_time.is_none() => {
                return Err(ApiError::invalid_token());
            }
            _ => {}
        }
    }
    match action {
        "RevokeSessions" => revoke_sessions::run(ctx, p).await,
        _ => Err(ApiError::new(
            Code::InvalidAction,
            format!("Could not find operation {action} for version 2010-05-08"),
        )),
    }
}
