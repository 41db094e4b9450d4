//! `AssumeRoleWithSAML` (unsigned): a SAML 2.0 response from an IdP registered as a SAML
//! provider in the role's account is exchanged for a role session of kind SAML (sts-spec §6).
//!
//! Two public steps, which the browser sign-in (`POST /saml`, the role chooser) reuses:
//! - [`verify_response`]: base64 `SAMLResponse` → [`SamlLogin`] (the verified assertion, its
//!   role/provider pairs and session attributes). The provider's certificates and keys come from
//!   the store; the XML work runs off the async threads (`spawn_blocking`; a panic there is an
//!   error answer); the assertion id is marked durably unless reuse is configured (decision 2).
//! - [`mint_for_pair`]: one chosen pair → credentials, after the pair check, the pure
//!   [`plan`], the session-policy checks and the trust evaluation (the provider as a `Federated`
//!   principal with the `saml:*` keys; nothing else speaks for an unsigned caller).
//!
//! [`run`] is the API action: parameters → those two steps → AWS's XML.

mod plan;
mod trust;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use self::plan::SessionRequest;
pub use self::trust::{TrustCache, private_key_owner};
use crate::action::{Ctx, Reply};
use crate::authz::{self, CallerPolicies, Env};
use crate::error::{ApiError, Code};
use crate::iam::model::SamlProvider;
use crate::iam::names::{EntityArn, parse_saml_provider_arn};
use crate::idp::saml::attributes::{self, SessionAttributes};
use crate::idp::saml::{self, RolePair, Verified};
use crate::policy::RequestPrincipal;
use crate::state::AppState;
use crate::sts::mint::{self, Issued};
use crate::sts::session_input as si;
use crate::wire::params::{check_len, check_range};
use crate::wire::{Params, XmlWriter};

/// A verified SAML sign-in: what [`verify_response`] established.
#[derive(Debug, Clone)]
pub struct SamlLogin {
    /// The provider whose certificates verified the response.
    pub provider: Arc<SamlProvider>,
    /// The verified assertion.
    pub assertion: Verified,
    /// The role/provider pairs of its `Role` attribute.
    pub roles: Vec<RolePair>,
    /// Its session attributes.
    pub attributes: SessionAttributes,
    /// The response (to verify again for another provider of the same IdP).
    xml: Arc<str>,
}

/// A minted SAML session and the fields AWS returns with it.
#[derive(Debug)]
pub struct SamlSession {
    /// The credentials.
    pub issued: Issued,
    /// `AssumedRoleUser.AssumedRoleId`.
    pub assumed_role_id: String,
    /// `PackedPolicySize`, when session policies or tags were passed.
    pub packed_policy_size: Option<u32>,
    /// `Subject` (the NameID).
    pub subject: String,
    /// `SubjectType`.
    pub subject_type: String,
    /// `Issuer`.
    pub issuer: String,
    /// `Audience` (the Recipient).
    pub audience: String,
    /// `NameQualifier`.
    pub name_qualifier: String,
    /// The provider ARN.
    pub provider_arn: String,
}

fn no_provider(arn: &str) -> ApiError {
    ApiError::new(
        Code::InvalidIdentityToken,
        "Specified provider doesn't exist",
    )
    .with_detail(format!("no SAML provider {arn}"))
}

/// Verifies `xml` for `provider` with the shared reduction memo: a plain response replayed as
/// it is (several roles from one assertion, the role chooser's second check) is answered from
/// the memo on this thread, every check outside the signature work run again at `now`; any
/// other goes off the async threads (`spawn_blocking`), where xmlsec does its work.
async fn verify_with(
    st: &AppState,
    provider: &Arc<SamlProvider>,
    xml: Arc<str>,
    now: DateTime<Utc>,
) -> Result<Verified, ApiError> {
    let trust = st.saml_trusts.trust_of(st, provider)?;
    let rules = st.config.saml_rules();
    let t = now.timestamp();
    let res = match saml::verify::verify_remembered(&xml, &trust, &rules, t, &st.saml_memo) {
        Some(answer) => answer,
        None => {
            let memo = Arc::clone(&st.saml_memo);
            tokio::task::spawn_blocking(move || {
                saml::verify_memoized(&xml, &trust, &rules, t, &memo)
            })
            .await
            .map_err(|e| {
                ApiError::from(saml::Error::Internal(format!(
                    "verification task failed: {e}"
                )))
            })?
        }
    };
    res.map_err(|e| {
        let api = ApiError::from(e);
        let why = api.detail.clone().unwrap_or_default();
        api.with_detail(format!("{}: {why}", provider.arn))
    })
}

/// Verifies a base64 `SAMLResponse`: finds the provider (`provider_arn`, or — for the
/// browser, which has none — a provider named in the response's `Role` attribute whose entity
/// id is its issuer), verifies it, reads its pairs and session attributes, and marks its ID as
/// used (unless `[saml] allow_assertion_reuse`).
///
/// # Errors
/// AWS's errors: `InvalidIdentityToken`, `ExpiredTokenException`, `IDPRejectedClaim`,
/// `ValidationError`, `AccessDenied` (no NameID).
pub async fn verify_response(
    st: &AppState,
    saml_response: &str,
    provider_arn: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SamlLogin, ApiError> {
    let login = verify_only(st, saml_response, provider_arn, now).await?;
    if !st.config.saml.allow_assertion_reuse {
        let assertion = &login.assertion;
        let key = crate::iam::repo::keys::saml_replay(&assertion.issuer, &assertion.id);
        let until = assertion.not_on_or_after + st.config.saml.leeway_seconds;
        let until = DateTime::from_timestamp(until, 0).unwrap_or(now);
        if !st.iam.kv().put_mark(&key, until, now).await? {
            return Err(ApiError::new(
                Code::InvalidIdentityToken,
                "The SAML response has already been used",
            )
            .with_detail(format!(
                "{}: assertion {} was accepted before (replay; [saml] allow_assertion_reuse is \
                 off)",
                login.provider.arn, assertion.id
            )));
        }
    }
    Ok(login)
}

/// Verifies again a response that [`verify_response`] accepted (and marked) a moment ago, for
/// the browser's role chooser: same provider, same checks at `now`, no second replay mark. The
/// signature work is the reduction memo's (`[saml] verification_memo_entries`) unless the
/// provider's certificates changed in between or the memo is off.
///
/// # Errors
/// As [`verify_response`].
pub async fn reverify_response(
    st: &AppState,
    saml_response: &str,
    provider_arn: &str,
    now: DateTime<Utc>,
) -> Result<SamlLogin, ApiError> {
    verify_only(st, saml_response, Some(provider_arn), now).await
}

/// [`verify_response`] without the replay mark.
async fn verify_only(
    st: &AppState,
    saml_response: &str,
    provider_arn: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SamlLogin, ApiError> {
    let xml: Arc<str> = saml::decode(saml_response)?.into();
    let provider = match provider_arn {
        Some(arn) => st
            .iam
            .saml_provider_by_arn(arn)
            .await?
            .ok_or_else(|| no_provider(arn))?,
        None => {
            let (issuer, arns) = saml::verify::peek(&xml)?;
            let mut found = None;
            for arn in &arns {
                if let Some(p) = st.iam.saml_provider_by_arn(arn).await?
                    && p.entity_id == issuer
                {
                    found = Some(p);
                    break;
                }
            }
            found.ok_or_else(|| no_provider(&format!("with entity id {issuer}")))?
        }
    };
    let assertion = verify_with(st, &provider, Arc::clone(&xml), now).await?;
    let session_attributes = attributes::session_attributes(&assertion).map_err(|e| {
        ApiError::new(Code::InvalidIdentityToken, e.to_string())
            .with_detail(format!("{}: {e}", provider.arn))
    })?;
    let roles = attributes::role_pairs(&assertion);
    Ok(SamlLogin {
        provider,
        assertion,
        roles,
        attributes: session_attributes,
        xml,
    })
}

/// AWS's answer when the trust policy (or the role's existence) says no.
fn not_authorized(detail: impl Into<String>) -> ApiError {
    ApiError::access_denied("Not authorized to perform sts:AssumeRoleWithSAML").with_detail(detail)
}

/// Mints a role session for one pair of a verified sign-in.
///
/// # Errors
/// `IDPRejectedClaim` for a pair the assertion does not hold; `AccessDenied` when the role does
/// not exist or its trust policy does not allow; `ValidationError`, `MalformedPolicyDocument`,
/// `PackedPolicyTooLarge` for the request.
pub async fn mint_for_pair(
    st: &AppState,
    env: &Env,
    login: &SamlLogin,
    pair: &RolePair,
    req: &SessionRequest,
) -> Result<SamlSession, ApiError> {
    let now = env.now;
    if !login.roles.contains(pair) {
        return Err(ApiError::new(
            Code::IdpRejectedClaim,
            "The SAML assertion does not allow this role and provider",
        )
        .with_detail(format!(
            "{} / {} is not among the assertion's {} Role pair(s)",
            pair.role_arn,
            pair.provider_arn,
            login.roles.len()
        )));
    }
    // Another provider of the same IdP (roles in several accounts): verify again with its
    // certificates and entity id.
    let (provider, assertion) = if pair.provider_arn == login.provider.arn {
        (Arc::clone(&login.provider), login.assertion.clone())
    } else {
        let p = st
            .iam
            .saml_provider_by_arn(&pair.provider_arn)
            .await?
            .ok_or_else(|| no_provider(&pair.provider_arn))?;
        let v = verify_with(st, &p, Arc::clone(&login.xml), now).await?;
        (p, v)
    };
    let view = st
        .iam
        .role_view_by_arn(&pair.role_arn)
        .await?
        .ok_or_else(|| not_authorized(format!("no role {}", pair.role_arn)))?;
    let role = &view.role;
    if role.account != provider.account {
        return Err(ApiError::validation(
            "Principal exists outside the account of the Role being assumed.",
        ));
    }
    let plan = plan::plan(
        req,
        &assertion,
        &login.attributes,
        &provider,
        role,
        &st.config.sessions,
        &st.iam.partition,
        now,
    )?;
    si::check_policies(&st.iam, &req.policies, &role.account).await?;
    let packed = si::packed_size(&req.policies, &plan.claims.tags)?;
    let trust = view.trust()?;
    let context = plan.context(env, &assertion, &provider, role);
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
            provider.arn, assertion.name_id.value, d.reason
        ))
    })?;
    let show_packed = req.policies.inline.is_some()
        || !req.policies.arns.is_empty()
        || !plan.claims.tags.is_empty();
    let issued = mint::mint(st, plan.claims, now)?;
    Ok(SamlSession {
        assumed_role_id: format!("{}:{}", role.id, login.attributes.session_name),
        packed_policy_size: show_packed.then_some(packed),
        subject: assertion.name_id.value.clone(),
        subject_type: attributes::subject_type(&assertion),
        name_qualifier: attributes::name_qualifier(
            &assertion.issuer,
            &provider.account,
            &provider.name,
        ),
        issuer: assertion.issuer.clone(),
        audience: assertion.recipient.clone(),
        provider_arn: provider.arn.clone(),
        issued,
    })
}

/// The parsed request.
struct Input {
    assertion: String,
    pair: RolePair,
    req: SessionRequest,
}

fn parse(p: &mut Params) -> Result<Input, ApiError> {
    let role_arn = p.req("RoleArn")?;
    let principal_arn = p.req("PrincipalArn")?;
    let assertion = p.req("SAMLAssertion")?;
    let duration = p.opt_i64("DurationSeconds")?;
    let policies = si::read_policies(p, Some(2048))?;
    p.finish()?;
    // The assertion's length is bounded before anything looks inside it.
    check_len("SAMLAssertion", &assertion, 4, saml::MAX_ASSERTION_CHARS)?;
    let role = EntityArn::parse("RoleArn", &role_arn, "role")?;
    check_len("PrincipalArn", &principal_arn, 20, 2048)?;
    if parse_saml_provider_arn(&principal_arn).is_none() {
        return Err(ApiError::new(
            Code::InvalidIdentityToken,
            "Specified provider doesn't exist",
        )
        .with_detail(format!("{principal_arn} is not a SAML provider ARN")));
    }
    if let Some(d) = duration {
        check_range("DurationSeconds", d, 900, 43200)?;
    }
    Ok(Input {
        assertion,
        pair: RolePair {
            role_arn: role.text,
            provider_arn: principal_arn,
        },
        req: SessionRequest { duration, policies },
    })
}

/// Runs the action.
pub async fn run(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let input = parse(p)?;
    let st = &ctx.st;
    let login = verify_response(
        st,
        &input.assertion,
        Some(&input.pair.provider_arn),
        ctx.env.now,
    )
    .await?;
    let s = mint_for_pair(st, &ctx.env, &login, &input.pair, &input.req).await?;
    let session_arn = s.issued.claims.arn.clone();
    let source_identity = s.issued.claims.source_identity.clone();
    let mut w = XmlWriter::new();
    mint::credentials_xml(&mut w, &s.issued);
    w.start("AssumedRoleUser")
        .elem("AssumedRoleId", &s.assumed_role_id)
        .elem("Arn", &session_arn)
        .end("AssumedRoleUser");
    if let Some(n) = s.packed_policy_size {
        w.elem("PackedPolicySize", &n.to_string());
    }
    w.elem("Subject", &s.subject)
        .elem("SubjectType", &s.subject_type)
        .elem("Issuer", &s.issuer)
        .elem("Audience", &s.audience)
        .elem("NameQualifier", &s.name_qualifier);
    if let Some(si) = &source_identity {
        w.elem("SourceIdentity", si);
    }
    Ok(Reply {
        result_xml: Some(w.finish()),
        result_json: None,
        audit: audit_of(&login, &s).into(),
    })
}

/// The audit record of a minted SAML session (the API's and the browser's): credentials
/// without the secret, the assertion's id and how it was signed, never the assertion; the
/// `userIdentity` element is moved to the event's `SAMLUser` identity by the caller.
#[must_use]
pub fn audit_of(login: &SamlLogin, s: &SamlSession) -> serde_json::Value {
    let a = &login.assertion;
    let session_arn = &s.issued.claims.arn;
    let source_identity = &s.issued.claims.source_identity;
    serde_json::json!({
        "credentials": mint::credentials_audit(&s.issued),
        "assumedRoleUser": { "assumedRoleId": s.assumed_role_id, "arn": session_arn },
        "packedPolicySize": s.packed_policy_size,
        "subject": s.subject,
        "subjectType": s.subject_type,
        "issuer": s.issuer,
        "audience": s.audience,
        "nameQualifier": s.name_qualifier,
        "sourceIdentity": source_identity,
        "saml": {
            "identityProvider": s.provider_arn,
            "assertionId": a.id,
            "signed": format!("{:?}", a.signed),
            "encrypted": a.encrypted,
            "algorithms": a.algorithms,
        },
        // Moved to the event's userIdentity (SAMLUser) by the HTTP layer.
        "userIdentity": {
            "type": "SAMLUser",
            "provider": s.provider_arn,
            "nameQualifier": s.name_qualifier,
            "subject": s.subject,
            "account": login.provider.account,
        },
    })
}
