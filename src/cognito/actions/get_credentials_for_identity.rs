//! `GetCredentialsForIdentity` (unsigned; the enhanced flow): role-session credentials for an
//! identity. The login (if any) is verified by its provider's verifier, the role comes from the
//! pool's mapping for that provider (else its authenticated role; guests get its
//! unauthenticated role), and the role's trust policy is evaluated exactly as
//! `AssumeRoleWithWebIdentity` evaluates it for a `GetOpenIdToken` token: principal
//! `Federated: cognito-identity.amazonaws.com`, keys `:aud`, `:sub`, `:amr`.

use serde_json::json;

use crate::action::{Ctx, Reply};
use crate::authz::{self, CallerPolicies};
use crate::cognito::federation::{self, PROVIDER, PoolIdentity, SESSION_NAME};
use crate::cognito::mapping::{self, Choice};
use crate::cognito::model::MappingType;
use crate::cognito::{Input, identities, reply};
use crate::error::{ApiError, Code};
use crate::issuer::tokens;
use crate::policy::RequestPrincipal;
use crate::sts::mint;

fn bad_configuration(detail: String) -> ApiError {
    ApiError::new(
        Code::InvalidIdentityPoolConfiguration,
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
    )
    .with_detail(detail)
}

/// Runs the operation.
pub async fn run(ctx: &Ctx, input: &Input) -> Result<Reply, ApiError> {
    let custom = input.opt_str("CustomRoleArn", 20, 2048)?;
    let (pool, identity, login) = identities::resolve(ctx, input).await?;
    let st = &ctx.st;
    let now = ctx.env.now;
    let amr = tokens::amr(login.as_ref().map(|l| l.provider.as_str()));
    let role_arn = match &login {
        None => pool.roles.get("unauthenticated").cloned(),
        Some(l) => {
            let m = pool.role_mappings.get(&l.provider);
            match mapping::choose(m, &l.claims)? {
                Choice::Role(r) => Some(r),
                Choice::AuthenticatedRole => pool.roles.get("authenticated").cloned(),
            }
        }
    };
    let mut role_arn = role_arn
        .ok_or_else(|| bad_configuration(format!("pool {} has no role for {amr:?}", pool.id)))?;
    if let Some(c) = custom.filter(|c| *c != role_arn) {
        // A custom role only among the roles a Token mapping's token offers.
        let offered = login.as_ref().is_some_and(|l| {
            pool.role_mappings
                .get(&l.provider)
                .is_some_and(|m| m.kind == MappingType::Token)
                && l.claims
                    .get("cognito:roles")
                    .and_then(|v| v.as_array())
                    .is_some_and(|a| a.iter().any(|r| r.as_str() == Some(c.as_str())))
        });
        if !offered {
            return Err(ApiError::access_denied(
                "The CustomRoleArn is not one of the roles this login may assume.",
            ));
        }
        role_arn = c;
    }
    let view = st
        .iam
        .role_view_by_arn(&role_arn)
        .await?
        .ok_or_else(|| bad_configuration(format!("role {role_arn} does not exist")))?;
    let role = &view.role;
    let trust = view.trust()?;
    if !crate::policy::lint::pool_trust_has_aud(&trust) {
        return Err(bad_configuration(format!(
            "the trust policy of {role_arn} allows {PROVIDER} without a {PROVIDER}:aud condition"
        )));
    }
    let who = PoolIdentity {
        pool_id: &pool.id,
        identity_id: &identity.id,
        amr: &amr,
    };
    let context = federation::trust_context(&ctx.env, &who, SESSION_NAME, role);
    authz::decide_trust(
        &RequestPrincipal::federated(PROVIDER),
        &CallerPolicies::default(),
        role,
        &trust,
        &["sts:AssumeRoleWithWebIdentity"],
        &context,
    )
    .map_err(|(_, d)| {
        bad_configuration(format!(
            "the trust policy of {role_arn} does not allow identity {} ({amr:?}): {}",
            identity.id, d.reason
        ))
    })?;
    let claims = federation::session_claims(
        role,
        &who,
        st.config.identity_pools.credentials_seconds,
        &st.iam.partition,
        now,
    );
    let issued = mint::mint(st, claims, now)?;
    let body = json!({
        "IdentityId": identity.id,
        "Credentials": {
            "AccessKeyId": issued.access_key_id,
            "SecretKey": issued.secret.expose(),
            "SessionToken": issued.token.expose(),
            "Expiration": issued.expiration.timestamp(),
        },
    });
    Ok(reply(
        body,
        json!({
            "identityId": identity.id,
            "credentials": mint::credentials_audit(&issued),
            "assumedRoleUser": { "arn": issued.claims.arn, "roleArn": role.arn },
            // Moved to the event's userIdentity (WebIdentityUser) by the HTTP layer.
            "userIdentity": {
                "provider": PROVIDER,
                "audience": pool.id,
                "subject": identity.id,
                "account": role.account,
            },
        }),
    ))
}
