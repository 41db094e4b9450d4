//! The `/verify` answer written straight into its buffer (the bytes serde_json gives).
//!
//! The members come in a fixed order with `authenticated` first, so each member's name is
//! written with the punctuation around it as one literal (`,"account":`), and only the values
//! go through the escaping writer.

use crate::wire::json_out::{bool_into, int_into, opt_str_into, str_into};

use super::VerifyAnswer;

impl VerifyAnswer {
    /// Appends this answer's JSON: the bytes `serde_json::to_writer` gives (a test holds the
    /// two equal), written directly.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"authenticated":"#);
        bool_into(out, self.authenticated);
        if let Some(e) = &self.error {
            out.extend_from_slice(br#","error":{"code":"#);
            str_into(out, &e.code);
            out.extend_from_slice(br#","message":"#);
            str_into(out, &e.message);
            out.extend_from_slice(br#","status":"#);
            int_into(out, i64::from(e.status));
            out.push(b'}');
        }
        if let Some(p) = &self.principal {
            out.extend_from_slice(br#","principal":{"arn":"#);
            str_into(out, &p.arn);
            out.extend_from_slice(br#","account":"#);
            str_into(out, &p.account);
            out.extend_from_slice(br#","userId":"#);
            str_into(out, &p.user_id);
            out.extend_from_slice(br#","type":"#);
            str_into(out, &p.kind);
            out.extend_from_slice(br#","accessKeyId":"#);
            str_into(out, &p.access_key_id);
            if let Some(a) = &p.principal_arn {
                out.extend_from_slice(br#","principalArn":"#);
                str_into(out, a);
            }
            if let Some(n) = &p.session_name {
                out.extend_from_slice(br#","sessionName":"#);
                opt_str_into(out, n.as_deref());
            }
            out.push(b'}');
        }
        if let Some(s) = &self.session {
            out.extend_from_slice(br#","sessionTags":{"#);
            for (i, (k, v)) in s.session_tags.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                str_into(out, k);
                out.push(b':');
                str_into(out, v);
            }
            out.extend_from_slice(br#"},"transitiveTagKeys":["#);
            for (i, k) in s.transitive_tag_keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                str_into(out, k);
            }
            out.extend_from_slice(br#"],"sourceIdentity":"#);
            opt_str_into(out, s.source_identity.as_deref());
            out.extend_from_slice(br#","issuedAt":"#);
            int_into(out, s.issued_at);
            out.extend_from_slice(br#","expiration":"#);
            int_into(out, s.expiration);
            out.extend_from_slice(br#","mfaAuthenticated":"#);
            bool_into(out, s.mfa_authenticated);
        }
        if let Some(d) = &self.decision {
            out.extend_from_slice(br#","decision":{"effect":"#);
            str_into(out, &d.effect);
            out.extend_from_slice(br#","matched":["#);
            for (i, st) in d.matched.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(br#"{"policy":"#);
                str_into(out, &st.policy);
                out.extend_from_slice(br#","sid":"#);
                opt_str_into(out, st.sid.as_deref());
                out.extend_from_slice(br#","effect":"#);
                str_into(out, &st.effect);
                out.push(b'}');
            }
            out.extend_from_slice(br#"],"reason":"#);
            str_into(out, &d.reason);
            if let Some(e) = &d.encoded_message {
                out.extend_from_slice(br#","encodedMessage":"#);
                str_into(out, e);
            }
            if let Some(msg) = &d.message {
                out.extend_from_slice(br#","message":"#);
                str_into(out, msg);
            }
            out.push(b'}');
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::borrow::Cow;

    use super::super::{
        AnswerDecision, AnswerError, AnswerPrincipal, AnswerSession, AnswerStatement,
    };
    use super::*;

    fn same_as_serde(a: &VerifyAnswer) {
        let mut out = Vec::new();
        a.write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(a).unwrap()
        );
    }

    #[test]
    fn answers_write_as_serde_json_does() {
        let mut a = VerifyAnswer {
            authenticated: false,
            error: Some(AnswerError {
                code: "SignatureDoesNotMatch".into(),
                message: "The request signature \"x\" does not match".into(),
                status: 403,
            }),
            principal: None,
            session: None,
            decision: None,
        };
        same_as_serde(&a);
        a.authenticated = true;
        a.error = None;
        a.principal = Some(AnswerPrincipal {
            arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
            account: "123456789012".into(),
            user_id: "AROAEXAMPLE:s".into(),
            kind: "AssumedRole".into(),
            access_key_id: "ASIAEXAMPLE".into(),
            principal_arn: Some("arn:aws:iam::123456789012:role/r".into()),
            session_name: Some(None),
        });
        same_as_serde(&a);
        a.session = Some(AnswerSession {
            session_tags: [
                ("b".to_owned(), "2".to_owned()),
                ("a".into(), "\u{1}".into()),
            ]
            .into_iter()
            .collect(),
            transitive_tag_keys: vec!["a".into(), "b".into()],
            source_identity: None,
            issued_at: 1_795_434_902,
            expiration: -1,
            mfa_authenticated: true,
        });
        a.decision = Some(AnswerDecision {
            effect: Cow::Borrowed("ImplicitDeny"),
            matched: vec![
                AnswerStatement {
                    policy: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                    sid: None,
                    effect: Cow::Borrowed("Allow"),
                },
                AnswerStatement {
                    policy: "p".into(),
                    sid: Some("S1".into()),
                    effect: Cow::Borrowed("Deny"),
                },
            ],
            reason: Cow::Borrowed("no statement allows"),
            encoded_message: Some("abc".into()),
            message: Some("User: x is not authorized".into()),
        });
        same_as_serde(&a);
        if let Some(p) = a.principal.as_mut() {
            p.principal_arn = None;
            p.session_name = Some(Some("s".into()));
        }
        if let Some(s) = a.session.as_mut() {
            s.session_tags.clear();
            s.transitive_tag_keys.clear();
            s.source_identity = Some("me".into());
        }
        if let Some(d) = a.decision.as_mut() {
            d.matched.clear();
            d.encoded_message = None;
            d.message = None;
        }
        same_as_serde(&a);
        if let Some(p) = a.principal.as_mut() {
            p.session_name = None;
        }
        a.session = None;
        same_as_serde(&a);
        a.principal = None;
        same_as_serde(&a);
        a.decision = None;
        same_as_serde(&a);
    }
}
