//! CloudTrail-shaped audit events, one JSON line per request, allowed or denied.
//!
//! Secrets never enter an event: request parameters that carry secrets are replaced by
//! `"HIDDEN_DUE_TO_SECURITY_REASONS"` (CloudTrail's own wording) and response credentials keep
//! only the access key id and expiration. The writer runs in its own task; if it cannot write,
//! requests fail closed (`ServiceUnavailable`) rather than go unaudited.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{AuditConfig, AuditSink};

/// Parameter names whose values are never recorded.
const SECRET_PARAMS: &[&str] = &[
    "SAMLAssertion",
    "SAMLResponse",
    "WebIdentityToken",
    "TokenCode",
    "AuthenticationCode1",
    "AuthenticationCode2",
    "Password",
    "OldPassword",
    "NewPassword",
    "SecretAccessKey",
    "SessionToken",
    "Base32StringSeed",
];

/// The redaction marker.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Where events go.
#[derive(Debug, Clone)]
pub struct Auditor {
    inner: Option<Arc<Shared>>,
    min_free_bytes: u64,
}

/// Events waiting for the writer, whether the sink is failing, and the writer's counters.
#[derive(Debug)]
struct Shared {
    queue: Mutex<Vec<Vec<u8>>>,
    failed: AtomicBool,
    reopen: AtomicBool,
    write_errors: AtomicU64,
    bytes_written: AtomicU64,
    events_written: AtomicU64,
    rotations: AtomicU64,
    /// Free bytes where the file lives; [`UNKNOWN`] when not measured (stdout, or no statvfs).
    free_bytes: AtomicU64,
}

/// `free_bytes` when it is not known.
const UNKNOWN: u64 = u64::MAX;

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
/// How often the free space of the audit file system is measured.
const SPACE_EVERY: Duration = Duration::from_secs(1);
/// Initial capacity of a serialized record (most are 500–1,000 bytes).
const LINE_CAPACITY: usize = 1024;
/// Queue length beyond which requests wait for the writer (back-pressure, bounded memory).
const MAX_QUEUED: usize = 100_000;

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
        let Some(shared) = &self.inner else {
            return Ok(());
        };
        // Serializing plain data cannot fail; if it ever did, fail closed. Sized for a typical
        // record, so the line is written without regrowing.
        let mut line = Vec::with_capacity(LINE_CAPACITY);
        serde_json::to_writer(&mut line, event).map_err(|_| AuditUnavailable)?;
        loop {
            if shared.failed.load(Ordering::SeqCst) {
                return Err(AuditUnavailable);
            }
            {
                let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if q.len() < MAX_QUEUED {
                    q.push(line);
                    return Ok(());
                }
            }
            tokio::time::sleep(FLUSH_EVERY).await;
        }
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
        AuditStats {
            failing: s.failed.load(Ordering::SeqCst),
            write_errors: s.write_errors.load(Ordering::Relaxed),
            bytes_written: s.bytes_written.load(Ordering::Relaxed),
            events_written: s.events_written.load(Ordering::Relaxed),
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

/// The writer thread: every [`FLUSH_EVERY`], takes the queue and writes it; keeps what it could
/// not write (and refuses new events) until the sink works again.
fn write_loop(shared: &Shared, mut sink: Sink) {
    let mut pending: Vec<Vec<u8>> = Vec::new();
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
        pending.append(&mut shared.queue.lock().unwrap_or_else(PoisonError::into_inner));
        if pending.is_empty() && !reopen && !failing {
            continue;
        }
        let w = sink.write(&pending, reopen);
        pending.drain(..w.lines);
        shared.bytes_written.fetch_add(w.bytes, Ordering::Relaxed);
        shared
            .events_written
            .fetch_add(w.lines as u64, Ordering::Relaxed);
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

/// What one [`Sink::write`] did.
#[derive(Debug, Default)]
struct Written {
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
enum Sink {
    Stdout,
    File(FileSink),
}

impl Sink {
    fn write(&mut self, lines: &[Vec<u8>], reopen: bool) -> Written {
        match self {
            Self::Stdout => {
                let buf = join_lines(lines);
                let mut out = std::io::stdout().lock();
                match out.write_all(&buf).and_then(|()| out.flush()) {
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

    fn free_bytes(&self) -> u64 {
        match self {
            Self::Stdout => UNKNOWN,
            Self::File(f) => free_bytes(&f.path).unwrap_or(UNKNOWN),
        }
    }
}

fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        buf.extend_from_slice(l);
        buf.push(b'\n');
    }
    buf
}

/// The audit file, its size, and when it rotates.
struct FileSink {
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
}

impl FileSink {
    fn open(cfg: &AuditConfig) -> std::io::Result<Self> {
        let file = open_append(&cfg.path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: cfg.path.clone(),
            file: Some(file),
            size,
            max_bytes: cfg.max_file_bytes,
            max_files: cfg.max_files,
            torn: false,
        })
    }

    /// (Re)opens the file at `path`.
    fn reopen(&mut self) -> std::io::Result<()> {
        self.file = None;
        let file = open_append(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// Writes `lines` in order, rotating by size between lines; stops at the first failure.
    fn write(&mut self, lines: &[Vec<u8>], reopen: bool) -> Written {
        let mut w = Written::default();
        if (reopen || self.file.is_none())
            && let Err(e) = self.reopen()
        {
            w.errors += 1;
            w.failure = Some(e);
            return w;
        }
        let mut buf = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        let mut in_buf = 0;
        let mut rotation_failed = false;
        for line in lines {
            let len = line.len() as u64 + 1;
            let filled = self.size + buf.len() as u64;
            if !rotation_failed && should_rotate(filled, len, self.max_bytes) {
                if let Err(e) = self.append(&buf) {
                    w.errors += 1;
                    w.failure = Some(e);
                    return w;
                }
                w.lines += in_buf;
                w.bytes += buf.len() as u64;
                buf.clear();
                in_buf = 0;
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
            buf.extend_from_slice(line);
            buf.push(b'\n');
            in_buf += 1;
        }
        match self.append(&buf) {
            Ok(()) => {
                w.lines += in_buf;
                w.bytes += buf.len() as u64;
            }
            Err(e) => {
                w.errors += 1;
                w.failure = Some(e);
            }
        }
        w
    }

    /// Appends `buf` whole, or not at all (a partial write is cut off again).
    fn append(&mut self, buf: &[u8]) -> std::io::Result<()> {
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
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
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
fn should_rotate(size: u64, incoming: u64, max: u64) -> bool {
    max > 0 && size > 0 && size + incoming > max
}

/// The renames of one rotation keeping `max_files` rotated files, oldest first so none is
/// overwritten before it moved (the last, `.N`, is overwritten: it is the one dropped).
#[must_use]
fn rotation_renames(path: &Path, max_files: u32) -> Vec<(PathBuf, PathBuf)> {
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
fn free_bytes(path: &Path) -> Option<u64> {
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

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// `requestParameters` from the decoded Query parameters, secrets hidden, names lower-camel.
#[must_use]
pub fn request_parameters<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut m = Map::new();
    for (k, v) in params {
        if k == "Action" || k == "Version" {
            continue;
        }
        let base = k.split('.').next().unwrap_or(k);
        let value = if SECRET_PARAMS.contains(&base) {
            HIDDEN
        } else {
            v
        };
        m.insert(
            crate::wire::params::lower_camel(k),
            Value::String(value.to_owned()),
        );
    }
    Value::Object(m)
}

/// One CloudTrail-shaped record. The HTTP layer creates it with [`Event::new`] and fills the
/// rest as the request proceeds; it is serialized once, straight into the audit line.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    event_version: &'static str,
    event_time: String,
    event_source: &'static str,
    event_name: String,
    /// SigV4 region of the caller.
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: String,
    user_agent: String,
    /// CloudTrail `userIdentity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<UserIdentity>,
    /// Request parameters (secrets hidden).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<Elements>,
    /// Response elements (secrets removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_elements: Option<Elements>,
    /// AWS error code of a failed request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    /// Its message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Operator detail (why a request was refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Value>,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(rename = "eventID")]
    event_id: String,
    event_type: &'static str,
    /// Whether the call only reads (`Get*`, `List*`).
    pub read_only: bool,
    management_event: bool,
    /// The caller's account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<String>,
}

/// `requestParameters` or `responseElements`: a JSON object built from the request (Query
/// actions), or the fixed shape of a verification, typed so it is written without building a
/// JSON tree first.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Elements {
    /// Any JSON object.
    Json(Value),
    /// `VerifyRequest`'s parameters.
    #[serde(rename_all = "camelCase")]
    VerifyQuestion {
        /// The service the verified request was signed for.
        service: String,
        /// The action asked about.
        action: Option<String>,
        /// The resource asked about.
        resource: Option<String>,
    },
    /// `VerifyRequest`'s answer, in short.
    #[serde(rename_all = "camelCase")]
    VerifyAnswer {
        /// Whether the verified request's signer was authenticated.
        authenticated: bool,
        /// Who signed it.
        principal: Option<String>,
        /// The decision, when an action was asked about.
        decision: Option<std::borrow::Cow<'static, str>>,
    },
}

impl From<Value> for Elements {
    fn from(v: Value) -> Self {
        Self::Json(v)
    }
}

/// CloudTrail's `userIdentity`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `Root`, `IAMUser`, `AssumedRole` or `FederatedUser`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `aws:userid`.
    pub principal_id: String,
    /// Caller ARN.
    pub arn: String,
    /// Account id.
    pub account_id: String,
    /// The access key id that signed.
    pub access_key_id: String,
    /// IAM user name (long-term user keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Session facts (temporary credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_context: Option<SessionContext>,
    /// The identity provider of an unsigned federation call (`WebIdentityUser`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
}

impl UserIdentity {
    /// CloudTrail's `WebIdentityUser`: the unsigned caller of `AssumeRoleWithWebIdentity`,
    /// known by its token's provider, audience and subject. Read from the action's
    /// `userIdentity` audit element (`provider`, `audience`, `subject`, `account`).
    #[must_use]
    pub fn web_identity(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let (provider, audience, subject) = (s("provider")?, s("audience")?, s("subject")?);
        Some(Self {
            kind: "WebIdentityUser",
            principal_id: format!("{provider}:{audience}:{subject}"),
            arn: String::new(),
            account_id: s("account").unwrap_or_default(),
            access_key_id: String::new(),
            user_name: Some(subject),
            session_context: None,
            identity_provider: Some(provider),
        })
    }
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    /// Attributes.
    pub attributes: SessionAttributes,
    /// Source identity, if set (`null` otherwise, as CloudTrail writes it).
    pub source_identity: Option<String>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    /// When the session was issued.
    pub creation_date: String,
    /// `"true"` or `"false"`, a string as in CloudTrail.
    pub mfa_authenticated: &'static str,
}

impl Event {
    /// The skeleton of a request's record.
    #[must_use]
    pub fn new(
        time: chrono::DateTime<chrono::Utc>,
        service: &str,
        action: &str,
        source_ip: &str,
        user_agent: &str,
        request_id: &str,
        read_only: bool,
    ) -> Self {
        Self {
            event_version: "1.08",
            event_time: crate::wire::time::iso8601(&time),
            event_source: match service {
                "iam" => "iam.amazonaws.com",
                _ => "sts.amazonaws.com",
            },
            event_name: action.to_owned(),
            aws_region: String::new(),
            source_ip_address: source_ip.to_owned(),
            user_agent: user_agent.to_owned(),
            user_identity: None,
            request_parameters: None,
            response_elements: None,
            error_code: None,
            error_message: None,
            additional_event_data: None,
            request_id: request_id.to_owned(),
            event_id: crate::ids::new_request_id(),
            event_type: "AwsApiCall",
            read_only,
            management_event: true,
            recipient_account_id: None,
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
        tokio::time::sleep(FLUSH_EVERY * 5).await;
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
        assert_ne!(
            v["eventID"],
            Event::new(t, "sts", "X", "", "", "", false)
                .event_id
                .as_str()
        );
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
    fn secrets_are_hidden() {
        let p = [
            ("Action", "AssumeRoleWithSAML"),
            ("SAMLAssertion", "PHNhbWw+c2VjcmV0"),
            ("TokenCode", "123456"),
            ("RoleArn", "arn:aws:iam::1:role/r"),
        ];
        let v = request_parameters(p.iter().copied()).to_string();
        assert!(!v.contains("PHNhbWw"));
        assert!(!v.contains("123456"));
        assert!(v.contains("\"roleArn\":\"arn:aws:iam::1:role/r\""));
        assert!(v.contains(HIDDEN));
    }
}
