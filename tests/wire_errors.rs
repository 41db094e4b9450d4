//! The wire: AWS Query requests in (POST form, GET query), the exact XML envelopes out, and a
//! clear AWS error — never a 500 — for malformed input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use http_body_util::{BodyExt, Full};
use sekisho::clock::Clock;
use sekisho::secret::SecretString;

async fn send(
    s: &common::Server,
    method: &str,
    query: &str,
    body: &str,
    sign: Option<(&str, &str)>,
    accept_json: bool,
) -> (u16, http::HeaderMap, String) {
    let host = s.endpoint.trim_start_matches("http://").to_owned();
    let mut h = http::HeaderMap::new();
    h.insert("host", host.parse().unwrap());
    if method == "POST" {
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
    }
    let mut extra = Vec::new();
    if let Some((k, sk)) = sign {
        extra = sekisho::sigv4::sign_request(
            method,
            "/",
            query,
            &h,
            body.as_bytes(),
            k,
            &SecretString::from(sk),
            None,
            "us-east-1",
            "sts",
            s.clock.now(),
        );
    }
    let uri = if query.is_empty() {
        format!("{}/", s.endpoint)
    } else {
        format!("{}/?{query}", s.endpoint)
    };
    let mut req = http::Request::builder().method(method).uri(uri);
    for (k, v) in h.iter() {
        req = req.header(k, v);
    }
    for (k, v) in extra {
        req = req.header(k, v);
    }
    if accept_json {
        req = req.header("accept", "application/json");
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = client
        .request(
            req.body(Full::new(bytes::Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    (status, headers, text)
}

fn error_code(xml: &str) -> &str {
    xml.split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .unwrap_or("")
}

#[tokio::test]
async fn success_envelope_is_exactly_aws() {
    let s = common::start().await;
    let (status, h, body) = send(
        &s,
        "POST",
        "",
        "Action=GetCallerIdentity&Version=2011-06-15",
        Some(common::ADMIN),
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "text/xml");
    let rid = h["x-amzn-requestid"].to_str().unwrap();
    assert!(h.contains_key("date"));
    assert!(body.starts_with("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"), "{body}");
    assert!(body.ends_with(&format!("</GetCallerIdentityResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></GetCallerIdentityResponse>")), "{body}");
    // The same over GET with a query string, and as JSON.
    let (status, _, body) = send(
        &s,
        "GET",
        "Action=GetCallerIdentity&Version=2011-06-15",
        "",
        Some(common::ADMIN),
        true,
    )
    .await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["Account"],
        "111111111111"
    );
}

#[tokio::test]
async fn error_envelope_and_codes() {
    let s = common::start().await;
    let a = Some(common::ADMIN);
    type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("", "Version=2011-06-15", a, 400, "MissingAction"),
        (
            "",
            "Action=Nope&Version=2011-06-15",
            a,
            400,
            "InvalidAction",
        ),
        (
            "",
            "Action=GetCallerIdentity&Version=1999-01-01",
            a,
            400,
            "InvalidAction",
        ),
        (
            "",
            "Action=GetCallerIdentity&Version=2011-06-15",
            None,
            403,
            "MissingAuthenticationToken",
        ),
        (
            "",
            "Action=GetCallerIdentity&Version=2011-06-15&Bogus=1",
            a,
            400,
            "InvalidParameterValue",
        ),
        (
            "",
            "Action=GetCallerIdentity&Action=GetCallerIdentity&Version=2011-06-15",
            a,
            404,
            "MalformedQueryString",
        ),
        (
            "",
            "Action=AssumeRole&Version=2011-06-15&RoleSessionName=abc",
            a,
            400,
            "ValidationError",
        ),
        (
            "",
            "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=abc",
            a,
            400,
            "InvalidParameterValue",
        ),
        (
            "",
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::222222222222:role/x&RoleSessionName=abc&Tags.member.2.Key=k",
            a,
            400,
            "InvalidParameterValue",
        ),
        (
            "",
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::222222222222:role/ops/deployer&RoleSessionName=abc&ExternalId=ext-123&Policy=not-json",
            Some(common::ALICE),
            400,
            "MalformedPolicyDocument",
        ),
    ];
    for (q, body, sign, want_status, want_code) in cases {
        let (status, h, xml) = send(&s, "POST", q, body, sign, false).await;
        assert_eq!(
            (status, error_code(&xml)),
            (want_status, want_code),
            "{body}: {xml}"
        );
        assert!(xml.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>"), "{xml}");
        let rid = h["x-amzn-requestid"].to_str().unwrap();
        assert!(
            xml.ends_with(&format!(
                "</Error><RequestId>{rid}</RequestId></ErrorResponse>"
            )),
            "{xml}"
        );
    }
}

#[tokio::test]
async fn oversized_and_garbage_bodies() {
    let s = common::start().await;
    let big = format!(
        "Action=GetCallerIdentity&Version=2011-06-15&X={}",
        "a".repeat(300_000)
    );
    let (status, _, xml) = send(&s, "POST", "", &big, None, false).await;
    assert_eq!((status, error_code(&xml)), (413, "RequestEntityTooLarge"));
    for garbage in [
        "%%%%",
        "\u{0}\u{1}\u{2}",
        "Action",
        "=&=&=",
        "Action=%ZZ&Version=2011-06-15",
    ] {
        let (status, _, xml) = send(&s, "POST", "", garbage, Some(common::ADMIN), false).await;
        assert!(status < 500, "{garbage:?} → {status} {xml}");
    }
    // A malformed Authorization header is an AWS error, not a crash.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", s.endpoint))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=, SignedHeaders, Signature=zz",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(bytes::Bytes::from_static(
            b"Action=GetCallerIdentity&Version=2011-06-15",
        )))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 400);
    let xml = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert_eq!(error_code(&xml), "IncompleteSignature");
}

#[tokio::test]
async fn presigned_get_caller_identity() {
    let s = common::start().await;
    let host = s.endpoint.trim_start_matches("http://").to_owned();
    let mut h = http::HeaderMap::new();
    h.insert("host", host.parse().unwrap());
    h.insert("x-k8s-aws-id", "my-cluster".parse().unwrap());
    let q = sekisho::sigv4::presign_url_query(
        "GET",
        "/",
        "Action=GetCallerIdentity&Version=2011-06-15",
        &h,
        b"",
        common::ADMIN.0,
        &SecretString::from(common::ADMIN.1),
        None,
        "us-east-1",
        "sts",
        60,
        s.clock.now(),
    );
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let get = |q: String| {
        let req = http::Request::builder()
            .uri(format!("{}/?{q}", s.endpoint))
            .header("x-k8s-aws-id", "my-cluster")
            .header("accept", "application/json")
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        client.request(req)
    };
    let resp = get(q.clone()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        v["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["Arn"],
        "arn:aws:iam::111111111111:user/admin"
    );
    // 61 s later the 60 s URL is dead.
    s.clock.advance(chrono::Duration::seconds(61));
    let resp = get(q).await.unwrap();
    assert_eq!(resp.status(), 403);
}
