//! Inline policies of users, groups and roles, kept in the entity's record. The aggregate
//! non-whitespace size is limited per kind ([`PolicyHolder::INLINE_LIMIT`]: user 2048, group
//! 5120, role 10240), answered as a limit, as AWS does.

use super::kind::{EntityKind, PolicyHolder};
use super::{Error, Iam, Limit};
use crate::iam::model::{Group, Role, User};
use crate::policy::PolicyKind;

impl Iam {
    /// Sets (creates or replaces) an inline policy on a user, group or role.
    pub async fn put_inline_policy(
        &self,
        kind: EntityKind,
        account: &str,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), Error> {
        self.policies
            .get_or_parse(document, PolicyKind::Identity)
            .map_err(Error::Invalid)?;
        match kind {
            EntityKind::Group => {
                self.put_inline::<Group>(account, name, policy_name, document)
                    .await
            }
            EntityKind::Role => {
                self.put_inline::<Role>(account, name, policy_name, document)
                    .await
            }
            EntityKind::User => {
                self.put_inline::<User>(account, name, policy_name, document)
                    .await
            }
        }
    }

    /// Removes an inline policy; [`Error::NotFound`] when the entity is absent,
    /// [`Error::InlinePolicyNotFound`] when the policy is.
    pub async fn delete_inline_policy(
        &self,
        kind: EntityKind,
        account: &str,
        name: &str,
        policy_name: &str,
    ) -> Result<(), Error> {
        match kind {
            EntityKind::Group => {
                self.delete_inline::<Group>(account, name, policy_name)
                    .await
            }
            EntityKind::Role => self.delete_inline::<Role>(account, name, policy_name).await,
            EntityKind::User => self.delete_inline::<User>(account, name, policy_name).await,
        }
    }

    async fn put_inline<H: PolicyHolder>(
        &self,
        account: &str,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), Error> {
        self.update(account, name, |e: &mut H, _| {
            let map = e.inline_policies_mut();
            map.insert(policy_name.to_owned(), document.to_owned());
            let total: usize = map
                .values()
                .map(|d| crate::policy::non_whitespace_len(d))
                .sum();
            if total > H::INLINE_LIMIT {
                return Err(Error::LimitExceeded(Limit::InlinePolicySize {
                    kind: H::WORD,
                    name: name.to_owned(),
                    limit: H::INLINE_LIMIT,
                }));
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn delete_inline<H: PolicyHolder>(
        &self,
        account: &str,
        name: &str,
        policy_name: &str,
    ) -> Result<(), Error> {
        self.update(account, name, |e: &mut H, _| {
            e.inline_policies_mut()
                .remove(policy_name)
                .map(drop)
                .ok_or_else(|| Error::InlinePolicyNotFound {
                    kind: H::WORD,
                    policy: policy_name.to_owned(),
                })
        })
        .await?;
        Ok(())
    }
}
