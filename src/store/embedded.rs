//! The embedded backend (the default): one redb file, durable, single node, no external process.
//!
//! Durability: redb starts every write transaction with [`redb::Durability::Immediate`] (see
//! `WriteTransaction::new` in redb 4: `durability: InternalDurability::Immediate`), documented as
//! "guaranteed to be persistent as soon as `WriteTransaction::commit` returns": the commit
//! fsyncs the file. We never lower it, so [`Kv::commit`] and [`Kv::put_mark`] are durable when
//! they return (checked with strace: one `fdatasync` per commit); `tests/store_crash.rs`
//! SIGKILLs a writer and checks every acknowledged write.
//!
//! Atomicity: redb serialises write transactions (one writer at a time, `begin_write` waits), so
//! evaluating a batch's checks and applying it inside one write transaction is atomic.
//!
//! Every redb call blocks (file I/O, fsync, waiting for the writer slot), so each operation runs
//! on tokio's blocking pool through [`tokio::task::spawn_blocking`]; the [`Database`] is `Send +
//! Sync` and shared through an [`Arc`].
//!
//! Tables: `kv` (`&str → &[u8]`) holds the data; `marks` (`&str → i64` expiry in Unix
//! milliseconds) holds the marks; `mark_expiry` (`(i64, &str) → ()`) indexes the marks by expiry
//! so that each successful [`Kv::put_mark`] purges up to [`PURGE_BATCH`] expired marks in
//! O(log n) each, with no background task.
//!
//! Notifications are in-process only (a [`broadcast`] channel): this backend serves one node.

use std::fmt::Display;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::broadcast;

use super::memory::{EVENT_CAPACITY, check_holds, check_key, scan_start};
use super::{Batch, Error, Kv};

const DATA: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const MARKS: TableDefinition<&str, i64> = TableDefinition::new("marks");
const MARK_EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("mark_expiry");

/// At most this many expired marks are purged by one [`Kv::put_mark`], bounding its latency.
pub const PURGE_BATCH: usize = 256;

/// A [`Kv`] over a redb database file.
pub struct EmbeddedKv {
    db: Arc<Database>,
    events: broadcast::Sender<String>,
}

impl std::fmt::Debug for EmbeddedKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedKv").finish_non_exhaustive()
    }
}

fn backend(e: impl Display) -> Error {
    Error::Backend(format!("redb: {e}"))
}

impl EmbeddedKv {
    /// Opens the database file at `path`, creating it (and its tables) if missing. A file left by
    /// a crashed process is repaired by redb here. Blocks: call it at start-up, or from
    /// `spawn_blocking`. Fails if another process or handle has the file open.
    ///
    /// # Errors
    /// [`Error::Backend`] when the file cannot be created, opened or repaired.
    pub fn open(path: &Path) -> Result<Self, Error> {
        create_private(path)?;
        let db = Database::create(path).map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        {
            txn.open_table(DATA).map_err(backend)?;
            txn.open_table(MARKS).map_err(backend)?;
            txn.open_table(MARK_EXPIRY).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Ok(Self {
            db: Arc::new(db),
            events,
        })
    }

    /// Runs `f` on the blocking pool with the database.
    async fn blocking<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(&Database) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| Error::Backend(format!("redb blocking task failed: {e}")))?
    }
}

/// Creates `path` empty and readable by its owner only (0600) when it is missing, for redb to
/// initialise: redb would create it with the process's umask, usually 0644, and the file holds
/// the IAM entities (policies, sealed secrets), revocation cut-offs and replay caches, which the
/// store's other files (the at-rest key, the key ring) already keep to their owner. An existing
/// file that others may read is used as it is, with a warning.
fn create_private(path: &Path) -> Result<(), Error> {
    let opened =
        crate::private_file::owner_only(std::fs::OpenOptions::new().write(true).create_new(true))
            .open(path);
    match opened {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = std::fs::metadata(path).map_err(backend)?;
            crate::private_file::warn_if_shared(&meta, path, "store file");
            Ok(())
        }
        Err(e) => Err(backend(format!("{}: {e}", path.display()))),
    }
}

fn unix_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

#[async_trait]
impl Kv for EmbeddedKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(DATA).map_err(backend)?;
            let value = table.get(key.as_str()).map_err(backend)?;
            Ok(value.map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        let keys = keys.to_vec();
        self.blocking(move |db| {
            // One read transaction: a consistent snapshot for all keys.
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(DATA).map_err(backend)?;
            keys.iter()
                .map(|k| {
                    let value = table.get(k.as_str()).map_err(backend)?;
                    Ok(value.map(|v| v.value().to_vec()))
                })
                .collect()
        })
        .await
    }

    async fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(DATA).map_err(backend)?;
            let lower = scan_start(&prefix, start_after.as_deref());
            let range = table
                .range::<&str>((lower, Bound::Unbounded))
                .map_err(backend)?;
            let mut out = Vec::new();
            for entry in range {
                let (k, v) = entry.map_err(backend)?;
                let key = k.value();
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                out.push((key.to_owned(), v.value().to_vec()));
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    /// Checks first, then puts, then deletes (a key both put and deleted ends up absent).
    async fn commit(&self, batch: Batch) -> Result<(), Error> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let conflict = {
                let mut table = txn.open_table(DATA).map_err(backend)?;
                let mut conflict = None;
                for check in &batch.checks {
                    let key = check_key(check);
                    let current = table.get(key).map_err(backend)?;
                    if !check_holds(check, current.as_ref().map(|v| v.value())) {
                        conflict = Some(key.to_owned());
                        break;
                    }
                }
                if conflict.is_none() {
                    for (key, value) in &batch.puts {
                        table
                            .insert(key.as_str(), value.as_slice())
                            .map_err(backend)?;
                    }
                    for key in &batch.deletes {
                        table.remove(key.as_str()).map_err(backend)?;
                    }
                }
                conflict
            };
            match conflict {
                Some(key) => {
                    txn.abort().map_err(backend)?;
                    Err(Error::Conflict(key))
                }
                None => txn.commit().map_err(backend),
            }
        })
        .await
    }

    async fn put_mark(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let key = key.to_owned();
        let (expires_ms, now_ms) = (unix_ms(expires_at), unix_ms(now));
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let newly_set = {
                let mut marks = txn.open_table(MARKS).map_err(backend)?;
                let mut expiry = txn.open_table(MARK_EXPIRY).map_err(backend)?;
                let previous = marks.get(key.as_str()).map_err(backend)?.map(|v| v.value());
                if previous.is_some_and(|old| old > now_ms) {
                    false
                } else {
                    if let Some(old) = previous {
                        expiry.remove((old, key.as_str())).map_err(backend)?;
                    }
                    // Purge marks expired at `now` (expiry <= now), oldest first, bounded.
                    let mut expired = Vec::new();
                    for entry in expiry
                        .range(..(now_ms.saturating_add(1), ""))
                        .map_err(backend)?
                        .take(PURGE_BATCH)
                    {
                        let (k, _) = entry.map_err(backend)?;
                        let (when, name) = k.value();
                        expired.push((when, name.to_owned()));
                    }
                    for (when, k) in &expired {
                        expiry.remove((*when, k.as_str())).map_err(backend)?;
                        marks.remove(k.as_str()).map_err(backend)?;
                    }
                    marks.insert(key.as_str(), expires_ms).map_err(backend)?;
                    expiry
                        .insert((expires_ms, key.as_str()), ())
                        .map_err(backend)?;
                    true
                }
            };
            if newly_set {
                txn.commit().map_err(backend)?;
            } else {
                txn.abort().map_err(backend)?;
            }
            Ok(newly_set)
        })
        .await
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
        "embedded"
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_735_689_600 + secs, 0).single().unwrap()
    }

    fn mark_count(kv: &EmbeddedKv) -> (u64, u64) {
        use redb::ReadableTableMetadata;
        let txn = kv.db.begin_read().unwrap();
        let marks = txn.open_table(MARKS).unwrap().len().unwrap();
        let expiry = txn.open_table(MARK_EXPIRY).unwrap().len().unwrap();
        (marks, expiry)
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_file_is_readable_by_its_owner_only_and_an_existing_one_is_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let kv = EmbeddedKv::open(&path).unwrap();
        assert!(kv.put_mark("kept", t(10), t(0)).await.unwrap());
        drop(kv);
        assert_eq!(mode(&path), 0o600);
        // An operator's own choice of mode is not changed, and the data survives the reopening
        // (the live mark is still there, so putting it again is refused).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let kv = EmbeddedKv::open(&path).unwrap();
        assert_eq!(mode(&path), 0o640);
        assert!(!kv.put_mark("kept", t(10), t(1)).await.unwrap());
        drop(kv);
        // A path in a missing directory fails (the server creates the directory first).
        assert!(matches!(
            EmbeddedKv::open(&dir.path().join("missing/db.redb")),
            Err(Error::Backend(_))
        ));
    }

    #[tokio::test]
    async fn put_mark_purges_expired_marks_in_bounded_steps() {
        let dir = tempfile::tempdir().unwrap();
        let kv = EmbeddedKv::open(&dir.path().join("db.redb")).unwrap();
        let n = PURGE_BATCH + 10;
        for i in 0..n {
            assert!(kv.put_mark(&format!("m{i}"), t(10), t(0)).await.unwrap());
        }
        // Renewing a live mark's key after expiry must not leave a stale index entry.
        assert!(kv.put_mark("m0", t(20), t(10)).await.unwrap());
        assert_eq!(
            mark_count(&kv),
            (10, 10),
            "one step purges PURGE_BATCH marks"
        );
        assert!(kv.put_mark("other", t(100), t(11)).await.unwrap());
        assert_eq!(mark_count(&kv), (2, 2), "m0 (t=20) and other remain");
        assert!(!kv.put_mark("m0", t(30), t(19)).await.unwrap());
        assert!(kv.put_mark("m0", t(30), t(20)).await.unwrap());
        assert_eq!(mark_count(&kv), (2, 2));
    }
}
