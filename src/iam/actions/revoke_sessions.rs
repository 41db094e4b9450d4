//! `RevokeSessions` (Sekisho's own IAM-style action; `sekisho revoke` calls it): every session
//! of a role, user or account issued before a time, every session anywhere (`all`), or one
//! session by its temporary access key id. Durable and applied on this node before the answer;
//! other nodes apply it on notification (Redis pub/sub) or within `revocation.refresh_seconds`.
//!
//! Parameters: `Scope` = `role` | `user` | `account` | `all` | `access-key`; `Target` = role ARN,
//! user ARN, account id or `ASIA…` id; `Before` = `now` (default) or an RFC 3339 time.
//! Authorized as `iam:RevokeSessions` on the target's ARN; targets must be in the caller's
//! account, except `all`, which needs the action allowed on `*`.

use chrono::{DateTime, Utc};

use crate::authz;
use crate::error::{ApiError, Code};
use crate::http::{Ctx, Reply};
use crate::iam::names::parse_entity_arn;
use crate::revocation::Scope;
use crate::wire::{Params, XmlWriter};

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let scope = p.req("Scope")?;
    let target = p.opt("Target");
    let before = p.opt("Before");
    p.finish()?;
    let caller = ctx.caller()?;
    let st = &ctx.st;
    let now = ctx.env.now;
    let at: DateTime<Utc> = match before.as_deref() {
        None | Some("now") => now,
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|_| {
                ApiError::new(
                    Code::InvalidInput,
                    format!("Before must be 'now' or an RFC 3339 time, not '{t}'"),
                )
            })?
            .with_timezone(&Utc),
    };
    let need_target = || {
        target.clone().ok_or_else(|| {
            ApiError::new(Code::InvalidInput, format!("Scope {scope} needs a Target"))
        })
    };
    let same_account = |acct: &str| {
        if acct == caller.account {
            Ok(())
        } else {
            Err(ApiError::access_denied(format!(
                "User: {} is not authorized to perform: iam:RevokeSessions on resource: {}",
                caller.arn,
                target.clone().unwrap_or_default()
            )))
        }
    };
    let (revoke_scope, resource, at) = match scope.as_str() {
        "role" => {
            let arn = need_target()?;
            let view = st.iam.role_view_by_arn(&arn).await?.ok_or_else(|| {
                ApiError::new(
                    Code::NoSuchEntity,
                    format!("The role with ARN {arn} cannot be found."),
                )
            })?;
            let role = &view.role;
            same_account(&role.account)?;
            (Scope::Role(role.id.clone()), role.arn.clone(), at)
        }
        "user" => {
            let arn = need_target()?;
            let (acct, _, name) = parse_entity_arn(&arn, "user").ok_or_else(|| {
                ApiError::new(Code::InvalidInput, format!("'{arn}' is not a user ARN"))
            })?;
            same_account(acct)?;
            let user = st.iam.user_required(acct, name).await?;
            (Scope::User(user.id), user.arn, at)
        }
        "account" => {
            let acct = need_target()?;
            same_account(&acct)?;
            (
                Scope::Account(acct.clone()),
                format!("arn:{}:iam::{acct}:root", st.iam.partition),
                at,
            )
        }
        "all" => (Scope::Global, "*".to_owned(), at),
        "access-key" => {
            let id = need_target()?;
            let acct = crate::ids::account_from_access_key_id(&id)
                .filter(|_| id.starts_with("ASIA"))
                .ok_or_else(|| {
                    ApiError::new(
                        Code::InvalidInput,
                        format!("'{id}' is not a temporary access key id"),
                    )
                })?;
            same_account(&acct)?;
            // Kept until the longest possible session would have expired (36 h).
            (
                Scope::Session(id),
                format!("arn:{}:iam::{acct}:root", st.iam.partition),
                now + chrono::Duration::hours(36),
            )
        }
        other => {
            return Err(ApiError::new(
                Code::InvalidInput,
                format!("Scope must be role, user, account, all or access-key, not '{other}'"),
            ));
        }
    };
    authz::authorize(st, caller, &ctx.env, "iam:RevokeSessions", &resource).await?;
    let cutoff = st.revocations.revoke(&revoke_scope, at).await?;
    let cutoff = DateTime::from_timestamp(cutoff, 0).unwrap_or_default();
    let mut w = XmlWriter::new();
    w.elem("Scope", &scope).elem("Target", &resource);
    w.elem("RevokedBefore", &crate::wire::xml::iso8601(cutoff));
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: serde_json::json!({ "scope": scope, "target": resource, "revokedBefore": crate::wire::xml::iso8601(cutoff) }),
    })
}
