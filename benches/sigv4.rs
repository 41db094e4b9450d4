//! SigV4 verification cost: parse + stateless checks + verify of a typical STS POST
//! (six signed headers, a 60-byte body), and the signing-key derivation alone.
#![expect(clippy::unwrap_used, missing_docs, reason = "benchmark")]

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue};
use sekisho::secret::SecretString;
use sekisho::sigv4::{self, RequestParts};

fn typical_sts_post(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let secret = SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    // 60 bytes.
    let body = b"Action=AssumeRole&RoleArn=arn:aws:iam::1:role/r&RoleSessi=s1";
    assert_eq!(body.len(), 60);
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_static("sts.us-east-1.amazonaws.com"),
    );
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert(
        "amz-sdk-invocation-id",
        HeaderValue::from_static("0b4ab5f1-2f8c-4b7e-9a53-9d1f1c2b3a4d"),
    );
    headers.insert(
        "amz-sdk-request",
        HeaderValue::from_static("attempt=1; max=3"),
    );
    let extra = sigv4::sign_request(
        "POST",
        "/",
        "",
        &headers,
        body,
        "ASIAIOSFODNN7EXAMPLE",
        &secret,
        Some("IQoJb3JpZ2luX2VjEXAMPLEsessiontoken"),
        "us-east-1",
        "sts",
        now,
    );
    for (k, v) in extra {
        headers.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    headers.insert(
        "user-agent",
        HeaderValue::from_static("aws-cli/2.15.0 Python/3.11"),
    );
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: (&headers).into(),
        body,
        payload_hash: None,
    };
    let auth = sigv4::parse(&req).unwrap().unwrap();
    assert_eq!(auth.signed_headers.len(), 6);
    let region_ok = |_: &str| true;

    c.bench_function(
        "sigv4 parse+check+verify (STS POST, 6 signed headers, 60 B body)",
        |b| {
            b.iter(|| {
                let req = black_box(&req);
                let auth = sigv4::parse(req).unwrap().unwrap();
                sigv4::check_request(&auth, req, &["sts"], &region_ok, Duration::minutes(15), now)
                    .unwrap();
                sigv4::verify(&auth, req, black_box(&secret)).unwrap();
            });
        },
    );
    c.bench_function("sigv4 signing key derivation", |b| {
        b.iter(|| sigv4::signing_key(black_box(&secret), "20260101", "us-east-1", "sts"));
    });
}

criterion_group!(benches, typical_sts_post);
criterion_main!(benches);
