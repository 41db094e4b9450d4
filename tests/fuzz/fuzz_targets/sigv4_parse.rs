//! Fuzz SigV4 authentication parsing (header and presigned forms): never panics.
//!
//! Input layout: lines separated by `\n`: `Authorization` value, `X-Amz-Date` value, raw query
//! string, `X-Amz-Security-Token` value. The whole input is also tried as a raw query string.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sekisho::sigv4::{RequestParts, parse};

fn run(query: &str, headers: &HeaderMap) {
    let req = RequestParts {
        method: "POST",
        path: "/",
        query,
        headers: headers.into(),
        body: b"",
        payload_hash: None,
    };
    let _ = parse(&req);
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(4, |b| *b == b'\n');
    let auth = lines.next().unwrap_or_default();
    let date = lines.next().unwrap_or_default();
    let query = lines.next().unwrap_or_default();
    let token = lines.next().unwrap_or_default();

    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    if let Ok(v) = HeaderValue::from_bytes(date) {
        headers.insert("x-amz-date", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(token) {
        headers.insert("x-amz-security-token", v);
    }
    headers.insert("host", HeaderValue::from_static("sts.amazonaws.com"));
    let query = String::from_utf8_lossy(query);
    run(&query, &headers);
    run("", &headers);

    // Presigned form only: the whole input as the query string.
    let mut plain = HeaderMap::new();
    plain.insert("host", HeaderValue::from_static("sts.amazonaws.com"));
    run(&String::from_utf8_lossy(data), &plain);
});
