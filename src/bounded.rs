//! A map under a lock that keeps at most a fixed number of entries and starts over when a new
//! key would pass that bound: the memory bound of the per-node memos (web identity signatures
//! and readings, SAML providers' trust), whose entries are cheap to derive again and where a
//! least-recently-used order would cost more than the occasional miss after a clear.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use crate::FastMap;

/// At most `max` entries; see the module.
pub struct BoundedMap<K, V> {
    max: usize,
    entries: Mutex<FastMap<K, V>>,
}

impl<K: Eq + Hash, V: Clone> BoundedMap<K, V> {
    /// An empty map of at most `max` entries.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            max,
            entries: Mutex::new(FastMap::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FastMap<K, V>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the value kept for `k`.
    #[must_use]
    pub fn get<Q>(&self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock().get(k).cloned()
    }

    /// Keeps `v` for `k`; when `k` is new and the map is full, everything else is dropped first.
    pub fn insert(&self, k: K, v: V) {
        let mut m = self.lock();
        if m.len() >= self.max && !m.contains_key(&k) {
            m.clear();
        }
        m.insert(k, v);
    }

    /// How many entries are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K, V> std::fmt::Debug for BoundedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("BoundedMap")
            .field("entries", &n)
            .field("max", &self.max)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedMap;

    #[test]
    fn it_never_passes_its_bound_and_starts_over_for_a_new_key() {
        let m = BoundedMap::new(3);
        for i in 0..3 {
            m.insert(i, i * 10);
        }
        assert_eq!((m.len(), m.get(&2)), (3, Some(20)));
        m.insert(1, 11);
        assert_eq!(
            (m.len(), m.get(&1)),
            (3, Some(11)),
            "a kept key is replaced in place"
        );
        m.insert(7, 70);
        assert_eq!(m.len(), 1, "a new key past the bound starts over");
        assert_eq!((m.get(&7), m.get(&0)), (Some(70), None));
        assert!(!m.is_empty());
    }
}
