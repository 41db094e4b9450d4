//! The IAM repository: typed reads and writes of entities over the [`Kv`] store.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`Iam`], the memoized reads and the read-modify-write loop every write uses |
//! | [`keys`] | every store key (the layout table is there) |
//! | [`kind`] | the entity-kind traits and the generic get/list/tag/untag/rename/delete |
//! | `accounts.rs`, `users.rs`, `groups.rs`, `roles.rs` | one file per entity kind |
//! | `identity_pools.rs` | identity pools (`ip/…`, found by id) and pool identities (`ci/…`) |
//! | `oidc_providers.rs` | OpenID Connect providers (`op/…`), found by ARN or issuer URL |
//! | `saml_providers.rs` | SAML providers (`sp/…`) and their raw metadata kept apart (`spm/…`) |
//! | `policies.rs`, `attachments.rs` | managed policies and versions; their attachments |
//! | `inline.rs` | inline policies of users, groups and roles |
//! | `access_keys.rs` | access keys (secrets sealed at rest) and their last use |
//! | `mfa_devices.rs` | virtual MFA devices (seeds sealed at rest), their owners, single-use codes |
//! | `listing.rs` | pages, markers and scans |
//! | [`error`] | the repository's [`Error`]; `crate::error` maps it to AWS codes |
//!
//! Every write is one atomic [`Batch`] with preconditions (optimistic concurrency, retried),
//! durable before it returns; renames included. Reads of single keys go through the
//! invalidating cache and the decoded-entity memo (`iam::memo`).

mod access_keys;
mod accounts;
mod attachments;
pub mod error;
mod groups;
mod identity_pools;
mod inline;
pub mod keys;
pub mod kind;
mod listing;
mod mfa_devices;
mod oidc_providers;
mod policies;
mod roles;
mod saml_providers;
mod users;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::access_keys::KeyWithSecret;
pub use self::error::{Dependants, Error, Limit};
pub use self::kind::{EntityKind, Kind, NameRules, PolicyHolder, Tagged, entity_key};
pub use self::listing::{Page, decode_marker, encode_marker};
pub use self::mfa_devices::{MAX_MFA_DEVICES_PER_USER, MfaUse};
pub use self::roles::{RoleView, trust_policy_id};
use super::at_rest::AtRestKey;
use super::model::ManagedPolicy;
use crate::policy::{Policy, PolicyCache};
use crate::store::{Batch, CachedRead, Check, Kv};

/// Quota: access keys per user (and root).
pub const MAX_ACCESS_KEYS: usize = 2;
/// Quota: groups per user.
pub const MAX_GROUPS_PER_USER: usize = 10;
/// Quota: managed policies attached per user, group or role.
pub const MAX_ATTACHED: usize = 10;
/// Quota: versions per managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;
/// Quota: tags per user or role.
pub const MAX_TAGS: usize = 50;

/// How many decoded entities the memo keeps (the read cache's own bound is larger; a miss here
/// costs one decode).
const MEMO_ENTRIES: usize = 50_000;

/// How many decoded entities each thread keeps in front of the read cache and the memo.
const FRONT_ENTRIES: usize = 4096;

/// How often a read-modify-write is retried when the value changed under it.
const UPDATE_ATTEMPTS: usize = 8;

/// The repository.
pub struct Iam {
    kv: Arc<dyn Kv>,
    at_rest: AtRestKey,
    /// Parsed-policy cache (by content).
    pub policies: PolicyCache,
    aws_managed: Arc<BTreeMap<String, ManagedPolicy>>,
    /// Decoded entities, by the bytes they were decoded from.
    memo: super::memo::Memo,
    /// Each thread's copies of recent decoded reads (see [`super::memo::Front`]).
    front: super::memo::Front,
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
            front: super::memo::Front::new(FRONT_ENTRIES),
            aws_parsed: RwLock::new(HashMap::new()),
            partition: partition.to_owned(),
        }
    }

    /// The underlying store.
    #[must_use]
    pub fn kv(&self) -> &Arc<dyn Kv> {
        &self.kv
    }

    /// The at-rest key (access-key secrets, sealed authorization messages).
    #[must_use]
    pub fn at_rest(&self) -> &AtRestKey {
        &self.at_rest
    }

    /// The AWS managed policies, by ARN.
    #[must_use]
    pub fn aws_managed(&self) -> &BTreeMap<String, ManagedPolicy> {
        &self.aws_managed
    }

    /// AWS managed policies once parsed, by ARN (filled by `crate::authz::policies`).
    pub(crate) fn aws_parsed(&self) -> &RwLock<HashMap<String, Arc<Policy>>> {
        &self.aws_parsed
    }

    /// Reads and decodes a JSON value (a copy of the memoized decoding).
    async fn get_json<T>(&self, key: &str) -> Result<Option<T>, Error>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        Ok(self.get_shared::<T>(key).await?.map(Arc::unwrap_or_clone))
    }

    /// Reads a JSON value, decoded once per stored version (see [`super::memo`]).
    async fn get_shared<T>(&self, key: &str) -> Result<Option<Arc<T>>, Error>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        self.get_decoded(key, |b| decode(key, b)).await
    }

    async fn get_decoded<T, F>(&self, key: &str, decode: F) -> Result<Option<Arc<T>>, Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&[u8]) -> Result<T, Error>,
    {
        // This thread's copy, while the read cache would still give the bytes it came from
        // (a coarse time: a copy may be used a tick or two past its freshness).
        let now = crate::clock::coarse_instant();
        if let Some(generation) = self.kv.generation()
            && let Some(v) = self.front.get::<T>(key, generation, now)
        {
            return Ok(Some(v));
        }
        let read = match self.kv.cached_read(key) {
            Some(hit) => hit,
            None => match self.kv.get(key).await? {
                None => return Ok(None),
                // Now in the read cache (unless a write raced): memoize against its buffer, so
                // the next hit compares pointers rather than bytes.
                Some(v) => match self.kv.cached_read(key) {
                    Some(hit @ CachedRead { value: Some(_), .. }) => hit,
                    // Not kept by a cache: used once, never copied in front.
                    _ => CachedRead {
                        value: Some(v.into()),
                        generation: 0,
                        fresh_until: now,
                    },
                },
            },
        };
        let CachedRead {
            value: Some(bytes),
            generation,
            fresh_until,
        } = read
        else {
            return Ok(None);
        };
        let v = self.memoized(key, bytes, decode)?;
        if now < fresh_until {
            self.front.put(key, generation, fresh_until, v.clone());
        }
        Ok(Some(v))
    }

    /// The memoized decoding of `bytes` read at `key`, decoding (and remembering) on a miss.
    fn memoized<T, F>(&self, key: &str, bytes: Bytes, decode: F) -> Result<Arc<T>, Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&[u8]) -> Result<T, Error>,
    {
        if let Some(v) = self.memo.get::<T>(key, &bytes) {
            return Ok(v);
        }
        let v = Arc::new(decode(&bytes)?);
        self.memo.put(key, bytes, v.clone());
        Ok(v)
    }

    /// Read-modify-write of one JSON value with optimistic concurrency. `f` may add more writes
    /// to the batch (indexes) and may fail, which aborts. `missing` is the error when the key
    /// is absent. Returns the new value.
    async fn update_at<T, F>(
        &self,
        key: &str,
        missing: impl Fn() -> Error,
        mut f: F,
    ) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(&mut T, &mut Batch) -> Result<(), Error>,
    {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(raw) = self.kv.get(key).await? else {
                return Err(missing());
            };
            let mut v: T = decode(key, &raw)?;
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
        Err(Error::Conflict(key.to_owned()))
    }

    /// Writes a new value (and an optional index entry) if its key is free; otherwise `exists`.
    async fn insert_new<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        index: Option<(String, Vec<u8>)>,
        exists: impl FnOnce() -> Error,
    ) -> Result<(), Error> {
        let mut batch = Batch::new()
            .check(Check::Absent(key.to_owned()))
            .put(key, to_json(value)?);
        batch.puts.extend(index);
        match self.kv.commit(batch).await {
            Ok(()) => Ok(()),
            Err(crate::store::Error::Conflict(_)) => Err(exists()),
            Err(e) => Err(e.into()),
        }
    }

    /// Follows an index entry (`uid/…`, `rid/…`) to the entity it names.
    async fn by_index<T>(&self, index: &str) -> Result<Option<Arc<T>>, Error>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        match self.get_shared::<String>(index).await? {
            Some(key) => self.get_shared(&key).await,
            None => Ok(None),
        }
    }
}

/// Encodes a stored value.
fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(v).map_err(|e| {
        Error::Store(crate::store::Error::Corrupt {
            key: String::new(),
            reason: format!("encoding: {e}"),
        })
    })
}

/// Decodes a stored value; a value that does not decode is corrupt.
fn decode<T: DeserializeOwned>(key: &str, raw: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(raw).map_err(|e| {
        Error::Store(crate::store::Error::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })
    })
}
