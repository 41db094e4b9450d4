//! Logins: the one dispatch point from a `Logins` entry to the verifier of its provider kind.
//!
//! A login's key names its provider as AWS keys it: an IAM OIDC provider by its URL without the
//! scheme (`idp.example.com/path`), a built-in provider by its name (`accounts.google.com`), a
//! SAML provider by its ARN. The key must be one the pool lists ([`kind_of`]); then the token
//! goes to that kind's verifier ([`verify`]): web identity's for OIDC providers, SAML's
//! (`AssumeRoleWithSAML`'s verification, the token being the base64 `SAMLResponse`) for SAML
//! providers.

use serde_json::{Map, Value};

use super::model::IdentityPool;
use crate::error::{ApiError, Code};
use crate::idp::oidc;
use crate::state::AppState;

/// Longest login token accepted (Cognito's model allows 50 000; web identity tokens are at
/// most [`oidc::MAX_TOKEN_CHARS`], checked by the verifier).
pub const MAX_TOKEN_CHARS: usize = 50_000;

/// Built-in providers whose tokens are OpenID Connect ID tokens of `https://<name>`.
const BUILT_IN_OIDC: &[&str] = &["accounts.google.com", "appleid.apple.com"];

/// Which verifier a login goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// An IAM OIDC provider the pool lists (by ARN).
    Oidc {
        /// The provider's ARN.
        arn: String,
    },
    /// A built-in provider of `SupportedLoginProviders`, with the app ids the pool accepts.
    BuiltIn {
        /// `accounts.google.com`, …
        name: String,
        /// Accepted client (app) ids.
        client_ids: Vec<String>,
    },
    /// An IAM SAML provider the pool lists.
    Saml {
        /// The provider's ARN.
        arn: String,
    },
}

/// A verified login.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// The provider key, as in `Logins` and the `amr` claim.
    pub provider: String,
    /// The subject (`sub`, or the SAML NameID).
    pub subject: String,
    /// The token's claims (role-mapping rules look at them).
    pub claims: Map<String, Value>,
}

fn not_from_pool() -> ApiError {
    ApiError::access_denied(
        "Invalid login token. Token is not from a supported provider of this identity pool.",
    )
}

/// The kind of the pool's provider `key` (pure).
///
/// # Errors
/// `NotAuthorizedException` when the pool does not list the provider.
pub fn kind_of(pool: &IdentityPool, key: &str) -> Result<ProviderKind, ApiError> {
    if key.starts_with("arn:") {
        if pool.saml_provider_arns.iter().any(|a| a == key) {
            return Ok(ProviderKind::Saml {
                arn: key.to_owned(),
            });
        }
        return Err(not_from_pool().with_detail(format!("{key} is not a provider of the pool")));
    }
    if let Some(arn) = pool.open_id_connect_provider_arns.iter().find(|arn| {
        crate::iam::names::parse_oidc_provider_arn(arn).is_some_and(|(_, name)| name == key)
    }) {
        return Ok(ProviderKind::Oidc { arn: arn.clone() });
    }
    if let Some(ids) = pool.supported_login_providers.get(key) {
        return Ok(ProviderKind::BuiltIn {
            name: key.to_owned(),
            client_ids: ids.split(',').map(|s| s.trim().to_owned()).collect(),
        });
    }
    Err(not_from_pool().with_detail(format!("{key} is not a provider of the pool")))
}

/// Reads the `Logins` of a request: none, or one (provider key, token).
///
/// # Errors
/// `InvalidParameterException` for more than one login or a token out of bounds.
pub fn one_login(logins: Vec<(String, String)>) -> Result<Option<(String, String)>, ApiError> {
    let mut it = logins.into_iter();
    match (it.next(), it.next()) {
        (None, _) => Ok(None),
        (Some(one), None) => Ok(Some(one)),
        (Some(_), Some(_)) => Err(ApiError::new(
            Code::InvalidParameterValue,
            "Sekisho links one login per identity: pass a single entry in Logins.",
        )),
    }
}

/// What a login is verified for: finding the identity (`GetId`), or exchanging it for a token
/// or credentials (`GetOpenIdToken`, `GetCredentialsForIdentity`). A SAML response is marked as
/// used (the replay cache, `[saml] allow_assertion_reuse`) only when it is exchanged, so the
/// SDKs' `GetId` then `GetCredentialsForIdentity` with one response works once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `GetId`.
    Identify,
    /// `GetOpenIdToken`, `GetCredentialsForIdentity`.
    Exchange,
}

/// Verifies the login `(key, token)` for `pool` at `now`, with the verifier of its kind.
///
/// # Errors
/// `NotAuthorizedException` for a provider the pool does not list or a token that does not
/// verify; `ExternalServiceException` when the provider's keys cannot be fetched.
pub async fn verify(
    st: &AppState,
    pool: &IdentityPool,
    key: &str,
    token: &str,
    now: i64,
    purpose: Use,
) -> Result<Login, ApiError> {
    match kind_of(pool, key)? {
        ProviderKind::Oidc { arn } => {
            let provider =
                st.iam.oidc_provider_by_arn(&arn).await?.ok_or_else(|| {
                    not_from_pool().with_detail(format!("{arn} no longer exists"))
                })?;
            verify_oidc(st, &provider.url, &provider.client_ids, key, token, now).await
        }
        ProviderKind::BuiltIn { name, client_ids } if BUILT_IN_OIDC.contains(&name.as_str()) => {
            verify_oidc(st, &format!("https://{name}"), &client_ids, key, token, now).await
        }
        ProviderKind::BuiltIn { name, .. } => Err(ApiError::access_denied(format!(
            "Logins of {name} (OAuth 2.0 access tokens) are not supported by this server."
        ))),
        ProviderKind::Saml { arn } => verify_saml(st, &arn, token, now, purpose).await,
    }
}

/// A base64 SAML response of the provider `arn`: verified as `AssumeRoleWithSAML` verifies it
/// (signature, issuer, audience, recipient, times); the subject is the NameID, the claims the
/// assertion's attributes (a list where an attribute has several values), for role mapping.
async fn verify_saml(
    st: &AppState,
    arn: &str,
    token: &str,
    now: i64,
    purpose: Use,
) -> Result<Login, ApiError> {
    use crate::sts::actions::assume_role_with_saml::{reverify_response, verify_response};
    let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let refused = |e: ApiError| {
        let why = e.detail.clone().unwrap_or_else(|| e.message.clone());
        let code = if e.code == Code::ServiceUnavailable || e.code == Code::InternalFailure {
            e.code
        } else {
            Code::AccessDenied
        };
        ApiError::new(
            code,
            "Invalid login token. The SAML response was not accepted.",
        )
        .with_detail(format!("login {arn}: {why}"))
    };
    let login = match purpose {
        Use::Identify => reverify_response(st, token, arn, at).await,
        Use::Exchange => verify_response(st, token, Some(arn), at).await,
    }
    .map_err(refused)?;
    let mut claims = Map::new();
    for a in &login.assertion.attributes {
        let v = match a.values.as_slice() {
            [one] => Value::String(one.clone()),
            many => Value::Array(many.iter().cloned().map(Value::String).collect()),
        };
        claims.insert(a.name.clone(), v);
    }
    claims.insert(
        "sub".into(),
        Value::String(login.assertion.name_id.value.clone()),
    );
    Ok(Login {
        provider: arn.to_owned(),
        subject: login.assertion.name_id.value.clone(),
        claims,
    })
}

/// An OIDC ID token of the issuer `url` for one of `client_ids`.
async fn verify_oidc(
    st: &AppState,
    url: &str,
    client_ids: &[String],
    key: &str,
    token: &str,
    now: i64,
) -> Result<Login, ApiError> {
    let cfg = &st.config.oidc;
    let with_key = |e: oidc::Error| {
        let api = ApiError::from(e);
        let why = api.detail.clone().unwrap_or_default();
        api.with_detail(format!("login {key}: {why}"))
    };
    let inspected = oidc::inspect_remembered(token, st.oidc_keys.reads()).map_err(with_key)?;
    let unverified = &inspected.unverified;
    if unverified.iss != url {
        return Err(ApiError::access_denied(
            "Invalid login token. Issuer doesn't match providerName",
        )
        .with_detail(format!("login {key}: iss {} is not {url}", unverified.iss)));
    }
    let keys = st
        .oidc_keys
        .key_set(url, unverified.kid.as_deref(), now)
        .await
        .map_err(with_key)?;
    let rules = oidc::Rules {
        issuer: url,
        client_ids,
        azp_is_audience: oidc::context::azp_is_audience(key),
        leeway_seconds: cfg.leeway_seconds,
        max_age_seconds: cfg.max_token_age_seconds,
    };
    let v = oidc::verify_inspected(inspected, &keys, &rules, now).map_err(with_key)?;
    Ok(Login {
        provider: key.to_owned(),
        subject: v.sub,
        claims: std::sync::Arc::unwrap_or_clone(v.claims),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn pool() -> IdentityPool {
        serde_json::from_value(serde_json::json!({
            "account": "111111111111", "id": "us-east-1:ab", "pool_name": "p",
            "allow_unauthenticated": false, "salt": "00", "create_date": "2026-01-01T00:00:00Z",
            "open_id_connect_provider_arns":
                ["arn:aws:iam::111111111111:oidc-provider/idp.example.com/x"],
            "saml_provider_arns": ["arn:aws:iam::111111111111:saml-provider/corp"],
            "supported_login_providers": {"accounts.google.com": "app1, app2"}
        }))
        .unwrap()
    }

    #[test]
    fn each_login_key_goes_to_its_kind_of_verifier() {
        let p = pool();
        assert_eq!(
            kind_of(&p, "idp.example.com/x").unwrap(),
            ProviderKind::Oidc {
                arn: "arn:aws:iam::111111111111:oidc-provider/idp.example.com/x".into()
            }
        );
        assert_eq!(
            kind_of(&p, "arn:aws:iam::111111111111:saml-provider/corp").unwrap(),
            ProviderKind::Saml {
                arn: "arn:aws:iam::111111111111:saml-provider/corp".into()
            }
        );
        assert_eq!(
            kind_of(&p, "accounts.google.com").unwrap(),
            ProviderKind::BuiltIn {
                name: "accounts.google.com".into(),
                client_ids: vec!["app1".into(), "app2".into()]
            }
        );
        for other in [
            "idp.example.com",
            "idp.example.com/x/y",
            "arn:aws:iam::111111111111:saml-provider/other",
            "graph.facebook.com",
        ] {
            assert_eq!(
                kind_of(&p, other).unwrap_err().code,
                Code::AccessDenied,
                "{other}"
            );
        }
    }

    #[test]
    fn one_login_per_call() {
        assert_eq!(one_login(vec![]).unwrap(), None);
        assert!(one_login(vec![("a".into(), "t".into())]).unwrap().is_some());
        assert!(one_login(vec![("a".into(), "t".into()), ("b".into(), "u".into())]).is_err());
    }
}
