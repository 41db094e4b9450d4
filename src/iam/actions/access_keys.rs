//! Access keys: `CreateAccessKey` (the secret is answered once), `ListAccessKeys`,
//! `UpdateAccessKey`, `DeleteAccessKey`, `GetAccessKeyLastUsed`. `UserName` omitted means the
//! caller itself; for the account root, the root's keys.

use serde_json::json;

use super::common::{self, Paging, authorize, reply};
use super::users::user_arn;
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::{ApiError, Code};
use crate::iam::model::KeyStatus;
use crate::wire::params::{check_chars, check_len, is_name_char};
use crate::wire::xml::iso8601;
use crate::wire::{Params, XmlWriter};

fn key_id(p: &mut Params) -> Result<String, ApiError> {
    let id = p.req("AccessKeyId")?;
    check_len("AccessKeyId", &id, 16, 128)?;
    check_chars("AccessKeyId", &id, "[\\w]+", |c| {
        c.is_ascii_alphanumeric() || c == '_'
    })?;
    Ok(id)
}

/// Resolves the key owner and its ARN (the resource the action is authorized on).
async fn owner(ctx: &Ctx, p: &mut Params) -> Result<(Option<String>, String, bool), ApiError> {
    let given = p.opt("UserName");
    if let Some(n) = &given {
        check_len("UserName", n, 1, 128)?;
        check_chars("UserName", n, "[\\w+=,.@-]+", is_name_char)?;
    }
    let caller = ctx.caller()?;
    match common::key_owner(caller, given)? {
        Some(n) => {
            let (arn, u) = user_arn(ctx, &caller.account, &n).await?;
            Ok((Some(u.map_or(n, |u| u.name)), arn, true))
        }
        None => Ok((
            None,
            format!("arn:{}:iam::{}:root", ctx.st.iam.partition, caller.account),
            false,
        )),
    }
}

/// `CreateAccessKey`.
pub async fn create(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (user, arn, _) = owner(ctx, p).await?;
    p.finish()?;
    authorize(ctx, "CreateAccessKey", &arn).await?;
    let account = common::account(ctx)?;
    let (key, secret) = ctx
        .st
        .iam
        .create_access_key(&account, user.as_deref(), None, ctx.env.now)
        .await?;
    let mut w = XmlWriter::new();
    w.start("AccessKey")
        .opt("UserName", key.user.as_deref())
        .elem("AccessKeyId", &key.id)
        .elem("Status", key.status.as_str())
        .elem("SecretAccessKey", secret.expose())
        .elem("CreateDate", &iso8601(key.create_date))
        .end("AccessKey");
    Ok(reply(
        w.finish(),
        json!({ "accessKey": { "accessKeyId": key.id, "userName": key.user, "status": "Active",
                                "createDate": iso8601(key.create_date) } }),
    ))
}

/// `ListAccessKeys`.
pub async fn list(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (user, arn, named) = owner(ctx, p).await?;
    let paging = Paging::read(p)?;
    p.finish()?;
    authorize(ctx, "ListAccessKeys", &arn).await?;
    let account = common::account(ctx)?;
    if let Some(u) = user.as_ref().filter(|_| named) {
        ctx.st.iam.user_required(&account, u).await?;
    }
    let keys = ctx.st.iam.access_keys_of(&account, user.as_deref()).await?;
    let (items, next) = paging.page(keys, |k| k.id.clone())?;
    let mut w = XmlWriter::new();
    w.start("AccessKeyMetadata");
    for k in &items {
        xml::key_metadata(&mut w, k);
    }
    w.end("AccessKeyMetadata");
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}

/// `UpdateAccessKey`: Active/Inactive, effective on the next request (the cache is invalidated
/// by the commit).
pub async fn update(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (user, arn, _) = owner(ctx, p).await?;
    let id = key_id(p)?;
    let status = match p.req("Status")?.as_str() {
        "Active" => KeyStatus::Active,
        "Inactive" => KeyStatus::Inactive,
        other => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy \
                 constraint: Member must satisfy enum value set: [Active, Inactive]"
            )));
        }
    };
    p.finish()?;
    authorize(ctx, "UpdateAccessKey", &arn).await?;
    let account = common::account(ctx)?;
    ctx.st
        .iam
        .set_access_key_status(&account, user.as_deref(), &id, status)
        .await?;
    Ok(common::empty(
        json!({ "accessKeyId": id, "userName": user, "status": status.as_str() }),
    ))
}

/// `DeleteAccessKey`.
pub async fn delete(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (user, arn, _) = owner(ctx, p).await?;
    let id = key_id(p)?;
    p.finish()?;
    authorize(ctx, "DeleteAccessKey", &arn).await?;
    let account = common::account(ctx)?;
    ctx.st
        .iam
        .delete_access_key(&account, user.as_deref(), &id)
        .await?;
    Ok(common::empty(
        json!({ "accessKeyId": id, "userName": user }),
    ))
}

/// `GetAccessKeyLastUsed`.
pub async fn last_used(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let id = key_id(p)?;
    p.finish()?;
    let caller = ctx.caller()?;
    let not_found = || {
        ApiError::new(
            Code::NoSuchEntity,
            format!("The Access Key with id {id} cannot be found."),
        )
    };
    let found = ctx.st.iam.access_key(&id).await?.ok_or_else(not_found)?;
    let key = &found.key;
    if key.account != caller.account {
        return Err(not_found());
    }
    let arn = match &key.user {
        Some(u) => user_arn(ctx, &key.account, u).await?.0,
        None => format!("arn:{}:iam::{}:root", ctx.st.iam.partition, key.account),
    };
    authorize(ctx, "GetAccessKeyLastUsed", &arn).await?;
    let used = ctx.st.iam.key_last_used(&id).await?;
    let mut w = XmlWriter::new();
    w.opt("UserName", key.user.as_deref())
        .start("AccessKeyLastUsed");
    match used {
        Some(u) => {
            w.elem("LastUsedDate", &iso8601(u.date))
                .elem("ServiceName", &u.service)
                .elem("Region", &u.region);
        }
        None => {
            w.elem("ServiceName", "N/A").elem("Region", "N/A");
        }
    }
    w.end("AccessKeyLastUsed");
    Ok(reply(w.finish(), json!(null)))
}
