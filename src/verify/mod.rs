//! Credential verification for resource servers (an S3-compatible store, internal APIs).
//!
//! A service that received a SigV4-signed request asks Sekisho: who signed this, and may it do
//! ACTION on RESOURCE with CONTEXT? It sends the request's parts — method, path, query, headers
//! (with `Authorization` and any `X-Amz-Security-Token`) and the payload hash, never a secret —
//! and gets back the principal, its account, session tags and the decision with reasons. Denials
//! carry an encoded authorization message that `sts:DecodeAuthorizationMessage` decodes.
//!
//! HTTP: `POST /verify` (JSON in, JSON out), itself SigV4-signed by the resource server (scope
//! service `sts`) and allowed by `sekisho:VerifyRequest`. Rust: [`verify_request`].

mod json;
mod question;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::authn::{self, Caller};
use crate::authz::{self, Ask, EnvRef};
use crate::error::{ApiError, Code};
use crate::policy::Effect;
use crate::state::AppState;
use crate::wire::json::Text;

pub use question::parse_question;

/// The signed request being verified. Strings borrow from the JSON body where they can (no
/// escapes), so parsing a question copies little (`Cow` fields borrow on their own; strings
/// inside an `Option` or a list need [`Text`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRequest<'a> {
    /// HTTP method.
    #[serde(borrow)]
    pub method: Cow<'a, str>,
    /// Raw path as received.
    #[serde(borrow)]
    pub path: Cow<'a, str>,
    /// Raw query string, without `?`.
    #[serde(borrow, default)]
    pub query: Cow<'a, str>,
    /// Headers as received (at least the signed ones and `Authorization`).
    #[serde(borrow)]
    pub headers: Vec<(Text<'a>, Text<'a>)>,
    /// Hex SHA-256 of the body (or `UNSIGNED-PAYLOAD` where the service allows it).
    #[serde(borrow)]
    pub payload_hash: Cow<'a, str>,
    /// How the resource server received the request: `https` or `http`. It is the source of
    /// `aws:SecureTransport` (only the resource server knows whether its client used TLS);
    /// when omitted the key is absent, so a policy that needs it to be `true` does not allow
    /// and one that denies when it is `false` needs `BoolIfExists` to deny.
    #[serde(borrow, default)]
    pub scheme: Option<Text<'a>>,
}

/// A verification question.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyInput<'a> {
    /// The request.
    #[serde(borrow)]
    pub request: SignedRequest<'a>,
    /// The service the request was signed for (`s3`, `execute-api`, …).
    #[serde(borrow)]
    pub service: Cow<'a, str>,
    /// `service:Action` to authorize; omit to authenticate only.
    #[serde(borrow, default)]
    pub action: Option<Text<'a>>,
    /// The resource ARN. Default: `*`.
    #[serde(borrow, default)]
    pub resource: Option<Text<'a>>,
    /// The resource's account, for the cross-account rule.
    #[serde(borrow, default)]
    pub resource_account: Option<Text<'a>>,
    /// Extra condition keys: service keys such as `s3:prefix` (strings or lists of strings).
    /// Global and federation keys (`aws:`, `sts:`, `iam:`, `saml:`, `host.example.com:…`)
    /// are Sekisho's to set and are refused ([`check_context_key`]).
    #[serde(default)]
    pub context: BTreeMap<String, serde_json::Value>,
    /// The original client's address (for `aws:SourceIp`).
    #[serde(borrow, default)]
    pub source_ip: Option<Text<'a>>,
}

/// The answer to a verification question (the JSON body of `POST /verify`), written by
/// `VerifyAnswer::write_json` (`json.rs`): a field added here must be written there too, and set
/// in its test, which compares it with serde's output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VerifyAnswer {
    /// Whether the signature, credentials and session are valid.
    pub authenticated: bool,
    /// Why not, when not authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AnswerError>,
    /// Who signed the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<AnswerPrincipal>,
    /// Facts of the session, for temporary credentials.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub session: Option<AnswerSession>,
    /// The authorization decision, when an action was asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<AnswerDecision>,
}

/// An authentication failure, as the AWS error the signer would have got.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnswerError {
    /// AWS error code (`SignatureDoesNotMatch`, `ExpiredToken`, …).
    pub code: String,
    /// AWS error message.
    pub message: String,
    /// HTTP status AWS would answer with.
    pub status: u16,
}

/// The authenticated principal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AnswerPrincipal {
    /// Caller ARN.
    pub arn: String,
    /// Account id.
    pub account: String,
    /// `aws:userid`.
    pub user_id: String,
    /// `aws:PrincipalType`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The access key id that signed.
    pub access_key_id: String,
    /// The role (or user) ARN behind a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_arn: Option<String>,
    /// The session name, for sessions (`null` when the session has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<Option<String>>,
}

/// Session facts (temporary credentials only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AnswerSession {
    /// Session tags.
    pub session_tags: BTreeMap<String, String>,
    /// Keys of the transitive tags.
    pub transitive_tag_keys: Vec<String>,
    /// Source identity, if set.
    pub source_identity: Option<String>,
    /// Issue time (Unix seconds).
    pub issued_at: i64,
    /// Expiry (Unix seconds).
    pub expiration: i64,
    /// Whether the session was MFA-authenticated.
    pub mfa_authenticated: bool,
}

/// The decision, with the statements that decided it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AnswerDecision {
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    pub effect: Cow<'static, str>,
    /// Statements that matched.
    pub matched: Vec<AnswerStatement>,
    /// The engine's explanation.
    pub reason: Cow<'static, str>,
    /// For denials: an authorization message for `sts:DecodeAuthorizationMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded_message: Option<String>,
    /// For denials: AWS's AccessDenied wording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A statement that matched.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnswerStatement {
    /// Policy id (ARN, or ARN#inline/name, …).
    pub policy: String,
    /// Statement id, if any.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: Cow<'static, str>,
}

/// Verifies a signed request and, when an action is given, authorizes it. Authentication
/// failures are answers (`authenticated: false` with the AWS error code), not errors.
///
/// `asker_account` is the account of whoever asks (the resource server's): the deciding
/// statements are named only when their policy belongs to it (or is AWS managed). `None`
/// (the library used in process, by the operator) names them all.
pub async fn verify_request(
    st: &Arc<AppState>,
    input: &VerifyInput<'_>,
    asker_account: Option<&str>,
) -> Result<VerifyAnswer, ApiError> {
    let now = st.clock.now();
    // The headers are read where they lie (no map is built), after the checks a map would
    // have made: token-character names, values without control characters.
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(input.request.headers.len());
    for (k, v) in &input.request.headers {
        if !valid_header_name(k) {
            return Err(ApiError::validation(format!("invalid header name {k:?}")));
        }
        if !valid_header_value(v) {
            return Err(ApiError::validation(format!(
                "invalid value for header {k}"
            )));
        }
        headers.push((k, v));
    }
    let headers = crate::sigv4::Headers::List(&headers);
    let parts = crate::sigv4::RequestParts {
        method: &input.request.method,
        path: &input.request.path,
        query: &input.request.query,
        headers,
        body: b"",
        payload_hash: Some(&input.request.payload_hash),
    };
    let caller = match authn::authenticate(st, &parts, &input.service, now).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Ok(unauthenticated(&ApiError::new(
                Code::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            )));
        }
        Err(e) if e.code == Code::InternalFailure || e.code == Code::ServiceUnavailable => {
            return Err(e);
        }
        Err(e) => return Ok(unauthenticated(&e)),
    };
    let Some(action) = &input.action else {
        return Ok(describe(caller));
    };
    let resource = input.resource.as_deref().unwrap_or("*");
    let secure = match input.request.scheme.as_deref() {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("https") => Some(true),
        Some(s) if s.eq_ignore_ascii_case("http") => Some(false),
        Some(s) => {
            return Err(ApiError::validation(format!(
                "invalid request scheme {s:?}: expected \"https\" or \"http\""
            )));
        }
    };
    let env = EnvRef {
        now,
        source_ip: input.source_ip.as_deref().unwrap_or_default(),
        user_agent: headers.single_str("user-agent").unwrap_or(""),
        secure: secure.unwrap_or(false),
        region: &caller.region,
    };
    let pols = authz::caller_policies(st, &caller).await?;
    let mut ctx = authz::base_context(&caller, env, &pols.tags);
    if secure.is_none() {
        ctx.remove("aws:SecureTransport");
    }
    for k in input.context.keys() {
        check_context_key(k)?;
        if ctx.get(k).is_some() {
            return Err(refused_key(k));
        }
    }
    for (k, v) in &input.context {
        match v {
            serde_json::Value::String(s) => ctx.set(k, s.as_str()),
            serde_json::Value::Array(a) => ctx.set_multi(
                k,
                a.iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                    .collect(),
            ),
            other => ctx.set(k, other.to_string()),
        }
    }
    let ask = Ask {
        action,
        resource,
        resource_account: input.resource_account.as_deref(),
        resource_policy: None,
        require_resource_allow: false,
    };
    let d = authz::decide(authz::principal_ref(&caller), &pols, &ask, &ctx);
    let effect = match d.effect {
        Effect::Allow => "Allow",
        Effect::ExplicitDeny => "ExplicitDeny",
        Effect::ImplicitDeny => "ImplicitDeny",
    };
    // The asker sees which of the signer's policies decided only when they are its own
    // account's (or AWS managed); the sealed message keeps them for the signer's account.
    let visible = |m: &crate::policy::MatchedStatement| {
        policy_visible(&m.policy.0, &caller.account, asker_account)
    };
    let mut all_visible = true;
    let matched = d
        .matched
        .iter()
        .map(|m| {
            if visible(m) {
                answer_statement(m)
            } else {
                all_visible = false;
                AnswerStatement {
                    policy: HIDDEN.to_owned(),
                    sid: None,
                    effect: statement_effect(m),
                }
            }
        })
        .collect();
    let mut decision = AnswerDecision {
        effect: Cow::Borrowed(effect),
        matched,
        reason: if all_visible {
            d.reason.clone()
        } else {
            Cow::Borrowed(match d.effect {
                Effect::Allow => "allowed",
                Effect::ExplicitDeny => "explicitly denied by a policy of the signer's account",
                Effect::ImplicitDeny => "no policy of the signer's account allows the action",
            })
        },
        encoded_message: None,
        message: None,
    };
    if d.effect != Effect::Allow {
        let matched: Vec<AnswerStatement> = d.matched.iter().map(answer_statement).collect();
        let message = json!({
            "allowed": false,
            "explicitDeny": d.effect == Effect::ExplicitDeny,
            "matchedStatements": { "items": matched },
            "failures": { "items": [] },
            "reason": d.reason,
            "context": {
                "principal": { "id": caller.user_id, "arn": caller.arn },
                "action": action,
                "resource": resource,
                "conditions": { "items": input.context.iter().map(|(k, v)| json!({"key": k, "values": {"items": [v]}})).collect::<Vec<_>>() },
            },
        });
        decision.encoded_message = Some(encode_message(st, &caller.account, &message.to_string())?);
        decision.message = Some(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource}",
            caller.arn
        ));
    }
    let mut out = describe(caller);
    out.decision = Some(decision);
    Ok(out)
}

/// A deciding statement as the answer names it.
fn answer_statement(m: &crate::policy::MatchedStatement) -> AnswerStatement {
    AnswerStatement {
        policy: String::from(&*m.policy.0),
        sid: m.sid.clone(),
        effect: statement_effect(m),
    }
}

/// A statement's effect as the answer spells it.
fn statement_effect(m: &crate::policy::MatchedStatement) -> Cow<'static, str> {
    Cow::Borrowed(match m.effect {
        crate::policy::StatementEffect::Allow => "Allow",
        crate::policy::StatementEffect::Deny => "Deny",
    })
}

/// What a hidden policy id reads as (the audit's wording for hidden values).
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Condition-key namespaces that Sekisho sets from facts it established itself (the global
/// keys, STS/IAM keys, SAML and other federation claims, Sekisho's own actions): never taken
/// from the question's `context`.
const RESERVED_PREFIXES: &[&str] = &["aws", "sts", "iam", "saml", "sekisho"];

/// Checks that a `context` key is a service key the asker may supply: `service:name` with a
/// plain service prefix (letters, digits, `-`) that is not a reserved namespace. Federation
/// claims (`accounts.google.com:sub`, `cognito-identity.amazonaws.com:aud`,
/// `token.actions.githubusercontent.com:sub`, …) have a host as prefix and are refused too.
///
/// # Errors
/// `ValidationError` naming the key.
pub fn check_context_key(key: &str) -> Result<(), ApiError> {
    let Some((prefix, name)) = key.split_once(':') else {
        return Err(refused_key(key));
    };
    let plain = !prefix.is_empty()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plain
        || name.is_empty()
        || RESERVED_PREFIXES
            .iter()
            .any(|r| prefix.eq_ignore_ascii_case(r))
    {
        return Err(refused_key(key));
    }
    Ok(())
}

fn refused_key(key: &str) -> ApiError {
    ApiError::validation(format!(
        "context key {key:?} is refused: only service condition keys (such as s3:prefix) may \
         be given; global, STS, IAM and federation keys are set by Sekisho"
    ))
}

/// Whether a deciding policy may be named to an asker of `asker`'s account: AWS managed
/// policies, and policies of the asker's own account. Ids that are not ARNs (`session`) belong
/// to the signer's account.
fn policy_visible(policy: &str, signer_account: &str, asker: Option<&str>) -> bool {
    let Some(asker) = asker else {
        return true;
    };
    let owner = if policy.starts_with("arn:") {
        arn_account(policy)
    } else {
        signer_account
    };
    owner == "aws" || owner == asker
}

/// An ARN's account field (the fifth, `arn:partition:service:region:ACCOUNT:…`); empty when
/// the ARN has fewer fields. A plain loop over the bytes: the field ends within a few dozen,
/// where a vector search's set-up would cost more than it saves.
fn arn_account(arn: &str) -> &str {
    let mut colons = arn
        .bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b':').then_some(i));
    let Some(start) = colons.nth(3).map(|i| i + 1) else {
        return "";
    };
    let end = colons.next().unwrap_or(arn.len());
    arn.get(start..end).unwrap_or_default()
}

/// An HTTP header name: one or more token characters (RFC 9110), as `http::HeaderName`
/// accepts them.
fn valid_header_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| crate::wire::text::in_byte_class!(b, |x| crate::sigv4::is_token_char(x)))
}

/// An HTTP header value as `http::HeaderValue` accepts it: no control characters but tab.
/// Every byte is looked at (no early exit), so the loop is vectorised: values are long (a
/// session token is ~1 KB) and almost always valid.
fn valid_header_value(v: &str) -> bool {
    let bad = v.bytes().fold(false, |bad, b| {
        bad | ((b < 0x20) & (b != b'\t')) | (b == 0x7f)
    });
    !bad
}

fn unauthenticated(e: &ApiError) -> VerifyAnswer {
    VerifyAnswer {
        authenticated: false,
        error: Some(AnswerError {
            code: e.code.as_str().to_owned(),
            message: e.message.clone(),
            status: e.code.status(),
        }),
        principal: None,
        session: None,
        decision: None,
    }
}

/// The answer's description of `c` (its strings moved, not copied).
fn describe(c: Caller) -> VerifyAnswer {
    let kind = c.principal_type().to_owned();
    let s = c.session();
    let session = s.map(|s| AnswerSession {
        session_tags: s.tags.iter().cloned().collect(),
        transitive_tag_keys: s.transitive_tag_keys.clone(),
        source_identity: s.source_identity.clone(),
        issued_at: s.issued_at,
        expiration: s.expires_at,
        mfa_authenticated: s.mfa_auth_time.is_some(),
    });
    let principal_arn = s.map(|s| s.principal_arn.clone());
    let session_name = s.map(|s| s.session_name.clone());
    VerifyAnswer {
        authenticated: true,
        error: None,
        principal: Some(AnswerPrincipal {
            arn: c.arn,
            account: c.account,
            user_id: c.user_id,
            kind,
            access_key_id: c.access_key_id,
            principal_arn,
            session_name,
        }),
        session,
        decision: None,
    }
}

/// Seals an authorization message so only Sekisho can read it, bound to `account` (the account
/// of the denied principal, whose policies it describes): only that account can decode it.
pub fn encode_message(st: &AppState, account: &str, json: &str) -> Result<String, ApiError> {
    st.iam
        .at_rest()
        .seal_message(account, json)
        .map_err(ApiError::internal)
}

/// Opens an encoded authorization message for a caller of `account`; a message about another
/// account does not open.
#[must_use]
pub fn decode_message(st: &AppState, account: &str, encoded: &str) -> Option<String> {
    st.iam.at_rest().open_message(account, encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_refuse_controls_but_tab() {
        for b in 0_u8..=255 {
            let Ok(v) = std::str::from_utf8(std::slice::from_ref(&b)) else {
                continue;
            };
            let want = b == b'\t' || (b >= 0x20 && b != 0x7f);
            assert_eq!(valid_header_value(v), want, "{b:#x}");
            let long = format!("{}{v}{}", "a".repeat(40), "b".repeat(40));
            assert_eq!(valid_header_value(&long), want, "{b:#x} inside");
        }
        assert!(valid_header_value(""));
        assert!(valid_header_value("é\tx"));
    }

    #[test]
    fn header_names_are_token_characters() {
        for b in 0_u8..=255 {
            let name = [b'x', b, b'y'];
            let Ok(n) = std::str::from_utf8(&name) else {
                continue;
            };
            assert_eq!(
                valid_header_name(n),
                crate::sigv4::is_token_char(b),
                "{b:#x}"
            );
        }
        assert!(!valid_header_name(""));
        assert!(!valid_header_name("é"));
        assert!(valid_header_name("x-amz-date"));
    }

    #[test]
    fn arn_account_is_the_fifth_field() {
        assert_eq!(
            arn_account("arn:aws:iam::123456789012:policy/p"),
            "123456789012"
        );
        assert_eq!(arn_account("arn:aws:iam::aws:policy/ReadOnlyAccess"), "aws");
        assert_eq!(arn_account("arn:aws:s3:::bucket"), "");
        assert_eq!(arn_account("arn:aws:iam::123456789012"), "123456789012");
        assert_eq!(arn_account("arn:aws:iam:"), "");
        assert_eq!(arn_account("arn:aws:iam::1:a:b"), "1");
        for arn in [
            "arn:aws:iam::1:x",
            "arn:a:b:c:d:e:f",
            "arn:::",
            "arn:a:b:c:",
            "arn:a:b:c:d",
        ] {
            assert_eq!(
                arn_account(arn),
                arn.split(':').nth(4).unwrap_or_default(),
                "{arn}"
            );
        }
    }

    #[test]
    fn policies_are_named_to_their_own_account_and_aws_only() {
        let v = |p: &str, asker: Option<&str>| policy_visible(p, "111111111111", asker);
        assert!(v(
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            Some("222222222222")
        ));
        assert!(v(
            "arn:aws:iam::222222222222:policy/p",
            Some("222222222222")
        ));
        assert!(!v(
            "arn:aws:iam::111111111111:policy/p",
            Some("222222222222")
        ));
        assert!(
            !v("session", Some("222222222222")),
            "a non-ARN id is the signer's"
        );
        assert!(v("session", Some("111111111111")));
        assert!(
            v("arn:aws:iam::111111111111:policy/p", None),
            "the operator sees all"
        );
    }
}
