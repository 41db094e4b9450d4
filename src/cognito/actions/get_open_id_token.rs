//! `GetOpenIdToken` (unsigned; the basic, or classic, flow): a token signed by Sekisho's issuer
//! about the identity — `aud` the pool id, `sub` the identity id, `amr` authenticated and the
//! provider, or unauthenticated — for `AssumeRoleWithWebIdentity` with a role trusting
//! `cognito-identity.amazonaws.com`. The pool must allow the classic flow.

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::cognito::{Input, identities, reply};
use crate::error::{ApiError, Code};
use crate::issuer::{SigningAlg, tokens};

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let (pool, identity, login) = identities::resolve(ctx, input).await?;
    if !pool.allow_classic_flow {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            "Basic (classic) flow is not enabled for this identity pool, please use the \
             enhanced flow.",
        ));
    }
    let st = &ctx.st;
    let provider = login.as_ref().map(|l| l.provider.as_str());
    let claims = tokens::identity_pool(
        &st.issuer_url,
        &pool.id,
        &identity.id,
        provider,
        ctx.env.now,
    );
    let token = st
        .issuer_keys()
        .sign(SigningAlg::Rs256, &claims)
        .map_err(ApiError::internal)?;
    Ok(reply(
        json!({ "IdentityId": identity.id, "Token": token }),
        json!({"identityId": identity.id, "identityPoolId": pool.id, "amr": claims.get("amr"),
               "expiration": claims.get("exp")}),
    ))
}
