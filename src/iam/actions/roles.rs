//! Roles: `CreateRole`, `GetRole`, `ListRoles`, `UpdateRole`, `UpdateRoleDescription`,
//! `DeleteRole`, `UpdateAssumeRolePolicy`, `Put/DeleteRolePermissionsBoundary`,
//! `Put/DeleteUserPermissionsBoundary` (tags: the generic actions of `tagging.rs`).
//!
//! Trust policies are validated as trust policies and their user/role principals bound to the
//! entities' unique ids (`Iam::check_trust_policy`): a re-created same-named entity is not
//! trusted.

use std::collections::BTreeMap;

use serde_json::json;

use super::common::{self, arn_of, authorize, reply};
use super::condition_keys::RequestFacts;
use super::users::{check_boundary, user_arn};
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::ApiError;
use crate::iam::model::{Origin, Role, User};
use crate::iam::names::no_such;
use crate::wire::params::check_range;
use crate::wire::{Params, XmlWriter};

fn summary(r: &Role) -> serde_json::Value {
    json!({
        "roleName": r.name, "roleId": r.id, "arn": r.arn, "path": r.path,
        "description": r.description, "maxSessionDuration": r.max_session_duration,
        "permissionsBoundary": r.permissions_boundary, "assumeRolePolicyDocument": r.trust_policy,
        "tags": r.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect::<BTreeMap<_, _>>(),
    })
}

/// The ARN of a role by name (its real ARN when it exists).
pub async fn role_arn(
    ctx: &Ctx,
    account: &str,
    name: &str,
) -> Result<(String, Option<Role>), ApiError> {
    let r = ctx.st.iam.role(account, name).await?;
    let arn = r.as_ref().map_or_else(
        || arn_of(ctx, account, "role", "/", name),
        |r| r.arn.clone(),
    );
    Ok((arn, r))
}

fn description(p: &mut Params) -> Result<Option<String>, ApiError> {
    let d = p.opt("Description");
    if let Some(d) = &d {
        common::check_role_description("Description", d)?;
    }
    Ok(d)
}

fn max_session(p: &mut Params) -> Result<Option<i64>, ApiError> {
    let v = p.opt_i64("MaxSessionDuration")?;
    if let Some(v) = v {
        check_range("MaxSessionDuration", v, 3600, 43200)?;
    }
    Ok(v)
}

async fn update_role(
    ctx: &Ctx,
    account: &str,
    name: &str,
    f: impl FnMut(&mut Role, &mut crate::store::Batch) -> Result<(), crate::iam::repo::Error>,
) -> Result<Role, ApiError> {
    Ok(ctx.st.iam.update(account, name, f).await?)
}

/// `CreateRole`.
pub async fn create(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "RoleName", 64)?;
    let path = common::path(p, "Path")?.unwrap_or_else(|| "/".to_owned());
    let trust = common::document(p, "AssumeRolePolicyDocument")?;
    let desc = description(p)?;
    let max = max_session(p)?.unwrap_or(3600);
    let boundary = p.opt("PermissionsBoundary");
    let tags = common::tags(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    common::authorize_with(
        ctx,
        "CreateRole",
        &arn_of(ctx, &account, "role", &path, &name),
        &RequestFacts {
            tags: &tags,
            boundary: boundary.as_deref(),
            ..RequestFacts::default()
        },
    )
    .await?;
    if let Some(b) = &boundary {
        check_boundary(ctx, b).await?;
    }
    let (_, ids) = ctx.st.iam.check_trust_policy(&trust).await?;
    let r = Role {
        account: account.clone(),
        name,
        path,
        id: crate::ids::new_unique_id("AROA", &account),
        arn: String::new(),
        create_date: ctx.env.now,
        trust_policy: trust,
        trust_principal_ids: ids,
        description: desc,
        max_session_duration: max,
        permissions_boundary: boundary,
        tags,
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
        last_used: None,
        origin: Origin::Api,
    };
    let r = ctx.st.iam.create_role(r).await?;
    let mut w = XmlWriter::new();
    xml::role_elem(&mut w, "Role", &r, true);
    Ok(reply(w.finish(), json!({ "role": summary(&r) })))
}

/// `GetRole`.
pub async fn get(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "RoleName", 64)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, r) = role_arn(ctx, &account, &name).await?;
    authorize(ctx, "GetRole", &arn).await?;
    let r = r.ok_or_else(|| no_such("role", &name))?;
    let mut w = XmlWriter::new();
    xml::role_elem(&mut w, "Role", &r, true);
    Ok(reply(w.finish(), json!(null)))
}

/// `ListRoles`.
pub async fn list(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    common::list_entities::<Role>(ctx, p, "ListRoles", "role", "Roles", |w, r| {
        xml::role_elem(w, "member", r, false)
    })
    .await
}

/// `UpdateRole` (`Description`, `MaxSessionDuration`); answers an empty result element.
pub async fn update(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "RoleName", 64)?;
    let desc = description(p)?;
    let max = max_session(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, before) = role_arn(ctx, &account, &name).await?;
    authorize(ctx, "UpdateRole", &arn).await?;
    let before = before.ok_or_else(|| no_such("role", &name))?;
    let after = update_role(ctx, &account, &name, |r, _| {
        if let Some(d) = &desc {
            r.description = Some(d.clone());
        }
        if let Some(m) = max {
            r.max_session_duration = m;
        }
        Ok(())
    })
    .await?;
    Ok(reply(
        String::new(),
        json!({ "before": summary(&before), "after": summary(&after) }),
    ))
}

/// `UpdateRoleDescription`: answers the role.
pub async fn update_description(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "RoleName", 64)?;
    let desc = p.req("Description")?;
    common::check_role_description("Description", &desc)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, _) = role_arn(ctx, &account, &name).await?;
    authorize(ctx, "UpdateRoleDescription", &arn).await?;
    let after = update_role(ctx, &account, &name, |r, _| {
        r.description = Some(desc.clone());
        Ok(())
    })
    .await?;
    let mut w = XmlWriter::new();
    xml::role_elem(&mut w, "Role", &after, true);
    Ok(reply(w.finish(), json!({ "after": summary(&after) })))
}

/// `DeleteRole`.
pub async fn delete(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "RoleName", 64)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, _) = role_arn(ctx, &account, &name).await?;
    authorize(ctx, "DeleteRole", &arn).await?;
    let before = ctx.st.iam.delete_role(&account, &name).await?;
    Ok(common::empty(json!({ "before": summary(&before) })))
}

/// `UpdateAssumeRolePolicy`.
pub async fn update_trust(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "RoleName", 64)?;
    let doc = common::document(p, "PolicyDocument")?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, before) = role_arn(ctx, &account, &name).await?;
    authorize(ctx, "UpdateAssumeRolePolicy", &arn).await?;
    let before = before.ok_or_else(|| no_such("role", &name))?;
    let (_, ids) = ctx.st.iam.check_trust_policy(&doc).await?;
    let after = update_role(ctx, &account, &name, |r, _| {
        r.trust_policy.clone_from(&doc);
        r.trust_principal_ids.clone_from(&ids);
        Ok(())
    })
    .await?;
    Ok(common::empty(
        json!({ "before": summary(&before), "after": summary(&after) }),
    ))
}

/// `PutRolePermissionsBoundary` / `DeleteRolePermissionsBoundary` (`put` false).
pub async fn role_boundary(ctx: &Ctx, p: &mut Params, put: bool) -> Result<Reply, ApiError> {
    let name = common::name(p, "RoleName", 64)?;
    let b = if put {
        Some(p.req("PermissionsBoundary")?)
    } else {
        None
    };
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, before) = role_arn(ctx, &account, &name).await?;
    let action = if put {
        "PutRolePermissionsBoundary"
    } else {
        "DeleteRolePermissionsBoundary"
    };
    common::authorize_with(
        ctx,
        action,
        &arn,
        &RequestFacts {
            boundary: b.as_deref(),
            ..RequestFacts::default()
        },
    )
    .await?;
    let before = before.ok_or_else(|| no_such("role", &name))?;
    if let Some(b) = &b {
        check_boundary(ctx, b).await?;
    }
    let after = update_role(ctx, &account, &name, |r, _| {
        r.permissions_boundary.clone_from(&b);
        Ok(())
    })
    .await?;
    Ok(common::empty(
        json!({ "before": summary(&before), "after": summary(&after) }),
    ))
}

/// `PutUserPermissionsBoundary` / `DeleteUserPermissionsBoundary` (`put` false).
pub async fn user_boundary(ctx: &Ctx, p: &mut Params, put: bool) -> Result<Reply, ApiError> {
    let name = common::name(p, "UserName", 128)?;
    let b = if put {
        Some(p.req("PermissionsBoundary")?)
    } else {
        None
    };
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, u) = user_arn(ctx, &account, &name).await?;
    let action = if put {
        "PutUserPermissionsBoundary"
    } else {
        "DeleteUserPermissionsBoundary"
    };
    common::authorize_with(
        ctx,
        action,
        &arn,
        &RequestFacts {
            boundary: b.as_deref(),
            ..RequestFacts::default()
        },
    )
    .await?;
    let before = u.ok_or_else(|| no_such("user", &name))?;
    if let Some(b) = &b {
        check_boundary(ctx, b).await?;
    }
    let after = ctx
        .st
        .iam
        .update(&account, &name, |u: &mut User, _| {
            u.permissions_boundary.clone_from(&b);
            Ok(())
        })
        .await?;
    Ok(common::empty(json!({
        "before": super::users::summary(&before), "after": super::users::summary(&after)
    })))
}

impl super::tagging::TaggedEntity for Role {
    fn arn(&self) -> &str {
        &self.arn
    }

    fn summary(&self) -> serde_json::Value {
        summary(self)
    }
}
