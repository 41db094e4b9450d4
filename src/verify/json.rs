//! The `/verify` answer written straight into its buffer (the bytes serde_json gives).

use crate::wire::json_out::{Obj, bool_into, int_into, opt_str_into, str_into};

use super::VerifyAnswer;

impl VerifyAnswer {
    /// Appends this answer's JSON: the bytes `serde_json::to_writer` gives (a test holds the
    /// two equal), written directly.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Obj::open(out);
        bool_into(o.key("authenticated"), self.authenticated);
        if let Some(e) = &self.error {
            let mut x = Obj::open(o.key("error"));
            x.str("code", &e.code);
            x.str("message", &e.message);
            int_into(x.key("status"), i64::from(e.status));
            x.close();
        }
        if let Some(p) = &self.principal {
            let mut x = Obj::open(o.key("principal"));
            x.str("arn", &p.arn);
            x.str("account", &p.account);
            x.str("userId", &p.user_id);
            x.str("type", &p.kind);
            x.str("accessKeyId", &p.access_key_id);
            if let Some(a) = &p.principal_arn {
                x.str("principalArn", a);
            }
            if let Some(n) = &p.session_name {
                opt_str_into(x.key("sessionName"), n.as_deref());
            }
            x.close();
        }
        if let Some(s) = &self.session {
            let tags = o.key("sessionTags");
            tags.push(b'{');
            for (i, (k, v)) in s.session_tags.iter().enumerate() {
                if i > 0 {
                    tags.push(b',');
                }
                str_into(tags, k);
                tags.push(b':');
                str_into(tags, v);
            }
            tags.push(b'}');
            let keys = o.key("transitiveTagKeys");
            keys.push(b'[');
            for (i, k) in s.transitive_tag_keys.iter().enumerate() {
                if i > 0 {
                    keys.push(b',');
                }
                str_into(keys, k);
            }
            keys.push(b']');
            opt_str_into(o.key("sourceIdentity"), s.source_identity.as_deref());
            int_into(o.key("issuedAt"), s.issued_at);
            int_into(o.key("expiration"), s.expiration);
            bool_into(o.key("mfaAuthenticated"), s.mfa_authenticated);
        }
        if let Some(d) = &self.decision {
            let mut x = Obj::open(o.key("decision"));
            x.str("effect", &d.effect);
            let m = x.key("matched");
            m.push(b'[');
            for (i, st) in d.matched.iter().enumerate() {
                if i > 0 {
                    m.push(b',');
                }
                let mut y = Obj::open(m);
                y.str("policy", &st.policy);
                opt_str_into(y.key("sid"), st.sid.as_deref());
                y.str("effect", &st.effect);
                y.close();
            }
            m.push(b']');
            x.str("reason", &d.reason);
            if let Some(e) = &d.encoded_message {
                x.str("encodedMessage", e);
            }
            if let Some(msg) = &d.message {
                x.str("message", msg);
            }
            x.close();
        }
        o.close();
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
        a.principal = None;
        same_as_serde(&a);
    }
}
