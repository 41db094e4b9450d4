//! IAM entities as stored. Serialized as JSON in the store; names keep their case but are unique
//! case-insensitively (store keys use the lowercase name), as in AWS.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// 12-digit id.
    pub id: String,
    /// Optional alias.
    pub alias: Option<String>,
    /// When it was created.
    pub create_date: DateTime<Utc>,
}

/// A tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    /// Key (case-preserving; unique case-insensitively).
    pub key: String,
    /// Value.
    pub value: String,
}

/// Who attached or declared an entity: the bootstrap file or the API. Bootstrap re-applies only
/// touch entities that it owns.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Origin {
    /// Created through the IAM API.
    #[default]
    Api,
    /// Declared in the bootstrap file.
    Bootstrap,
}

/// An IAM user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Account id.
    pub account: String,
    /// Name (case preserved).
    pub name: String,
    /// Path (`/` by default).
    pub path: String,
    /// `AIDA…`.
    pub id: String,
    /// `arn:aws:iam::A:user/path/name`.
    pub arn: String,
    /// Creation time.
    pub create_date: DateTime<Utc>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Permissions boundary policy ARN.
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// Inline policies: name → document.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Names of the groups the user belongs to (denormalised so the hot path needs no scan).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Who declared it.
    #[serde(default)]
    pub origin: Origin,
}

/// An IAM group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Group {
    /// Account id.
    pub account: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `AGPA…`.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Creation time.
    pub create_date: DateTime<Utc>,
    /// Inline policies.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Who declared it.
    #[serde(default)]
    pub origin: Origin,
}

/// An IAM role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Role {
    /// Account id.
    pub account: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `AROA…`.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Creation time.
    pub create_date: DateTime<Utc>,
    /// Trust policy document.
    pub trust_policy: String,
    /// User/role ARNs named in the trust policy → their unique ids when the policy was written.
    #[serde(default)]
    pub trust_principal_ids: BTreeMap<String, String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Seconds, 3600–43200.
    pub max_session_duration: i64,
    /// Permissions boundary policy ARN.
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Inline policies.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Last time the role was assumed, and where.
    #[serde(default)]
    pub last_used: Option<LastUsed>,
    /// Who declared it.
    #[serde(default)]
    pub origin: Origin,
}

/// One version of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub version_id: String,
    /// The document.
    pub document: String,
    /// Creation time.
    pub create_date: DateTime<Utc>,
}

/// A customer managed policy (AWS managed ones are loaded read-only, not stored).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// Account id (`aws` for AWS managed).
    pub account: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `ANPA…`.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Creation time.
    pub create_date: DateTime<Utc>,
    /// Last change.
    pub update_date: DateTime<Utc>,
    /// The default version's id.
    pub default_version_id: String,
    /// Versions, oldest first (at most 5).
    pub versions: Vec<PolicyVersion>,
    /// The next version number to hand out.
    pub next_version: u32,
    /// How many users, groups and roles it is attached to.
    #[serde(default)]
    pub attachment_count: u32,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Who declared it.
    #[serde(default)]
    pub origin: Origin,
}

impl ManagedPolicy {
    /// The default version's document.
    #[must_use]
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.version_id == self.default_version_id)
            .map(|v| v.document.as_str())
    }
}

/// Status of an access key.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Refused.
    Inactive,
}

impl KeyStatus {
    /// As on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }
}

/// A long-term access key. The secret is stored encrypted (see `crate::iam::at_rest`).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA…`.
    pub id: String,
    /// Account id.
    pub account: String,
    /// Owning user; `None` for the account root.
    pub user: Option<String>,
    /// The owning user's unique id (`AIDA…`) when the key was created: a key authenticates
    /// only as that very user, never as a later user given the same name. Absent in keys
    /// stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Encrypted secret (base64 of nonce ‖ ciphertext).
    pub secret_sealed: String,
    /// Status.
    pub status: KeyStatus,
    /// Creation time.
    pub create_date: DateTime<Utc>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("user", &self.user)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Last-used data of a key or role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LastUsed {
    /// When.
    pub date: DateTime<Utc>,
    /// Service namespace (`sts`, `iam`).
    pub service: String,
    /// Region.
    pub region: String,
}

/// An OpenID Connect identity provider (`CreateOpenIDConnectProvider`): the issuer whose tokens
/// `AssumeRoleWithWebIdentity` accepts, and the client ids (audiences) it accepts them for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OidcProvider {
    /// Account id.
    pub account: String,
    /// The issuer URL as given (`https://host[/path]`): the tokens' `iss` must equal it.
    pub url: String,
    /// The URL without its scheme (`host[/path]`): the ARN's resource part and the
    /// condition-key prefix.
    pub name: String,
    /// `arn:aws:iam::A:oidc-provider/<name>`.
    pub arn: String,
    /// Accepted audiences (at most 100).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// Server certificate thumbprints (at most 5; kept for compatibility, Sekisho validates
    /// TLS against the system's roots).
    #[serde(default)]
    pub thumbprints: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Creation time.
    pub create_date: DateTime<Utc>,
    /// Who declared it.
    #[serde(default)]
    pub origin: Origin,
}

/// A SAML 2.0 identity provider (`CreateSAMLProvider`): what `AssumeRoleWithSAML` needs on the
/// request path — the IdP's entity id and signing certificates, parsed from its metadata. The
/// raw metadata (up to 10 MB) is stored apart (`keys::saml_metadata`) and read only by
/// `GetSAMLProvider`, so it never sits in the hot entity cache.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SamlProvider {
    /// Account id.
    pub account: String,
    /// Name (1–128 of `[\w._-]`).
    pub name: String,
    /// `arn:aws:iam::A:saml-provider/<name>`.
    pub arn: String,
    /// The metadata's `entityID`: an assertion's `Issuer` must equal it.
    pub entity_id: String,
    /// The IdP's signing certificates, DER in base64 (several during a rotation).
    pub signing_certs: Vec<String>,
    /// The metadata's `validUntil`, if any.
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
    /// `SAMLProviderUUID` (AWS's per-provider ACS and metadata URLs use it).
    pub uuid: String,
    /// `AssertionEncryptionMode`: `true` for `Required` (plain assertions refused).
    #[serde(default)]
    pub encryption_required: bool,
    /// Private keys that decrypt `EncryptedAssertion`s (at most 2), sealed at rest.
    #[serde(default)]
    pub private_keys: Vec<SamlPrivateKey>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Creation time.
    pub create_date: DateTime<Utc>,
    /// Who declared it.
    #[serde(default)]
    pub origin: Origin,
}

/// A SAML provider's private key (`AddPrivateKey`), sealed with the at-rest key; the owner
/// string of the seal is `saml-key/<provider arn>/<key id>`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SamlPrivateKey {
    /// `KeyId` (26 of `[A-Z0-9]`), given to `RemovePrivateKey`.
    pub key_id: String,
    /// The PEM, sealed.
    pub sealed_pem: String,
    /// When it was added.
    pub timestamp: DateTime<Utc>,
}

impl std::fmt::Debug for SamlPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlPrivateKey")
            .field("key_id", &self.key_id)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// A virtual MFA device. Its serial number is its ARN (`arn:aws:iam::A:mfa/path/name`).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MfaDevice {
    /// Account id.
    pub account: String,
    /// Name (case preserved; unique case-insensitively in the account).
    pub name: String,
    /// Path (`/` by default).
    pub path: String,
    /// The ARN, which is the serial number.
    pub arn: String,
    /// Creation time.
    pub create_date: DateTime<Utc>,
    /// The TOTP seed (base32), sealed with the at-rest key bound to the ARN.
    pub seed_sealed: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Whom it is assigned to (enabled for), if anyone.
    #[serde(default)]
    pub assigned: Option<MfaAssignment>,
}

/// The user (or root) a device is enabled for, and since when. By unique id: a user renamed
/// keeps the device, and a deleted and re-created one of the same name does not get it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MfaAssignment {
    /// The user's unique id (`AIDA…`), or the account id for the root.
    pub user_id: String,
    /// When it was enabled.
    pub enable_date: DateTime<Utc>,
}

impl MfaDevice {
    /// Whether it is enabled for the user with this unique id (the account id: the root).
    #[must_use]
    pub fn is_assigned_to(&self, user_id: &str) -> bool {
        self.assigned.as_ref().is_some_and(|a| a.user_id == user_id)
    }
}

impl std::fmt::Debug for MfaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaDevice")
            .field("arn", &self.arn)
            .field("assigned", &self.assigned)
            .finish_non_exhaustive()
    }
}
