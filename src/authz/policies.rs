//! Effective policies: the identity policies, permissions boundary and session policies that
//! apply to a principal, assembled from the entities the repository holds and parsed once
//! (customer documents through the repository's policy cache, AWS managed ones here).

use std::sync::{Arc, OnceLock, PoisonError};

use crate::error::ApiError;
use crate::iam::Iam;
use crate::iam::model::{Group, User};
use crate::iam::repo::RoleView;
use crate::policy::{Policy, PolicyId, PolicyKind};

/// A user's identity policies: inline, attached, and those of its groups.
pub async fn user_policies(
    iam: &Iam,
    user: &User,
) -> Result<Vec<(PolicyId, Arc<Policy>)>, ApiError> {
    let mut out = Vec::new();
    for (name, doc) in &user.inline_policies {
        out.push((
            PolicyId::concat(&[&user.arn, "#inline/", name]),
            parse_identity(iam, doc)?,
        ));
    }
    attached_docs(iam, &user.attached_policies, &mut out).await?;
    for gname in &user.groups {
        if let Some(g) = iam.get_shared_entity::<Group>(&user.account, gname).await? {
            for (name, doc) in &g.inline_policies {
                out.push((
                    PolicyId::concat(&[&g.arn, "#inline/", name]),
                    parse_identity(iam, doc)?,
                ));
            }
            attached_docs(iam, &g.attached_policies, &mut out).await?;
        }
    }
    Ok(out)
}

/// A role's identity policies, from its view (inline policies already parsed).
pub async fn role_view_policies(
    iam: &Iam,
    view: &RoleView,
) -> Result<Vec<(PolicyId, Arc<Policy>)>, ApiError> {
    let mut out = view.inline()?.to_vec();
    attached_docs(iam, &view.role.attached_policies, &mut out).await?;
    Ok(out)
}

/// A permissions boundary (or a session policy ARN) by ARN. A boundary whose policy was
/// deleted allows nothing: it fails closed as an empty policy.
pub async fn boundary(
    iam: &Iam,
    arn: Option<&str>,
) -> Result<Option<(PolicyId, Arc<Policy>)>, ApiError> {
    let Some(arn) = arn else { return Ok(None) };
    let mut out = Vec::new();
    attached_docs(iam, &[arn.to_owned()], &mut out).await?;
    match out.pop() {
        Some(p) => Ok(Some(p)),
        None => Ok(Some((PolicyId(arn.to_owned().into()), allow_nothing()?))),
    }
}

/// A policy that allows nothing (an implicit deny for every request): a deleted boundary, or
/// GetFederationToken without a session policy.
pub fn allow_nothing() -> Result<Arc<Policy>, ApiError> {
    static P: OnceLock<Result<Arc<Policy>, String>> = OnceLock::new();
    P.get_or_init(|| {
        crate::policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowNothing","Effect":"Allow","Action":"sekisho:NoAction","Resource":"arn:aws:sekisho:::nothing"}]}"#,
            PolicyKind::Session,
        )
        .map(Arc::new)
        .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(ApiError::internal)
}

/// A stored identity policy, parsed through the cache (it parsed when it was written).
fn parse_identity(iam: &Iam, text: &str) -> Result<Arc<Policy>, ApiError> {
    iam.policies
        .get_or_parse(text, PolicyKind::Identity)
        .map_err(|e| ApiError::internal(format!("stored policy does not parse: {e}")))
}

/// Appends the default versions of the managed policies `arns` (AWS or customer) to `out`;
/// policies that no longer exist are skipped.
async fn attached_docs(
    iam: &Iam,
    arns: &[String],
    out: &mut Vec<(PolicyId, Arc<Policy>)>,
) -> Result<(), ApiError> {
    for arn in arns {
        if let Some(p) = iam.aws_managed().get(arn) {
            if let Some(doc) = p.default_document() {
                out.push((PolicyId(arn.clone().into()), aws_policy(iam, arn, doc)?));
            }
            continue;
        }
        let Some(p) = iam.customer_policy_shared(arn).await? else {
            continue;
        };
        if let Some(doc) = p.default_document() {
            let parsed = iam
                .policies
                .get_or_parse(doc, PolicyKind::Managed)
                .map_err(|e| {
                    ApiError::internal(format!("managed policy {arn} does not parse: {e}"))
                })?;
            out.push((PolicyId(arn.clone().into()), parsed));
        }
    }
    Ok(())
}

/// An AWS managed policy, parsed once (customer quotas do not apply to them).
fn aws_policy(iam: &Iam, arn: &str, doc: &str) -> Result<Arc<Policy>, ApiError> {
    let cache = iam.aws_parsed();
    if let Some(p) = cache
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(arn)
    {
        return Ok(p.clone());
    }
    let opts = crate::policy::ParseOptions {
        max_size: None,
        aws_managed: true,
    };
    let p = Arc::new(
        crate::policy::parse_with(doc, PolicyKind::Managed, opts)
            .map_err(|e| ApiError::internal(format!("managed policy {arn} does not parse: {e}")))?,
    );
    cache
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(arn.to_owned(), p.clone());
    Ok(p)
}
