//! `GetIdentityPoolRoles`: the pool's roles and role mappings.

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::{Input, pools, reply};
use crate::error::ApiError;

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let id = input.req_str("IdentityPoolId", 1, 55)?;
    let pool = pools::authorized_pool(ctx, "GetIdentityPoolRoles", &id).await?;
    let mut body = json!({ "IdentityPoolId": pool.id, "Roles": pool.roles });
    if !pool.role_mappings.is_empty()
        && let Some(o) = body.as_object_mut()
    {
        o.insert("RoleMappings".into(), json!(pool.role_mappings));
    }
    Ok(reply(body, json!({})))
}
