//! `GetId` (unsigned): the identity id of a login in a pool — the same id for the same
//! (provider, subject) every time — or, without logins and when the pool allows guests, a new
//! guest identity. The identity is stored durably before the answer.

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::identities::{guests_not_allowed, read_login, salt};
use crate::cognito::identity::{check_id, guest_identity_id, login_identity_id};
use crate::cognito::model::Identity;
use crate::cognito::pools::not_found;
use crate::cognito::{Input, logins, reply};
use crate::error::ApiError;

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let pool_id = input.req_str("IdentityPoolId", 1, 55)?;
    check_id("IdentityPoolId", &pool_id)?;
    let account = input.opt_str("AccountId", 1, 15)?;
    let login = read_login(input)?;
    let st = &ctx.st;
    let pool = st
        .iam
        .identity_pool(&pool_id)
        .await?
        .filter(|p| account.as_ref().is_none_or(|a| *a == p.account))
        .ok_or_else(|| not_found(&pool_id))?;
    let identity = match login {
        None => {
            if !pool.allow_unauthenticated {
                return Err(guests_not_allowed());
            }
            Identity {
                id: guest_identity_id(&pool.id),
                pool_id: pool.id.clone(),
                account: pool.account.clone(),
                login: None,
                create_date: ctx.env.now,
            }
        }
        Some((key, token)) => {
            let l = logins::verify(
                st,
                &pool,
                &key,
                &token,
                ctx.env.now.timestamp(),
                logins::Use::Identify,
            )
            .await?;
            Identity {
                id: login_identity_id(&pool.id, &salt(&pool)?, &l.provider, &l.subject),
                pool_id: pool.id.clone(),
                account: pool.account.clone(),
                login: Some((l.provider, l.subject)),
                create_date: ctx.env.now,
            }
        }
    };
    let want = identity.clone();
    let stored = st.iam.put_pool_identity(identity).await?;
    if stored.pool_id != want.pool_id || stored.login != want.login {
        return Err(ApiError::internal(format!(
            "identity id {} collides with another identity",
            want.id
        )));
    }
    let provider = stored.login.as_ref().map(|(p, _)| p.clone());
    Ok(reply(
        json!({ "IdentityId": stored.id }),
        json!({"identityPoolId": pool.id, "identityId": stored.id, "provider": provider}),
    ))
}
