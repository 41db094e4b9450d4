//! CloudTrail-shaped audit events, one JSON line per request, allowed or denied.
//!
//! Secrets never enter an event: request parameters that carry secrets are replaced by
//! `"HIDDEN_DUE_TO_SECURITY_REASONS"` (CloudTrail's own wording) and response credentials keep
//! only the access key id and expiration. The writer runs in its own task; if it cannot write,
//! requests fail closed (`ServiceUnavailable`) rather than go unaudited.
//!
//! `event.rs`: the event and the redaction; `batch.rs`: the queued lines, in one buffer;
//! `sink.rs`: the writer thread, the file's rotation, reopening and free-space probe; here: the
//! queue the requests feed ([`Auditor`]).

mod batch;
mod event;
mod json;
mod sink;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::config::{AuditConfig, AuditSink};

use batch::Batch;
pub use event::{
    Elements, Event, HIDDEN, JsonText, ParamList, SessionAttributes, SessionContext, UserIdentity,
    request_parameters,
};
use sink::{FileSink, Sink, write_loop};

/// Where events go.
#[derive(Debug, Clone)]
pub struct Auditor {
    inner: Option<Arc<Shared>>,
    min_free_bytes: u64,
}

/// Events waiting for the writer, whether the sink is failing, and the writer's counters.
#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    failed: AtomicBool,
    reopen: AtomicBool,
    write_errors: AtomicU64,
    bytes_written: AtomicU64,
    events_written: AtomicU64,
    rotations: AtomicU64,
    /// Free bytes where the file lives; [`UNKNOWN`] when not measured (stdout, or no statvfs).
    free_bytes: AtomicU64,
}

/// The lines waiting for the writer, and how many lines were ever accepted (counted under the
/// queue's lock the request holds anyway, so counting costs no shared write of its own).
#[derive(Debug, Default)]
struct Queue {
    lines: Batch,
    accepted: u64,
}

/// `free_bytes` when it is not known.
const UNKNOWN: u64 = u64::MAX;

/// What [`Shared::try_push`] did with a line.
enum Pushed {
    Queued,
    /// The queue holds [`MAX_QUEUED`] lines: try again after the writer drained it.
    Full,
}

impl Shared {
    /// Queues `line` unless the sink is failing or the queue is full.
    fn try_push(&self, line: &[u8]) -> Result<Pushed, AuditUnavailable> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(AuditUnavailable);
        }
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.lines.len() >= MAX_QUEUED {
            return Ok(Pushed::Full);
        }
        q.lines.push(line);
        q.accepted += 1;
        Ok(Pushed::Queued)
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            queue: Mutex::default(),
            failed: AtomicBool::new(false),
            reopen: AtomicBool::new(false),
            write_errors: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            events_written: AtomicU64::new(0),
            rotations: AtomicU64::new(0),
            free_bytes: AtomicU64::new(UNKNOWN),
        }
    }
}

/// How often the writer drains the queue. Requests never wait for it, and it never wakes per
/// event (a wake-up per request cost a third of the throughput in the load test).
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// How often a failing sink is tried again (the events it holds are kept until written).
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// Unsynced audit bytes that make the writer sync the file (and drop its pages from the cache).
const SYNC_BYTES: u64 = 4 << 20;
/// The longest an audit line stays unsynced when fewer than [`SYNC_BYTES`] follow it.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// How often the free space of the audit file system is measured.
const SPACE_EVERY: Duration = Duration::from_secs(1);
/// Initial capacity of a serialized record (most are 500–1,000 bytes).
const LINE_CAPACITY: usize = 1024;
/// Capacity the per-thread line buffer keeps after an unusually large record.
const LINE_RETAIN: usize = 64 << 10;
/// Queue length beyond which requests wait for the writer (back-pressure, bounded memory).
const MAX_QUEUED: usize = 100_000;

thread_local! {
    /// The line a request's event is written into before it is copied into the queue.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(LINE_CAPACITY));
}

/// The audit sink failed; the request must not proceed.
#[derive(Debug, thiserror::Error)]
#[error("audit sink unavailable")]
pub struct AuditUnavailable;

/// The writer's counters, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStats {
    /// Whether the sink is failing now (requests are refused until it recovers).
    pub failing: bool,
    /// Failed writes, reopenings and rotations.
    pub write_errors: u64,
    /// Bytes written (newlines included).
    pub bytes_written: u64,
    /// Events written.
    pub events_written: u64,
    /// Events accepted and not yet written (or held by a failing sink).
    pub events_waiting: u64,
    /// Size rotations done.
    pub rotations: u64,
    /// Free bytes on the audit file's file system, when measured.
    pub free_bytes: Option<u64>,
}

impl Auditor {
    /// Starts the writer for the configured sink.
    pub fn start(cfg: &AuditConfig) -> std::io::Result<Self> {
        let sink = match cfg.sink {
            AuditSink::None => return Ok(Self::discard()),
            AuditSink::Stdout => Sink::Stdout,
            AuditSink::File => {
                if let Some(dir) = cfg.path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Sink::File(FileSink::open(cfg)?)
            }
        };
        let shared = Arc::new(Shared::default());
        shared
            .free_bytes
            .store(sink.free_bytes(), Ordering::Relaxed);
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("sekisho-audit".into())
            .spawn(move || write_loop(&writer, sink))?;
        Ok(Self {
            inner: Some(shared),
            min_free_bytes: cfg.min_free_bytes,
        })
    }

    /// An auditor that discards events (unit tests).
    #[must_use]
    pub fn discard() -> Self {
        Self {
            inner: None,
            min_free_bytes: 0,
        }
    }

    /// Whether the sink is still writing (a discarding auditor always is).
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|s| !s.failed.load(Ordering::SeqCst))
    }

    /// Records an event (written within [`FLUSH_EVERY`]); fails while the sink is failing.
    pub async fn record(&self, event: &impl Serialize) -> Result<(), AuditUnavailable> {
        // Serializing plain data cannot fail; if it ever did, fail closed.
        self.record_with(|line| serde_json::to_writer(line, event).map_err(|_| AuditUnavailable))
            .await
    }

    /// Records a request's event, as [`Self::record`] does, written straight into its line
    /// (the same bytes serde_json would give, without its per-byte escaping loop).
    pub async fn record_event(&self, event: &Event) -> Result<(), AuditUnavailable> {
        self.record_with(|line| {
            event.write_json(line);
            Ok(())
        })
        .await
    }

    /// Writes a line with `write` into this thread's line buffer and queues it for the writer.
    async fn record_with(
        &self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), AuditUnavailable>,
    ) -> Result<(), AuditUnavailable> {
        let Some(shared) = &self.inner else {
            return Ok(());
        };
        let full = LINE.with_borrow_mut(|line| {
            line.clear();
            let r = write(line).and_then(|()| match shared.try_push(line)? {
                Pushed::Queued => Ok(None),
                Pushed::Full => Ok(Some(line.clone())),
            });
            if line.capacity() > LINE_RETAIN {
                *line = Vec::with_capacity(LINE_CAPACITY);
            }
            r
        })?;
        // The queue is full (the sink is slow): wait for the writer, holding the line.
        if let Some(line) = full {
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                if let Pushed::Queued = shared.try_push(&line)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Asks the writer to close and reopen the file (after logrotate moved it; `SIGHUP`).
    /// Done within [`FLUSH_EVERY`]; events not yet written by then go to the new file (with
    /// logrotate, use `delaycompress`: the moved file may still take a last batch).
    pub fn reopen(&self) {
        if let Some(shared) = &self.inner {
            shared.reopen.store(true, Ordering::SeqCst);
        }
    }

    /// The writer's counters.
    #[must_use]
    pub fn stats(&self) -> AuditStats {
        let Some(s) = &self.inner else {
            return AuditStats::default();
        };
        let free = s.free_bytes.load(Ordering::Relaxed);
        // Accepted is read before written: a zero backlog means every event accepted before
        // this call is in the sink.
        let accepted = s
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .accepted;
        let events_written = s.events_written.load(Ordering::SeqCst);
        AuditStats {
            failing: s.failed.load(Ordering::SeqCst),
            write_errors: s.write_errors.load(Ordering::Relaxed),
            bytes_written: s.bytes_written.load(Ordering::Relaxed),
            events_written,
            events_waiting: accepted.saturating_sub(events_written),
            rotations: s.rotations.load(Ordering::Relaxed),
            free_bytes: (free != UNKNOWN).then_some(free),
        }
    }

    /// Whether the sink can take the node's traffic: not failing, and more free space than
    /// `audit.min_free_bytes` (so a load balancer drains the node before its disk is full).
    pub fn readiness(&self) -> Result<(), String> {
        let s = self.stats();
        if s.failing {
            return Err("audit sink failing; requests are refused".into());
        }
        match s.free_bytes {
            Some(free) if free < self.min_free_bytes => Err(format!(
                "audit file system has {free} bytes free, below audit.min_free_bytes ({})",
                self.min_free_bytes
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::panic,
        reason = "tests"
    )]
    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use super::sink::*;
    use super::*;

    #[tokio::test]
    async fn events_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = AuditConfig {
            sink: AuditSink::File,
            path: dir.path().join("a/audit.jsonl"),
            ..AuditConfig::default()
        };
        let a = Auditor::start(&cfg).unwrap();
        for i in 0..3 {
            assert!(a.record(&serde_json::json!({ "n": i })).await.is_ok());
        }
        let s = a.stats();
        assert_eq!(s.events_waiting + s.events_written, 3, "{s:?}");
        for _ in 0..250 {
            if a.stats().events_waiting == 0 {
                break;
            }
            tokio::time::sleep(FLUSH_EVERY).await;
        }
        assert_eq!(a.stats().events_written, 3);
        let text = std::fs::read_to_string(&cfg.path).unwrap_or_default();
        assert_eq!(text, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_failing_sink_fails_closed() {
        let cfg = AuditConfig {
            sink: AuditSink::File,
            path: "/dev/full".into(),
            ..AuditConfig::default()
        };
        let a = Auditor::start(&cfg).unwrap();
        assert!(
            a.record(&serde_json::json!({ "n": 1 })).await.is_ok(),
            "queued"
        );
        tokio::time::sleep(FLUSH_EVERY * 5).await;
        assert!(
            a.record(&serde_json::json!({ "n": 2 })).await.is_err(),
            "refused after the write failed"
        );
        let s = a.stats();
        assert!(s.failing && s.write_errors >= 1, "{s:?}");
        assert_eq!(s.events_written, 0);
        assert_eq!(s.events_waiting, 1, "the held event is still waiting");
        assert!(a.readiness().unwrap_err().contains("failing"));
    }

    /// Records `n` numbered events and waits (bounded) until the writer has written them.
    async fn record_n(a: &Auditor, from: usize, n: usize) {
        let target = a.stats().events_written + n as u64;
        for i in from..from + n {
            a.record(&serde_json::json!({ "n": i })).await.unwrap();
        }
        for _ in 0..200 {
            if a.stats().events_written >= target {
                return;
            }
            tokio::time::sleep(FLUSH_EVERY).await;
        }
        panic!("events not written: {:?}", a.stats());
    }

    /// The `n` of every line of `path`, in order.
    fn numbers(path: &Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn rotates_by_size_keeping_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let cfg = AuditConfig {
            sink: AuditSink::File,
            path: path.clone(),
            // `{"n":NN}\n` is 9 bytes: 11 lines a file.
            max_file_bytes: 100,
            max_files: 3,
            ..AuditConfig::default()
        };
        let a = Auditor::start(&cfg).unwrap();
        record_n(&a, 10, 30).await;
        record_n(&a, 40, 30).await;
        let files: Vec<_> = ["", ".1", ".2", ".3"]
            .iter()
            .map(|s| PathBuf::from(format!("{}{s}", path.display())))
            .collect();
        assert!(!PathBuf::from(format!("{}.4", path.display())).exists());
        let mut all = Vec::new();
        for f in files.iter().rev() {
            let size = std::fs::metadata(f).unwrap().len();
            assert!(size <= 100, "{} has {size} bytes", f.display());
            all.extend(numbers(f));
        }
        // The newest events, in order, with none missing; the oldest were dropped whole.
        let first = *all.first().unwrap();
        assert_eq!(all, (first..70).collect::<Vec<_>>());
        assert_eq!(
            all.len(),
            5 + 3 * 11,
            "the current file and three full rotated ones"
        );
        let s = a.stats();
        assert_eq!(s.events_written, 60);
        assert_eq!(s.bytes_written, 60 * 9);
        assert_eq!(s.rotations, 5, "60 lines of 9 bytes, 11 a file: 6 files");
    }

    #[tokio::test]
    async fn reopens_after_the_file_was_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let moved = dir.path().join("audit.jsonl-20261206");
        let cfg = AuditConfig {
            sink: AuditSink::File,
            path: path.clone(),
            ..AuditConfig::default()
        };
        let a = Auditor::start(&cfg).unwrap();
        record_n(&a, 0, 5).await;
        std::fs::rename(&path, &moved).unwrap();
        record_n(&a, 5, 5).await;
        a.reopen();
        record_n(&a, 10, 5).await;
        assert_eq!(
            numbers(&moved),
            (0..10).collect::<Vec<_>>(),
            "the old file until reopened"
        );
        assert_eq!(numbers(&path), (10..15).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn refuses_while_the_file_cannot_be_opened_then_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("logs");
        let path = sub.join("audit.jsonl");
        let cfg = AuditConfig {
            sink: AuditSink::File,
            path: path.clone(),
            ..AuditConfig::default()
        };
        let a = Auditor::start(&cfg).unwrap();
        record_n(&a, 0, 3).await;
        std::fs::remove_dir_all(&sub).unwrap();
        a.reopen();
        let mut refused = false;
        for _ in 0..100 {
            if a.record(&serde_json::json!({ "n": 99 })).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(FLUSH_EVERY).await;
        }
        assert!(refused, "fails closed while the file cannot be opened");
        assert!(a.readiness().is_err());
        let queued_before = a.stats().events_written;
        std::fs::create_dir_all(&sub).unwrap();
        let mut recovered = false;
        for _ in 0..100 {
            tokio::time::sleep(RETRY_EVERY / 2).await;
            if a.readiness().is_ok() {
                recovered = true;
                break;
            }
        }
        assert!(recovered, "{:?}", a.stats());
        record_n(&a, 100, 2).await;
        let got = numbers(&path);
        assert_eq!(got.last(), Some(&101), "{got:?}");
        assert!(a.stats().events_written >= queued_before + 2);
    }

    #[tokio::test]
    async fn readiness_wants_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = AuditConfig {
            sink: AuditSink::File,
            path: dir.path().join("audit.jsonl"),
            min_free_bytes: 0,
            ..AuditConfig::default()
        };
        let a = Auditor::start(&cfg).unwrap();
        assert!(a.readiness().is_ok());
        if cfg!(unix) {
            assert!(a.stats().free_bytes.unwrap() > 0);
            cfg.min_free_bytes = u64::MAX - 1;
            let a = Auditor::start(&cfg).unwrap();
            let why = a.readiness().unwrap_err();
            assert!(why.contains("audit.min_free_bytes"), "{why}");
        }
    }

    #[tokio::test]
    async fn large_and_small_events_keep_their_order_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = AuditConfig {
            sink: AuditSink::File,
            path: dir.path().join("audit.jsonl"),
            ..AuditConfig::default()
        };
        let a = Auditor::start(&cfg).unwrap();
        let big = "y".repeat(LINE_RETAIN * 2);
        a.record(&serde_json::json!({ "n": 0, "big": big }))
            .await
            .unwrap();
        record_n(&a, 1, 3).await;
        let text = std::fs::read_to_string(&cfg.path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].len(), big.len() + r#"{"n":0,"big":""}"#.len());
        assert_eq!(lines[1..], [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
        assert!(LINE.with_borrow(|l| l.capacity()) <= LINE_RETAIN);
    }

    #[test]
    fn rotation_plan() {
        assert!(!should_rotate(0, 500, 100), "an empty file takes any line");
        assert!(!should_rotate(50, 50, 100));
        assert!(should_rotate(51, 50, 100));
        assert!(!should_rotate(1 << 40, 50, 0), "0 turns size rotation off");
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            rotation_renames(Path::new("/v/a.jsonl"), 3),
            vec![
                (p("/v/a.jsonl.2"), p("/v/a.jsonl.3")),
                (p("/v/a.jsonl.1"), p("/v/a.jsonl.2")),
                (p("/v/a.jsonl"), p("/v/a.jsonl.1")),
            ]
        );
        assert_eq!(
            rotation_renames(Path::new("a"), 1),
            vec![(p("a"), p("a.1"))]
        );
    }

    #[test]
    fn event_shape() {
        let t = chrono::DateTime::from_timestamp(1_795_434_902, 0).unwrap();
        let mut e = Event::new(t, "iam", "GetUser", "10.0.0.1", "aws-cli/2", "req-1", true);
        e.error_code = Some("NoSuchEntity");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["eventTime"], "2026-11-23T11:55:02Z");
        assert_eq!(v["eventSource"], "iam.amazonaws.com");
        assert_eq!(v["eventName"], "GetUser");
        assert_eq!(v["sourceIPAddress"], "10.0.0.1");
        assert_eq!(v["requestID"], "req-1");
        assert_eq!(v["readOnly"], true);
        assert_eq!(v["errorCode"], "NoSuchEntity");
        assert!(v.get("userIdentity").is_none(), "absent, not null");
        let other = serde_json::to_value(Event::new(t, "sts", "X", "", "", "", false)).unwrap();
        assert_ne!(v["eventID"], other["eventID"]);
    }

    #[test]
    fn verification_elements_shape() {
        let t = chrono::DateTime::from_timestamp(1_795_434_902, 0).unwrap();
        let mut e = Event::new(t, "sts", "VerifyRequest", "", "", "req-2", true);
        e.request_parameters = Some(Elements::VerifyQuestion {
            service: "s3".into(),
            action: Some("s3:GetObject".into()),
            resource: None,
        });
        e.response_elements = Some(Elements::VerifyAnswer {
            authenticated: true,
            principal: Some("arn:aws:sts::1:assumed-role/r/s".into()),
            decision: Some("Allow".into()),
        });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v["requestParameters"],
            serde_json::json!({"service": "s3", "action": "s3:GetObject", "resource": null})
        );
        assert_eq!(
            v["responseElements"],
            serde_json::json!({"authenticated": true,
                "principal": "arn:aws:sts::1:assumed-role/r/s", "decision": "Allow"})
        );
        e.request_parameters = Some(serde_json::json!({"roleArn": "x"}).into());
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["requestParameters"], serde_json::json!({"roleArn": "x"}));
    }

    #[test]
    fn parameters_are_sorted_lower_camel_and_the_last_of_a_name_wins() {
        let p = [
            ("Version", "2011-06-15"),
            ("RoleArn", "first"),
            ("DurationSeconds", "900"),
            ("RoleArn", "second"),
            ("Action", "AssumeRole"),
            ("Tags.member.1.Key", "k"),
            ("RoleArn", "third"),
            ("ÉtéName", "x"),
            ("DurationSeconds", "3600"),
        ];
        let Elements::Params(list) = request_parameters(p.iter().copied()) else {
            panic!("a parameter list");
        };
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            [
                ("durationSeconds", "3600"),
                ("roleArn", "third"),
                ("tags.member.1.Key", "k"),
                ("étéName", "x"),
            ]
        );
    }

    #[test]
    fn secrets_are_hidden() {
        let p = [
            ("Action", "AssumeRoleWithSAML"),
            ("SAMLAssertion", "PHNhbWw+c2VjcmV0"),
            ("TokenCode", "123456"),
            ("RoleArn", "arn:aws:iam::1:role/r"),
        ];
        let v = serde_json::to_string(&request_parameters(p.iter().copied())).unwrap();
        assert!(!v.contains("PHNhbWw"));
        assert!(!v.contains("123456"));
        assert!(v.contains("\"roleArn\":\"arn:aws:iam::1:role/r\""));
        assert!(v.contains(HIDDEN));
    }
}
