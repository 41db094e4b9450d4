//! Decoded values memoized by their exact stored bytes.
//!
//! The read cache ([`crate::cache::CachedKv`]) keeps raw bytes; decoding them (JSON, dates, and
//! for access keys the at-rest decryption of the secret) cost more than the rest of a
//! GetCallerIdentity. This memo keeps the decoded value beside a copy of the bytes it came from
//! and hands it out only while a fresh read returns exactly those bytes, so it needs no
//! invalidation of its own and can never serve a value the store no longer holds: whatever the
//! cache answers (including another node's write) is what gets compared.

use std::any::{Any, TypeId};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;

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
}
