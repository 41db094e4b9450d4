//! Users: the [`Kind`] of `u/{acct}/{name}` records, their unique-id index and deletion rules.
//! A rename moves the user's group memberships, policy attachments and access keys in the
//! same batch as the record.

use std::sync::Arc;

use super::kind::{Kind, NameRules, PolicyHolder, policy_fields, record_fields, tags_field};
use super::{Dependants, Error, Iam, decode, keys, to_json};
use crate::iam::model::{AccessKey, User};
use crate::store::{Batch, Check};

impl Kind for User {
    const WORD: &'static str = "user";
    const ELEMENT: &'static str = "User";
    const PREFIX: &'static str = keys::USER;
    const NAME: NameRules = NameRules {
        param: "UserName",
        create_max: 64,
        max: 128,
    };

    record_fields!();
    fn id_key(&self) -> Option<String> {
        Some(keys::user_id(&self.id))
    }

    async fn on_rename<'a>(
        iam: &'a Iam,
        before: &'a Self,
        after: &'a Self,
        batch: &'a mut Batch,
    ) -> Result<(), Error> {
        let account = &before.account;
        for g in &before.groups {
            batch
                .deletes
                .push(keys::membership(account, g, &before.name));
            batch.puts.push((
                keys::membership(account, g, &after.name),
                keys::MARK.to_vec(),
            ));
        }
        let (old_key, new_key) = (
            keys::entity(Self::PREFIX, account, &before.name),
            keys::entity(Self::PREFIX, account, &after.name),
        );
        Iam::move_attachments(&before.attached_policies, &old_key, &new_key, batch);
        // The keys name their user: each record is rewritten, conditional on what was read.
        let owned = iam
            .scan_all(&keys::user_keys(account, Some(&before.name)))
            .await?;
        for (index, mark) in owned {
            let Some(id) = keys::indexed_key_id(&index) else {
                continue;
            };
            let kkey = keys::access_key(id);
            let Some(raw) = iam.kv.get(&kkey).await? else {
                continue;
            };
            let mut k: AccessKey = decode(&kkey, &raw)?;
            k.user = Some(after.name.clone());
            batch.checks.push(Check::Equals(kkey.clone(), raw));
            batch.puts.push((kkey, to_json(&k)?));
            batch
                .puts
                .push((keys::user_key(account, Some(&after.name), id), mark));
            batch.deletes.push(index);
        }
        Ok(())
    }
}

tags_field!(User);

impl PolicyHolder for User {
    const INLINE_LIMIT: usize = 2048;
    policy_fields!();
}

impl Iam {
    /// A user by name.
    pub async fn user(&self, account: &str, name: &str) -> Result<Option<User>, Error> {
        self.get(account, name).await
    }

    /// A user by name, shared (no copy; the request path).
    pub async fn user_shared(&self, account: &str, name: &str) -> Result<Option<Arc<User>>, Error> {
        self.get_shared_entity(account, name).await
    }

    /// A user by name, or [`Error::NotFound`].
    pub async fn user_required(&self, account: &str, name: &str) -> Result<User, Error> {
        self.require(account, name).await
    }

    /// A user by unique id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<Arc<User>>, Error> {
        self.by_index(&keys::Key::user_id(id)).await
    }

    /// Creates a user.
    pub async fn create_user(&self, user: User) -> Result<User, Error> {
        self.create(user).await
    }

    /// Deletes a user that has no access keys, MFA devices, policies or group memberships.
    pub async fn delete_user(&self, account: &str, name: &str) -> Result<User, Error> {
        let has_keys = self
            .any_under(&keys::user_keys(account, Some(name)))
            .await?;
        let has_mfa = match self.user(account, name).await? {
            Some(u) => self.has_mfa_devices(account, &u.id).await?,
            None => false,
        };
        self.delete_if(account, name, |u: &User| {
            if has_keys {
                Some(Dependants::AccessKeys)
            } else if has_mfa {
                Some(Dependants::MfaDevices)
            } else if !u.inline_policies.is_empty() {
                Some(Dependants::InlinePolicies)
            } else if !u.attached_policies.is_empty() {
                Some(Dependants::AttachedPolicies)
            } else if !u.groups.is_empty() {
                Some(Dependants::GroupMemberships)
            } else {
                None
            }
        })
        .await
    }
}
