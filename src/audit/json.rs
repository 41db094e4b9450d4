//! The audit line written directly into its buffer: the same bytes `serde_json::to_writer`
//! gives for an [`Event`] (a test holds the two equal), without serde's per-byte escaping
//! loop or a JSON tree for the request parameters.

use crate::wire::json_out::{opt_str_into, str_into, utf8_into, value_into};

use super::event::{Elements, Event, ParamList, SessionContext, UserIdentity};

/// `,"name":`, one literal (the member names here need no escaping).
macro_rules! key {
    ($out:expr, $name:literal) => {
        $out.extend_from_slice(concat!(",\"", $name, "\":").as_bytes())
    };
}

impl Event {
    /// Appends this record's JSON (the line, without its newline). The members that are
    /// always there, in their fixed order, are written with their names as literals (the
    /// first one opens the object, so none needs the "first member?" test).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // `eventVersion` and `eventType` are the constants `Event::new` sets (the property test
        // below holds this writer to serde's, which writes the fields).
        debug_assert!(self.event_version == "1.08" && self.event_type == "AwsApiCall");
        // Each member whose value is one of a few constants, written as one literal.
        out.extend_from_slice(b"{\"eventVersion\":\"1.08\",\"eventTime\":\"");
        // Digits and separators: nothing to escape.
        crate::wire::time::iso8601_into(out, &self.event_time);
        // A service name: nothing to escape.
        out.extend_from_slice(b"\",\"eventSource\":\"");
        out.extend_from_slice(self.event_source.as_str().as_bytes());
        out.push(b'"');
        key!(out, "eventName");
        utf8_into(out, self.event_name.as_bytes());
        key!(out, "awsRegion");
        str_into(out, &self.aws_region);
        key!(out, "sourceIPAddress");
        utf8_into(out, self.source_ip_address.as_bytes());
        key!(out, "userAgent");
        str_into(out, &self.user_agent);
        if let Some(u) = &self.user_identity {
            key!(out, "userIdentity");
            u.write_json(out);
        }
        if let Some(p) = &self.request_parameters {
            key!(out, "requestParameters");
            p.write_json(out);
        }
        if let Some(r) = &self.response_elements {
            key!(out, "responseElements");
            r.write_json(out);
        }
        if let Some(c) = self.error_code {
            key!(out, "errorCode");
            str_into(out, c);
        }
        if let Some(m) = &self.error_message {
            key!(out, "errorMessage");
            str_into(out, m);
        }
        if let Some(d) = &self.additional_event_data {
            key!(out, "additionalEventData");
            value_into(out, d);
        }
        key!(out, "requestID");
        str_into(out, &self.request_id);
        key!(out, "eventID");
        str_into(out, &self.event_id);
        out.extend_from_slice(b",\"eventType\":\"AwsApiCall\"");
        out.extend_from_slice(if self.read_only {
            b",\"readOnly\":true"
        } else {
            b",\"readOnly\":false"
        });
        out.extend_from_slice(if self.management_event {
            b",\"managementEvent\":true"
        } else {
            b",\"managementEvent\":false"
        });
        if let Some(a) = &self.recipient_account_id {
            key!(out, "recipientAccountId");
            str_into(out, a);
        }
        out.push(b'}');
    }
}

impl UserIdentity {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":");
        str_into(out, self.kind);
        key!(out, "principalId");
        str_into(out, &self.principal_id);
        key!(out, "arn");
        str_into(out, &self.arn);
        key!(out, "accountId");
        str_into(out, &self.account_id);
        key!(out, "accessKeyId");
        str_into(out, &self.access_key_id);
        if let Some(u) = &self.user_name {
            key!(out, "userName");
            str_into(out, u);
        }
        if let Some(s) = &self.session_context {
            key!(out, "sessionContext");
            s.write_json(out);
        }
        if let Some(p) = &self.identity_provider {
            key!(out, "identityProvider");
            str_into(out, p);
        }
        out.push(b'}');
    }
}

impl SessionContext {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"attributes\":{\"creationDate\":");
        str_into(out, &self.attributes.creation_date);
        key!(out, "mfaAuthenticated");
        str_into(out, self.attributes.mfa_authenticated);
        out.extend_from_slice(b"},\"sourceIdentity\":");
        opt_str_into(out, self.source_identity.as_deref());
        out.push(b'}');
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
                out.extend_from_slice(b"{\"service\":");
                str_into(out, service);
                key!(out, "action");
                opt_str_into(out, action.as_deref());
                key!(out, "resource");
                opt_str_into(out, resource.as_deref());
                out.push(b'}');
            }
            Elements::VerifyAnswer {
                authenticated,
                principal,
                decision,
            } => {
                out.extend_from_slice(if *authenticated {
                    b"{\"authenticated\":true"
                } else {
                    b"{\"authenticated\":false"
                });
                key!(out, "principal");
                opt_str_into(out, principal.as_deref());
                key!(out, "decision");
                opt_str_into(out, decision.as_deref());
                out.push(b'}');
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

    proptest::proptest! {
        /// Any text in the fields a request fills, each optional member present or not.
        #[test]
        fn any_event_writes_as_serde_json_does(
            t in "\\PC{0,12}|[\\x00-\\x23\\x5c a-z\u{e9}]{0,20}",
            present in proptest::collection::vec(proptest::bool::ANY, 9),
            read_only in proptest::bool::ANY,
            service in proptest::sample::select(vec!["sts", "iam", "cognito-identity", "s3"]),
        ) {
            use crate::audit::{SessionAttributes, request_parameters};
            let on = |i: usize| present.get(i).copied().unwrap_or(false);
            let time = chrono::DateTime::from_timestamp(1_795_434_902, 0).unwrap();
            let mut e = Event::new(time, service, &t, &t, &t, &t, read_only);
            e.aws_region = t.clone();
            if on(0) {
                let p = [("Action", "X"), (t.as_str(), t.as_str()), ("RoleArn", t.as_str())];
                e.request_parameters = Some(request_parameters(p.iter().copied()));
            }
            if on(1) {
                e.response_elements = Some(serde_json::json!({ t.clone(): [t.clone()] }).into());
            }
            if on(2) {
                e.error_code = Some("AccessDenied");
                e.error_message = Some(t.clone());
            }
            if on(3) {
                e.recipient_account_id = Some(t.clone());
            }
            if on(4) {
                e.user_identity = Some(UserIdentity {
                    kind: "IAMUser",
                    principal_id: t.clone(),
                    arn: t.clone(),
                    account_id: t.clone(),
                    access_key_id: t.clone(),
                    user_name: on(5).then(|| t.clone()),
                    session_context: on(6).then(|| SessionContext {
                        attributes: SessionAttributes {
                            creation_date: t.clone(),
                            mfa_authenticated: "true",
                        },
                        source_identity: on(7).then(|| t.clone()),
                    }),
                    identity_provider: on(7).then(|| t.clone()),
                });
            }
            if on(8) {
                e.request_parameters = Some(Elements::VerifyQuestion {
                    service: t.clone(),
                    action: on(1).then(|| t.clone()),
                    resource: on(2).then(|| t.clone()),
                });
                e.response_elements = Some(Elements::VerifyAnswer {
                    authenticated: on(3),
                    principal: on(5).then(|| t.clone()),
                    decision: on(6).then(|| t.clone().into()),
                });
            }
            let mut out = Vec::new();
            e.write_json(&mut out);
            proptest::prop_assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&e).unwrap()
            );
        }
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
