//! Entity kinds, and the repository operations written once for all of them.
//!
//! A kind is a stored record type with a name, a path and an ARN, kept at
//! [`keys::entity`]`(K::PREFIX, account, name)`. Implementing [`Kind`] (and [`Tagged`] if it
//! carries tags) is all a new kind needs for get, list, create, update, tag, untag, list-tags,
//! rename and delete — `record_fields!()` and `tags_field!(T)` write the field accessors;
//! `users.rs`, `groups.rs` and `roles.rs` are the worked examples. Users, groups and roles also
//! hold policies ([`PolicyHolder`]); [`EntityKind`] names those three at
//! run time (actions and the attachment index choose one by parameter).

use std::future::Future;

use super::{Dependants, Error, Iam, Limit, MAX_TAGS, Page, decode, keys, to_json};
use crate::iam::model::{Group, Role, Tag, User};
use crate::iam::names::entity_arn;
use crate::store::{Batch, Check};

/// How a kind's names are given: the parameter and its maximum lengths (AWS allows longer names
/// in lookups than at creation for some kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRules {
    /// The Query parameter (`UserName`).
    pub param: &'static str,
    /// Maximum length at creation.
    pub create_max: usize,
    /// Maximum length in lookups.
    pub max: usize,
}

/// Inside an `impl Kind for T`: the six field accessors of a record that keeps its `account`,
/// `name`, `path` and `arn` in fields of those names; `record_fields!(flat)` for a kind without
/// paths (always `/`: SAML and OIDC providers).
macro_rules! record_fields {
    (flat) => {
        fn account(&self) -> &str {
            &self.account
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn set_name(&mut self, name: &str) {
            name.clone_into(&mut self.name);
        }
        fn path(&self) -> &str {
            "/"
        }
        fn set_path(&mut self, _: &str) {}
        fn set_arn(&mut self, arn: String) {
            self.arn = arn;
        }
    };
    () => {
        fn account(&self) -> &str {
            &self.account
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn set_name(&mut self, name: &str) {
            name.clone_into(&mut self.name);
        }
        fn path(&self) -> &str {
            &self.path
        }
        fn set_path(&mut self, path: &str) {
            path.clone_into(&mut self.path);
        }
        fn set_arn(&mut self, arn: String) {
            self.arn = arn;
        }
    };
}
pub(crate) use record_fields;

/// Inside an `impl PolicyHolder for T`: the accessors of a record that keeps its policies in
/// `inline_policies` and `attached_policies` fields (users, groups, roles).
macro_rules! policy_fields {
    () => {
        fn inline_policies(&self) -> &std::collections::BTreeMap<String, String> {
            &self.inline_policies
        }
        fn inline_policies_mut(&mut self) -> &mut std::collections::BTreeMap<String, String> {
            &mut self.inline_policies
        }
        fn attached_policies(&self) -> &[String] {
            &self.attached_policies
        }
        fn attached_policies_mut(&mut self) -> &mut Vec<String> {
            &mut self.attached_policies
        }
    };
}
pub(crate) use policy_fields;

/// `impl Tagged for T` for a record that keeps its tags in a `tags` field.
macro_rules! tags_field {
    ($t:ty) => {
        impl $crate::iam::repo::Tagged for $t {
            fn tags(&self) -> &[$crate::iam::model::Tag] {
                &self.tags
            }
            fn tags_mut(&mut self) -> &mut Vec<$crate::iam::model::Tag> {
                &mut self.tags
            }
        }
    };
}
pub(crate) use tags_field;

/// A kind of IAM entity stored under its own key prefix.
pub trait Kind:
    serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static
{
    /// The word in messages and ARNs (`user` in `arn:aws:iam::1:user/alice`).
    const WORD: &'static str;
    /// The XML element and the action-name part (`User` in `GetUser` and `<User>`).
    const ELEMENT: &'static str;
    /// The store-key prefix (a constant of [`keys`]).
    const PREFIX: &'static str;
    /// How names are given.
    const NAME: NameRules;

    /// The owning account.
    fn account(&self) -> &str;
    /// The name, case preserved.
    fn name(&self) -> &str;
    /// Renames.
    fn set_name(&mut self, name: &str);
    /// The path (`/` by default).
    fn path(&self) -> &str;
    /// Moves to another path.
    fn set_path(&mut self, path: &str);
    /// Sets the ARN (derived from the account, path and name on every create and rename).
    fn set_arn(&mut self, arn: String);

    /// The unique-id index entry pointing at the record (`uid/…`), for kinds that have one.
    fn id_key(&self) -> Option<String> {
        None
    }

    /// Adds the index moves of a rename from `before` to `after` to `batch` (the rename's one
    /// atomic write): memberships, attachments, access keys… Reads must add `Check::Equals` for
    /// what they rely on. Nothing by default.
    fn on_rename<'a>(
        iam: &'a Iam,
        before: &'a Self,
        after: &'a Self,
        batch: &'a mut Batch,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let _ = (iam, before, after, batch);
        async { Ok(()) }
    }
}

/// A kind that carries tags (at most [`MAX_TAGS`], keys unique case-insensitively).
pub trait Tagged: Kind {
    /// The tags.
    fn tags(&self) -> &[Tag];
    /// The tags, to change.
    fn tags_mut(&mut self) -> &mut Vec<Tag>;
}

/// Users, groups and roles: inline policies and attached managed policies.
pub trait PolicyHolder: Kind {
    /// Limit of the aggregate non-whitespace size of the inline policies.
    const INLINE_LIMIT: usize;
    /// Inline policies: name → document.
    fn inline_policies(&self) -> &std::collections::BTreeMap<String, String>;
    /// Inline policies, to change.
    fn inline_policies_mut(&mut self) -> &mut std::collections::BTreeMap<String, String>;
    /// Attached managed policy ARNs.
    fn attached_policies(&self) -> &[String];
    /// Attached managed policy ARNs, to change.
    fn attached_policies_mut(&mut self) -> &mut Vec<String>;
}

/// Which policy holder (chosen at run time by the action or read from an attachment key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// A group.
    Group,
    /// A role.
    Role,
    /// A user.
    User,
}

impl EntityKind {
    /// Store-key prefix.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Group => Group::PREFIX,
            Self::Role => Role::PREFIX,
            Self::User => User::PREFIX,
        }
    }

    /// The kind whose key prefix is `prefix`.
    #[must_use]
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        [Self::Group, Self::Role, Self::User]
            .into_iter()
            .find(|k| k.prefix() == prefix)
    }

    /// Word used in messages and ARNs.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Group => Group::WORD,
            Self::Role => Role::WORD,
            Self::User => User::WORD,
        }
    }

    /// XML element and action-name part (`User`).
    #[must_use]
    pub fn element(self) -> &'static str {
        match self {
            Self::Group => Group::ELEMENT,
            Self::Role => Role::ELEMENT,
            Self::User => User::ELEMENT,
        }
    }

    /// How names of this kind are given.
    #[must_use]
    pub fn name_rules(self) -> NameRules {
        match self {
            Self::Group => Group::NAME,
            Self::Role => Role::NAME,
            Self::User => User::NAME,
        }
    }
}

/// Store key of a user, group or role.
#[must_use]
pub fn entity_key(kind: EntityKind, account: &str, name: &str) -> String {
    keys::entity(kind.prefix(), account, name)
}

impl Iam {
    /// The store key of an entity.
    fn key_of<K: Kind>(account: &str, name: &str) -> String {
        keys::entity(K::PREFIX, account, name)
    }

    /// An entity by name.
    pub async fn get<K: Kind>(&self, account: &str, name: &str) -> Result<Option<K>, Error> {
        self.get_json(&Self::key_of::<K>(account, name)).await
    }

    /// An entity by name, shared (no copy; the request path).
    pub async fn get_shared_entity<K: Kind>(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<std::sync::Arc<K>>, Error> {
        self.get_shared(&keys::Key::entity(K::PREFIX, account, name))
            .await
    }

    /// An entity by name, or [`Error::NotFound`].
    pub async fn require<K: Kind>(&self, account: &str, name: &str) -> Result<K, Error> {
        self.get(account, name)
            .await?
            .ok_or_else(|| Error::not_found(K::WORD, name))
    }

    /// A page of an account's entities whose path starts with `path_prefix`, by name.
    pub async fn list<K: Kind>(
        &self,
        account: &str,
        path_prefix: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<K>, Error> {
        let prefix = keys::entities(K::PREFIX, account);
        self.list_where(&prefix, marker, max_items, |e: &K| {
            e.path().starts_with(path_prefix)
        })
        .await
    }

    /// Every entity of a kind in an account (O(n): summaries and reports).
    pub async fn all<K: Kind>(&self, account: &str) -> Result<Vec<K>, Error> {
        self.list_all(&keys::entities(K::PREFIX, account)).await
    }

    /// How many entities of a kind an account has (O(n)).
    pub async fn count<K: Kind>(&self, account: &str) -> Result<usize, Error> {
        Ok(self
            .scan_all(&keys::entities(K::PREFIX, account))
            .await?
            .len())
    }

    /// Creates an entity (its ARN is derived here) with its unique-id index entry, if the name
    /// is free; otherwise [`Error::AlreadyExists`].
    pub async fn create<K: Kind>(&self, mut e: K) -> Result<K, Error> {
        let key = Self::key_of::<K>(e.account(), e.name());
        let arn = entity_arn(&self.partition, e.account(), K::WORD, e.path(), e.name());
        e.set_arn(arn);
        let index = match e.id_key() {
            Some(k) => Some((k, to_json(&key)?)),
            None => None,
        };
        let exists = || Error::AlreadyExists {
            kind: K::WORD,
            name: e.name().to_owned(),
        };
        self.insert_new(&key, &e, index, exists).await?;
        Ok(e)
    }

    /// Read-modify-write of an entity; [`Error::NotFound`] when it does not exist.
    pub async fn update<K, F>(&self, account: &str, name: &str, f: F) -> Result<K, Error>
    where
        K: Kind,
        F: FnMut(&mut K, &mut Batch) -> Result<(), Error>,
    {
        let missing = || Error::not_found(K::WORD, name);
        self.update_at(&Self::key_of::<K>(account, name), missing, f)
            .await
    }

    /// Adds or replaces tags (keys case-insensitive; a new value replaces), at most
    /// [`MAX_TAGS`]. Returns the entity as changed.
    pub async fn tag<K: Tagged>(&self, account: &str, name: &str, new: &[Tag]) -> Result<K, Error> {
        self.update(account, name, |e: &mut K, _| {
            let tags = e.tags_mut();
            for t in new {
                tags.retain(|x| !x.key.eq_ignore_ascii_case(&t.key));
                tags.push(t.clone());
            }
            if tags.len() > MAX_TAGS {
                return Err(Error::LimitExceeded(Limit::Tags(MAX_TAGS)));
            }
            Ok(())
        })
        .await
    }

    /// Removes the tags with these keys (case-insensitive). Returns the entity as changed.
    pub async fn untag<K: Tagged>(
        &self,
        account: &str,
        name: &str,
        keys: &[String],
    ) -> Result<K, Error> {
        self.update(account, name, |e: &mut K, _| {
            e.tags_mut()
                .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
            Ok(())
        })
        .await
    }

    /// An entity's tags, or [`Error::NotFound`].
    pub async fn tags<K: Tagged>(&self, account: &str, name: &str) -> Result<Vec<Tag>, Error> {
        Ok(self.require::<K>(account, name).await?.tags().to_vec())
    }

    /// Changes an entity's name and/or path in one atomic batch: the record moves to its new
    /// key, the unique-id index follows, and [`Kind::on_rename`] moves whatever else names it.
    /// Returns (before, after); [`Error::AlreadyExists`] when the new name is taken.
    pub async fn rename<K: Kind>(
        &self,
        account: &str,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<(K, K), Error> {
        let key = Self::key_of::<K>(account, name);
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| Error::not_found(K::WORD, name))?;
        let before: K = decode(&key, &raw)?;
        let mut after = before.clone();
        if let Some(p) = new_path {
            after.set_path(p);
        }
        if let Some(n) = new_name {
            after.set_name(n);
        }
        let arn = entity_arn(
            &self.partition,
            account,
            K::WORD,
            after.path(),
            after.name(),
        );
        after.set_arn(arn);
        let new_key = Self::key_of::<K>(account, after.name());
        let mut batch = Batch::new().check(Check::Equals(key.clone(), raw));
        if new_key != key {
            batch = batch
                .check(Check::Absent(new_key.clone()))
                .delete(key.clone());
            if let Some(index) = after.id_key() {
                batch = batch.put(index, to_json(&new_key)?);
            }
            K::on_rename(self, &before, &after, &mut batch).await?;
        }
        batch = batch.put(new_key.clone(), to_json(&after)?);
        match self.kv.commit(batch).await {
            Ok(()) => Ok((before, after)),
            Err(crate::store::Error::Conflict(k)) if k == new_key && k != key => {
                Err(Error::AlreadyExists {
                    kind: K::WORD,
                    name: after.name().to_owned(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an entity (and its unique-id index entry) unless `blocked` names dependants that
    /// must go first ([`Error::DeleteConflict`]). Returns the deleted record.
    pub async fn delete_if<K: Kind>(
        &self,
        account: &str,
        name: &str,
        blocked: impl FnOnce(&K) -> Option<Dependants>,
    ) -> Result<K, Error> {
        let key = Self::key_of::<K>(account, name);
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| Error::not_found(K::WORD, name))?;
        let e: K = decode(&key, &raw)?;
        if let Some(d) = blocked(&e) {
            return Err(Error::DeleteConflict(d));
        }
        let mut batch = Batch::new()
            .check(Check::Equals(key.clone(), raw))
            .delete(key);
        if let Some(index) = e.id_key() {
            batch = batch.delete(index);
        }
        self.kv.commit(batch).await?;
        Ok(e)
    }
}
