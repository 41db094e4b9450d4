//! Unit tests of the repository on the memory store: one file per entity kind, plus the error
//! mapping. The helpers here build entities, read raw keys and inject a concurrent write.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod access_keys;
mod cached;
mod errors;
mod groups;
mod mfa_devices;
mod new_kind;
mod policies;
mod roles;
mod users;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::broadcast;

use super::Iam;
use crate::iam::at_rest::AtRestKey;
use crate::iam::model::{Group, ManagedPolicy, Origin, PolicyVersion, Role, User};
use crate::store::memory::MemoryKv;
use crate::store::{Batch, Error as StoreError, Kv};

/// The account of every test entity.
pub(super) const ACCT: &str = "111111111111";

/// An identity policy (and managed policy) document.
pub(super) const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

/// A trust policy naming only the account (nothing to bind to unique ids).
pub(super) const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;

/// The AWS managed policy every test repository knows.
pub(super) const AWS_POLICY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

/// A fixed time.
pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
}

/// A store that lets a test slip one write in just before the repository's next commit, as a
/// concurrent request would.
pub(super) struct Racing {
    inner: MemoryKv,
    before_next_commit: Mutex<Option<Batch>>,
}

impl Racing {
    /// Commits `batch` just before the next commit.
    pub(super) fn race(&self, batch: Batch) {
        *self
            .before_next_commit
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(batch);
    }

    /// Every key under `prefix`.
    pub(super) async fn keys(&self, prefix: &str) -> Vec<String> {
        crate::store::scan_all(&self.inner, prefix)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// The raw value at `key`, as a string.
    pub(super) async fn raw(&self, key: &str) -> Option<String> {
        self.inner
            .get(key)
            .await
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    }
}

#[async_trait]
impl Kv for Racing {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.scan(prefix, start_after, limit).await
    }
    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let racing = self
            .before_next_commit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(r) = racing {
            self.inner.commit(r).await?;
        }
        self.inner.commit(batch).await
    }
    async fn put_mark(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.put_mark(key, expires_at, now).await
    }
    async fn notify(&self, topic: &str) -> Result<(), StoreError> {
        self.inner.notify(topic).await
    }
    fn watch(&self) -> broadcast::Receiver<String> {
        self.inner.watch()
    }
    fn backend_name(&self) -> &'static str {
        "racing-memory"
    }
}

/// A repository over a fresh memory store, and the store (to look at raw keys).
pub(super) fn repo() -> (Iam, Arc<Racing>) {
    let kv = Arc::new(Racing {
        inner: MemoryKv::new(),
        before_next_commit: Mutex::new(None),
    });
    let aws = managed("ReadOnlyAccess", "aws");
    let iam = Iam::new(kv.clone(), AtRestKey::ephemeral(), vec![aws], "aws");
    (iam, kv)
}

/// A new user (not stored).
pub(super) fn user(name: &str, path: &str) -> User {
    User {
        account: ACCT.into(),
        name: name.into(),
        path: path.into(),
        id: crate::ids::new_unique_id("AIDA", ACCT),
        arn: String::new(),
        create_date: now(),
        tags: Vec::new(),
        permissions_boundary: None,
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
        groups: Vec::new(),
        origin: Origin::Api,
    }
}

/// A new group (not stored).
pub(super) fn group(name: &str, path: &str) -> Group {
    Group {
        account: ACCT.into(),
        name: name.into(),
        path: path.into(),
        id: crate::ids::new_unique_id("AGPA", ACCT),
        arn: String::new(),
        create_date: now(),
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
        origin: Origin::Api,
    }
}

/// A new role (not stored).
pub(super) fn role(name: &str, path: &str) -> Role {
    Role {
        account: ACCT.into(),
        name: name.into(),
        path: path.into(),
        id: crate::ids::new_unique_id("AROA", ACCT),
        arn: String::new(),
        create_date: now(),
        trust_policy: TRUST.into(),
        trust_principal_ids: BTreeMap::new(),
        description: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: Vec::new(),
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
        last_used: None,
        origin: Origin::Api,
    }
}

/// A new managed policy of `account` with one version (not stored).
pub(super) fn managed(name: &str, account: &str) -> ManagedPolicy {
    ManagedPolicy {
        account: account.into(),
        name: name.into(),
        path: "/".into(),
        id: crate::ids::new_unique_id("ANPA", ACCT),
        arn: format!("arn:aws:iam::{account}:policy/{name}"),
        description: None,
        create_date: now(),
        update_date: now(),
        default_version_id: "v1".into(),
        versions: vec![PolicyVersion {
            version_id: "v1".into(),
            document: DOC.into(),
            create_date: now(),
        }],
        next_version: 2,
        attachment_count: 0,
        tags: Vec::new(),
        origin: Origin::Api,
    }
}

/// A tag.
pub(super) fn tag(key: &str, value: &str) -> crate::iam::model::Tag {
    crate::iam::model::Tag {
        key: key.into(),
        value: value.into(),
    }
}
