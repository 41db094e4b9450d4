//! A read-through cache in front of any [`Kv`], invalidated at once by writes.
//!
//! Hot-path lookups (the caller's access key, user, role, policies) come from here. A commit
//! made through this node drops the touched keys before it returns (read-your-writes) and
//! publishes them with [`Kv::notify`], so the other nodes drop them too; a TTL bounds how long a
//! missed notification can keep a stale value. Negative answers are cached as well, in a map of
//! their own with a smaller bound: anyone can ask for keys that do not exist (random access key
//! ids in unauthenticated requests), and filling that map must never flush real entities.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::FastMap;
use crate::store::{Batch, CachedRead, Error, Kv};

const TOPIC_PREFIX: &str = "kv:";

/// The cached entries: values by key and when they were read (the bytes are shared:
/// [`Kv::cached`] hands them out without copying), and keys known to be absent.
#[derive(Default)]
struct Entries {
    present: FastMap<String, (Bytes, Instant)>,
    absent: FastMap<String, Instant>,
}

/// The caching wrapper.
pub struct CachedKv {
    inner: Arc<dyn Kv>,
    entries: RwLock<Entries>,
    // Bumped by every invalidation; a read that started before a bump does not fill the cache.
    epoch: AtomicU64,
    ttl: Duration,
    max_entries: usize,
}

impl CachedKv {
    /// Wraps `inner`; spawns the task that applies other nodes' invalidations.
    #[must_use]
    pub fn new(inner: Arc<dyn Kv>, ttl: Duration, max_entries: usize) -> Arc<Self> {
        let me = Arc::new(Self {
            inner,
            entries: RwLock::new(Entries::default()),
            epoch: AtomicU64::new(0),
            ttl,
            max_entries,
        });
        let weak = Arc::downgrade(&me);
        let mut rx = me.inner.watch();
        tokio::spawn(async move {
            loop {
                let msg = rx.recv().await;
                let Some(me) = weak.upgrade() else { break };
                match msg {
                    Ok(topic) => {
                        if let Some(keys) = topic.strip_prefix(TOPIC_PREFIX) {
                            me.invalidate(keys.split('\n'));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => me.clear(),
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        me
    }

    fn invalidate<'a>(&self, keys: impl Iterator<Item = &'a str>) {
        // Bumped under the write lock, so that a reader holding the read lock sees the entries
        // and the epoch of one moment ([`Kv::cached_read`]'s generation).
        let mut map = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for k in keys {
            map.present.remove(k);
            map.absent.remove(k);
        }
    }

    /// Drops everything.
    pub fn clear(&self) {
        let mut map = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        *map = Entries::default();
    }

    fn lookup(&self, key: &str) -> Option<Option<Bytes>> {
        self.lookup_read(key).map(|r| r.value)
    }

    /// A fresh entry with the epoch it was read at (under the read lock: invalidations bump
    /// the epoch under the write lock) and the instant it stops being fresh.
    fn lookup_read(&self, key: &str) -> Option<CachedRead> {
        let map = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let (value, at) = match map.present.get(key) {
            Some((v, at)) => (Some(v), at),
            None => (None, map.absent.get(key)?),
        };
        // A TTL past what an `Instant` can hold means "never stale": a day at a time.
        let fresh_until = at
            .checked_add(self.ttl)
            .or_else(|| now.checked_add(Duration::from_secs(86_400)))?;
        (now < fresh_until).then(|| CachedRead {
            value: value.cloned(),
            generation: self.epoch.load(Ordering::SeqCst),
            fresh_until,
        })
    }

    /// The bound of the map of absent keys: an eighth of the whole, at least 16.
    fn max_absent(&self) -> usize {
        (self.max_entries / 8).max(16)
    }

    fn fill(&self, epoch: u64, key: &str, value: Option<Bytes>) {
        let mut map = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        match value {
            Some(v) => {
                if map.present.len() >= self.max_entries {
                    map.present.clear();
                }
                map.present.insert(key.to_owned(), (v, Instant::now()));
            }
            None => {
                if map.absent.len() >= self.max_absent() {
                    map.absent.clear();
                }
                map.absent.insert(key.to_owned(), Instant::now());
            }
        }
    }
}

#[async_trait]
impl Kv for CachedKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        if let Some(v) = self.lookup(key) {
            return Ok(v.map(Vec::from));
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let v = self.inner.get(key).await?;
        self.fill(epoch, key, v.clone().map(Bytes::from));
        Ok(v)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        let mut out: Vec<Option<Option<Vec<u8>>>> = keys
            .iter()
            .map(|k| self.lookup(k).map(|v| v.map(Vec::from)))
            .collect();
        let missing: Vec<String> = keys
            .iter()
            .zip(&out)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let epoch = self.epoch.load(Ordering::SeqCst);
            let mut fetched = self.inner.get_many(&missing).await?.into_iter();
            for (slot, key) in out.iter_mut().zip(keys) {
                if slot.is_none() {
                    let v = fetched.next().flatten();
                    self.fill(epoch, key, v.clone().map(Bytes::from));
                    *slot = Some(v);
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    async fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.inner.scan(prefix, start_after, limit).await
    }

    async fn commit(&self, batch: Batch) -> Result<(), Error> {
        let touched: Vec<String> = batch
            .puts
            .iter()
            .map(|(k, _)| k.clone())
            .chain(batch.deletes.iter().cloned())
            .collect();
        let res = self.inner.commit(batch).await;
        self.invalidate(touched.iter().map(String::as_str));
        if res.is_ok() && !touched.is_empty() {
            // Best effort: the TTL bounds staleness if the notification is lost.
            if let Err(e) = self
                .inner
                .notify(&format!("{TOPIC_PREFIX}{}", touched.join("\n")))
                .await
            {
                tracing::warn!(error = %e, "cache invalidation notify failed");
            }
        }
        res
    }

    async fn put_mark(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        self.inner.put_mark(key, expires_at, now).await
    }

    async fn notify(&self, topic: &str) -> Result<(), Error> {
        self.inner.notify(topic).await
    }

    fn watch(&self) -> broadcast::Receiver<String> {
        self.inner.watch()
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn cached(&self, key: &str) -> Option<Option<Bytes>> {
        self.lookup(key)
    }

    fn cached_read(&self, key: &str) -> Option<CachedRead> {
        self.lookup_read(key)
    }

    fn generation(&self) -> Option<u64> {
        Some(self.epoch.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::store::memory::MemoryKv;

    fn cache() -> Arc<CachedKv> {
        CachedKv::new(Arc::new(MemoryKv::new()), Duration::from_secs(60), 100)
    }

    #[tokio::test]
    async fn cached_answers_only_what_a_read_put_there_and_writes_drop_it() {
        let c = cache();
        c.commit(Batch::new().put("k", b"v1".to_vec()))
            .await
            .unwrap();
        assert!(c.cached("k").is_none(), "nothing read yet");
        assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));
        let a = c.cached("k").unwrap().unwrap();
        let b = c.cached("k").unwrap().unwrap();
        assert_eq!(&a[..], b"v1");
        assert_eq!(a.as_ptr(), b.as_ptr(), "hits share one buffer");
        c.commit(Batch::new().put("k", b"v2".to_vec()))
            .await
            .unwrap();
        assert!(c.cached("k").is_none(), "a write drops the entry");
        assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
        assert_eq!(&c.cached("k").unwrap().unwrap()[..], b"v2");
        assert!(c.get("absent").await.unwrap().is_none());
        assert_eq!(c.cached("absent"), Some(None), "absence is cached too");
    }

    #[tokio::test]
    async fn lookups_of_absent_keys_never_flush_present_ones() {
        let c = cache();
        c.commit(Batch::new().put("k/real", b"v".to_vec()))
            .await
            .unwrap();
        c.get("k/real").await.unwrap();
        for i in 0..10_000 {
            assert!(c.get(&format!("k/random{i}")).await.unwrap().is_none());
        }
        assert_eq!(
            c.cached("k/real").unwrap().as_deref(),
            Some(&b"v"[..]),
            "a flood of unknown keys left the real entry cached"
        );
        let absent = c.entries.read().unwrap().absent.len();
        assert!(absent <= c.max_absent(), "absences bounded: {absent}");
    }

    #[tokio::test]
    async fn a_cached_read_carries_the_generation_every_invalidation_changes() {
        let c = cache();
        c.commit(Batch::new().put("k", b"v1".to_vec()))
            .await
            .unwrap();
        assert!(c.cached_read("k").is_none(), "nothing read yet");
        c.get("k").await.unwrap();
        let read = c.cached_read("k").unwrap();
        assert_eq!(read.value.as_deref(), Some(&b"v1"[..]));
        assert_eq!(Some(read.generation), c.generation());
        assert!(read.fresh_until > Instant::now());
        c.commit(Batch::new().put("other", b"x".to_vec()))
            .await
            .unwrap();
        assert_ne!(Some(read.generation), c.generation(), "any write moves it");
        let g = c.generation();
        c.invalidate(["k"].into_iter());
        assert_ne!(c.generation(), g, "and any notification");
        let g = c.generation();
        c.clear();
        assert_ne!(c.generation(), g, "and a lagging watcher's clear");
        assert!(
            MemoryKv::new().generation().is_none(),
            "a plain store has none"
        );
    }

    #[tokio::test]
    async fn cached_entries_expire() {
        let c = CachedKv::new(Arc::new(MemoryKv::new()), Duration::ZERO, 100);
        c.commit(Batch::new().put("k", b"v".to_vec()))
            .await
            .unwrap();
        c.get("k").await.unwrap();
        assert!(c.cached("k").is_none(), "older than the TTL");
        assert!(c.cached_read("k").is_none());
    }
}
