//! Decoded values memoized by their exact stored bytes.
//!
//! The read cache ([`crate::cache::CachedKv`]) keeps raw bytes; decoding them (JSON, dates, and
//! for access keys the at-rest decryption of the secret) cost more than the rest of a
//! GetCallerIdentity. This memo keeps the decoded value beside a copy of the bytes it came from
//! and hands it out only while a fresh read returns exactly those bytes, so it needs no
//! invalidation of its own and can never serve a value the store no longer holds: whatever the
//! cache answers (including another node's write) is what gets compared.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;
use thread_local::ThreadLocal;

use crate::FastMap;

/// One memoized value, its type, and the bytes it was decoded from.
struct Entry {
    type_id: TypeId,
    bytes: Bytes,
    value: Arc<dyn Any + Send + Sync>,
}

/// The memo (bounded by the number of keys: cleared when full, like the read cache). A key may
/// hold one value per type (a role as a `Role`, and as a view with its policies parsed).
pub(crate) struct Memo {
    entries: RwLock<FastMap<String, Vec<Entry>>>,
    max_entries: usize,
}

impl Memo {
    /// An empty memo holding values for at most `max_entries` keys.
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            entries: RwLock::new(FastMap::default()),
            max_entries,
        }
    }

    /// The value decoded from `bytes` at `key`, if memoized with type `T`.
    pub(crate) fn get<T: Any + Send + Sync>(&self, key: &str, bytes: &[u8]) -> Option<Arc<T>> {
        let map = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let e = map
            .get(key)?
            .iter()
            .find(|e| e.type_id == TypeId::of::<T>())?;
        // The read cache hands out the very bytes the memo was given, so the usual hit is the
        // same buffer (which the memo keeps alive and nobody can change, so an equal pointer
        // and length mean equal bytes); anything else is compared in full.
        let same = (e.bytes.as_ptr() == bytes.as_ptr() && e.bytes.len() == bytes.len())
            || e.bytes == bytes;
        if !same {
            return None;
        }
        e.value.clone().downcast::<T>().ok()
    }

    /// Remembers `value` as the decoding of `bytes` at `key`.
    pub(crate) fn put<T: Any + Send + Sync>(&self, key: &str, bytes: Bytes, value: Arc<T>) {
        let mut map = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.max_entries && !map.contains_key(key) {
            map.clear();
        }
        let entry = Entry {
            type_id: TypeId::of::<T>(),
            bytes,
            value,
        };
        let slot = map.entry(key.to_owned()).or_default();
        match slot.iter_mut().find(|e| e.type_id == entry.type_id) {
            Some(e) => *e = entry,
            None => slot.push(entry),
        }
    }
}

/// Each thread's copies of recent decoded reads, in front of the read cache and the memo: a
/// hit takes no lock and no shared write (the cache and the memo each take a read lock, whose
/// counter every core writes). An entry is used only while the read cache's generation is the
/// one it was read at (every invalidation, this node's writes and other nodes' notifications,
/// changes it) and before the cache's answer would have gone stale (its TTL), so it answers
/// exactly what the cache and the memo would. Bounded per thread: cleared when full.
pub(crate) struct Front {
    threads: ThreadLocal<RefCell<FastMap<String, Vec<FrontEntry>>>>,
    max_entries: usize,
}

/// One copy: the decoded value, its type, and when it stops being the cache's answer.
struct FrontEntry {
    type_id: TypeId,
    generation: u64,
    fresh_until: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

impl Front {
    /// An empty front holding at most `max_entries` keys per thread.
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            threads: ThreadLocal::new(),
            max_entries,
        }
    }

    /// This thread's copy of the value of type `T` at `key`, if read at `generation` and
    /// still fresh at `now`.
    pub(crate) fn get<T: Any + Send + Sync>(
        &self,
        key: &str,
        generation: u64,
        now: Instant,
    ) -> Option<Arc<T>> {
        let map = self.threads.get()?.try_borrow().ok()?;
        let e = map
            .get(key)?
            .iter()
            .find(|e| e.type_id == TypeId::of::<T>())?;
        if e.generation != generation || now >= e.fresh_until {
            return None;
        }
        e.value.clone().downcast::<T>().ok()
    }

    /// Keeps `value`, read at `key` at `generation` and fresh until `fresh_until`, for this
    /// thread.
    pub(crate) fn put<T: Any + Send + Sync>(
        &self,
        key: &str,
        generation: u64,
        fresh_until: Instant,
        value: Arc<T>,
    ) {
        let cell = self.threads.get_or(|| RefCell::new(FastMap::default()));
        let Ok(mut map) = cell.try_borrow_mut() else {
            return;
        };
        if map.len() >= self.max_entries && !map.contains_key(key) {
            map.clear();
        }
        let entry = FrontEntry {
            type_id: TypeId::of::<T>(),
            generation,
            fresh_until,
            value,
        };
        let slot = map.entry(key.to_owned()).or_default();
        match slot.iter_mut().find(|e| e.type_id == entry.type_id) {
            Some(e) => *e = entry,
            None => slot.push(entry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_bytes_and_type_hit() {
        let m = Memo::new(10);
        m.put("k", Bytes::from_static(b"v1"), Arc::new(1_u32));
        assert_eq!(m.get::<u32>("k", b"v1").as_deref(), Some(&1));
        assert!(m.get::<u32>("k", b"v2").is_none(), "changed bytes miss");
        assert!(m.get::<u64>("k", b"v1").is_none(), "other type misses");
        m.put("k", Bytes::from_static(b"v1"), Arc::new(7_u64));
        assert_eq!(
            m.get::<u64>("k", b"v1").as_deref(),
            Some(&7),
            "one value per type"
        );
        assert_eq!(m.get::<u32>("k", b"v1").as_deref(), Some(&1), "both kept");
        assert!(m.get::<u32>("other", b"v1").is_none());
        m.put("k", Bytes::from_static(b"v2"), Arc::new(2_u32));
        assert!(m.get::<u32>("k", b"v1").is_none(), "replaced");
        assert_eq!(m.get::<u32>("k", b"v2").as_deref(), Some(&2));
    }

    #[test]
    fn equal_bytes_in_another_buffer_hit_and_changed_bytes_miss() {
        let m = Memo::new(10);
        m.put("k", Bytes::from(b"value".to_vec()), Arc::new(1_u32));
        let copy = b"value".to_vec();
        assert_eq!(m.get::<u32>("k", &copy).as_deref(), Some(&1));
        let same_len = b"valuf".to_vec();
        assert!(m.get::<u32>("k", &same_len).is_none());
        assert!(m.get::<u32>("k", b"valu").is_none(), "a prefix misses");
    }

    #[test]
    fn bounded() {
        let m = Memo::new(3);
        for i in 0..10_u32 {
            m.put(&format!("k{i}"), Bytes::from_static(&[0]), Arc::new(i));
            assert!(m.entries.read().map(|e| e.len()).unwrap_or(0) <= 3);
        }
        assert_eq!(m.get::<u32>("k9", &[0]).as_deref(), Some(&9));
    }

    #[test]
    fn the_front_answers_only_at_its_generation_type_and_before_staleness() {
        let f = Front::new(10);
        let now = Instant::now();
        let later = now + std::time::Duration::from_secs(30);
        assert!(f.get::<u32>("k", 1, now).is_none(), "empty");
        f.put("k", 1, later, Arc::new(5_u32));
        assert_eq!(f.get::<u32>("k", 1, now).as_deref(), Some(&5));
        assert!(f.get::<u32>("k", 2, now).is_none(), "another generation");
        assert!(f.get::<u64>("k", 1, now).is_none(), "another type");
        assert!(
            f.get::<u32>("k", 1, later).is_none(),
            "stale at fresh_until"
        );
        assert!(f.get::<u32>("other", 1, now).is_none());
        f.put("k", 2, later, Arc::new(6_u32));
        assert_eq!(f.get::<u32>("k", 2, now).as_deref(), Some(&6), "replaced");
        assert!(f.get::<u32>("k", 1, now).is_none());
    }

    #[test]
    fn the_front_is_per_thread_and_bounded() {
        let f = Arc::new(Front::new(3));
        let now = Instant::now();
        let later = now + std::time::Duration::from_secs(30);
        f.put("k", 1, later, Arc::new(1_u32));
        let other = Arc::clone(&f);
        let seen = std::thread::spawn(move || other.get::<u32>("k", 1, now).is_some())
            .join()
            .unwrap_or(true);
        assert!(!seen, "another thread has its own copies");
        for i in 0..10_u32 {
            f.put(&format!("k{i}"), 1, later, Arc::new(i));
            let len = f.threads.get().map_or(0, |m| m.borrow().len());
            assert!(len <= 3, "bounded: {len}");
        }
        assert_eq!(f.get::<u32>("k9", 1, now).as_deref(), Some(&9));
    }
}
