//! Identity pools: the Cognito Identity API that mobile SDKs (Amplify, the AWS mobile SDKs,
//! boto3's `cognito-identity`) call, over awsJson 1.1 (`X-Amz-Target:
//! AWSCognitoIdentityService.<Op>`; SigV4 service `cognito-identity` for the admin calls).
//!
//! | file | owns |
//! |---|---|
//! | [`wire`] | JSON in ([`wire::Input`]), the error body (`__type`, `message`) |
//! | [`model`] | pools, role mappings and pool identities as stored |
//! | [`identity`] | pool and identity ids; the stable derivation of login identity ids (pure) |
//! | [`mapping`] | role mappings: checking them, choosing a role for a login (pure) |
//! | [`logins`] | the one dispatch point from a login's provider kind to its verifier |
//! | [`identities`] | which identity an unsigned call names, and whether its login speaks for it |
//! | [`federation`] | the enhanced flow's session and trust context (pure) |
//! | [`pools`] | what the admin calls share: authorization, pool fields, the pool's JSON |
//! | `actions/` | one file per operation |
//!
//! Admin calls are authorized as `cognito-identity:<Op>` by the policy engine; `GetId`,
//! `GetCredentialsForIdentity` and `GetOpenIdToken` are unsigned (the login token, or the
//! pool's guest setting, is the proof). Errors are Cognito's (`crate::error::Code::cognito`).

pub mod actions;
pub mod federation;
pub mod identities;
pub mod identity;
pub mod logins;
pub mod mapping;
pub mod model;
pub mod pools;
pub mod wire;

use crate::action::{Ctx, Reply, Service};
use crate::error::{ApiError, Code};

pub use self::wire::Input;

/// The operations Sekisho serves (an unknown one is `UnknownOperationException`, before
/// authentication). Checked against the `match` in [`dispatch`] by a test.
pub const ACTIONS: &[&str] = &[
    "CreateIdentityPool",
    "DeleteIdentityPool",
    "DescribeIdentityPool",
    "GetCredentialsForIdentity",
    "GetId",
    "GetIdentityPoolRoles",
    "GetOpenIdToken",
    "ListIdentityPools",
    "SetIdentityPoolRoles",
    "UpdateIdentityPool",
];

/// The operations SDKs call unsigned.
#[must_use]
pub fn unsigned_allowed(op: &str) -> bool {
    matches!(op, "GetId" | "GetCredentialsForIdentity" | "GetOpenIdToken")
}

/// Whether an operation only reads (audit's `readOnly`).
#[must_use]
pub fn read_only(op: &str) -> bool {
    op.starts_with("Describe") || op.starts_with("List") || op == "GetIdentityPoolRoles"
}

/// Runs an operation.
pub async fn dispatch(ctx: &Ctx, op: &str, input: &Input) -> Result<Reply, ApiError> {
    use actions as a;
    if let Some(c) = ctx.caller.as_ref().and_then(|c| c.session()) {
        crate::action::session_may_call(Service::CognitoIdentity, op, c)?;
    }
    match op {
        "CreateIdentityPool" => a::create_identity_pool::run(ctx, input).await,
        "DeleteIdentityPool" => a::delete_identity_pool::run(ctx, input).await,
        "DescribeIdentityPool" => a::describe_identity_pool::run(ctx, input).await,
        "GetCredentialsForIdentity" => a::get_credentials_for_identity::run(ctx, input).await,
        "GetId" => a::get_id::run(ctx, input).await,
        "GetIdentityPoolRoles" => a::get_identity_pool_roles::run(ctx, input).await,
        "GetOpenIdToken" => a::get_open_id_token::run(ctx, input).await,
        "ListIdentityPools" => a::list_identity_pools::run(ctx, input).await,
        "SetIdentityPoolRoles" => a::set_identity_pool_roles::run(ctx, input).await,
        "UpdateIdentityPool" => a::update_identity_pool::run(ctx, input).await,
        _ => Err(ApiError::new(
            Code::InvalidAction,
            format!("Operation {op} is not supported."),
        )),
    }
}

/// A reply whose body is `body`.
#[must_use]
pub fn reply(body: serde_json::Value, audit: serde_json::Value) -> Reply {
    Reply {
        result_xml: None,
        result_json: Some(body),
        audit: audit.into(),
    }
}

#[cfg(test)]
mod dispatch_tests {
    /// Every operation [`super::ACTIONS`] names has an arm in `dispatch`, and every arm is listed.
    #[test]
    fn the_action_list_is_the_dispatch_table() {
        let mut listed = super::ACTIONS.to_vec();
        listed.sort_unstable();
        assert_eq!(crate::action::dispatch_arms(include_str!("mod.rs")), listed);
    }
}
