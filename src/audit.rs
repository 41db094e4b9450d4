//! CloudTrail-shaped audit events, one JSON line per request, allowed or denied.
//!
//! Secrets never enter an event: request parameters that carry secrets are replaced by
//! `"HIDDEN_DUE_TO_SECURITY_REASONS"` (CloudTrail's own wording) and response credentials keep
//! only the access key id and expiration. The writer runs in its own task; if it cannot write,
//! requests fail closed (`ServiceUnavailable`) rather than go unaudited.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};

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
}

/// Events waiting for the writer, and whether the sink has failed.
#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Vec<String>>,
    failed: AtomicBool,
}

/// How often the writer drains the queue. Requests never wait for it, and it never wakes per
/// event (a wake-up per request cost a third of the throughput in the load test).
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Queue length beyond which requests wait for the writer (back-pressure, bounded memory).
const MAX_QUEUED: usize = 100_000;

/// The audit sink failed; the request must not proceed.
#[derive(Debug, thiserror::Error)]
#[error("audit sink unavailable")]
pub struct AuditUnavailable;

impl Auditor {
    /// Starts the writer for the configured sink.
    pub fn start(cfg: &AuditConfig) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = match cfg.sink {
            AuditSink::None => return Ok(Self { inner: None }),
            AuditSink::Stdout => Box::new(std::io::stdout()),
            AuditSink::File => {
                if let Some(dir) = cfg.path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Box::new(open_append(&cfg.path)?)
            }
        };
        let shared = Arc::new(Shared::default());
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("sekisho-audit".into())
            .spawn(move || {
                let mut out = std::io::BufWriter::with_capacity(256 * 1024, out);
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    let shared = &writer;
                    let batch = std::mem::take(
                        &mut *shared.queue.lock().unwrap_or_else(PoisonError::into_inner),
                    );
                    if batch.is_empty() {
                        continue;
                    }
                    let mut ok = true;
                    for line in &batch {
                        ok &=
                            out.write_all(line.as_bytes()).is_ok() && out.write_all(b"\n").is_ok();
                    }
                    ok &= out.flush().is_ok();
                    if !ok {
                        shared.failed.store(true, Ordering::SeqCst);
                        tracing::error!("audit sink write failed; refusing further requests");
                        break;
                    }
                }
            })?;
        Ok(Self {
            inner: Some(shared),
        })
    }

    /// An auditor that discards events (unit tests).
    #[must_use]
    pub fn discard() -> Self {
        Self { inner: None }
    }

    /// Records an event (written within [`FLUSH_EVERY`]); fails once the sink has failed.
    pub async fn record(&self, event: Value) -> Result<(), AuditUnavailable> {
        let Some(shared) = &self.inner else {
            return Ok(());
        };
        let line = event.to_string();
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

/// Builds the event skeleton; the HTTP layer fills it.
#[must_use]
#[allow(clippy::too_many_arguments, reason = "one flat CloudTrail record")]
pub fn event(
    time: chrono::DateTime<chrono::Utc>,
    service: &str,
    action: &str,
    region: &str,
    source_ip: &str,
    user_agent: &str,
    request_id: &str,
    read_only: bool,
) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventTime": crate::wire::xml::iso8601(time),
        "eventSource": format!("{service}.amazonaws.com"),
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestID": request_id,
        "eventID": crate::ids::new_request_id(),
        "eventType": "AwsApiCall",
        "readOnly": read_only,
        "managementEvent": true,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[tokio::test]
    async fn events_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = AuditConfig {
            sink: AuditSink::File,
            path: dir.path().join("a/audit.jsonl"),
        };
        let a = Auditor::start(&cfg).unwrap();
        for i in 0..3 {
            assert!(a.record(json!({ "n": i })).await.is_ok());
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
        };
        let a = Auditor::start(&cfg).unwrap();
        assert!(a.record(json!({ "n": 1 })).await.is_ok(), "queued");
        tokio::time::sleep(FLUSH_EVERY * 5).await;
        assert!(
            a.record(json!({ "n": 2 })).await.is_err(),
            "refused after the write failed"
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
        let v = request_parameters(p.iter().copied()).to_string();
        assert!(!v.contains("PHNhbWw"));
        assert!(!v.contains("123456"));
        assert!(v.contains("\"roleArn\":\"arn:aws:iam::1:role/r\""));
        assert!(v.contains(HIDDEN));
    }
}
