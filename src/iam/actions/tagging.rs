//! `Tag{Kind}`, `Untag{Kind}` and `List{Kind}Tags`, written once for every tagged entity kind
//! (users and roles today; SAML and OIDC providers and MFA devices take the same three actions).
//! A kind opts in by implementing [`TaggedEntity`]; the names (`TagUser`, `UserName`, …) come
//! from its [`Kind`](crate::iam::repo::Kind) constants, unless it says otherwise (MFA devices:
//! `TagMFADevice`, addressed by `SerialNumber`).

use serde_json::json;

use super::common::{self, Paging, arn_of, authorize, reply};
use super::condition_keys::RequestFacts;
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::ApiError;
use crate::iam::names::no_such;
use crate::iam::repo::Tagged;
use crate::wire::{Params, XmlWriter};

/// How a request names the entity to tag: its name, and the ARN it gave when the kind is
/// addressed by ARN (MFA devices by `SerialNumber`, providers by their ARN).
#[derive(Debug, Clone)]
pub struct Address {
    /// The entity's name.
    pub name: String,
    /// The ARN as given, for kinds addressed by ARN: it must be the entity's.
    pub arn: Option<String>,
}

/// A tagged kind served by the tagging actions.
pub trait TaggedEntity: Tagged {
    /// The action-name part (`User` in `TagUser`, `UntagUser`, `ListUserTags`).
    const TAG_ACTIONS: &'static str = Self::ELEMENT;

    /// The entity's ARN.
    fn arn(&self) -> &str;
    /// Its audit summary (`responseElements.after`; no secrets).
    fn summary(&self) -> serde_json::Value;

    /// Reads the parameter that names the entity. Default: the kind's name parameter.
    ///
    /// # Errors
    /// `ValidationError` for a malformed name.
    fn address(ctx: &Ctx, p: &mut Params) -> Result<Address, ApiError> {
        let _ = ctx;
        Ok(Address {
            name: common::name(p, Self::NAME.param, Self::NAME.max)?,
            arn: None,
        })
    }

    /// The answer for an entity that does not exist. Default: `NoSuchEntity` by name.
    fn not_found(address: &Address) -> ApiError {
        no_such(Self::WORD, &address.name)
    }
}

/// The ARN of an entity (its real one when it exists, so conditions on its path match; the ARN
/// given for kinds addressed by ARN, which must be the entity's) and the entity.
async fn target<K: TaggedEntity>(
    ctx: &Ctx,
    account: &str,
    at: &Address,
) -> Result<(String, Option<K>), ApiError> {
    let e = ctx
        .st
        .iam
        .get::<K>(account, &at.name)
        .await?
        .filter(|e| at.arn.as_deref().is_none_or(|a| a == e.arn()));
    let arn = match (&e, &at.arn) {
        (Some(e), _) => e.arn().to_owned(),
        (None, Some(given)) => given.clone(),
        (None, None) => arn_of(ctx, account, K::WORD, "/", &at.name),
    };
    Ok((arn, e))
}

/// `Tag{Kind}`.
pub async fn tag<K: TaggedEntity>(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let at = K::address(ctx, p)?;
    let new = common::tags(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, e) = target::<K>(ctx, &account, &at).await?;
    let facts = RequestFacts {
        tags: &new,
        ..RequestFacts::default()
    };
    common::authorize_with(ctx, &format!("Tag{}", K::TAG_ACTIONS), &arn, &facts).await?;
    if e.is_none() {
        return Err(K::not_found(&at));
    }
    let after: K = ctx.st.iam.tag(&account, &at.name, &new).await?;
    Ok(common::empty(json!({ "after": after.summary() })))
}

/// `Untag{Kind}`.
pub async fn untag<K: TaggedEntity>(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let at = K::address(ctx, p)?;
    let keys = p.list("TagKeys")?;
    p.finish()?;
    for k in &keys {
        common::check_tag_key(k)?;
    }
    let account = common::account(ctx)?;
    let (arn, e) = target::<K>(ctx, &account, &at).await?;
    let facts = RequestFacts {
        tag_keys: &keys,
        ..RequestFacts::default()
    };
    common::authorize_with(ctx, &format!("Untag{}", K::TAG_ACTIONS), &arn, &facts).await?;
    if e.is_none() {
        return Err(K::not_found(&at));
    }
    let after: K = ctx.st.iam.untag(&account, &at.name, &keys).await?;
    Ok(common::empty(json!({ "after": after.summary() })))
}

/// `List{Kind}Tags`.
pub async fn list_tags<K: TaggedEntity>(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let at = K::address(ctx, p)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, e) = target::<K>(ctx, &account, &at).await?;
    authorize(ctx, &format!("List{}Tags", K::TAG_ACTIONS), &arn).await?;
    let e = e.ok_or_else(|| K::not_found(&at))?;
    let (items, next) = paging.page(e.tags().to_vec(), |t| t.key.clone())?;
    let mut w = XmlWriter::new();
    xml::tags(&mut w, &items, true);
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}
