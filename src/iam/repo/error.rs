//! The repository's own error. It says what went wrong in the repository's terms; the AWS code,
//! status and wording are chosen once, in `impl From<Error> for crate::error::ApiError`.

use crate::iam::at_rest::AtRestError;
use crate::policy::PolicyError;

/// A repository failure. Variants are alphabetical.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An access key with this id exists already (imported keys).
    #[error("access key {id} already exists")]
    AccessKeyExists {
        /// The key id.
        id: String,
    },
    /// No access key with this id belongs to the given owner.
    #[error("access key {id} not found")]
    AccessKeyNotFound {
        /// The key id.
        id: String,
    },
    /// An entity of this kind and name exists already.
    #[error("{kind} {name} already exists")]
    AlreadyExists {
        /// The kind's word (`user`, `group`, `role`).
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// A secret could not be sealed or opened at rest.
    #[error("at-rest encryption: {0}")]
    AtRest(#[from] AtRestError),
    /// A write kept meeting concurrent changes of `key` and gave up.
    #[error("concurrent modification of {0}")]
    Conflict(String),
    /// The entity still has dependants.
    #[error("delete conflict: {0:?}")]
    DeleteConflict(Dependants),
    /// No inline policy of this name on the entity.
    #[error("{kind} policy {policy} not found")]
    InlinePolicyNotFound {
        /// The entity kind's word.
        kind: &'static str,
        /// The inline policy name.
        policy: String,
    },
    /// A given policy document is invalid (or too large, which AWS answers as a limit).
    #[error("invalid policy document: {0}")]
    Invalid(PolicyError),
    /// A pagination marker that this repository did not hand out.
    #[error("invalid marker")]
    InvalidMarker,
    /// A trust policy names a user or role that does not exist.
    #[error("trust policy names an unknown principal {arn}")]
    InvalidPrincipal {
        /// The principal's ARN.
        arn: String,
    },
    /// A trust policy names an OIDC provider (`Federated`) that does not exist.
    #[error("trust policy names an unknown federated provider {arn}")]
    InvalidFederatedPrincipal {
        /// The provider's ARN.
        arn: String,
    },
    /// A quota is reached.
    #[error("limit exceeded: {0:?}")]
    LimitExceeded(Limit),
    /// A stored document does not parse any more (it did when it was written).
    #[error("{what} does not parse: {reason}")]
    Malformed {
        /// Which document.
        what: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A code presented to enable or resync an MFA device was refused.
    #[error("MFA code refused: {0}")]
    MfaCode(crate::mfa::guard::Refusal),
    /// The MFA device is enabled already (for someone).
    #[error("MFA device {serial} is already in use")]
    MfaDeviceInUse {
        /// Its serial number (ARN).
        serial: String,
    },
    /// No MFA device with this serial number (or none enabled for the user named).
    #[error("MFA device {serial} not found")]
    MfaDeviceNotFound {
        /// The serial number asked for.
        serial: String,
    },
    /// No entity of this kind and name.
    #[error("the {kind} with name {name} cannot be found")]
    NotFound {
        /// The kind's word (`user`, `group`, `role`).
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The user is not a member of the group.
    #[error("user {user} is not in group {group}")]
    NotInGroup {
        /// The user name.
        user: String,
        /// The group name.
        group: String,
    },
    /// A customer managed policy of this name exists already.
    #[error("policy {name} already exists")]
    PolicyExists {
        /// The policy name.
        name: String,
    },
    /// The managed policy does not exist (or belongs to another account).
    #[error("policy {arn} does not exist or is not attachable")]
    PolicyNotAttachable {
        /// The policy ARN.
        arn: String,
    },
    /// The managed policy is not attached, or was deleted meanwhile.
    #[error("policy {arn} was not found")]
    PolicyNotFound {
        /// The policy ARN.
        arn: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// No such version of the managed policy.
    #[error("policy {arn} version {version} does not exist")]
    VersionNotFound {
        /// The policy ARN.
        arn: String,
        /// The version id.
        version: String,
        /// Whether the version was to be deleted (AWS words that answer differently).
        deleting: bool,
    },
}

impl Error {
    /// Whether the error says that something does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::AccessKeyNotFound { .. }
                | Self::InlinePolicyNotFound { .. }
                | Self::MfaDeviceNotFound { .. }
                | Self::NotFound { .. }
                | Self::NotInGroup { .. }
                | Self::PolicyNotAttachable { .. }
                | Self::PolicyNotFound { .. }
                | Self::VersionNotFound { .. }
        )
    }

    /// `NotFound` of an entity.
    pub(super) fn not_found(kind: &'static str, name: &str) -> Self {
        Self::NotFound {
            kind,
            name: name.to_owned(),
        }
    }
}

/// What an entity still has that must go before it can be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependants {
    /// A user's access keys.
    AccessKeys,
    /// Managed policies attached to a user, group or role.
    AttachedPolicies,
    /// The default version of a managed policy cannot be deleted by itself.
    DefaultVersion,
    /// A group's members.
    GroupMembers,
    /// A user's group memberships.
    GroupMemberships,
    /// Inline policies of a user, group or role.
    InlinePolicies,
    /// An MFA device is enabled (for a user: it must be deactivated; for a device: it is in use).
    MfaDevices,
    /// A managed policy's attachments.
    PolicyAttachments,
    /// A managed policy's versions other than the default.
    PolicyVersions,
}

/// A quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Access keys per user (or root).
    AccessKeysPerUser(usize),
    /// Managed policies attached to one entity; the kind's element name (`User`, …).
    AttachedPolicies(&'static str, usize),
    /// Groups per user.
    GroupsPerUser(usize),
    /// The aggregate size of an entity's inline policies.
    InlinePolicySize {
        /// The kind's word.
        kind: &'static str,
        /// The entity's name.
        name: String,
        /// The limit in non-whitespace characters.
        limit: usize,
    },
    /// MFA devices per user (or root).
    MfaDevicesPerUser(usize),
    /// Versions per managed policy.
    PolicyVersions(usize),
    /// Private keys per SAML provider.
    PrivateKeysPerSamlProvider(usize),
    /// Tags per entity.
    Tags(usize),
}
