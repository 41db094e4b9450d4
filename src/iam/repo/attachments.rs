//! Attachments of managed policies to users, groups and roles: the ARN list in the entity's
//! record, the `pa/{policy arn}/{entity key}` index (for `ListEntitiesForPolicy`, deletion
//! checks and renames) and the customer policy's attachment count, written together.

use super::kind::{EntityKind, PolicyHolder};
use super::policies::AWS_ACCOUNT;
use super::{Error, Iam, Limit, MAX_ATTACHED, keys};
use crate::iam::model::{Group, ManagedPolicy, Role, User};
use crate::iam::names::parse_entity_arn;
use crate::store::Batch;

impl Iam {
    /// Attaches a managed policy to a user, group or role (at most [`MAX_ATTACHED`]).
    pub async fn attach_policy(
        &self,
        kind: EntityKind,
        account: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), Error> {
        match kind {
            EntityKind::Group => self.attach::<Group>(account, name, policy_arn).await,
            EntityKind::Role => self.attach::<Role>(account, name, policy_arn).await,
            EntityKind::User => self.attach::<User>(account, name, policy_arn).await,
        }
    }

    /// Detaches a managed policy; [`Error::PolicyNotFound`] when it was not attached.
    pub async fn detach_policy(
        &self,
        kind: EntityKind,
        account: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), Error> {
        match kind {
            EntityKind::Group => self.detach::<Group>(account, name, policy_arn).await,
            EntityKind::Role => self.detach::<Role>(account, name, policy_arn).await,
            EntityKind::User => self.detach::<User>(account, name, policy_arn).await,
        }
    }

    async fn attach<H: PolicyHolder>(
        &self,
        account: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), Error> {
        let policy =
            self.managed_policy(policy_arn)
                .await?
                .ok_or_else(|| Error::PolicyNotAttachable {
                    arn: policy_arn.to_owned(),
                })?;
        let akey = keys::attachment(policy_arn, &keys::entity(H::PREFIX, account, name));
        let mut added = false;
        self.update(account, name, |e: &mut H, b| {
            let list = e.attached_policies_mut();
            if list.iter().any(|a| a == policy_arn) {
                return Ok(());
            }
            if list.len() >= MAX_ATTACHED {
                return Err(Error::LimitExceeded(Limit::AttachedPolicies(
                    H::ELEMENT,
                    MAX_ATTACHED,
                )));
            }
            list.push(policy_arn.to_owned());
            b.puts.push((akey.clone(), keys::MARK.to_vec()));
            added = true;
            Ok(())
        })
        .await?;
        if added && policy.account != AWS_ACCOUNT {
            self.recount_attachments(&policy.account, &policy.name, policy_arn)
                .await?;
        }
        Ok(())
    }

    async fn detach<H: PolicyHolder>(
        &self,
        account: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), Error> {
        let akey = keys::attachment(policy_arn, &keys::entity(H::PREFIX, account, name));
        let mut removed = false;
        self.update(account, name, |e: &mut H, b| {
            let list = e.attached_policies_mut();
            let before = list.len();
            list.retain(|a| a != policy_arn);
            b.deletes.push(akey.clone());
            removed = before != list.len();
            Ok(())
        })
        .await?;
        if !removed {
            return Err(Error::PolicyNotFound {
                arn: policy_arn.to_owned(),
            });
        }
        if let Some((acct, _, pname)) = parse_entity_arn(policy_arn, "policy")
            && acct != AWS_ACCOUNT
        {
            self.recount_attachments(acct, pname, policy_arn).await?;
        }
        Ok(())
    }

    /// Sets a customer policy's attachment count from the index (a deleted policy is left so).
    async fn recount_attachments(
        &self,
        account: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), Error> {
        let n = self.attachments(policy_arn).await?.len();
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match self
            .update_policy(account, name, |p: &mut ManagedPolicy, _| {
                p.attachment_count = n;
                Ok(())
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Entities a managed policy is attached to: (kind, account, lowercase name).
    pub async fn attachments(
        &self,
        policy_arn: &str,
    ) -> Result<Vec<(EntityKind, String, String)>, Error> {
        let prefix = keys::attachments(policy_arn);
        let mut out = Vec::new();
        for (k, _) in self.scan_all(&prefix).await? {
            let rest = k.get(prefix.len()..).unwrap_or_default();
            let mut it = rest.splitn(3, '/');
            let Some(kind) = it.next().and_then(EntityKind::from_prefix) else {
                continue;
            };
            if let (Some(a), Some(n)) = (it.next(), it.next()) {
                out.push((kind, a.to_owned(), n.to_owned()));
            }
        }
        Ok(out)
    }

    /// How many users, groups and roles of `account` a managed policy is attached to (AWS
    /// managed policies keep no count of their own).
    pub async fn attachment_count_in(
        &self,
        policy_arn: &str,
        account: &str,
    ) -> Result<usize, Error> {
        let mut n = 0;
        for kind in [EntityKind::User, EntityKind::Group, EntityKind::Role] {
            n += self
                .scan_all(&keys::attachments_in(policy_arn, kind.prefix(), account))
                .await?
                .len();
        }
        Ok(n)
    }

    /// Adds the moves of an entity's attachment index entries from `old_key` to `new_key` to a
    /// rename's batch.
    pub(super) fn move_attachments(arns: &[String], old_key: &str, new_key: &str, b: &mut Batch) {
        for arn in arns {
            b.deletes.push(keys::attachment(arn, old_key));
            b.puts
                .push((keys::attachment(arn, new_key), keys::MARK.to_vec()));
        }
    }
}
