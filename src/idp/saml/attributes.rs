//! AWS's reading of a verified assertion (sts-spec §6): the `Role` pairs, the session
//! attributes (`RoleSessionName`, `SessionDuration`, `PrincipalTag:*`, `TransitiveTagKeys`,
//! `SourceIdentity`), the response's `SubjectType` and `NameQualifier`, and the `saml:*`
//! condition keys of the trust evaluation. Pure.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::Digest;

use super::verify::Verified;
use crate::policy::Context;

/// The attribute-name prefix of AWS's attributes.
pub const AWS_ATTRIBUTES: &str = "https://aws.amazon.com/SAML/Attributes/";
const ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
const ROLE_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
const SESSION_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
const PRINCIPAL_TAG: &str = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:";
const TRANSITIVE_TAG_KEYS: &str = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys";
const SOURCE_IDENTITY: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";
const NAMEID_FORMAT_PREFIX: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:";

/// One `role-arn,provider-arn` value of the `Role` attribute (either order in the assertion).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RolePair {
    /// `arn:aws:iam::A:role/…`.
    pub role_arn: String,
    /// `arn:aws:iam::A:saml-provider/…`.
    pub provider_arn: String,
}

/// Every well-formed pair of the `Role` attribute (values that are not one role ARN and one
/// SAML provider ARN are skipped), duplicates removed, in order.
#[must_use]
pub fn role_pairs(v: &Verified) -> Vec<RolePair> {
    let mut out: Vec<RolePair> = Vec::new();
    for value in values(v, ROLE) {
        let mut parts = value.split(',').map(str::trim);
        let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let is_role = |s: &str| {
            crate::iam::names::parse_arn(s)
                .is_some_and(|x| x.service == "iam" && x.resource.starts_with("role/"))
        };
        let is_provider = |s: &str| crate::iam::names::parse_saml_provider_arn(s).is_some();
        let pair = if is_role(a) && is_provider(b) {
            RolePair {
                role_arn: a.to_owned(),
                provider_arn: b.to_owned(),
            }
        } else if is_role(b) && is_provider(a) {
            RolePair {
                role_arn: b.to_owned(),
                provider_arn: a.to_owned(),
            }
        } else {
            continue;
        };
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

fn values<'a>(v: &'a Verified, name: &'a str) -> impl Iterator<Item = &'a String> + 'a {
    v.attributes
        .iter()
        .filter(move |a| a.name == name)
        .flat_map(|a| a.values.iter())
}

/// A refused AWS attribute (`InvalidIdentityToken`, in AWS's words where it has them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    /// No `RoleSessionName`.
    #[error("RoleSessionName is required in AuthnResponse")]
    SessionNameMissing,
    /// A `RoleSessionName` outside `[a-zA-Z_0-9+=,.@-]{2,64}` (or several).
    #[error("RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{{2,64}}")]
    SessionNameInvalid,
    /// `SessionDuration` not an integer in 900..=43200.
    #[error("SessionDuration in AuthnResponse must be an integer between 900 and 43200")]
    SessionDuration,
    /// A `PrincipalTag:` attribute or `TransitiveTagKeys` that breaks the tag rules.
    #[error("session tags in AuthnResponse: {0}")]
    Tags(String),
    /// A `SourceIdentity` outside 2–64 `[\w+=,.@-]` or starting with `aws:`.
    #[error(
        "SourceIdentity in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{{2,64}} and not start with aws:"
    )]
    SourceIdentity,
}

/// The session attributes of an assertion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionAttributes {
    /// `RoleSessionName`.
    pub session_name: String,
    /// `SessionDuration`, seconds.
    pub session_duration: Option<i64>,
    /// `PrincipalTag:K` → tags, case preserved.
    pub tags: Vec<(String, String)>,
    /// `TransitiveTagKeys`.
    pub transitive: Vec<String>,
    /// `SourceIdentity`.
    pub source_identity: Option<String>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

fn single<'a>(v: &'a Verified, name: &'a str) -> Result<Option<&'a String>, ()> {
    let mut it = values(v, name);
    match (it.next(), it.next()) {
        (None, _) => Ok(None),
        (Some(one), None) => Ok(Some(one)),
        _ => Err(()),
    }
}

/// Reads the session attributes.
///
/// # Errors
/// [`AttributeError`] naming the attribute.
pub fn session_attributes(v: &Verified) -> Result<SessionAttributes, AttributeError> {
    let name = single(v, ROLE_SESSION_NAME)
        .map_err(|()| AttributeError::SessionNameInvalid)?
        .ok_or(AttributeError::SessionNameMissing)?;
    if !(2..=64).contains(&name.len()) || !name.chars().all(is_name_char) {
        return Err(AttributeError::SessionNameInvalid);
    }
    let session_duration = single(v, SESSION_DURATION)
        .map_err(|()| AttributeError::SessionDuration)?
        .map(|d| {
            d.parse::<i64>()
                .map_err(|_| AttributeError::SessionDuration)
        })
        .transpose()?;
    if session_duration.is_some_and(|d| !(900..=43200).contains(&d)) {
        return Err(AttributeError::SessionDuration);
    }
    let mut tags: Vec<(String, String)> = Vec::new();
    for a in &v.attributes {
        let Some(key) = a.name.strip_prefix(PRINCIPAL_TAG) else {
            continue;
        };
        let bad = |why: &str| AttributeError::Tags(format!("PrincipalTag:{key}: {why}"));
        if key.is_empty() || key.chars().count() > 128 || !key.chars().all(is_tag_char) {
            return Err(bad("invalid key"));
        }
        let [value] = a.values.as_slice() else {
            return Err(bad("exactly one value is required"));
        };
        if value.chars().count() > 256 || !value.chars().all(|c| is_tag_char(c) || c == '*') {
            return Err(bad("invalid value"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(bad("the aws: prefix is reserved"));
        }
        if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(bad("duplicate key"));
        }
        tags.push((key.to_owned(), value.clone()));
    }
    if tags.len() > 50 {
        return Err(AttributeError::Tags("more than 50 session tags".into()));
    }
    let mut transitive = Vec::new();
    for k in values(v, TRANSITIVE_TAG_KEYS) {
        if !tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)) {
            return Err(AttributeError::Tags(format!(
                "transitive key {k} is not a PrincipalTag of the assertion"
            )));
        }
        if !transitive.contains(k) {
            transitive.push(k.clone());
        }
    }
    let source_identity = single(v, SOURCE_IDENTITY)
        .map_err(|()| AttributeError::SourceIdentity)?
        .cloned();
    if let Some(s) = &source_identity
        && (!(2..=64).contains(&s.len())
            || !s.chars().all(is_name_char)
            || s.to_ascii_lowercase().starts_with("aws:"))
    {
        return Err(AttributeError::SourceIdentity);
    }
    Ok(SessionAttributes {
        session_name: name.clone(),
        session_duration,
        tags,
        transitive,
        source_identity,
    })
}

/// The response's `SubjectType` and `saml:sub_type`: the NameID format with SAML 2.0's prefix
/// removed (`persistent`, `transient`), other formats verbatim, `unspecified` when absent.
#[must_use]
pub fn subject_type(v: &Verified) -> String {
    match &v.name_id.format {
        Some(f) => f.strip_prefix(NAMEID_FORMAT_PREFIX).unwrap_or(f).to_owned(),
        None => "unspecified".to_owned(),
    }
}

/// `NameQualifier` and `saml:namequalifier`: `Base64(SHA1(Issuer + AccountId + "/" + Name))`.
#[must_use]
pub fn name_qualifier(issuer: &str, account: &str, provider_name: &str) -> String {
    let mut h = sha1::Sha1::new();
    h.update(issuer.as_bytes());
    h.update(account.as_bytes());
    h.update(b"/");
    h.update(provider_name.as_bytes());
    STANDARD.encode(h.finalize())
}

/// Attribute names → `saml:` keys, and whether the key is multi-valued.
const MAPPED: &[(&str, &str, bool)] = &[
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
        "edupersonaffiliation",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.2",
        "edupersonnickname",
        true,
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.3", "edupersonorgdn", false),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.4",
        "edupersonorgunitdn",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.5",
        "edupersonprimaryaffiliation",
        false,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
        "edupersonprincipalname",
        false,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.7",
        "edupersonentitlement",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.8",
        "edupersonprimaryorgunitdn",
        false,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
        "edupersonscopedaffiliation",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.10",
        "edupersontargetedid",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.11",
        "edupersonassurance",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.2",
        "eduorghomepageuri",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.3",
        "eduorgidentityauthnpolicyuri",
        true,
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.4", "eduorglegalname", true),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.5",
        "eduorgsuperioruri",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.6",
        "eduorgwhitepagesuri",
        true,
    ),
    ("urn:oid:2.5.4.3", "cn", false),
    ("urn:oid:2.5.4.4", "surname", false),
    ("urn:oid:2.5.4.42", "givenName", false),
    ("urn:oid:2.5.4.41", "name", false),
    ("urn:oid:2.5.4.45", "x500UniqueIdentifier", false),
    ("urn:oid:0.9.2342.19200300100.1.1", "uid", false),
    ("urn:oid:0.9.2342.19200300100.1.3", "mail", false),
    (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "name",
        false,
    ),
    (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "mail",
        false,
    ),
    (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        "givenName",
        false,
    ),
    (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        "surname",
        false,
    ),
    (
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarygroupsid",
        "primaryGroupSID",
        false,
    ),
];

/// Adds the assertion's `saml:*` keys to a trust evaluation's context: `saml:aud` (the
/// Recipient), `iss`, `sub`, `sub_type`, `namequalifier`, `doc`, and the mapped eduPerson,
/// eduOrg, X.500 and AD attributes (lists where AWS makes them lists).
pub fn fill_context(ctx: &mut Context, v: &Verified, account: &str, provider_name: &str) {
    ctx.set_lc("saml:aud", v.recipient.clone());
    ctx.set_lc("saml:iss", v.issuer.clone());
    ctx.set_lc("saml:sub", v.name_id.value.clone());
    ctx.set_lc("saml:sub_type", subject_type(v));
    ctx.set_lc(
        "saml:namequalifier",
        name_qualifier(&v.issuer, account, provider_name),
    );
    ctx.set_lc("saml:doc", format!("{account}/{provider_name}"));
    for (attr, key, multi) in MAPPED {
        let vals: Vec<String> = values(v, attr).cloned().collect();
        if vals.is_empty() {
            continue;
        }
        let key = format!("saml:{key}");
        if *multi {
            ctx.set_multi(&key, vals);
        } else if let Some(first) = vals.into_iter().next() {
            ctx.set(&key, first);
        }
    }
}

/// The keys that stay visible to the session's later calls (sts-spec §5: `saml:namequalifier`,
/// `saml:sub`, `saml:sub_type`), within the token's bounds on federation claims.
#[must_use]
pub fn lasting_claims(v: &Verified, account: &str, provider_name: &str) -> Vec<(String, String)> {
    let mut out = vec![
        (
            "saml:namequalifier".to_owned(),
            name_qualifier(&v.issuer, account, provider_name),
        ),
        ("saml:sub".to_owned(), v.name_id.value.clone()),
        ("saml:sub_type".to_owned(), subject_type(v)),
    ];
    out.retain(|(_, val)| val.len() <= crate::token::claims::MAX_FEDERATION_CLAIM_LEN);
    out
}
