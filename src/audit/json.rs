//! The audit line written directly into its buffer: the same bytes `serde_json::to_writer`
//! gives for an [`Event`] (a test holds the two equal), without serde's per-byte escaping
//! loop or a JSON tree for the request parameters.

use crate::wire::json_out::{Obj, bool_into, opt_str_into, str_into, value_into};

use super::event::{Elements, Event, ParamList, SessionContext, UserIdentity};

impl Event {
    /// Appends this record's JSON (the line, without its newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Obj::open(out);
        o.str("eventVersion", self.event_version);
        {
            // Digits and separators: nothing to escape.
            let v = o.key("eventTime");
            v.push(b'"');
            crate::wire::time::iso8601_into(v, &self.event_time);
            v.push(b'"');
        }
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
            Elements::Text(t) => out.extend_from_slice(&t.0),
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
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

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
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["requestParameters"]["resource"], "arn:aws:s3:::b/k");
        e.request_parameters = Some(request_parameters(p.iter().copied()));
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v["requestParameters"],
            serde_json::json!({"roleArn": "later wins", "roleSessionName": "s\n1",
                "tags.member.1.Key": "k", "tokenCode": crate::audit::HIDDEN})
        );
    }
}
