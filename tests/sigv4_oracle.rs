//! Differential property test against the official signer, `aws-sigv4`: random requests it signs
//! (header and presigned forms) must verify; the same request written differently (query order
//! and encoding, header order, whitespace) must verify too; any single change to the method,
//! path, query, a signed header, the body, the date, the token or the secret must not.
//!
//! `aws-sigv4` is configured as crates.md describes: sign every header the client sends (default
//! exclusions off), double-encode and normalise the path (non-S3 services), no
//! `x-amz-content-sha256`. Header values use spaces, not tabs: for tabs `aws-sigv4` and botocore
//! disagree (botocore, followed here, collapses them).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use sekisho::secret::SecretString;
use sekisho::sigv4::{self, AuthForm, RequestParts};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST: &str = "sts.example.test";
const EXPIRES: u64 = 300;

/// A request as the client means it (decoded), plus how it is written on the wire.
#[derive(Debug, Clone)]
struct Gen {
    method: &'static str,
    /// Decoded path segments; `.`/`..` are real dot segments.
    segments: Vec<String>,
    trailing_slash: bool,
    /// Decoded query parameters.
    params: Vec<(String, String)>,
    /// Header (name, value) in sending order; names may repeat.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    token: Option<String>,
    secs: i64,
    presigned: bool,
    /// Wire encoding of spaces in the query: `+` or `%20`.
    plus_for_space: bool,
}

impl Gen {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.secs, 0).unwrap()
    }

    fn wire_path(&self) -> String {
        let mut p = String::new();
        for s in &self.segments {
            p.push('/');
            if s == "." || s == ".." {
                p.push_str(s);
            } else {
                p.push_str(&encode_path_segment(s));
            }
        }
        if self.trailing_slash || p.is_empty() {
            p.push('/');
        }
        p
    }

    fn wire_query(&self, style: Style) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{}={}", encode_query(k, style), encode_query(v, style)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// How a query component is percent-encoded on the wire (all decode to the same value).
#[derive(Debug, Clone, Copy)]
struct Style {
    plus_for_space: bool,
    lowercase_hex: bool,
    /// Encode unreserved characters too (`%41` for `A`).
    encode_unreserved: bool,
}

const CANONICAL_STYLE: Style = Style {
    plus_for_space: false,
    lowercase_hex: false,
    encode_unreserved: false,
};

fn encode_query(s: &str, style: Style) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
        if unreserved && !style.encode_unreserved {
            out.push(char::from(b));
        } else if b == b' ' && style.plus_for_space {
            out.push('+');
        } else if style.lowercase_hex {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Path segments keep unreserved characters and sub-delims raw, as clients do.
fn encode_path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn arb_gen() -> impl Strategy<Value = Gen> {
    let segment = prop_oneof![
        8 => "[a-zA-Z0-9 ._~!$&'()*+,;=:@%é/ሴ-]{0,8}",
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
    ];
    let text = "[a-zA-Z0-9 _.~+&=%é/ሴ!*'()-]{0,8}";
    let name = "[a-zA-Z0-9 _.~+&=%é/ሴ-]{1,6}";
    let header_value = "[ -~]{0,16}";
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        prop::collection::vec(segment, 0..4),
        any::<bool>(),
        prop::collection::vec((name, text), 0..5),
        prop::collection::vec(
            (
                prop::sample::select(vec!["x-ha", "x-hb", "content-type"]),
                header_value,
            ),
            0..5,
        ),
        prop::collection::vec(any::<u8>(), 0..80),
        prop::option::of("[A-Za-z0-9+/=]{1,40}"),
        1_500_000_000i64..2_000_000_000,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                method,
                segments,
                trailing_slash,
                params,
                headers,
                body,
                token,
                secs,
                presigned,
                plus,
            )| {
                Gen {
                    method,
                    segments,
                    trailing_slash,
                    params,
                    headers: headers
                        .into_iter()
                        .map(|(n, v)| (n.to_owned(), v))
                        .collect(),
                    body,
                    token,
                    secs,
                    presigned,
                    plus_for_space: plus,
                }
            },
        )
}

/// A request as received: headers in arrival order, raw path and query.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
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

/// Signs `g` with `aws-sigv4` and returns the request as a server receives it, plus the extra
/// `X-Amz-*` query parameters (decoded) of the presigned form.
fn oracle_sign(g: &Gen) -> (Received, Vec<(String, String)>) {
    let creds = Credentials::new(AKID, SECRET, g.token.clone(), None, "oracle");
    let identity: Identity = creds.into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(Vec::new());
    if g.presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(StdDuration::from_secs(EXPIRES));
    }
    let time: SystemTime = UNIX_EPOCH + StdDuration::from_secs(u64::try_from(g.secs).unwrap());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let style = Style {
        plus_for_space: g.plus_for_space,
        ..CANONICAL_STYLE
    };
    let path = g.wire_path();
    let query = g.wire_query(style);
    let uri = if query.is_empty() {
        format!("https://{HOST}{path}")
    } else {
        format!("https://{HOST}{path}?{query}")
    };
    let mut sent: Vec<(String, String)> = vec![("host".into(), HOST.into())];
    sent.extend(g.headers.iter().cloned());
    let signable = SignableRequest::new(
        g.method,
        uri,
        sent.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&g.body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (new_headers, new_params) = instructions.into_parts();
    let mut headers = HeaderMap::new();
    for (k, v) in &sent {
        headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    for h in new_headers {
        headers.insert(h.name(), HeaderValue::from_str(h.value()).unwrap());
    }
    let extra: Vec<(String, String)> = new_params
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_owned()))
        .collect();
    let mut full_query = query;
    for (k, v) in &extra {
        if !full_query.is_empty() {
            full_query.push('&');
        }
        full_query.push_str(&format!(
            "{}={}",
            encode_query(k, CANONICAL_STYLE),
            encode_query(v, CANONICAL_STYLE)
        ));
    }
    let received = Received {
        method: g.method.to_owned(),
        path,
        query: full_query,
        headers,
        body: g.body.clone(),
    };
    (received, extra)
}

/// The whole pipeline, as the server runs it.
fn accepts(r: &Received, now: DateTime<Utc>, secret: &str) -> Result<(), String> {
    let req = r.parts();
    let auth = sigv4::parse(&req)
        .map_err(|e| format!("parse: {e:?}"))?
        .ok_or("no auth")?;
    sigv4::check_request(&auth, &req, &["sts"], &|_| true, Duration::minutes(15), now)
        .map_err(|e| format!("check: {e:?}"))?;
    sigv4::verify(&auth, &req, &SecretString::from(secret)).map_err(|e| format!("verify: {e:?}"))
}

fn config() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn oracle_signed_requests_verify(g in arb_gen()) {
        let (r, _) = oracle_sign(&g);
        let auth = sigv4::parse(&r.parts()).unwrap().unwrap();
        prop_assert_eq!(auth.form, if g.presigned { AuthForm::Presigned } else { AuthForm::Header });
        prop_assert_eq!(auth.security_token.as_ref().map(|t| t.expose().to_owned()), g.token.clone());
        if let Err(e) = accepts(&r, g.now(), SECRET) {
            return Err(TestCaseError::fail(format!("{e}\nrequest: {r:?}")));
        }
    }

    #[test]
    fn equivalent_writings_verify(
        g in arb_gen(),
        plus in any::<bool>(),
        lower in any::<bool>(),
        unreserved in any::<bool>(),
        rotate in 0usize..8,
        double_spaces in any::<bool>(),
    ) {
        let (signed, extra) = oracle_sign(&g);
        // The query: other encodings, rotated order.
        let style = Style { plus_for_space: plus, lowercase_hex: lower, encode_unreserved: unreserved };
        let mut pairs: Vec<String> = g
            .params
            .iter()
            .chain(extra.iter())
            .map(|(k, v)| format!("{}={}", encode_query(k, style), encode_query(v, style)))
            .collect();
        if !pairs.is_empty() {
            let n = rotate % pairs.len();
            pairs.rotate_left(n);
        }
        // Headers: names in reverse order of arrival (values of one name keep their order),
        // inner spaces doubled.
        let mut names: Vec<HeaderName> = signed.headers.keys().cloned().collect();
        names.reverse();
        let mut headers = HeaderMap::new();
        for name in names {
            for v in signed.headers.get_all(&name) {
                let s = v.to_str().unwrap();
                let s = if double_spaces && name.as_str().starts_with("x-h") { s.replace(' ', "  ") } else { s.to_owned() };
                headers.append(name.clone(), HeaderValue::from_str(&s).unwrap());
            }
        }
        let variant = Received { query: pairs.join("&"), headers, ..signed };
        if let Err(e) = accepts(&variant, g.now(), SECRET) {
            return Err(TestCaseError::fail(format!("{e}\nvariant: {variant:?}")));
        }
    }

    #[test]
    fn any_single_change_is_refused(g in arb_gen(), which in 0usize..8, pick in any::<prop::sample::Index>()) {
        let (signed, _) = oracle_sign(&g);
        prop_assert!(accepts(&signed, g.now(), SECRET).is_ok());
        let mut r = signed.clone();
        let mut secret = SECRET;
        let what = match which {
            0 => {
                r.method = if g.method == "GET" { "POST".into() } else { "GET".into() };
                "method"
            }
            1 => {
                r.path.push('x');
                "path"
            }
            2 => {
                r.query = if r.query.is_empty() { "zz=1".into() } else { format!("{}&zz=1", r.query) };
                "query"
            }
            3 => {
                // A signed header: host or one of the generated ones.
                let names: Vec<HeaderName> = r
                    .headers
                    .keys()
                    .filter(|n| *n == "host" || n.as_str().starts_with("x-h") || *n == "content-type")
                    .cloned()
                    .collect();
                let name = pick.get(&names).clone();
                let mut values: Vec<HeaderValue> = r.headers.get_all(&name).iter().cloned().collect();
                let i = pick.index(values.len());
                values[i] = HeaderValue::from_str(&format!("{}x", values[i].to_str().unwrap())).unwrap();
                r.headers.remove(&name);
                for v in values {
                    r.headers.append(name.clone(), v);
                }
                "signed header"
            }
            4 => {
                r.body.push(b'!');
                "body"
            }
            5 => {
                let old = sigv4_date(g.secs);
                let new = sigv4_date(g.secs + 1);
                if g.presigned {
                    r.query = r.query.replace(&format!("X-Amz-Date={old}"), &format!("X-Amz-Date={new}"));
                } else {
                    r.headers.insert("x-amz-date", HeaderValue::from_str(&new).unwrap());
                }
                "date"
            }
            6 => {
                secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
                "secret"
            }
            _ => {
                if g.token.is_none() {
                    return Ok(());
                }
                if g.presigned {
                    r.query = r.query.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=A");
                } else {
                    let t = r.headers["x-amz-security-token"].to_str().unwrap().to_owned();
                    r.headers.insert("x-amz-security-token", HeaderValue::from_str(&format!("A{t}")).unwrap());
                }
                "token"
            }
        };
        prop_assert!(
            accepts(&r, g.now(), secret).is_err(),
            "changed {} but still verified: {:?}", what, r
        );
    }
}

fn sigv4_date(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// A fixed request signed by our own `sign_request` / `presign_url_query` is accepted by the
/// oracle's view too: both signers produce the same signature for the same request.
#[test]
fn our_signer_matches_the_oracle() {
    let g = Gen {
        method: "POST",
        segments: vec![],
        trailing_slash: true,
        params: vec![("Action".into(), "GetCallerIdentity".into())],
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: b"Version=2011-06-15".to_vec(),
        token: Some("tok".into()),
        secs: 1_767_225_600,
        presigned: false,
        plus_for_space: false,
    };
    let (oracle, _) = oracle_sign(&g);
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static(HOST));
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let ours = sigv4::sign_request(
        "POST",
        "/",
        "Action=GetCallerIdentity",
        &h,
        &g.body,
        AKID,
        &SecretString::from(SECRET),
        Some("tok"),
        "us-east-1",
        "sts",
        g.now(),
    );
    let ours_auth = &ours.iter().find(|(k, _)| k == "authorization").unwrap().1;
    assert_eq!(ours_auth, oracle.headers["authorization"].to_str().unwrap());
}
