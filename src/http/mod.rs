//! The HTTP edge: router, limits, request ids, dispatch by `Version`, audit, and the one
//! renderer of responses and errors (`response`).

mod cognito;
pub mod listener;
pub mod response;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::action::{Ctx, Service};
use crate::authn::{self, Caller};
use crate::authz::Env;
use crate::error::{ApiError, Code};
use crate::state::{AppState, Metrics};
use crate::wire::Params;

/// Builds the router.
pub fn app(st: Arc<AppState>) -> Router {
    let max = st.config.server.max_concurrent_requests;
    let timeout = Duration::from_secs(st.config.server.request_timeout_seconds);
    let issuer_path = issuer_path(&st.issuer_url);
    let routes = Router::new()
        .route("/", get(query).post(post_root))
        .route(
            &format!("{issuer_path}{}", crate::issuer::DISCOVERY_PATH),
            get(discovery),
        )
        .route(
            &format!("{issuer_path}{}", crate::issuer::JWKS_PATH),
            get(jwks),
        )
        .route("/verify", axum::routing::post(verify))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .merge(crate::sso::routes())
        .fallback(not_found);
    with_guards(routes, max, timeout).with_state(st)
}

/// Wraps `routes` in the guards of [`guarded`], as one layer (each axum layer boxes the
/// request's future again: three layers cost about 0.7 µs a request in process, this one 0.35).
fn with_guards<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    max_concurrent: usize,
    timeout: Duration,
) -> Router<S> {
    let permits = Arc::new(tokio::sync::Semaphore::new(max_concurrent));
    routes.layer(axum::middleware::from_fn(
        move |req, next: axum::middleware::Next| {
            let permits = permits.clone();
            async move { guarded(&permits, timeout, req, next).await }
        },
    ))
}

/// Runs a request under the server's guards: at most `max_concurrent_requests` at once (the
/// others wait for a slot), a deadline covering the wait and the handler, and a panic turned
/// into an `InternalFailure` answer rather than a dropped connection.
async fn guarded(
    permits: &tokio::sync::Semaphore,
    timeout: Duration,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    use futures::FutureExt;
    let run = async {
        // The semaphore is never closed, so acquiring cannot fail; if it did, refuse.
        let Ok(_permit) = permits.acquire().await else {
            return Err(ApiError::new(
                Code::ServiceUnavailable,
                "Service is unavailable. Please retry.",
            ));
        };
        Ok(next.run(req).await)
    };
    let outcome = std::panic::AssertUnwindSafe(tokio::time::timeout(timeout, run))
        .catch_unwind()
        .await;
    let e = match outcome {
        Ok(Ok(Ok(resp))) => return resp,
        Ok(Ok(Err(e))) => e,
        Ok(Err(_)) => ApiError::new(Code::ServiceUnavailable, "Request timed out. Please retry."),
        Err(_) => ApiError::internal("handler panicked"),
    };
    response::error(&e, Service::Sts, &crate::ids::new_request_id(), false)
}

/// The path part of the issuer URL (`""` for an issuer at the root).
fn issuer_path(issuer: &str) -> String {
    let rest = issuer.split_once("://").map_or(issuer, |(_, r)| r);
    rest.find('/')
        .and_then(|i| rest.get(i..))
        .unwrap_or("")
        .trim_end_matches('/')
        .to_owned()
}

/// `POST /`: the Cognito Identity API when `X-Amz-Target` names it, else the Query API.
async fn post_root(State(st): State<Arc<AppState>>, req: Request<Body>) -> Response {
    if let Some(op) = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::cognito::wire::operation)
    {
        let op = op.to_owned();
        return cognito::handle(st, req, op).await;
    }
    query(State(st), req).await
}

/// The issuer's discovery document.
async fn discovery(State(st): State<Arc<AppState>>) -> Response {
    match crate::issuer::discovery_json(&st.issuer_url) {
        Ok(doc) => response::public_json(doc, 3600),
        Err(e) => response::error(&ApiError::internal(e), Service::Sts, "", true),
    }
}

/// The issuer's published keys.
async fn jwks(State(st): State<Arc<AppState>>) -> Response {
    response::public_json(st.issuer_keys().jwks_json().to_owned(), 300)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// Ready when the audit sink is writing with room to spare (`audit.min_free_bytes`) and the
/// store answers; a node that is not ready still serves, so a load balancer can drain it first.
async fn ready(State(st): State<Arc<AppState>>) -> Response {
    if let Some(problem) = st.keyring_problem() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("key ring: {problem}"),
        )
            .into_response();
    }
    if let Err(why) = st.audit.readiness() {
        return (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    }
    match st.iam.kv().get(crate::iam::repo::keys::ready_probe()).await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")).into_response(),
    }
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let m = &st.metrics;
    let a = st.audit.stats();
    let mut body = String::with_capacity(2048);
    let mut put = |kind: &str, name: &str, help: &str, value: u64| {
        let _ = write!(
            body,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    };
    let counter = "counter";
    let gauge = "gauge";
    put(
        counter,
        "sekisho_requests_total",
        "Requests answered.",
        m.requests.load(Relaxed),
    );
    put(
        counter,
        "sekisho_errors_total",
        "Requests answered with an error.",
        m.errors.load(Relaxed),
    );
    put(
        counter,
        "sekisho_credentials_minted_total",
        "Credentials minted.",
        m.minted.load(Relaxed),
    );
    put(
        gauge,
        "sekisho_connections_open",
        "Connections open.",
        m.connections_open.load(Relaxed),
    );
    put(
        counter,
        "sekisho_connections_refused_total",
        "Connections refused at once by server.max_connections or max_connections_per_ip.",
        m.connections_refused.load(Relaxed),
    );
    put(
        counter,
        "sekisho_connections_timed_out_total",
        "Connections closed by the header-read or idle timeout.",
        m.connections_timed_out.load(Relaxed),
    );
    put(
        gauge,
        "sekisho_audit_sink_failing",
        "1 while audit writes fail (requests are refused).",
        u64::from(a.failing),
    );
    put(
        counter,
        "sekisho_audit_write_errors_total",
        "Failed audit writes, reopenings and rotations.",
        a.write_errors,
    );
    put(
        counter,
        "sekisho_audit_events_written_total",
        "Audit events written.",
        a.events_written,
    );
    put(
        counter,
        "sekisho_audit_bytes_written_total",
        "Audit bytes written.",
        a.bytes_written,
    );
    put(
        counter,
        "sekisho_audit_rotations_total",
        "Audit file rotations by size.",
        a.rotations,
    );
    if let Some(free) = a.free_bytes {
        put(
            gauge,
            "sekisho_audit_free_bytes",
            "Free bytes on the audit file's file system.",
            free,
        );
    }
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

/// The request-id response header, named once.
static X_AMZN_REQUESTID: http::HeaderName = http::HeaderName::from_static("x-amzn-requestid");

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Actions that SDKs send unsigned.
async fn query(State(st): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let request_id = crate::ids::new_request_id();
    let now = st.clock.now();
    Metrics::inc(&st.metrics.requests);
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string());
    let (parts, body) = req.into_parts();
    let wants_json = header_str(&parts.headers, "accept").contains("application/json");
    let user_agent = header_str(&parts.headers, "user-agent").to_owned();

    let body = match axum::body::to_bytes(body, st.config.server.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            Metrics::inc(&st.metrics.errors);
            let e = ApiError::new(
                Code::RequestEntityTooLarge,
                format!(
                    "Request body is larger than the limit of {} bytes",
                    st.config.server.max_body_bytes
                ),
            );
            return response::error(&e, Service::Sts, &request_id, wants_json);
        }
    };

    let mut params = Params::default();
    let mut decoded = Ok(());
    if let Some(q) = parts.uri.query() {
        decoded = params.add_urlencoded(q.as_bytes());
    }
    if decoded.is_ok() && parts.method == Method::POST {
        decoded = params.add_urlencoded(&body);
    }
    let service = match params.peek("Version") {
        Some("2010-05-08") => Service::Iam,
        _ => Service::Sts,
    };
    let action = params.peek("Action").unwrap_or_default().to_owned();
    let mut event = crate::audit::Event::new(
        now,
        service.name(),
        if action.is_empty() {
            "Unknown"
        } else {
            &action
        },
        &source_ip,
        &user_agent,
        &request_id,
        action.starts_with("Get") || action.starts_with("List"),
    );
    event.request_parameters = Some(crate::audit::request_parameters(params.iter()));

    let outcome = async {
        decoded?;
        // Fail closed before doing anything: no change is made while it could not be audited.
        if !st.audit.healthy() {
            return Err(ApiError::new(
                Code::ServiceUnavailable,
                "Service is unavailable. Please retry.",
            )
            .with_detail("the audit sink has failed"));
        }
        if action.is_empty() {
            return Err(ApiError::new(Code::MissingAction, "Missing Action"));
        }
        // The operation is resolved before authentication, as AWS does: an unknown action is
        // InvalidAction (400) whoever asks, signed or not.
        let version = params.peek("Version").unwrap_or_default().to_owned();
        let known = match version.as_str() {
            "2011-06-15" => crate::sts::ACTIONS.contains(&action.as_str()),
            "2010-05-08" => crate::iam::actions::ACTIONS.contains(&action.as_str()),
            _ => false,
        };
        if !known {
            return Err(ApiError::new(
                Code::InvalidAction,
                format!("Could not find operation {action} for version {version}"),
            ));
        }
        let raw_path = parts.uri.path();
        let rp = crate::sigv4::RequestParts {
            method: parts.method.as_str(),
            path: raw_path,
            query: parts.uri.query().unwrap_or(""),
            headers: (&parts.headers).into(),
            body: &body,
            payload_hash: None,
        };
        let caller = authn::authenticate(&st, &rp, service.name(), now).await?;
        if caller.is_none() && !crate::action::unsigned_allowed(&action) {
            return Err(ApiError::new(
                Code::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            ));
        }
        let env = Env::of_request(&st, now, &source_ip, &user_agent, caller.as_ref());
        let ctx = Ctx {
            st: st.clone(),
            caller,
            env,
            request_id: request_id.clone(),
            wants_json,
        };
        let res = match service {
            Service::Sts => crate::sts::dispatch(&ctx, &action, &mut params).await,
            Service::Iam => crate::iam::actions::dispatch(&ctx, &action, &mut params).await,
            // Chosen by `Version` above, never this one (it comes through `post_root`).
            Service::CognitoIdentity => Err(ApiError::new(
                Code::InvalidAction,
                format!("Could not find operation {action} for version {version}"),
            )),
        };
        Ok((ctx, res))
    }
    .await;

    let (mut result, caller) = match outcome {
        Ok((ctx, res)) => (res, ctx.caller),
        Err(e) => (Err(e), None),
    };
    if let Some(c) = caller {
        audit_caller(&mut event, c);
    }
    let resp = match &mut result {
        Ok(reply) => {
            // An unsigned federation call names its caller in its reply (WebIdentityUser,
            // SAMLUser).
            if event.user_identity.is_none()
                && let Some(ui) = reply
                    .audit
                    .as_object_mut()
                    .and_then(|o| o.remove("userIdentity"))
            {
                event.user_identity = crate::audit::UserIdentity::federated(&ui);
            }
            event.response_elements = Some(std::mem::take(&mut reply.audit).into());
            response::success(&action, service, reply, &request_id, wants_json)
        }
        Err(e) => {
            Metrics::inc(&st.metrics.errors);
            event.error_code = Some(e.code.as_str());
            event.error_message = Some(e.message.clone());
            if let Some(d) = &e.detail {
                event.additional_event_data = Some(serde_json::json!({ "reason": d }));
            }
            if e.code == Code::InternalFailure {
                tracing::error!(
                    request_id,
                    detail = e.detail.as_deref().unwrap_or(""),
                    "internal failure"
                );
            }
            response::error(e, service, &request_id, wants_json)
        }
    };
    let changed = result.is_ok() && !event.read_only;
    audited(&st, &event, changed, resp, |e| {
        response::error(e, service, &request_id, wants_json)
    })
    .await
}

/// Records a request's audit event, then answers `resp`. If the sink failed while the request
/// ran, a call that changed something (`changed`) has happened: its answer stands (a
/// CreateAccessKey secret must not be lost behind a 503) and its event goes to the error log,
/// which holds no secrets either; anything else is refused with `unavailable`, as every later
/// request will be.
pub(crate) async fn audited(
    st: &AppState,
    event: &crate::audit::Event,
    changed: bool,
    resp: Response,
    unavailable: impl FnOnce(&ApiError) -> Response,
) -> Response {
    if st.audit.record_event(event).await.is_ok() {
        return resp;
    }
    if changed {
        tracing::error!(event = %serde_json::to_string(event).unwrap_or_default(),
            "audit sink failed after a change was made; its event follows");
        return resp;
    }
    unavailable(&ApiError::new(
        Code::ServiceUnavailable,
        "Service is unavailable. Please retry.",
    ))
}

/// `POST /verify`: the resource-server verification endpoint (see `crate::verify`).
async fn verify(State(st): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let request_id = crate::ids::new_request_id();
    let now = st.clock.now();
    Metrics::inc(&st.metrics.requests);
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string());
    let (parts, body) = req.into_parts();
    let mut event = crate::audit::Event::new(
        now,
        "sts",
        "VerifyRequest",
        &source_ip,
        header_str(&parts.headers, "user-agent"),
        &request_id,
        true,
    );
    let outcome: Result<Vec<u8>, ApiError> = async {
        let body = axum::body::to_bytes(body, st.config.server.max_body_bytes)
            .await
            .map_err(|_| ApiError::new(Code::RequestEntityTooLarge, "Request body is too large"))?;
        let rp = crate::sigv4::RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: (&parts.headers).into(),
            body: &body,
            payload_hash: None,
        };
        let caller = authn::authenticate(&st, &rp, "sts", now)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    Code::MissingAuthenticationToken,
                    "Request is missing Authentication Token",
                )
            })?;
        let env = Env::of_request(
            &st,
            now,
            &source_ip,
            header_str(&parts.headers, "user-agent"),
            Some(&caller),
        );
        let allowed =
            crate::authz::authorize(&st, &caller, &env, "sekisho:VerifyRequest", "*").await;
        let asker_account = caller.account.clone();
        audit_caller(&mut event, caller);
        allowed?;
        let input: crate::verify::VerifyInput = serde_json::from_slice(&body)
            .map_err(|e| ApiError::validation(format!("invalid verification request: {e}")))?;
        let answer = crate::verify::verify_request(&st, &input, Some(&asker_account)).await?;
        event.request_parameters = Some(crate::audit::Elements::VerifyQuestion {
            service: input.service.to_string(),
            action: input.action.as_deref().map(str::to_owned),
            resource: input.resource.as_deref().map(str::to_owned),
        });
        event.response_elements = Some(crate::audit::Elements::VerifyAnswer {
            authenticated: answer.authenticated,
            principal: answer.principal.as_ref().map(|p| p.arn.clone()),
            decision: answer.decision.as_ref().map(|d| d.effect.clone()),
        });
        let mut out = Vec::with_capacity(1024);
        answer.write_json(&mut out);
        Ok(out)
    }
    .await;
    let resp = match outcome {
        Ok(body) => {
            let mut r = Response::new(Body::from(body));
            let h = r.headers_mut();
            h.reserve(2);
            h.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            if let Ok(v) = http::HeaderValue::from_str(&request_id) {
                h.insert(X_AMZN_REQUESTID.clone(), v);
            }
            r
        }
        Err(e) => {
            Metrics::inc(&st.metrics.errors);
            event.error_code = Some(e.code.as_str());
            event.error_message = Some(e.message.clone());
            response::error(&e, Service::Sts, &request_id, true)
        }
    };
    if st.audit.record_event(&event).await.is_err() {
        let e = ApiError::new(
            Code::ServiceUnavailable,
            "Service is unavailable. Please retry.",
        );
        return response::error(&e, Service::Sts, &request_id, true);
    }
    resp
}

/// Records the caller in the request's audit event (moving its strings, not copying them).
fn audit_caller(event: &mut crate::audit::Event, mut caller: Caller) {
    event.aws_region = std::mem::take(&mut caller.region);
    event.recipient_account_id = Some(caller.account.clone());
    event.user_identity = Some(caller.into_audit_identity());
}

/// Serves `app` on an already-bound listener until `shutdown` resolves, under the connection
/// caps and timeouts of `[server]` (see [`listener`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    st: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve(listener, app(st.clone()), st, shutdown).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    async fn call(app: &Router, path: &str) -> (StatusCode, String) {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[expect(clippy::panic, reason = "the panic is the test")]
    async fn panics() -> &'static str {
        panic!("boom")
    }

    #[test]
    fn the_issuer_path_is_the_urls_path() {
        assert_eq!(issuer_path("http://127.0.0.1:8080"), "");
        assert_eq!(issuer_path("https://sts.example.com/"), "");
        assert_eq!(issuer_path("https://x.example.com/tenant/a"), "/tenant/a");
    }

    #[tokio::test]
    async fn guards_answer_panics_and_timeouts_as_aws_errors() {
        let routes = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/panic", get(panics))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            );
        let app = with_guards(routes, 4, Duration::from_millis(200));
        assert_eq!(call(&app, "/ok").await, (StatusCode::OK, "ok".into()));
        let (status, body) = call(&app, "/panic").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("<Code>InternalFailure</Code>"), "{body}");
        assert!(!body.contains("boom"), "panic text is not echoed: {body}");
        let (status, body) = call(&app, "/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("Request timed out"), "{body}");
        assert_eq!(call(&app, "/ok").await.0, StatusCode::OK, "still serving");
    }

    #[tokio::test]
    async fn guards_bound_requests_in_flight() {
        static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
        static PEAK: AtomicUsize = AtomicUsize::new(0);
        let routes = Router::new().route(
            "/work",
            get(|| async {
                let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
                PEAK.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                "done"
            }),
        );
        let app = with_guards(routes, 2, Duration::from_secs(30));
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { call(&app, "/work").await })
            })
            .collect();
        for c in calls {
            assert_eq!(
                c.await.unwrap(),
                (StatusCode::OK, "done".into()),
                "waited, not refused"
            );
        }
        assert_eq!(
            PEAK.load(Ordering::SeqCst),
            2,
            "never more than the limit at once"
        );
    }
}
