//! The pure half of `AssumeRoleWithWebIdentity`: from the request, the verified token, the
//! provider, the role and the configuration, the session to mint, the actions the trust
//! policy must allow and the request context it is evaluated with. No I/O; `now` comes in.

use chrono::{DateTime, Utc};

use super::Input;
use crate::authz::Env;
use crate::config::SessionsConfig;
use crate::error::{ApiError, Code};
use crate::iam::model::{OidcProvider, Role};
use crate::idp::oidc::{self, Verified};
use crate::policy::Context;
use crate::token::{SessionClaims, SessionKind, SessionSubject};

/// What a permitted call will mint.
#[derive(Debug)]
pub struct Plan {
    /// The session's claims.
    pub claims: SessionClaims,
}

/// Plans the session: its duration (the role's maximum bounds it), its tags (from the token's
/// `https://aws.amazon.com/tags` claim), the provider and the lasting provider keys. Web
/// identity sessions never carry MFA (decision 4) and start no chain.
///
/// # Errors
/// `ValidationError` for a duration beyond the role's maximum; `InvalidIdentityToken` for a
/// malformed tags claim.
pub fn plan(
    input: &Input,
    token: &Verified,
    provider: &OidcProvider,
    role: &Role,
    sessions: &SessionsConfig,
    partition: &str,
    now: DateTime<Utc>,
) -> Result<Plan, ApiError> {
    let default = sessions
        .assume_role_default_seconds
        .min(role.max_session_duration);
    let secs = input.duration.unwrap_or(default);
    if secs > role.max_session_duration {
        return Err(ApiError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let tags = oidc::context::session_tags(token).map_err(|e| {
        ApiError::new(
            Code::InvalidIdentityToken,
            "The web identity token's session tags are malformed.",
        )
        .with_detail(e.to_string())
    })?;
    let who = SessionSubject {
        account: role.account.clone(),
        arn: format!(
            "arn:{partition}:sts::{}:assumed-role/{}/{}",
            role.account, role.name, input.session_name
        ),
        principal_arn: role.arn.clone(),
        principal_id: role.id.clone(),
    };
    let claims = SessionClaims::new(SessionKind::WebIdentity, who, now.timestamp(), secs)
        .with_session_name(input.session_name.clone())
        .with_tags(tags.tags, tags.transitive)
        .with_policies(input.policies.inline.clone(), input.policies.arns.clone())
        .with_federation(
            provider.arn.clone(),
            oidc::context::lasting_claims(&provider.name, token),
        );
    Ok(Plan { claims })
}

impl Plan {
    /// `sts:AssumeRoleWithWebIdentity`, plus `sts:TagSession` when the token carries tags.
    #[must_use]
    pub fn needed(&self) -> Vec<&'static str> {
        let mut needed = vec!["sts:AssumeRoleWithWebIdentity"];
        if !self.claims.tags.is_empty() {
            needed.push("sts:TagSession");
        }
        needed
    }

    /// The trust evaluation's context: the request's global keys, `sts:RoleSessionName`, the
    /// token's provider keys (`<provider>:sub`, `:aud`, …), the tags requested and the role's
    /// tags as resource tags.
    #[must_use]
    pub fn context(
        &self,
        env: &Env,
        input: &Input,
        token: &Verified,
        provider: &OidcProvider,
        role: &Role,
    ) -> Context {
        let mut ctx = Context::new();
        ctx.set_times(env.now, None);
        ctx.set_lc("aws:sourceip", env.source_ip.clone());
        ctx.set_lc(
            "aws:securetransport",
            if env.secure { "true" } else { "false" },
        );
        ctx.set_lc("aws:useragent", env.user_agent.clone());
        ctx.set_lc("aws:requestedregion", env.region.clone());
        ctx.set_lc("aws:federatedprovider", provider.arn.clone());
        ctx.set_lc("sts:rolesessionname", input.session_name.clone());
        oidc::context::fill(&mut ctx, &provider.name, token);
        let c = &self.claims;
        if !c.tags.is_empty() {
            for (k, v) in &c.tags {
                ctx.set(&format!("aws:RequestTag/{k}"), v.clone());
            }
            ctx.set_multi(
                "aws:TagKeys",
                c.tags.iter().map(|(k, _)| k.clone()).collect(),
            );
        }
        if !c.transitive_tag_keys.is_empty() {
            ctx.set_multi("sts:TransitiveTagKeys", c.transitive_tag_keys.clone());
        }
        for t in &role.tags {
            ctx.set(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
            ctx.set(&format!("iam:ResourceTag/{}", t.key), t.value.clone());
        }
        ctx
    }
}
