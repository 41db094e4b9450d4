//! The official SigV4 test vectors (corpora/sigv4): for every applicable case, our canonical
//! request, string to sign and signature equal AWS's, and `parse` + `check_request` + `verify`
//! accept the signed request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use sekisho::secret::SecretString;
use sekisho::sigv4::{
    self, AuthForm, RequestParts, canonical_request, check_request, string_to_sign, verify,
};
use serde_json::Value;

/// `$SEKISHO_CORPORA/sigv4`, else `../shared/corpora/sigv4` (main checkout) or
/// `../../shared/corpora/sigv4` (a worktree under `wt/`).
fn corpus_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("SEKISHO_CORPORA") {
        candidates.push(PathBuf::from(dir));
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    candidates.push(manifest.join("../shared/corpora"));
    candidates.push(manifest.join("../../shared/corpora"));
    candidates
        .into_iter()
        .map(|d| d.join("sigv4"))
        .find(|d| d.is_dir())
}

/// A request parsed from the suites' raw HTTP text.
struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl RawRequest {
    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: (&self.headers).into(),
            body: &self.body,
            payload_hash: None,
        }
    }
}

/// How a folded header line (one starting with whitespace) is read. The two suites disagree:
/// the 2015 suite expects each folded line as a further value (joined with `,`), aws-c-auth
/// unfolds it into the previous value with a space (RFC 7230 §3.2.4). Real servers (hyper)
/// refuse folded request headers, so this only concerns reading the vectors.
#[derive(Clone, Copy, PartialEq)]
enum Fold {
    NewValue,
    Unfold,
}

/// `METHOD target HTTP/1.1`, then `Name:value` lines (folded lines per `fold`), a blank line,
/// the body.
fn parse_raw(text: &str, fold: Fold) -> RawRequest {
    let mut lines = text.split('\n');
    let first = lines.next().unwrap();
    let (method, rest) = first.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    let mut last: Option<HeaderName> = None;
    let mut body_lines = Vec::new();
    let mut in_body = false;
    for line in lines {
        if in_body {
            body_lines.push(line);
        } else if line.is_empty() {
            in_body = true;
        } else if line.starts_with([' ', '\t']) {
            let name = last.clone().unwrap();
            if fold == Fold::NewValue {
                headers.append(name, HeaderValue::from_str(line.trim()).unwrap());
            } else {
                let http::header::Entry::Occupied(mut e) = headers.entry(name) else {
                    unreachable!("a folded line follows its header")
                };
                let mut values: Vec<HeaderValue> = e.iter().cloned().collect();
                let prev = values.pop().unwrap();
                let joined = format!("{} {}", prev.to_str().unwrap(), line.trim());
                values.push(HeaderValue::from_str(&joined).unwrap());
                let mut it = values.into_iter();
                e.insert(it.next().unwrap());
                for v in it {
                    e.append(v);
                }
            }
        } else {
            let (name, value) = line.split_once(':').unwrap();
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
            last = Some(name);
        }
    }
    RawRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body_lines.join("\n").into_bytes(),
    }
}

struct Expected<'a> {
    canonical: &'a str,
    string_to_sign: &'a str,
    signature: &'a str,
}

/// Runs one signed request through the verifier; `Err` describes the first difference.
fn run_case(
    signed: &str,
    fold: Fold,
    form: AuthForm,
    expected: &Expected<'_>,
    secret: &SecretString,
    service: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let raw = parse_raw(signed, fold);
    let req = raw.parts();
    let auth = sigv4::parse(&req)
        .map_err(|e| format!("parse: {e:?}"))?
        .ok_or("parse: no authentication found")?;
    if auth.form != form {
        return Err(format!("form {:?}", auth.form));
    }
    let creq = canonical_request(&req, form, &auth.signed_headers)
        .map_err(|e| format!("canonical: {e:?}"))?;
    let creq = String::from_utf8(creq).map_err(|e| e.to_string())?;
    if creq != expected.canonical {
        return Err(format!(
            "canonical request\n got: {creq:?}\nwant: {:?}",
            expected.canonical
        ));
    }
    let sts = string_to_sign(&auth.amz_date, &auth.scope, creq.as_bytes());
    if sts != expected.string_to_sign {
        return Err(format!(
            "string to sign\n got: {sts:?}\nwant: {:?}",
            expected.string_to_sign
        ));
    }
    if auth.signature.to_hex() != expected.signature {
        return Err("the signed request's signature is not the expected one".into());
    }
    check_request(
        &auth,
        &req,
        &[service],
        &|_| true,
        Duration::minutes(15),
        now,
    )
    .map_err(|e| format!("check_request: {e:?}"))?;
    verify(&auth, &req, secret).map_err(|e| format!("verify: {e:?}"))?;
    // And a wrong secret must not verify.
    if verify(&auth, &req, &SecretString::from("wrong")).is_ok() {
        return Err("verified with a wrong secret".into());
    }
    Ok(())
}

fn load(dir: &std::path::Path, file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn aws_sigv4_test_suite_2015() {
    let Some(dir) = corpus_dir() else {
        common::skip("SigV4 corpus not found (set SEKISHO_CORPORA)");
        return;
    };
    let suite = load(&dir, "aws-sig-v4-test-suite.json");
    let config = &suite["config"];
    let secret = SecretString::from(s(&config["secret_access_key"]));
    let now = DateTime::parse_from_str(
        &format!("{} +0000", s(&config["timestamp"])),
        "%Y%m%dT%H%M%SZ %z",
    )
    .unwrap()
    .with_timezone(&Utc);
    let errata = suite["known_errata"].as_object().unwrap();
    let (mut passed, mut failures, mut skipped) = (0, Vec::new(), Vec::new());
    for case in suite["cases"].as_array().unwrap() {
        let name = s(&case["name"]);
        if let Some(why) = errata.get(name) {
            skipped.push(format!("{name}: known erratum ({})", s(why)));
            continue;
        }
        let authz = s(&case["authz"]);
        let expected = Expected {
            canonical: s(&case["creq"]),
            string_to_sign: s(&case["sts"]),
            signature: authz.rsplit("Signature=").next().unwrap(),
        };
        match run_case(
            s(&case["sreq"]),
            Fold::NewValue,
            AuthForm::Header,
            &expected,
            &secret,
            "service",
            now,
        ) {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    println!(
        "aws-sig-v4-test-suite: {passed} passed, {} failed, {} skipped",
        failures.len(),
        skipped.len()
    );
    for s in &skipped {
        println!("  skipped {s}");
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    assert!(passed >= 29, "only {passed} vectors applied");
}

/// A path the signer did not normalise (S3 style) cannot be checked by a verifier that always
/// normalises, as STS and IAM do.
fn unnormalised(path: &str) -> bool {
    path.contains("//")
        || path.contains("/./")
        || path.contains("/../")
        || path.ends_with("/.")
        || path.ends_with("/..")
}

#[test]
fn aws_c_auth_v4_suite() {
    let Some(dir) = corpus_dir() else {
        common::skip("SigV4 corpus not found (set SEKISHO_CORPORA)");
        return;
    };
    let suite = load(&dir, "aws-c-auth-v4.json");
    let (mut passed, mut failures, mut skipped) = (0, Vec::new(), Vec::new());
    for case in suite["cases"].as_array().unwrap() {
        let name = s(&case["name"]);
        let ctx = &case["context"];
        let secret = SecretString::from(s(&ctx["credentials"]["secret_access_key"]));
        let service = s(&ctx["service"]);
        let now = DateTime::parse_from_rfc3339(s(&ctx["timestamp"]))
            .unwrap()
            .with_timezone(&Utc);
        let path = parse_raw(s(&case["request"]), Fold::Unfold).path;
        if ctx["normalize"] == Value::Bool(false) && unnormalised(&path) {
            skipped.push(format!(
                "{name} (both forms): S3-style unnormalised path {path:?}"
            ));
            continue;
        }
        for (form, prefix) in [(AuthForm::Header, "header"), (AuthForm::Presigned, "query")] {
            if form == AuthForm::Presigned && ctx["omit_session_token"] == Value::Bool(true) {
                skipped.push(format!(
                    "{name} (query form): session token appended after signing \
                     (omit_session_token), which STS does not do"
                ));
                continue;
            }
            let expected = Expected {
                canonical: s(&case[format!("{prefix}_canonical_request")]),
                string_to_sign: s(&case[format!("{prefix}_string_to_sign")]),
                signature: s(&case[format!("{prefix}_signature")]),
            };
            let signed = s(&case[format!("{prefix}_signed_request")]);
            match run_case(signed, Fold::Unfold, form, &expected, &secret, service, now) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("{name} ({prefix} form): {e}")),
            }
        }
    }
    let v4a = load(&dir, "aws-c-auth-v4a.json");
    let v4a_count = v4a["cases"].as_array().map_or(0, Vec::len);
    println!(
        "aws-c-auth v4: {passed} passed, {} failed, {} skipped; v4a: {v4a_count} skipped \
         (SigV4a / ECDSA is not accepted by STS)",
        failures.len(),
        skipped.len()
    );
    for s in &skipped {
        println!("  skipped {s}");
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    assert!(passed >= 60, "only {passed} vectors applied");
}
