//! Inline policies: `Put/Get/Delete/List{User,Group,Role}Policy(ies)`. AWS's way of revoking
//! role sessions (`PutRolePolicy` of `AWSRevokeOlderSessions`) is an ordinary inline policy.

use serde_json::json;

use super::common::{self, Paging, authorize, reply};
use super::groups::group_arn;
use super::roles::role_arn;
use super::users::user_arn;
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::{ApiError, Code};
use crate::iam::names::no_such;
use crate::iam::repo::EntityKind;
use crate::wire::{Params, XmlWriter};

fn kind_param(kind: EntityKind) -> (&'static str, usize, &'static str) {
    let rules = kind.name_rules();
    (rules.param, rules.max, kind.element())
}

/// The entity's ARN and its inline policies (`None` when it does not exist).
async fn entity(
    ctx: &Ctx,
    kind: EntityKind,
    account: &str,
    name: &str,
) -> Result<(String, Option<std::collections::BTreeMap<String, String>>), ApiError> {
    Ok(match kind {
        EntityKind::User => {
            let (a, e) = user_arn(ctx, account, name).await?;
            (a, e.map(|e| e.inline_policies))
        }
        EntityKind::Group => {
            let (a, e) = group_arn(ctx, account, name).await?;
            (a, e.map(|e| e.inline_policies))
        }
        EntityKind::Role => {
            let (a, e) = role_arn(ctx, account, name).await?;
            (a, e.map(|e| e.inline_policies))
        }
    })
}

/// `Put{User,Group,Role}Policy`.
pub async fn put(ctx: &Ctx, p: &mut Params, kind: EntityKind) -> Result<Reply, ApiError> {
    let (param, max, word) = kind_param(kind);
    let name = common::name(p, param, max)?;
    let policy_name = common::name(p, "PolicyName", 128)?;
    let doc = common::document(p, "PolicyDocument")?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, before) = entity(ctx, kind, &account, &name).await?;
    authorize(ctx, &format!("Put{word}Policy"), &arn).await?;
    if before.is_none() {
        return Err(no_such(kind.word(), &name));
    }
    ctx.st
        .iam
        .put_inline_policy(kind, &account, &name, &policy_name, &doc)
        .await?;
    let replaced = before.is_some_and(|m| m.contains_key(&policy_name));
    Ok(common::empty(json!({
        "entity": arn, "policyName": policy_name, "policyDocument": doc, "replaced": replaced
    })))
}

/// `Get{User,Group,Role}Policy` (the document URL-encoded).
pub async fn get(ctx: &Ctx, p: &mut Params, kind: EntityKind) -> Result<Reply, ApiError> {
    let (param, max, word) = kind_param(kind);
    let name = common::name(p, param, max)?;
    let policy_name = common::name(p, "PolicyName", 128)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, pols) = entity(ctx, kind, &account, &name).await?;
    authorize(ctx, &format!("Get{word}Policy"), &arn).await?;
    let pols = pols.ok_or_else(|| no_such(kind.word(), &name))?;
    let doc = pols.get(&policy_name).ok_or_else(|| {
        ApiError::new(
            Code::NoSuchEntity,
            format!(
                "The {} policy with name {policy_name} cannot be found.",
                kind.word()
            ),
        )
    })?;
    let real_name = match kind {
        EntityKind::User => ctx.st.iam.user(&account, &name).await?.map(|u| u.name),
        EntityKind::Group => ctx.st.iam.group(&account, &name).await?.map(|g| g.name),
        EntityKind::Role => ctx.st.iam.role(&account, &name).await?.map(|r| r.name),
    }
    .unwrap_or(name);
    let mut w = XmlWriter::new();
    w.elem(param, &real_name)
        .elem("PolicyName", &policy_name)
        .elem("PolicyDocument", &xml::url_encode(doc));
    Ok(reply(w.finish(), json!(null)))
}

/// `Delete{User,Group,Role}Policy`.
pub async fn delete(ctx: &Ctx, p: &mut Params, kind: EntityKind) -> Result<Reply, ApiError> {
    let (param, max, word) = kind_param(kind);
    let name = common::name(p, param, max)?;
    let policy_name = common::name(p, "PolicyName", 128)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, _) = entity(ctx, kind, &account, &name).await?;
    authorize(ctx, &format!("Delete{word}Policy"), &arn).await?;
    ctx.st
        .iam
        .delete_inline_policy(kind, &account, &name, &policy_name)
        .await?;
    Ok(common::empty(
        json!({ "entity": arn, "deletedPolicy": policy_name }),
    ))
}

/// `List{User,Group,Role}Policies`.
pub async fn list(ctx: &Ctx, p: &mut Params, kind: EntityKind) -> Result<Reply, ApiError> {
    let (param, max, word) = kind_param(kind);
    let name = common::name(p, param, max)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, pols) = entity(ctx, kind, &account, &name).await?;
    authorize(ctx, &format!("List{word}Policies"), &arn).await?;
    let pols = pols.ok_or_else(|| no_such(kind.word(), &name))?;
    let (items, next) = paging.page(pols.into_keys().collect(), Clone::clone)?;
    let mut w = XmlWriter::new();
    xml::members(&mut w, "PolicyNames", &items);
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}
