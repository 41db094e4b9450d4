//! `UpdateIdentityPool`: the pool's settings replaced by the request's (as Cognito does: an
//! omitted list empties it); tags change only when `IdentityPoolTags` is given.

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::model::IdentityPool;
use crate::cognito::{Input, pools, reply};
use crate::error::ApiError;

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let id = input.req_str("IdentityPoolId", 1, 55)?;
    let pool = pools::authorized_pool(ctx, "UpdateIdentityPool", &id).await?;
    let fields = pools::read_fields(input, &pool.account, &ctx.st.iam.partition)?;
    pools::check_providers_exist(ctx, &fields).await?;
    let after = ctx
        .st
        .iam
        .update(&pool.account, &pool.id, |p: &mut IdentityPool, _| {
            pools::apply(p, fields.clone());
            Ok(())
        })
        .await
        .map_err(|e| match e {
            crate::iam::repo::Error::NotFound { .. } => pools::not_found(&id),
            e => e.into(),
        })?;
    Ok(reply(
        pools::pool_json(&after),
        json!({"identityPoolId": after.id, "identityPoolName": after.pool_name}),
    ))
}
