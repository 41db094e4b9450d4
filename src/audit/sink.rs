//! The audit writer: the thread that drains the queue into the sink (stdout or a file), the
//! file's size rotation and reopening, its syncing (and dropping its written pages from the page
//! cache), its free-space probe, and recovery after a failed write.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{
    Batch, FLUSH_EVERY, RETRY_EVERY, SPACE_EVERY, SYNC_BYTES, SYNC_EVERY, Shared, UNKNOWN,
};
use crate::config::AuditConfig;

/// The writer thread: every [`FLUSH_EVERY`], takes the queue's batch (leaving its own emptied
/// one) and writes it, then syncs the file when due ([`FileSink::settle`], idle or not); keeps
/// what it could not write (and refuses new events) until the sink works again.
pub(super) fn write_loop(shared: &Shared, mut sink: Sink) {
    let mut pending = Batch::default();
    let mut next_space = Instant::now() + SPACE_EVERY;
    loop {
        let failing = shared.failed.load(Ordering::SeqCst);
        std::thread::sleep(if failing { RETRY_EVERY } else { FLUSH_EVERY });
        if Instant::now() >= next_space {
            shared
                .free_bytes
                .store(sink.free_bytes(), Ordering::Relaxed);
            next_space = Instant::now() + SPACE_EVERY;
        }
        let reopen = shared.reopen.swap(false, Ordering::SeqCst);
        {
            let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.is_empty() {
                std::mem::swap(&mut pending, &mut q.lines);
            } else {
                pending.append(&mut q.lines);
            }
        }
        if pending.is_empty() && !reopen && !failing {
            // Nothing new: what was written last still reaches the disk within SYNC_EVERY.
            let errors = settle(&mut sink);
            shared.write_errors.fetch_add(errors, Ordering::Relaxed);
            continue;
        }
        let mut w = sink.write(&pending, reopen);
        w.errors += settle(&mut sink);
        pending.drop_front(w.lines);
        shared.bytes_written.fetch_add(w.bytes, Ordering::Relaxed);
        shared
            .events_written
            .fetch_add(w.lines as u64, Ordering::SeqCst);
        shared.rotations.fetch_add(w.rotations, Ordering::Relaxed);
        shared.write_errors.fetch_add(w.errors, Ordering::Relaxed);
        match w.failure {
            None if failing => {
                shared.failed.store(false, Ordering::SeqCst);
                tracing::warn!("audit sink writes again; accepting requests");
            }
            None => {}
            Some(e) => {
                if !failing {
                    shared.failed.store(true, Ordering::SeqCst);
                    tracing::error!(error = %e, held = pending.len(),
                        "audit sink write failed; refusing requests until it writes again");
                }
                // The sink fails for good only if the events it holds can never be written; a
                // full disk or a missing folder recovers once the operator acts.
                shared
                    .free_bytes
                    .store(sink.free_bytes(), Ordering::Relaxed);
            }
        }
    }
}

/// [`Sink::settle`] now; the errors met (0 or 1). A failed sync leaves the lines written, but
/// whether they reached the disk is in doubt: said loudly and counted, and the next sync covers
/// the whole file again. Not a reason to refuse requests.
fn settle(sink: &mut Sink) -> u64 {
    match sink.settle(Instant::now()) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "audit file sync failed");
            1
        }
    }
}

/// What one [`Sink::write`] did.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// Lines written (from the front of the batch).
    lines: usize,
    /// Bytes written.
    bytes: u64,
    /// Rotations done.
    rotations: u64,
    /// Errors met (a failed rotation is counted but does not stop writing).
    errors: u64,
    /// The error that stopped writing, if any.
    failure: Option<std::io::Error>,
}

/// Where the writer writes.
pub(super) enum Sink {
    Stdout,
    File(FileSink),
}

impl Sink {
    pub(super) fn write(&mut self, lines: &Batch, reopen: bool) -> Written {
        match self {
            Self::Stdout => {
                let buf = lines.span(0, lines.len());
                let mut out = std::io::stdout().lock();
                match out.write_all(buf).and_then(|()| out.flush()) {
                    Ok(()) => Written {
                        lines: lines.len(),
                        bytes: buf.len() as u64,
                        ..Written::default()
                    },
                    Err(e) => Written {
                        errors: 1,
                        failure: Some(e),
                        ..Written::default()
                    },
                }
            }
            Self::File(f) => f.write(lines, reopen),
        }
    }

    /// Syncs the file sink when enough is unsynced (see [`FileSink::settle`]).
    pub(super) fn settle(&mut self, now: Instant) -> std::io::Result<()> {
        match self {
            Self::Stdout => Ok(()),
            Self::File(f) => f.settle(now),
        }
    }

    pub(super) fn free_bytes(&self) -> u64 {
        match self {
            Self::Stdout => UNKNOWN,
            Self::File(f) => free_bytes(&f.path).unwrap_or(UNKNOWN),
        }
    }
}

/// The audit file, its size, and when it rotates.
pub(super) struct FileSink {
    path: PathBuf,
    /// `None` after a failed reopening (tried again on the next write).
    file: Option<std::fs::File>,
    /// Bytes in the file.
    size: u64,
    /// Rotate before a line would take the file past this; `0`: never.
    max_bytes: u64,
    /// Rotated files kept.
    max_files: u32,
    /// A failed write left a partial line that could not be cut off: start with a newline so
    /// the next line stays whole.
    torn: bool,
    /// Bytes appended since the file was last synced.
    unsynced: u64,
    /// When the file was last synced (or opened).
    synced_at: Instant,
    /// The file cannot be synced (`/dev/null`, a pipe): never tried again.
    unsyncable: bool,
}

impl FileSink {
    pub(super) fn open(cfg: &AuditConfig) -> std::io::Result<Self> {
        let file = open_append(&cfg.path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: cfg.path.clone(),
            file: Some(file),
            size,
            max_bytes: cfg.max_file_bytes,
            max_files: cfg.max_files,
            torn: false,
            unsynced: 0,
            synced_at: Instant::now(),
            unsyncable: false,
        })
    }

    /// Syncs the file once [`SYNC_BYTES`] are unsynced, or anything is and the last sync is
    /// [`SYNC_EVERY`] old: the trail reaches the disk within a second or a few MiB.
    pub(super) fn settle(&mut self, now: Instant) -> std::io::Result<()> {
        if self.unsynced >= SYNC_BYTES
            || (self.unsynced > 0 && now.saturating_duration_since(self.synced_at) >= SYNC_EVERY)
        {
            self.sync(now)
        } else {
            Ok(())
        }
    }

    /// `fdatasync`, then drops the file's now clean pages from the page cache. The audit file is
    /// only ever appended to, never read back; left cached, it would grow the page cache by
    /// every byte written (tens of MB a second under load), evicting the store's pages and
    /// making each write land on memory not touched before, several times dearer than reusing
    /// the pages just dropped.
    fn sync(&mut self, now: Instant) -> std::io::Result<()> {
        let Some(file) = self.file.as_ref().filter(|_| self.unsynced > 0) else {
            return Ok(());
        };
        self.unsynced = 0;
        self.synced_at = now;
        if self.unsyncable {
            return Ok(());
        }
        match rustix::fs::fdatasync(file) {
            Ok(()) => {}
            // Not a regular file (`/dev/null`, a pipe, a terminal): nothing to sync or drop.
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::ROFS) => {
                self.unsyncable = true;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        // Advice only: a kernel that ignores it keeps the pages, nothing else changes.
        let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
        Ok(())
    }

    /// (Re)opens the file at `path`.
    pub(super) fn reopen(&mut self) -> std::io::Result<()> {
        self.close();
        let file = open_append(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        self.unsyncable = false;
        Ok(())
    }

    /// Closes the file, synced first: rotating or reopening ends our writes to it, not its
    /// trail.
    fn close(&mut self) {
        if let Err(e) = self.sync(Instant::now()) {
            tracing::error!(error = %e, "audit file sync before closing it failed");
        }
        self.file = None;
    }

    /// Writes `lines` in order, rotating by size between lines; stops at the first failure.
    pub(super) fn write(&mut self, lines: &Batch, reopen: bool) -> Written {
        let mut w = Written::default();
        if (reopen || self.file.is_none())
            && let Err(e) = self.reopen()
        {
            w.errors += 1;
            w.failure = Some(e);
            return w;
        }
        // Lines `from..i` go to the current file in one append.
        let mut from = 0;
        let mut chunk = 0_u64;
        let mut rotation_failed = false;
        for i in 0..lines.len() {
            let len = lines.line_len(i) as u64;
            if !rotation_failed && should_rotate(self.size + chunk, len, self.max_bytes) {
                if let Err(e) = self.append(lines.span(from, i)) {
                    w.errors += 1;
                    w.failure = Some(e);
                    return w;
                }
                w.lines = i;
                w.bytes += chunk;
                from = i;
                chunk = 0;
                match self.rotate() {
                    Ok(()) => w.rotations += 1,
                    Err(e) if self.file.is_some() => {
                        // Keep appending to the current file: nothing is lost, it only grows.
                        tracing::error!(error = %e, "audit file rotation failed");
                        w.errors += 1;
                        rotation_failed = true;
                    }
                    Err(e) => {
                        w.errors += 1;
                        w.failure = Some(e);
                        return w;
                    }
                }
            }
            chunk += len;
        }
        match self.append(lines.span(from, lines.len())) {
            Ok(()) => {
                w.lines = lines.len();
                w.bytes += chunk;
            }
            Err(e) => {
                w.errors += 1;
                w.failure = Some(e);
            }
        }
        w
    }

    /// Appends `buf` whole, or not at all (a partial write is cut off again).
    pub(super) fn append(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("audit file not open"));
        };
        // The real length, not our count: logrotate's `copytruncate` may have emptied it.
        let start = file.metadata()?.len();
        let r = if self.torn {
            file.write_all(b"\n").and_then(|()| file.write_all(buf))
        } else {
            file.write_all(buf)
        };
        match r {
            Ok(()) => {
                self.size = start + buf.len() as u64 + u64::from(self.torn);
                self.unsynced += buf.len() as u64 + u64::from(self.torn);
                self.torn = false;
                Ok(())
            }
            Err(e) => {
                self.torn = file.set_len(start).is_err();
                self.size = start;
                Err(e)
            }
        }
    }

    /// `audit.jsonl.{N-1}` → `.N`, …, `audit.jsonl` → `.1`, then a new `audit.jsonl`.
    pub(super) fn rotate(&mut self) -> std::io::Result<()> {
        self.close();
        let mut first_err = None;
        for (from, to) in rotation_renames(&self.path, self.max_files) {
            match std::fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let reopened = self.reopen();
        match (first_err, reopened) {
            (None, r) => r,
            (Some(e), _) => Err(e),
        }
    }
}

/// Whether a line of `incoming` bytes must go to a new file: size rotation is on, the file is
/// not empty, and the line would take it past `max`.
#[must_use]
pub(super) fn should_rotate(size: u64, incoming: u64, max: u64) -> bool {
    max > 0 && size > 0 && size + incoming > max
}

/// The renames of one rotation keeping `max_files` rotated files, oldest first so none is
/// overwritten before it moved (the last, `.N`, is overwritten: it is the one dropped).
#[must_use]
pub(super) fn rotation_renames(path: &Path, max_files: u32) -> Vec<(PathBuf, PathBuf)> {
    let numbered = |i: u32| {
        let mut s = OsString::from(path.as_os_str());
        s.push(format!(".{i}"));
        PathBuf::from(s)
    };
    let mut v: Vec<_> = (1..max_files)
        .rev()
        .map(|i| (numbered(i), numbered(i + 1)))
        .collect();
    v.push((path.to_owned(), numbered(1)));
    v
}

/// Free bytes for unprivileged writers on the file system holding `path`.
pub(super) fn free_bytes(path: &Path) -> Option<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        let s = rustix::fs::statvfs(dir).ok()?;
        Some(s.f_bavail.saturating_mul(s.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

pub(super) fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    crate::private_file::owner_only(std::fs::OpenOptions::new().create(true).append(true))
        .open(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::time::Duration;

    use super::*;
    use crate::config::AuditSink;

    fn sink_at(path: &Path) -> FileSink {
        FileSink::open(&AuditConfig {
            sink: AuditSink::File,
            path: path.to_owned(),
            ..AuditConfig::default()
        })
        .unwrap()
    }

    fn lines(n: usize, len: usize) -> Batch {
        // `push` adds the newline: lines of `len` bytes in all.
        let mut b = Batch::default();
        let line = vec![b'x'; len - 1];
        for _ in 0..n {
            b.push(&line);
        }
        b
    }

    #[test]
    fn the_file_is_synced_after_a_few_mib_or_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut f = sink_at(&path);
        let t0 = f.synced_at;

        // A little: kept unsynced until a second has passed since the last sync.
        let w = f.write(&lines(10, 100), false);
        assert!(w.failure.is_none());
        assert_eq!(f.unsynced, 1000);
        f.settle(t0 + Duration::from_millis(500)).unwrap();
        assert_eq!(f.unsynced, 1000, "half a second and 1,000 bytes: not yet");
        f.settle(t0 + SYNC_EVERY).unwrap();
        assert_eq!(f.unsynced, 0, "a second old: synced");
        assert_eq!(f.synced_at, t0 + SYNC_EVERY);

        // Nothing new: nothing to sync, however long it waits.
        f.settle(t0 + SYNC_EVERY * 10).unwrap();
        assert_eq!(f.synced_at, t0 + SYNC_EVERY);

        // Enough bytes: synced at once.
        let n = usize::try_from(SYNC_BYTES).unwrap() / 1000 + 1;
        assert!(f.write(&lines(n, 1000), false).failure.is_none());
        f.settle(t0 + SYNC_EVERY + Duration::from_millis(1))
            .unwrap();
        assert_eq!(f.unsynced, 0, "{n} KB unsynced: synced at once");
        assert!(!f.unsyncable);

        // Every byte is in the file, in order (dropping the cached pages loses nothing).
        let text = std::fs::read(&path).unwrap();
        assert_eq!(text.len(), 1000 + n * 1000);
        assert!(
            text.split(|&b| b == b'\n')
                .all(|l| l.iter().all(|&b| b == b'x'))
        );
    }

    #[test]
    fn rotation_and_reopening_sync_the_file_they_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut f = sink_at(&path);
        assert!(f.write(&lines(3, 10), false).failure.is_none());
        assert_eq!(f.unsynced, 30);
        f.rotate().unwrap();
        assert_eq!(f.unsynced, 0);
        assert_eq!(
            std::fs::read(dir.path().join("audit.jsonl.1"))
                .unwrap()
                .len(),
            30
        );
        assert!(f.write(&lines(2, 10), true).failure.is_none());
        assert_eq!(f.unsynced, 20, "reopened: what was written since");
        f.reopen().unwrap();
        assert_eq!(f.unsynced, 0);
    }

    #[test]
    fn a_file_that_cannot_be_synced_is_written_all_the_same() {
        let mut f = sink_at(Path::new("/dev/null"));
        assert!(f.write(&lines(5, 100), false).failure.is_none());
        f.settle(f.synced_at + SYNC_EVERY).unwrap();
        assert!(f.unsyncable, "/dev/null cannot be synced: not tried again");
        assert!(f.write(&lines(5, 100), false).failure.is_none());
        f.settle(f.synced_at + SYNC_EVERY).unwrap();
        assert_eq!(f.unsynced, 0);
    }
}
