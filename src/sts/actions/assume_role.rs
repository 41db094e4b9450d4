//! `AssumeRole`: temporary credentials for a role, for an IAM user, the root, or another session
//! (role chaining). The trust policy is evaluated as the resource policy with the full request
//! context; the caller's own policies must allow `sts:AssumeRole` unless the trust policy names
//! the caller in the same account; cross-account needs both sides (sts-spec §5, §9).

use crate::authn::{Caller, Principal};
use crate::authz::{self, Ask};
use crate::error::ApiError;
use crate::http::{Ctx, Reply};
use crate::iam::model::Role;
use crate::policy::{Context, Effect, PolicyId};
use crate::sts::mint;
use crate::sts::session_input::{self as si, SessionPolicies};
use crate::token::{SessionClaims, SessionKind};
use crate::wire::params::{check_chars, check_len, check_range};
use crate::wire::{Params, XmlWriter};

/// The parsed request.
#[derive(Debug)]
struct Input {
    role_arn: String,
    session_name: String,
    duration: Option<i64>,
    external_id: Option<String>,
    policies: SessionPolicies,
    tags: Vec<(String, String)>,
    transitive: Vec<String>,
    source_identity: Option<String>,
    mfa: bool,
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
    let serial = p.opt("SerialNumber");
    let code = p.opt("TokenCode");
    if !p
        .struct_list("ProvidedContexts", &["ProviderArn", "ContextAssertion"])?
        .is_empty()
    {
        return Err(ApiError::validation(
            "ProvidedContexts are not supported by this broker",
        ));
    }
    p.finish()?;
    check_len("RoleArn", &role_arn, 20, 2048)?;
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
    if let Some(s) = &serial {
        check_len("SerialNumber", s, 9, 256)?;
    }
    if let Some(c) = &code {
        check_len("TokenCode", c, 6, 6)?;
        check_chars("TokenCode", c, "[\\d]*", |c| c.is_ascii_digit())?;
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
        mfa: serial.is_some() || code.is_some(),
    })
}

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let input = parse(p)?;
    let caller = ctx.caller()?;
    let st = &ctx.st;
    let now = ctx.env.now;
    let not_authorized = |action: &str, detail: &str| {
        ApiError::access_denied(format!(
            "User: {} is not authorized to perform: {action} on resource: {}",
            caller.arn, input.role_arn
        ))
        .with_detail(detail.to_owned())
    };

    // Who may chain, and what carries over.
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
            "sts:AssumeRole",
            "federated-user sessions cannot call AssumeRole",
        ));
    }
    let chained = parent.is_some();
    if input.mfa {
        return Err(ApiError::access_denied(
            "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA \
             serial number is valid and associated with this user.",
        )
        .with_detail("no MFA device is registered: virtual MFA devices are not supported yet"));
    }

    let view = st
        .iam
        .role_view_by_arn(&input.role_arn)
        .await?
        .ok_or_else(|| not_authorized("sts:AssumeRole", "no such role"))?;
    let role = &view.role;

    // Durations: the role's maximum, and one hour when chaining.
    let default = ctx
        .st
        .config
        .sessions
        .assume_role_default_seconds
        .min(role.max_session_duration);
    let secs = input.duration.unwrap_or(default);
    if chained && secs > 3600 {
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
                        crate::error::Code::InvalidParameterValue,
                        format!(
                            "The session tag {tk} is a transitive tag inherited from the calling session and cannot be overridden."
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

    si::check_policies(&st.iam, &input.policies, &role.account).await?;
    let packed = si::packed_size(&input.policies, &tags)?;

    // Trust evaluation, with the caller's side.
    let pols = authz::caller_policies(st, caller).await?;
    let trust = view.trust()?;
    let mut context = authz::base_context(caller, &ctx.env, &pols.tags);
    add_assume_keys(
        &mut context,
        &input,
        role,
        &tags,
        &transitive,
        source_identity.as_deref(),
        parent,
    );
    let ask = |action: &'static str| Ask {
        action,
        resource: &role.arn,
        resource_account: Some(&role.account),
        resource_policy: Some((
            PolicyId(format!("{}#trust", role.arn).into()),
            trust.clone(),
        )),
        require_resource_allow: true,
    };
    let mut needed = vec!["sts:AssumeRole"];
    if !tags.is_empty() {
        needed.push("sts:TagSession");
    }
    if source_identity.is_some() {
        needed.push("sts:SetSourceIdentity");
    }
    for action in needed {
        let d = authz::decide(caller, &pols, &ask(action), context.clone());
        if d.effect != Effect::Allow {
            return Err(authz::denied(&caller.arn, action, &role.arn, &d));
        }
    }

    let session_arn = format!(
        "arn:{}:sts::{}:assumed-role/{}/{}",
        st.iam.partition, role.account, role.name, input.session_name
    );
    let (parent_key, parent_user) = lineage(caller);
    let claims = SessionClaims {
        kind: SessionKind::AssumedRole,
        account: role.account.clone(),
        access_key_id: String::new(),
        arn: session_arn.clone(),
        principal_arn: role.arn.clone(),
        principal_id: role.id.clone(),
        session_name: Some(input.session_name.clone()),
        issued_at: now.timestamp(),
        expires_at: now.timestamp() + secs,
        mfa_auth_time: parent.and_then(|c| c.mfa_auth_time),
        source_identity: source_identity.clone(),
        tags,
        transitive_tag_keys: transitive,
        session_policy: input.policies.inline.clone(),
        session_policy_arns: input.policies.arns.clone(),
        parent_access_key_id: parent_key,
        parent_user_id: parent_user,
        chained,
        federated_provider: None,
        federation_claims: parent
            .map(|c| c.federation_claims.clone())
            .unwrap_or_default(),
    };
    let issued = mint::mint(st, claims, now)?;
    record_role_use(ctx, role);

    let assumed_id = format!("{}:{}", role.id, input.session_name);
    let mut w = XmlWriter::new();
    mint::credentials_xml(&mut w, &issued);
    w.start("AssumedRoleUser")
        .elem("AssumedRoleId", &assumed_id)
        .elem("Arn", &session_arn)
        .end("AssumedRoleUser");
    if input.policies.inline.is_some()
        || !input.policies.arns.is_empty()
        || !issued.claims.tags.is_empty()
    {
        w.elem("PackedPolicySize", &packed.to_string());
    }
    w.opt("SourceIdentity", source_identity.as_deref());
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: serde_json::json!({
            "credentials": mint::credentials_audit(&issued),
            "assumedRoleUser": { "assumedRoleId": assumed_id, "arn": session_arn },
            "packedPolicySize": packed,
        }),
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

fn add_assume_keys(
    ctx: &mut Context,
    input: &Input,
    role: &Role,
    tags: &[(String, String)],
    transitive: &[String],
    source_identity: Option<&str>,
    parent: Option<&SessionClaims>,
) {
    ctx.set_lc("sts:rolesessionname", input.session_name.clone());
    if let Some(x) = &input.external_id {
        ctx.set_lc("sts:externalid", x.clone());
    }
    if let Some(s) = &input.source_identity {
        ctx.set_lc("sts:sourceidentity", s.clone());
    }
    if let Some(s) = parent
        .and_then(|c| c.source_identity.as_deref())
        .or(source_identity)
    {
        ctx.set_lc("aws:sourceidentity", s.to_owned());
    }
    if !input.transitive.is_empty() {
        ctx.set_multi("sts:TransitiveTagKeys", input.transitive.clone());
    }
    if !tags.is_empty() {
        for (k, v) in tags {
            ctx.set(&format!("aws:RequestTag/{k}"), v.clone());
        }
        ctx.set_multi("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
    }
    // The role's tags, with inherited transitive tags replacing the matching values.
    for t in &role.tags {
        let v = parent
            .and_then(|c| {
                transitive
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&t.key))
                    .then(|| {
                        c.tags
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&t.key))
                            .map(|(_, v)| v.clone())
                    })
                    .flatten()
            })
            .unwrap_or_else(|| t.value.clone());
        ctx.set(&format!("aws:ResourceTag/{}", t.key), v.clone());
        ctx.set(&format!("iam:ResourceTag/{}", t.key), v);
    }
}

fn record_role_use(ctx: &Ctx, role: &Role) {
    if !ctx.st.should_record_use(&format!("role:{}", role.id)) {
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
