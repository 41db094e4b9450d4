//! The IAM repository: typed reads and writes of entities over the [`Kv`] store.
//!
//! Store layout (keys are `/`-separated; names lowercased for case-insensitive uniqueness):
//!
//! | key | value |
//! |---|---|
//! | `a/{acct}` | [`Account`] |
//! | `u/{acct}/{name}` | [`User`] ; `uid/{AIDA…}` → `u/…` key |
//! | `g/{acct}/{name}` | [`Group`] ; `gm/{acct}/{group}/{user}` membership index |
//! | `r/{acct}/{name}` | [`Role`] ; `rid/{AROA…}` → `r/…` key |
//! | `p/{acct}/{name}` | customer [`ManagedPolicy`] ; `pa/{policy arn}/{entity key}` attachments |
//! | `k/{AKIA…}` | [`AccessKey`] ; `uk/{acct}/{user or #root}/{AKIA…}` index ; `lu/{AKIA…}` [`LastUsed`] |
//!
//! Every write is one atomic batch with preconditions (optimistic concurrency, retried), durable
//! before it returns. Reads of single keys go through the invalidating cache.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::at_rest::AtRestKey;
use super::model::{
    AccessKey, Account, Group, KeyStatus, LastUsed, ManagedPolicy, PolicyVersion, Role, User,
};
use super::names::{entity_arn, no_such, parse_entity_arn};
use crate::error::{ApiError, Code};
use crate::policy::{Policy, PolicyCache, PolicyId, PolicyKind};
use crate::secret::SecretString;
use crate::store::{Batch, Check, Kv};

/// Quota: access keys per user (and root).
pub const MAX_ACCESS_KEYS: usize = 2;
/// Quota: groups per user.
pub const MAX_GROUPS_PER_USER: usize = 10;
/// Quota: managed policies attached per user, group or role.
pub const MAX_ATTACHED: usize = 10;
/// Quota: versions per managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

/// How many decoded entities the memo keeps (the read cache's own bound is larger; a miss here
/// costs one decode).
const MEMO_ENTRIES: usize = 50_000;

/// A role with its policies parsed: decoded once per stored version of the role.
pub struct RoleView {
    /// The role.
    pub role: Role,
    inline: Result<Vec<(PolicyId, Arc<Policy>)>, ApiError>,
    trust: Result<Arc<Policy>, ApiError>,
}

impl RoleView {
    /// The trust policy, with its principals bound to the unique ids resolved at write time.
    pub fn trust(&self) -> Result<Arc<Policy>, ApiError> {
        self.trust.clone()
    }
}

/// An access key with its secret opened (hot path of every long-term-key request).
pub struct KeyWithSecret {
    /// The key record.
    pub key: AccessKey,
    /// The secret access key, decrypted.
    pub secret: SecretString,
}

/// Which kind of entity a policy is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// A user.
    User,
    /// A group.
    Group,
    /// A role.
    Role,
}

impl EntityKind {
    /// Store-key prefix letter.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::User => "u",
            Self::Group => "g",
            Self::Role => "r",
        }
    }

    /// Word used in messages and ARNs.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
            Self::Role => "role",
        }
    }
}

/// The repository.
pub struct Iam {
    kv: Arc<dyn Kv>,
    at_rest: AtRestKey,
    /// Parsed-policy cache (by content).
    pub policies: PolicyCache,
    aws_managed: Arc<BTreeMap<String, ManagedPolicy>>,
    /// Decoded entities, by the bytes they were decoded from.
    memo: super::memo::Memo,
    aws_parsed: RwLock<HashMap<String, Arc<Policy>>>,
    /// ARN partition.
    pub partition: String,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam")
            .field("backend", &self.kv.backend_name())
            .finish_non_exhaustive()
    }
}

/// Store key of an entity.
#[must_use]
pub fn entity_key(kind: EntityKind, account: &str, name: &str) -> String {
    format!("{}/{account}/{}", kind.prefix(), name.to_lowercase())
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(ApiError::internal)
}

/// Encodes a pagination marker (opaque to clients).
#[must_use]
pub fn encode_marker(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key)
}

/// Decodes a pagination marker.
pub fn decode_marker(marker: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(marker)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::new(Code::InvalidInput, "Invalid Marker"))
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Items.
    pub items: Vec<T>,
    /// Marker for the next page when truncated.
    pub next_marker: Option<String>,
}

impl Iam {
    /// A repository over `kv` (wrap it in [`crate::cache::CachedKv`] first for the hot path).
    #[must_use]
    pub fn new(
        kv: Arc<dyn Kv>,
        at_rest: AtRestKey,
        aws_managed: Vec<ManagedPolicy>,
        partition: &str,
    ) -> Self {
        let aws_managed = aws_managed
            .into_iter()
            .map(|p| (p.arn.clone(), p))
            .collect();
        Self {
            kv,
            at_rest,
            policies: PolicyCache::new(4096),
            aws_managed: Arc::new(aws_managed),
            memo: super::memo::Memo::new(MEMO_ENTRIES),
            aws_parsed: RwLock::new(HashMap::new()),
            partition: partition.to_owned(),
        }
    }

    /// The underlying store.
    #[must_use]
    pub fn kv(&self) -> &Arc<dyn Kv> {
        &self.kv
    }

    /// Reads and decodes a JSON value (a copy of the memoized decoding).
    pub async fn get_json<T>(&self, key: &str) -> Result<Option<T>, ApiError>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        Ok(self.get_shared::<T>(key).await?.map(Arc::unwrap_or_clone))
    }

    /// Reads a JSON value, decoded once per stored version (see [`super::memo`]).
    pub async fn get_shared<T>(&self, key: &str) -> Result<Option<Arc<T>>, ApiError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        self.get_decoded(key, |b| decode(key, b)).await
    }

    async fn get_decoded<T, F>(&self, key: &str, decode: F) -> Result<Option<Arc<T>>, ApiError>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&[u8]) -> Result<T, ApiError>,
    {
        let bytes = match self.kv.cached(key) {
            Some(hit) => hit,
            // Now in the read cache (unless a write raced): memoize against its buffer, so the
            // next hit compares pointers rather than bytes.
            None => self
                .kv
                .get(key)
                .await?
                .map(|v| self.kv.cached(key).flatten().unwrap_or_else(|| v.into())),
        };
        match bytes {
            Some(bytes) => self.memoized(key, bytes, decode).map(Some),
            None => Ok(None),
        }
    }

    /// The memoized decoding of `bytes` read at `key`, decoding (and remembering) on a miss.
    fn memoized<T, F>(&self, key: &str, bytes: Bytes, decode: F) -> Result<Arc<T>, ApiError>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&[u8]) -> Result<T, ApiError>,
    {
        if let Some(v) = self.memo.get::<T>(key, &bytes) {
            return Ok(v);
        }
        let v = Arc::new(decode(&bytes)?);
        self.memo.put(key, bytes, v.clone());
        Ok(v)
    }

    /// Read-modify-write of one JSON value with optimistic concurrency. `f` may add more writes
    /// to the batch (indexes) and may fail, which aborts. Returns the new value.
    pub async fn update<T, F>(&self, key: &str, mut f: F) -> Result<T, ApiError>
    where
        T: Serialize + DeserializeOwned + Clone,
        F: FnMut(&mut T, &mut Batch) -> Result<(), ApiError>,
    {
        for _ in 0..8 {
            let Some(raw) = self.kv.get(key).await? else {
                return Err(ApiError::new(
                    Code::NoSuchEntity,
                    format!("{key} not found"),
                ));
            };
            let mut v: T = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
            let mut batch = Batch::new().check(Check::Equals(key.to_owned(), raw.clone()));
            f(&mut v, &mut batch)?;
            let new = to_json(&v)?;
            if new == raw && batch.puts.is_empty() && batch.deletes.is_empty() {
                return Ok(v);
            }
            batch.puts.push((key.to_owned(), new));
            match self.kv.commit(batch).await {
                Ok(()) => return Ok(v),
                Err(crate::store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::from(crate::store::Error::Conflict(
            key.to_owned(),
        )))
    }

    /// Writes a new entity (and an optional index entry) if its key is free; otherwise
    /// `EntityAlreadyExists` with `exists` as the message.
    async fn insert_new<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        index: Option<(String, Vec<u8>)>,
        exists: String,
    ) -> Result<(), ApiError> {
        let mut batch = Batch::new()
            .check(Check::Absent(key.to_owned()))
            .put(key, to_json(value)?);
        batch.puts.extend(index);
        match self.kv.commit(batch).await {
            Ok(()) => Ok(()),
            Err(crate::store::Error::Conflict(_)) => {
                Err(ApiError::new(Code::EntityAlreadyExists, exists))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Follows an index entry (`uid/…`, `rid/…`) to the entity it names.
    async fn by_index<T>(&self, index: &str) -> Result<Option<Arc<T>>, ApiError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        match self.get_shared::<String>(index).await? {
            Some(key) => self.get_shared(&key).await,
            None => Ok(None),
        }
    }

    // ----- accounts -----

    /// An account.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, ApiError> {
        self.get_json(&format!("a/{id}")).await
    }

    /// Creates the account if absent, or sets its alias.
    pub async fn ensure_account(
        &self,
        id: &str,
        alias: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Account, ApiError> {
        let key = format!("a/{id}");
        if self.account(id).await?.is_none() {
            let a = Account {
                id: id.to_owned(),
                alias: alias.map(str::to_owned),
                create_date: now,
            };
            match self
                .kv
                .commit(
                    Batch::new()
                        .check(Check::Absent(key.clone()))
                        .put(&key, to_json(&a)?),
                )
                .await
            {
                Ok(()) | Err(crate::store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.update(&key, |a: &mut Account, _| {
            if let Some(al) = alias {
                a.alias = Some(al.to_owned());
            }
            Ok(())
        })
        .await
    }

    // ----- users -----

    /// A user by name.
    pub async fn user(&self, account: &str, name: &str) -> Result<Option<User>, ApiError> {
        self.get_json(&entity_key(EntityKind::User, account, name))
            .await
    }

    /// A user by name, shared (no copy; the request path).
    pub async fn user_shared(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<Arc<User>>, ApiError> {
        self.get_shared(&entity_key(EntityKind::User, account, name))
            .await
    }

    /// A user by name, or `NoSuchEntity`.
    pub async fn user_required(&self, account: &str, name: &str) -> Result<User, ApiError> {
        self.user(account, name)
            .await?
            .ok_or_else(|| no_such("user", name))
    }

    /// A user by unique id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<Arc<User>>, ApiError> {
        self.by_index(&format!("uid/{id}")).await
    }

    /// Creates a user.
    pub async fn create_user(&self, mut user: User) -> Result<User, ApiError> {
        let key = entity_key(EntityKind::User, &user.account, &user.name);
        user.arn = entity_arn(
            &self.partition,
            &user.account,
            "user",
            &user.path,
            &user.name,
        );
        let index = Some((format!("uid/{}", user.id), to_json(&key)?));
        let exists = format!("User with name {} already exists.", user.name);
        self.insert_new(&key, &user, index, exists).await?;
        Ok(user)
    }

    // ----- groups -----

    /// A group by name.
    pub async fn group(&self, account: &str, name: &str) -> Result<Option<Group>, ApiError> {
        self.get_json(&entity_key(EntityKind::Group, account, name))
            .await
    }

    /// Creates a group.
    pub async fn create_group(&self, mut group: Group) -> Result<Group, ApiError> {
        let key = entity_key(EntityKind::Group, &group.account, &group.name);
        group.arn = entity_arn(
            &self.partition,
            &group.account,
            "group",
            &group.path,
            &group.name,
        );
        let exists = format!("Group with name {} already exists.", group.name);
        self.insert_new(&key, &group, None, exists).await?;
        Ok(group)
    }

    /// Adds a user to a group (at most 10 groups per user).
    pub async fn add_user_to_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), ApiError> {
        let g = self
            .group(account, group)
            .await?
            .ok_or_else(|| no_such("group", group))?;
        let ukey = entity_key(EntityKind::User, account, user);
        let gkey = entity_key(EntityKind::Group, account, group);
        let mkey = format!(
            "gm/{account}/{}/{}",
            group.to_lowercase(),
            user.to_lowercase()
        );
        self.update(&ukey, |u: &mut User, b| {
            if u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)) {
                return Ok(());
            }
            if u.groups.len() >= MAX_GROUPS_PER_USER {
                return Err(ApiError::new(
                    Code::LimitExceeded,
                    format!("Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"),
                ));
            }
            u.groups.push(g.name.clone());
            b.checks.push(Check::Present(gkey.clone()));
            b.puts.push((mkey.clone(), b"\"\"".to_vec()));
            Ok(())
        })
        .await
        .map_err(|e| {
            if e.code == Code::NoSuchEntity {
                no_such("user", user)
            } else {
                e
            }
        })?;
        Ok(())
    }

    /// Removes a user from a group.
    pub async fn remove_user_from_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), ApiError> {
        if self.group(account, group).await?.is_none() {
            return Err(no_such("group", group));
        }
        let ukey = entity_key(EntityKind::User, account, user);
        let mkey = format!(
            "gm/{account}/{}/{}",
            group.to_lowercase(),
            user.to_lowercase()
        );
        let mut was_member = false;
        self.update(&ukey, |u: &mut User, b| {
            let before = u.groups.len();
            u.groups.retain(|x| !x.eq_ignore_ascii_case(group));
            was_member = u.groups.len() != before;
            b.deletes.push(mkey.clone());
            Ok(())
        })
        .await
        .map_err(|e| {
            if e.code == Code::NoSuchEntity {
                no_such("user", user)
            } else {
                e
            }
        })?;
        if was_member {
            Ok(())
        } else {
            Err(ApiError::new(
                Code::NoSuchEntity,
                format!("The user with name {user} is not in group {group}."),
            ))
        }
    }

    // ----- roles -----

    /// A role by name.
    pub async fn role(&self, account: &str, name: &str) -> Result<Option<Role>, ApiError> {
        self.get_json(&entity_key(EntityKind::Role, account, name))
            .await
    }

    /// Creates a role. The trust policy must already be validated and its principals resolved.
    pub async fn create_role(&self, mut role: Role) -> Result<Role, ApiError> {
        let key = entity_key(EntityKind::Role, &role.account, &role.name);
        role.arn = entity_arn(
            &self.partition,
            &role.account,
            "role",
            &role.path,
            &role.name,
        );
        let index = Some((format!("rid/{}", role.id), to_json(&key)?));
        let exists = format!("Role with name {} already exists.", role.name);
        self.insert_new(&key, &role, index, exists).await?;
        Ok(role)
    }

    /// Validates a trust policy and resolves the user/role ARNs it names to unique ids (AWS
    /// stores trust principals by id: a re-created entity does not inherit old trust).
    pub async fn check_trust_policy(
        &self,
        text: &str,
    ) -> Result<(Arc<Policy>, BTreeMap<String, String>), ApiError> {
        let policy = self
            .policies
            .get_or_parse(text, PolicyKind::Trust)
            .map_err(policy_error)?;
        let mut ids = BTreeMap::new();
        for arn in policy.principal_arns() {
            let id = if let Some((acct, _, name)) = parse_entity_arn(&arn, "user") {
                self.user(acct, name)
                    .await?
                    .filter(|u| u.arn == arn)
                    .map(|u| u.id)
            } else if parse_entity_arn(&arn, "role").is_some() {
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
                None => {
                    return Err(ApiError::new(
                        Code::MalformedPolicyDocument,
                        format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
                    ));
                }
            }
        }
        Ok((policy, ids))
    }

    /// A role by ARN (the path in the ARN must match the role's path), with its trust and
    /// inline policies parsed once per stored version.
    pub async fn role_view_by_arn(&self, arn: &str) -> Result<Option<Arc<RoleView>>, ApiError> {
        let Some((account, path, name)) = parse_entity_arn(arn, "role") else {
            return Ok(None);
        };
        Ok(self
            .role_view(&entity_key(EntityKind::Role, account, name))
            .await?
            .filter(|v| v.role.path == path && v.role.arn == arn))
    }

    /// A role by unique id, as a [`RoleView`] (the path of every role session's request).
    pub async fn role_view_by_id(&self, id: &str) -> Result<Option<Arc<RoleView>>, ApiError> {
        match self.get_shared::<String>(&format!("rid/{id}")).await? {
            Some(key) => self.role_view(&key).await,
            None => Ok(None),
        }
    }

    async fn role_view(&self, key: &str) -> Result<Option<Arc<RoleView>>, ApiError> {
        self.get_decoded(key, |b| {
            let role: Role = decode(key, b)?;
            let inline = role
                .inline_policies
                .iter()
                .map(|(name, doc)| {
                    Ok((
                        PolicyId(format!("{}#inline/{name}", role.arn).into()),
                        self.parse_identity(doc)?,
                    ))
                })
                .collect();
            let trust = crate::policy::parse(&role.trust_policy, PolicyKind::Trust)
                .map_err(policy_error)
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
            Ok(RoleView {
                role,
                inline,
                trust,
            })
        })
        .await
    }

    // ----- managed policies -----

    /// A managed policy (customer or AWS) by ARN.
    pub async fn managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicy>, ApiError> {
        if let Some(p) = self.aws_managed.get(arn) {
            return Ok(Some(p.clone()));
        }
        let Some((account, path, name)) = parse_entity_arn(arn, "policy") else {
            return Ok(None);
        };
        let p: Option<ManagedPolicy> = self
            .get_json(&format!("p/{account}/{}", name.to_lowercase()))
            .await?;
        Ok(p.filter(|p| p.path == path && p.arn == arn))
    }

    /// The AWS managed policies.
    #[must_use]
    pub fn aws_managed(&self) -> &BTreeMap<String, ManagedPolicy> {
        &self.aws_managed
    }

    /// Creates a customer managed policy (document already validated by the caller or here).
    pub async fn create_policy(&self, mut p: ManagedPolicy) -> Result<ManagedPolicy, ApiError> {
        for v in &p.versions {
            self.policies
                .get_or_parse(&v.document, PolicyKind::Managed)
                .map_err(policy_error)?;
        }
        let key = format!("p/{}/{}", p.account, p.name.to_lowercase());
        p.arn = entity_arn(&self.partition, &p.account, "policy", &p.path, &p.name);
        let exists = format!(
            "A policy called {} already exists. Duplicate names are not allowed.",
            p.name
        );
        self.insert_new(&key, &p, None, exists).await?;
        Ok(p)
    }

    /// Attaches a managed policy to a user, group or role.
    pub async fn attach_policy(
        &self,
        kind: EntityKind,
        account: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), ApiError> {
        let policy = self.managed_policy(policy_arn).await?.ok_or_else(|| {
            ApiError::new(
                Code::NoSuchEntity,
                format!("Policy {policy_arn} does not exist or is not attachable."),
            )
        })?;
        let ekey = entity_key(kind, account, name);
        let akey = format!("pa/{policy_arn}/{ekey}");
        let pkey = (policy.account != "aws")
            .then(|| format!("p/{}/{}", policy.account, policy.name.to_lowercase()));
        let attach = |list: &mut Vec<String>, b: &mut Batch| -> Result<bool, ApiError> {
            if list.iter().any(|a| a == policy_arn) {
                return Ok(false);
            }
            if list.len() >= MAX_ATTACHED {
                return Err(ApiError::new(
                    Code::LimitExceeded,
                    format!(
                        "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
                        capitalise(kind.word())
                    ),
                ));
            }
            list.push(policy_arn.to_owned());
            b.puts.push((akey.clone(), b"\"\"".to_vec()));
            Ok(true)
        };
        let mut added = false;
        let res = match kind {
            EntityKind::User => self
                .update(&ekey, |u: &mut User, b| {
                    added = attach(&mut u.attached_policies, b)?;
                    Ok(())
                })
                .await
                .map(|_| ()),
            EntityKind::Group => self
                .update(&ekey, |g: &mut Group, b| {
                    added = attach(&mut g.attached_policies, b)?;
                    Ok(())
                })
                .await
                .map(|_| ()),
            EntityKind::Role => self
                .update(&ekey, |r: &mut Role, b| {
                    added = attach(&mut r.attached_policies, b)?;
                    Ok(())
                })
                .await
                .map(|_| ()),
        };
        res.map_err(|e| {
            if e.code == Code::NoSuchEntity {
                no_such(kind.word(), name)
            } else {
                e
            }
        })?;
        if added && let Some(pkey) = pkey {
            self.recount_attachments(&pkey, policy_arn).await?;
        }
        Ok(())
    }

    /// Detaches a managed policy.
    pub async fn detach_policy(
        &self,
        kind: EntityKind,
        account: &str,
        name: &str,
        policy_arn: &str,
    ) -> Result<(), ApiError> {
        let ekey = entity_key(kind, account, name);
        let akey = format!("pa/{policy_arn}/{ekey}");
        let mut removed = false;
        let detach = |list: &mut Vec<String>, b: &mut Batch| -> bool {
            let before = list.len();
            list.retain(|a| a != policy_arn);
            b.deletes.push(akey.clone());
            before != list.len()
        };
        let res = match kind {
            EntityKind::User => self
                .update(&ekey, |u: &mut User, b| {
                    removed = detach(&mut u.attached_policies, b);
                    Ok(())
                })
                .await
                .map(|_| ()),
            EntityKind::Group => self
                .update(&ekey, |g: &mut Group, b| {
                    removed = detach(&mut g.attached_policies, b);
                    Ok(())
                })
                .await
                .map(|_| ()),
            EntityKind::Role => self
                .update(&ekey, |r: &mut Role, b| {
                    removed = detach(&mut r.attached_policies, b);
                    Ok(())
                })
                .await
                .map(|_| ()),
        };
        res.map_err(|e| {
            if e.code == Code::NoSuchEntity {
                no_such(kind.word(), name)
            } else {
                e
            }
        })?;
        if !removed {
            return Err(ApiError::new(
                Code::NoSuchEntity,
                format!("Policy {policy_arn} was not found."),
            ));
        }
        if let Some((acct, _, pname)) = parse_entity_arn(policy_arn, "policy")
            && acct != "aws"
        {
            self.recount_attachments(&format!("p/{acct}/{}", pname.to_lowercase()), policy_arn)
                .await?;
        }
        Ok(())
    }

    async fn recount_attachments(&self, pkey: &str, policy_arn: &str) -> Result<(), ApiError> {
        let n = self.attachments(policy_arn).await?.len();
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match self
            .update(pkey, |p: &mut ManagedPolicy, _| {
                p.attachment_count = n;
                Ok(())
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == Code::NoSuchEntity => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Entities a managed policy is attached to: (kind, account, lowercase name).
    pub async fn attachments(
        &self,
        policy_arn: &str,
    ) -> Result<Vec<(EntityKind, String, String)>, ApiError> {
        let prefix = format!("pa/{policy_arn}/");
        let mut out = Vec::new();
        for (k, _) in self.scan_all(&prefix).await? {
            let rest = k.get(prefix.len()..).unwrap_or_default();
            let mut it = rest.splitn(3, '/');
            let kind = match it.next() {
                Some("u") => EntityKind::User,
                Some("g") => EntityKind::Group,
                Some("r") => EntityKind::Role,
                _ => continue,
            };
            if let (Some(a), Some(n)) = (it.next(), it.next()) {
                out.push((kind, a.to_owned(), n.to_owned()));
            }
        }
        Ok(out)
    }

    /// Sets (creates or replaces) an inline policy on a user, group or role. The aggregate
    /// non-whitespace size is limited per entity kind (user 2048, group 5120, role 10240).
    pub async fn put_inline_policy(
        &self,
        kind: EntityKind,
        account: &str,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), ApiError> {
        self.policies
            .get_or_parse(document, PolicyKind::Identity)
            .map_err(policy_error)?;
        let limit = match kind {
            EntityKind::User => 2048,
            EntityKind::Group => 5120,
            EntityKind::Role => 10240,
        };
        let ekey = entity_key(kind, account, name);
        let put = |map: &mut BTreeMap<String, String>| -> Result<(), ApiError> {
            map.insert(policy_name.to_owned(), document.to_owned());
            let total: usize = map
                .values()
                .map(|d| crate::policy::non_whitespace_len(d))
                .sum();
            if total > limit {
                return Err(ApiError::new(
                    Code::LimitExceeded,
                    format!(
                        "Maximum policy size of {limit} bytes exceeded for {} {name}",
                        kind.word()
                    ),
                ));
            }
            Ok(())
        };
        let res = match kind {
            EntityKind::User => self
                .update(&ekey, |u: &mut User, _| put(&mut u.inline_policies))
                .await
                .map(|_| ()),
            EntityKind::Group => self
                .update(&ekey, |g: &mut Group, _| put(&mut g.inline_policies))
                .await
                .map(|_| ()),
            EntityKind::Role => self
                .update(&ekey, |r: &mut Role, _| put(&mut r.inline_policies))
                .await
                .map(|_| ()),
        };
        res.map_err(|e| {
            if e.code == Code::NoSuchEntity && !e.message.contains("Maximum") {
                no_such(kind.word(), name)
            } else {
                e
            }
        })
    }

    // ----- access keys -----

    /// Creates an access key for a user (or the root when `user` is `None`). `given` imports a
    /// known key pair (bootstrap); otherwise one is generated. Returns the key and its secret,
    /// which is never readable through the API again.
    pub async fn create_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        given: Option<(String, SecretString)>,
        now: DateTime<Utc>,
    ) -> Result<(AccessKey, SecretString), ApiError> {
        let (owner, user_id) = match user {
            Some(u) => {
                let user = self.user_required(account, u).await?;
                (user.name.to_lowercase(), Some(user.id))
            }
            None => ("#root".to_owned(), None),
        };
        let existing = self
            .kv
            .scan(&format!("uk/{account}/{owner}/"), None, 10)
            .await?;
        if existing.len() >= MAX_ACCESS_KEYS {
            return Err(ApiError::new(
                Code::LimitExceeded,
                format!("Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}"),
            ));
        }
        let (id, secret) = match given {
            Some(pair) => pair,
            None => (
                crate::ids::new_access_key_id("AKIA", account),
                crate::ids::new_secret_access_key(),
            ),
        };
        let sealed = self
            .at_rest
            .seal(&id, &secret)
            .map_err(ApiError::internal)?;
        let key = AccessKey {
            id: id.clone(),
            account: account.to_owned(),
            user: user.map(str::to_owned),
            user_id,
            secret_sealed: sealed,
            status: KeyStatus::Active,
            create_date: now,
        };
        let mut batch = Batch::new()
            .check(Check::Absent(format!("k/{id}")))
            .put(format!("k/{id}"), to_json(&key)?)
            .put(format!("uk/{account}/{owner}/{id}"), b"\"\"".to_vec());
        // The user must still exist when the key lands.
        if let Some(u) = user {
            batch = batch.check(Check::Present(entity_key(EntityKind::User, account, u)));
        }
        match self.kv.commit(batch).await {
            Ok(()) => Ok((key, secret)),
            Err(crate::store::Error::Conflict(k)) if k.starts_with("k/") => Err(ApiError::new(
                Code::EntityAlreadyExists,
                format!("Access key {id} already exists."),
            )),
            Err(crate::store::Error::Conflict(_)) => Err(no_such("user", user.unwrap_or("root"))),
            Err(e) => Err(e.into()),
        }
    }

    /// An access key and its secret.
    pub async fn access_key(&self, id: &str) -> Result<Option<Arc<KeyWithSecret>>, ApiError> {
        let key = format!("k/{id}");
        self.get_decoded(&key, |b| {
            let k: AccessKey = decode(&key, b)?;
            let secret = self
                .at_rest
                .open(&k.id, &k.secret_sealed)
                .map_err(ApiError::internal)?;
            Ok(KeyWithSecret { key: k, secret })
        })
        .await
    }

    /// The access keys of a user (or root).
    pub async fn access_keys_of(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKey>, ApiError> {
        let owner = user.map_or_else(|| "#root".to_owned(), str::to_lowercase);
        let rows = self
            .kv
            .scan(&format!("uk/{account}/{owner}/"), None, 100)
            .await?;
        let keys: Vec<String> = rows
            .iter()
            .filter_map(|(k, _)| k.rsplit('/').next().map(|id| format!("k/{id}")))
            .collect();
        let mut out = Vec::new();
        for v in self.kv.get_many(&keys).await?.into_iter().flatten() {
            out.push(serde_json::from_slice(&v).map_err(ApiError::internal)?);
        }
        Ok(out)
    }

    /// Sets a key's status.
    pub async fn set_access_key_status(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
        status: KeyStatus,
    ) -> Result<(), ApiError> {
        let not_found = || {
            ApiError::new(
                Code::NoSuchEntity,
                format!("The Access Key with id {id} cannot be found."),
            )
        };
        self.update(&format!("k/{id}"), |k: &mut AccessKey, _| {
            if k.account != account
                || k.user.as_deref().map(str::to_lowercase) != user.map(str::to_lowercase)
            {
                return Err(not_found());
            }
            k.status = status;
            Ok(())
        })
        .await
        .map_err(|e| {
            if e.code == Code::NoSuchEntity {
                not_found()
            } else {
                e
            }
        })?;
        Ok(())
    }

    /// Deletes a key.
    pub async fn delete_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
    ) -> Result<(), ApiError> {
        let not_found = || {
            ApiError::new(
                Code::NoSuchEntity,
                format!("The Access Key with id {id} cannot be found."),
            )
        };
        let raw = self
            .kv
            .get(&format!("k/{id}"))
            .await?
            .ok_or_else(not_found)?;
        let k: AccessKey = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
        if k.account != account
            || k.user.as_deref().map(str::to_lowercase) != user.map(str::to_lowercase)
        {
            return Err(not_found());
        }
        let owner = user.map_or_else(|| "#root".to_owned(), str::to_lowercase);
        self.kv
            .commit(
                Batch::new()
                    .check(Check::Equals(format!("k/{id}"), raw))
                    .delete(format!("k/{id}"))
                    .delete(format!("uk/{account}/{owner}/{id}"))
                    .delete(format!("lu/{id}")),
            )
            .await?;
        Ok(())
    }

    /// Seals an opaque message (encoded authorization messages) with the at-rest key.
    pub fn seal_message(&self, owner: &str, msg: &SecretString) -> Result<String, ApiError> {
        self.at_rest.seal(owner, msg).map_err(ApiError::internal)
    }

    /// Opens a message sealed by [`Iam::seal_message`].
    #[must_use]
    pub fn open_message(&self, owner: &str, sealed: &str) -> Option<SecretString> {
        self.at_rest.open(owner, sealed).ok()
    }

    /// Last-used data of a key.
    pub async fn key_last_used(&self, id: &str) -> Result<Option<LastUsed>, ApiError> {
        self.get_json(&format!("lu/{id}")).await
    }

    /// Records a key's last use. Called off the response path and at most once a minute per key
    /// (see `crate::authn`), so it costs the hot path nothing.
    pub async fn record_key_use(&self, id: &str, used: &LastUsed) -> Result<(), ApiError> {
        self.kv
            .commit(Batch::new().put(format!("lu/{id}"), to_json(used)?))
            .await?;
        Ok(())
    }

    // ----- effective policies -----

    fn parse_identity(&self, text: &str) -> Result<Arc<Policy>, ApiError> {
        self.policies
            .get_or_parse(text, PolicyKind::Identity)
            .map_err(|e| ApiError::internal(format!("stored policy does not parse: {e}")))
    }

    async fn attached_docs(
        &self,
        arns: &[String],
        out: &mut Vec<(PolicyId, Arc<Policy>)>,
    ) -> Result<(), ApiError> {
        for arn in arns {
            if let Some(p) = self.aws_managed.get(arn) {
                if let Some(doc) = p.default_document() {
                    out.push((PolicyId(arn.clone().into()), self.aws_policy(arn, doc)?));
                }
                continue;
            }
            let Some((account, path, name)) = parse_entity_arn(arn, "policy") else {
                continue;
            };
            let Some(p) = self
                .get_shared::<ManagedPolicy>(&format!("p/{account}/{}", name.to_lowercase()))
                .await?
                .filter(|p| p.path == path && &p.arn == arn)
            else {
                continue;
            };
            if let Some(doc) = p.default_document() {
                let parsed = self
                    .policies
                    .get_or_parse(doc, PolicyKind::Managed)
                    .map_err(|e| {
                        ApiError::internal(format!("managed policy {arn} does not parse: {e}"))
                    })?;
                out.push((PolicyId(arn.clone().into()), parsed));
            }
        }
        Ok(())
    }

    /// An AWS managed policy, parsed once (customer quotas do not apply to them).
    fn aws_policy(&self, arn: &str, doc: &str) -> Result<Arc<Policy>, ApiError> {
        if let Some(p) = self
            .aws_parsed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(arn)
        {
            return Ok(p.clone());
        }
        let opts = crate::policy::ParseOptions {
            max_size: None,
            aws_managed: true,
        };
        let p = Arc::new(
            crate::policy::parse_with(doc, PolicyKind::Managed, opts).map_err(|e| {
                ApiError::internal(format!("managed policy {arn} does not parse: {e}"))
            })?,
        );
        self.aws_parsed
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(arn.to_owned(), p.clone());
        Ok(p)
    }

    /// A user's identity policies: inline, attached, and those of its groups.
    pub async fn user_policies(
        &self,
        user: &User,
    ) -> Result<Vec<(PolicyId, Arc<Policy>)>, ApiError> {
        let mut out = Vec::new();
        for (name, doc) in &user.inline_policies {
            out.push((
                PolicyId(format!("{}#inline/{name}", user.arn).into()),
                self.parse_identity(doc)?,
            ));
        }
        self.attached_docs(&user.attached_policies, &mut out)
            .await?;
        for gname in &user.groups {
            if let Some(g) = self
                .get_shared::<Group>(&entity_key(EntityKind::Group, &user.account, gname))
                .await?
            {
                for (name, doc) in &g.inline_policies {
                    out.push((
                        PolicyId(format!("{}#inline/{name}", g.arn).into()),
                        self.parse_identity(doc)?,
                    ));
                }
                self.attached_docs(&g.attached_policies, &mut out).await?;
            }
        }
        Ok(out)
    }

    /// A role's identity policies, from its view (inline policies already parsed).
    pub async fn role_view_policies(
        &self,
        view: &RoleView,
    ) -> Result<Vec<(PolicyId, Arc<Policy>)>, ApiError> {
        let mut out = view.inline.clone()?;
        self.attached_docs(&view.role.attached_policies, &mut out)
            .await?;
        Ok(out)
    }

    /// A permissions boundary by ARN.
    pub async fn boundary(
        &self,
        arn: Option<&str>,
    ) -> Result<Option<(PolicyId, Arc<Policy>)>, ApiError> {
        let Some(arn) = arn else { return Ok(None) };
        let mut out = Vec::new();
        self.attached_docs(&[arn.to_owned()], &mut out).await?;
        // A boundary whose policy was deleted allows nothing: fail closed with an empty policy.
        match out.pop() {
            Some(p) => Ok(Some(p)),
            None => Ok(Some((PolicyId(arn.to_owned().into()), allow_nothing()?))),
        }
    }
}

/// A policy that allows nothing (an implicit deny for every request): a deleted boundary, or
/// GetFederationToken without a session policy.
pub fn allow_nothing() -> Result<Arc<Policy>, ApiError> {
    static P: std::sync::OnceLock<Result<Arc<Policy>, String>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        crate::policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowNothing","Effect":"Allow","Action":"sekisho:NoAction","Resource":"arn:aws:sekisho:::nothing"}]}"#,
            PolicyKind::Session,
        )
        .map(Arc::new)
        .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(ApiError::internal)
}

/// Maps a policy parse error to `MalformedPolicyDocument` (or `LimitExceeded` for size).
#[must_use]
pub fn policy_error(e: crate::policy::PolicyError) -> ApiError {
    if e.is_size_limit() {
        ApiError::new(Code::LimitExceeded, e.to_string())
    } else {
        ApiError::new(Code::MalformedPolicyDocument, e.to_string())
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

// ----- IAM API additions: listings, updates, deletes (with DeleteConflict), versions -----

/// Store key of a customer managed policy.
#[must_use]
pub fn policy_key(account: &str, name: &str) -> String {
    format!("p/{account}/{}", name.to_lowercase())
}

fn delete_conflict(msg: &str) -> ApiError {
    ApiError::new(Code::DeleteConflict, msg)
}

fn decode<T: DeserializeOwned>(key: &str, raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|e| {
        ApiError::from(crate::store::Error::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })
    })
}

/// The owner segment of access-key index keys (`#root` for the account root).
#[must_use]
pub fn key_owner(user: Option<&str>) -> String {
    user.map_or_else(|| "#root".to_owned(), str::to_lowercase)
}

impl Iam {
    /// Whether any key exists under `prefix`.
    pub async fn any_under(&self, prefix: &str) -> Result<bool, ApiError> {
        Ok(!self.kv.scan(prefix, None, 1).await?.is_empty())
    }

    /// Every key and raw value under `prefix` (O(n); for summaries and small indexes).
    pub async fn scan_all(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
        Ok(crate::store::scan_all(self.kv.as_ref(), prefix).await?)
    }

    /// Every JSON value under `prefix`.
    pub async fn list_all<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>, ApiError> {
        self.scan_all(prefix)
            .await?
            .iter()
            .map(|(k, v)| decode(k, v))
            .collect()
    }

    /// A page of the JSON values under `prefix` that satisfy `keep`. Costs O(page) store reads
    /// when most values are kept; the marker is the key of the last item returned.
    pub async fn list_where<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        &self,
        prefix: &str,
        marker: Option<&str>,
        max_items: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<T>, ApiError> {
        let mut after = marker.map(decode_marker).transpose()?;
        let max_items = max_items.clamp(1, 1000);
        let chunk = max_items + 1;
        let mut items = Vec::new();
        let mut last_kept: Option<String> = None;
        loop {
            let rows = self.kv.scan(prefix, after.as_deref(), chunk).await?;
            let done = rows.len() < chunk;
            for (k, v) in rows {
                // Through the memo: a page of users decoded once per stored version.
                let t: T = Arc::unwrap_or_clone(self.memoized(&k, v.into(), |b| decode(&k, b))?);
                if keep(&t) {
                    if items.len() == max_items {
                        return Ok(Page {
                            items,
                            next_marker: last_kept.map(|k| encode_marker(&k)),
                        });
                    }
                    items.push(t);
                    last_kept = Some(k.clone());
                }
                after = Some(k);
            }
            if done {
                return Ok(Page {
                    items,
                    next_marker: None,
                });
            }
        }
    }

    /// Deletes a user that has no access keys, policies or group memberships.
    pub async fn delete_user(&self, account: &str, name: &str) -> Result<User, ApiError> {
        let key = entity_key(EntityKind::User, account, name);
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| no_such("user", name))?;
        let u: User = decode(&key, &raw)?;
        if self
            .any_under(&format!("uk/{account}/{}/", key_owner(Some(name))))
            .await?
        {
            return Err(delete_conflict(
                "Cannot delete entity, must delete access keys first.",
            ));
        }
        if !u.inline_policies.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !u.attached_policies.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        if !u.groups.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must remove user from all groups first.",
            ));
        }
        let batch = Batch::new()
            .check(Check::Equals(key.clone(), raw))
            .delete(key)
            .delete(format!("uid/{}", u.id));
        self.kv.commit(batch).await?;
        Ok(u)
    }

    /// Changes a user's name and/or path. A rename moves every index entry (groups, policy
    /// attachments, access keys) in the same atomic batch; the unique id is kept.
    pub async fn update_user(
        &self,
        account: &str,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<(User, User), ApiError> {
        let key = entity_key(EntityKind::User, account, name);
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| no_such("user", name))?;
        let before: User = decode(&key, &raw)?;
        let mut u = before.clone();
        if let Some(p) = new_path {
            u.path = p.to_owned();
        }
        if let Some(n) = new_name {
            u.name = n.to_owned();
        }
        u.arn = entity_arn(&self.partition, account, "user", &u.path, &u.name);
        let new_key = entity_key(EntityKind::User, account, &u.name);
        let mut batch = Batch::new().check(Check::Equals(key.clone(), raw));
        if new_key != key {
            let (old_lc, new_lc) = (before.name.to_lowercase(), u.name.to_lowercase());
            batch = batch
                .check(Check::Absent(new_key.clone()))
                .delete(key.clone());
            batch = batch.put(format!("uid/{}", u.id), to_json(&new_key)?);
            for g in &u.groups {
                let g = g.to_lowercase();
                batch = batch
                    .delete(format!("gm/{account}/{g}/{old_lc}"))
                    .put(format!("gm/{account}/{g}/{new_lc}"), b"\"\"".to_vec());
            }
            for arn in &u.attached_policies {
                batch = batch
                    .delete(format!("pa/{arn}/{key}"))
                    .put(format!("pa/{arn}/{new_key}"), b"\"\"".to_vec());
            }
            for (kk, kraw) in self.scan_all(&format!("uk/{account}/{old_lc}/")).await? {
                let Some(id) = kk.rsplit('/').next().map(str::to_owned) else {
                    continue;
                };
                let kkey = format!("k/{id}");
                let Some(kv) = self.kv.get(&kkey).await? else {
                    continue;
                };
                let mut ak: AccessKey = decode(&kkey, &kv)?;
                ak.user = Some(u.name.clone());
                batch = batch
                    .check(Check::Equals(kkey.clone(), kv))
                    .put(kkey, to_json(&ak)?)
                    .delete(kk)
                    .put(format!("uk/{account}/{new_lc}/{id}"), kraw);
            }
        }
        batch = batch.put(new_key, to_json(&u)?);
        match self.kv.commit(batch).await {
            Ok(()) => Ok((before, u)),
            Err(crate::store::Error::Conflict(k)) if k.starts_with("u/") && k != key => {
                Err(ApiError::new(
                    Code::EntityAlreadyExists,
                    format!("User with name {} already exists.", u.name),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Users in a group (lowercase names), one page of the membership index.
    pub async fn group_members(
        &self,
        account: &str,
        group: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<User>, ApiError> {
        let prefix = format!("gm/{account}/{}/", group.to_lowercase());
        let start = marker.map(decode_marker).transpose()?;
        let max_items = max_items.clamp(1, 1000);
        let rows = self
            .kv
            .scan(&prefix, start.as_deref(), max_items + 1)
            .await?;
        let truncated = rows.len() > max_items;
        let rows: Vec<_> = rows.into_iter().take(max_items).collect();
        let keys: Vec<String> = rows
            .iter()
            .filter_map(|(k, _)| k.get(prefix.len()..))
            .map(|u| entity_key(EntityKind::User, account, u))
            .collect();
        let mut items = Vec::with_capacity(keys.len());
        for (k, v) in keys.iter().zip(self.kv.get_many(&keys).await?) {
            if let Some(v) = v {
                items.push(decode(k, &v)?);
            }
        }
        let next_marker = if truncated {
            rows.last().map(|(k, _)| encode_marker(k))
        } else {
            None
        };
        Ok(Page { items, next_marker })
    }

    /// Deletes a group without members or policies.
    pub async fn delete_group(&self, account: &str, name: &str) -> Result<Group, ApiError> {
        let key = entity_key(EntityKind::Group, account, name);
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| no_such("group", name))?;
        let g: Group = decode(&key, &raw)?;
        if self
            .any_under(&format!("gm/{account}/{}/", name.to_lowercase()))
            .await?
        {
            return Err(delete_conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        if !g.inline_policies.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !g.attached_policies.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        self.kv
            .commit(
                Batch::new()
                    .check(Check::Equals(key.clone(), raw))
                    .delete(key),
            )
            .await?;
        Ok(g)
    }

    /// Changes a group's name and/or path; a rename moves the membership and attachment indexes
    /// and then renames the group in each member's record.
    pub async fn update_group(
        &self,
        account: &str,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<(Group, Group), ApiError> {
        let key = entity_key(EntityKind::Group, account, name);
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| no_such("group", name))?;
        let before: Group = decode(&key, &raw)?;
        let mut g = before.clone();
        if let Some(p) = new_path {
            g.path = p.to_owned();
        }
        if let Some(n) = new_name {
            g.name = n.to_owned();
        }
        g.arn = entity_arn(&self.partition, account, "group", &g.path, &g.name);
        let new_key = entity_key(EntityKind::Group, account, &g.name);
        let mut batch = Batch::new().check(Check::Equals(key.clone(), raw));
        if new_key != key {
            let (old_lc, new_lc) = (before.name.to_lowercase(), g.name.to_lowercase());
            batch = batch
                .check(Check::Absent(new_key.clone()))
                .delete(key.clone());
            for (mk, mv) in self.scan_all(&format!("gm/{account}/{old_lc}/")).await? {
                if let Some(u) = mk.rsplit('/').next() {
                    batch = batch.put(format!("gm/{account}/{new_lc}/{u}"), mv);
                    // The member's own record names its groups: renamed in the same batch,
                    // conditional on the record read, so the rename is one atomic write.
                    let ukey = entity_key(EntityKind::User, account, u);
                    if let Some(uraw) = self.kv.get(&ukey).await? {
                        let mut member: User = decode(&ukey, &uraw)?;
                        for gn in &mut member.groups {
                            if gn.eq_ignore_ascii_case(&before.name) {
                                gn.clone_from(&g.name);
                            }
                        }
                        batch = batch
                            .check(Check::Equals(ukey.clone(), uraw))
                            .put(ukey, to_json(&member)?);
                    }
                }
                batch = batch.delete(mk);
            }
            for arn in &g.attached_policies {
                batch = batch
                    .delete(format!("pa/{arn}/{key}"))
                    .put(format!("pa/{arn}/{new_key}"), b"\"\"".to_vec());
            }
        }
        batch = batch.put(new_key, to_json(&g)?);
        match self.kv.commit(batch).await {
            Ok(()) => Ok((before, g)),
            Err(crate::store::Error::Conflict(k)) if k.starts_with("g/") && k != key => {
                Err(ApiError::new(
                    Code::EntityAlreadyExists,
                    format!("Group with name {} already exists.", g.name),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a role without policies.
    pub async fn delete_role(&self, account: &str, name: &str) -> Result<Role, ApiError> {
        let key = entity_key(EntityKind::Role, account, name);
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| no_such("role", name))?;
        let r: Role = decode(&key, &raw)?;
        if !r.inline_policies.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !r.attached_policies.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        let batch = Batch::new()
            .check(Check::Equals(key.clone(), raw))
            .delete(key)
            .delete(format!("rid/{}", r.id));
        self.kv.commit(batch).await?;
        Ok(r)
    }

    /// Removes an inline policy; `NoSuchEntity` when the entity or the policy is absent.
    pub async fn delete_inline_policy(
        &self,
        kind: EntityKind,
        account: &str,
        name: &str,
        policy_name: &str,
    ) -> Result<(), ApiError> {
        let ekey = entity_key(kind, account, name);
        let missing = || {
            ApiError::new(
                Code::NoSuchEntity,
                format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    kind.word()
                ),
            )
        };
        let del = |m: &mut BTreeMap<String, String>| {
            m.remove(policy_name).map(|_| ()).ok_or_else(missing)
        };
        let res = match kind {
            EntityKind::User => self
                .update(&ekey, |u: &mut User, _| del(&mut u.inline_policies))
                .await
                .map(|_| ()),
            EntityKind::Group => self
                .update(&ekey, |g: &mut Group, _| del(&mut g.inline_policies))
                .await
                .map(|_| ()),
            EntityKind::Role => self
                .update(&ekey, |r: &mut Role, _| del(&mut r.inline_policies))
                .await
                .map(|_| ()),
        };
        res.map_err(|e| {
            if e.code == Code::NoSuchEntity && !e.message.contains(" policy with name ") {
                no_such(kind.word(), name)
            } else {
                e
            }
        })
    }

    /// A customer managed policy of `account` by ARN, with its store key, or `NoSuchEntity`.
    async fn customer_policy(&self, arn: &str) -> Result<(String, ManagedPolicy), ApiError> {
        let p = self
            .managed_policy(arn)
            .await?
            .filter(|p| p.account != "aws")
            .ok_or_else(|| {
                ApiError::new(
                    Code::NoSuchEntity,
                    format!("Policy {arn} does not exist or is not attachable."),
                )
            })?;
        Ok((policy_key(&p.account, &p.name), p))
    }

    /// Adds a version (at most [`MAX_POLICY_VERSIONS`]), optionally making it the default.
    pub async fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_default: bool,
        now: DateTime<Utc>,
    ) -> Result<PolicyVersion, ApiError> {
        self.policies
            .get_or_parse(document, PolicyKind::Managed)
            .map_err(policy_error)?;
        let (key, _) = self.customer_policy(arn).await?;
        let mut created = None;
        self.update(&key, |p: &mut ManagedPolicy, _| {
            if p.versions.len() >= MAX_POLICY_VERSIONS {
                return Err(ApiError::new(
                    Code::LimitExceeded,
                    format!(
                        "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you \
                         create a new version, you must delete an existing version."
                    ),
                ));
            }
            let v = PolicyVersion {
                version_id: format!("v{}", p.next_version),
                document: document.to_owned(),
                create_date: now,
            };
            p.next_version += 1;
            if set_default {
                p.default_version_id.clone_from(&v.version_id);
            }
            p.update_date = now;
            p.versions.push(v.clone());
            created = Some(v);
            Ok(())
        })
        .await?;
        created.ok_or_else(|| ApiError::internal("policy version not created"))
    }

    /// Makes a version the default.
    pub async fn set_default_policy_version(
        &self,
        arn: &str,
        version_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let (key, _) = self.customer_policy(arn).await?;
        self.update(&key, |p: &mut ManagedPolicy, _| {
            if !p.versions.iter().any(|v| v.version_id == version_id) {
                return Err(ApiError::new(
                    Code::NoSuchEntity,
                    format!("Policy {arn} version {version_id} does not exist."),
                ));
            }
            p.default_version_id = version_id.to_owned();
            p.update_date = now;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Deletes a non-default version.
    pub async fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<(), ApiError> {
        let (key, _) = self.customer_policy(arn).await?;
        self.update(&key, |p: &mut ManagedPolicy, _| {
            if p.default_version_id == version_id {
                return Err(delete_conflict(
                    "Cannot delete the default version of a policy.",
                ));
            }
            let before = p.versions.len();
            p.versions.retain(|v| v.version_id != version_id);
            if p.versions.len() == before {
                return Err(ApiError::new(
                    Code::NoSuchEntity,
                    format!(
                        "Policy {arn} version {version_id} does not exist or is not deletable."
                    ),
                ));
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Deletes a customer managed policy: refused while attached or while it has versions other
    /// than the default (AWS: delete those first).
    pub async fn delete_policy(&self, arn: &str) -> Result<ManagedPolicy, ApiError> {
        let (key, _) = self.customer_policy(arn).await?;
        let raw = self.kv.get(&key).await?.ok_or_else(|| {
            ApiError::new(Code::NoSuchEntity, format!("Policy {arn} was not found."))
        })?;
        let p: ManagedPolicy = decode(&key, &raw)?;
        if self.any_under(&format!("pa/{arn}/")).await? {
            return Err(delete_conflict(
                "Cannot delete a policy attached to entities.",
            ));
        }
        if p.versions.len() > 1 {
            return Err(delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must \
                 delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        self.kv
            .commit(
                Batch::new()
                    .check(Check::Equals(key.clone(), raw))
                    .delete(key),
            )
            .await?;
        Ok(p)
    }
}
