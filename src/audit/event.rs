//! The CloudTrail-shaped event of one request, and the redaction of request parameters.

use serde::Serialize;
use serde_json::Value;

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

/// `requestParameters` from the decoded Query parameters, secrets hidden, names lower-camel.
#[must_use]
pub fn request_parameters<'a>(
    params: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Elements {
    let members = params
        .filter(|&(k, _)| k != "Action" && k != "Version")
        .map(|(k, v)| {
            // The name before any `.member.N` suffix (a byte scan: these names are short).
            let base = k
                .bytes()
                .position(|b| b == b'.')
                .and_then(|i| k.get(..i))
                .unwrap_or(k);
            (
                k,
                if SECRET_PARAMS.contains(&base) {
                    HIDDEN
                } else {
                    v
                },
            )
        });
    // Sized in a first pass (a lower-cased first letter may take up to 3 more bytes).
    let (count, bytes) = members
        .clone()
        .fold((0, 0), |(n, b), (k, v)| (n + 1, b + k.len() + 3 + v.len()));
    let mut list = ParamList {
        text: String::with_capacity(bytes),
        spans: Vec::with_capacity(count),
    };
    for (k, v) in members {
        list.push(k, v);
    }
    list.finish();
    Elements::Params(list)
}

/// Request parameters as a JSON object's members (names lower-camel, sorted, each once: the
/// last value of a name wins, as in a JSON map), held in one string instead of a JSON tree.
#[derive(Debug, Default)]
pub struct ParamList {
    text: String,
    /// (name start, name end, value end) in `text`.
    spans: Vec<(usize, usize, usize)>,
}

impl ParamList {
    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        match name.as_bytes().first() {
            // The usual name: an ASCII first letter.
            Some(f) if f.is_ascii() => {
                self.text.push(char::from(f.to_ascii_lowercase()));
                self.text.push_str(name.get(1..).unwrap_or_default());
            }
            _ => {
                let mut c = name.chars();
                if let Some(f) = c.next() {
                    self.text.extend(f.to_lowercase());
                    self.text.push_str(c.as_str());
                }
            }
        }
        let name_end = self.text.len();
        self.text.push_str(value);
        self.spans.push((start, name_end, self.text.len()));
    }

    /// Sorts by name and keeps the last value of a repeated name.
    fn finish(&mut self) {
        let text = &self.text;
        let name = |&(s, e, _): &(usize, usize, usize)| text.get(s..e).unwrap_or_default();
        // Stable: equal names keep their order, so the last is the one pushed last.
        self.spans.sort_by(|a, b| name(a).cmp(name(b)));
        // In place: each run of equal names becomes its last member.
        self.spans.dedup_by(|later, kept| {
            let same = name(later) == name(kept);
            if same {
                *kept = *later;
            }
            same
        });
    }

    /// The members, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(s, n, e)| {
            (
                self.text.get(s..n).unwrap_or_default(),
                self.text.get(n..e).unwrap_or_default(),
            )
        })
    }
}

impl Serialize for ParamList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// One CloudTrail-shaped record. The HTTP layer creates it with [`Event::new`] and fills the
/// rest as the request proceeds; it is written once, straight into the audit line, by
/// `Event::write_json` (`json.rs`). A field added here must be written there too: the test
/// `events_write_as_serde_json_does` compares the two writers with every field set, so set
/// the new one in it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub(super) event_version: &'static str,
    /// Written as ISO 8601 when the line is (kept as a time: no string per event).
    #[serde(serialize_with = "iso8601")]
    pub(super) event_time: chrono::DateTime<chrono::Utc>,
    pub(super) event_source: Source,
    pub(super) event_name: ShortText,
    /// SigV4 region of the caller.
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub(super) source_ip_address: ShortText,
    pub(super) user_agent: String,
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
    pub(super) request_id: crate::ids::RequestId,
    #[serde(rename = "eventID")]
    pub(super) event_id: crate::ids::RequestId,
    pub(super) event_type: &'static str,
    /// Whether the call only reads (`Get*`, `List*`).
    pub read_only: bool,
    pub(super) management_event: bool,
    /// The caller's account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<String>,
}

/// The service an event is from (`eventSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Sts,
    Iam,
    CognitoIdentity,
}

impl Source {
    /// Its name as CloudTrail writes it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Sts => "sts.amazonaws.com",
            Self::Iam => "iam.amazonaws.com",
            Self::CognitoIdentity => "cognito-identity.amazonaws.com",
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An action's name or an IP address, copied into every event without an allocation (an IPv6
/// address's text is at most 45 bytes).
pub(super) type ShortText = crate::wire::inline_text::InlineText<SHORT>;

/// The longest [`ShortText`] held inline.
const SHORT: usize = 46;

/// `eventTime` as CloudTrail writes it (`2026-11-22T19:04:05Z`).
fn iso8601<S: serde::Serializer>(
    t: &chrono::DateTime<chrono::Utc>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::wire::time::iso8601(t))
}

/// `requestParameters` or `responseElements`: a JSON object built from the request (Query
/// actions), or the fixed shape of a verification, typed so it is written without building a
/// JSON tree first.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Elements {
    /// Any JSON object.
    Json(Value),
    /// A JSON value's text.
    Text(JsonText),
    /// A Query request's parameters.
    Params(ParamList),
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

impl From<crate::action::AuditElements> for Elements {
    fn from(a: crate::action::AuditElements) -> Self {
        match a {
            crate::action::AuditElements::Json(v) => Self::Json(v),
            crate::action::AuditElements::Text(t) => Self::Text(JsonText(t)),
        }
    }
}

/// A JSON value's text, written into the audit line as is (an action wrote it with
/// `wire::json_out`, as serde_json would have).
#[derive(Debug)]
pub struct JsonText(pub Vec<u8>);

impl Serialize for JsonText {
    /// Read back and written again: only the error log's copy of an event that could not be
    /// audited, and tests, serialize an event through serde.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v: Value = serde_json::from_slice(&self.0).map_err(serde::ser::Error::custom)?;
        v.serialize(s)
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

impl UserIdentity {
    /// CloudTrail's `SAMLUser`: the unsigned caller of `AssumeRoleWithSAML`, known by its
    /// assertion's name qualifier and subject. Read from the action's `userIdentity` audit
    /// element (`nameQualifier`, `subject`, `provider`, `account`).
    #[must_use]
    pub fn saml(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let (qualifier, subject) = (s("nameQualifier")?, s("subject")?);
        Some(Self {
            kind: "SAMLUser",
            principal_id: format!("{qualifier}:{subject}"),
            arn: String::new(),
            account_id: s("account").unwrap_or_default(),
            access_key_id: String::new(),
            user_name: Some(subject),
            session_context: None,
            identity_provider: s("provider"),
        })
    }

    /// The unsigned caller named by an action's `userIdentity` audit element: `SAMLUser` when
    /// it says so, `WebIdentityUser` otherwise.
    #[must_use]
    pub fn federated(v: &Value) -> Option<Self> {
        if v.get("type").and_then(Value::as_str) == Some("SAMLUser") {
            Self::saml(v)
        } else {
            Self::web_identity(v)
        }
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
            event_time: time,
            event_source: match service {
                "iam" => Source::Iam,
                "cognito-identity" => Source::CognitoIdentity,
                _ => Source::Sts,
            },
            event_name: ShortText::new(action),
            aws_region: String::new(),
            source_ip_address: ShortText::new(source_ip),
            user_agent: user_agent.to_owned(),
            user_identity: None,
            request_parameters: None,
            response_elements: None,
            error_code: None,
            error_message: None,
            additional_event_data: None,
            request_id: request_id.into(),
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
    use super::*;

    #[test]
    fn short_text_holds_any_length_whole() {
        for s in [
            String::new(),
            "127.0.0.1".into(),
            "x".repeat(SHORT),
            "y".repeat(SHORT + 1),
            "é".repeat(SHORT),
            "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".into(),
        ] {
            let t = ShortText::new(&s);
            assert_eq!(&*t, s.as_str());
            assert_eq!(t.as_bytes(), s.as_bytes());
            assert_eq!(t.is_inline(), s.len() <= SHORT, "{s}");
        }
    }
}
