//! `ListIdentityPools`: a page of the account's pools (`MaxResults` 1–60, `NextToken`).

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::model::IdentityPool;
use crate::cognito::{Input, pools, reply};
use crate::error::ApiError;

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let max = input.req_int("MaxResults", 1, 60)?;
    let token = input.opt_str("NextToken", 1, 4096)?;
    let caller = pools::authorize(ctx, "ListIdentityPools", "*").await?;
    let page = ctx
        .st
        .iam
        .list::<IdentityPool>(
            &caller.account,
            "/",
            token.as_deref(),
            usize::try_from(max).unwrap_or(60),
        )
        .await?;
    let items: Vec<_> = page
        .items
        .iter()
        .map(|p| json!({"IdentityPoolId": p.id, "IdentityPoolName": p.pool_name}))
        .collect();
    let mut body = json!({ "IdentityPools": items });
    if let (Some(next), Some(o)) = (page.next_marker, body.as_object_mut()) {
        o.insert("NextToken".into(), json!(next));
    }
    Ok(reply(body, json!({})))
}
