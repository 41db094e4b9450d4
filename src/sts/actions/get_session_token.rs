//! `GetSessionToken`: temporary credentials for an IAM user or the root, from long-term keys
//! only. Users: 900–129600 s (default 43200); root: at most 3600 (longer is clamped, as AWS
//! does). With `SerialNumber` + `TokenCode` of the caller's virtual MFA device, the session
//! carries MFA (`aws:MultiFactorAuthPresent`, `aws:MultiFactorAuthAge`) and may call IAM.

use crate::action::{AuditElements, Ctx, Reply};
use crate::authn::Principal;
use crate::error::ApiError;
use crate::mfa::params::MfaParams;
use crate::sts::mint;
use crate::token::{SessionClaims, SessionKind, SessionSubject};
use crate::wire::json_out::Obj;
use crate::wire::params::check_range;
use crate::wire::{Params, XmlWriter};

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let duration = p.opt_i64("DurationSeconds")?;
    let mfa = MfaParams::read(p)?;
    p.finish()?;
    if let Some(d) = duration {
        check_range("DurationSeconds", d, 900, 129_600)?;
    }
    let caller = ctx.caller()?;
    let (principal_id, parent_user_id, is_root) = match &caller.principal {
        Principal::Root => (caller.account.clone(), None, true),
        Principal::User(u) => (u.id.clone(), Some(u.id.clone()), false),
        // Refused before dispatch (`action::session_may_call`); the arm keeps the match total.
        Principal::Session(c) => {
            crate::action::session_may_call(crate::action::Service::Sts, "GetSessionToken", c)?;
            return Err(ApiError::access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
    };
    let mfa_at = crate::sts::mfa::check(ctx, caller, &mfa).await?;
    let now = ctx.env.now;
    let default = if is_root {
        3600
    } else {
        ctx.st.config.sessions.get_session_token_default_seconds
    };
    let mut secs = duration.unwrap_or(default);
    if is_root {
        secs = secs.min(3600);
    }
    let who = SessionSubject {
        account: caller.account.clone(),
        arn: caller.arn.clone(),
        principal_arn: caller.arn.clone(),
        principal_id,
    };
    let claims = SessionClaims::new(SessionKind::UserSession, who, now.timestamp(), secs)
        .with_lineage(Some(caller.access_key_id.clone()), parent_user_id)
        .with_mfa_auth_time(mfa_at);
    let issued = mint::mint(&ctx.st, claims, now)?;
    let mut w = XmlWriter::new();
    mint::credentials_xml(&mut w, &issued);
    let mut audit = Vec::with_capacity(128);
    let mut o = Obj::open(&mut audit);
    mint::credentials_audit_into(&mut o, &issued);
    o.close();
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: AuditElements::Text(audit),
    })
}
