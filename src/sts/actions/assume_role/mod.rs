//! `AssumeRole`: temporary credentials for a role, for an IAM user, the root, or another session
//! (role chaining). The trust policy is evaluated as the resource policy with the full request
//! context; the caller's own policies must allow `sts:AssumeRole` unless the trust policy names
//! the caller in the same account; cross-account needs both sides (sts-spec §5, §9).
//!
//! `mod.rs` decodes the request and does the I/O; [`plan`] decides, purely, what the session
//! will be (durations, tags, source identity, chaining) and what must be authorized.

mod plan;

use crate::action::{AuditElements, Ctx, Reply};
use crate::authn::{Caller, Principal};
use crate::authz;
use crate::error::ApiError;
use crate::iam::model::Role;
use crate::iam::names::EntityArn;
use crate::mfa::params::MfaParams;
use crate::sts::mint;
use crate::sts::session_input::{self as si, SessionPolicies};
use crate::wire::json_out::{Obj, int_into};
use crate::wire::params::{check_chars, check_len, check_range};
use crate::wire::{Params, XmlWriter};

/// The parsed request.
#[derive(Debug)]
pub(crate) struct Input {
    /// Checked as an IAM role ARN (only its text is needed after that).
    role_arn: String,
    session_name: String,
    duration: Option<i64>,
    external_id: Option<String>,
    policies: SessionPolicies,
    tags: Vec<(String, String)>,
    transitive: Vec<String>,
    source_identity: Option<String>,
    mfa: MfaParams,
}

fn parse(p: &mut Params) -> Result<Input, ApiError> {
    let role_arn = p.req("RoleArn")?;
    let session_name = p.req("RoleSessionName")?;
    let duration = p.opt_i64("DurationSeconds")?;
    let external_id = p.opt("ExternalId");
    let policies = si::read_policies(p, None)?;
    let tags = si::read_tags(p)?;
    let transitive = si::read_transitive(p, &tags)?;
    let source_identity = p.opt("SourceIdentity");
    let mfa = MfaParams::read(p)?;
    if !p
        .struct_list("ProvidedContexts", &["ProviderArn", "ContextAssertion"])?
        .is_empty()
    {
        return Err(ApiError::validation(
            "ProvidedContexts are not supported by this broker",
        ));
    }
    p.finish()?;
    EntityArn::check("RoleArn", &role_arn, "role")?;
    si::check_session_name("RoleSessionName", &session_name, 64)?;
    if let Some(d) = duration {
        check_range("DurationSeconds", d, 900, 43200)?;
    }
    if let Some(x) = &external_id {
        check_len("ExternalId", x, 2, 1224)?;
        check_chars("ExternalId", x, "[\\w+=,.@:\\/-]*", |c| {
            crate::wire::params::is_name_char(c) || c == ':' || c == '/'
        })?;
    }
    if let Some(s) = &source_identity {
        si::check_source_identity(s)?;
    }
    Ok(Input {
        role_arn,
        session_name,
        duration,
        external_id,
        policies,
        tags,
        transitive,
        source_identity,
        mfa,
    })
}

/// Runs the action: the I/O (role, session policies, the caller's policies, minting) around the
/// pure [`plan`].
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let input = parse(p)?;
    let caller = ctx.caller()?;
    let st = &ctx.st;
    let now = ctx.env.now;
    plan::check_caller(caller, &input)?;
    // The code is checked (and consumed) before the role is looked up, as AWS does: a wrong
    // code says nothing about the role.
    let mfa_at = crate::sts::mfa::check(ctx, caller, &input.mfa).await?;
    let view = st
        .iam
        .role_view_by_arn(&input.role_arn)
        .await?
        .ok_or_else(|| plan::not_authorized(caller, &input, "sts:AssumeRole", "no such role"))?;
    let role = &view.role;
    let plan = plan::plan(
        &input,
        caller,
        role,
        &st.config.sessions,
        &st.iam.partition,
        now,
        mfa_at,
    )?;
    si::check_policies(&st.iam, &input.policies, &role.account).await?;
    let packed = si::packed_size(&input.policies, &plan.claims.tags)?;

    // Trust evaluation, with the caller's side.
    let pols = authz::caller_policies(st, caller).await?;
    let trust = view.trust()?;
    let context = plan.context(
        authz::base_context(caller, ctx.env.view(), &pols.tags),
        &input,
        role,
        caller,
    );
    let needed = plan.needed();
    authz::decide_trust_ref(
        authz::principal_ref(caller),
        &pols,
        role,
        (view.trust_id(), &trust),
        &needed,
        &context,
    )
    .map_err(|(action, d)| authz::denied(&caller.arn, action, &role.arn, &d))?;

    let issued = mint::mint(st, plan.claims, now)?;
    record_role_use(ctx, role);

    let assumed_id = [role.id.as_str(), ":", &input.session_name].concat();
    let mut w = XmlWriter::new();
    mint::credentials_xml(&mut w, &issued);
    w.start("AssumedRoleUser")
        .elem("AssumedRoleId", &assumed_id)
        .elem("Arn", &issued.claims.arn)
        .end("AssumedRoleUser");
    if input.policies.inline.is_some()
        || !input.policies.arns.is_empty()
        || !issued.claims.tags.is_empty()
    {
        w.elem("PackedPolicySize", &packed.to_string());
    }
    w.opt("SourceIdentity", issued.claims.source_identity.as_deref());
    // The audit record's `responseElements`, written once as text (members in name order,
    // as the JSON tree it replaces was written).
    let mut audit = Vec::with_capacity(256);
    let mut o = Obj::open(&mut audit);
    let mut user = Obj::open(o.key("assumedRoleUser"));
    user.str("arn", &issued.claims.arn);
    user.str("assumedRoleId", &assumed_id);
    user.close();
    mint::credentials_audit_into(&mut o, &issued);
    int_into(o.key("packedPolicySize"), i64::from(packed));
    o.close();
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: AuditElements::Text(audit),
    })
}

/// The long-term key and user a chain started from (for revocation by user).
pub fn lineage(caller: &Caller) -> (Option<String>, Option<String>) {
    match &caller.principal {
        Principal::Root => (Some(caller.access_key_id.clone()), None),
        Principal::User(u) => (Some(caller.access_key_id.clone()), Some(u.id.clone())),
        Principal::Session(c) => (c.parent_access_key_id.clone(), c.parent_user_id.clone()),
    }
}

fn record_role_use(ctx: &Ctx, role: &Role) {
    if !ctx.st.should_record_role_use(&role.id) {
        return;
    }
    let st = ctx.st.clone();
    let (account, name) = (role.account.clone(), role.name.clone());
    let used = crate::iam::model::LastUsed {
        date: ctx.env.now,
        service: "sts".into(),
        region: ctx.env.region.clone(),
    };
    tokio::spawn(async move {
        let r = st
            .iam
            .update(&account, &name, |r: &mut Role, _| {
                r.last_used = Some(used.clone());
                Ok(())
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "recording role last use failed");
        }
    });
}
