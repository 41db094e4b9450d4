//! `DeleteIdentityPool`: the pool goes; its identities can no longer get credentials (their
//! pool is not found).

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::model::IdentityPool;
use crate::cognito::{Input, pools, reply};
use crate::error::ApiError;

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let id = input.req_str("IdentityPoolId", 1, 55)?;
    let pool = pools::authorized_pool(ctx, "DeleteIdentityPool", &id).await?;
    ctx.st
        .iam
        .delete_if(&pool.account, &pool.id, |_: &IdentityPool| None)
        .await
        .map_err(|e| match e {
            crate::iam::repo::Error::NotFound { .. } => pools::not_found(&id),
            e => e.into(),
        })?;
    Ok(reply(json!({}), json!({"identityPoolId": id})))
}
