//! Identity pools and pool identities as stored. Role mappings keep the Cognito API's field
//! names (they are stored as the API gives them and answered back unchanged).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::iam::model::Origin;

/// An identity pool (`region:uuid`), in one account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdentityPool {
    /// Account id.
    pub account: String,
    /// `IdentityPoolId`: `region:uuid`.
    pub id: String,
    /// `IdentityPoolName`.
    pub pool_name: String,
    /// Guests may get credentials.
    pub allow_unauthenticated: bool,
    /// The basic (classic) flow, `GetOpenIdToken`, is allowed.
    #[serde(default)]
    pub allow_classic_flow: bool,
    /// Built-in login providers: provider name → app (client) ids, comma-separated.
    #[serde(default)]
    pub supported_login_providers: BTreeMap<String, String>,
    /// IAM OIDC provider ARNs whose tokens are logins.
    #[serde(default)]
    pub open_id_connect_provider_arns: Vec<String>,
    /// IAM SAML provider ARNs whose assertions are logins.
    #[serde(default)]
    pub saml_provider_arns: Vec<String>,
    /// `IdentityPoolTags`.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `authenticated` / `unauthenticated` → role ARN.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// Role mappings by login provider key.
    #[serde(default)]
    pub role_mappings: BTreeMap<String, RoleMapping>,
    /// Per-pool secret salt of the identity-id derivation (hex, 32 bytes); never answered.
    pub salt: String,
    /// When it was created.
    pub create_date: DateTime<Utc>,
    /// Who declared it.
    #[serde(default)]
    pub origin: Origin,
}

/// How a login provider's users get a role (`RoleMapping`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RoleMapping {
    /// `Token` or `Rules`.
    #[serde(rename = "Type")]
    pub kind: MappingType,
    /// What happens when no role results: `AuthenticatedRole` or `Deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguous_role_resolution: Option<AmbiguousRoleResolution>,
    /// The rules (type `Rules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_configuration: Option<RulesConfiguration>,
}

/// `RoleMapping.Type`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum MappingType {
    /// The token's `cognito:preferred_role` / `cognito:roles` claims choose.
    Token,
    /// The first matching rule chooses.
    Rules,
}

/// `RoleMapping.AmbiguousRoleResolution`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum AmbiguousRoleResolution {
    /// The pool's authenticated role.
    AuthenticatedRole,
    /// Refuse.
    Deny,
}

/// `RulesConfiguration`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RulesConfiguration {
    /// 1 to 25 rules, tried in order.
    pub rules: Vec<MappingRule>,
}

/// `MappingRule`: a claim matcher and the role it gives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MappingRule {
    /// The claim's name.
    pub claim: String,
    /// How it is compared.
    pub match_type: MatchType,
    /// The value compared with.
    pub value: String,
    /// The role given.
    #[serde(rename = "RoleARN")]
    pub role_arn: String,
}

/// `MappingRule.MatchType`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum MatchType {
    /// The claim equals the value.
    Equals,
    /// The claim contains the value.
    Contains,
    /// The claim starts with the value.
    StartsWith,
    /// The claim is present and differs from the value.
    NotEqual,
}

/// A pool identity (`region:uuid`): a guest, or the identity of one (provider, subject).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identity {
    /// The identity id.
    pub id: String,
    /// Its pool.
    pub pool_id: String,
    /// The pool's account.
    pub account: String,
    /// The login it belongs to (provider key, subject); `None` for a guest.
    pub login: Option<(String, String)>,
    /// When it was created.
    pub create_date: DateTime<Utc>,
}
