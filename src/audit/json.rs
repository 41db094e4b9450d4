//! The audit line written directly into its buffer: the same bytes `serde_json::to_writer`
//! gives for an [`Event`] (a test holds the two equal), without serde's per-byte escaping
//! loop or a JSON tree for the request parameters.

use serde_json::Value;

use super::event::{Elements, Event, ParamList, SessionContext, UserIdentity};

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes it: `"`, `\` and the
/// control characters below U+0020 (as `\b \t \n \f \r` or `\u00XX`); everything else as is.
pub fn str_into(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    // Eight bytes at a time (the last word padded with spaces): a word with no byte below
    // 0x20, no `"` and no `\` is passed over whole; the zero-byte tests can report a byte
    // that needs no escape (after one that does), never miss one.
    while i < b.len() {
        let end = (i + 8).min(b.len());
        let mut w = [b' '; 8];
        if let (Some(dst), Some(src)) = (w.get_mut(..end - i), b.get(i..end)) {
            dst.copy_from_slice(src);
        }
        if needs_escape(u64::from_le_bytes(w)) {
            for j in i..end {
                escape_byte(out, b, &mut start, j);
            }
        }
        i = end;
    }
    out.extend_from_slice(b.get(start..).unwrap_or_default());
    out.push(b'"');
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether some byte of `v` is below 0x20, `"` or `\` (possibly a false positive).
#[inline]
fn needs_escape(v: u64) -> bool {
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let below_space = v.wrapping_sub(LO * 0x20) & !v & HI;
    (below_space | zero(v ^ (LO * u64::from(b'"'))) | zero(v ^ (LO * u64::from(b'\\')))) != 0
}

/// Escapes `b[i]` if it must be, flushing the plain run `b[start..i]` before it.
#[inline]
fn escape_byte(out: &mut Vec<u8>, b: &[u8], start: &mut usize, i: usize) {
    let Some(&c) = b.get(i) else { return };
    let short = match c {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        0x00..=0x1f => 0,
        _ => return,
    };
    out.extend_from_slice(b.get(*start..i).unwrap_or_default());
    *start = i + 1;
    if short == 0 {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(b"\\u00");
        out.push(HEX[usize::from(c >> 4)]);
        out.push(HEX[usize::from(c & 0xf)]);
    } else {
        out.push(b'\\');
        out.push(short);
    }
}

/// Appends a JSON value as serde_json writes it (compact; object members in the map's order).
pub fn value_into(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => bool_into(out, *b),
        // Numbers are rare in audit elements; serde_json formats them.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => str_into(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value_into(out, x);
            }
            out.push(b']');
        }
        Value::Object(m) => {
            out.push(b'{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                str_into(out, k);
                out.push(b':');
                value_into(out, x);
            }
            out.push(b'}');
        }
    }
}

fn bool_into(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn opt_str_into(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => str_into(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// An object's members, comma-separated as they are written.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// Writes the member's name (`key` is written as is: the names here need no escaping)
    /// and returns the buffer for its value.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, key: &str, v: &str) {
        str_into(self.key(key), v);
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

impl Event {
    /// Appends this record's JSON (the line, without its newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Obj::open(out);
        o.str("eventVersion", self.event_version);
        o.str("eventTime", &self.event_time);
        o.str("eventSource", self.event_source);
        o.str("eventName", &self.event_name);
        o.str("awsRegion", &self.aws_region);
        o.str("sourceIPAddress", &self.source_ip_address);
        o.str("userAgent", &self.user_agent);
        if let Some(u) = &self.user_identity {
            u.write_json(o.key("userIdentity"));
        }
        if let Some(p) = &self.request_parameters {
            p.write_json(o.key("requestParameters"));
        }
        if let Some(r) = &self.response_elements {
            r.write_json(o.key("responseElements"));
        }
        if let Some(c) = self.error_code {
            o.str("errorCode", c);
        }
        if let Some(m) = &self.error_message {
            o.str("errorMessage", m);
        }
        if let Some(d) = &self.additional_event_data {
            value_into(o.key("additionalEventData"), d);
        }
        o.str("requestID", &self.request_id);
        o.str("eventID", &self.event_id);
        o.str("eventType", self.event_type);
        bool_into(o.key("readOnly"), self.read_only);
        bool_into(o.key("managementEvent"), self.management_event);
        if let Some(a) = &self.recipient_account_id {
            o.str("recipientAccountId", a);
        }
        o.close();
    }
}

impl UserIdentity {
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Obj::open(out);
        o.str("type", self.kind);
        o.str("principalId", &self.principal_id);
        o.str("arn", &self.arn);
        o.str("accountId", &self.account_id);
        o.str("accessKeyId", &self.access_key_id);
        if let Some(u) = &self.user_name {
            o.str("userName", u);
        }
        if let Some(s) = &self.session_context {
            s.write_json(o.key("sessionContext"));
        }
        if let Some(p) = &self.identity_provider {
            o.str("identityProvider", p);
        }
        o.close();
    }
}

impl SessionContext {
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Obj::open(out);
        {
            let mut a = Obj::open(o.key("attributes"));
            a.str("creationDate", &self.attributes.creation_date);
            a.str("mfaAuthenticated", self.attributes.mfa_authenticated);
            a.close();
        }
        opt_str_into(o.key("sourceIdentity"), self.source_identity.as_deref());
        o.close();
    }
}

impl Elements {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Elements::Json(v) => value_into(out, v),
            Elements::Params(p) => p.write_json(out),
            Elements::VerifyQuestion {
                service,
                action,
                resource,
            } => {
                let mut o = Obj::open(out);
                o.str("service", service);
                opt_str_into(o.key("action"), action.as_deref());
                opt_str_into(o.key("resource"), resource.as_deref());
                o.close();
            }
            Elements::VerifyAnswer {
                authenticated,
                principal,
                decision,
            } => {
                let mut o = Obj::open(out);
                bool_into(o.key("authenticated"), *authenticated);
                opt_str_into(o.key("principal"), principal.as_deref());
                opt_str_into(o.key("decision"), decision.as_deref());
                o.close();
            }
        }
    }
}

impl ParamList {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            str_into(out, k);
            out.push(b':');
            str_into(out, v);
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn serde_str(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap()
    }

    #[test]
    fn strings_escape_as_serde_json_does() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "plain ascii text, longer than eight bytes".into(),
            "quote \" and backslash \\ at odd places\"\\".into(),
            "日本語のテキスト with é and 🦀 and \u{7f} and \u{2028}".into(),
            "/slashes/are/not/escaped/".into(),
        ];
        // Every byte below 0x80 at every position of a 20-byte string.
        for c in 0u8..0x80 {
            for pos in [0usize, 3, 7, 8, 9, 15, 16, 19] {
                let mut s = "abcdefghijklmnopqrst".to_owned().into_bytes();
                if let Some(b) = s.get_mut(pos) {
                    *b = c;
                }
                cases.push(String::from_utf8(s).unwrap());
            }
        }
        // Bytes that are special only at word boundaries or near the thresholds.
        cases.push("\u{1f}\u{20}\u{21}\u{22}\u{23}\u{5b}\u{5c}\u{5d}\u{80}\u{ff}".into());
        for s in &cases {
            let mut out = Vec::new();
            str_into(&mut out, s);
            assert_eq!(out, serde_str(s), "{s:?}");
        }
    }

    #[test]
    fn values_write_as_serde_json_does() {
        let v = serde_json::json!({
            "b": [1, -2, 3.5, 1e300, true, false, null, "x\ny"],
            "a": {"nested": {"deep": "\u{0}"}, "empty": {}, "list": []},
            "assumedRoleUser": {"arn": "arn:aws:sts::1:assumed-role/r/s"}
        });
        let mut out = Vec::new();
        value_into(&mut out, &v);
        assert_eq!(out, serde_json::to_vec(&v).unwrap());
    }

    fn same_as_serde(e: &Event) {
        let mut out = Vec::new();
        e.write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(e).unwrap()
        );
    }

    #[test]
    fn events_write_as_serde_json_does() {
        use crate::audit::{SessionAttributes, request_parameters};
        let t = chrono::DateTime::from_timestamp(1_795_434_902, 0).unwrap();
        let mut e = Event::new(t, "sts", "AssumeRole", "10.0.0.1", "ua \"q\"", "r-1", false);
        same_as_serde(&e);
        let p = [
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::1:role/r"),
            ("RoleSessionName", "s\n1"),
            ("Tags.member.1.Key", "k"),
            ("TokenCode", "123456"),
            ("roleArn", "later wins"),
        ];
        e.request_parameters = Some(request_parameters(p.iter().copied()));
        e.response_elements = Some(serde_json::json!({"credentials": {"n": 1}}).into());
        e.aws_region = "us-east-1".into();
        e.recipient_account_id = Some("123456789012".into());
        e.error_code = Some("AccessDenied");
        e.error_message = Some("no \u{1}".into());
        e.additional_event_data = Some(serde_json::json!({"reason": "x"}));
        e.user_identity = Some(UserIdentity {
            kind: "AssumedRole",
            principal_id: "AROA:s".into(),
            arn: "arn:aws:sts::1:assumed-role/r/s".into(),
            account_id: "1".into(),
            access_key_id: "ASIA".into(),
            user_name: Some("u".into()),
            session_context: Some(SessionContext {
                attributes: SessionAttributes {
                    creation_date: "2026-01-01T00:00:00Z".into(),
                    mfa_authenticated: "false",
                },
                source_identity: None,
            }),
            identity_provider: Some("idp".into()),
        });
        same_as_serde(&e);
        e.request_parameters = Some(Elements::VerifyQuestion {
            service: "s3".into(),
            action: None,
            resource: Some("arn:aws:s3:::b/k".into()),
        });
        e.response_elements = Some(Elements::VerifyAnswer {
            authenticated: false,
            principal: None,
            decision: Some("Deny".into()),
        });
        same_as_serde(&e);
        let v: Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["requestParameters"]["resource"], "arn:aws:s3:::b/k");
        e.request_parameters = Some(request_parameters(p.iter().copied()));
        let v: Value = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v["requestParameters"],
            serde_json::json!({"roleArn": "later wins", "roleSessionName": "s\n1",
                "tags.member.1.Key": "k", "tokenCode": crate::audit::HIDDEN})
        );
    }
}
