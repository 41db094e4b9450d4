//! Groups: the [`Kind`] of `g/{acct}/{name}` records, and memberships (`gm/…` index entries,
//! plus the group names each user record keeps so the request path needs no scan). A rename
//! moves the memberships and renames the group in every member's record, in the same batch.

use super::kind::{Kind, NameRules, PolicyHolder, policy_fields, record_fields};
use super::{Dependants, Error, Iam, Limit, MAX_GROUPS_PER_USER, Page, decode, keys, to_json};
use crate::iam::model::{Group, User};
use crate::store::{Batch, Check};

impl Kind for Group {
    const WORD: &'static str = "group";
    const ELEMENT: &'static str = "Group";
    const PREFIX: &'static str = keys::GROUP;
    const NAME: NameRules = NameRules {
        param: "GroupName",
        create_max: 128,
        max: 128,
    };

    record_fields!();

    async fn on_rename<'a>(
        iam: &'a Iam,
        before: &'a Self,
        after: &'a Self,
        batch: &'a mut Batch,
    ) -> Result<(), Error> {
        let account = &before.account;
        for (mkey, mark) in iam.scan_all(&keys::members(account, &before.name)).await? {
            if let Some(member) = keys::member_name(&mkey) {
                batch
                    .puts
                    .push((keys::membership(account, &after.name, member), mark));
                // The member's own record names its groups: renamed in the same batch,
                // conditional on the record read.
                let ukey = keys::entity(User::PREFIX, account, member);
                if let Some(raw) = iam.kv.get(&ukey).await? {
                    let mut user: User = decode(&ukey, &raw)?;
                    for g in &mut user.groups {
                        if g.eq_ignore_ascii_case(&before.name) {
                            g.clone_from(&after.name);
                        }
                    }
                    batch.checks.push(Check::Equals(ukey.clone(), raw));
                    batch.puts.push((ukey, to_json(&user)?));
                }
            }
            batch.deletes.push(mkey);
        }
        let (old_key, new_key) = (
            keys::entity(Self::PREFIX, account, &before.name),
            keys::entity(Self::PREFIX, account, &after.name),
        );
        Iam::move_attachments(&before.attached_policies, &old_key, &new_key, batch);
        Ok(())
    }
}

impl PolicyHolder for Group {
    const INLINE_LIMIT: usize = 5120;
    policy_fields!();
}

impl Iam {
    /// A group by name.
    pub async fn group(&self, account: &str, name: &str) -> Result<Option<Group>, Error> {
        self.get(account, name).await
    }

    /// Creates a group.
    pub async fn create_group(&self, group: Group) -> Result<Group, Error> {
        self.create(group).await
    }

    /// Deletes a group without members or policies.
    pub async fn delete_group(&self, account: &str, name: &str) -> Result<Group, Error> {
        let has_members = self.any_under(&keys::members(account, name)).await?;
        self.delete_if(account, name, |g: &Group| {
            if has_members {
                Some(Dependants::GroupMembers)
            } else if !g.inline_policies.is_empty() {
                Some(Dependants::InlinePolicies)
            } else if !g.attached_policies.is_empty() {
                Some(Dependants::AttachedPolicies)
            } else {
                None
            }
        })
        .await
    }

    /// Adds a user to a group (at most [`MAX_GROUPS_PER_USER`] groups per user). The group
    /// must still exist when the membership lands.
    pub async fn add_user_to_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), Error> {
        let g = self.require::<Group>(account, group).await?;
        let gkey = keys::entity(Group::PREFIX, account, group);
        let mkey = keys::membership(account, group, user);
        self.update(account, user, |u: &mut User, b| {
            if u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)) {
                return Ok(());
            }
            if u.groups.len() >= MAX_GROUPS_PER_USER {
                return Err(Error::LimitExceeded(Limit::GroupsPerUser(
                    MAX_GROUPS_PER_USER,
                )));
            }
            u.groups.push(g.name.clone());
            b.checks.push(Check::Present(gkey.clone()));
            b.puts.push((mkey.clone(), keys::MARK.to_vec()));
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Removes a user from a group; [`Error::NotInGroup`] when it was not a member.
    pub async fn remove_user_from_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), Error> {
        self.require::<Group>(account, group).await?;
        let mkey = keys::membership(account, group, user);
        let mut was_member = false;
        self.update(account, user, |u: &mut User, b| {
            let before = u.groups.len();
            u.groups.retain(|x| !x.eq_ignore_ascii_case(group));
            was_member = u.groups.len() != before;
            b.deletes.push(mkey.clone());
            Ok(())
        })
        .await?;
        if was_member {
            Ok(())
        } else {
            Err(Error::NotInGroup {
                user: user.to_owned(),
                group: group.to_owned(),
            })
        }
    }

    /// The users in a group, one page of the membership index.
    pub async fn group_members(
        &self,
        account: &str,
        group: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<User>, Error> {
        let prefix = keys::members(account, group);
        let (rows, next_marker) = self.scan_page(&prefix, marker, max_items).await?;
        let keys: Vec<String> = rows
            .iter()
            .filter_map(|(k, _)| keys::member_name(k))
            .map(|u| keys::entity(User::PREFIX, account, u))
            .collect();
        let mut items = Vec::with_capacity(keys.len());
        for (k, v) in keys.iter().zip(self.kv.get_many(&keys).await?) {
            if let Some(v) = v {
                items.push(decode(k, &v)?);
            }
        }
        Ok(Page { items, next_marker })
    }
}
