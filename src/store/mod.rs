//! Durable shared state behind one trait.
//!
//! Every backend implements [`Kv`]: an ordered key/value map with atomic, conditional batches,
//! expiring marks (replay caches) and change notifications. The typed layers (IAM entities in
//! `crate::iam::repo`, revocation cut-offs in `crate::revocation`) are written once on top of it,
//! so every backend behaves the same; the conformance suite in `tests/conformance/` proves it.
//!
//! Backends: [`memory::MemoryKv`] (unit tests), [`embedded::EmbeddedKv`] (redb, the default,
//! durable single node) and [`redis::RedisKv`] (shared by several nodes).

pub mod embedded;
pub mod memory;
pub mod redis;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

/// A storage failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A condition of a [`Batch`] did not hold; nothing was written.
    #[error("conflict: a condition on key {0:?} did not hold")]
    Conflict(String),
    /// The backend could not be reached or failed.
    #[error("store backend: {0}")]
    Backend(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored value at {key:?}: {reason}")]
    Corrupt {
        /// The key whose value is corrupt.
        key: String,
        /// Why it could not be decoded.
        reason: String,
    },
}

/// A precondition of a [`Batch`]: all must hold at commit time or nothing is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The key must not exist.
    Absent(String),
    /// The key must exist (any value).
    Present(String),
    /// The key must hold exactly this value.
    Equals(String, Vec<u8>),
}

/// An atomic write: checks, then puts and deletes, all or nothing, durable when `commit` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Preconditions.
    pub checks: Vec<Check>,
    /// Keys to set.
    pub puts: Vec<(String, Vec<u8>)>,
    /// Keys to remove (absent keys are ignored).
    pub deletes: Vec<String>,
}

impl Batch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a precondition.
    #[must_use]
    pub fn check(mut self, c: Check) -> Self {
        self.checks.push(c);
        self
    }

    /// Adds a put.
    #[must_use]
    pub fn put(mut self, key: impl Into<String>, value: Vec<u8>) -> Self {
        self.puts.push((key.into(), value));
        self
    }

    /// Adds a delete.
    #[must_use]
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.deletes.push(key.into());
        self
    }
}

/// The storage trait every backend implements. Keys are UTF-8 strings compared bytewise.
#[async_trait]
pub trait Kv: Send + Sync + 'static {
    /// Reads one key.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error>;

    /// Reads several keys in one round trip, answers in the same order.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error>;

    /// Up to `limit` entries whose key starts with `prefix`, in key order, starting strictly after
    /// `start_after` when given. Cost is O(log n + limit).
    async fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error>;

    /// Applies a batch atomically: if every check holds, all puts and deletes happen, durably,
    /// before this returns; otherwise nothing is written and [`Error::Conflict`] names the key.
    async fn commit(&self, batch: Batch) -> Result<(), Error>;

    /// Sets an expiring mark (replay caches). Returns `true` when the mark was newly set, `false`
    /// when an unexpired mark with this key already exists. Durable before returning. Expired
    /// marks are treated as absent and purged eventually.
    async fn put_mark(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, Error>;

    /// Tells every node (this one included) that something under `topic` changed, so caches can
    /// drop it. Best effort: caches also re-read periodically.
    async fn notify(&self, topic: &str) -> Result<(), Error>;

    /// Receives the topics passed to [`Kv::notify`] on any node sharing this store.
    fn watch(&self) -> broadcast::Receiver<String>;

    /// A short name for logs and metrics (`memory`, `embedded`, `redis`).
    fn backend_name(&self) -> &'static str;

    /// The answer [`Kv::get`] would give, if it can be had without I/O, as shared bytes (the
    /// read cache's; a plain store has none). `None`: not known here, ask [`Kv::get`].
    fn cached(&self, key: &str) -> Option<Option<bytes::Bytes>> {
        let _ = key;
        None
    }

    /// [`Kv::cached`], with what it takes to reuse the answer without asking again: the
    /// cache's [`Kv::generation`] when it answered and when the answer stops being fresh.
    fn cached_read(&self, key: &str) -> Option<CachedRead> {
        let _ = key;
        None
    }

    /// A read cache's generation: it changes with every invalidation (this node's writes and
    /// other nodes' notifications), so an answer of [`Kv::cached_read`] is still the answer
    /// while the generation is the same and it is fresh. `None`: no read cache.
    fn generation(&self) -> Option<u64> {
        None
    }
}

/// A read cache's answer for one key ([`Kv::cached_read`]).
#[derive(Debug, Clone)]
pub struct CachedRead {
    /// The value (shared bytes), or `None` for a key known to be absent.
    pub value: Option<bytes::Bytes>,
    /// The cache's [`Kv::generation`] when it answered.
    pub generation: u64,
    /// When the answer stops being fresh (the cache's TTL from when it was read).
    pub fresh_until: std::time::Instant,
}

/// Every entry under `prefix`, read in pages of 1,000 (O(n): for small sets such as revocation
/// cut-offs and indexes, and for summaries).
pub async fn scan_all(kv: &dyn Kv, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
    const PAGE: usize = 1000;
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = kv.scan(prefix, after.as_deref(), PAGE).await?;
        let done = rows.len() < PAGE;
        after = rows.last().map(|(k, _)| k.clone());
        out.extend(rows);
        if done {
            return Ok(out);
        }
    }
}
