//! The Query API edge (STS and IAM, chosen by `Version`): the parameters decoded, the action
//! resolved before authentication, SigV4, dispatch, the answer rendered and the request audited.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Request};
use axum::response::Response;

use super::{audit_caller, header_str, response};
use crate::action::{Ctx, Service};
use crate::authn;
use crate::authz::Env;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::wire::Params;

/// The Query API through the router (`GET /`, and a `POST /` the listener did not serve
/// directly: a router built by [`super::app`] alone, as the in-process benches use).
pub(super) async fn query(State(st): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let source_ip = super::peer_ip(&req);
    let (parts, body) = req.into_parts();
    let body = read_body(body, st.config.server.max_body_bytes).await;
    answer(&st, parts, body, &source_ip).await
}

/// Reads a body of at most `limit` bytes; `None` when it is larger (or the read failed).
///
/// A body that arrives as one frame (a request read with its head, the usual case) is that
/// frame's buffer, not copied; one of several frames is joined (`Collected` would queue every
/// frame first: an allocation on each request).
pub(super) async fn read_body<B>(body: B, limit: usize) -> Option<Bytes>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    let mut body = std::pin::pin!(http_body_util::Limited::new(body, limit));
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.ok()?.into_data() else {
            continue; // trailers
        };
        match &first {
            None => first = Some(data),
            Some(f) => {
                if joined.is_empty() {
                    joined.extend_from_slice(f);
                }
                joined.extend_from_slice(&data);
            }
        }
    }
    if joined.is_empty() {
        Some(first.unwrap_or_default())
    } else {
        Some(joined.into())
    }
}

/// Answers a Query API request (`Action`, `Version` and the parameters in the query string
/// or the form body; `body` is `None` when it was over `server.max_body_bytes`), from
/// `source_ip`, and audits it.
pub(super) async fn answer(
    st: &Arc<AppState>,
    mut parts: Parts,
    body: Option<Bytes>,
    source_ip: &str,
) -> Response {
    let request_id = crate::ids::new_request_id();
    let now = st.clock.now();
    st.metrics.requests.inc();
    let wants_json = header_str(&parts.headers, &http::header::ACCEPT).contains("application/json");

    let Some(body) = body else {
        st.metrics.errors.inc();
        let e = ApiError::new(
            Code::RequestEntityTooLarge,
            format!(
                "Request body is larger than the limit of {} bytes",
                st.config.server.max_body_bytes
            ),
        );
        return response::error(&e, Service::Sts, &request_id, wants_json, parts.headers);
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
    let user_agent = header_str(&parts.headers, &http::header::USER_AGENT);
    let name = params.peek("Action").unwrap_or_default();
    let mut event = crate::audit::Event::new(
        now,
        service.name(),
        if name.is_empty() { "Unknown" } else { name },
        source_ip,
        user_agent,
        &request_id,
        name.starts_with("Get") || name.starts_with("List"),
    );
    event.request_parameters = Some(crate::audit::request_parameters(params.iter()));
    // The operation is resolved before authentication, as AWS does (an unknown action is
    // InvalidAction whoever asks, signed or not); its refusal waits its turn below.
    let action = resolve(name, params.peek("Version").unwrap_or_default());

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
        let action = action?;
        let rp = super::signed_parts(&parts, &body);
        let caller = authn::authenticate(st, &rp, service.name(), now).await?;
        if caller.is_none() && !crate::action::unsigned_allowed(action) {
            return Err(ApiError::new(
                Code::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            ));
        }
        let env = Env::of_request(st, now, source_ip, user_agent, caller.as_ref());
        let ctx = Ctx {
            st: st.clone(),
            caller,
            env,
            request_id,
            wants_json,
        };
        let res = match service {
            Service::Sts => crate::sts::dispatch(&ctx, action, &mut params).await,
            // Boxed: the IAM actions' futures are the largest, and unboxed they sized (and
            // made every request copy) the whole request future, the STS hot path's too.
            Service::Iam => {
                Box::pin(crate::iam::actions::dispatch(&ctx, action, &mut params)).await
            }
            // Chosen by `Version` above, never this one (it comes through `post_root`).
            Service::CognitoIdentity => Err(ApiError::new(
                Code::InvalidAction,
                format!("Could not find operation {action} for version 2010-05-08"),
            )),
        };
        Ok((action, ctx, res))
    }
    .await;

    let (mut result, action, caller) = match outcome {
        Ok((action, ctx, res)) => (res, action, ctx.caller),
        Err(e) => (Err(e), "", None),
    };
    if let Some(c) = caller {
        audit_caller(&mut event, c);
    }
    // The request's header map becomes the response's (see `response::with_headers`).
    let headers = std::mem::take(&mut parts.headers);
    let resp = match &mut result {
        Ok(reply) => {
            // An unsigned federation call names its caller in its reply (WebIdentityUser,
            // SAMLUser).
            if event.user_identity.is_none()
                && let Some(ui) = reply.audit.take_member("userIdentity")
            {
                event.user_identity = crate::audit::UserIdentity::federated(&ui);
            }
            event.response_elements = Some(std::mem::take(&mut reply.audit).into());
            response::success(action, service, reply, &request_id, wants_json, headers)
        }
        Err(e) => {
            super::record_refusal(st, &mut event, e, e.code.as_str(), &request_id);
            response::error(e, service, &request_id, wants_json, headers)
        }
    };
    let changed = result.is_ok() && !event.read_only;
    audited(st, &event, changed, resp, |e| {
        response::error(e, service, &request_id, wants_json, HeaderMap::new())
    })
    .await
}

/// The action `name` of API `version` as the API lists it (so that it outlives the
/// parameters it was read from, without a copy); `MissingAction` or `InvalidAction` when
/// there is no such action.
fn resolve(name: &str, version: &str) -> Result<&'static str, ApiError> {
    if name.is_empty() {
        return Err(ApiError::new(Code::MissingAction, "Missing Action"));
    }
    let actions = match version {
        "2011-06-15" => crate::sts::ACTIONS,
        "2010-05-08" => crate::iam::actions::ACTIONS,
        _ => &[],
    };
    actions.iter().copied().find(|a| *a == name).ok_or_else(|| {
        ApiError::new(
            Code::InvalidAction,
            format!("Could not find operation {name} for version {version}"),
        )
    })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    /// A body arriving in `frames`.
    fn framed(
        frames: &[&'static str],
    ) -> impl hyper::body::Body<Data = Bytes, Error = std::io::Error> {
        let frames: Vec<Result<hyper::body::Frame<Bytes>, std::io::Error>> = frames
            .iter()
            .map(|f| Ok(hyper::body::Frame::data(Bytes::from_static(f.as_bytes()))))
            .collect();
        http_body_util::StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_is_read_whole_within_its_limit() {
        let one = Bytes::from_static(b"Action=GetCallerIdentity");
        let got = read_body(http_body_util::Full::new(one.clone()), 100)
            .await
            .unwrap();
        assert_eq!(got, one);
        assert_eq!(
            got.as_ptr(),
            one.as_ptr(),
            "one frame: its buffer, not a copy"
        );
        for (frames, whole) in [
            (
                &["Action=", "GetCaller", "Identity"][..],
                "Action=GetCallerIdentity",
            ),
            (&["", "a=b"][..], "a=b"),
            (&["a=b", ""][..], "a=b"),
            (&["", ""][..], ""),
            (&[][..], ""),
        ] {
            let got = read_body(framed(frames), 100).await.unwrap();
            assert_eq!(got, whole.as_bytes(), "{frames:?}");
        }
        assert!(
            read_body(framed(&["Action=", "GetCaller"]), 10)
                .await
                .is_none(),
            "over the limit"
        );
        assert!(
            read_body(framed(&["0123456789"]), 10).await.is_some(),
            "at the limit"
        );
        assert!(read_body(framed(&["0123456789a"]), 10).await.is_none());
    }
}
