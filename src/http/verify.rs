//! `POST /verify`: the resource-server verification endpoint (see `crate::verify`): the asker
//! authenticated by SigV4 and allowed `sekisho:VerifyRequest`, the question answered, audited.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request};
use axum::response::Response;

use super::{X_AMZN_REQUESTID, audit_caller, header_str, response};
use crate::action::Service;
use crate::authn;
use crate::authz::Env;
use crate::error::{ApiError, Code};
use crate::state::AppState;

/// `POST /verify` through the router (a router built by [`super::app`] alone).
pub(super) async fn verify(State(st): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let source_ip = super::peer_ip(&req);
    let (parts, body) = req.into_parts();
    let body = super::query::read_body(body, st.config.server.max_body_bytes).await;
    answer(&st, parts, body, &source_ip).await
}

/// Answers a verification request (`body` is `None` when it was over `server.max_body_bytes`)
/// from `source_ip`, and audits it.
pub(super) async fn answer(
    st: &Arc<AppState>,
    mut parts: Parts,
    body: Option<Bytes>,
    source_ip: &str,
) -> Response {
    let request_id = crate::ids::new_request_id();
    let now = st.clock.now();
    st.metrics.requests.inc();
    let mut event = crate::audit::Event::new(
        now,
        "sts",
        "VerifyRequest",
        source_ip,
        header_str(&parts.headers, "user-agent"),
        &request_id,
        true,
    );
    let outcome: Result<Box<[u8]>, ApiError> = async {
        let body = body.ok_or_else(|| {
            ApiError::new(Code::RequestEntityTooLarge, "Request body is too large")
        })?;
        let rp = super::signed_parts(&parts, &body);
        let caller = authn::authenticate(st, &rp, "sts", now)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    Code::MissingAuthenticationToken,
                    "Request is missing Authentication Token",
                )
            })?;
        let env = Env::of_request(
            st,
            now,
            source_ip,
            header_str(&parts.headers, "user-agent"),
            Some(&caller),
        );
        let allowed =
            crate::authz::authorize(st, &caller, &env, "sekisho:VerifyRequest", "*").await;
        audit_caller(&mut event, caller);
        allowed?;
        let input = crate::verify::parse_question(&body)
            .map_err(|e| ApiError::validation(format!("invalid verification request: {e}")))?;
        // The asker's account, as the event records it (`audit_caller` moved the caller there).
        let asker_account = event.recipient_account_id.as_deref();
        let answer = crate::verify::verify_request(st, &input, asker_account).await?;
        let mut out = Vec::with_capacity(1024);
        answer.write_json(&mut out);
        event.request_parameters = Some(crate::audit::Elements::VerifyQuestion {
            service: input.service.into_owned(),
            action: input.action.as_deref().map(str::to_owned),
            resource: input.resource.as_deref().map(str::to_owned),
        });
        // Written: the answer's text moves into the event.
        event.response_elements = Some(crate::audit::Elements::VerifyAnswer {
            authenticated: answer.authenticated,
            principal: answer.principal.map(|p| p.arn),
            decision: answer.decision.map(|d| d.effect),
        });
        // Trimmed to its length (in place when the allocator can): a body whose length is its
        // capacity becomes the response's `Bytes` without a second allocation.
        Ok(out.into_boxed_slice())
    }
    .await;
    // The request's header map becomes the response's (see `response::with_headers`).
    let headers = std::mem::take(&mut parts.headers);
    let resp = match outcome {
        Ok(body) => {
            let mut r = response::with_headers(Body::from(Bytes::from(body)), headers);
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
            st.metrics.errors.inc();
            event.error_code = Some(e.code.as_str());
            event.error_message = Some(e.message.clone());
            response::error(&e, Service::Sts, &request_id, true, headers)
        }
    };
    if st.audit.record_event(&event).await.is_err() {
        let e = ApiError::new(
            Code::ServiceUnavailable,
            "Service is unavailable. Please retry.",
        );
        return response::error(&e, Service::Sts, &request_id, true, HeaderMap::new());
    }
    resp
}
