//! The pure half of getting credentials for a pool identity (the enhanced flow): the session to
//! mint, and the context the role's trust policy is evaluated with — exactly what
//! `AssumeRoleWithWebIdentity` sees for a `GetOpenIdToken` token in the classic flow: the
//! principal `Federated: cognito-identity.amazonaws.com` and the keys
//! `cognito-identity.amazonaws.com:aud` (pool id), `:sub` (identity id), `:amr`.

use chrono::{DateTime, Utc};

use crate::authz::Env;
use crate::iam::model::Role;
use crate::policy::Context;
use crate::token::{SessionClaims, SessionKind, SessionSubject};

pub use crate::policy::lint::COGNITO_IDENTITY as PROVIDER;

/// The role session name of enhanced-flow credentials (as Cognito names them).
pub const SESSION_NAME: &str = "CognitoIdentityCredentials";

/// Who is getting credentials.
#[derive(Debug, Clone)]
pub struct PoolIdentity<'a> {
    /// The pool id (`:aud`).
    pub pool_id: &'a str,
    /// The identity id (`:sub`).
    pub identity_id: &'a str,
    /// `["authenticated", provider]` or `["unauthenticated"]` (`:amr`).
    pub amr: &'a [String],
}

/// The trust evaluation's context.
#[must_use]
pub fn trust_context(
    env: &Env,
    who: &PoolIdentity<'_>,
    session_name: &str,
    role: &Role,
) -> Context {
    let mut ctx = crate::authz::federated_context(env, PROVIDER);
    ctx.set_lc("sts:rolesessionname", session_name.to_owned());
    ctx.set(&format!("{PROVIDER}:aud"), who.pool_id.to_owned());
    ctx.set(&format!("{PROVIDER}:sub"), who.identity_id.to_owned());
    ctx.set_multi(&format!("{PROVIDER}:amr"), who.amr.to_vec());
    for t in &role.tags {
        ctx.set(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
        ctx.set(&format!("iam:ResourceTag/{}", t.key), t.value.clone());
    }
    ctx
}

/// The session's claims: a web-identity role session of `role` for `seconds` (bounded by the
/// role's maximum), naming the built-in provider; `aud`, `sub` (and a single-valued `amr`)
/// stay visible to the session's later calls.
#[must_use]
pub fn session_claims(
    role: &Role,
    who: &PoolIdentity<'_>,
    seconds: i64,
    partition: &str,
    now: DateTime<Utc>,
) -> SessionClaims {
    let subject = SessionSubject {
        account: role.account.clone(),
        arn: format!(
            "arn:{partition}:sts::{}:assumed-role/{}/{SESSION_NAME}",
            role.account, role.name
        ),
        principal_arn: role.arn.clone(),
        principal_id: role.id.clone(),
    };
    let mut lasting = vec![
        (format!("{PROVIDER}:aud"), who.pool_id.to_owned()),
        (format!("{PROVIDER}:sub"), who.identity_id.to_owned()),
    ];
    if let [one] = who.amr {
        lasting.push((format!("{PROVIDER}:amr"), one.clone()));
    }
    SessionClaims::new(
        SessionKind::WebIdentity,
        subject,
        now.timestamp(),
        seconds.min(role.max_session_duration),
    )
    .with_session_name(SESSION_NAME.to_owned())
    .with_federation(PROVIDER.to_owned(), lasting)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::policy::ContextValue;

    fn role() -> Role {
        serde_json::from_value(serde_json::json!({
            "name": "guest", "id": "AROAROLEIDROLEIDROLEI", "account": "111111111111",
            "arn": "arn:aws:iam::111111111111:role/guest", "path": "/",
            "trust_policy": "{}", "create_date": "2026-01-01T00:00:00Z",
            "max_session_duration": 3600, "tags": []
        }))
        .unwrap()
    }

    #[test]
    fn the_trust_sees_the_pool_the_identity_and_amr() {
        let env = Env {
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            source_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            secure: false,
            region: "us-east-1".into(),
        };
        let amr = vec!["authenticated".to_owned(), "idp.example.com".to_owned()];
        let who = PoolIdentity {
            pool_id: "us-east-1:p",
            identity_id: "us-east-1:i",
            amr: &amr,
        };
        let ctx = trust_context(&env, &who, SESSION_NAME, &role());
        assert_eq!(
            ctx.get("cognito-identity.amazonaws.com:aud"),
            Some(&ContextValue::Single("us-east-1:p".into()))
        );
        assert_eq!(
            ctx.get("cognito-identity.amazonaws.com:amr"),
            Some(&ContextValue::Multi(amr.clone()))
        );
        let c = session_claims(&role(), &who, 7200, "aws", env.now);
        assert_eq!(
            c.expires_at - c.issued_at,
            3600,
            "the role's maximum bounds it"
        );
        assert_eq!(
            c.arn,
            "arn:aws:sts::111111111111:assumed-role/guest/CognitoIdentityCredentials"
        );
        assert_eq!(c.federated_provider.as_deref(), Some(PROVIDER));
        assert!(c.mfa_auth_time.is_none());
        assert_eq!(c.federation_claims.len(), 2, "amr has two values: not kept");
    }
}
