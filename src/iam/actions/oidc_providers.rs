//! OpenID Connect providers: `CreateOpenIDConnectProvider`, `GetOpenIDConnectProvider`,
//! `ListOpenIDConnectProviders`, `DeleteOpenIDConnectProvider`,
//! `Add/RemoveClientIDTo/FromOpenIDConnectProvider`, `UpdateOpenIDConnectProviderThumbprint`,
//! `Tag/UntagOpenIDConnectProvider` and `ListOpenIDConnectProviderTags`.
//!
//! A provider is named by its ARN, `arn:aws:iam::A:oidc-provider/<URL without scheme>`. URLs
//! must be `https://` (no port, query or fragment), except under `[oidc]
//! insecure_http_prefixes` (decision 12), where `http://` and a port are allowed.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::common::{self, authorize, reply};
use super::condition_keys::RequestFacts;
use super::tagging::{Address, TaggedEntity};
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::{ApiError, Code};
use crate::iam::model::{OidcProvider, Origin, Tag};
use crate::iam::names::parse_oidc_provider_arn;
use crate::wire::params::check_len;
use crate::wire::xml::iso8601;
use crate::wire::{Params, XmlWriter};

/// Quota: providers per account.
pub const MAX_PROVIDERS: usize = 100;
/// Quota: client ids per provider.
pub const MAX_CLIENT_IDS: usize = 100;
/// Quota: thumbprints per provider.
pub const MAX_THUMBPRINTS: usize = 5;

fn summary(p: &OidcProvider) -> serde_json::Value {
    json!({
        "arn": p.arn, "url": p.url, "clientIDList": p.client_ids,
        "thumbprintList": p.thumbprints,
        "tags": p.tags.iter().map(|t| (t.key.clone(), t.value.clone()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    })
}

/// Checks a provider URL: 1..=255, `https://host[/path]` without port, query or fragment, or
/// `http://` (port allowed) under an insecure prefix.
///
/// # Errors
/// `ValidationError` / `InvalidInput` in AWS's words.
pub fn check_url(url: &str, insecure_http_prefixes: &[String]) -> Result<(), ApiError> {
    check_len("Url", url, 1, 255)?;
    let invalid = || ApiError::new(Code::InvalidInput, "Invalid Open ID Connect Provider URL");
    let insecure = crate::idp::oidc::keys::url_allowed(url, insecure_http_prefixes)
        && url.starts_with("http://");
    if !url.starts_with("https://") && !insecure {
        return Err(invalid().with_detail(
            "the URL must start with https:// (or be under [oidc] insecure_http_prefixes)",
        ));
    }
    let rest = crate::idp::oidc::provider_name(url);
    let host = rest.split('/').next().unwrap_or_default();
    let ok_chars = rest
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '*' | '@' | '\\'));
    if host.is_empty() || !ok_chars || rest.contains("//") || (host.contains(':') && !insecure) {
        return Err(invalid());
    }
    Ok(())
}

fn check_client_id(c: &str) -> Result<(), ApiError> {
    check_len("ClientID", c, 1, 255)
}

fn check_thumbprints(t: &[String]) -> Result<(), ApiError> {
    if t.len() > MAX_THUMBPRINTS {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'thumbprintList' failed to satisfy \
             constraint: Member must have length less than or equal to {MAX_THUMBPRINTS}"
        )));
    }
    for x in t {
        if x.len() != 40 || !x.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{x}' at 'thumbprintList' failed to satisfy \
                 constraint: Member must have length greater than or equal to 40"
            )));
        }
    }
    Ok(())
}

/// `OpenIDConnectProviderArn`, checked: (ARN, name).
fn provider_arn(ctx: &Ctx, p: &mut Params) -> Result<(String, String), ApiError> {
    common::provider_arn(
        ctx,
        p,
        "OpenIDConnectProviderArn",
        parse_oidc_provider_arn,
        not_found,
    )
}

fn not_found(arn: &str) -> ApiError {
    ApiError::new(
        Code::NoSuchEntity,
        format!("OpenIDConnect Provider not found for arn {arn}"),
    )
}

async fn require(ctx: &Ctx, arn: &str) -> Result<OidcProvider, ApiError> {
    ctx.st
        .iam
        .oidc_provider_by_arn(arn)
        .await?
        .ok_or_else(|| not_found(arn))
}

/// A new provider record (the ARN is set by the repository).
#[must_use]
pub fn new_provider(
    account: &str,
    url: &str,
    client_ids: Vec<String>,
    thumbprints: Vec<String>,
    tags: Vec<Tag>,
    now: DateTime<Utc>,
    origin: Origin,
) -> OidcProvider {
    OidcProvider {
        account: account.to_owned(),
        url: url.to_owned(),
        name: crate::idp::oidc::provider_name(url).to_owned(),
        arn: String::new(),
        client_ids,
        thumbprints,
        tags,
        create_date: now,
        origin,
    }
}

/// `CreateOpenIDConnectProvider`.
pub async fn create(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let url = p.req("Url")?;
    let mut client_ids = p.list("ClientIDList")?;
    let thumbprints = p.list("ThumbprintList")?;
    let tags = common::tags(p)?;
    p.finish()?;
    check_url(&url, &ctx.st.config.oidc.insecure_http_prefixes)?;
    for c in &client_ids {
        check_client_id(c)?;
    }
    client_ids.dedup();
    if client_ids.len() > MAX_CLIENT_IDS {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"),
        ));
    }
    check_thumbprints(&thumbprints)?;
    let account = common::account(ctx)?;
    let record = new_provider(
        &account,
        &url,
        client_ids,
        thumbprints,
        tags,
        ctx.env.now,
        Origin::Api,
    );
    let arn = common::arn_of(ctx, &account, "oidc-provider", "/", &record.name);
    common::authorize_with(
        ctx,
        "CreateOpenIDConnectProvider",
        &arn,
        &RequestFacts {
            tags: &record.tags,
            ..RequestFacts::default()
        },
    )
    .await?;
    if ctx.st.iam.count::<OidcProvider>(&account).await? >= MAX_PROVIDERS {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}"),
        ));
    }
    let created = ctx.st.iam.create(record).await.map_err(|e| match e {
        crate::iam::repo::Error::AlreadyExists { .. } => ApiError::new(
            Code::EntityAlreadyExists,
            format!("Provider with url {url} already exists."),
        ),
        e => e.into(),
    })?;
    let mut w = XmlWriter::new();
    w.elem("OpenIDConnectProviderArn", &created.arn);
    xml::tags(&mut w, &created.tags, false);
    Ok(reply(w.finish(), json!({ "after": summary(&created) })))
}

/// `GetOpenIDConnectProvider`.
pub async fn get(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (arn, _) = provider_arn(ctx, p)?;
    p.finish()?;
    authorize(ctx, "GetOpenIDConnectProvider", &arn).await?;
    let o = require(ctx, &arn).await?;
    let mut w = XmlWriter::new();
    w.elem("Url", &o.name);
    w.start("ClientIDList");
    for c in &o.client_ids {
        w.elem("member", c);
    }
    w.end("ClientIDList").start("ThumbprintList");
    for t in &o.thumbprints {
        w.elem("member", t);
    }
    w.end("ThumbprintList")
        .elem("CreateDate", &iso8601(o.create_date));
    xml::tags(&mut w, &o.tags, false);
    Ok(reply(w.finish(), json!(null)))
}

/// `ListOpenIDConnectProviders`.
pub async fn list(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    p.finish()?;
    let account = common::account(ctx)?;
    let all = common::arn_of(ctx, &account, "oidc-provider", "/", "*");
    authorize(ctx, "ListOpenIDConnectProviders", &all).await?;
    let providers = ctx.st.iam.all::<OidcProvider>(&account).await?;
    let mut w = XmlWriter::new();
    w.start("OpenIDConnectProviderList");
    for o in &providers {
        w.start("member").elem("Arn", &o.arn).end("member");
    }
    w.end("OpenIDConnectProviderList");
    Ok(reply(w.finish(), json!(null)))
}

/// `DeleteOpenIDConnectProvider`.
pub async fn delete(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (arn, name) = provider_arn(ctx, p)?;
    p.finish()?;
    authorize(ctx, "DeleteOpenIDConnectProvider", &arn).await?;
    let account = common::account(ctx)?;
    require(ctx, &arn).await?;
    let before = ctx
        .st
        .iam
        .delete_if(&account, &name, |_: &OidcProvider| None)
        .await?;
    Ok(common::empty(json!({ "before": summary(&before) })))
}

/// Read-modify-write of a provider named by `OpenIDConnectProviderArn`.
async fn change(
    ctx: &Ctx,
    action: &str,
    arn: &str,
    name: &str,
    f: impl FnMut(&mut OidcProvider, &mut crate::store::Batch) -> Result<(), crate::iam::repo::Error>,
) -> Result<Reply, ApiError> {
    authorize(ctx, action, arn).await?;
    let before = require(ctx, arn).await?;
    let account = common::account(ctx)?;
    let after: OidcProvider = ctx.st.iam.update(&account, name, f).await?;
    Ok(common::empty(
        json!({ "before": summary(&before), "after": summary(&after) }),
    ))
}

/// `AddClientIDToOpenIDConnectProvider` (adding a present id changes nothing, as in AWS).
pub async fn add_client_id(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (arn, name) = provider_arn(ctx, p)?;
    let id = p.req("ClientID")?;
    p.finish()?;
    check_client_id(&id)?;
    let before = require(ctx, &arn).await?;
    if !before.client_ids.contains(&id) && before.client_ids.len() >= MAX_CLIENT_IDS {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"),
        ));
    }
    change(
        ctx,
        "AddClientIDToOpenIDConnectProvider",
        &arn,
        &name,
        |o, _| {
            if !o.client_ids.contains(&id) {
                o.client_ids.push(id.clone());
            }
            Ok(())
        },
    )
    .await
}

/// `RemoveClientIDFromOpenIDConnectProvider` (removing an absent id changes nothing).
pub async fn remove_client_id(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (arn, name) = provider_arn(ctx, p)?;
    let id = p.req("ClientID")?;
    p.finish()?;
    check_client_id(&id)?;
    change(
        ctx,
        "RemoveClientIDFromOpenIDConnectProvider",
        &arn,
        &name,
        |o, _| {
            o.client_ids.retain(|c| c != &id);
            Ok(())
        },
    )
    .await
}

/// `UpdateOpenIDConnectProviderThumbprint` (replaces the list).
pub async fn update_thumbprint(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (arn, name) = provider_arn(ctx, p)?;
    let thumbprints = p.list("ThumbprintList")?;
    p.finish()?;
    check_thumbprints(&thumbprints)?;
    change(
        ctx,
        "UpdateOpenIDConnectProviderThumbprint",
        &arn,
        &name,
        |o, _| {
            o.thumbprints.clone_from(&thumbprints);
            Ok(())
        },
    )
    .await
}

/// Tagging (`Tag`/`Untag`/`ListOpenIDConnectProviderTags`) is the generic one, addressed by
/// `OpenIDConnectProviderArn`.
impl TaggedEntity for OidcProvider {
    fn arn(&self) -> &str {
        &self.arn
    }

    fn summary(&self) -> serde_json::Value {
        summary(self)
    }

    fn address(ctx: &Ctx, p: &mut Params) -> Result<Address, ApiError> {
        let (arn, name) = provider_arn(ctx, p)?;
        Ok(Address {
            name,
            arn: Some(arn),
        })
    }

    fn not_found(address: &Address) -> ApiError {
        not_found(address.arn.as_deref().unwrap_or(&address.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_except_under_insecure_prefixes() {
        let none: Vec<String> = Vec::new();
        let local = vec!["http://127.0.0.1:".to_owned()];
        assert!(check_url("https://token.actions.githubusercontent.com", &none).is_ok());
        assert!(check_url("https://oidc.eks.us-east-1.amazonaws.com/id/ABC", &none).is_ok());
        assert!(check_url("http://127.0.0.1:8080/gh", &none).is_err());
        assert!(check_url("http://127.0.0.1:8080/gh", &local).is_ok());
        for bad in [
            "https://host:8443",
            "https://host/x?y",
            "https://host/#f",
            "https://",
            "https://a//b",
            "ftp://host",
        ] {
            assert!(check_url(bad, &local).is_err(), "{bad}");
        }
    }
}
