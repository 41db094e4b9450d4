//! Roles: the [`Kind`] of `r/{acct}/{name}` records, their unique-id index, trust policies
//! (validated, principals bound to unique ids) and the [`RoleView`] every role session's
//! request reads: the role with its policies parsed once per stored version.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use super::kind::{Kind, NameRules, PolicyHolder, policy_fields, record_fields, tags_field};
use super::{Dependants, Error, Iam, decode, keys};
use crate::iam::model::{Role, User};
use crate::iam::names::parse_entity_arn;
use crate::policy::{Policy, PolicyId, PolicyKind};
use crate::store::Batch;

/// A role with its policies parsed: decoded once per stored version of the role.
pub struct RoleView {
    /// The role.
    pub role: Role,
    inline: Result<Vec<(PolicyId, Arc<Policy>)>, Error>,
    trust: Result<Arc<Policy>, Error>,
    /// `ARN#trust`, the trust policy's name in decisions (built once per stored version).
    trust_id: PolicyId,
}

/// A role's trust policy's name in decisions: `ARN#trust`.
#[must_use]
pub fn trust_policy_id(role: &Role) -> PolicyId {
    PolicyId::concat(&[&role.arn, "#trust"])
}

impl RoleView {
    /// The trust policy, with its principals bound to the unique ids resolved at write time.
    pub fn trust(&self) -> Result<Arc<Policy>, Error> {
        self.trust.clone()
    }

    /// The trust policy's name in decisions: `ARN#trust`.
    #[must_use]
    pub fn trust_id(&self) -> &PolicyId {
        &self.trust_id
    }

    /// The inline policies, parsed.
    pub fn inline(&self) -> Result<&[(PolicyId, Arc<Policy>)], Error> {
        self.inline.as_deref().map_err(Clone::clone)
    }
}

impl Kind for Role {
    const WORD: &'static str = "role";
    const ELEMENT: &'static str = "Role";
    const PREFIX: &'static str = keys::ROLE;
    const NAME: NameRules = NameRules {
        param: "RoleName",
        create_max: 64,
        max: 64,
    };

    record_fields!();
    fn id_key(&self) -> Option<String> {
        Some(keys::role_id(&self.id))
    }

    fn on_rename<'a>(
        _iam: &'a Iam,
        before: &'a Self,
        after: &'a Self,
        batch: &'a mut Batch,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let (old_key, new_key) = (
            keys::entity(Self::PREFIX, &before.account, &before.name),
            keys::entity(Self::PREFIX, &after.account, &after.name),
        );
        Iam::move_attachments(&before.attached_policies, &old_key, &new_key, batch);
        async { Ok(()) }
    }
}

tags_field!(Role);

impl PolicyHolder for Role {
    const INLINE_LIMIT: usize = 10240;
    policy_fields!();
}

impl Iam {
    /// A role by name.
    pub async fn role(&self, account: &str, name: &str) -> Result<Option<Role>, Error> {
        self.get(account, name).await
    }

    /// Creates a role. The trust policy must already be validated and its principals resolved
    /// ([`Iam::check_trust_policy`]).
    pub async fn create_role(&self, role: Role) -> Result<Role, Error> {
        self.create(role).await
    }

    /// Deletes a role without policies.
    pub async fn delete_role(&self, account: &str, name: &str) -> Result<Role, Error> {
        self.delete_if(account, name, |r: &Role| {
            if !r.inline_policies.is_empty() {
                Some(Dependants::InlinePolicies)
            } else if !r.attached_policies.is_empty() {
                Some(Dependants::AttachedPolicies)
            } else {
                None
            }
        })
        .await
    }

    /// Validates a trust policy and resolves the user/role ARNs it names to unique ids (AWS
    /// stores trust principals by id: a re-created entity does not inherit old trust).
    pub async fn check_trust_policy(
        &self,
        text: &str,
    ) -> Result<(Arc<Policy>, BTreeMap<String, String>), Error> {
        let policy = self
            .policies
            .get_or_parse(text, PolicyKind::Trust)
            .map_err(Error::Invalid)?;
        // OIDC providers named as Federated principals must exist (AWS checks at write time);
        // a web identity trust that does not constrain `sub` or `aud` is allowed, as in AWS,
        // but worth a warning: any token of the provider for any of its clients passes.
        for (provider, constrained) in policy.federated_principals() {
            // SAML providers named as Federated principals must exist too.
            if crate::iam::names::parse_saml_provider_arn(&provider).is_some() {
                if self.saml_provider_by_arn(&provider).await?.is_none() {
                    return Err(Error::InvalidFederatedPrincipal { arn: provider });
                }
                continue;
            }
            if crate::iam::names::parse_oidc_provider_arn(&provider).is_none() {
                continue;
            }
            if self.oidc_provider_by_arn(&provider).await?.is_none() {
                return Err(Error::InvalidFederatedPrincipal { arn: provider });
            }
            if !constrained {
                tracing::warn!(
                    provider,
                    "trust policy admits web identity tokens of this provider without a \
                     condition on its :sub or :aud key"
                );
            }
        }
        for w in crate::policy::lint::trust_warnings(&policy) {
            tracing::warn!(warning = %w, "trust policy lint");
        }
        let mut ids = BTreeMap::new();
        for arn in policy.principal_arns() {
            let id = if let Some((acct, _, name)) = parse_entity_arn(&arn, User::WORD) {
                self.user(acct, name)
                    .await?
                    .filter(|u| u.arn == arn)
                    .map(|u| u.id)
            } else if parse_entity_arn(&arn, Role::WORD).is_some() {
                self.role_view_by_arn(&arn)
                    .await?
                    .map(|v| v.role.id.clone())
            } else {
                continue;
            };
            match id {
                Some(id) => {
                    ids.insert(arn, id);
                }
                None => return Err(Error::InvalidPrincipal { arn }),
            }
        }
        Ok((policy, ids))
    }

    /// A role by ARN (the path in the ARN must match the role's path), with its trust and
    /// inline policies parsed once per stored version.
    pub async fn role_view_by_arn(&self, arn: &str) -> Result<Option<Arc<RoleView>>, Error> {
        let Some((account, path, name)) = parse_entity_arn(arn, Role::WORD) else {
            return Ok(None);
        };
        Ok(self
            .role_view(&keys::Key::entity(Role::PREFIX, account, name))
            .await?
            .filter(|v| v.role.path == path && v.role.arn == arn))
    }

    /// A role by unique id, as a [`RoleView`] (the path of every role session's request).
    pub async fn role_view_by_id(&self, id: &str) -> Result<Option<Arc<RoleView>>, Error> {
        match self.get_shared::<String>(&keys::Key::role_id(id)).await? {
            Some(key) => self.role_view(&key).await,
            None => Ok(None),
        }
    }

    async fn role_view(&self, key: &str) -> Result<Option<Arc<RoleView>>, Error> {
        self.get_decoded(key, |b| {
            let role: Role = decode(key, b)?;
            let inline = role
                .inline_policies
                .iter()
                .map(|(name, doc)| {
                    let parsed = self
                        .policies
                        .get_or_parse(doc, PolicyKind::Identity)
                        .map_err(|e| Error::Malformed {
                            what: "stored policy".into(),
                            reason: e.to_string(),
                        })?;
                    Ok((
                        PolicyId(format!("{}#inline/{name}", role.arn).into()),
                        parsed,
                    ))
                })
                .collect();
            let trust = crate::policy::parse(&role.trust_policy, PolicyKind::Trust)
                .map_err(Error::Invalid)
                .map(|mut p| {
                    p.bind_principal_ids(
                        &role
                            .trust_principal_ids
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    );
                    Arc::new(p)
                });
            let trust_id = trust_policy_id(&role);
            Ok(RoleView {
                role,
                inline,
                trust,
                trust_id,
            })
        })
        .await
    }
}
