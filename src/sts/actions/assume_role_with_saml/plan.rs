//! The pure half of `AssumeRoleWithSAML`: from the verified assertion, its session attributes,
//! the provider, the role, the request and the configuration — the session to mint, the
//! actions the trust policy must allow and the context it is evaluated with. No I/O.

use chrono::{DateTime, Utc};

use crate::authz::Env;
use crate::config::SessionsConfig;
use crate::error::{ApiError, Code};
use crate::iam::model::{Role, SamlProvider};
use crate::idp::saml::Verified;
use crate::idp::saml::attributes::{self, SessionAttributes};
use crate::policy::Context;
use crate::sts::session_input::SessionPolicies;
use crate::token::{SessionClaims, SessionKind, SessionSubject};

/// What the caller asks for besides the assertion (the API's parameters; the browser sign-in
/// passes a duration and no policies).
#[derive(Debug, Clone, Default)]
pub struct SessionRequest {
    /// `DurationSeconds`.
    pub duration: Option<i64>,
    /// `Policy` / `PolicyArns`.
    pub policies: SessionPolicies,
}

/// What a permitted call will mint.
#[derive(Debug)]
pub struct Plan {
    /// The session's claims.
    pub claims: SessionClaims,
}

/// Plans the session. Its lifetime is the request's (default 3600 s, bounded by the role's
/// maximum) capped by the assertion's `SessionDuration` and `SessionNotOnOrAfter`. SAML
/// sessions never carry MFA (decision 4) and start no chain.
///
/// # Errors
/// `ValidationError` for a duration beyond the role's maximum; `ExpiredTokenException` when the
/// IdP's session has already ended.
#[allow(
    clippy::too_many_arguments,
    reason = "the plan's inputs, each a distinct fact"
)]
pub fn plan(
    req: &SessionRequest,
    v: &Verified,
    attrs: &SessionAttributes,
    provider: &SamlProvider,
    role: &Role,
    sessions: &SessionsConfig,
    partition: &str,
    now: DateTime<Utc>,
) -> Result<Plan, ApiError> {
    let default = sessions
        .assume_role_default_seconds
        .min(role.max_session_duration);
    let mut secs = req.duration.unwrap_or(default);
    if secs > role.max_session_duration {
        return Err(ApiError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    if let Some(d) = attrs.session_duration {
        secs = secs.min(d);
    }
    if let Some(end) = v.session_not_on_or_after {
        let left = end - now.timestamp();
        if left <= 0 {
            return Err(ApiError::new(
                Code::ExpiredTokenException,
                format!(
                    "Token expired: current date/time {} must be before the expiration \
                     date/time{end}",
                    now.timestamp()
                ),
            )
            .with_detail("AuthnStatement@SessionNotOnOrAfter has passed"));
        }
        secs = secs.min(left);
    }
    let who = SessionSubject {
        account: role.account.clone(),
        arn: format!(
            "arn:{partition}:sts::{}:assumed-role/{}/{}",
            role.account, role.name, attrs.session_name
        ),
        principal_arn: role.arn.clone(),
        principal_id: role.id.clone(),
    };
    let claims = SessionClaims::new(SessionKind::Saml, who, now.timestamp(), secs)
        .with_session_name(attrs.session_name.clone())
        .with_tags(attrs.tags.clone(), attrs.transitive.clone())
        .with_source_identity(attrs.source_identity.clone())
        .with_policies(req.policies.inline.clone(), req.policies.arns.clone())
        .with_federation(
            provider.arn.clone(),
            attributes::lasting_claims(v, &provider.account, &provider.name),
        );
    Ok(Plan { claims })
}

impl Plan {
    /// `sts:AssumeRoleWithSAML`, plus `sts:TagSession` with tags and `sts:SetSourceIdentity`
    /// with a source identity.
    #[must_use]
    pub fn needed(&self) -> Vec<&'static str> {
        crate::sts::session_input::needed_actions("sts:AssumeRoleWithSAML", &self.claims)
    }

    /// The trust evaluation's context: the request's global keys, `sts:RoleSessionName`,
    /// `aws:FederatedProvider`, the assertion's `saml:*` keys, the tags and source identity
    /// requested, and the role's tags as resource tags.
    #[must_use]
    pub fn context(
        &self,
        env: &Env,
        v: &Verified,
        provider: &SamlProvider,
        role: &Role,
    ) -> Context {
        let mut ctx = crate::authz::federated_context(env, &provider.arn);
        let c = &self.claims;
        if let Some(name) = &c.session_name {
            ctx.set_lc("sts:rolesessionname", name.clone());
        }
        attributes::fill_context(&mut ctx, v, &provider.account, &provider.name);
        if let Some(s) = &c.source_identity {
            ctx.set_lc("sts:sourceidentity", s.clone());
        }
        crate::authz::add_session_request(&mut ctx, c, role);
        ctx
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
    use serde_json::json;

    use super::*;
    use crate::idp::saml::verify::{Attribute, NameId, Signed};
    use crate::policy::ContextValue;

    const ACCT: &str = "111111111111";

    fn role(max: i64) -> Role {
        serde_json::from_value(json!({
            "name": "dev", "id": "AROAROLEIDROLEIDROLEI", "account": ACCT,
            "arn": "arn:aws:iam::111111111111:role/dev", "path": "/",
            "trust_policy": "{}", "create_date": "2026-01-01T00:00:00Z",
            "max_session_duration": max, "tags": [{"key": "team", "value": "ops"}]
        }))
        .unwrap()
    }

    fn provider() -> SamlProvider {
        SamlProvider {
            account: ACCT.into(),
            name: "Okta".into(),
            arn: "arn:aws:iam::111111111111:saml-provider/Okta".into(),
            entity_id: "http://www.okta.com/x".into(),
            signing_certs: Vec::new(),
            valid_until: None,
            uuid: "u".into(),
            encryption_required: false,
            private_keys: Vec::new(),
            tags: Vec::new(),
            create_date: DateTime::from_timestamp(0, 0).unwrap(),
            origin: crate::iam::model::Origin::Api,
        }
    }

    fn verified(session_end: Option<i64>) -> Verified {
        Verified {
            id: "_a".into(),
            issuer: "http://www.okta.com/x".into(),
            name_id: NameId {
                value: "alice@example.com".into(),
                format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
            },
            recipient: "https://signin.aws.amazon.com/saml".into(),
            in_response_to: None,
            audiences: vec!["urn:amazon:webservices".into()],
            not_on_or_after: 2_000_000_000,
            session_not_on_or_after: session_end,
            attributes: vec![Attribute {
                name: "urn:oid:1.3.6.1.4.1.5923.1.1.1.1".into(),
                values: vec!["staff".into(), "member".into()],
            }],
            signed: Signed::Response,
            encrypted: false,
            algorithms: Vec::new(),
        }
    }

    fn attrs(duration: Option<i64>) -> SessionAttributes {
        SessionAttributes {
            session_name: "alice".into(),
            session_duration: duration,
            tags: vec![("dept".into(), "eng".into())],
            transitive: vec!["dept".into()],
            source_identity: Some("alice".into()),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn secs(
        req: Option<i64>,
        attr: Option<i64>,
        end: Option<i64>,
        max: i64,
    ) -> Result<i64, ApiError> {
        let req = SessionRequest {
            duration: req,
            ..SessionRequest::default()
        };
        let p = plan(
            &req,
            &verified(end),
            &attrs(attr),
            &provider(),
            &role(max),
            &SessionsConfig::default(),
            "aws",
            now(),
        )?;
        Ok(p.claims.expires_at - p.claims.issued_at)
    }

    #[test]
    fn the_session_is_capped_by_the_role_the_assertion_and_the_idp_session() {
        let t = now().timestamp();
        assert_eq!(secs(None, None, None, 43200).unwrap(), 3600);
        assert_eq!(secs(Some(7200), None, None, 43200).unwrap(), 7200);
        assert_eq!(secs(Some(7200), Some(1800), None, 43200).unwrap(), 1800);
        assert_eq!(secs(Some(7200), None, Some(t + 1000), 43200).unwrap(), 1000);
        assert_eq!(
            secs(None, None, None, 1800).unwrap(),
            1800,
            "the default fits the role"
        );
        assert_eq!(
            secs(Some(7200), None, None, 3600).unwrap_err().code,
            Code::ValidationError
        );
        assert_eq!(
            secs(None, None, Some(t - 1), 3600).unwrap_err().code,
            Code::ExpiredTokenException
        );
    }

    #[test]
    fn sessions_are_saml_role_sessions_without_mfa_that_need_tag_and_source_permissions() {
        let p = plan(
            &SessionRequest::default(),
            &verified(None),
            &attrs(None),
            &provider(),
            &role(3600),
            &SessionsConfig::default(),
            "aws",
            now(),
        )
        .unwrap();
        let c = &p.claims;
        assert_eq!(c.kind, SessionKind::Saml);
        assert_eq!(c.arn, "arn:aws:sts::111111111111:assumed-role/dev/alice");
        assert_eq!(c.mfa_auth_time, None);
        assert!(!c.chained);
        assert_eq!(
            c.federated_provider.as_deref(),
            Some(provider().arn.as_str())
        );
        assert!(
            c.federation_claims
                .iter()
                .any(|(k, v)| k == "saml:sub" && v == "alice@example.com")
        );
        assert_eq!(
            p.needed(),
            vec![
                "sts:AssumeRoleWithSAML",
                "sts:TagSession",
                "sts:SetSourceIdentity"
            ]
        );
        let env = Env {
            now: now(),
            source_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            secure: false,
            region: "us-east-1".into(),
        };
        let ctx = p.context(&env, &verified(None), &provider(), &role(3600));
        let single = |k: &str| match ctx.get(k) {
            Some(ContextValue::Single(s)) => s.to_string(),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(single("saml:aud"), "https://signin.aws.amazon.com/saml");
        assert_eq!(single("saml:sub_type"), "persistent");
        assert_eq!(single("saml:doc"), "111111111111/Okta");
        assert_eq!(single("aws:RequestTag/dept"), "eng");
        assert_eq!(single("sts:SourceIdentity"), "alice");
        assert_eq!(single("aws:ResourceTag/team"), "ops");
        assert!(matches!(
            ctx.get("saml:edupersonaffiliation"),
            Some(ContextValue::Multi(v)) if v.len() == 2
        ));
    }
}
