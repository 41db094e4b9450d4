//! SAML providers: `CreateSAMLProvider`, `UpdateSAMLProvider`, `GetSAMLProvider`,
//! `ListSAMLProviders`, `DeleteSAMLProvider`, and tagging (`Tag/UntagSAMLProvider`,
//! `ListSAMLProviderTags`, the generic ones addressed by `SAMLProviderArn`).
//!
//! A provider is `arn:aws:iam::A:saml-provider/<name>`. Its metadata (1,000–10,000,000
//! characters) is parsed at write time into the entity id and signing certificates that
//! `AssumeRoleWithSAML` uses (metadata without a signing certificate is refused); the raw
//! document is stored apart and returned only by `GetSAMLProvider`. `AssertionEncryptionMode`
//! (`Allowed`|`Required`) and up to two private keys (`AddPrivateKey`, PEM, RSA; sealed at
//! rest; `RemovePrivateKey` by `KeyId`) serve encrypted assertions.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::json;

use super::common::{self, authorize, reply};
use super::condition_keys::RequestFacts;
use super::tagging::{Address, TaggedEntity};
use super::xml;
use crate::action::{Ctx, Reply};
use crate::error::{ApiError, Code};
use crate::iam::model::{Origin, SamlPrivateKey, SamlProvider, Tag};
use crate::iam::names::{is_saml_provider_name, parse_saml_provider_arn};
use crate::idp::saml::metadata::{self, IdpMetadata};
use crate::secret::SecretString;
use crate::wire::params::check_len;
use crate::wire::xml::iso8601;
use crate::wire::{Params, XmlWriter};

/// Quota: providers per account.
pub const MAX_PROVIDERS: usize = 100;
/// Quota: private keys per provider.
pub const MAX_PRIVATE_KEYS: usize = 2;

fn summary(p: &SamlProvider) -> serde_json::Value {
    json!({
        "arn": p.arn, "entityId": p.entity_id, "signingCertificates": p.signing_certs.len(),
        "validUntil": p.valid_until.map(iso8601),
        "assertionEncryptionMode": mode(p),
        "privateKeys": p.private_keys.iter().map(|k| k.key_id.clone()).collect::<Vec<_>>(),
        "tags": p.tags.iter().map(|t| (t.key.clone(), t.value.clone()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    })
}

fn mode(p: &SamlProvider) -> &'static str {
    if p.encryption_required {
        "Required"
    } else {
        "Allowed"
    }
}

/// Parses and checks a metadata document.
///
/// # Errors
/// `ValidationError` for its length, `InvalidInput` ("Unable to parse metadata") otherwise.
pub fn check_metadata(doc: &str) -> Result<IdpMetadata, ApiError> {
    let (min, max) = metadata::METADATA_CHARS;
    check_len("SAMLMetadataDocument", doc, min, max)?;
    metadata::parse(doc).map_err(|e| {
        ApiError::new(Code::InvalidInput, "Unable to parse metadata").with_detail(e.to_string())
    })
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if is_saml_provider_name(name) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w._-]+ with length 1 to 128"
        )))
    }
}

/// Reads `AssertionEncryptionMode`: `Some(true)` for `Required`.
fn read_mode(p: &mut Params) -> Result<Option<bool>, ApiError> {
    match p.opt("AssertionEncryptionMode").as_deref() {
        None => Ok(None),
        Some("Required") => Ok(Some(true)),
        Some("Allowed") => Ok(Some(false)),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'assertionEncryptionMode' failed \
             to satisfy constraint: Member must satisfy enum value set: [Required, Allowed]"
        ))),
    }
}

/// Reads and checks `AddPrivateKey`: a PEM RSA private key of 1–16384 characters.
fn read_private_key(p: &mut Params) -> Result<Option<SecretString>, ApiError> {
    let Some(pem) = p.opt("AddPrivateKey") else {
        return Ok(None);
    };
    let pem = SecretString::new(pem);
    check_len("AddPrivateKey", pem.expose(), 1, 16384)?;
    let key = openssl::pkey::PKey::private_key_from_pem(pem.expose().as_bytes())
        .map_err(|_| ApiError::new(Code::InvalidInput, "Invalid private key"))?;
    if key.id() != openssl::pkey::Id::RSA || key.bits() < 2048 {
        return Err(ApiError::new(
            Code::InvalidInput,
            "The private key must be an RSA key of at least 2048 bits",
        ));
    }
    Ok(Some(pem))
}

/// A new key id: 26 characters of `[A-Z0-9]`.
fn new_key_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..26)
        .map(|_| {
            char::from(
                CHARS
                    .get(rng.random_range(0..CHARS.len()))
                    .copied()
                    .unwrap_or(b'A'),
            )
        })
        .collect()
}

fn seal_key(
    ctx: &Ctx,
    arn: &str,
    pem: &SecretString,
    now: DateTime<Utc>,
) -> Result<SamlPrivateKey, ApiError> {
    let key_id = new_key_id();
    let owner = crate::sts::actions::assume_role_with_saml::private_key_owner(arn, &key_id);
    let sealed_pem = ctx
        .st
        .iam
        .at_rest()
        .seal(&owner, pem)
        .map_err(ApiError::internal)?;
    Ok(SamlPrivateKey {
        key_id,
        sealed_pem,
        timestamp: now,
    })
}

/// `SAMLProviderArn`, checked: (ARN, name).
fn provider_arn(ctx: &Ctx, p: &mut Params) -> Result<(String, String), ApiError> {
    common::provider_arn(
        ctx,
        p,
        "SAMLProviderArn",
        parse_saml_provider_arn,
        not_found,
    )
}

fn not_found(arn: &str) -> ApiError {
    ApiError::new(
        Code::NoSuchEntity,
        format!("Manifest not found for arn {arn}"),
    )
}

async fn require(ctx: &Ctx, arn: &str) -> Result<SamlProvider, ApiError> {
    ctx.st
        .iam
        .saml_provider_by_arn(arn)
        .await?
        .map(std::sync::Arc::unwrap_or_clone)
        .ok_or_else(|| not_found(arn))
}

/// A new provider record from parsed metadata (the ARN is set by the repository).
#[must_use]
pub fn new_provider(
    account: &str,
    name: &str,
    meta: &IdpMetadata,
    tags: Vec<Tag>,
    now: DateTime<Utc>,
    origin: Origin,
) -> SamlProvider {
    SamlProvider {
        account: account.to_owned(),
        name: name.to_owned(),
        arn: String::new(),
        entity_id: meta.entity_id.clone(),
        signing_certs: meta
            .signing_certs
            .iter()
            .map(|c| STANDARD.encode(c))
            .collect(),
        valid_until: meta.valid_until,
        uuid: uuid::Uuid::new_v4().to_string(),
        encryption_required: false,
        private_keys: Vec::new(),
        tags,
        create_date: now,
        origin,
    }
}

fn required_needs_key(p: &SamlProvider) -> Result<(), ApiError> {
    if p.encryption_required && p.private_keys.is_empty() {
        return Err(ApiError::new(
            Code::InvalidInput,
            "AssertionEncryptionMode Required needs a private key (AddPrivateKey)",
        ));
    }
    Ok(())
}

/// `CreateSAMLProvider`.
pub async fn create(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let name = p.req("Name")?;
    let doc = p.req("SAMLMetadataDocument")?;
    let tags = common::tags(p)?;
    let required = read_mode(p)?;
    let key = read_private_key(p)?;
    p.finish()?;
    check_name(&name)?;
    let meta = check_metadata(&doc)?;
    let account = common::account(ctx)?;
    let now = ctx.env.now;
    let mut record = new_provider(&account, &name, &meta, tags, now, Origin::Api);
    let arn = common::arn_of(ctx, &account, "saml-provider", "/", &name);
    common::authorize_with(
        ctx,
        "CreateSAMLProvider",
        &arn,
        &RequestFacts {
            tags: &record.tags,
            ..RequestFacts::default()
        },
    )
    .await?;
    record.encryption_required = required.unwrap_or(false);
    if let Some(k) = &key {
        record.private_keys.push(seal_key(ctx, &arn, k, now)?);
    }
    required_needs_key(&record)?;
    if ctx.st.iam.count::<SamlProvider>(&account).await? >= MAX_PROVIDERS {
        return Err(ApiError::new(
            Code::LimitExceeded,
            format!("Cannot exceed quota for SAMLProvidersPerAccount: {MAX_PROVIDERS}"),
        ));
    }
    let created = ctx
        .st
        .iam
        .create_saml_provider(record, &doc)
        .await
        .map_err(|e| match e {
            crate::iam::repo::Error::AlreadyExists { .. } => ApiError::new(
                Code::EntityAlreadyExists,
                format!("SAMLProvider {name} already exists."),
            ),
            e => e.into(),
        })?;
    let mut w = XmlWriter::new();
    w.elem("SAMLProviderArn", &created.arn);
    xml::tags(&mut w, &created.tags, false);
    Ok(reply(w.finish(), json!({ "after": summary(&created) })))
}

/// `UpdateSAMLProvider`: new metadata, encryption mode, a private key added or removed.
pub async fn update(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (arn, name) = provider_arn(ctx, p)?;
    let doc = p.opt("SAMLMetadataDocument");
    let required = read_mode(p)?;
    let add = read_private_key(p)?;
    let remove = p.opt("RemovePrivateKey");
    p.finish()?;
    if let Some(r) = &remove {
        check_len("RemovePrivateKey", r, 22, 64)?;
    }
    let meta = doc.as_deref().map(check_metadata).transpose()?;
    authorize(ctx, "UpdateSAMLProvider", &arn).await?;
    let before = require(ctx, &arn).await?;
    if let Some(r) = &remove
        && !before.private_keys.iter().any(|k| &k.key_id == r)
    {
        return Err(ApiError::new(
            Code::InvalidInput,
            format!("The private key {r} is not a key of this provider"),
        ));
    }
    let keys_after =
        before.private_keys.len() + usize::from(add.is_some()) - usize::from(remove.is_some());
    if required.unwrap_or(before.encryption_required) && keys_after == 0 {
        return Err(ApiError::new(
            Code::InvalidInput,
            "AssertionEncryptionMode Required needs a private key (AddPrivateKey)",
        ));
    }
    let account = common::account(ctx)?;
    let added = add
        .as_ref()
        .map(|k| seal_key(ctx, &arn, k, ctx.env.now))
        .transpose()?;
    let after = ctx
        .st
        .iam
        .update_saml_provider(&account, &name, doc.as_deref(), |x| {
            if let Some(m) = &meta {
                x.entity_id.clone_from(&m.entity_id);
                x.signing_certs = m.signing_certs.iter().map(|c| STANDARD.encode(c)).collect();
                x.valid_until = m.valid_until;
            }
            if let Some(r) = &required {
                x.encryption_required = *r;
            }
            if let Some(r) = &remove {
                x.private_keys.retain(|k| &k.key_id != r);
            }
            if let Some(k) = &added {
                if x.private_keys.len() >= MAX_PRIVATE_KEYS {
                    return Err(crate::iam::repo::Error::LimitExceeded(
                        crate::iam::repo::Limit::PrivateKeysPerSamlProvider(MAX_PRIVATE_KEYS),
                    ));
                }
                x.private_keys.push(k.clone());
            }
            Ok(())
        })
        .await?;
    let mut w = XmlWriter::new();
    w.elem("SAMLProviderArn", &after.arn);
    Ok(reply(
        w.finish(),
        json!({ "before": summary(&before), "after": summary(&after) }),
    ))
}

/// `GetSAMLProvider`.
pub async fn get(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (arn, name) = provider_arn(ctx, p)?;
    p.finish()?;
    authorize(ctx, "GetSAMLProvider", &arn).await?;
    let o = require(ctx, &arn).await?;
    let doc = ctx
        .st
        .iam
        .saml_metadata(&o.account, &name)
        .await?
        .unwrap_or_default();
    let mut w = XmlWriter::new();
    w.elem("SAMLProviderUUID", &o.uuid)
        .elem("SAMLMetadataDocument", &doc)
        .elem("CreateDate", &iso8601(o.create_date));
    if let Some(v) = o.valid_until {
        w.elem("ValidUntil", &iso8601(v));
    }
    xml::tags(&mut w, &o.tags, false);
    w.elem("AssertionEncryptionMode", mode(&o));
    w.start("PrivateKeyList");
    for k in &o.private_keys {
        w.start("member")
            .elem("KeyId", &k.key_id)
            .elem("Timestamp", &iso8601(k.timestamp))
            .end("member");
    }
    w.end("PrivateKeyList");
    Ok(reply(w.finish(), json!(null)))
}

/// `ListSAMLProviders`.
pub async fn list(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    p.finish()?;
    let account = common::account(ctx)?;
    let all = common::arn_of(ctx, &account, "saml-provider", "/", "*");
    authorize(ctx, "ListSAMLProviders", &all).await?;
    let providers = ctx.st.iam.all::<SamlProvider>(&account).await?;
    let mut w = XmlWriter::new();
    w.start("SAMLProviderList");
    for o in &providers {
        w.start("member").elem("Arn", &o.arn);
        if let Some(v) = o.valid_until {
            w.elem("ValidUntil", &iso8601(v));
        }
        w.elem("CreateDate", &iso8601(o.create_date)).end("member");
    }
    w.end("SAMLProviderList");
    Ok(reply(w.finish(), json!(null)))
}

/// `DeleteSAMLProvider`.
pub async fn delete(ctx: &Ctx, p: &mut Params) -> Result<Reply, ApiError> {
    let (arn, name) = provider_arn(ctx, p)?;
    p.finish()?;
    authorize(ctx, "DeleteSAMLProvider", &arn).await?;
    let account = common::account(ctx)?;
    require(ctx, &arn).await?;
    let before = ctx.st.iam.delete_saml_provider(&account, &name).await?;
    Ok(common::empty(json!({ "before": summary(&before) })))
}

/// Tagging (`Tag`/`Untag`/`ListSAMLProviderTags`) is the generic one, addressed by
/// `SAMLProviderArn`.
impl TaggedEntity for SamlProvider {
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
