//! A bounded, thread-safe cache of parsed policies keyed by (kind, text).
//!
//! Keyed by the text itself (shared with the eviction queue), so a lookup is one hash of the
//! text and one comparison, with no digest to compute.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::PolicyError;
use super::model::{Policy, PolicyKind};
use super::parse::parse;

#[derive(Default)]
struct Inner {
    /// Fast hashing: a policy text is hashed on every lookup and can be several KiB.
    maps: HashMap<PolicyKind, crate::FastMap<Arc<str>, Arc<Policy>>>,
    order: VecDeque<(PolicyKind, Arc<str>)>,
}

impl Inner {
    fn get(&self, kind: PolicyKind, text: &str) -> Option<Arc<Policy>> {
        self.maps.get(&kind)?.get(text).cloned()
    }
}

/// Parsed policies, shared; the oldest entry is evicted once `capacity` is reached.
pub struct PolicyCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl PolicyCache {
    /// A cache holding at most `capacity` policies (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached policy for this text and kind, parsing (and caching) it on a miss.
    /// Errors are not cached.
    ///
    /// # Errors
    /// As [`parse`].
    pub fn get_or_parse(&self, text: &str, kind: PolicyKind) -> Result<Arc<Policy>, PolicyError> {
        if let Some(p) = self.lock().get(kind, text) {
            return Ok(p);
        }
        let parsed = Arc::new(parse(text, kind)?);
        let mut g = self.lock();
        if let Some(p) = g.get(kind, text) {
            return Ok(p);
        }
        while g.order.len() >= self.capacity {
            match g.order.pop_front() {
                Some((k, t)) => {
                    if let Some(m) = g.maps.get_mut(&k) {
                        m.remove(&t);
                    }
                }
                None => break,
            }
        }
        let key: Arc<str> = Arc::from(text);
        g.maps
            .entry(kind)
            .or_default()
            .insert(Arc::clone(&key), Arc::clone(&parsed));
        g.order.push_back((kind, key));
        Ok(parsed)
    }

    /// Number of cached policies.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn doc(a: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{a}","Resource":"*"}}}}"#
        )
    }

    #[test]
    fn caches_by_kind_and_content_and_is_bounded() {
        let c = PolicyCache::new(2);
        let a1 = c.get_or_parse(&doc("s3:A"), PolicyKind::Identity).unwrap();
        let a2 = c.get_or_parse(&doc("s3:A"), PolicyKind::Identity).unwrap();
        assert!(Arc::ptr_eq(&a1, &a2));
        let b = c.get_or_parse(&doc("s3:A"), PolicyKind::Managed).unwrap();
        assert!(!Arc::ptr_eq(&a1, &b));
        assert_eq!(c.len(), 2);
        c.get_or_parse(&doc("s3:B"), PolicyKind::Identity).unwrap();
        assert_eq!(c.len(), 2);
        let a3 = c.get_or_parse(&doc("s3:A"), PolicyKind::Identity).unwrap();
        assert!(!Arc::ptr_eq(&a1, &a3), "oldest entry was evicted");
        assert!(c.get_or_parse("{", PolicyKind::Identity).is_err());
        assert_eq!(c.len(), 2);
    }
}
