//! The in-memory backend, for unit tests: nothing survives the process.
//!
//! State is one [`BTreeMap`] (ordered, so scans are range queries) plus the marks and an index of
//! mark expiries, all behind a single `std::sync::Mutex`. As in mini-redis (`db.rs`), a std mutex
//! rather than `tokio::sync::Mutex` is the right tool: every critical section is short, purely
//! in-memory and never held across an `.await`, so an async mutex would only add overhead. One
//! lock over everything also makes [`Batch`] commits trivially atomic.
//!
//! Expired marks are purged lazily: each [`Kv::put_mark`] first drops every mark whose expiry is
//! at or before its `now`, using the ordered expiry index (mini-redis keeps the same
//! `BTreeSet<(when, key)>`), so purging costs O(log n) per expired mark and no background task.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::{Batch, Check, Error, Kv};

/// How many notifications a slow watcher may fall behind before it sees `Lagged`.
pub(super) const EVENT_CAPACITY: usize = 1024;

/// An in-memory [`Kv`], for tests. Cheap to create; all data is lost on drop.
#[derive(Debug)]
pub struct MemoryKv {
    state: Mutex<State>,
    events: broadcast::Sender<String>,
}

#[derive(Debug, Default)]
struct State {
    data: BTreeMap<String, Vec<u8>>,
    /// Mark key → expiry.
    marks: BTreeMap<String, DateTime<Utc>>,
    /// `(expiry, key)` for every entry of `marks`, ordered by expiry for purging.
    expiries: BTreeSet<(DateTime<Utc>, String)>,
}

impl MemoryKv {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Self {
            state: Mutex::new(State::default()),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied batch behind (commits
        // validate every check before mutating), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryKv {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a scan starts: at `prefix`, or strictly after `start_after` when that is further on.
pub(super) fn scan_start<'a>(prefix: &'a str, start_after: Option<&'a str>) -> Bound<&'a str> {
    match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

/// Whether `check` holds given the current value of its key.
pub(super) fn check_holds(check: &Check, current: Option<&[u8]>) -> bool {
    match check {
        Check::Absent(_) => current.is_none(),
        Check::Present(_) => current.is_some(),
        Check::Equals(_, want) => current == Some(want.as_slice()),
    }
}

/// The key a check is about.
pub(super) fn check_key(check: &Check) -> &str {
    match check {
        Check::Absent(k) | Check::Present(k) | Check::Equals(k, _) => k,
    }
}

#[async_trait]
impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.lock().data.get(key).cloned())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        let state = self.lock();
        Ok(keys.iter().map(|k| state.data.get(k).cloned()).collect())
    }

    async fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let state = self.lock();
        let range = (scan_start(prefix, start_after), Bound::Unbounded);
        Ok(state
            .data
            .range::<str, _>(range)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// Checks first, then puts, then deletes (a key both put and deleted ends up absent).
    async fn commit(&self, batch: Batch) -> Result<(), Error> {
        let mut state = self.lock();
        for check in &batch.checks {
            let key = check_key(check);
            if !check_holds(check, state.data.get(key).map(Vec::as_slice)) {
                return Err(Error::Conflict(key.to_owned()));
            }
        }
        for (key, value) in batch.puts {
            state.data.insert(key, value);
        }
        for key in &batch.deletes {
            state.data.remove(key);
        }
        Ok(())
    }

    async fn put_mark(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let mut guard = self.lock();
        let state = &mut *guard;
        // Purge every mark expired at `now` (expiry <= now), oldest first.
        while let Some((when, _)) = state.expiries.first() {
            if *when > now {
                break;
            }
            if let Some((_, k)) = state.expiries.pop_first() {
                state.marks.remove(&k);
            }
        }
        if state.marks.contains_key(key) {
            return Ok(false);
        }
        state.marks.insert(key.to_owned(), expires_at);
        state.expiries.insert((expires_at, key.to_owned()));
        Ok(true)
    }

    async fn notify(&self, topic: &str) -> Result<(), Error> {
        // `send` fails only when nobody is watching, which is fine.
        let _ = self.events.send(topic.to_owned());
        Ok(())
    }

    fn watch(&self) -> broadcast::Receiver<String> {
        self.events.subscribe()
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn scan_start_picks_the_later_bound() {
        assert_eq!(scan_start("b/", None), Bound::Included("b/"));
        assert_eq!(scan_start("b/", Some("a")), Bound::Included("b/"));
        assert_eq!(scan_start("b/", Some("b/")), Bound::Excluded("b/"));
        assert_eq!(scan_start("b/", Some("b/x")), Bound::Excluded("b/x"));
    }

    #[tokio::test]
    async fn expired_marks_are_purged_from_memory() {
        let kv = MemoryKv::new();
        let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        for i in 0..10 {
            let key = format!("m{i}");
            assert!(
                kv.put_mark(&key, t0 + chrono::Duration::seconds(10), t0)
                    .await
                    .unwrap()
            );
        }
        assert_eq!(kv.lock().marks.len(), 10);
        let later = t0 + chrono::Duration::seconds(11);
        assert!(
            kv.put_mark("other", later + chrono::Duration::seconds(1), later)
                .await
                .unwrap()
        );
        let state = kv.lock();
        assert_eq!(state.marks.len(), 1, "the 10 expired marks are gone");
        assert_eq!(state.expiries.len(), 1);
    }
}
