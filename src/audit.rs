//! CloudTrail-shaped audit events, one JSON line per request, allowed or denied.
//!
//! Secrets never enter an event: request parameters that carry secrets are replaced by
//! `"HIDDEN_DUE_TO_SECURITY_REASONS"` (CloudTrail's own wording) and response credentials keep
//! only the access key id and expiration. The writer runs in its own task; if it cannot write,
//! requests fail closed (`ServiceUnavailable`) rather than go unaudited.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

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
    tx: Option<mpsc::Sender<String>>,
}

/// The audit sink failed; the request must not proceed.
#[derive(Debug, thiserror::Error)]
#[error("audit sink unavailable")]
pub struct AuditUnavailable;

impl Auditor {
    /// Starts the writer for the configured sink.
    pub fn start(cfg: &AuditConfig) -> std::io::Result<Self> {
        let mut out: Box<dyn Write + Send> = match cfg.sink {
            AuditSink::None => return Ok(Self { tx: None }),
            AuditSink::Stdout => Box::new(std::io::stdout()),
            AuditSink::File => {
                if let Some(dir) = cfg.path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Box::new(open_append(&cfg.path)?)
            }
        };
        let (tx, mut rx) = mpsc::channel::<String>(8192);
        std::thread::Builder::new()
            .name("sekisho-audit".into())
            .spawn(move || {
                while let Some(line) = rx.blocking_recv() {
                    let mut ok = writeln!(out, "{line}").is_ok();
                    // Drain what is queued, then flush once.
                    while let Ok(line) = rx.try_recv() {
                        ok &= writeln!(out, "{line}").is_ok();
                    }
                    ok &= out.flush().is_ok();
                    if !ok {
                        tracing::error!("audit sink write failed; refusing further requests");
                        break;
                    }
                }
            })?;
        Ok(Self { tx: Some(tx) })
    }

    /// An auditor that discards events (unit tests).
    #[must_use]
    pub fn discard() -> Self {
        Self { tx: None }
    }

    /// Records an event.
    pub async fn record(&self, event: Value) -> Result<(), AuditUnavailable> {
        let Some(tx) = &self.tx else { return Ok(()) };
        tx.send(event.to_string())
            .await
            .map_err(|_| AuditUnavailable)
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
        "eventID": uuid::Uuid::new_v4().to_string(),
        "eventType": "AwsApiCall",
        "readOnly": read_only,
        "managementEvent": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
