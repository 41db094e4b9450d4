//! Groups: `CreateGroup`, `GetGroup` (with members), `ListGroups`, `UpdateGroup`, `DeleteGroup`,
//! `AddUserToGroup`, `RemoveUserFromGroup`, `ListGroupsForUser`.

use std::collections::BTreeMap;

use serde_json::json;

use super::common::{self, Paging, arn_of, authorize, reply};
use super::users::user_arn;
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::ApiError;
use crate::iam::model::{Group, Origin};
use crate::iam::names::no_such;
use crate::wire::{Params, XmlWriter};

fn summary(g: &Group) -> serde_json::Value {
    json!({ "groupName": g.name, "groupId": g.id, "arn": g.arn, "path": g.path })
}

/// The ARN of a group by name (its real ARN when it exists).
pub async fn group_arn(
    ctx: &Ctx,
    account: &str,
    name: &str,
) -> Result<(String, Option<Group>), ApiError> {
    let g = ctx.st.iam.group(account, name).await?;
    let arn = g.as_ref().map_or_else(
        || arn_of(ctx, account, "group", "/", name),
        |g| g.arn.clone(),
    );
    Ok((arn, g))
}

/// `CreateGroup`.
pub async fn create(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "GroupName", 128)?;
    let path = common::path(p, "Path")?.unwrap_or_else(|| "/".to_owned());
    p.finish()?;
    let account = common::account(ctx)?;
    authorize(
        ctx,
        "CreateGroup",
        &arn_of(ctx, &account, "group", &path, &name),
    )
    .await?;
    let g = Group {
        account: account.clone(),
        name,
        path,
        id: crate::ids::new_unique_id("AGPA", &account),
        arn: String::new(),
        create_date: ctx.env.now,
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
        origin: Origin::Api,
    };
    let g = ctx.st.iam.create_group(g).await?;
    let mut w = XmlWriter::new();
    xml::group_elem(&mut w, "Group", &g);
    Ok(reply(w.finish(), json!({ "group": summary(&g) })))
}

/// `GetGroup`: the group and a page of its members.
pub async fn get(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "GroupName", 128)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, g) = group_arn(ctx, &account, &name).await?;
    authorize(ctx, "GetGroup", &arn).await?;
    let g = g.ok_or_else(|| no_such("group", &name))?;
    let page = ctx
        .st
        .iam
        .group_members(&account, &name, paging.marker.as_deref(), paging.max_items)
        .await?;
    let mut w = XmlWriter::new();
    xml::group_elem(&mut w, "Group", &g);
    w.start("Users");
    for u in &page.items {
        xml::user_elem(&mut w, "member", u, false);
    }
    w.end("Users");
    xml::page_end(&mut w, page.next_marker.as_deref());
    Ok(reply(w.finish(), json!(null)))
}

/// `ListGroups`.
pub async fn list(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    common::list_entities::<Group>(ctx, p, "ListGroups", "group", "Groups", |w, g| {
        xml::group_elem(w, "member", g)
    })
    .await
}

/// `UpdateGroup` (`NewGroupName`, `NewPath`).
pub async fn update(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "GroupName", 128)?;
    let new_name = common::opt_name(p, "NewGroupName", 128)?;
    let new_path = common::path(p, "NewPath")?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, g) = group_arn(ctx, &account, &name).await?;
    authorize(ctx, "UpdateGroup", &arn).await?;
    let g = g.ok_or_else(|| no_such("group", &name))?;
    if let Some(n) = &new_name {
        let path = new_path.clone().unwrap_or_else(|| g.path.clone());
        authorize(
            ctx,
            "UpdateGroup",
            &arn_of(ctx, &account, "group", &path, n),
        )
        .await?;
    }
    let (before, after) = ctx
        .st
        .iam
        .rename::<Group>(&account, &name, new_name.as_deref(), new_path.as_deref())
        .await?;
    Ok(common::empty(
        json!({ "before": summary(&before), "after": summary(&after) }),
    ))
}

/// `DeleteGroup`.
pub async fn delete(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "GroupName", 128)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, _) = group_arn(ctx, &account, &name).await?;
    authorize(ctx, "DeleteGroup", &arn).await?;
    let before = ctx.st.iam.delete_group(&account, &name).await?;
    Ok(common::empty(json!({ "before": summary(&before) })))
}

/// `AddUserToGroup`.
pub async fn add_user(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let group = common::name(p, "GroupName", 128)?;
    let user = common::name(p, "UserName", 128)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, _) = group_arn(ctx, &account, &group).await?;
    authorize(ctx, "AddUserToGroup", &arn).await?;
    ctx.st
        .iam
        .add_user_to_group(&account, &group, &user)
        .await?;
    Ok(common::empty(json!({ "group": arn, "addedUser": user })))
}

/// `RemoveUserFromGroup`.
pub async fn remove_user(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let group = common::name(p, "GroupName", 128)?;
    let user = common::name(p, "UserName", 128)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, _) = group_arn(ctx, &account, &group).await?;
    authorize(ctx, "RemoveUserFromGroup", &arn).await?;
    ctx.st
        .iam
        .remove_user_from_group(&account, &group, &user)
        .await?;
    Ok(common::empty(json!({ "group": arn, "removedUser": user })))
}

/// `ListGroupsForUser`.
pub async fn list_for_user(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let user = common::name(p, "UserName", 128)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, u) = user_arn(ctx, &account, &user).await?;
    authorize(ctx, "ListGroupsForUser", &arn).await?;
    let u = u.ok_or_else(|| no_such("user", &user))?;
    let mut groups = Vec::with_capacity(u.groups.len());
    for g in &u.groups {
        if let Some(g) = ctx.st.iam.group(&account, g).await? {
            groups.push(g);
        }
    }
    let (items, next) = paging.page(groups, |g| g.name.to_lowercase())?;
    let mut w = XmlWriter::new();
    w.start("Groups");
    for g in &items {
        xml::group_elem(&mut w, "member", g);
    }
    w.end("Groups");
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}
