//! `SetIdentityPoolRoles`: the pool's `authenticated` / `unauthenticated` roles and its role
//! mappings (by login provider: `Token` or `Rules` with claim matchers, and
//! `AmbiguousRoleResolution`), replacing the previous ones. The roles must exist.

use std::collections::BTreeMap;

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::model::IdentityPool;
use crate::cognito::{Input, mapping, pools, reply};
use crate::error::{ApiError, Code};

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let id = input.req_str("IdentityPoolId", 1, 55)?;
    let roles: BTreeMap<String, String> = input
        .str_map("Roles", 2, 128, 20, 2048)?
        .into_iter()
        .collect();
    if !input.has("Roles") {
        return Err(ApiError::new(Code::MissingParameter, "Roles is required"));
    }
    for (kind, arn) in &roles {
        if kind != "authenticated" && kind != "unauthenticated" {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("Invalid role type {kind}: use authenticated or unauthenticated."),
            ));
        }
        mapping::check_role_arn(arn)?;
    }
    let mappings = mapping::parse(input.value_map("RoleMappings", mapping::MAX_MAPPINGS)?)?;
    let pool = pools::authorized_pool(ctx, "SetIdentityPoolRoles", &id).await?;
    let mut every_role: Vec<&String> = roles.values().collect();
    for m in mappings.values() {
        if let Some(rc) = &m.rules_configuration {
            every_role.extend(rc.rules.iter().map(|r| &r.role_arn));
        }
    }
    for arn in every_role {
        if ctx.st.iam.role_view_by_arn(arn).await?.is_none() {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("Role {arn} does not exist."),
            ));
        }
    }
    for provider in mappings.keys() {
        crate::cognito::logins::kind_of(&pool, provider).map_err(|_| {
            ApiError::new(
                Code::InvalidParameterValue,
                format!("Role mapping for {provider}: the pool has no such login provider."),
            )
        })?;
    }
    ctx.st
        .iam
        .update(&pool.account, &pool.id, |p: &mut IdentityPool, _| {
            p.roles.clone_from(&roles);
            p.role_mappings.clone_from(&mappings);
            Ok(())
        })
        .await?;
    Ok(reply(
        json!({}),
        json!({"identityPoolId": id, "roles": roles, "roleMappings": mappings}),
    ))
}
