//! `GetFederationToken`: credentials for a federated user, from an IAM user's (or root's)
//! long-term keys. Permissions = the user's ∩ the session policies; no session policy means no
//! permissions (AWS). Users: 900–129600 s (default 43200); root: at most 3600 (clamped).

use crate::action::{AuditElements, Ctx, Reply};
use crate::authn::Principal;
use crate::authz;
use crate::error::ApiError;
use crate::sts::mint;
use crate::sts::session_input as si;
use crate::token::{SessionClaims, SessionKind, SessionSubject};
use crate::wire::json_out::{Obj, int_into};
use crate::wire::params::check_range;
use crate::wire::{Params, XmlWriter};

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = p.req("Name")?;
    let duration = p.opt_i64("DurationSeconds")?;
    let policies = si::read_policies(p, Some(2048))?;
    let tags = si::read_tags(p)?;
    p.finish()?;
    si::check_session_name("Name", &name, 32)?;
    if let Some(d) = duration {
        check_range("DurationSeconds", d, 900, 129_600)?;
    }
    let caller = ctx.caller()?;
    let st = &ctx.st;
    let now = ctx.env.now;
    let (principal_id, parent_user, is_root) = match &caller.principal {
        Principal::Root => (caller.account.clone(), None, true),
        Principal::User(u) => (u.id.clone(), Some(u.id.clone()), false),
        // Refused before dispatch (`action::session_may_call`); the arm keeps the match total.
        Principal::Session(c) => {
            crate::action::session_may_call(crate::action::Service::Sts, "GetFederationToken", c)?;
            return Err(ApiError::access_denied(
                "Cannot call GetFederationToken with session credentials",
            ));
        }
    };
    let fed_arn = format!(
        "arn:{}:sts::{}:federated-user/{name}",
        st.iam.partition, caller.account
    );
    authz::authorize(st, caller, &ctx.env, "sts:GetFederationToken", &fed_arn).await?;
    if !tags.is_empty() {
        authz::authorize(st, caller, &ctx.env, "sts:TagSession", &fed_arn).await?;
    }
    si::check_policies(&st.iam, &policies, &caller.account).await?;
    let packed = si::packed_size(&policies, &tags)?;
    let mut secs = duration.unwrap_or(if is_root { 3600 } else { 43200 });
    if is_root {
        secs = secs.min(3600);
    }
    let who = SessionSubject {
        account: caller.account.clone(),
        arn: fed_arn.clone(),
        principal_arn: caller.arn.clone(),
        principal_id,
    };
    let claims = SessionClaims::new(SessionKind::FederatedUser, who, now.timestamp(), secs)
        .with_session_name(name.clone())
        .with_tags(tags, Vec::new())
        .with_policies(policies.inline.clone(), policies.arns.clone())
        .with_lineage(Some(caller.access_key_id.clone()), parent_user);
    let issued = mint::mint(st, claims, now)?;
    let fed_id = format!("{}:{name}", caller.account);
    let mut w = XmlWriter::new();
    mint::credentials_xml(&mut w, &issued);
    w.start("FederatedUser")
        .elem("FederatedUserId", &fed_id)
        .elem("Arn", &fed_arn)
        .end("FederatedUser");
    w.elem("PackedPolicySize", &packed.to_string());
    // `responseElements`, written once as text (members in name order, as the JSON tree it
    // replaces was written).
    let mut audit = Vec::with_capacity(256);
    let mut o = Obj::open(&mut audit);
    mint::credentials_audit_into(&mut o, &issued);
    let mut user = Obj::open(o.key("federatedUser"));
    user.str("arn", &fed_arn);
    user.str("federatedUserId", &fed_id);
    user.close();
    int_into(o.key("packedPolicySize"), i64::from(packed));
    o.close();
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: AuditElements::Text(audit),
    })
}
