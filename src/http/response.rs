//! The only renderer of wire responses: `<{Action}Response>` envelopes and `<ErrorResponse>`.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};

use crate::action::{Reply, Service};
use crate::error::ApiError;
use crate::wire::XmlWriter;

/// The request-id header, named once.
static X_AMZN_REQUESTID: http::HeaderName = http::HeaderName::from_static("x-amzn-requestid");

/// The response: body, status, content type and request id. The `Date` header is hyper's (it
/// adds one to every response, formatted once a second).
fn build(
    status: u16,
    content_type: &'static str,
    request_id: &str,
    body: String,
) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.reserve(2);
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(X_AMZN_REQUESTID.clone(), v);
    }
    r
}

/// A success envelope.
#[must_use]
pub fn success(
    action: &str,
    service: Service,
    reply: &Reply,
    request_id: &str,
    json: bool,
) -> Response<Body> {
    if json && let Some(result) = &reply.result_json {
        let body = serde_json::json!({
            format!("{action}Response"): {
                format!("{action}Result"): result,
                "ResponseMetadata": { "RequestId": request_id },
            }
        });
        return build(200, "application/json", request_id, body.to_string());
    }
    // The envelope around the result, written in one buffer sized for it (the action name is
    // one of the known actions: dispatch refused any other before an action ran).
    let inner = reply.result_xml.as_deref().unwrap_or("");
    let mut out = String::with_capacity(inner.len() + 2 * action.len() + 256);
    out.push('<');
    out.push_str(action);
    out.push_str("Response xmlns=\"");
    out.push_str(service.namespace());
    out.push_str("\">");
    if reply.result_xml.is_some() {
        for part in ["<", action, "Result>", inner, "</", action, "Result>"] {
            out.push_str(part);
        }
    }
    let mut w = XmlWriter::from_string(out);
    w.start("ResponseMetadata")
        .elem("RequestId", request_id)
        .end("ResponseMetadata");
    let mut out = w.finish();
    for part in ["</", action, "Response>"] {
        out.push_str(part);
    }
    build(200, "text/xml", request_id, out)
}

/// An error envelope, exactly as AWS Query services send it.
#[must_use]
pub fn error(e: &ApiError, service: Service, request_id: &str, json: bool) -> Response<Body> {
    let status = e.code.status();
    if json {
        let body = serde_json::json!({
            "Error": { "Type": e.code.fault(), "Code": e.code.as_str(), "Message": e.message },
            "RequestId": request_id,
        });
        return build(status, "application/json", request_id, body.to_string());
    }
    let mut w = XmlWriter::new();
    w.start_ns("ErrorResponse", service.namespace())
        .start("Error")
        .elem("Type", e.code.fault())
        .elem("Code", e.code.as_str())
        .elem("Message", &e.message)
        .end("Error")
        .elem("RequestId", request_id)
        .end("ErrorResponse");
    build(status, "text/xml", request_id, w.finish())
}

/// A Cognito Identity (awsJson 1.1) answer: `body` with `status`.
#[must_use]
pub fn aws_json(status: u16, request_id: &str, body: String) -> Response<Body> {
    build(status, crate::cognito::wire::CONTENT_TYPE, request_id, body)
}

/// A Cognito Identity error (`__type`, `message`; codes from `Code::cognito`).
#[must_use]
pub fn aws_json_error(e: &ApiError, request_id: &str) -> Response<Body> {
    let (status, body) = crate::cognito::wire::error_body(e);
    let mut r = aws_json(status, request_id, body);
    if let Ok(v) = HeaderValue::from_str(e.code.cognito().0) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// A public JSON document (discovery, JWKS), cacheable for `max_age` seconds.
#[must_use]
pub fn public_json(body: String, max_age: u32) -> Response<Body> {
    let mut r = build(200, "application/json", "", body);
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        r.headers_mut().insert("cache-control", v);
    }
    r
}
