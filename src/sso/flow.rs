//! The browser sign-in's handlers: `POST /saml` (the ACS: IdP-initiated, or the answer to our
//! AuthnRequest), `POST /saml/choose` (the role chooser's form), `GET /saml/login` (SP-initiated:
//! an AuthnRequest by HTTP-Redirect) and `GET /saml/metadata`.
//!
//! Verification and minting are `AssumeRoleWithSAML`'s own ([`verify_response`],
//! [`mint_for_pair`]); this file adds what a browser needs around them: forms, the single-use
//! chooser state (the response, sealed at rest, re-verified when the role is chosen, so a
//! choice cannot outlive its assertion), CSRF, `InResponseTo` against our single-use request
//! ids, the audit event of every attempt, and pages instead of XML.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::html::{self, CredentialsView, RoleChoice};
use super::pending::{self, Kind};
use super::{headers as sec, sp};
use crate::authz::Env;
use crate::error::{ApiError, Code};
use crate::idp::saml::RolePair;
use crate::secret::SecretString;
use crate::state::AppState;
use crate::sts::actions::assume_role_with_saml::{
    self as arws, SamlLogin, SessionRequest, mint_for_pair, verify_response,
};

/// The cookie that names a pending role choice.
pub const COOKIE: &str = "sekisho_sso";
/// How long a role choice or an AuthnRequest waits, at most.
const PENDING_SECONDS: i64 = 300;
/// Most role/provider pairs offered in one chooser.
const MAX_PAIRS: usize = 200;

/// A role choice waiting for the user's answer.
#[derive(Serialize, Deserialize)]
struct Choice {
    /// The base64 `SAMLResponse`, sealed at rest (owner `sso/<id>`).
    sealed_response: String,
    /// The provider that verified it.
    provider_arn: String,
    /// The pairs offered, in the order of the form's values.
    pairs: Vec<(String, String)>,
    /// The form's anti-CSRF token.
    csrf: String,
}

/// An AuthnRequest we sent.
#[derive(Serialize, Deserialize)]
struct Sent {
    provider_arn: String,
}

fn owner(id: &str) -> String {
    format!("sso/{id}")
}

/// A page with the SSO headers.
fn page(st: &AppState, status: StatusCode, body: String) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    sec::apply(resp.headers_mut(), https(st));
    resp
}

fn https(st: &AppState) -> bool {
    st.config.server.public_url.starts_with("https://")
}

/// An error page: the status of the AWS code, a terse message, nothing from the assertion.
fn error_page(st: &AppState, e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let (title, message) = match e.code {
        Code::ServiceUnavailable | Code::InternalFailure => (
            "Sign-in is unavailable",
            "Sekisho cannot complete sign-ins right now. Please try again shortly.",
        ),
        Code::AccessDenied => (
            "Access denied",
            "You are not allowed to use this role. Ask your administrator.",
        ),
        Code::ExpiredTokenException => (
            "Sign-in expired",
            "The sign-in has expired. Sign in again from your identity provider.",
        ),
        _ => (
            "Sign-in failed",
            "The sign-in could not be accepted. Sign in again from your identity provider.",
        ),
    };
    page(st, status, html::error(title, message))
}

/// What a handler needs to audit the attempt.
struct Attempt {
    event: crate::audit::Event,
    source_ip: String,
    user_agent: String,
}

impl Attempt {
    fn new(st: &AppState, req: &Request<Body>, now: DateTime<Utc>) -> Self {
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string());
        let ua = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        st.metrics.requests.inc();
        let mut event = crate::audit::Event::new(
            now,
            "sts",
            "AssumeRoleWithSAML",
            &ip,
            ua,
            &crate::ids::new_request_id(),
            false,
        );
        event.additional_event_data = Some(serde_json::json!({ "via": "browser" }));
        Self {
            event,
            source_ip: ip,
            user_agent: ua.to_owned(),
        }
    }

    fn env(&self, st: &AppState, now: DateTime<Utc>) -> Env {
        Env::of_request(st, now, &self.source_ip, &self.user_agent, None)
    }

    /// Records the outcome; if the audit sink fails, credentials are not handed out.
    async fn finish(mut self, st: &AppState, outcome: Result<Response, ApiError>) -> Response {
        let failed = outcome.as_ref().err().cloned();
        if let Some(e) = &failed {
            st.metrics.errors.inc();
            self.event.error_code = Some(e.code.as_str());
            self.event.error_message = Some(e.message.clone());
            if let Some(d) = &e.detail {
                self.event.additional_event_data =
                    Some(serde_json::json!({ "via": "browser", "reason": d }));
            }
        }
        if st.audit.record(&self.event).await.is_err() {
            let e = ApiError::new(Code::ServiceUnavailable, "audit sink failed");
            return error_page(st, &e);
        }
        match outcome {
            Ok(r) => r,
            Err(e) => error_page(st, &e),
        }
    }
}

/// Reads a form body (bounded by the server's body limit).
async fn form(st: &AppState, body: Body) -> Result<Vec<(String, String)>, ApiError> {
    let bytes = axum::body::to_bytes(body, st.config.server.max_body_bytes)
        .await
        .map_err(|_| ApiError::new(Code::RequestEntityTooLarge, "Request body is too large"))?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut it = f.iter().filter(|(k, _)| k == name);
    match (it.next(), it.next()) {
        (Some((_, v)), None) => Some(v.as_str()),
        _ => None,
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(st: &AppState, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if https(st) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/saml; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// `POST /saml`: verify, then one role → credentials, several → the chooser.
pub async fn acs(State(st): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let now = st.clock.now();
    let mut attempt = Attempt::new(&st, &req, now);
    let env = attempt.env(&st, now);
    let outcome = async {
        if !st.audit.healthy() {
            return Err(ApiError::new(Code::ServiceUnavailable, "audit sink failed"));
        }
        let f = form(&st, req.into_body()).await?;
        let response = field(&f, "SAMLResponse")
            .ok_or_else(|| ApiError::validation("SAMLResponse is required"))?;
        let login = verify_response(&st, response, None, now).await?;
        check_solicited(&st, &login, now).await?;
        let pairs: Vec<RolePair> = login.roles.iter().take(MAX_PAIRS).cloned().collect();
        match pairs.as_slice() {
            [] => Err(
                ApiError::new(Code::IdpRejectedClaim, "The SAML assertion names no role")
                    .with_detail("the Role attribute holds no role,provider pair"),
            ),
            [one] => credentials(&st, &env, &login, one, &mut attempt).await,
            several => chooser(&st, &login, response, several, now).await,
        }
    }
    .await;
    attempt.finish(&st, outcome).await
}

/// An assertion that answers an AuthnRequest (`InResponseTo`) must answer one of ours, once,
/// for the same provider; one that answers nothing is IdP-initiated.
async fn check_solicited(
    st: &AppState,
    login: &SamlLogin,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(id) = login.assertion.in_response_to.as_deref() else {
        return Ok(());
    };
    let sent: Option<Sent> = pending::take(&**st.iam.kv(), Kind::Request, id, now).await?;
    match sent {
        Some(s) if s.provider_arn == login.provider.arn => Ok(()),
        Some(s) => Err(
            ApiError::new(Code::InvalidIdentityToken, "Invalid SAML response").with_detail(
                format!(
                    "InResponseTo {id} answers a request sent to {}, not {}",
                    s.provider_arn, login.provider.arn
                ),
            ),
        ),
        None => Err(
            ApiError::new(Code::InvalidIdentityToken, "Invalid SAML response").with_detail(
                format!(
                    "InResponseTo {id} is not a pending request of ours (unknown, used or expired)"
                ),
            ),
        ),
    }
}

/// Mints for one pair and renders the credentials page.
async fn credentials(
    st: &AppState,
    env: &Env,
    login: &SamlLogin,
    pair: &RolePair,
    attempt: &mut Attempt,
) -> Result<Response, ApiError> {
    let s = mint_for_pair(st, env, login, pair, &SessionRequest::default()).await?;
    let mut audit = arws::audit_of(login, &s);
    if let Some(ui) = audit.as_object_mut().and_then(|o| o.remove("userIdentity")) {
        attempt.event.user_identity = crate::audit::UserIdentity::federated(&ui);
    }
    attempt.event.response_elements = Some(audit.into());
    st.metrics.minted.inc();
    let view = CredentialsView {
        role_arn: &pair.role_arn,
        assumed_role_arn: &s.issued.claims.arn,
        access_key_id: &s.issued.access_key_id,
        secret_access_key: s.issued.secret.expose(),
        session_token: s.issued.token.expose(),
        expiration: s.issued.expiration,
        endpoint: &st.config.server.public_url,
    };
    Ok(page(st, StatusCode::OK, html::credentials(&view, env.now)))
}

/// Stores the choice and renders the chooser.
async fn chooser(
    st: &AppState,
    login: &SamlLogin,
    response: &str,
    pairs: &[RolePair],
    now: DateTime<Utc>,
) -> Result<Response, ApiError> {
    let id = pending::new_id();
    let csrf = pending::new_id();
    let sealed_response = st
        .iam
        .at_rest()
        .seal(&owner(&id), &SecretString::from(response))
        .map_err(ApiError::internal)?;
    let choice = Choice {
        sealed_response,
        provider_arn: login.provider.arn.clone(),
        pairs: pairs
            .iter()
            .map(|p| (p.role_arn.clone(), p.provider_arn.clone()))
            .collect(),
        csrf: csrf.clone(),
    };
    let until = DateTime::from_timestamp(login.assertion.not_on_or_after, 0)
        .unwrap_or(now)
        .min(now + chrono::Duration::seconds(PENDING_SECONDS));
    pending::put_as(&**st.iam.kv(), Kind::Choice, &id, &choice, until).await?;
    // Each account's alias, read once however many of its roles are offered.
    let mut aliases: crate::FastMap<String, Option<String>> = crate::FastMap::default();
    let mut roles = Vec::with_capacity(pairs.len());
    for (n, p) in pairs.iter().enumerate() {
        let account = p.role_arn.split(':').nth(4).unwrap_or_default().to_owned();
        if !aliases.contains_key(&account) {
            let alias = st.iam.account(&account).await?.and_then(|a| a.alias);
            aliases.insert(account.clone(), alias);
        }
        let account_alias = aliases.get(&account).cloned().flatten();
        roles.push(RoleChoice {
            account,
            account_alias,
            role_arn: p.role_arn.clone(),
            value: n.to_string(),
        });
    }
    let mut resp = page(
        st,
        StatusCode::OK,
        html::chooser(&login.assertion.name_id.value, &roles, &csrf),
    );
    if let Some(c) = set_cookie(st, &id, (until - now).num_seconds().max(1)) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// `POST /saml/choose`: the chooser's answer.
pub async fn choose(State(st): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let now = st.clock.now();
    let mut attempt = Attempt::new(&st, &req, now);
    let env = attempt.env(&st, now);
    let id = cookie(req.headers(), COOKIE).unwrap_or_default().to_owned();
    let outcome = async {
        if !st.audit.healthy() {
            return Err(ApiError::new(Code::ServiceUnavailable, "audit sink failed"));
        }
        let f = form(&st, req.into_body()).await?;
        let expired = || {
            ApiError::new(Code::ExpiredTokenException, "The sign-in has expired")
                .with_detail("no pending role choice for this browser (unknown, used or expired)")
        };
        let choice: Choice = pending::take(&**st.iam.kv(), Kind::Choice, &id, now)
            .await?
            .ok_or_else(expired)?;
        let csrf = field(&f, "csrf").unwrap_or_default();
        if !bool::from(csrf.as_bytes().ct_eq(choice.csrf.as_bytes())) {
            return Err(ApiError::access_denied("Invalid form").with_detail("CSRF token mismatch"));
        }
        let pair = field(&f, "role")
            .and_then(|v| v.parse::<usize>().ok())
            .and_then(|n| choice.pairs.get(n))
            .map(|(role_arn, provider_arn)| RolePair {
                role_arn: role_arn.clone(),
                provider_arn: provider_arn.clone(),
            })
            .ok_or_else(|| ApiError::validation("Choose one of the roles offered"))?;
        let response = st
            .iam
            .at_rest()
            .open(&owner(&id), &choice.sealed_response)
            .map_err(ApiError::internal)?;
        let login =
            arws::reverify_response(&st, response.expose(), &choice.provider_arn, now).await?;
        credentials(&st, &env, &login, &pair, &mut attempt).await
    }
    .await;
    let mut resp = attempt.finish(&st, outcome).await;
    if let Some(c) = set_cookie(&st, "", 0) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

/// `GET /saml/login?provider=<SAML provider ARN>`: SP-initiated sign-in.
pub async fn login(
    State(st): State<Arc<AppState>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let now = st.clock.now();
    let ip = peer.map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), |p| {
        p.0.0.ip()
    });
    if !st.sso_sign_in_budget.allow(ip, now.timestamp()) {
        tracing::warn!(%ip, "GET /saml/login: the address's budget for this minute is spent");
        let mut resp = page(
            &st,
            StatusCode::TOO_MANY_REQUESTS,
            html::error(
                "Too many sign-in attempts",
                "Too many sign-ins were started from your network. Try again in a minute.",
            ),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return resp;
    }
    let outcome = async {
        let arn = field(&q, "provider")
            .ok_or_else(|| ApiError::validation("provider (a SAML provider ARN) is required"))?;
        let Some((account, name)) = crate::iam::names::parse_saml_provider_arn(arn) else {
            return Err(ApiError::validation("provider must be a SAML provider ARN"));
        };
        let metadata = st
            .iam
            .saml_metadata(account, name)
            .await?
            .ok_or_else(|| ApiError::new(Code::NoSuchEntity, "No such SAML provider"))?;
        let idp_url = sp::idp_sign_in_url(&metadata).ok_or_else(|| {
            ApiError::validation(
                "The provider's metadata has no SingleSignOnService with the HTTP-Redirect binding",
            )
        })?;
        let id = format!("_{}", pending::new_id());
        let sent = Sent {
            provider_arn: arn.to_owned(),
        };
        let until = now + chrono::Duration::seconds(PENDING_SECONDS);
        pending::put_as(&**st.iam.kv(), Kind::Request, &id, &sent, until).await?;
        let url = sp::authn_request_url(
            &idp_url,
            &st.config.saml_sp_entity_id(),
            &st.config.saml_acs_url(),
            &id,
            now,
        )
        .map_err(ApiError::internal)?;
        HeaderValue::from_str(&url).map_err(ApiError::internal)
    }
    .await;
    match outcome {
        Ok(location) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(header::LOCATION, location);
            sec::apply(resp.headers_mut(), https(&st));
            resp
        }
        Err(e) => error_page(&st, &e),
    }
}

/// `GET /saml/metadata`: Sekisho's SP metadata.
pub async fn metadata(State(st): State<Arc<AppState>>) -> Response {
    match sp::metadata(
        &st.config.saml_sp_entity_id(),
        &st.config.saml_acs_url(),
        st.clock.now(),
    ) {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(e) => error_page(&st, &ApiError::internal(e)),
    }
}
