//! `Tag{Kind}`, `Untag{Kind}` and `List{Kind}Tags`, written once for every tagged entity kind
//! (users and roles today; SAML and OIDC providers and MFA devices take the same three actions).
//! A kind opts in by implementing [`TaggedEntity`]; the names (`TagUser`, `UserName`, …) come
//! from its [`Kind`](crate::iam::repo::Kind) constants.

use serde_json::json;

use super::common::{self, Paging, arn_of, authorize, reply};
use super::condition_keys::RequestFacts;
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::ApiError;
use crate::iam::names::no_such;
use crate::iam::repo::Tagged;
use crate::wire::{Params, XmlWriter};

/// A tagged kind served by the tagging actions.
pub trait TaggedEntity: Tagged {
    /// The entity's ARN.
    fn arn(&self) -> &str;
    /// Its audit summary (`responseElements.after`; no secrets).
    fn summary(&self) -> serde_json::Value;
}

/// The ARN of an entity by name (its real one when it exists, so conditions on its path match)
/// and the entity.
async fn target<K: TaggedEntity>(
    ctx: &Ctx,
    account: &str,
    name: &str,
) -> Result<(String, Option<K>), ApiError> {
    let e = ctx.st.iam.get::<K>(account, name).await?;
    let arn = e.as_ref().map_or_else(
        || arn_of(ctx, account, K::WORD, "/", name),
        |e| e.arn().to_owned(),
    );
    Ok((arn, e))
}

/// `Tag{Kind}`.
pub async fn tag<K: TaggedEntity>(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, K::NAME.param, K::NAME.max)?;
    let new = common::tags(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, _) = target::<K>(ctx, &account, &name).await?;
    let facts = RequestFacts {
        tags: &new,
        ..RequestFacts::default()
    };
    common::authorize_with(ctx, &format!("Tag{}", K::ELEMENT), &arn, &facts).await?;
    let after: K = ctx.st.iam.tag(&account, &name, &new).await?;
    Ok(common::empty(json!({ "after": after.summary() })))
}

/// `Untag{Kind}`.
pub async fn untag<K: TaggedEntity>(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, K::NAME.param, K::NAME.max)?;
    let keys = p.list("TagKeys")?;
    p.finish()?;
    for k in &keys {
        common::check_tag_key(k)?;
    }
    let account = common::account(ctx)?;
    let (arn, _) = target::<K>(ctx, &account, &name).await?;
    let facts = RequestFacts {
        tag_keys: &keys,
        ..RequestFacts::default()
    };
    common::authorize_with(ctx, &format!("Untag{}", K::ELEMENT), &arn, &facts).await?;
    let after: K = ctx.st.iam.untag(&account, &name, &keys).await?;
    Ok(common::empty(json!({ "after": after.summary() })))
}

/// `List{Kind}Tags`.
pub async fn list_tags<K: TaggedEntity>(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = common::name(p, K::NAME.param, K::NAME.max)?;
    let paging = Paging::read(p)?;
    p.finish()?;
    let account = common::account(ctx)?;
    let (arn, e) = target::<K>(ctx, &account, &name).await?;
    authorize(ctx, &format!("List{}Tags", K::ELEMENT), &arn).await?;
    let e = e.ok_or_else(|| no_such(K::WORD, &name))?;
    let (items, next) = paging.page(e.tags().to_vec(), |t| t.key.clone())?;
    let mut w = XmlWriter::new();
    xml::tags(&mut w, &items, true);
    xml::page_end(&mut w, next.as_deref());
    Ok(reply(w.finish(), json!(null)))
}
