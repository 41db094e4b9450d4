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
    /// `sts:AssumeRoleWithWebIdentity`, plus `sts:TagSession` when the token carries tags (see
    /// [`crate::sts::session_input::needed_actions`]).
    #[must_use]
    pub fn needed(&self) -> Vec<&'static str> {
        crate::sts::session_input::needed_actions("sts:AssumeRoleWithWebIdentity", &self.claims)
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
        let mut ctx = crate::authz::federated_context(env, &provider.arn);
        ctx.set_lc("sts:rolesessionname", input.session_name.clone());
        oidc::context::fill(&mut ctx, &provider.name, token);
        crate::authz::add_session_request(&mut ctx, &self.claims, role);
        ctx
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use serde_json::json;

    use super::*;
    use crate::iam::model::Origin;
    use crate::iam::names::EntityArn;
    use crate::policy::ContextValue;
    use crate::sts::session_input::SessionPolicies;

    const P: &str = "token.actions.githubusercontent.com";

    fn input(duration: Option<i64>) -> Input {
        Input {
            token: String::new(),
            role_arn: EntityArn::parse("RoleArn", "arn:aws:iam::111111111111:role/ci", "role")
                .unwrap(),
            session_name: "gha".into(),
            duration,
            policies: SessionPolicies::default(),
        }
    }

    fn role() -> Role {
        serde_json::from_value(json!({
            "name": "ci", "id": "AROAROLEIDROLEIDROLEI", "account": "111111111111",
            "arn": "arn:aws:iam::111111111111:role/ci", "path": "/",
            "trust_policy": "{}", "create_date": "2026-01-01T00:00:00Z",
            "max_session_duration": 3600, "tags": [{"key": "team", "value": "ci"}]
        }))
        .unwrap()
    }

    fn provider() -> OidcProvider {
        crate::iam::actions::oidc_providers::new_provider(
            "111111111111",
            &format!("https://{P}"),
            vec!["sts.amazonaws.com".into()],
            Vec::new(),
            Vec::new(),
            now(),
            Origin::Api,
        )
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn token(extra: serde_json::Value) -> Verified {
        let mut claims = json!({"iss": format!("https://{P}"), "sub": "repo:o/r:ref:refs/heads/main",
            "aud": "sts.amazonaws.com", "repository": "o/r"});
        for (k, v) in extra.as_object().unwrap() {
            claims.as_object_mut().unwrap().insert(k.clone(), v.clone());
        }
        Verified {
            iss: format!("https://{P}"),
            sub: "repo:o/r:ref:refs/heads/main".into(),
            aud: vec!["sts.amazonaws.com".into()],
            audience: "sts.amazonaws.com".into(),
            azp: None,
            amr: Vec::new(),
            iat: 0,
            exp: 0,
            kid: "k".into(),
            alg: jsonwebtoken::Algorithm::RS256,
            claims: claims.as_object().unwrap().clone().into(),
        }
    }

    fn env() -> Env {
        Env {
            now: now(),
            source_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            secure: false,
            region: String::new(),
        }
    }

    #[test]
    fn a_web_identity_session_names_its_provider_and_never_carries_mfa() {
        let mut p = provider();
        p.arn = format!("arn:aws:iam::111111111111:oidc-provider/{P}");
        let plan = plan(
            &input(None),
            &token(json!({})),
            &p,
            &role(),
            &SessionsConfig::default(),
            "aws",
            now(),
        )
        .unwrap();
        let c = &plan.claims;
        assert_eq!(c.kind, SessionKind::WebIdentity);
        assert_eq!(c.arn, "arn:aws:sts::111111111111:assumed-role/ci/gha");
        assert_eq!(c.federated_provider.as_deref(), Some(p.arn.as_str()));
        assert!(c.mfa_auth_time.is_none());
        assert!(
            c.federation_claims
                .iter()
                .any(|(k, _)| k == &format!("{P}:sub"))
        );
        assert_eq!(c.expires_at - c.issued_at, 3600);
        assert_eq!(plan.needed(), vec!["sts:AssumeRoleWithWebIdentity"]);
        let ctx = plan.context(&env(), &input(None), &token(json!({})), &p, &role());
        assert_eq!(
            ctx.get(&format!("{P}:repository")),
            Some(&ContextValue::Single("o/r".into()))
        );
        assert_eq!(
            ctx.get("sts:RoleSessionName"),
            Some(&ContextValue::Single("gha".into()))
        );
        assert!(ctx.get("aws:ResourceTag/team").is_some());
    }

    #[test]
    fn durations_and_tags_follow_the_role_and_the_token() {
        let p = provider();
        let e = plan(
            &input(Some(7200)),
            &token(json!({})),
            &p,
            &role(),
            &SessionsConfig::default(),
            "aws",
            now(),
        )
        .unwrap_err();
        assert!(e.message.contains("MaxSessionDuration"));
        let tagged = token(json!({"https://aws.amazon.com/tags":
            {"principal_tags": {"env": ["prod"]}, "transitive_tag_keys": ["env"]}}));
        let plan = plan(
            &input(Some(900)),
            &tagged,
            &p,
            &role(),
            &SessionsConfig::default(),
            "aws",
            now(),
        )
        .unwrap();
        assert_eq!(plan.claims.tags, vec![("env".into(), "prod".into())]);
        assert_eq!(
            plan.needed(),
            vec!["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
        );
        let ctx = plan.context(&env(), &input(None), &tagged, &p, &role());
        assert!(ctx.get("aws:RequestTag/env").is_some());
    }
}
