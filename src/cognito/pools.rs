//! What the admin operations share: authorizing `cognito-identity:<Op>` on the pool's ARN,
//! finding a pool in the caller's account, reading and checking a pool's fields (create and
//! update take the same shape), and the pool's JSON (`IdentityPool`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::identity::check_id;
use super::model::IdentityPool;
use super::wire::Input;
use crate::action::Ctx;
use crate::authn::Caller;
use crate::error::{ApiError, Code};
use crate::wire::params::check_chars;

/// Most identity pools per account (Cognito's default quota is 1000).
pub const MAX_POOLS_PER_ACCOUNT: usize = 1000;

/// Most OIDC or SAML providers per pool, and built-in login providers.
pub const MAX_PROVIDERS: usize = 10;

/// The pool's ARN: `arn:<partition>:cognito-identity:<region>:<account>:identitypool/<id>`.
#[must_use]
pub fn pool_arn(partition: &str, pool: &IdentityPool) -> String {
    format!(
        "arn:{partition}:cognito-identity:{}:{}:identitypool/{}",
        super::identity::region_of(&pool.id),
        pool.account,
        pool.id
    )
}

/// The signed caller, authorized for `cognito-identity:<op>` on `resource`.
///
/// # Errors
/// `MissingAuthenticationTokenException` unsigned; `NotAuthorizedException` when denied.
pub async fn authorize<'a>(ctx: &'a Ctx, op: &str, resource: &str) -> Result<&'a Caller, ApiError> {
    let caller = ctx.caller()?;
    crate::authz::authorize(
        &ctx.st,
        caller,
        &ctx.env,
        &format!("cognito-identity:{op}"),
        resource,
    )
    .await?;
    Ok(caller)
}

/// The pool `id` of the caller's account, authorized for `op`.
///
/// # Errors
/// `ResourceNotFoundException` when the account has no such pool (checked before the policy,
/// whose resource is the pool's ARN); `NotAuthorizedException` when denied.
pub async fn authorized_pool(ctx: &Ctx, op: &str, id: &str) -> Result<IdentityPool, ApiError> {
    let caller = ctx.caller()?;
    check_id("IdentityPoolId", id)?;
    let pool = ctx
        .st
        .iam
        .get::<IdentityPool>(&caller.account, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    authorize(ctx, op, &pool_arn(&ctx.st.iam.partition, &pool)).await?;
    Ok(pool)
}

/// Cognito's answer for a pool that does not exist.
#[must_use]
pub fn not_found(id: &str) -> ApiError {
    ApiError::new(
        Code::NoSuchEntity,
        format!("IdentityPool '{id}' not found."),
    )
}

/// The fields of `CreateIdentityPool` / `UpdateIdentityPool`, checked.
#[derive(Debug, Clone)]
pub struct PoolFields {
    /// `IdentityPoolName`.
    pub name: String,
    /// `AllowUnauthenticatedIdentities`.
    pub allow_unauthenticated: bool,
    /// `AllowClassicFlow`.
    pub allow_classic_flow: bool,
    /// `SupportedLoginProviders`.
    pub supported_login_providers: BTreeMap<String, String>,
    /// `OpenIdConnectProviderARNs`.
    pub open_id_connect_provider_arns: Vec<String>,
    /// `SamlProviderARNs`.
    pub saml_provider_arns: Vec<String>,
    /// `IdentityPoolTags`, when given.
    pub tags: Option<BTreeMap<String, String>>,
}

/// `[\w\s+=,.@-]`: the characters of pool names.
fn is_pool_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c)
}

/// Reads the pool's fields (pure; [`check_providers_exist`] does the I/O).
///
/// # Errors
/// `InvalidParameterException` for anything out of the model's bounds, and for the features
/// Sekisho does not serve (developer providers, user pools).
pub fn read_fields(input: &Input, account: &str, partition: &str) -> Result<PoolFields, ApiError> {
    let name = input.req_str("IdentityPoolName", 1, 128)?;
    check_chars(
        "IdentityPoolName",
        &name,
        "[\\w\\s+=,.@-]+",
        is_pool_name_char,
    )?;
    let allow_unauthenticated = input.req_bool("AllowUnauthenticatedIdentities")?;
    let allow_classic_flow = input.opt_bool("AllowClassicFlow")?.unwrap_or(false);
    let supported: BTreeMap<String, String> = input
        .str_map("SupportedLoginProviders", MAX_PROVIDERS, 128, 1, 128)?
        .into_iter()
        .collect();
    let oidc = input.str_list("OpenIdConnectProviderARNs", MAX_PROVIDERS, 20, 2048)?;
    let saml = input.str_list("SamlProviderARNs", MAX_PROVIDERS, 20, 2048)?;
    if input.has("DeveloperProviderName") {
        return Err(unsupported(
            "Developer-authenticated identities (DeveloperProviderName)",
        ));
    }
    if input.array_len("CognitoIdentityProviders").unwrap_or(0) > 0 {
        return Err(unsupported("User pools (CognitoIdentityProviders)"));
    }
    for arn in &oidc {
        match crate::iam::names::parse_oidc_provider_arn(arn) {
            Some((a, _)) if a == account => {}
            _ => {
                return Err(invalid(format!(
                    "Invalid OpenIdConnectProviderARN: {arn} is not an OIDC provider of account \
                     {account}"
                )));
            }
        }
    }
    let saml_prefix = format!("arn:{partition}:iam::{account}:saml-provider/");
    for arn in &saml {
        let name = arn.strip_prefix(&saml_prefix).unwrap_or_default();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(invalid(format!(
                "Invalid SamlProviderARN: {arn} is not a SAML provider of account {account}"
            )));
        }
    }
    let tags = if input.has("IdentityPoolTags") {
        Some(
            input
                .str_map("IdentityPoolTags", 50, 128, 0, 256)?
                .into_iter()
                .collect(),
        )
    } else {
        None
    };
    Ok(PoolFields {
        name,
        allow_unauthenticated,
        allow_classic_flow,
        supported_login_providers: supported,
        open_id_connect_provider_arns: dedup(oidc),
        saml_provider_arns: dedup(saml),
        tags,
    })
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

fn invalid(message: String) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

fn unsupported(what: &str) -> ApiError {
    ApiError::new(
        Code::InvalidParameterValue,
        format!("{what} are not supported by this server."),
    )
}

/// Checks that the OIDC providers the pool names exist (SAML providers are checked by shape
/// only until SAML providers exist as entities).
///
/// # Errors
/// `InvalidParameterException` naming the missing provider.
pub async fn check_providers_exist(ctx: &Ctx, f: &PoolFields) -> Result<(), ApiError> {
    for arn in &f.open_id_connect_provider_arns {
        if ctx.st.iam.oidc_provider_by_arn(arn).await?.is_none() {
            return Err(invalid(format!(
                "Invalid OpenIdConnectProviderARN: {arn} does not exist"
            )));
        }
    }
    Ok(())
}

/// Applies checked fields to a pool.
pub fn apply(pool: &mut IdentityPool, f: PoolFields) {
    pool.pool_name = f.name;
    pool.allow_unauthenticated = f.allow_unauthenticated;
    pool.allow_classic_flow = f.allow_classic_flow;
    pool.supported_login_providers = f.supported_login_providers;
    pool.open_id_connect_provider_arns = f.open_id_connect_provider_arns;
    pool.saml_provider_arns = f.saml_provider_arns;
    if let Some(t) = f.tags {
        pool.tags = t;
    }
}

/// The `IdentityPool` answer of create, describe and update.
#[must_use]
pub fn pool_json(p: &IdentityPool) -> Value {
    let mut v = json!({
        "IdentityPoolId": p.id,
        "IdentityPoolName": p.pool_name,
        "AllowUnauthenticatedIdentities": p.allow_unauthenticated,
        "AllowClassicFlow": p.allow_classic_flow,
        "OpenIdConnectProviderARNs": p.open_id_connect_provider_arns,
        "SamlProviderARNs": p.saml_provider_arns,
        "CognitoIdentityProviders": [],
        "IdentityPoolTags": p.tags,
    });
    if !p.supported_login_providers.is_empty()
        && let Some(o) = v.as_object_mut()
    {
        o.insert(
            "SupportedLoginProviders".into(),
            json!(p.supported_login_providers),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn fields(v: Value) -> Result<PoolFields, ApiError> {
        read_fields(&Input::from_value(v), "111111111111", "aws")
    }

    #[test]
    fn pool_fields_follow_the_model() {
        let f = fields(json!({"IdentityPoolName": "my app", "AllowUnauthenticatedIdentities": true,
            "OpenIdConnectProviderARNs": ["arn:aws:iam::111111111111:oidc-provider/idp.example.com",
                                          "arn:aws:iam::111111111111:oidc-provider/idp.example.com"],
            "SamlProviderARNs": ["arn:aws:iam::111111111111:saml-provider/Corp"]}))
        .unwrap();
        assert!(f.allow_unauthenticated && !f.allow_classic_flow);
        assert_eq!(
            f.open_id_connect_provider_arns.len(),
            1,
            "duplicates folded"
        );
        assert_eq!(f.saml_provider_arns.len(), 1);
        let code = |v| fields(v).unwrap_err().code;
        assert_eq!(
            code(json!({"AllowUnauthenticatedIdentities": true})),
            Code::MissingParameter
        );
        assert_eq!(
            code(json!({"IdentityPoolName": "x"})),
            Code::MissingParameter
        );
        assert_eq!(
            code(json!({"IdentityPoolName": "bad/name", "AllowUnauthenticatedIdentities": true})),
            Code::ValidationError
        );
        assert_eq!(
            code(
                json!({"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": true,
                "OpenIdConnectProviderARNs": ["arn:aws:iam::222222222222:oidc-provider/idp.example.com"]})
            ),
            Code::InvalidParameterValue,
            "another account's provider"
        );
        assert_eq!(
            code(
                json!({"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": true,
                "SamlProviderARNs": ["arn:aws:iam::111111111111:role/not-saml"]})
            ),
            Code::InvalidParameterValue
        );
        assert_eq!(
            code(
                json!({"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": true,
                "DeveloperProviderName": "login.me"})
            ),
            Code::InvalidParameterValue
        );
        assert_eq!(
            code(
                json!({"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": true,
                "CognitoIdentityProviders": [{"ProviderName": "x", "ClientId": "y"}]})
            ),
            Code::InvalidParameterValue
        );
    }
}
