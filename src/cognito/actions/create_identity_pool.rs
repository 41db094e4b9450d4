//! `CreateIdentityPool`: a pool in the caller's account, its id `region:uuid` in the region the
//! request was signed for. Authorized as `cognito-identity:CreateIdentityPool` on `*`.

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::identity::{new_pool_id, new_salt};
use crate::cognito::model::IdentityPool;
use crate::cognito::pools::{self, MAX_POOLS_PER_ACCOUNT};
use crate::cognito::{Input, reply};
use crate::error::{ApiError, Code};
use crate::iam::model::Origin;

/// The region of pools created by a request signed without one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let caller = pools::authorize(ctx, "CreateIdentityPool", "*").await?;
    let st = &ctx.st;
    let fields = pools::read_fields(input, &caller.account, &st.iam.partition)?;
    pools::check_providers_exist(ctx, &fields).await?;
    if st.iam.count::<IdentityPool>(&caller.account).await? >= MAX_POOLS_PER_ACCOUNT {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("Cannot exceed quota for IdentityPoolsPerAccount: {MAX_POOLS_PER_ACCOUNT}"),
        ));
    }
    let region = if caller.region.is_empty() {
        DEFAULT_REGION
    } else {
        caller.region.as_str()
    };
    let mut pool = IdentityPool {
        account: caller.account.clone(),
        id: new_pool_id(region),
        pool_name: String::new(),
        allow_unauthenticated: false,
        allow_classic_flow: false,
        supported_login_providers: Default::default(),
        open_id_connect_provider_arns: Vec::new(),
        saml_provider_arns: Vec::new(),
        tags: Default::default(),
        roles: Default::default(),
        role_mappings: Default::default(),
        salt: new_salt(),
        create_date: ctx.env.now,
        origin: Origin::Api,
    };
    pools::apply(&mut pool, fields);
    let pool = st.iam.create(pool).await?;
    Ok(reply(
        pools::pool_json(&pool),
        json!({"identityPoolId": pool.id, "identityPoolName": pool.pool_name}),
    ))
}
