//! What an action is, apart from HTTP: the context it runs in ([`Ctx`]), what it answers
//! ([`Reply`]), which API it belongs to ([`Service`]), and — written once — which callers may
//! call which actions: unsigned callers only the federation actions, and each kind of session
//! credentials only what AWS lets it call (sts-spec §2.1). The HTTP edge (`crate::http`)
//! decodes a request into these and renders the reply; actions never see HTTP.

use std::sync::Arc;

use crate::authn::{self, Caller};
use crate::authz::Env;
use crate::error::ApiError;
use crate::state::AppState;
use crate::token::{SessionClaims, SessionKind};

/// Which Query API a request addresses (chosen by `Version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// STS, `2011-06-15`.
    Sts,
    /// IAM, `2010-05-08`.
    Iam,
    /// Cognito Identity (awsJson 1.1, `AWSCognitoIdentityService`).
    CognitoIdentity,
}

impl Service {
    /// SigV4 scope service name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sts => "sts",
            Self::Iam => "iam",
            Self::CognitoIdentity => "cognito-identity",
        }
    }

    /// XML namespace (Cognito Identity answers JSON; STS's is given for completeness).
    #[must_use]
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Sts | Self::CognitoIdentity => crate::wire::xml::STS_NS,
            Self::Iam => crate::wire::xml::IAM_NS,
        }
    }
}

/// A successful action's answer.
#[derive(Debug, Default)]
pub struct Reply {
    /// Inner XML of `<{Action}Result>`; `None` for actions with no result element.
    pub result_xml: Option<String>,
    /// JSON form of the result (answered when the client asks for `application/json`).
    pub result_json: Option<serde_json::Value>,
    /// CloudTrail `responseElements` (secrets removed).
    pub audit: AuditElements,
}

/// A reply's CloudTrail `responseElements`: a JSON tree, or for the actions on the hot path
/// (the minting ones) the object's text, written once by the action with `wire::json_out`
/// instead of a tree built, walked and dropped on every request.
#[derive(Debug)]
pub enum AuditElements {
    /// Any JSON value (`null` when the action records none). A federation action's
    /// `userIdentity` member is taken from it for the event's caller.
    Json(serde_json::Value),
    /// A JSON object's text, exactly as serde_json would write the same object (members in
    /// name order, compact).
    Text(Vec<u8>),
}

impl AuditElements {
    /// Takes a member out of a JSON object (a federation action's `userIdentity`); the text
    /// form has none to take.
    pub fn take_member(&mut self, name: &str) -> Option<serde_json::Value> {
        match self {
            Self::Json(v) => v.as_object_mut()?.remove(name),
            Self::Text(_) => None,
        }
    }
}

impl Default for AuditElements {
    fn default() -> Self {
        Self::Json(serde_json::Value::Null)
    }
}

impl From<serde_json::Value> for AuditElements {
    fn from(v: serde_json::Value) -> Self {
        Self::Json(v)
    }
}

/// Per-request context handed to actions.
#[derive(Debug)]
pub struct Ctx {
    /// Shared state.
    pub st: Arc<AppState>,
    /// The authenticated caller, if any.
    pub caller: Option<Caller>,
    /// Request facts for conditions.
    pub env: Env,
    /// Request id.
    pub request_id: crate::ids::RequestId,
    /// Whether the client asked for JSON (`Accept: application/json`): an action with both
    /// forms builds only the one that will be sent.
    pub wants_json: bool,
}

impl Ctx {
    /// The caller, or `MissingAuthenticationToken`.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        authn::require(self.caller.as_ref())
    }
}

/// Actions that take unsigned requests: the caller proves itself with the request's own
/// credential (a SAML assertion, a web identity token), not with SigV4.
#[must_use]
pub fn unsigned_allowed(action: &str) -> bool {
    matches!(action, "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity")
}

/// Whether a session of this kind may call `action` of `service` at all (before any policy):
/// - GetFederationToken credentials: STS `GetCallerIdentity` only; no IAM;
/// - GetSessionToken credentials: STS `GetCallerIdentity` and `AssumeRole`; IAM only when the
///   session carries MFA (otherwise `InvalidClientTokenId`, as AWS answers);
/// - any temporary credentials: never `GetSessionToken` or `GetFederationToken`.
///
/// # Errors
/// The AWS answer for a call the session may not make.
pub fn session_may_call(
    service: Service,
    action: &str,
    session: &SessionClaims,
) -> Result<(), ApiError> {
    let refused =
        || ApiError::access_denied(format!("Cannot call {action} with session credentials"));
    match (service, session.kind) {
        (Service::Sts, _) if matches!(action, "GetSessionToken" | "GetFederationToken") => {
            Err(refused())
        }
        (Service::Sts, SessionKind::FederatedUser) if action != "GetCallerIdentity" => {
            Err(refused())
        }
        (Service::Sts, SessionKind::UserSession)
            if !matches!(action, "GetCallerIdentity" | "AssumeRole") =>
        {
            Err(refused())
        }
        (Service::Iam, SessionKind::FederatedUser) => Err(ApiError::access_denied(format!(
            "Cannot call {action} with federated-user credentials"
        ))),
        (Service::Iam, SessionKind::UserSession) if session.mfa_auth_time.is_none() => {
            Err(ApiError::invalid_token()
                .with_detail("GetSessionToken credentials call IAM only with MFA"))
        }
        _ => Ok(()),
    }
}

/// The action names of the `match` arms in the `dispatch` function of a module's source, sorted
/// (tests check them against the module's `ACTIONS` list).
#[cfg(test)]
pub(crate) fn dispatch_arms(src: &str) -> Vec<&str> {
    let body = src
        .split("pub async fn dispatch")
        .nth(1)
        .unwrap_or_default();
    let mut arms: Vec<&str> = body
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix('"')?
                .split_once("\" =>")
                .map(|(n, _)| n)
        })
        .collect();
    arms.sort_unstable();
    arms
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::error::Code;
    use crate::token::SessionSubject;

    fn session(kind: SessionKind, mfa: Option<i64>) -> SessionClaims {
        SessionClaims::new(
            kind,
            SessionSubject {
                account: "111111111111".into(),
                arn: "arn:aws:iam::111111111111:user/alice".into(),
                principal_arn: "arn:aws:iam::111111111111:user/alice".into(),
                principal_id: "AIDAALICE".into(),
            },
            0,
            900,
        )
        .with_mfa_auth_time(mfa)
    }

    #[test]
    fn each_session_kind_calls_what_aws_allows() {
        use SessionKind::{AssumedRole, FederatedUser, UserSession};
        let code = |svc, action, kind, mfa| {
            session_may_call(svc, action, &session(kind, mfa))
                .err()
                .map(|e| e.code)
        };
        let sts = Service::Sts;
        let iam = Service::Iam;
        assert_eq!(code(sts, "GetCallerIdentity", FederatedUser, None), None);
        assert_eq!(
            code(sts, "AssumeRole", FederatedUser, None),
            Some(Code::AccessDenied)
        );
        assert_eq!(
            code(iam, "ListUsers", FederatedUser, None),
            Some(Code::AccessDenied)
        );
        assert_eq!(code(sts, "AssumeRole", UserSession, None), None);
        assert_eq!(
            code(sts, "GetAccessKeyInfo", UserSession, None),
            Some(Code::AccessDenied)
        );
        assert_eq!(
            code(iam, "ListUsers", UserSession, None),
            Some(Code::InvalidClientTokenId)
        );
        assert_eq!(code(iam, "ListUsers", UserSession, Some(1)), None);
        for kind in [AssumedRole, UserSession, FederatedUser] {
            for action in ["GetSessionToken", "GetFederationToken"] {
                assert_eq!(code(sts, action, kind, None), Some(Code::AccessDenied));
            }
        }
        assert_eq!(code(sts, "GetAccessKeyInfo", AssumedRole, None), None);
        assert_eq!(code(iam, "ListUsers", AssumedRole, None), None);
        assert!(unsigned_allowed("AssumeRoleWithSAML"));
        assert!(!unsigned_allowed("AssumeRole"));
    }
}
