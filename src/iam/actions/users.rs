//! Users: `CreateUser`, `GetUser`, `ListUsers`, `UpdateUser`, `DeleteUser` (`TagUser`,
//! `UntagUser` and `ListUserTags` are the generic ones of `tagging.rs`).

use std::collections::BTreeMap;

use serde_json::json;

use super::common::{self, arn_of, authorize, reply};
use super::condition_keys::RequestFacts;
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::{ApiError, Code};
use crate::iam::model::{Origin, User};
use crate::iam::names::no_such;
use crate::wire::{Params, XmlWriter};

/// Audit summary of a user (no secrets).
#[must_use]
pub fn summary(u: &User) -> serde_json::Value {
    json!({
        "userName": u.name, "userId": u.id, "arn": u.arn, "path": u.path,
        "createDate": crate::wire::xml::iso8601(u.create_date),
        "permissionsBoundary": u.permissions_boundary,
        "tags": u.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect::<BTreeMap<_, _>>(),
    })
}

/// The ARN of a user by name: its real ARN when it exists, `user/name` otherwise.
pub async fn user_arn(
    ctx: &Ctx,
    account: &str,
    name: &str,
) -> Result<(String, Option<User>), ApiError> {
    let u = ctx.st.iam.user(account, name).await?;
    let arn = u.as_ref().map_or_else(
        || arn_of(ctx, account, "user", "/", name),
        |u| u.arn.clone(),
    );
    Ok((arn, u))
}

/// Checks that a permissions boundary names an existing managed policy.
pub async fn check_boundary(ctx: &Ctx, arn: &str) -> Result<(), ApiError> {
    crate::wire::params::check_len("PermissionsBoundary", arn, 20, 2048)?;
    match ctx.st.iam.managed_policy(arn).await? {
        Some(p)
            if p.account == "aws"
                || ctx.caller.as_ref().is_some_and(|c| c.account == p.account) =>
        {
            Ok(())
        }
        _ => Err(ApiError::new(
            Code::NoSuchEntity,
            format!("Scope ARN: {arn} does not exist or is not attachable."),
        )),
    }
}

/// `CreateUser`.
pub async fn create(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "UserName", 64)?;
    let path = common::path(p, "Path")?.unwrap_or_else(|| "/".to_owned());
    let boundary = p.opt("PermissionsBoundary");
    let tags = common::tags(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    common::authorize_with(
        ctx,
        "CreateUser",
        &arn_of(ctx, &account, "user", &path, &name),
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
    let u = User {
        account: account.clone(),
        name,
        path,
        id: crate::ids::new_unique_id("AIDA", &account),
        arn: String::new(),
        create_date: ctx.env.now,
        tags,
        permissions_boundary: boundary,
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
        groups: Vec::new(),
        origin: Origin::Api,
    };
    let u = ctx.st.iam.create_user(u).await?;
    let mut w = XmlWriter::new();
    xml::user_elem(&mut w, "User", &u, true);
    Ok(reply(w.finish(), json!({ "user": summary(&u) })))
}

/// `GetUser` (no `UserName`: the caller itself; root gets the root's description).
pub async fn get(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::opt_name(p, "UserName", 128)?;
    p.finish()?;
    let caller = ctx.caller()?;
    let account = caller.account.clone();
    let name = match name {
        Some(n) => n,
        None => match common::key_owner(caller, None)? {
            Some(n) => n,
            None => {
                authorize(ctx, "GetUser", &caller.arn).await?;
                let created = ctx
                    .st
                    .iam
                    .account(&account)
                    .await?
                    .map(|a| a.create_date)
                    .unwrap_or_default();
                let mut w = XmlWriter::new();
                w.start("User")
                    .elem("UserId", &account)
                    .elem("Arn", &caller.arn)
                    .elem("CreateDate", &crate::wire::xml::iso8601(created))
                    .end("User");
                return Ok(reply(w.finish(), json!(null)));
            }
        },
    };
    let (arn, u) = user_arn(ctx, &account, &name).await?;
    authorize(ctx, "GetUser", &arn).await?;
    let u = u.ok_or_else(|| no_such("user", &name))?;
    let mut w = XmlWriter::new();
    xml::user_elem(&mut w, "User", &u, true);
    Ok(reply(w.finish(), json!(null)))
}

/// `ListUsers`.
pub async fn list(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    common::list_entities::<User>(ctx, p, "ListUsers", "user", "Users", |w, u| {
        xml::user_elem(w, "member", u, false)
    })
    .await
}

/// `UpdateUser` (`NewUserName`, `NewPath`).
pub async fn update(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "UserName", 128)?;
    let new_name = common::opt_name(p, "NewUserName", 64)?;
    let new_path = common::path(p, "NewPath")?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, u) = user_arn(ctx, &account, &name).await?;
    authorize(ctx, "UpdateUser", &arn).await?;
    if u.is_none() {
        return Err(no_such("user", &name));
    }
    if let Some(n) = &new_name {
        // Renaming is authorized on both the old and the new ARN (AWS).
        let path = new_path
            .clone()
            .or_else(|| u.as_ref().map(|u| u.path.clone()))
            .unwrap_or_default();
        authorize(ctx, "UpdateUser", &arn_of(ctx, &account, "user", &path, n)).await?;
    }
    let (before, after) = ctx
        .st
        .iam
        .rename::<User>(&account, &name, new_name.as_deref(), new_path.as_deref())
        .await?;
    Ok(common::empty(
        json!({ "before": summary(&before), "after": summary(&after) }),
    ))
}

/// `DeleteUser`.
pub async fn delete(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "UserName", 128)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, _) = user_arn(ctx, &account, &name).await?;
    authorize(ctx, "DeleteUser", &arn).await?;
    let before = ctx.st.iam.delete_user(&account, &name).await?;
    Ok(common::empty(json!({ "before": summary(&before) })))
}

impl super::tagging::TaggedEntity for User {
    fn arn(&self) -> &str {
        &self.arn
    }

    fn summary(&self) -> serde_json::Value {
        summary(self)
    }
}
