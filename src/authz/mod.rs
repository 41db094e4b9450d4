//! Authorization: assembles the caller's policies and the request context, then asks the pure
//! policy engine. Policies are re-read (through the cache) at every use, so an IAM change
//! applies on the very next request. Which policies apply to a principal is [`policies`]'
//! business.

pub mod policies;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::authn::{Caller, Principal};
use crate::error::ApiError;
use crate::iam::model::Tag;
use crate::policy::{
    self, Context, ContextOf, Decision, Effect, EvalOptions, Policy, PolicyId, PolicyKind,
    PolicySetRef, PrincipalRef, RequestPrincipal, RequestRef,
};
use crate::state::AppState;
use crate::token::SessionKind;

/// Facts about the request that are not about the principal.
#[derive(Debug, Clone)]
pub struct Env {
    /// Request time.
    pub now: DateTime<Utc>,
    /// Client address.
    pub source_ip: String,
    /// `User-Agent`.
    pub user_agent: String,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// SigV4 region.
    pub region: String,
}

impl Env {
    /// The environment of a request received now: time, source, transport (from the server's
    /// public URL), and the region the caller signed for (none for an unsigned caller).
    #[must_use]
    pub fn of_request(
        st: &AppState,
        now: DateTime<Utc>,
        source_ip: &str,
        user_agent: &str,
        caller: Option<&Caller>,
    ) -> Self {
        Self {
            now,
            source_ip: source_ip.to_owned(),
            user_agent: user_agent.to_owned(),
            secure: st.config.server.public_url.starts_with("https://"),
            region: caller.map(|c| c.region.clone()).unwrap_or_default(),
        }
    }

    /// The environment, borrowed.
    #[must_use]
    pub fn view(&self) -> EnvRef<'_> {
        EnvRef {
            now: self.now,
            source_ip: &self.source_ip,
            user_agent: &self.user_agent,
            secure: self.secure,
            region: &self.region,
        }
    }
}

/// An [`Env`] read where it lies: borrowed from one ([`Env::view`]), or from the request
/// being authorized (`/verify`'s question).
#[derive(Debug, Clone, Copy)]
pub struct EnvRef<'a> {
    /// Request time.
    pub now: DateTime<Utc>,
    /// Client address.
    pub source_ip: &'a str,
    /// `User-Agent`.
    pub user_agent: &'a str,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// SigV4 region.
    pub region: &'a str,
}

/// The policies that apply to a caller.
#[derive(Debug, Clone, Default)]
pub struct CallerPolicies {
    /// Identity-based policies.
    pub identity: Vec<(PolicyId, Arc<Policy>)>,
    /// Permissions boundary.
    pub boundary: Option<(PolicyId, Arc<Policy>)>,
    /// Session policies (all must allow).
    pub session: Vec<(PolicyId, Arc<Policy>)>,
    /// The principal's tags (entity tags overlaid by session tags).
    pub tags: Vec<Tag>,
}

/// Loads the policies that apply to `caller`.
pub async fn caller_policies(st: &AppState, caller: &Caller) -> Result<CallerPolicies, ApiError> {
    let iam = &st.iam;
    match &caller.principal {
        Principal::Root => Ok(CallerPolicies::default()),
        Principal::User(u) => Ok(CallerPolicies {
            identity: policies::user_policies(iam, u).await?,
            boundary: policies::boundary(iam, u.permissions_boundary.as_deref()).await?,
            session: Vec::new(),
            tags: u.tags.clone(),
        }),
        Principal::Session(c) => {
            let mut out = CallerPolicies::default();
            match c.kind {
                SessionKind::UserSession | SessionKind::FederatedUser => {
                    if c.principal_id == c.account {
                        // Root's session: root permissions.
                    } else {
                        let u = iam.user_by_id(&c.principal_id).await?.ok_or_else(|| {
                            ApiError::invalid_token()
                                .with_detail("the session's user no longer exists")
                        })?;
                        out.identity = policies::user_policies(iam, &u).await?;
                        out.boundary =
                            policies::boundary(iam, u.permissions_boundary.as_deref()).await?;
                        out.tags = u.tags.clone();
                    }
                }
                _ => {
                    let v = iam.role_view_by_id(&c.principal_id).await?.ok_or_else(|| {
                        ApiError::invalid_token().with_detail("the session's role no longer exists")
                    })?;
                    out.identity = policies::role_view_policies(iam, &v).await?;
                    out.boundary =
                        policies::boundary(iam, v.role.permissions_boundary.as_deref()).await?;
                    out.tags = v.role.tags.clone();
                }
            }
            // Session tags override entity tags with the same key (case-insensitive).
            for (k, v) in &c.tags {
                out.tags.retain(|t| !t.key.eq_ignore_ascii_case(k));
                out.tags.push(Tag {
                    key: k.clone(),
                    value: v.clone(),
                });
            }
            let has_session_policy =
                c.session_policy.is_some() || !c.session_policy_arns.is_empty();
            if let Some(text) = &c.session_policy {
                let p = iam
                    .policies
                    .get_or_parse(text, PolicyKind::Session)
                    .map_err(|e| ApiError::internal(format!("session policy: {e}")))?;
                out.session.push((PolicyId("session".into()), p));
            }
            for arn in &c.session_policy_arns {
                match policies::boundary(iam, Some(arn)).await? {
                    Some(p) => out.session.push(p),
                    None => out
                        .session
                        .push((PolicyId(arn.clone().into()), policies::allow_nothing()?)),
                }
            }
            // GetFederationToken without a policy: no permissions (AWS).
            if c.kind == SessionKind::FederatedUser && !has_session_policy {
                out.session
                    .push((PolicyId("session".into()), policies::allow_nothing()?));
            }
            Ok(out)
        }
    }
}

/// The policy engine's view of the caller, borrowed from it.
#[must_use]
pub fn principal_ref(caller: &Caller) -> PrincipalRef<'_> {
    let (principal_arn, unique_id, federated_provider) = match &caller.principal {
        Principal::Root => (caller.arn.as_str(), None, None),
        Principal::User(u) => (u.arn.as_str(), Some(u.id.as_str()), None),
        Principal::Session(c) => (
            c.principal_arn.as_str(),
            Some(c.principal_id.as_str()),
            c.federated_provider.as_deref(),
        ),
    };
    PrincipalRef {
        arn: &caller.arn,
        principal_arn,
        account: &caller.account,
        unique_id,
        is_root: matches!(caller.principal, Principal::Root)
            || caller
                .session()
                .is_some_and(|c| c.principal_id == c.account),
        federated_provider,
        federation: None,
        service: None,
    }
}

/// The policy engine's view of the caller, as an owned value ([`principal_ref`] copied).
#[must_use]
pub fn request_principal(caller: &Caller) -> RequestPrincipal {
    RequestPrincipal::from(principal_ref(caller))
}

/// Global condition keys for a caller: the environment's, the caller's and its session's,
/// borrowed from them (the context lives no longer than the request).
#[must_use]
pub fn base_context<'a>(caller: &'a Caller, env: EnvRef<'a>, tags: &'a [Tag]) -> ContextOf<'a> {
    let mut ctx = ContextOf::new();
    // aws:CurrentTime, aws:EpochTime and aws:TokenIssueTime are formatted on first read;
    // aws:PrincipalArn, aws:PrincipalAccount and aws:username derive from the request's
    // principal (see `policy::context`), which carries the same values.
    ctx.set_times(env.now, caller.session().map(|c| c.issued_at));
    ctx.set_lc("aws:sourceip", env.source_ip);
    ctx.set_lc("aws:securetransport", bool_str(env.secure));
    ctx.set_lc("aws:useragent", env.user_agent);
    ctx.set_lc("aws:requestedregion", env.region);
    ctx.set_lc("aws:principaltype", caller.principal_type());
    ctx.set_lc("aws:userid", caller.user_id.as_str());
    for t in tags {
        ctx.set(&format!("aws:PrincipalTag/{}", t.key), t.value.as_str());
    }
    if let Some(c) = caller.session() {
        ctx.set_lc(
            "aws:multifactorauthpresent",
            bool_str(c.mfa_auth_time.is_some()),
        );
        if let Some(t) = c.mfa_auth_time {
            ctx.set_lc(
                "aws:multifactorauthage",
                (env.now.timestamp() - t).max(0).to_string(),
            );
        }
        if let Some(s) = &c.source_identity {
            ctx.set_lc("aws:sourceidentity", s.as_str());
        }
        if let Some(p) = &c.federated_provider {
            ctx.set_lc("aws:federatedprovider", p.as_str());
        }
        for (k, v) in &c.federation_claims {
            ctx.set(k, v.as_str());
        }
    }
    ctx
}

/// A boolean condition-key value.
fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// A request to authorize.
#[derive(Debug)]
pub struct Ask<'a> {
    /// `service:Action`.
    pub action: &'a str,
    /// Resource ARN.
    pub resource: &'a str,
    /// The resource's account, when known (cross-account rule).
    pub resource_account: Option<&'a str>,
    /// The resource-based policy (a role trust policy) and whether it must allow explicitly.
    pub resource_policy: Option<(PolicyId, Arc<Policy>)>,
    /// Whether the resource policy must allow explicitly (trust policies).
    pub require_resource_allow: bool,
}

/// The request keys of an unsigned federation caller (`AssumeRoleWithSAML`,
/// `AssumeRoleWithWebIdentity`, identity pools), which has no principal keys of its own: the
/// times, `aws:SourceIp`, `aws:SecureTransport`, `aws:UserAgent`, `aws:RequestedRegion` and
/// `aws:FederatedProvider` (`provider`).
#[must_use]
pub fn federated_context(env: &Env, provider: &str) -> Context {
    let mut ctx = Context::new();
    ctx.set_times(env.now, None);
    ctx.set_lc("aws:sourceip", env.source_ip.clone());
    ctx.set_lc("aws:securetransport", bool_str(env.secure));
    ctx.set_lc("aws:useragent", env.user_agent.clone());
    ctx.set_lc("aws:requestedregion", env.region.clone());
    ctx.set_lc("aws:federatedprovider", provider.to_owned());
    ctx
}

/// The keys a federated session request adds to its trust evaluation: the session tags it asks
/// for (`aws:RequestTag/K`, `aws:TagKeys`), `sts:TransitiveTagKeys`, and the role's tags as
/// `aws:ResourceTag/K` and `iam:ResourceTag/K`.
pub fn add_session_request(
    ctx: &mut Context,
    claims: &crate::token::SessionClaims,
    role: &crate::iam::model::Role,
) {
    if !claims.tags.is_empty() {
        for (k, v) in &claims.tags {
            ctx.set(&format!("aws:RequestTag/{k}"), v.clone());
        }
        ctx.set_multi(
            "aws:TagKeys",
            claims.tags.iter().map(|(k, _)| k.clone()).collect(),
        );
    }
    if !claims.transitive_tag_keys.is_empty() {
        ctx.set_multi("sts:TransitiveTagKeys", claims.transitive_tag_keys.clone());
    }
    for t in &role.tags {
        ctx.set(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
        ctx.set(&format!("iam:ResourceTag/{}", t.key), t.value.clone());
    }
}

/// Evaluates a role's trust policy (`trust`) for each of `needed` (`sts:AssumeRole…`, then
/// `sts:TagSession`, `sts:SetSourceIdentity` as the request needs them): the trust policy is
/// the resource policy and must allow explicitly. `pols` are the caller's identity policies
/// (none for an unsigned federation caller). The first action refused is returned with its
/// decision. The one trust evaluation of AssumeRole, its federation variants and identity pools.
///
/// # Errors
/// The refused action and the decision that refused it.
pub fn decide_trust(
    principal: &RequestPrincipal,
    pols: &CallerPolicies,
    role: &crate::iam::model::Role,
    trust: &Arc<Policy>,
    needed: &[&'static str],
    ctx: &Context,
) -> Result<(), (&'static str, Decision)> {
    let trust_id = crate::iam::repo::trust_policy_id(role);
    decide_trust_ref(
        principal.view(),
        pols,
        role,
        (&trust_id, trust),
        needed,
        ctx,
    )
}

/// [`decide_trust`] for a principal and a context read where they lie (a signed caller's,
/// [`principal_ref`] and [`base_context`]), and the trust policy with its name (`ARN#trust`,
/// which a role view holds built): nothing of the request is copied.
///
/// # Errors
/// The refused action and the decision that refused it.
pub fn decide_trust_ref(
    principal: PrincipalRef<'_>,
    pols: &CallerPolicies,
    role: &crate::iam::model::Role,
    trust: (&PolicyId, &Arc<Policy>),
    needed: &[&'static str],
    ctx: &ContextOf<'_>,
) -> Result<(), (&'static str, Decision)> {
    let set = policy_set(pols, Some(trust), true);
    for &action in needed {
        let req = RequestRef {
            principal,
            action,
            resource: &role.arn,
            resource_account: Some(&role.account),
            context: ctx,
        };
        let d = policy::evaluate_ref(&req, &set, EvalOptions::default());
        if d.effect != crate::policy::Effect::Allow {
            return Err((action, d));
        }
    }
    Ok(())
}

/// The policies of one evaluation: `pols` (the caller's) and the resource policy, if any.
fn policy_set<'a>(
    pols: &'a CallerPolicies,
    resource: Option<(&'a PolicyId, &'a Arc<Policy>)>,
    require_resource_allow: bool,
) -> PolicySetRef<'a, Arc<Policy>> {
    PolicySetRef {
        identity: &pols.identity,
        resource: resource.map(|(id, p)| (id, p.as_ref())),
        boundary: pols.boundary.as_slice(),
        session: &pols.session,
        require_resource_allow,
    }
}

/// Evaluates `ask` for `principal` — a signed caller ([`principal_ref`]) or the unsigned
/// caller of a federation action ([`RequestPrincipal::federated`], with no identity policies) —
/// with `pols` as its policies and `ctx` as the request context.
#[must_use]
pub fn decide(
    principal: PrincipalRef<'_>,
    pols: &CallerPolicies,
    ask: &Ask<'_>,
    ctx: &ContextOf<'_>,
) -> Decision {
    let req = RequestRef {
        principal,
        action: ask.action,
        resource: ask.resource,
        resource_account: ask.resource_account,
        context: ctx,
    };
    let set = policy_set(
        pols,
        ask.resource_policy.as_ref().map(|(id, p)| (id, p)),
        ask.require_resource_allow,
    );
    policy::evaluate_ref(&req, &set, EvalOptions::default())
}

/// Identity-based check of `action` on `resource`; `AccessDenied` in AWS's wording when denied.
pub async fn authorize(
    st: &AppState,
    caller: &Caller,
    env: &Env,
    action: &str,
    resource: &str,
) -> Result<Decision, ApiError> {
    let pols = caller_policies(st, caller).await?;
    let ctx = base_context(caller, env.view(), &pols.tags);
    identity_check(caller, &pols, action, resource, &ctx)
}

/// [`authorize`] with the action's own condition keys added by `extend` to the global ones
/// (e.g. `iam::actions::condition_keys`).
pub async fn authorize_with(
    st: &AppState,
    caller: &Caller,
    env: &Env,
    action: &str,
    resource: &str,
    extend: impl FnOnce(&mut Context),
) -> Result<Decision, ApiError> {
    let pols = caller_policies(st, caller).await?;
    let mut ctx = base_context(caller, env.view(), &pols.tags).into_owned();
    extend(&mut ctx);
    identity_check(caller, &pols, action, resource, &ctx)
}

/// The decision of [`authorize`] and [`authorize_with`].
fn identity_check(
    caller: &Caller,
    pols: &CallerPolicies,
    action: &str,
    resource: &str,
    ctx: &ContextOf<'_>,
) -> Result<Decision, ApiError> {
    let ask = Ask {
        action,
        resource,
        resource_account: None,
        resource_policy: None,
        require_resource_allow: false,
    };
    let d = decide(principal_ref(caller), pols, &ask, ctx);
    if d.effect == Effect::Allow {
        Ok(d)
    } else {
        Err(denied(&caller.arn, action, resource, &d))
    }
}

/// AWS's AccessDenied message, with the engine's reason as operator detail.
#[must_use]
pub fn denied(arn: &str, action: &str, resource: &str, d: &Decision) -> ApiError {
    let why = if d.effect == Effect::ExplicitDeny {
        " with an explicit deny"
    } else {
        ""
    };
    ApiError::access_denied(format!(
        "User: {arn} is not authorized to perform: {action} on resource: {resource}{why}"
    ))
    .with_detail(d.reason.clone())
}
