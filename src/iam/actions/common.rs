//! Shared pieces of the IAM actions: authorization, pagination parameters, tags, replies.

use serde_json::Value;

use super::condition_keys::{self, RequestFacts, ResourceFacts, TagKeys};
use crate::action::{Ctx, Reply};
use crate::authn::{Caller, Principal};
use crate::error::{ApiError, Code};
use crate::iam::model::Tag;
use crate::iam::names::{check_name, entity_arn, parse_entity_arn};
use crate::iam::repo::{decode_marker, encode_marker};
use crate::wire::Params;
use crate::wire::params::{check_len, check_range};

pub use crate::iam::repo::MAX_TAGS;

/// Authorizes `iam:{action}` on `resource` for the caller, with the condition keys AWS
/// documents for the action (see [`authorize_with`]); returns the caller.
pub async fn authorize<'a>(
    ctx: &'a Ctx,
    action: &str,
    resource: &str,
) -> Result<&'a Caller, ApiError> {
    authorize_with(ctx, action, resource, &RequestFacts::default()).await
}

/// Authorizes `iam:{action}` on `resource` for the caller; returns the caller. The request
/// context carries the keys [`condition_keys::ACTIONS`] lists for the action, from `req` (what
/// the request says) and from the user, role or managed policy `resource` names (its tags and
/// boundary, as stored now).
pub async fn authorize_with<'a>(
    ctx: &'a Ctx,
    action: &str,
    resource: &str,
    req: &RequestFacts<'_>,
) -> Result<&'a Caller, ApiError> {
    let caller = ctx.caller()?;
    let target = resource_facts(ctx, &caller.account, resource).await?;
    crate::authz::authorize_with(
        &ctx.st,
        caller,
        &ctx.env,
        &format!("iam:{action}"),
        resource,
        |c| condition_keys::fill(c, action, &target, req),
    )
    .await?;
    Ok(caller)
}

/// The stored tags and boundary of the user, role, managed policy or MFA device `resource` names
/// in `account` (nothing for other resources, or when it does not exist).
async fn resource_facts(
    ctx: &Ctx,
    account: &str,
    resource: &str,
) -> Result<ResourceFacts, ApiError> {
    let iam = &ctx.st.iam;
    if let Some((a, _, name)) = parse_entity_arn(resource, "user") {
        if a == account
            && let Some(u) = iam.user_shared(a, name).await?
            && u.arn == resource
        {
            return Ok(ResourceFacts {
                tags: Some((TagKeys::AwsAndIam, u.tags.clone())),
                boundary: u.permissions_boundary.clone(),
            });
        }
    } else if let Some((a, _, _)) = parse_entity_arn(resource, "role") {
        if a == account
            && let Some(v) = iam.role_view_by_arn(resource).await?
        {
            return Ok(ResourceFacts {
                tags: Some((TagKeys::AwsAndIam, v.role.tags.clone())),
                boundary: v.role.permissions_boundary.clone(),
            });
        }
    } else if let Some((a, _, _)) = parse_entity_arn(resource, "policy") {
        if a == account
            && let Some(p) = iam.managed_policy(resource).await?
        {
            return Ok(ResourceFacts {
                tags: Some((TagKeys::Aws, p.tags)),
                boundary: None,
            });
        }
    } else if let Some((a, _, name)) = parse_entity_arn(resource, "mfa")
        && a == account
        && let Some(d) = iam.mfa_device(a, name).await?
        && d.arn == resource
    {
        return Ok(ResourceFacts {
            tags: Some((TagKeys::Aws, d.tags)),
            boundary: None,
        });
    }
    Ok(ResourceFacts::default())
}

/// An identity provider's ARN parameter (`param`), checked by `parse` (the kind's ARN parser):
/// (ARN, provider name). A provider of another account is answered as a missing one
/// (`not_found`), so ARNs reveal nothing.
///
/// # Errors
/// `InvalidInput` for an ARN that is not of the kind; `not_found(arn)` for another account's.
pub fn provider_arn(
    ctx: &Ctx,
    p: &mut Params,
    param: &str,
    parse: fn(&str) -> Option<(&str, &str)>,
    not_found: fn(&str) -> ApiError,
) -> Result<(String, String), ApiError> {
    let arn = p.req(param)?;
    check_len(param, &arn, 20, 2048)?;
    let (account, name) = parse(&arn)
        .ok_or_else(|| ApiError::new(Code::InvalidInput, format!("ARN {arn} is not valid.")))?;
    if account != ctx.caller()?.account {
        return Err(not_found(&arn));
    }
    let name = name.to_owned();
    Ok((arn, name))
}

/// The ARN an entity of the caller's account has (or would have, at `/`).
#[must_use]
pub fn arn_of(ctx: &Ctx, account: &str, kind: &str, path: &str, name: &str) -> String {
    entity_arn(&ctx.st.iam.partition, account, kind, path, name)
}

/// The caller's account id.
pub fn account(ctx: &Ctx) -> Result<String, ApiError> {
    Ok(ctx.caller()?.account.clone())
}

/// A required entity name parameter, checked.
pub fn name(p: &mut Params, param: &str, max: usize) -> Result<String, ApiError> {
    let v = p.req(param)?;
    check_name(param, &v, max)?;
    Ok(v)
}

/// An optional entity name parameter, checked.
pub fn opt_name(p: &mut Params, param: &str, max: usize) -> Result<Option<String>, ApiError> {
    let v = p.opt(param);
    if let Some(v) = &v {
        check_name(param, v, max)?;
    }
    Ok(v)
}

/// A policy document parameter: 1..=131072 characters of AWS's `policyDocumentType` class
/// `[\u0009\u000A\u000D\u0020-\u00FF]+`; the policy engine checks the rest.
pub fn document(p: &mut Params, param: &str) -> Result<String, ApiError> {
    let v = p.req(param)?;
    check_len(param, &v, 1, 131_072)?;
    crate::wire::params::check_chars(param, &v, "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+", |c| {
        matches!(c, '\t' | '\n' | '\r' | ' '..='\u{ff}')
    })?;
    Ok(v)
}

/// A role description (`roleDescriptionType`): 0..=1000 characters of
/// `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`.
pub fn check_role_description(param: &str, d: &str) -> Result<(), ApiError> {
    check_len(param, d, 0, 1000)?;
    crate::wire::params::check_chars(
        param,
        d,
        "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*",
        |c| matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a1}'..='\u{ff}'),
    )
}

/// A policy ARN parameter (20..=2048).
/// A managed policy ARN parameter (`arn:P:iam::A:policy/path/name`, A a 12-digit account or
/// `aws`), checked where it is decoded: a malformed one is AWS's `InvalidInput` ("ARN … is not
/// valid."), not the `NoSuchEntity` a well-formed ARN of a missing policy gets.
pub fn policy_arn(p: &mut Params, param: &str) -> Result<String, ApiError> {
    let v = p.req(param)?;
    check_len(param, &v, 20, 2048)?;
    let well_formed =
        crate::iam::names::parse_entity_arn(&v, "policy").is_some_and(|(account, _, name)| {
            (account == "aws" || crate::ids::is_valid_account_id(account))
                && name.len() <= 128
                && name.chars().all(crate::wire::params::is_name_char)
        });
    if well_formed {
        Ok(v)
    } else {
        Err(ApiError::new(
            Code::InvalidInput,
            format!("ARN {v} is not valid."),
        ))
    }
}

/// Pagination input: `Marker` and `MaxItems` (1..=1000, default 100).
#[derive(Debug, Clone)]
pub struct Paging {
    /// The opaque marker.
    pub marker: Option<String>,
    /// Page size.
    pub max_items: usize,
}

impl Paging {
    /// Reads `Marker` and `MaxItems`.
    pub fn read(p: &mut Params) -> Result<Self, ApiError> {
        let marker = p.opt("Marker");
        if let Some(m) = &marker {
            check_len("Marker", m, 1, 320)?;
        }
        let max = p.opt_i64("MaxItems")?.unwrap_or(100);
        check_range("MaxItems", max, 1, 1000)?;
        Ok(Self {
            marker,
            max_items: usize::try_from(max).unwrap_or(100),
        })
    }

    /// Pages an in-memory list sorted by `key`: the items whose key is after the marker.
    pub fn page<T>(
        &self,
        mut items: Vec<T>,
        key: impl Fn(&T) -> String,
    ) -> Result<(Vec<T>, Option<String>), ApiError> {
        items.sort_by_key(|a| key(a));
        let after = self.marker.as_deref().map(decode_marker).transpose()?;
        let mut rest: Vec<T> = match after {
            Some(a) => items.into_iter().filter(|t| key(t) > a).collect(),
            None => items,
        };
        if rest.len() > self.max_items {
            rest.truncate(self.max_items);
            let next = rest.last().map(|t| encode_marker(&key(t)));
            Ok((rest, next))
        } else {
            Ok((rest, None))
        }
    }
}

/// `ListUsers`, `ListRoles`, `ListGroups`: the account's entities of kind `K` under
/// `PathPrefix`, a page at a time (`Marker`, `MaxItems`), authorized as `action` on the kind's
/// path-less ARN and answered as `<{list}>` holding one `member` element each, written by
/// `member`.
pub async fn list_entities<K: crate::iam::repo::Kind>(
    ctx: &Ctx,
    p: &mut Params,
    action: &str,
    kind: &str,
    list: &str,
    member: impl Fn(&mut crate::wire::XmlWriter, &K),
) -> Result<Reply, ApiError> {
    let prefix = path_prefix(p)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    let account = account(ctx)?;
    authorize(ctx, action, &arn_of(ctx, &account, kind, "/", "")).await?;
    let page = ctx
        .st
        .iam
        .list::<K>(
            &account,
            &prefix,
            paging.marker.as_deref(),
            paging.max_items,
        )
        .await?;
    let mut w = crate::wire::XmlWriter::new();
    w.start(list);
    for e in &page.items {
        member(&mut w, e);
    }
    w.end(list);
    super::xml::page_end(&mut w, page.next_marker.as_deref());
    Ok(reply(w.finish(), Value::Null))
}

/// `PathPrefix` (default `/`): `\u002F[\u0021-\u007F]*`, 1..=512.
pub fn path_prefix(p: &mut Params) -> Result<String, ApiError> {
    let v = p.opt("PathPrefix").unwrap_or_else(|| "/".to_owned());
    check_len("PathPrefix", &v, 1, 512)?;
    if !v.starts_with('/') || !v.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c)) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{v}' at 'pathPrefix' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*"
        )));
    }
    Ok(v)
}

/// An optional `Path` (default `/`).
pub fn path(p: &mut Params, param: &str) -> Result<Option<String>, ApiError> {
    let v = p.opt(param);
    if let Some(v) = &v {
        crate::iam::names::check_path(param, v)?;
    }
    Ok(v)
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`. `\p{Z}` (separators) is white space without the control
/// characters (tab, line feed, vertical tab, …, which `char::is_whitespace` also counts).
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// Checks one tag key.
pub fn check_tag_key(k: &str) -> Result<(), ApiError> {
    check_len("Tags.member.key", k, 1, 128)?;
    crate::wire::params::check_chars(
        "Tags.member.key",
        k,
        "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
        is_tag_char,
    )
}

/// `Tags.member.N.{Key,Value}`, checked (≤ 50, no duplicate keys).
pub fn tags(p: &mut Params) -> Result<Vec<Tag>, ApiError> {
    let raw = p.struct_list("Tags", &["Key", "Value"])?;
    let mut out: Vec<Tag> = Vec::with_capacity(raw.len());
    for m in raw {
        let key = m.get("Key").cloned().ok_or_else(|| {
            ApiError::validation("1 validation error detected: Value null at 'tags.member.key' failed to satisfy constraint: Member must not be null")
        })?;
        let value = m.get("Value").cloned().unwrap_or_default();
        check_tag_key(&key)?;
        check_len("Tags.member.value", &value, 0, 256)?;
        crate::wire::params::check_chars(
            "Tags.member.value",
            &value,
            "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            is_tag_char,
        )?;
        if out.iter().any(|t| t.key.eq_ignore_ascii_case(&key)) {
            return Err(ApiError::new(
                Code::InvalidInput,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        out.push(Tag { key, value });
    }
    if out.len() > MAX_TAGS {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
        )));
    }
    Ok(out)
}

/// A reply with a result element.
#[must_use]
pub fn reply(xml: String, audit: Value) -> Reply {
    Reply {
        result_xml: Some(xml),
        result_json: None,
        audit: audit.into(),
    }
}

/// A result-less reply (AWS answers `<XResponse><ResponseMetadata>…`).
#[must_use]
pub fn empty(audit: Value) -> Reply {
    Reply {
        result_xml: None,
        result_json: None,
        audit: audit.into(),
    }
}

/// The user an access-key action is about: `UserName`, or the caller itself (root: `None`).
pub fn key_owner(caller: &Caller, user_name: Option<String>) -> Result<Option<String>, ApiError> {
    if user_name.is_some() {
        return Ok(user_name);
    }
    match &caller.principal {
        Principal::Root => Ok(None),
        Principal::User(u) => Ok(Some(u.name.clone())),
        Principal::Session(c) => {
            if c.principal_id == c.account {
                Ok(None)
            } else if c.kind == crate::token::SessionKind::UserSession {
                Ok(c.arn.rsplit('/').next().map(str::to_owned))
            } else {
                Err(ApiError::validation(
                    "Must specify userName when calling with non-User credentials",
                ))
            }
        }
    }
}
