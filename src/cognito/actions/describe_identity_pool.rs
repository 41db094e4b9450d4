//! `DescribeIdentityPool`.

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::{Input, pools, reply};
use crate::error::ApiError;

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let id = input.req_str("IdentityPoolId", 1, 55)?;
    let pool = pools::authorized_pool(ctx, "DescribeIdentityPool", &id).await?;
    Ok(reply(pools::pool_json(&pool), json!({})))
}
