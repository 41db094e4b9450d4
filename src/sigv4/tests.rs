//! Unit tests: the happy paths and every refusal, with AWS's texts.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use chrono::{DateTime, Duration, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use super::*;

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn secret() -> SecretString {
    SecretString::from(SECRET)
}

fn any_region(_: &str) -> bool {
    true
}

fn base_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("sts.example.test"));
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    h
}

fn add(h: &mut HeaderMap, extra: Vec<(String, String)>) {
    for (k, v) in extra {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
}

/// A signed STS POST: (headers, body).
fn signed_post(at: DateTime<Utc>, region: &str, service: &str, token: Option<&str>) -> HeaderMap {
    let mut h = base_headers();
    let extra = sign_request(
        "POST",
        "/",
        "",
        &h,
        BODY,
        AKID,
        &secret(),
        token,
        region,
        service,
        at,
    );
    add(&mut h, extra);
    h
}

fn req<'a>(h: &'a HeaderMap, query: &'a str, body: &'a [u8]) -> RequestParts<'a> {
    RequestParts {
        method: "POST",
        path: "/",
        query,
        headers: h.into(),
        body,
        payload_hash: None,
    }
}

fn check(auth: &ParsedAuth<'_>, r: &RequestParts<'_>, now: DateTime<Utc>) -> Result<(), Error> {
    check_request(auth, r, &["sts"], &any_region, Duration::minutes(15), now)
}

fn parse_ok<'a>(r: &RequestParts<'a>) -> ParsedAuth<'a> {
    parse(r).unwrap().expect("authentication present")
}

fn set_auth(h: &mut HeaderMap, value: &str) {
    h.insert("authorization", HeaderValue::from_str(value).unwrap());
}

fn auth_of(h: &HeaderMap) -> String {
    h.get("authorization").unwrap().to_str().unwrap().to_owned()
}

#[test]
fn header_form_round_trip() {
    let h = signed_post(t0(), "us-east-1", "sts", None);
    let r = req(&h, "", BODY);
    let auth = parse_ok(&r);
    assert_eq!(auth.form, AuthForm::Header);
    assert_eq!(auth.access_key_id, AKID);
    assert_eq!(auth.scope.date, "20260101");
    assert_eq!(auth.scope.region, "us-east-1");
    assert_eq!(auth.scope.service, "sts");
    assert_eq!(
        auth.signed_headers.iter().collect::<Vec<_>>(),
        ["content-type", "host", "x-amz-date"]
    );
    assert_eq!(auth.amz_date, t0());
    assert!(auth.security_token.is_none());
    check(&auth, &r, t0()).unwrap();
    verify(&auth, &r, &secret()).unwrap();
}

#[test]
fn no_authentication_is_none() {
    let h = base_headers();
    assert!(
        parse(&req(&h, "Action=GetCallerIdentity", BODY))
            .unwrap()
            .is_none()
    );
}

#[test]
fn wrong_secret_tampered_signature_and_body_are_refused() {
    let h = signed_post(t0(), "us-east-1", "sts", None);
    let r = req(&h, "", BODY);
    let auth = parse_ok(&r);
    let e = verify(&auth, &r, &SecretString::from("other")).unwrap_err();
    assert_eq!(e, Error::SignatureDoesNotMatch(error::MISMATCH.to_owned()));

    let mut tampered = h.clone();
    let a = auth_of(&h);
    let last = a.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &a[..a.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    set_auth(&mut tampered, &flipped);
    let r2 = req(&tampered, "", BODY);
    assert!(matches!(
        verify(&parse_ok(&r2), &r2, &secret()),
        Err(Error::SignatureDoesNotMatch(_))
    ));

    let r3 = req(&h, "", b"Action=GetCallerIdentity&Version=2011-06-16");
    assert!(verify(&auth, &r3, &secret()).is_err());
}

#[test]
fn skew_past_has_aws_text() {
    let signed_at = Utc.with_ymd_and_hms(2016, 6, 9, 18, 45, 12).unwrap();
    let now = Utc.with_ymd_and_hms(2016, 6, 10, 1, 45, 8).unwrap();
    let h = signed_post(signed_at, "us-east-1", "sts", None);
    let r = req(&h, "", BODY);
    let e = check(&parse_ok(&r), &r, now).unwrap_err();
    assert_eq!(
        e,
        Error::ClockSkew(
            "Signature expired: 20160609T184512Z is now earlier than 20160610T013008Z \
             (20160610T014508Z - 15 min.)"
                .to_owned()
        )
    );
    let a = crate::error::ApiError::from(e.clone());
    assert_eq!(
        (a.code.as_str(), a.code.status()),
        ("SignatureDoesNotMatch", 403)
    );
}

#[test]
fn skew_future_has_aws_text() {
    let h = signed_post(t0() + Duration::seconds(901), "us-east-1", "sts", None);
    let r = req(&h, "", BODY);
    let e = check(&parse_ok(&r), &r, t0()).unwrap_err();
    assert_eq!(
        e,
        Error::ClockSkew(
            "Signature not yet current: 20260101T001501Z is still later than 20260101T001500Z \
             (20260101T000000Z + 15 min.)"
                .to_owned()
        )
    );
}

#[test]
fn skew_boundaries_are_inclusive_and_symmetric() {
    for offset in [-900, 900, 0] {
        let h = signed_post(t0() + Duration::seconds(offset), "us-east-1", "sts", None);
        let r = req(&h, "", BODY);
        check(&parse_ok(&r), &r, t0()).unwrap();
    }
    for offset in [-901, 901] {
        let h = signed_post(t0() + Duration::seconds(offset), "us-east-1", "sts", None);
        let r = req(&h, "", BODY);
        assert!(matches!(
            check(&parse_ok(&r), &r, t0()),
            Err(Error::ClockSkew(_))
        ));
    }
}

#[test]
fn scope_wrong_service_region_terminator_date() {
    let h = signed_post(t0(), "us-east-1", "s3", None);
    let r = req(&h, "", BODY);
    let e = check(&parse_ok(&r), &r, t0()).unwrap_err();
    assert_eq!(
        e,
        Error::InvalidScope("Credential should be scoped to correct service: 'sts'. ".to_owned())
    );
    let a = crate::error::ApiError::from(e.clone());
    assert_eq!(
        (a.code.as_str(), a.code.status()),
        ("SignatureDoesNotMatch", 403)
    );
    // IAM is accepted when listed.
    let iam = signed_post(t0(), "us-east-1", "iam", None);
    let r = req(&iam, "", BODY);
    check_request(
        &parse_ok(&r),
        &r,
        &["sts", "iam"],
        &any_region,
        Duration::minutes(15),
        t0(),
    )
    .unwrap();

    // Region refused by the configured set, and syntactically invalid regions.
    let h = signed_post(t0(), "eu-west-3", "sts", None);
    let r = req(&h, "", BODY);
    let only_us = |r: &str| r == "us-east-1";
    let e = check_request(
        &parse_ok(&r),
        &r,
        &["sts"],
        &only_us,
        Duration::minutes(15),
        t0(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        Error::InvalidScope(
            "Credential should be scoped to a valid region, not 'eu-west-3'. ".into()
        )
    );
    let h = signed_post(t0(), "US_EAST", "sts", None);
    let r = req(&h, "", BODY);
    assert!(matches!(
        check(&parse_ok(&r), &r, t0()),
        Err(Error::InvalidScope(_))
    ));

    // Terminator and date: rewrite the Authorization header (checks run before the signature).
    let h = signed_post(t0(), "us-east-1", "sts", None);
    let mut bad_term = h.clone();
    set_auth(
        &mut bad_term,
        &auth_of(&h).replace("/aws4_request", "/aws4_requesx"),
    );
    let r = req(&bad_term, "", BODY);
    assert_eq!(
        check(&parse_ok(&r), &r, t0()).unwrap_err(),
        Error::InvalidScope(
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requesx'."
                .into()
        )
    );
    let mut bad_date = h.clone();
    set_auth(
        &mut bad_date,
        &auth_of(&h).replace("/20260101/", "/20260102/"),
    );
    let r = req(&bad_date, "", BODY);
    assert_eq!(
        check(&parse_ok(&r), &r, t0()).unwrap_err(),
        Error::InvalidScope(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: '20260102' != '20260101', from '20260101T000000Z'."
                .into()
        )
    );
}

#[test]
fn host_must_be_signed() {
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let extra = sign_request(
        "POST",
        "/",
        "",
        &h,
        BODY,
        AKID,
        &secret(),
        None,
        "us-east-1",
        "sts",
        t0(),
    );
    add(&mut h, extra);
    h.insert("host", HeaderValue::from_static("sts.example.test"));
    let r = req(&h, "", BODY);
    let auth = parse_ok(&r);
    verify(&auth, &r, &secret()).unwrap(); // the signature itself is fine …
    let e = check(&auth, &r, t0()).unwrap_err(); // … but unsigned host is refused
    assert!(
        matches!(&e, Error::IncompleteSignature(m) if m.contains("'Host'")),
        "{e:?}"
    );
}

#[test]
fn content_sha256_must_match_body() {
    let mut h = base_headers();
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_str(&sha256_hex(BODY)).unwrap(),
    );
    let extra = sign_request(
        "POST",
        "/",
        "",
        &h,
        BODY,
        AKID,
        &secret(),
        None,
        "us-east-1",
        "sts",
        t0(),
    );
    add(&mut h, extra);
    let r = req(&h, "", BODY);
    let auth = parse_ok(&r);
    check(&auth, &r, t0()).unwrap();
    verify(&auth, &r, &secret()).unwrap();

    let mut wrong = h.clone();
    wrong.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    let r = req(&wrong, "", BODY);
    let e = check(&parse_ok(&r), &r, t0()).unwrap_err();
    assert!(matches!(&e, Error::SignatureDoesNotMatch(m) if m.contains("x-amz-content-sha256")));
    // The body changed, the header (signed) did not.
    let r = req(&h, "", b"Action=AssumeRole");
    assert!(check(&parse_ok(&r), &r, t0()).is_err());
}

#[test]
fn session_token_is_parsed_and_signed() {
    let h = signed_post(t0(), "us-east-1", "sts", Some("FQoGZXIvYXdzEXAMPLE+/="));
    let r = req(&h, "", BODY);
    let auth = parse_ok(&r);
    assert_eq!(
        auth.security_token.as_ref().unwrap().expose(),
        "FQoGZXIvYXdzEXAMPLE+/="
    );
    assert!(
        auth.signed_headers
            .iter()
            .any(|h| h == "x-amz-security-token")
    );
    verify(&auth, &r, &secret()).unwrap();
    let mut swapped = h.clone();
    swapped.insert("x-amz-security-token", HeaderValue::from_static("other"));
    let r = req(&swapped, "", BODY);
    assert!(verify(&parse_ok(&r), &r, &secret()).is_err());
}

#[test]
fn date_header_fallback() {
    let mut h = base_headers();
    h.insert(
        "date",
        HeaderValue::from_static("Thu, 01 Jan 2026 00:00:00 GMT"),
    );
    let signed = SignedHeaders::parse("content-type;date;host").unwrap();
    let r = req(&h, "", BODY);
    let creq = canonical_request(&r, AuthForm::Header, &signed).unwrap();
    let scope = CredentialScope {
        date: "20260101".into(),
        region: "us-east-1".into(),
        service: "sts".into(),
    };
    let sts = string_to_sign(&t0(), &scope, &creq);
    let sig = signing_key::sign(
        &signing_key(&secret(), "20260101", "us-east-1", "sts"),
        sts.as_bytes(),
    );
    let value = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20260101/us-east-1/sts/aws4_request, \
         SignedHeaders=content-type;date;host, Signature={}",
        sig.to_hex()
    );
    set_auth(&mut h, &value);
    let r = req(&h, "", BODY);
    let auth = parse_ok(&r);
    assert_eq!(auth.amz_date, t0());
    check(&auth, &r, t0()).unwrap();
    verify(&auth, &r, &secret()).unwrap();
}

#[test]
fn header_whitespace_variants_still_verify() {
    let mut h = base_headers();
    h.insert("x-custom", HeaderValue::from_static("a b c"));
    let extra = sign_request(
        "POST",
        "/",
        "",
        &h,
        BODY,
        AKID,
        &secret(),
        None,
        "us-east-1",
        "sts",
        t0(),
    );
    add(&mut h, extra);
    h.insert("x-custom", HeaderValue::from_static("  a   b \t c "));
    let r = req(&h, "", BODY);
    verify(&parse_ok(&r), &r, &secret()).unwrap();
    h.insert("x-custom", HeaderValue::from_static("a b  d"));
    let r = req(&h, "", BODY);
    assert!(verify(&parse_ok(&r), &r, &secret()).is_err());
}

fn presigned(expires: u64, extra_headers: &[(&'static str, &'static str)]) -> (HeaderMap, String) {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("sts.amazonaws.com"));
    for (k, v) in extra_headers {
        h.insert(*k, HeaderValue::from_static(v));
    }
    let q = presign_url_query(
        "GET",
        "/",
        "Action=GetCallerIdentity&Version=2011-06-15",
        &h,
        b"",
        AKID,
        &secret(),
        Some("tok/en+=="),
        "us-east-1",
        "sts",
        expires,
        t0(),
    );
    (h, q)
}

fn get<'a>(h: &'a HeaderMap, query: &'a str) -> RequestParts<'a> {
    RequestParts {
        method: "GET",
        path: "/",
        query,
        headers: h.into(),
        body: b"",
        payload_hash: None,
    }
}

#[test]
fn presigned_round_trip_and_expiry_window() {
    let (h, q) = presigned(3600, &[("x-k8s-aws-id", "my-cluster")]);
    let r = get(&h, &q);
    let auth = parse_ok(&r);
    assert_eq!(auth.form, AuthForm::Presigned);
    assert_eq!(auth.expires, Some(3600));
    assert_eq!(
        auth.signed_headers.iter().collect::<Vec<_>>(),
        ["host", "x-k8s-aws-id"]
    );
    assert_eq!(auth.security_token.as_ref().unwrap().expose(), "tok/en+==");
    verify(&auth, &r, &secret()).unwrap();
    // Valid for 900 s whatever X-Amz-Expires says.
    check(&auth, &r, t0() + Duration::seconds(900)).unwrap();
    let e = check(&auth, &r, t0() + Duration::seconds(901)).unwrap_err();
    assert_eq!(
        e,
        Error::ClockSkew(
            "Signature expired: 20260101T000000Z is now earlier than 20260101T000001Z \
             (20260101T001501Z - 15 min.)"
                .into()
        )
    );
    // Not more than the skew in the future.
    check(&auth, &r, t0() - Duration::seconds(900)).unwrap();
    assert!(matches!(
        check(&auth, &r, t0() - Duration::seconds(901)),
        Err(Error::ClockSkew(m)) if m.starts_with("Signature not yet current")
    ));

    // A shorter X-Amz-Expires wins.
    let (h, q) = presigned(60, &[]);
    let r = get(&h, &q);
    let auth = parse_ok(&r);
    check(&auth, &r, t0() + Duration::seconds(60)).unwrap();
    let e = check(&auth, &r, t0() + Duration::seconds(61)).unwrap_err();
    assert!(
        matches!(&e, Error::ClockSkew(m) if m.ends_with("(20260101T000101Z - 1 min.)")),
        "{e:?}"
    );
}

#[test]
fn presigned_signed_header_must_be_sent() {
    let (h, q) = presigned(60, &[("x-k8s-aws-id", "my-cluster")]);
    let mut without = h.clone();
    without.remove("x-k8s-aws-id");
    let r = get(&without, &q);
    assert!(matches!(
        verify(&parse_ok(&r), &r, &secret()),
        Err(Error::SignatureDoesNotMatch(_))
    ));
    let mut other = h.clone();
    other.insert("x-k8s-aws-id", HeaderValue::from_static("other-cluster"));
    let r = get(&other, &q);
    assert!(verify(&parse_ok(&r), &r, &secret()).is_err());
}

#[test]
fn presigned_tampering_is_refused() {
    let (h, q) = presigned(60, &[]);
    for bad in [
        q.replace("GetCallerIdentity", "GetSessionToken"),
        q.replace("X-Amz-Expires=60", "X-Amz-Expires=61"),
        q.replace("X-Amz-Security-Token=tok", "X-Amz-Security-Token=tak"),
        format!("{q}&Extra=1"),
    ] {
        let r = get(&h, &bad);
        assert!(verify(&parse_ok(&r), &r, &secret()).is_err(), "{bad}");
    }
    // Re-ordered parameters are the same request.
    let mut parts: Vec<&str> = q.split('&').collect();
    parts.reverse();
    let reordered = parts.join("&");
    let r = get(&h, &reordered);
    verify(&parse_ok(&r), &r, &secret()).unwrap();
}

#[test]
fn presigned_malformed() {
    let h = base_headers();
    let (_, q) = presigned(60, &[]);
    let cases = [
        (q.replace("X-Amz-Date=", "X-Amz-Datum="), "must include"),
        (format!("{q}&X-Amz-Signature=00"), "only once"),
        (
            q.replace("X-Amz-Expires=60", "X-Amz-Expires=-1"),
            "X-Amz-Expires",
        ),
        (
            q.replace("X-Amz-Expires=60", "X-Amz-Expires=99999999999"),
            "X-Amz-Expires",
        ),
        (
            q.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
            "Unsupported AWS 'algorithm'",
        ),
        (
            q.replace(
                "X-Amz-Date=20260101T000000Z",
                "X-Amz-Date=2026-01-01T00:00:00Z",
            ),
            "ISO-8601",
        ),
    ];
    for (query, needle) in cases {
        let e = parse(&get(&h, &query)).unwrap_err();
        assert!(
            matches!(&e, Error::IncompleteSignature(m) if m.contains(needle)),
            "{query}: {e:?}"
        );
    }
}

#[test]
fn mixed_forms_refused() {
    let (_, q) = presigned(60, &[]);
    let h = signed_post(t0(), "us-east-1", "sts", None);
    let e = parse(&req(&h, &q, BODY)).unwrap_err();
    assert_eq!(e, Error::MixedForms);
    let a = crate::error::ApiError::from(e.clone());
    assert_eq!(
        (a.code.as_str(), a.code.status()),
        ("IncompleteSignature", 400)
    );
}

#[test]
fn malformed_authorization_headers() {
    let good = auth_of(&signed_post(t0(), "us-east-1", "sts", None));
    let sig = good.rsplit("Signature=").next().unwrap().to_owned();
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'",
        ),
        (
            "Bearer abc.def".into(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.",
        ),
        (good.replace(&sig, &sig[..63]), "64 hexadecimal"),
        (good.replace(&sig, &"z".repeat(64)), "64 hexadecimal"),
        (
            format!("{good}, Signature={sig}"),
            "more than one 'Signature'",
        ),
        (
            good.replace("SignedHeaders=", "SignedHeaders"),
            "missing equal-sign",
        ),
        (
            good.replace("SignedHeaders=", "Foo=1, SignedHeaders="),
            "Unsupported parameter",
        ),
        (
            good.replace(", SignedHeaders=content-type;host;x-amz-date", ""),
            "requires 'SignedHeaders'",
        ),
        (
            good.replace("/us-east-1/", "/us-east-1/extra/"),
            "exactly 5 slash-delimited",
        ),
        (
            good.replace("content-type;host", "content-type;Host"),
            "invalid header name",
        ),
        (
            good.replace("content-type;host", "host;host"),
            "more than once",
        ),
        (
            good.replace("content-type;host", "content-type;;host"),
            "invalid header name",
        ),
    ];
    for (value, needle) in cases {
        let mut h = signed_post(t0(), "us-east-1", "sts", None);
        set_auth(&mut h, &value);
        let e = parse(&req(&h, "", BODY)).unwrap_err();
        assert!(
            matches!(&e, Error::IncompleteSignature(m) if m.contains(needle)),
            "{value}: {e:?}"
        );
        assert_eq!(crate::error::ApiError::from(e.clone()).code.status(), 400);
    }
    // Malformed key id.
    for akid in [
        "",
        "AKIA-IOSFODNN7EXAMPLE",
        "AKIA.IOSFODNN7EXAMPLE",
        &"A".repeat(129),
    ] {
        let mut h = signed_post(t0(), "us-east-1", "sts", None);
        set_auth(&mut h, &good.replace(AKID, akid));
        let e = parse(&req(&h, "", BODY)).unwrap_err();
        assert_eq!(e, Error::InvalidClientTokenId(error::INVALID_TOKEN.into()));
    }
    // Too many signed headers.
    let many: Vec<String> = (0..65).map(|i| format!("h{i}")).collect();
    let mut h = signed_post(t0(), "us-east-1", "sts", None);
    set_auth(
        &mut h,
        &good.replace("content-type;host;x-amz-date", &many.join(";")),
    );
    assert!(
        matches!(parse(&req(&h, "", BODY)), Err(Error::IncompleteSignature(m)) if m.contains("more than 64"))
    );
    // Two Authorization headers, two X-Amz-Date headers.
    let mut h = signed_post(t0(), "us-east-1", "sts", None);
    h.append("authorization", HeaderValue::from_str(&good).unwrap());
    assert!(matches!(
        parse(&req(&h, "", BODY)),
        Err(Error::IncompleteSignature(_))
    ));
    let mut h = signed_post(t0(), "us-east-1", "sts", None);
    h.append("x-amz-date", HeaderValue::from_static("20260101T000000Z"));
    assert!(matches!(
        parse(&req(&h, "", BODY)),
        Err(Error::IncompleteSignature(_))
    ));
    // No date at all.
    let mut h = signed_post(t0(), "us-east-1", "sts", None);
    h.remove("x-amz-date");
    let e = parse(&req(&h, "", BODY)).unwrap_err();
    assert!(
        matches!(&e, Error::IncompleteSignature(m) if m.contains("either a 'X-Amz-Date' or a 'Date' header")),
        "{e:?}"
    );
    // Bad dates.
    for d in [
        "20260101T000000",
        "2026011T000000Z0",
        "20261301T000000Z",
        "20260101T250000Z",
        "２0260101T000000Z",
    ] {
        let mut h = signed_post(t0(), "us-east-1", "sts", None);
        h.insert(
            "x-amz-date",
            HeaderValue::from_str(d).unwrap_or(HeaderValue::from_static("x")),
        );
        assert!(
            matches!(
                parse(&req(&h, "", BODY)),
                Err(Error::IncompleteSignature(_))
            ),
            "{d}"
        );
    }
}

proptest! {
    #![proptest_config(Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    })]

    #[test]
    fn random_authorization_never_panics(s in "\\PC{0,300}") {
        let mut h = base_headers();
        if let Ok(v) = HeaderValue::from_str(&s) {
            h.insert("authorization", v);
            h.insert("x-amz-date", HeaderValue::from_static("20260101T000000Z"));
            if let Ok(Some(auth)) = parse(&req(&h, "", BODY)) {
                let r = req(&h, "", BODY);
                let _ = check(&auth, &r, t0());
                prop_assert!(verify(&auth, &r, &secret()).is_err());
            }
        }
    }

    #[test]
    fn structured_authorization_never_panics(
        parts in proptest::collection::vec("(Credential|SignedHeaders|Signature|X)?=?[A-Za-z0-9/;,= _-]{0,40}", 0..6),
    ) {
        let mut h = base_headers();
        let value = format!("AWS4-HMAC-SHA256 {}", parts.join(", "));
        h.insert("authorization", HeaderValue::from_str(&value).unwrap());
        h.insert("x-amz-date", HeaderValue::from_static("20260101T000000Z"));
        if let Ok(Some(auth)) = parse(&req(&h, "", BODY)) {
            let r = req(&h, "", BODY);
            let _ = check(&auth, &r, t0());
            prop_assert!(verify(&auth, &r, &secret()).is_err());
        }
    }

    #[test]
    fn random_query_never_panics(q in "[A-Za-z0-9%&=+X\\-]{0,200}", presigned_prefix in any::<bool>()) {
        let h = base_headers();
        let query = if presigned_prefix { format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&{q}") } else { q };
        let r = get(&h, &query);
        if let Ok(Some(auth)) = parse(&r) {
            let _ = check(&auth, &r, t0());
            prop_assert!(verify(&auth, &r, &secret()).is_err());
        }
        let _ = canonical_query(&query, true);
    }
}

#[test]
fn header_lists_are_read_like_maps() {
    let list = [
        ("Host", "example.com"),
        ("X-Amz-Date", "20260101T000000Z"),
        ("x-multi", "a"),
        ("X-MULTI", "b"),
        ("x-utf8", "caf\u{e9}"),
    ];
    let h = Headers::List(&list);
    assert_eq!(h.get_all("host").collect::<Vec<_>>(), [b"example.com"]);
    assert_eq!(
        h.get_all("x-multi").collect::<Vec<_>>(),
        [&b"a"[..], &b"b"[..]],
        "all values, in order, any case"
    );
    assert_eq!(h.single_str("x-amz-date"), Some("20260101T000000Z"));
    assert_eq!(h.single_str("x-multi"), None, "not single");
    assert_eq!(h.single_str("absent"), None);
    assert_eq!(h.single_str("x-utf8"), None, "not ASCII");
    let mut m = HeaderMap::new();
    m.insert("x-obs", HeaderValue::from_bytes(b"\xe9t\xe9").unwrap());
    assert_eq!(
        Headers::Map(&m).single_str("x-obs"),
        None,
        "obs-text is not text"
    );
    assert_eq!(ascii_str(b"ok\tvalue"), Some("ok\tvalue"));
}

#[test]
fn known_header_names_find_what_a_lookup_by_name_finds() {
    let mut m = HeaderMap::new();
    for (n, v) in [
        ("host", "sts.example"),
        ("x-amz-date", "20260101T000000Z"),
        ("x-amz-date", "20260101T000001Z"),
        ("content-type", "application/x-www-form-urlencoded"),
        ("x-amz-security-token", "t"),
        ("x-amz-content-sha256", "abc"),
        ("authorization", "AWS4-HMAC-SHA256 x"),
        ("date", "Thu, 01 Jan 2026 00:00:00 GMT"),
        ("x-custom", "c"),
    ] {
        m.append(HeaderName::from_static(n), HeaderValue::from_static(v));
    }
    let names = [
        "authorization",
        "host",
        "content-type",
        "date",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "x-custom",
        "Host",
        "X-Amz-Date",
        "absent",
    ];
    for name in names {
        let ours: Vec<&[u8]> = Headers::Map(&m).get_all(name).collect();
        let theirs: Vec<&[u8]> = m.get_all(name).iter().map(HeaderValue::as_bytes).collect();
        assert_eq!(ours, theirs, "{name}");
    }
    assert_eq!(Headers::Map(&m).get_all("x-amz-date").count(), 2);
    assert!(known_header("x-amz-date").is_some());
    assert!(
        known_header("X-Amz-Date").is_none(),
        "only exact lower-case names"
    );
}
