//! The pure half of `AssumeRole`: from the request, the caller, the role and the configuration,
//! the session to mint (its claims), the request context keys it adds, and the actions the
//! trust policy and the caller's policies must allow. No I/O, no clock: `now` comes in.

use chrono::{DateTime, Utc};

use super::{Input, lineage};
use crate::authn::{Caller, Principal};
use crate::config::SessionsConfig;
use crate::error::{ApiError, Code};
use crate::iam::model::Role;
use crate::policy::ContextOf;
use crate::token::{SessionClaims, SessionKind, SessionSubject};

/// Role chaining caps sessions at one hour (AWS).
const CHAINED_MAX_SECONDS: i64 = 3600;

/// What a permitted `AssumeRole` will mint.
#[derive(Debug)]
pub struct Plan {
    /// The session's claims.
    pub claims: SessionClaims,
}

/// The AccessDenied answer for `action` on the requested role.
pub fn not_authorized(caller: &Caller, input: &Input, action: &str, detail: &str) -> ApiError {
    ApiError::access_denied(format!(
        "User: {} is not authorized to perform: {action} on resource: {}",
        caller.arn, input.role_arn
    ))
    .with_detail(detail.to_owned())
}

/// The checks on the caller that come before the role is looked up.
///
/// # Errors
/// `AccessDenied` for the root user (with its keys or its own session) and federated-user
/// sessions.
pub fn check_caller(caller: &Caller, input: &Input) -> Result<(), ApiError> {
    let parent = caller.session();
    // AWS refuses the root user, with its keys or with its own GetSessionToken session.
    let root = matches!(caller.principal, Principal::Root)
        || parent
            .is_some_and(|c| c.kind == SessionKind::UserSession && c.principal_id == c.account);
    if root {
        return Err(
            ApiError::access_denied("Roles may not be assumed by root accounts.")
                .with_detail("the caller is the account root"),
        );
    }
    if parent.is_some_and(|c| c.kind == SessionKind::FederatedUser) {
        return Err(not_authorized(
            caller,
            input,
            "sts:AssumeRole",
            "federated-user sessions cannot call AssumeRole",
        ));
    }
    Ok(())
}

/// Plans the session: duration within the role's maximum (and one hour when chaining),
/// inherited transitive tags (which the request may not override), source identity (fixed once
/// set on a chain), lineage, and the MFA time: `mfa_at` when this request presented a valid code
/// (verified by the caller of this function), else the parent session's (decision 4: role
/// sessions keep MFA, chained ones too).
///
/// # Errors
/// `ValidationError` for durations beyond the limits; `InvalidParameterValue` for an attempt to
/// override an inherited transitive tag; `AccessDenied` for a changed source identity.
pub fn plan(
    input: &Input,
    caller: &Caller,
    role: &Role,
    sessions: &SessionsConfig,
    partition: &str,
    now: DateTime<Utc>,
    mfa_at: Option<i64>,
) -> Result<Plan, ApiError> {
    let parent = caller.session();
    let chained = parent.is_some();
    let default = sessions
        .assume_role_default_seconds
        .min(role.max_session_duration);
    let secs = input.duration.unwrap_or(default);
    if chained && secs > CHAINED_MAX_SECONDS {
        return Err(ApiError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by \
             role chaining.",
        ));
    }
    if secs > role.max_session_duration {
        return Err(ApiError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }

    // Tags: inherited transitive tags first; they cannot be overridden.
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut transitive: Vec<String> = Vec::new();
    if let Some(pc) = parent {
        for k in &pc.transitive_tag_keys {
            if let Some((tk, tv)) = pc.tags.iter().find(|(t, _)| t.eq_ignore_ascii_case(k)) {
                if input.tags.iter().any(|(n, _)| n.eq_ignore_ascii_case(tk)) {
                    return Err(ApiError::new(
                        Code::InvalidParameterValue,
                        format!(
                            "The session tag {tk} is a transitive tag inherited from the calling \
                             session and cannot be overridden."
                        ),
                    ));
                }
                tags.push((tk.clone(), tv.clone()));
                transitive.push(tk.clone());
            }
        }
    }
    tags.extend(input.tags.iter().cloned());
    for k in &input.transitive {
        if !transitive.iter().any(|t| t.eq_ignore_ascii_case(k)) {
            transitive.push(k.clone());
        }
    }
    let source_identity = match (
        parent.and_then(|c| c.source_identity.clone()),
        &input.source_identity,
    ) {
        (Some(old), Some(new)) if &old != new => {
            return Err(ApiError::access_denied(
                "SourceIdentity cannot be changed once set on a session (role chaining)",
            ));
        }
        (Some(old), _) => Some(old),
        (None, new) => new.clone(),
    };

    let who = SessionSubject {
        account: role.account.clone(),
        arn: session_arn(partition, &role.account, &role.name, &input.session_name),
        principal_arn: role.arn.clone(),
        principal_id: role.id.clone(),
    };
    let (parent_key, parent_user) = lineage(caller);
    let claims = SessionClaims::new(SessionKind::AssumedRole, who, now.timestamp(), secs)
        .with_session_name(input.session_name.clone())
        .with_mfa_auth_time(mfa_at.or_else(|| parent.and_then(|c| c.mfa_auth_time)))
        .with_source_identity(source_identity)
        .with_tags(tags, transitive)
        .with_policies(input.policies.inline.clone(), input.policies.arns.clone())
        .with_lineage(parent_key, parent_user)
        .chained_from(parent);
    Ok(Plan { claims })
}

/// `arn:P:sts::A:assumed-role/ROLE/SESSION`, in one allocation of the exact size.
fn session_arn(partition: &str, account: &str, role: &str, session: &str) -> String {
    let parts = [
        "arn:",
        partition,
        ":sts::",
        account,
        ":assumed-role/",
        role,
        "/",
        session,
    ];
    parts.concat()
}

impl Plan {
    /// The actions the trust policy and the caller's policies must allow: `sts:AssumeRole`, plus
    /// `sts:TagSession` with tags and `sts:SetSourceIdentity` with a source identity.
    pub fn needed(&self) -> crate::sts::session_input::Needed {
        crate::sts::session_input::needed("sts:AssumeRole", &self.claims)
    }

    /// The request context for the trust evaluation: `base` (the caller's keys) plus the `sts:`
    /// keys of the request, the requested tags, and the role's tags as resource tags (the
    /// calling session's transitive tags replacing the matching values). Values borrow from the
    /// plan, the request, the role and the caller.
    #[must_use]
    pub fn context<'a>(
        &'a self,
        mut ctx: ContextOf<'a>,
        input: &'a Input,
        role: &'a Role,
        caller: &'a Caller,
    ) -> ContextOf<'a> {
        let c = &self.claims;
        let parent = caller.session();
        ctx.set_lc("sts:rolesessionname", input.session_name.as_str());
        if let Some(x) = &input.external_id {
            ctx.set_lc("sts:externalid", x.as_str());
        }
        if let Some(s) = &input.source_identity {
            ctx.set_lc("sts:sourceidentity", s.as_str());
        }
        if let Some(s) = &c.source_identity {
            ctx.set_lc("aws:sourceidentity", s.as_str());
        }
        // MFA presented with this request counts in the trust evaluation (the caller's own
        // session, if any, already set the keys in `base`; a fresh code makes them true).
        if let Some(t) = c.mfa_auth_time {
            ctx.set_lc("aws:multifactorauthpresent", "true");
            ctx.set_lc(
                "aws:multifactorauthage",
                (c.issued_at - t).max(0).to_string(),
            );
        }
        if !input.transitive.is_empty() {
            ctx.set_multi("sts:TransitiveTagKeys", input.transitive.clone());
        }
        if !c.tags.is_empty() {
            for (k, v) in &c.tags {
                ctx.set(&format!("aws:RequestTag/{k}"), v.as_str());
            }
            ctx.set_multi(
                "aws:TagKeys",
                c.tags.iter().map(|(k, _)| k.clone()).collect(),
            );
        }
        for t in &role.tags {
            let inherited = parent
                .filter(|_| {
                    c.transitive_tag_keys
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(&t.key))
                })
                .and_then(|p| p.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(&t.key)));
            let v = inherited.map_or(t.value.as_str(), |(_, v)| v.as_str());
            ctx.set(&format!("aws:ResourceTag/{}", t.key), v);
            ctx.set(&format!("iam:ResourceTag/{}", t.key), v);
        }
        ctx
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::sync::Arc;

    use super::*;
    use crate::iam::model::{Tag, User};
    use crate::sts::session_input::SessionPolicies;

    fn input() -> Input {
        Input {
            role_arn: "arn:aws:iam::222222222222:role/deployer".into(),
            session_name: "s1".into(),
            duration: None,
            external_id: None,
            policies: SessionPolicies::default(),
            tags: Vec::new(),
            transitive: Vec::new(),
            source_identity: None,
            mfa: crate::mfa::params::MfaParams::Absent,
        }
    }

    fn role() -> Role {
        let mut r: Role = serde_json::from_value(serde_json::json!({
            "name": "deployer", "id": "AROAROLEIDROLEIDROLEI", "account": "222222222222",
            "arn": "arn:aws:iam::222222222222:role/deployer", "path": "/",
            "trust_policy": "{}", "create_date": "2026-01-01T00:00:00Z",
            "max_session_duration": 7200
        }))
        .unwrap();
        r.tags = vec![Tag {
            key: "project".into(),
            value: "role-value".into(),
        }];
        r
    }

    fn user_caller() -> Caller {
        let user: User = serde_json::from_value(serde_json::json!({
            "name": "alice", "id": "AIDAALICEALICEALICEAL", "account": "111111111111",
            "arn": "arn:aws:iam::111111111111:user/alice", "path": "/",
            "create_date": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        Caller {
            account: "111111111111".into(),
            arn: user.arn.clone(),
            user_id: user.id.clone(),
            principal: Principal::User(Arc::new(user)),
            access_key_id: "AKIAALICE".into(),
            region: "us-east-1".into(),
            service: "sts".into(),
        }
    }

    fn session_caller(parent: SessionClaims) -> Caller {
        Caller {
            account: parent.account.clone(),
            arn: parent.arn.clone(),
            user_id: format!("{}:x", parent.principal_id),
            principal: Principal::Session(Arc::new(parent)),
            access_key_id: "ASIAPARENT".into(),
            region: "us-east-1".into(),
            service: "sts".into(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn sessions() -> SessionsConfig {
        SessionsConfig::default()
    }

    fn run(input: &Input, caller: &Caller) -> Result<Plan, ApiError> {
        plan(input, caller, &role(), &sessions(), "aws", now(), None)
    }

    #[test]
    fn a_user_gets_a_role_session_with_lineage_and_the_default_duration() {
        let p = run(&input(), &user_caller()).unwrap();
        let c = &p.claims;
        assert_eq!(c.kind, SessionKind::AssumedRole);
        assert_eq!(c.arn, "arn:aws:sts::222222222222:assumed-role/deployer/s1");
        assert_eq!(c.principal_id, "AROAROLEIDROLEIDROLEI");
        assert_eq!(c.account, "222222222222");
        let default = sessions().assume_role_default_seconds.min(7200);
        assert_eq!(c.expires_at - c.issued_at, default);
        assert_eq!(c.parent_access_key_id.as_deref(), Some("AKIAALICE"));
        assert_eq!(c.parent_user_id.as_deref(), Some("AIDAALICEALICEALICEAL"));
        assert!(!c.chained);
        assert_eq!(*p.needed(), ["sts:AssumeRole"]);
    }

    #[test]
    fn durations_are_bounded_by_the_role_and_by_chaining() {
        let mut i = input();
        i.duration = Some(7201);
        let e = run(&i, &user_caller()).unwrap_err();
        assert!(e.message.contains("MaxSessionDuration"), "{e}");
        i.duration = Some(7200);
        run(&i, &user_caller()).unwrap();
        let parent = run(&input(), &user_caller()).unwrap().claims;
        i.duration = Some(3601);
        let e = run(&i, &session_caller(parent.clone())).unwrap_err();
        assert!(e.message.contains("1 hour"), "{e}");
        i.duration = Some(3600);
        let p = run(&i, &session_caller(parent)).unwrap();
        assert!(p.claims.chained);
    }

    #[test]
    fn transitive_tags_are_inherited_and_cannot_be_overridden() {
        let parent = SessionClaims::new(
            SessionKind::AssumedRole,
            SessionSubject {
                account: "222222222222".into(),
                arn: "arn:aws:sts::222222222222:assumed-role/deployer/p".into(),
                principal_arn: "arn:aws:iam::222222222222:role/deployer".into(),
                principal_id: "AROAROLEIDROLEIDROLEI".into(),
            },
            now().timestamp(),
            3600,
        )
        .with_tags(
            vec![
                ("Project".into(), "apollo".into()),
                ("cost".into(), "1".into()),
            ],
            vec!["project".into()],
        )
        .with_mfa_auth_time(Some(42))
        .with_lineage(Some("AKIAALICE".into()), Some("AIDAX".into()));
        let caller = session_caller(parent);
        let p = run(&input(), &caller).unwrap();
        assert_eq!(p.claims.tags, vec![("Project".into(), "apollo".into())]);
        assert_eq!(p.claims.transitive_tag_keys, vec!["Project".to_owned()]);
        assert_eq!(
            p.claims.mfa_auth_time,
            Some(42),
            "MFA time carried on chaining"
        );
        assert_eq!(p.claims.parent_user_id.as_deref(), Some("AIDAX"));
        assert_eq!(*p.needed(), ["sts:AssumeRole", "sts:TagSession"]);
        // The role's tag of the same key reads as the inherited value.
        let (i, r) = (input(), role());
        let ctx = p.context(ContextOf::new(), &i, &r, &caller);
        assert_eq!(
            ctx.get("aws:ResourceTag/project"),
            Some(&crate::policy::ContextValue::Single("apollo".into()))
        );
        let mut i = input();
        i.tags = vec![("project".into(), "other".into())];
        let e = run(&i, &caller).unwrap_err();
        assert_eq!(e.code, Code::InvalidParameterValue);
    }

    #[test]
    fn a_source_identity_is_fixed_once_set() {
        let mut i = input();
        i.source_identity = Some("alice@example.com".into());
        let parent = run(&i, &user_caller()).unwrap().claims;
        assert_eq!(
            *run(&i, &user_caller()).unwrap().needed(),
            ["sts:AssumeRole", "sts:SetSourceIdentity"]
        );
        let caller = session_caller(parent);
        let p = run(&input(), &caller).unwrap();
        assert_eq!(
            p.claims.source_identity.as_deref(),
            Some("alice@example.com")
        );
        i.source_identity = Some("mallory".into());
        assert_eq!(run(&i, &caller).unwrap_err().code, Code::AccessDenied);
    }

    #[test]
    fn mfa_presented_or_inherited_is_in_the_session_and_the_trust_context() {
        use crate::policy::ContextValueOf::Single;
        // Without MFA, nothing is set by the plan.
        let p = run(&input(), &user_caller()).unwrap();
        assert_eq!(p.claims.mfa_auth_time, None);
        let (i, r, u) = (input(), role(), user_caller());
        let ctx = p.context(ContextOf::new(), &i, &r, &u);
        assert_eq!(ctx.get("aws:MultiFactorAuthPresent"), None);
        // A code verified with this request: present, age 0.
        let t = now().timestamp();
        let p = plan(
            &input(),
            &user_caller(),
            &role(),
            &sessions(),
            "aws",
            now(),
            Some(t),
        )
        .unwrap();
        assert_eq!(p.claims.mfa_auth_time, Some(t));
        let (i, r, u) = (input(), role(), user_caller());
        let ctx = p.context(ContextOf::new(), &i, &r, &u);
        assert_eq!(
            ctx.get("aws:MultiFactorAuthPresent"),
            Some(&Single("true".into()))
        );
        assert_eq!(ctx.get("aws:MultiFactorAuthAge"), Some(&Single("0".into())));
        // Chained from that session: the original MFA time is kept, and so is its age.
        let parent = session_caller(p.claims);
        let later = now() + chrono::Duration::seconds(600);
        let p = plan(&input(), &parent, &role(), &sessions(), "aws", later, None).unwrap();
        assert_eq!(p.claims.mfa_auth_time, Some(t));
        let ctx = p.context(ContextOf::new(), &i, &r, &parent);
        assert_eq!(
            ctx.get("aws:MultiFactorAuthAge"),
            Some(&Single("600".into()))
        );
        // A fresh code on a chained call replaces the older time.
        let t2 = later.timestamp();
        let p = plan(
            &input(),
            &parent,
            &role(),
            &sessions(),
            "aws",
            later,
            Some(t2),
        )
        .unwrap();
        assert_eq!(p.claims.mfa_auth_time, Some(t2));
    }

    #[test]
    fn root_and_federated_callers_are_refused_before_any_lookup() {
        let mut root = user_caller();
        root.principal = Principal::Root;
        let e = check_caller(&root, &input()).unwrap_err();
        assert_eq!(e.message, "Roles may not be assumed by root accounts.");
        let fed = SessionClaims::new(
            SessionKind::FederatedUser,
            SessionSubject {
                account: "111111111111".into(),
                arn: "arn:aws:sts::111111111111:federated-user/x".into(),
                principal_arn: "arn:aws:iam::111111111111:user/alice".into(),
                principal_id: "AIDAALICEALICEALICEAL".into(),
            },
            now().timestamp(),
            900,
        );
        assert_eq!(
            check_caller(&session_caller(fed), &input())
                .unwrap_err()
                .code,
            Code::AccessDenied
        );
        check_caller(&user_caller(), &input()).unwrap();
    }
}
