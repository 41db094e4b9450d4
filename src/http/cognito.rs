//! The Cognito Identity edge: `POST /` with `X-Amz-Target: AWSCognitoIdentityService.<Op>`
//! (awsJson 1.1). Mirrors the Query edge (`super::query`): bounded body, operation resolved
//! before authentication, SigV4 for `cognito-identity` (the three mobile-SDK operations may be
//! unsigned), audit with login tokens redacted, and the one renderer (`super::response`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use serde_json::{Map, Value};

use super::{audit_caller, header_str, response};
use crate::action::Ctx;
use crate::authn;
use crate::cognito::{self, Input};
use crate::error::{ApiError, Code};
use crate::state::AppState;

/// The request's parameters as the audit records them: identifiers as given, `Logins` with
/// each token replaced (provider keys kept), nothing else of unbounded size.
fn audit_parameters(body: &[u8]) -> Value {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (k, v) in m {
        let key = crate::wire::params::lower_camel(&k);
        let v = match (k.as_str(), v) {
            ("Logins", Value::Object(l)) => Value::Object(
                l.into_iter()
                    .map(|(p, _)| (p, Value::String(crate::audit::HIDDEN.into())))
                    .collect(),
            ),
            (_, Value::String(s)) if s.len() <= 2048 => Value::String(s),
            (_, v @ (Value::Bool(_) | Value::Number(_))) => v,
            (_, Value::Array(a)) if a.len() <= 25 => Value::Array(a),
            (_, _) => Value::String("(omitted)".into()),
        };
        out.insert(key, v);
    }
    Value::Object(out)
}

/// Serves one Cognito Identity request.
pub(super) async fn handle(st: Arc<AppState>, req: Request<Body>, op: String) -> Response {
    let request_id = crate::ids::new_request_id();
    let now = st.clock.now();
    st.metrics.requests.inc();
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string());
    let (parts, body) = req.into_parts();
    let user_agent = header_str(&parts.headers, "user-agent").to_owned();
    let mut event = crate::audit::Event::new(
        now,
        "cognito-identity",
        &op,
        &source_ip,
        &user_agent,
        &request_id,
        cognito::read_only(&op),
    );
    let outcome = async {
        let body = axum::body::to_bytes(body, st.config.server.max_body_bytes)
            .await
            .map_err(|_| {
                ApiError::new(
                    Code::RequestEntityTooLarge,
                    format!(
                        "Request body is larger than the limit of {} bytes",
                        st.config.server.max_body_bytes
                    ),
                )
            })?;
        if !st.audit.healthy() {
            return Err(ApiError::new(
                Code::ServiceUnavailable,
                "Service is unavailable. Please retry.",
            )
            .with_detail("the audit sink has failed"));
        }
        if !cognito::ACTIONS.contains(&op.as_str()) {
            return Err(ApiError::new(
                Code::InvalidAction,
                format!("Operation {op} is not supported."),
            ));
        }
        let input = Input::parse(&body)?;
        let params = audit_parameters(&body);
        let rp = super::signed_parts(&parts, &body);
        // The unsigned operations ignore a signature (SDKs send them unsigned); the others need one.
        let caller = if cognito::unsigned_allowed(&op) {
            None
        } else {
            let c = authn::authenticate(&st, &rp, "cognito-identity", now).await?;
            if c.is_none() {
                return Err(ApiError::new(
                    Code::MissingAuthenticationToken,
                    "Request is missing Authentication Token",
                ));
            }
            c
        };
        let env = crate::authz::Env::of_request(&st, now, &source_ip, &user_agent, caller.as_ref());
        let ctx = Ctx {
            st: st.clone(),
            caller,
            env,
            request_id,
            wants_json: true,
        };
        let res = cognito::dispatch(&ctx, &op, &input).await;
        Ok((ctx.caller, params, res))
    }
    .await;
    let result = match outcome {
        Ok((caller, params, res)) => {
            event.request_parameters = Some(params.into());
            if let Some(c) = caller {
                audit_caller(&mut event, c);
            }
            res
        }
        Err(e) => Err(e),
    };
    let succeeded = result.is_ok();
    let resp = match result {
        Ok(mut reply) => {
            if let Some(ui) = reply.audit.take_member("userIdentity")
                && event.user_identity.is_none()
            {
                event.user_identity = crate::audit::UserIdentity::web_identity(&ui);
            }
            let body = reply
                .result_json
                .take()
                .unwrap_or(Value::Object(Map::new()));
            event.response_elements = Some(std::mem::take(&mut reply.audit).into());
            response::aws_json(200, &request_id, body.to_string())
        }
        Err(e) => {
            super::record_refusal(&st, &mut event, &e, e.code.cognito().0, &request_id);
            response::aws_json_error(&e, &request_id)
        }
    };
    super::audited(&st, &event, succeeded && !event.read_only, resp, |e| {
        response::aws_json_error(e, &request_id)
    })
    .await
}
