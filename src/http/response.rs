//! The only renderer of wire responses: `<{Action}Response>` envelopes and `<ErrorResponse>`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::action::{Reply, Service};
use crate::error::ApiError;
use crate::wire::XmlWriter;

/// The request-id header, named once.
static X_AMZN_REQUESTID: http::HeaderName = http::HeaderName::from_static("x-amzn-requestid");

/// The response: body, status, content type and request id. The `Date` header is hyper's (it
/// adds one to every response, formatted once a second). `headers` is a map to reuse, emptied
/// here (see [`with_headers`]).
fn build(
    status: u16,
    content_type: &'static str,
    request_id: &str,
    body: String,
    headers: HeaderMap,
) -> Response<Body> {
    let mut r = with_headers(Body::from(body), headers);
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

/// A response with `body` whose header map is `headers`, emptied: pass the request's map
/// (`HeaderMap::new()` when there is none). Hyper keeps a response's map, once written, for the
/// connection's next request, so a map already sized for a request is neither allocated here
/// nor grown there (a fresh one cost four allocations a request: two here, two in hyper's
/// parse growing it to the request's headers).
#[must_use]
pub fn with_headers(body: Body, mut headers: HeaderMap) -> Response<Body> {
    headers.clear();
    let mut r = Response::new(body);
    *r.headers_mut() = headers;
    r
}

/// A success envelope (`headers`: a map to reuse, see [`with_headers`]).
#[must_use]
pub fn success(
    action: &str,
    service: Service,
    reply: &Reply,
    request_id: &str,
    json: bool,
    headers: HeaderMap,
) -> Response<Body> {
    if json && let Some(result) = &reply.result_json {
        let body = serde_json::json!({
            format!("{action}Response"): {
                format!("{action}Result"): result,
                "ResponseMetadata": { "RequestId": request_id },
            }
        });
        return build(
            200,
            "application/json",
            request_id,
            body.to_string(),
            headers,
        );
    }
    let body = success_xml(action, service, reply.result_xml.as_deref(), request_id);
    build(200, "text/xml", request_id, body, headers)
}

/// The XML success envelope.
fn success_xml(action: &str, service: Service, result: Option<&str>, request_id: &str) -> String {
    // The envelope around the result, written in one buffer of exactly its size: a body whose
    // length is its capacity becomes the response's `Bytes` without a second allocation (the
    // action name is one of the known actions, and the request id a UUID: neither is escaped).
    let ns = service.namespace();
    let size = envelope_len(action, ns, result, request_id);
    let mut out = String::with_capacity(size);
    // Constant pieces joined where they meet (fewer, longer copies).
    for part in ["<", action, "Response xmlns=\"", ns] {
        out.push_str(part);
    }
    if let Some(inner) = result {
        for part in [
            "\"><",
            action,
            "Result>",
            inner,
            "</",
            action,
            RESULT_METADATA,
        ] {
            out.push_str(part);
        }
    } else {
        out.push_str(NO_RESULT_METADATA);
    }
    crate::wire::xml::escape_into(&mut out, request_id);
    for part in [METADATA_CLOSE_END, action, "Response>"] {
        out.push_str(part);
    }
    out
}

/// The response metadata before the request id, as a literal (for `concat!`).
macro_rules! metadata_open {
    () => {
        "<ResponseMetadata><RequestId>"
    };
}
/// Its end.
macro_rules! metadata_close {
    () => {
        "</RequestId></ResponseMetadata>"
    };
}
/// The response metadata around the request id.
const METADATA_OPEN: &str = metadata_open!();
/// Its end.
const METADATA_CLOSE: &str = metadata_close!();
/// The end of a result element, then the metadata up to the request id.
const RESULT_METADATA: &str = concat!("Result>", metadata_open!());
/// The end of the opening tag without a result, then the metadata up to the request id.
const NO_RESULT_METADATA: &str = concat!("\">", metadata_open!());
/// The metadata's end, then the start of the closing tag.
const METADATA_CLOSE_END: &str = concat!(metadata_close!(), "</");

/// The length of a success envelope (a request id needing no escape; one that does only makes
/// the buffer grow).
fn envelope_len(action: &str, ns: &str, result: Option<&str>, request_id: &str) -> usize {
    let open = 1 + action.len() + "Response xmlns=\"".len() + ns.len() + 2;
    let result = result.map_or(0, |r| {
        2 * action.len() + "<Result></Result>".len() + r.len()
    });
    let close = 2 + action.len() + "Response>".len();
    open + result + METADATA_OPEN.len() + request_id.len() + METADATA_CLOSE.len() + close
}

/// An error envelope, exactly as AWS Query services send it (`headers`: a map to reuse, see
/// [`with_headers`]).
#[must_use]
pub fn error(
    e: &ApiError,
    service: Service,
    request_id: &str,
    json: bool,
    headers: HeaderMap,
) -> Response<Body> {
    let status = e.code.status();
    if json {
        let body = serde_json::json!({
            "Error": { "Type": e.code.fault(), "Code": e.code.as_str(), "Message": e.message },
            "RequestId": request_id,
        });
        return build(
            status,
            "application/json",
            request_id,
            body.to_string(),
            headers,
        );
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
    build(status, "text/xml", request_id, w.finish(), headers)
}

/// A Cognito Identity (awsJson 1.1) answer: `body` with `status`.
#[must_use]
pub fn aws_json(status: u16, request_id: &str, body: String) -> Response<Body> {
    build(
        status,
        crate::cognito::wire::CONTENT_TYPE,
        request_id,
        body,
        HeaderMap::new(),
    )
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
    let mut r = build(200, "application/json", "", body, HeaderMap::new());
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        r.headers_mut().insert("cache-control", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_envelope_is_exact_and_sized_once() {
        let rid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let s = success_xml(
            "GetCallerIdentity",
            Service::Sts,
            Some("<Account>1</Account>"),
            rid,
        );
        assert_eq!(
            s,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Account>1</Account></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>0f8fad5b-d9cb-469f-a165-70867728950e</RequestId>\
             </ResponseMetadata></GetCallerIdentityResponse>"
        );
        // Exactly its size: the body becomes `Bytes` without another allocation.
        assert_eq!(s.len(), s.capacity());
        let s = success_xml("DeleteRole", Service::Iam, None, rid);
        assert_eq!(
            s,
            "<DeleteRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <ResponseMetadata><RequestId>0f8fad5b-d9cb-469f-a165-70867728950e</RequestId>\
             </ResponseMetadata></DeleteRoleResponse>"
        );
        assert_eq!(s.len(), s.capacity());
        // A result with no content still gets its element; a request id needing escape is
        // escaped (the buffer grows).
        let s = success_xml("X", Service::Sts, Some(""), "a<b");
        assert!(s.contains("<XResult></XResult>"), "{s}");
        assert!(s.contains("<RequestId>a&lt;b</RequestId>"), "{s}");
    }
}
