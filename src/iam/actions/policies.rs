//! Managed policies: `CreatePolicy`, `GetPolicy`, `ListPolicies`, `DeletePolicy`, the version
//! actions, `Attach/Detach{User,Group,Role}Policy`, `ListAttached{User,Group,Role}Policies` and
//! `ListEntitiesForPolicy`. AWS managed policies are readable and attachable, never writable.

use std::ops::Bound;

use serde_json::json;

use super::common::{self, Paging, arn_of, authorize, reply};
use super::condition_keys::RequestFacts;
use super::groups::group_arn;
use super::roles::role_arn;
use super::users::user_arn;
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::{ApiError, Code};
use crate::iam::Iam;
use crate::iam::model::{ManagedPolicy, Origin, PolicyVersion};
use crate::iam::names::{no_such, parse_entity_arn};
use crate::iam::repo::{EntityKind, decode_marker, encode_marker};
use crate::wire::params::{check_chars, check_len};
use crate::wire::{Params, XmlWriter};

fn summary(p: &ManagedPolicy) -> serde_json::Value {
    json!({
        "policyName": p.name, "policyId": p.id, "arn": p.arn, "path": p.path,
        "defaultVersionId": p.default_version_id,
        "versions": p.versions.iter().map(|v| v.version_id.clone()).collect::<Vec<_>>(),
    })
}

fn not_found(arn: &str) -> ApiError {
    ApiError::new(Code::NoSuchEntity, format!("Policy {arn} was not found."))
}

/// A policy visible to the caller (its account's or AWS managed), or `NoSuchEntity`.
async fn visible(ctx: &Ctx, arn: &str) -> Result<ManagedPolicy, ApiError> {
    let account = common::account(ctx)?;
    match ctx.st.iam.managed_policy(arn).await? {
        Some(p) if p.account == "aws" || p.account == account => Ok(p),
        _ => Err(not_found(arn)),
    }
}

/// Authorizes a write on a policy: AWS managed policies are refused as AWS does (AccessDenied).
async fn authorize_write(ctx: &Ctx, action: &str, arn: &str) -> Result<(), ApiError> {
    let caller = authorize(ctx, action, arn).await?;
    if parse_entity_arn(arn, "policy").is_some_and(|(a, _, _)| a == "aws") {
        return Err(ApiError::access_denied(format!(
            "User: {} is not authorized to perform: iam:{action} on resource: policy {arn}",
            caller.arn
        ))
        .with_detail("AWS managed policies cannot be changed"));
    }
    Ok(())
}

/// How many entities of `account` a policy is attached to.
async fn attachments_in(ctx: &Ctx, p: &ManagedPolicy, account: &str) -> Result<usize, ApiError> {
    if p.account != "aws" {
        return Ok(usize::try_from(p.attachment_count).unwrap_or(usize::MAX));
    }
    Ok(ctx.st.iam.attachment_count_in(&p.arn, account).await?)
}

fn version_id(p: &mut Params) -> Result<String, ApiError> {
    let v = p.req("VersionId")?;
    let ok = v.strip_prefix('v').is_some_and(|n| {
        let digits = n.split('.').next().unwrap_or_default();
        !digits.is_empty() && !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
    });
    check_chars("VersionId", &v, "v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?", |_| ok)?;
    Ok(v)
}

/// `CreatePolicy`.
pub async fn create(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, "PolicyName", 128)?;
    let path = common::path(p, "Path")?.unwrap_or_else(|| "/".to_owned());
    let doc = common::document(p, "PolicyDocument")?;
    let description = p.opt("Description");
    if let Some(d) = &description {
        check_len("Description", d, 0, 1000)?;
    }
    let tags = common::tags(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    common::authorize_with(
        ctx,
        "CreatePolicy",
        &arn_of(ctx, &account, "policy", &path, &name),
        &RequestFacts {
            tags: &tags,
            ..RequestFacts::default()
        },
    )
    .await?;
    let now = ctx.env.now;
    let mp = ManagedPolicy {
        account: account.clone(),
        name,
        path,
        id: crate::ids::new_unique_id("ANPA", &account),
        arn: String::new(),
        description,
        create_date: now,
        update_date: now,
        default_version_id: "v1".into(),
        versions: vec![PolicyVersion {
            version_id: "v1".into(),
            document: doc,
            create_date: now,
        }],
        next_version: 2,
        attachment_count: 0,
        tags,
        origin: Origin::Api,
    };
    let mp = ctx.st.iam.create_policy(mp).await?;
    let mut w = XmlWriter::new();
    xml::policy_elem(&mut w, "Policy", &mp, 0, false);
    Ok(reply(w.finish(), json!({ "policy": summary(&mp) })))
}

/// `GetPolicy`.
pub async fn get(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = common::policy_arn(p, "PolicyArn")?;
    p.finish()?;
    authorize(ctx, "GetPolicy", &arn).await?;
    let mp = visible(ctx, &arn).await?;
    let n = attachments_in(ctx, &mp, &common::account(ctx)?).await?;
    let mut w = XmlWriter::new();
    xml::policy_elem(&mut w, "Policy", &mp, n, true);
    Ok(reply(w.finish(), json!(null)))
}

/// `ListPolicies` (`Scope` All|AWS|Local, `OnlyAttached`, `PathPrefix`, `PolicyUsageFilter`):
/// AWS managed policies first (by ARN), then the account's own (by name).
pub async fn list(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let scope = p.opt("Scope").unwrap_or_else(|| "All".to_owned());
    if !matches!(scope.as_str(), "All" | "AWS" | "Local") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: \
             Member must satisfy enum value set: [All, AWS, Local]"
        )));
    }
    let only_attached = p.opt_bool("OnlyAttached")?.unwrap_or(false);
    let prefix = common::path_prefix(p)?;
    let _usage = p.opt("PolicyUsageFilter");
    let paging = Paging::read(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    authorize(
        ctx,
        "ListPolicies",
        &arn_of(ctx, &account, "policy", "/", ""),
    )
    .await?;
    let after = paging.marker.as_deref().map(decode_marker).transpose()?;
    let max = paging.max_items;
    let mut items: Vec<(String, ManagedPolicy, usize)> = Vec::new();
    let mut truncated = false;
    let in_local = after.as_deref().is_some_and(|a| a.starts_with("L:"));
    if scope != "Local" && !in_local {
        let start = after
            .as_deref()
            .and_then(|a| a.strip_prefix("A:"))
            .map(str::to_owned);
        let lower = start
            .as_ref()
            .map_or(Bound::Unbounded, |s| Bound::Excluded(s.clone()));
        for (arn, mp) in ctx.st.iam.aws_managed().range((lower, Bound::Unbounded)) {
            if !mp.path.starts_with(&prefix) {
                continue;
            }
            let n = if only_attached || items.len() < max {
                attachments_in(ctx, mp, &account).await?
            } else {
                1
            };
            if only_attached && n == 0 {
                continue;
            }
            if items.len() == max {
                truncated = true;
                break;
            }
            items.push((format!("A:{arn}"), mp.clone(), n));
        }
    }
    if !truncated && scope != "AWS" {
        let start = after
            .as_deref()
            .and_then(|a| a.strip_prefix("L:"))
            .map(encode_marker);
        let want = max.saturating_sub(items.len()).max(1);
        let page = ctx
            .st
            .iam
            .list_policies(&account, start.as_deref(), want, |mp| {
                mp.path.starts_with(&prefix) && (!only_attached || mp.attachment_count > 0)
            })
            .await?;
        if items.len() == max {
            truncated = !page.items.is_empty();
        } else {
            truncated = page.next_marker.is_some();
            for mp in page.items {
                let n = usize::try_from(mp.attachment_count).unwrap_or(usize::MAX);
                items.push((
                    format!("L:{}", Iam::policy_position(&account, &mp.name)),
                    mp,
                    n,
                ));
            }
        }
    }
    let next = if truncated {
        items.last().map(|(pos, _, _)| encode_marker(pos))
    } else {
        None
    };
    let mut w = XmlWriter::new();
    w.start("Policies");
    for (_, mp, n) in &items {
        xml::policy_elem(&mut w, "member", mp, *n, false);
    }
    w.end("Policies");
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}

/// `DeletePolicy`.
pub async fn delete(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = common::policy_arn(p, "PolicyArn")?;
    p.finish()?;
    authorize_write(ctx, "DeletePolicy", &arn).await?;
    visible(ctx, &arn).await?;
    let before = ctx.st.iam.delete_policy(&arn).await?;
    Ok(common::empty(json!({ "before": summary(&before) })))
}

/// `CreatePolicyVersion` (≤ 5 versions; `SetAsDefault`).
pub async fn create_version(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = common::policy_arn(p, "PolicyArn")?;
    let doc = common::document(p, "PolicyDocument")?;
    let set_default = p.opt_bool("SetAsDefault")?.unwrap_or(false);
    p.finish()?;
    authorize_write(ctx, "CreatePolicyVersion", &arn).await?;
    visible(ctx, &arn).await?;
    let v = ctx
        .st
        .iam
        .create_policy_version(&arn, &doc, set_default, ctx.env.now)
        .await?;
    let default = if set_default {
        v.version_id.clone()
    } else {
        String::new()
    };
    let mut w = XmlWriter::new();
    w.start("PolicyVersion");
    xml::version(&mut w, &v, &default, false);
    w.end("PolicyVersion");
    Ok(reply(
        w.finish(),
        json!({ "policyArn": arn, "versionId": v.version_id, "isDefault": set_default }),
    ))
}

/// `GetPolicyVersion` (the document URL-encoded).
pub async fn get_version(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = common::policy_arn(p, "PolicyArn")?;
    let vid = version_id(p)?;
    p.finish()?;
    authorize(ctx, "GetPolicyVersion", &arn).await?;
    let mp = visible(ctx, &arn).await?;
    let v = mp
        .versions
        .iter()
        .find(|v| v.version_id == vid)
        .ok_or_else(|| {
            ApiError::new(
                Code::NoSuchEntity,
                format!("Policy {arn} version {vid} does not exist."),
            )
        })?;
    let mut w = XmlWriter::new();
    w.start("PolicyVersion");
    xml::version(&mut w, v, &mp.default_version_id, true);
    w.end("PolicyVersion");
    Ok(reply(w.finish(), json!(null)))
}

/// `ListPolicyVersions`.
pub async fn list_versions(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = common::policy_arn(p, "PolicyArn")?;
    let paging = Paging::read(p)?;
    p.finish()?;
    authorize(ctx, "ListPolicyVersions", &arn).await?;
    let mp = visible(ctx, &arn).await?;
    // Newest first, as AWS lists them.
    let (items, next) = paging.page(mp.versions.clone(), |v| {
        let n: u64 = v
            .version_id
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        format!("{:020}", u64::MAX - n)
    })?;
    let mut w = XmlWriter::new();
    w.start("Versions");
    for v in &items {
        w.start("member");
        xml::version(&mut w, v, &mp.default_version_id, false);
        w.end("member");
    }
    w.end("Versions");
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}

/// `SetDefaultPolicyVersion`.
pub async fn set_default(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = common::policy_arn(p, "PolicyArn")?;
    let vid = version_id(p)?;
    p.finish()?;
    authorize_write(ctx, "SetDefaultPolicyVersion", &arn).await?;
    let before = visible(ctx, &arn).await?;
    ctx.st
        .iam
        .set_default_policy_version(&arn, &vid, ctx.env.now)
        .await?;
    Ok(common::empty(
        json!({ "policyArn": arn, "before": before.default_version_id, "after": vid }),
    ))
}

/// `DeletePolicyVersion` (never the default).
pub async fn delete_version(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = common::policy_arn(p, "PolicyArn")?;
    let vid = version_id(p)?;
    p.finish()?;
    authorize_write(ctx, "DeletePolicyVersion", &arn).await?;
    visible(ctx, &arn).await?;
    ctx.st.iam.delete_policy_version(&arn, &vid).await?;
    Ok(common::empty(
        json!({ "policyArn": arn, "deletedVersion": vid }),
    ))
}

fn kind_param(kind: EntityKind) -> (&'static str, usize, &'static str) {
    let rules = kind.name_rules();
    (rules.param, rules.max, kind.element())
}

async fn entity_arn_of(
    ctx: &Ctx,
    kind: EntityKind,
    account: &str,
    name: &str,
) -> Result<(String, bool), ApiError> {
    Ok(match kind {
        EntityKind::User => {
            let (a, e) = user_arn(ctx, account, name).await?;
            (a, e.is_some())
        }
        EntityKind::Group => {
            let (a, e) = group_arn(ctx, account, name).await?;
            (a, e.is_some())
        }
        EntityKind::Role => {
            let (a, e) = role_arn(ctx, account, name).await?;
            (a, e.is_some())
        }
    })
}

/// `Attach{User,Group,Role}Policy` / `Detach…` (`attach` false).
pub async fn attach(
    ctx: &Ctx,
    p: &mut Params,
    kind: EntityKind,
    attach: bool,
) -> Result<Reply, ApiError> {
    let (param, max, word) = kind_param(kind);
    let name = common::name(p, param, max)?;
    let arn = common::policy_arn(p, "PolicyArn")?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (earn, _) = entity_arn_of(ctx, kind, &account, &name).await?;
    let action = format!("{}{word}Policy", if attach { "Attach" } else { "Detach" });
    common::authorize_with(
        ctx,
        &action,
        &earn,
        &RequestFacts {
            policy_arn: Some(&arn),
            ..RequestFacts::default()
        },
    )
    .await?;
    if attach {
        if ctx
            .st
            .iam
            .managed_policy(&arn)
            .await?
            .is_some_and(|mp| mp.account != "aws" && mp.account != account)
        {
            return Err(ApiError::new(
                Code::NoSuchEntity,
                format!("Policy {arn} does not exist or is not attachable."),
            ));
        }
        ctx.st
            .iam
            .attach_policy(kind, &account, &name, &arn)
            .await?;
    } else {
        ctx.st
            .iam
            .detach_policy(kind, &account, &name, &arn)
            .await?;
    }
    Ok(common::empty(
        json!({ "entity": earn, "policyArn": arn, "attached": attach }),
    ))
}

/// `ListAttached{User,Group,Role}Policies`.
pub async fn list_attached(ctx: &Ctx, p: &mut Params, kind: EntityKind) -> Result<Reply, ApiError> {
    let (param, max, word) = kind_param(kind);
    let name = common::name(p, param, max)?;
    let prefix = common::path_prefix(p)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (earn, exists) = entity_arn_of(ctx, kind, &account, &name).await?;
    authorize(ctx, &format!("ListAttached{word}Policies"), &earn).await?;
    let iam = &ctx.st.iam;
    let arns = match kind {
        EntityKind::User => iam
            .user(&account, &name)
            .await?
            .map(|u| u.attached_policies),
        EntityKind::Group => iam
            .group(&account, &name)
            .await?
            .map(|g| g.attached_policies),
        EntityKind::Role => iam
            .role(&account, &name)
            .await?
            .map(|r| r.attached_policies),
    };
    let arns = arns
        .filter(|_| exists)
        .ok_or_else(|| no_such(kind.word(), &name))?;
    let arns: Vec<String> = arns
        .into_iter()
        .filter(|a| {
            parse_entity_arn(a, "policy").is_some_and(|(_, path, _)| path.starts_with(&prefix))
        })
        .collect();
    let (items, next) = paging.page(arns, Clone::clone)?;
    let mut w = XmlWriter::new();
    xml::attached(&mut w, "AttachedPolicies", &items);
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}

/// `ListEntitiesForPolicy`.
pub async fn list_entities(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let arn = common::policy_arn(p, "PolicyArn")?;
    let filter = p.opt("EntityFilter");
    let prefix = common::path_prefix(p)?;
    let _usage = p.opt("PolicyUsageFilter");
    let paging = Paging::read(p)?;
    p.finish()?;
    authorize(ctx, "ListEntitiesForPolicy", &arn).await?;
    visible(ctx, &arn).await?;
    let account = common::account(ctx)?;
    let want = |k: EntityKind| match filter.as_deref() {
        None => true,
        Some("User") => k == EntityKind::User,
        Some("Group") => k == EntityKind::Group,
        Some("Role") => k == EntityKind::Role,
        Some(_) => false,
    };
    // (sort key, kind, name, id)
    let mut found: Vec<(String, EntityKind, String, String)> = Vec::new();
    let iam = &ctx.st.iam;
    for (kind, acct, lname) in iam.attachments(&arn).await? {
        if acct != account || !want(kind) {
            continue;
        }
        let ent = match kind {
            EntityKind::User => iam
                .user(&acct, &lname)
                .await?
                .map(|u| (u.path, u.name, u.id)),
            EntityKind::Group => iam
                .group(&acct, &lname)
                .await?
                .map(|g| (g.path, g.name, g.id)),
            EntityKind::Role => iam
                .role(&acct, &lname)
                .await?
                .map(|r| (r.path, r.name, r.id)),
        };
        if let Some((path, name, id)) = ent.filter(|(path, _, _)| path.starts_with(&prefix)) {
            let _ = path;
            found.push((format!("{}/{lname}", kind.prefix()), kind, name, id));
        }
    }
    let (items, next) = paging.page(found, |e| e.0.clone())?;
    let mut w = XmlWriter::new();
    for (tag, kind, n, i) in [
        ("PolicyGroups", EntityKind::Group, "GroupName", "GroupId"),
        ("PolicyUsers", EntityKind::User, "UserName", "UserId"),
        ("PolicyRoles", EntityKind::Role, "RoleName", "RoleId"),
    ] {
        w.start(tag);
        for (_, k, name, id) in &items {
            if *k == kind {
                w.start("member").elem(n, name).elem(i, id).end("member");
            }
        }
        w.end(tag);
    }
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}
