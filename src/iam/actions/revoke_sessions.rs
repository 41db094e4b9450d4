//! `RevokeSessions` (Sekisho's own IAM-style action; `sekisho revoke` calls it): every session
//! of a role, user or account issued before a time, every session anywhere (`all`), or one
//! session by its temporary access key id. Durable and applied on this node before the answer;
//! other nodes apply it on notification (Redis pub/sub) or within `revocation.refresh_seconds`.
//!
//! Parameters: `Scope` = `role` | `user` | `account` | `all` | `access-key`; `Target` = role ARN,
//! user ARN, account id or `ASIA…` id; `Before` = `now` (default) or an RFC 3339 time no later
//! than now plus the allowed clock skew; `Lower` = `true` to set the cut-off exactly, lower
//! than the one in force if need be (`Before=none` removes it).
//!
//! The tenancy model: authorized as `iam:RevokeSessions` on the target's ARN, and targets must
//! be in the caller's account. Scope `all`, targets in other accounts and `Lower` are reserved to
//! the operators named in `revocation.operators`; tenant policy cannot grant them.

use chrono::{DateTime, Utc};

use crate::action::{Ctx, Reply};
use crate::authn::Caller;
use crate::authz;
use crate::error::{ApiError, Code};
use crate::iam::names::parse_entity_arn;
use crate::revocation::Scope;
use crate::state::AppState;
use crate::wire::{Params, XmlWriter};

/// How long a single-session entry is kept: until the longest possible session has expired.
const SESSION_ENTRY_HOURS: i64 = 36;

/// Whether `caller` is one of the configured operators: its own ARN, or for a session the ARN
/// of the role (or user) it belongs to.
#[must_use]
pub fn is_operator(st: &AppState, caller: &Caller) -> bool {
    let principal = caller
        .session()
        .map_or(caller.arn.as_str(), |c| c.principal_arn.as_str());
    st.config
        .revocation
        .operators
        .iter()
        .any(|o| o == &caller.arn || o == principal)
}

/// When a revocation takes effect, from `Before`.
enum Cutoff {
    At(DateTime<Utc>),
    /// `Before=none` with `Lower=true`: remove the cut-off.
    Remove,
}

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let scope = p.req("Scope")?;
    let target = p.opt("Target");
    let before = p.opt("Before");
    let lower = match p.opt("Lower").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "Lower must be true or false, not '{other}'"
            )));
        }
    };
    p.finish()?;
    let caller = ctx.caller()?;
    let st = &ctx.st;
    let now = ctx.env.now;
    let operator = is_operator(st, caller);
    let denied = |what: &str| {
        ApiError::access_denied(format!(
            "User: {} is not authorized to perform: iam:RevokeSessions on resource: {what}",
            caller.arn
        ))
    };
    let cutoff = match before.as_deref() {
        None | Some("now") => Cutoff::At(now),
        Some("none") if lower => Cutoff::Remove,
        Some(t) => {
            let at = DateTime::parse_from_rfc3339(t)
                .map_err(|_| {
                    ApiError::validation(format!(
                        "Before must be 'now' or an RFC 3339 time, not '{t}'"
                    ))
                })?
                .with_timezone(&Utc);
            // A cut-off in the future would refuse sessions not yet issued, for as long as it
            // lies ahead: never more than the clock skew nodes may have between them.
            let skew = chrono::Duration::seconds(st.config.auth.clock_skew_seconds);
            if at > now + skew {
                return Err(ApiError::validation(format!(
                    "Before must not be later than the current time (allowed clock skew: {} s)",
                    skew.num_seconds()
                )));
            }
            Cutoff::At(at)
        }
    };
    if lower && !operator {
        return Err(denied("Lower=true is reserved to the operators"));
    }
    let need_target = || {
        target.clone().ok_or_else(|| {
            ApiError::new(Code::InvalidInput, format!("Scope {scope} needs a Target"))
        })
    };
    let in_reach = |acct: &str, what: &str| {
        if operator || acct == caller.account {
            Ok(())
        } else {
            Err(denied(what))
        }
    };
    let (revoke_scope, resource) = match scope.as_str() {
        "role" => {
            let arn = need_target()?;
            let view = st.iam.role_view_by_arn(&arn).await?.ok_or_else(|| {
                ApiError::new(
                    Code::NoSuchEntity,
                    format!("The role with ARN {arn} cannot be found."),
                )
            })?;
            let role = &view.role;
            in_reach(&role.account, &role.arn)?;
            (Scope::Role(role.id.clone()), role.arn.clone())
        }
        "user" => {
            let arn = need_target()?;
            let (acct, _, name) = parse_entity_arn(&arn, "user").ok_or_else(|| {
                ApiError::new(Code::InvalidInput, format!("'{arn}' is not a user ARN"))
            })?;
            in_reach(acct, &arn)?;
            let user = st.iam.user_required(acct, name).await?;
            (Scope::User(user.id), user.arn)
        }
        "account" => {
            let acct = need_target()?;
            if !crate::ids::is_valid_account_id(&acct) {
                return Err(ApiError::new(
                    Code::InvalidInput,
                    "Target must be a 12-digit account id",
                ));
            }
            let root = format!("arn:{}:iam::{acct}:root", st.iam.partition);
            in_reach(&acct, &root)?;
            (Scope::Account(acct), root)
        }
        "all" => {
            if !operator {
                return Err(denied("* (scope all is reserved to the operators)"));
            }
            (Scope::Global, "*".to_owned())
        }
        "access-key" => {
            if lower {
                return Err(ApiError::validation(
                    "Lower does not apply to scope access-key",
                ));
            }
            let id = need_target()?;
            let acct = temporary_key_account(&id).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidInput,
                    "Target must be a temporary access key id (ASIA followed by 16 characters \
                     of A-Z and 2-7)",
                )
            })?;
            let root = format!("arn:{}:iam::{acct}:root", st.iam.partition);
            in_reach(&acct, &root)?;
            let max = st.config.revocation.max_session_revocations_per_account;
            if st.revocations.single_sessions_of(&acct) >= max {
                return Err(ApiError::new(
                    Code::LimitExceeded,
                    format!("Cannot exceed quota for SessionRevocationsPerAccount: {max}"),
                ));
            }
            (Scope::Session(id), root)
        }
        other => {
            return Err(ApiError::new(
                Code::InvalidInput,
                format!("Scope must be role, user, account, all or access-key, not '{other}'"),
            ));
        }
    };
    authz::authorize(st, caller, &ctx.env, "iam:RevokeSessions", &resource).await?;
    let in_force = match (&revoke_scope, cutoff, lower) {
        // One session: the entry lives until the session would have expired anyway.
        (Scope::Session(_), _, _) => {
            let until = now + chrono::Duration::hours(SESSION_ENTRY_HOURS);
            st.revocations.revoke(&revoke_scope, until).await?;
            Some(now.timestamp())
        }
        (_, Cutoff::At(at), false) => Some(st.revocations.revoke(&revoke_scope, at).await?),
        (_, Cutoff::At(at), true) => {
            st.revocations.set(&revoke_scope, Some(at)).await?;
            Some(at.timestamp())
        }
        (_, Cutoff::Remove, _) => {
            st.revocations.set(&revoke_scope, None).await?;
            None
        }
    };
    let revoked_before = in_force
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .map(crate::wire::xml::iso8601);
    let mut w = XmlWriter::new();
    w.elem("Scope", &scope).elem("Target", &resource);
    if let Some(t) = &revoked_before {
        w.elem("RevokedBefore", t);
    }
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: serde_json::json!({
            "scope": scope,
            "target": resource,
            "lowered": lower,
            "operator": operator,
            "revokedBefore": revoked_before,
        })
        .into(),
    })
}

/// The account of a well-formed temporary access key id (`ASIA` + 16 base32 characters that
/// carry an account), or `None`.
fn temporary_key_account(id: &str) -> Option<String> {
    let well_formed = id.len() == crate::ids::ACCESS_KEY_ID_LEN
        && id.starts_with("ASIA")
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    well_formed
        .then(|| crate::ids::account_from_access_key_id(id))
        .flatten()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn only_well_formed_temporary_key_ids_name_an_account() {
        let id = crate::ids::new_access_key_id("ASIA", "111111111111");
        assert_eq!(temporary_key_account(&id).as_deref(), Some("111111111111"));
        let long_term = crate::ids::new_access_key_id("AKIA", "111111111111");
        assert_eq!(temporary_key_account(&long_term), None);
        assert_eq!(temporary_key_account(&format!("{id}A")), None, "too long");
        assert_eq!(temporary_key_account(&id[..19]), None, "too short");
        let padded = format!("{id}{}", "A".repeat(100_000));
        assert_eq!(temporary_key_account(&padded), None);
        assert_eq!(temporary_key_account(&id.to_lowercase()), None);
        assert_eq!(temporary_key_account("ASIA1111111111111111"), None);
    }
}
