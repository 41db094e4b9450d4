//! `AssumeRoleWithWebIdentity` (unsigned): an OIDC ID token from a provider registered in the
//! role's account is exchanged for a role session of kind WebIdentity (sts-spec §7).
//!
//! The I/O is here: the role, the provider (by the token's `iss`, in the role's account), its
//! keys (cached; `idp::oidc::keys`), session policies, minting. The token check is the pure
//! `idp::oidc::verify`; what the session will be and what the trust policy sees is the pure
//! [`plan`]. The trust policy is evaluated for the provider as a `Federated` principal, with
//! the token's condition keys; nothing else speaks for an unsigned caller.

mod plan;

use crate::action::{Ctx, Reply};
use crate::authz::{self, CallerPolicies};
use crate::error::{ApiError, Code};
use crate::iam::names::EntityArn;
use crate::idp::oidc;
use crate::policy::RequestPrincipal;
use crate::sts::mint;
use crate::sts::session_input::{self as si, SessionPolicies};
use crate::wire::params::{check_len, check_range};
use crate::wire::{Params, XmlWriter};

/// The parsed request.
#[derive(Debug)]
pub(crate) struct Input {
    token: String,
    role_arn: EntityArn,
    session_name: String,
    duration: Option<i64>,
    policies: SessionPolicies,
}

fn parse(p: &mut Params) -> Result<Input, ApiError> {
    let token = p.req("WebIdentityToken")?;
    let role_arn = p.req("RoleArn")?;
    let session_name = p.req("RoleSessionName")?;
    let duration = p.opt_i64("DurationSeconds")?;
    let policies = si::read_policies(p, Some(2048))?;
    let provider_id = p.opt("ProviderId");
    p.finish()?;
    // The token's length is bounded before anything looks inside it.
    check_len("WebIdentityToken", &token, 4, oidc::MAX_TOKEN_CHARS)?;
    let role_arn = EntityArn::parse("RoleArn", &role_arn, "role")?;
    si::check_session_name("RoleSessionName", &session_name, 64)?;
    if let Some(d) = duration {
        check_range("DurationSeconds", d, 900, 43200)?;
    }
    if let Some(id) = &provider_id {
        check_len("ProviderId", id, 4, 2048)?;
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            "ProviderId is only for OAuth 2.0 providers (www.amazon.com, graph.facebook.com), \
             which this broker does not serve; omit it for OpenID Connect tokens.",
        ));
    }
    Ok(Input {
        token,
        role_arn,
        session_name,
        duration,
        policies,
    })
}

/// AWS's answer when the trust policy (or the role's existence) says no.
fn not_authorized(detail: impl Into<String>) -> ApiError {
    ApiError::access_denied("Not authorized to perform sts:AssumeRoleWithWebIdentity")
        .with_detail(detail)
}

/// The built-in provider of identity-pool tokens.
const POOL_PROVIDER: &str = crate::policy::lint::COGNITO_IDENTITY;

/// The provider a token of Sekisho's own issuer is verified as: the built-in
/// `cognito-identity.amazonaws.com`, whose one audience is the pool of the identity the token
/// names. A token whose `sub` is no pool identity (a `GetWebIdentityToken` token, say — AWS does
/// not take those here either) is refused.
async fn pool_token_provider(
    ctx: &Ctx,
    claims: &serde_json::Map<String, serde_json::Value>,
    account: &str,
) -> Result<crate::iam::model::OidcProvider, ApiError> {
    let st = &ctx.st;
    let refused = |why: String| {
        ApiError::new(
            Code::InvalidIdentityToken,
            "The web identity token that was passed could not be validated by AWS. Get a new \
             identity token from the identity provider and then retry the request.",
        )
        .with_detail(why)
    };
    let sub = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .filter(|s| crate::cognito::identity::check_id("sub", s).is_ok())
        .ok_or_else(|| {
            refused(format!(
                "a token of {} that names no pool identity",
                st.issuer_url
            ))
        })?;
    let identity = st
        .iam
        .pool_identity(sub)
        .await?
        .ok_or_else(|| refused(format!("no pool identity {sub}")))?;
    let mut p = crate::iam::actions::oidc_providers::new_provider(
        account,
        &st.issuer_url,
        vec![identity.pool_id],
        Vec::new(),
        Vec::new(),
        ctx.env.now,
        crate::iam::model::Origin::Api,
    );
    POOL_PROVIDER.clone_into(&mut p.name);
    POOL_PROVIDER.clone_into(&mut p.arn);
    Ok(p)
}

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let input = parse(p)?;
    let st = &ctx.st;
    let now = ctx.env.now;
    let cfg = &st.config.oidc;
    // What locates provider and key, read untrusted; refusals that need no key happen here.
    let inspected = oidc::inspect_remembered(&input.token, st.oidc_keys.reads())?;
    let unverified = &inspected.unverified;
    let view = st
        .iam
        .role_view_by_arn(&input.role_arn.text)
        .await?
        .ok_or_else(|| not_authorized(format!("no role {}", input.role_arn.text)))?;
    let role = &view.role;
    // Sekisho's own issuer: a `GetOpenIdToken` token of an identity pool (the classic flow),
    // for the built-in principal `cognito-identity.amazonaws.com`; its keys are ours.
    let own = unverified.iss == st.issuer_url;
    let (provider, keys) = if own {
        (
            std::sync::Arc::new(pool_token_provider(ctx, inspected.claims(), &role.account).await?),
            st.issuer_keys().key_set(),
        )
    } else {
        let provider = st
            .iam
            .oidc_provider_for_issuer(&role.account, &unverified.iss)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    Code::InvalidIdentityToken,
                    format!(
                        "No OpenIDConnect provider found in your account for {}",
                        unverified.iss
                    ),
                )
                .with_detail(format!(
                    "no OIDC provider in account {} has the URL {}",
                    role.account, unverified.iss
                ))
            })?;
        let keys = st
            .oidc_keys
            .key_set(&provider.url, unverified.kid.as_deref(), now.timestamp())
            .await
            .map_err(|e: oidc::Error| {
                let api = ApiError::from(e);
                let why = api.detail.clone().unwrap_or_default();
                api.with_detail(format!("{}: {why}", provider.arn))
            })?;
        (provider, keys)
    };
    let with_provider = |e: oidc::Error| {
        let api = ApiError::from(e);
        let why = api.detail.clone().unwrap_or_default();
        api.with_detail(format!("{}: {why}", provider.arn))
    };
    let rules = oidc::Rules {
        issuer: &provider.url,
        client_ids: &provider.client_ids,
        azp_is_audience: oidc::context::azp_is_audience(&provider.name),
        leeway_seconds: cfg.leeway_seconds,
        max_age_seconds: cfg.max_token_age_seconds,
    };
    let verified =
        oidc::verify_inspected(inspected, &keys, &rules, now.timestamp()).map_err(with_provider)?;

    let plan = plan::plan(
        &input,
        &verified,
        &provider,
        role,
        &st.config.sessions,
        &st.iam.partition,
        now,
    )?;
    si::check_policies(&st.iam, &input.policies, &role.account).await?;
    let packed = si::packed_size(&input.policies, &plan.claims.tags)?;

    let trust = view.trust()?;
    if own && !crate::policy::lint::pool_trust_has_aud(&trust) {
        return Err(not_authorized(format!(
            "the trust policy of {} allows {POOL_PROVIDER} without a {POOL_PROVIDER}:aud \
             condition",
            role.arn
        )));
    }
    let context = plan.context(&ctx.env, &input, &verified, &provider, role);
    let principal = RequestPrincipal::federated(&provider.arn);
    let needed = plan.needed();
    authz::decide_trust(
        &principal,
        &CallerPolicies::default(),
        role,
        &trust,
        &needed,
        &context,
    )
    .map_err(|(action, d)| {
        not_authorized(format!(
            "{action} for {} (sub {}): {}",
            provider.arn, verified.sub, d.reason
        ))
    })?;

    let issued = mint::mint(st, plan.claims, now)?;
    let session_arn = issued.claims.arn.clone();
    let assumed_id = format!("{}:{}", role.id, input.session_name);
    let mut w = XmlWriter::new();
    mint::credentials_xml(&mut w, &issued);
    w.elem("SubjectFromWebIdentityToken", &verified.sub);
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
    w.elem("Provider", &verified.iss)
        .elem("Audience", &verified.audience);
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: serde_json::json!({
            "credentials": mint::credentials_audit(&issued),
            "assumedRoleUser": { "assumedRoleId": assumed_id, "arn": session_arn },
            "subjectFromWebIdentityToken": verified.sub,
            "provider": verified.iss,
            "audience": verified.audience,
            "packedPolicySize": packed,
            "webIdentity": {
                "identityProvider": provider.arn,
                "keyId": verified.kid,
                "algorithm": format!("{:?}", verified.alg),
            },
            // Moved to the event's userIdentity (WebIdentityUser) by the HTTP layer.
            "userIdentity": {
                "provider": provider.name,
                "audience": verified.audience,
                "subject": verified.sub,
                "account": role.account,
            },
        })
        .into(),
    })
}
