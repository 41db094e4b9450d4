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
}

/// Events waiting for the writer, and whether the sink has failed.
#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Vec<Vec<u8>>>,
    failed: AtomicBool,
}

/// How often the writer drains the queue. Requests never wait for it, and it never wakes per
/// event (a wake-up per request cost a third of the throughput in the load test).
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Initial capacity of a serialized record (most are 500–1,000 bytes).
const LINE_CAPACITY: usize = 1024;
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
                        ok &= out.write_all(line).is_ok() && out.write_all(b"\n").is_ok();
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

    /// Whether the sink is still writing (a discarding auditor always is).
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|s| !s.failed.load(Ordering::SeqCst))
    }

    /// Records an event (written within [`FLUSH_EVERY`]); fails once the sink has failed.
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
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
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
