//! The HTTP edge: router, limits, request ids, dispatch by `Version`, audit, and the one
//! renderer of responses and errors (`response`).

mod cognito;
pub mod listener;
mod query;
pub mod response;
mod verify;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::action::Service;
use crate::authn::Caller;
use crate::error::{ApiError, Code};
use crate::state::AppState;

/// Builds the router, under guards of its own (the server shares its guards with the hot
/// routes: see [`serve`]).
pub fn app(st: Arc<AppState>) -> Router {
    let guards = Guards::of(&st);
    app_with(st, guards)
}

/// Builds the router under `guards`.
fn app_with(st: Arc<AppState>, guards: Guards) -> Router {
    let issuer_path = issuer_path(&st.issuer_url);
    let routes = Router::new()
        .route("/", get(query::query).post(post_root))
        .route(
            &format!("{issuer_path}{}", crate::issuer::DISCOVERY_PATH),
            get(discovery),
        )
        .route(
            &format!("{issuer_path}{}", crate::issuer::JWKS_PATH),
            get(jwks),
        )
        .route("/verify", axum::routing::post(verify::verify))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .merge(crate::sso::routes())
        .fallback(not_found);
    with_guards(routes, guards).with_state(st)
}

/// Wraps `routes` in [`Guards::run`], as one layer (each axum layer boxes the request's future
/// again: three layers cost about 0.7 µs a request in process, this one 0.35).
fn with_guards<S: Clone + Send + Sync + 'static>(routes: Router<S>, guards: Guards) -> Router<S> {
    routes.layer(axum::middleware::from_fn(
        move |req, next: axum::middleware::Next| {
            let guards = guards.clone();
            async move { guards.run(next.run(req)).await }
        },
    ))
}

/// The server's request guards, one set for the whole server: the router's layer and the hot
/// routes the listener serves directly ([`dispatch`]) run every request under the same ones.
#[derive(Debug, Clone)]
pub(crate) struct Guards {
    permits: Arc<tokio::sync::Semaphore>,
    timeout: Duration,
}

impl Guards {
    /// At most `max_concurrent` requests at once, each answered within `timeout`.
    fn new(max_concurrent: usize, timeout: Duration) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(max_concurrent)),
            timeout,
        }
    }

    /// The guards `[server]` configures.
    fn of(st: &AppState) -> Self {
        Self::new(
            st.config.server.max_concurrent_requests,
            Duration::from_secs(st.config.server.request_timeout_seconds),
        )
    }

    /// Runs a request's handling under the guards: at most `max_concurrent_requests` at once
    /// (the others wait for a slot), a deadline covering the wait and the handler (the body's
    /// reading included), and a panic turned into an `InternalFailure` answer rather than a
    /// dropped connection.
    pub(crate) async fn run(&self, handler: impl Future<Output = Response>) -> Response {
        use futures::FutureExt;
        let run = async {
            // The semaphore is never closed, so acquiring cannot fail; if it did, refuse.
            let Ok(_permit) = self.permits.acquire().await else {
                return Err(ApiError::new(
                    Code::ServiceUnavailable,
                    "Service is unavailable. Please retry.",
                ));
            };
            Ok(handler.await)
        };
        let outcome = std::panic::AssertUnwindSafe(tokio::time::timeout(self.timeout, run))
            .catch_unwind()
            .await;
        let e = match outcome {
            Ok(Ok(Ok(resp))) => return resp,
            Ok(Ok(Err(e))) => e,
            Ok(Err(_)) => {
                ApiError::new(Code::ServiceUnavailable, "Request timed out. Please retry.")
            }
            Err(_) => ApiError::internal("handler panicked"),
        };
        response::error(
            &e,
            Service::Sts,
            &crate::ids::new_request_id(),
            false,
            HeaderMap::new(),
        )
    }
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
    query::query(State(st), req).await
}

/// The issuer's discovery document.
async fn discovery(State(st): State<Arc<AppState>>) -> Response {
    match crate::issuer::discovery_json(&st.issuer_url) {
        Ok(doc) => response::public_json(doc, 3600),
        Err(e) => response::error(
            &ApiError::internal(e),
            Service::Sts,
            "",
            true,
            HeaderMap::new(),
        ),
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
        gauge,
        "sekisho_audit_events_waiting",
        "Audit events accepted and not yet written (0: the file holds every answered request).",
        a.events_waiting,
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
pub(super) static X_AMZN_REQUESTID: http::HeaderName =
    http::HeaderName::from_static("x-amzn-requestid");

pub(super) use query::audited;

/// The source address of a request through the router, as text (`127.0.0.1` when the request
/// did not come through the listener, as in process).
fn peer_ip<B>(req: &Request<B>) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string())
}

/// What SigV4 reads of a request: its head and its (size-limited) body.
fn signed_parts<'a>(
    parts: &'a axum::http::request::Parts,
    body: &'a [u8],
) -> crate::sigv4::RequestParts<'a> {
    crate::sigv4::RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: (&parts.headers).into(),
        body,
        payload_hash: None,
    }
}

/// Records a refusal in its request's audit event (`code`: its code as the API names it) and
/// the error count; an internal failure is logged with its detail (Sekisho's own words, never a
/// secret) and the request id.
fn record_refusal(
    st: &AppState,
    event: &mut crate::audit::Event,
    e: &ApiError,
    code: &'static str,
    request_id: &str,
) {
    st.metrics.errors.inc();
    event.error_code = Some(code);
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
}

/// A header's text, `""` when absent or not visible ASCII. A `HeaderName` constant
/// (`&http::header::USER_AGENT`) is looked up as it is; a `&str` name is parsed first.
fn header_str(h: &HeaderMap, name: impl http::header::AsHeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Records the caller in the request's audit event (moving its strings, not copying them).
fn audit_caller(event: &mut crate::audit::Event, mut caller: Caller) {
    event.aws_region = std::mem::take(&mut caller.region);
    event.recipient_account_id = Some(caller.account.clone());
    event.user_identity = Some(caller.into_audit_identity());
}

/// What the listener serves: the Query API (`POST /`) and `POST /verify` straight to their
/// handlers, everything else through the router; both under the same [`Guards`].
#[derive(Debug)]
pub(crate) struct Edge {
    st: Arc<AppState>,
    router: Router,
    guards: Guards,
}

/// A route the listener serves without the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hot {
    /// `POST /` without a Cognito Identity `X-Amz-Target`.
    Query,
    /// `POST /verify`.
    Verify,
}

/// The hot route `req` takes, if any: the router's per-request work (its clone, the boxed
/// futures of the guard layer and the handler, the route lookup, the extractors) is a fifth of
/// a GetCallerIdentity outside the action; these two routes are most of the traffic.
fn hot_route<B>(req: &Request<B>) -> Option<Hot> {
    if req.method() != Method::POST {
        return None;
    }
    match req.uri().path() {
        "/" if !req.headers().get("x-amz-target").is_some_and(|v| {
            v.to_str()
                .ok()
                .and_then(crate::cognito::wire::operation)
                .is_some()
        }) =>
        {
            Some(Hot::Query)
        }
        "/verify" => Some(Hot::Verify),
        _ => None,
    }
}

impl Edge {
    /// The server's edge: its router and the guards it shares with the hot routes.
    pub(crate) fn new(st: Arc<AppState>) -> Self {
        let guards = Guards::of(&st);
        let router = app_with(st.clone(), guards.clone());
        Self { st, router, guards }
    }

    /// Answers one request from `peer` (`peer_ip`: its address as text, formatted once for
    /// the connection).
    pub(crate) async fn dispatch(
        &self,
        mut req: Request<hyper::body::Incoming>,
        peer: SocketAddr,
        peer_ip: &str,
    ) -> Response {
        let Some(hot) = hot_route(&req) else {
            req.extensions_mut().insert(ConnectInfo(peer));
            return match tower::Service::call(&mut self.router.clone(), req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
        };
        let st = &self.st;
        let limit = st.config.server.max_body_bytes;
        // The handler's state (a few kilobytes: the hot actions' futures; the IAM and federation
        // ones are boxed where they are dispatched, or they would size it) lives on the heap,
        // written once: unboxed, it made the guards', the dispatcher's and the connection's
        // futures as large, and each layer copied it when it took it over (memmove was ~2% of
        // AssumeRole's server time).
        self.guards
            .run(Box::pin(async move {
                let (parts, body) = req.into_parts();
                // Read under the guards: the request deadline covers a slow body.
                let body = query::read_body(body, limit).await;
                match hot {
                    Hot::Query => query::answer(st, parts, body, peer_ip).await,
                    Hot::Verify => verify::answer(st, parts, body, peer_ip).await,
                }
            }))
            .await
    }
}

/// Serves `app` on an already-bound listener until `shutdown` resolves, under the connection
/// caps and timeouts of `[server]` (see [`listener`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    st: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve(listener, Arc::new(Edge::new(st.clone())), st, shutdown).await
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
        let app = with_guards(routes, Guards::new(4, Duration::from_millis(200)));
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
        let app = with_guards(routes, Guards::new(2, Duration::from_secs(30)));
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

    #[tokio::test]
    async fn guards_run_a_bare_handler_as_the_layer_does() {
        // The hot routes' handlers run in `Guards::run` without the router: the same answers.
        let g = Guards::new(4, Duration::from_millis(200));
        let body = |r: Response| async {
            let status = r.status();
            let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (status, String::from_utf8_lossy(&b).into_owned())
        };
        let (status, text) = body(g.run(async { panics().await.into_response() }).await).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(text.contains("<Code>InternalFailure</Code>"), "{text}");
        assert!(!text.contains("boom"), "{text}");
        let slow = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "late".into_response()
        };
        let (status, text) = body(g.run(slow).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("Request timed out"), "{text}");
        let (status, text) = body(g.run(async { "ok".into_response() }).await).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"));
    }

    #[test]
    fn hot_routes_are_the_query_api_and_verify() {
        let req = |method: &str, path: &str, target: Option<&str>| {
            let mut b = Request::builder().method(method).uri(path);
            if let Some(t) = target {
                b = b.header("x-amz-target", t);
            }
            b.body(()).unwrap()
        };
        assert_eq!(hot_route(&req("POST", "/", None)), Some(Hot::Query));
        assert_eq!(
            hot_route(&req("POST", "/?Action=GetCallerIdentity", None)),
            Some(Hot::Query)
        );
        assert_eq!(
            hot_route(&req("POST", "/", Some("SomethingElse.Op"))),
            Some(Hot::Query),
            "a target that is not Cognito's is the Query API's, as post_root decides"
        );
        assert_eq!(
            hot_route(&req("POST", "/", Some("AWSCognitoIdentityService.GetId"))),
            None,
            "Cognito Identity goes through the router"
        );
        assert_eq!(hot_route(&req("POST", "/verify", None)), Some(Hot::Verify));
        assert_eq!(hot_route(&req("GET", "/", None)), None);
        assert_eq!(hot_route(&req("GET", "/verify", None)), None);
        assert_eq!(hot_route(&req("POST", "/verify/", None)), None);
        assert_eq!(hot_route(&req("POST", "/healthz", None)), None);
    }
}
