//! Load generator: replays signed requests against Sekisho and, in the same run, against a
//! minimal axum server that answers a fixed body (the floor). Reports requests/s, p50 and p99
//! for each, and their ratio, so noisy machines still give comparable figures.
//!
//! `sekisho-loadgen [--seconds N] [--concurrency C] [--scenario all|gci|assume|verify|iam|web|saml]
//! [--users N] [--endpoint HOST:PORT]`
//!
//! `web` is `AssumeRoleWithWebIdentity` with RS256 and ES256 tokens of a local OIDC issuer
//! started in this process (keys cached after the first request: no fetch on the request path).
//!
//! `saml` is `AssumeRoleWithSAML` with a response whose assertion is signed with a 2048-bit RSA
//! key (RSA-SHA256; made at start, signed once by xmlsec through samael), replayed: the server
//! runs with `[saml] allow_assertion_reuse = true` for the run.
//!
//! Without `--endpoint` it starts its own Sekisho (embedded store, temporary directory) in this
//! process. With `--endpoint` it replays `GetCallerIdentity` against an already running server
//! (e.g. `make run`), signed with `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.

#![expect(
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a benchmark tool: bounded indexes and float statistics"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::{get, post};

/// jemalloc, as the server uses (see `src/main.rs`).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sekisho::clock::{Clock, SystemClock};
use sekisho::config::{AuditSink, Backend, Config};
use sekisho::secret::SecretString;

const KEY: (&str, &str) = (
    "AKIARTXV5AHD2JZDEGXD",
    "adminSecretKeyadminSecretKeyadminSecret0",
);

fn bootstrap(extra_users: usize, issuer: &str, saml_metadata: &str) -> String {
    let mut s = String::from(
        r#"
[[accounts]]
id = "111111111111"
[[accounts.users]]
name = "admin"
inline_policies.all = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
[[accounts.users.access_keys]]
id = "AKIARTXV5AHD2JZDEGXD"
secret = "adminSecretKeyadminSecretKeyadminSecret0"
[[accounts.roles]]
name = "target"
trust_policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"bench"}}}]}'
inline_policies.work = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"arn:aws:s3:::bench/*"}]}'
"#,
    );
    let name = issuer.trim_start_matches("http://");
    s.push_str(&format!(
        "[[accounts.oidc_providers]]\nurl = \"{issuer}\"\nclient_ids = [\"sts.amazonaws.com\"]\n\
         [[accounts.roles]]\nname = \"web\"\ntrust_policy = '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"Federated\":\"arn:aws:iam::111111111111:oidc-provider/{name}\"}},\"Action\":\"sts:AssumeRoleWithWebIdentity\",\"Condition\":{{\"StringEquals\":{{\"{name}:aud\":\"sts.amazonaws.com\"}},\"StringLike\":{{\"{name}:sub\":\"repo:org/*\"}}}}}}]}}'\n"
    ));
    s.push_str(&format!(
        "[[accounts.saml_providers]]\nname = \"bench\"\nmetadata = '''{saml_metadata}'''\n\
         [[accounts.roles]]\nname = \"saml\"\ntrust_policy = '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"Federated\":\"arn:aws:iam::111111111111:saml-provider/bench\"}},\"Action\":\"sts:AssumeRoleWithSAML\",\"Condition\":{{\"StringEquals\":{{\"SAML:aud\":\"https://signin.aws.amazon.com/saml\"}}}}}}]}}'\n"
    ));
    for i in 0..extra_users {
        s.push_str(&format!("[[accounts.users]]\nname = \"user{i:05}\"\n"));
        s.push_str(&format!(
            "[[accounts.roles]]\nname = \"role{i:05}\"\ntrust_policy = '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"111111111111\"}},\"Action\":\"sts:AssumeRole\"}}]}}'\n"
        ));
    }
    s
}

struct Args {
    endpoint: Option<SocketAddr>,
    seconds: u64,
    concurrency: usize,
    scenario: String,
    users: usize,
}

fn args() -> Args {
    let mut a = Args {
        endpoint: None,
        seconds: 5,
        concurrency: 16,
        scenario: "all".into(),
        users: 0,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v.get(i).map(String::as_str) {
            Some("--seconds") => a.seconds = val.parse().unwrap_or(5),
            Some("--concurrency") => a.concurrency = val.parse().unwrap_or(16),
            Some("--scenario") => a.scenario = val,
            Some("--users") => a.users = val.parse().unwrap_or(0),
            Some("--endpoint") => {
                let v = val.trim_start_matches("http://").trim_end_matches('/');
                a.endpoint = Some(v.parse().unwrap_or_else(|e| panic_exit(&e)));
            }
            _ => {
                eprintln!(
                    "usage: sekisho-loadgen [--seconds N] [--concurrency C] [--scenario all|gci|assume|verify|iam|web|saml] [--users N]"
                );
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

/// A prepared request: method, path, headers, body.
#[derive(Clone)]
struct Prepared {
    method: http::Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

fn key() -> (String, String) {
    match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(k), Ok(s)) if ENDPOINT_MODE.get().copied().unwrap_or(false) => (k, s),
        _ => (KEY.0.to_owned(), KEY.1.to_owned()),
    }
}

static ENDPOINT_MODE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn sign(addr: SocketAddr, path: &str, body: &str, content_type: &str, service: &str) -> Prepared {
    let (key_id, secret) = key();
    let mut h = http::HeaderMap::new();
    h.insert(
        "host",
        addr.to_string()
            .parse()
            .unwrap_or(http::HeaderValue::from_static("x")),
    );
    h.insert(
        "content-type",
        http::HeaderValue::from_str(content_type).unwrap_or(http::HeaderValue::from_static("x")),
    );
    let extra = sekisho::sigv4::sign_request(
        "POST",
        path,
        "",
        &h,
        body.as_bytes(),
        &key_id,
        &SecretString::new(secret),
        None,
        "us-east-1",
        service,
        SystemClock.now(),
    );
    let mut headers: Vec<(String, String)> = h
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    headers.extend(extra);
    Prepared {
        method: http::Method::POST,
        path: path.into(),
        headers,
        body: Bytes::from(body.to_owned()),
    }
}

struct Stats {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

/// What one slice of load measured.
struct Run {
    lat: Vec<Duration>,
    elapsed: f64,
    errors: usize,
}

impl Stats {
    /// Totals over several slices: requests over time, percentiles over all latencies.
    fn of(runs: &[Run]) -> Self {
        let mut all: Vec<Duration> = runs.iter().flat_map(|r| r.lat.iter().copied()).collect();
        all.sort();
        let elapsed: f64 = runs.iter().map(|r| r.elapsed).sum();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Self {
            rps: all.len() as f64 / elapsed.max(f64::MIN_POSITIVE),
            p50: pct(0.50),
            p99: pct(0.99),
            errors: runs.iter().map(|r| r.errors).sum(),
        }
    }
}

async fn drive(addr: SocketAddr, reqs: Arc<Vec<Prepared>>, span: Duration, conc: usize) -> Run {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(conc)
        .build(connector);
    let deadline = Instant::now() + span;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..conc {
        let client = client.clone();
        let reqs = reqs.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0usize;
            let mut i = w;
            while Instant::now() < deadline {
                let p = &reqs[i % reqs.len()];
                i += 1;
                let mut b = http::Request::builder()
                    .method(p.method.clone())
                    .uri(format!("http://{addr}{}", p.path));
                for (k, v) in &p.headers {
                    b = b.header(k, v);
                }
                let Ok(req) = b.body(Full::new(p.body.clone())) else {
                    errors += 1;
                    continue;
                };
                let t = Instant::now();
                match client.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        lat.push(t.elapsed());
                        if !ok {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    Run {
        lat: all,
        elapsed: start.elapsed().as_secs_f64(),
        errors,
    }
}

async fn floor_server() -> SocketAddr {
    let body = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::111111111111:user/admin</Arn><UserId>AIDAEXAMPLE</UserId><Account>111111111111</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></GetCallerIdentityResponse>";
    let app = axum::Router::new()
        .route(
            "/",
            post(move || async move { ([("content-type", "text/xml")], body) }),
        )
        .route(
            "/verify",
            post(move || async move { ([("content-type", "application/json")], "{}") }),
        )
        .route("/healthz", get(|| async { "ok" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic_exit(&e));
    let addr = l.local_addr().unwrap_or_else(|e| panic_exit(&e));
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

fn panic_exit<T>(e: &dyn std::fmt::Display) -> T {
    eprintln!("loadgen: {e}");
    std::process::exit(1)
}

/// A local OIDC issuer (discovery and JWKS at its root) and tokens it signed: RS256 and ES256.
struct WebIssuer {
    url: String,
    rs256: Vec<String>,
    es256: Vec<String>,
}

async fn web_issuer() -> WebIssuer {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic_exit(&e));
    let url = format!(
        "http://{}",
        l.local_addr().unwrap_or_else(|e| panic_exit(&e))
    );
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .unwrap_or_else(|e| panic_exit(&e));
    let pkcs8: Pkcs8V1Der<'_> = rsa.as_der().unwrap_or_else(|e| panic_exit(&e));
    // The signer takes the PKCS#1 key that PKCS#8 wraps at a fixed offset (2048-bit keys).
    let pkcs1 = pkcs8.as_ref().get(26..).unwrap_or_default().to_vec();
    let pc = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let ec_doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .unwrap_or_else(|e| panic_exit(&e));
    let ec = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, ec_doc.as_ref())
        .unwrap_or_else(|e| panic_exit(&e));
    let point = ec.public_key().as_ref().to_vec();
    let jwks = serde_json::json!({"keys": [
        {"kty":"RSA","kid":"rsa","alg":"RS256","n":B64.encode(&pc.n),"e":B64.encode(&pc.e)},
        {"kty":"EC","kid":"ec","crv":"P-256","x":B64.encode(point.get(1..33).unwrap_or_default()),
         "y":B64.encode(point.get(33..65).unwrap_or_default())}]})
    .to_string();
    let discovery =
        serde_json::json!({"issuer": url, "jwks_uri": format!("{url}/jwks")}).to_string();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { discovery }),
        )
        .route("/jwks", get(move || async move { jwks }));
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    let now = SystemClock.now().timestamp();
    let claims = |i: usize| {
        serde_json::json!({"iss": url, "aud": "sts.amazonaws.com",
            "sub": format!("repo:org/r{i}:ref:refs/heads/main"), "iat": now, "exp": now + 3600})
    };
    let sign = |alg, kid: &str, key: &jsonwebtoken::EncodingKey, i| {
        let mut h = jsonwebtoken::Header::new(alg);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&h, &claims(i), key).unwrap_or_else(|e| panic_exit(&e))
    };
    let rk = jsonwebtoken::EncodingKey::from_rsa_der(&pkcs1);
    let ek = jsonwebtoken::EncodingKey::from_ec_der(ec_doc.as_ref());
    WebIssuer {
        rs256: (0..16)
            .map(|i| sign(jsonwebtoken::Algorithm::RS256, "rsa", &rk, i))
            .collect(),
        es256: (0..16)
            .map(|i| sign(jsonwebtoken::Algorithm::ES256, "ec", &ek, i))
            .collect(),
        url,
    }
}

/// Unsigned `AssumeRoleWithWebIdentity` requests, one per token.
fn web_requests(addr: SocketAddr, tokens: &[String]) -> Arc<Vec<Prepared>> {
    Arc::new(
        tokens
            .iter()
            .map(|t| Prepared {
                method: http::Method::POST,
                path: "/".into(),
                headers: vec![
                    ("host".into(), addr.to_string()),
                    (
                        "content-type".into(),
                        "application/x-www-form-urlencoded; charset=utf-8".into(),
                    ),
                ],
                body: Bytes::from(format!(
                    "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fweb&RoleSessionName=bench&WebIdentityToken={t}"
                )),
            })
            .collect(),
    )
}

/// A SAML IdP for the `saml` scenario: its metadata and one signed response (base64).
struct SamlIdp {
    metadata: String,
    response_b64: String,
}

fn saml_idp() -> SamlIdp {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};
    use samael::crypto::{Crypto, CryptoProvider};
    let key = Rsa::generate(2048)
        .and_then(PKey::from_rsa)
        .unwrap_or_else(|e| panic_exit(&e));
    let cert = (|| -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", "bench-idp")?;
        let name = name.build();
        let mut b = X509::builder()?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let (from, to) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(2)?);
        b.set_not_before(&from)?;
        b.set_not_after(&to)?;
        b.sign(&key, MessageDigest::sha256())?;
        b.build().to_der()
    })()
    .unwrap_or_else(|e| panic_exit(&e));
    let cert_b64 = STANDARD.encode(&cert);
    let issuer = "https://bench-idp.example.com/metadata";
    // Padded past AWS's 1,000-character minimum for metadata.
    let pad = "Sekisho load generator test identity provider. ".repeat(8);
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{issuer}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://bench-idp.example.com/sso"/></md:IDPSSODescriptor><md:Organization><md:OrganizationName xml:lang="en">{pad}</md:OrganizationName><md:OrganizationDisplayName xml:lang="en">bench</md:OrganizationDisplayName><md:OrganizationURL xml:lang="en">https://bench-idp.example.com/</md:OrganizationURL></md:Organization></md:EntityDescriptor>"#
    );
    let t = |d: i64| {
        (SystemClock.now() + chrono::Duration::seconds(d))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let (now, end) = (t(0), t(3 * 3600));
    let a = "https://aws.amazon.com/SAML/Attributes/";
    let xml = format!(
        r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a1" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">bench@example.com</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{end}" Recipient="https://signin.aws.amazon.com/saml"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{now}" NotOnOrAfter="{end}"><saml:AudienceRestriction><saml:Audience>urn:amazon:webservices</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement><saml:Attribute Name="{a}Role"><saml:AttributeValue>arn:aws:iam::111111111111:role/saml,arn:aws:iam::111111111111:saml-provider/bench</saml:AttributeValue></saml:Attribute><saml:Attribute Name="{a}RoleSessionName"><saml:AttributeValue>bench</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##
    );
    let der = key.private_key_to_der().unwrap_or_else(|e| panic_exit(&e));
    let signed = Crypto::sign_xml(xml, &der).unwrap_or_else(|e| panic_exit(&e));
    SamlIdp {
        metadata,
        response_b64: STANDARD.encode(signed),
    }
}

/// Unsigned `AssumeRoleWithSAML` requests carrying the one signed response.
fn saml_requests(addr: SocketAddr, response_b64: &str) -> Arc<Vec<Prepared>> {
    let assertion: String = form_urlencoded::byte_serialize(response_b64.as_bytes()).collect();
    Arc::new(vec![Prepared {
        method: http::Method::POST,
        path: "/".into(),
        headers: vec![
            ("host".into(), addr.to_string()),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ),
        ],
        body: Bytes::from(format!(
            "Action=AssumeRoleWithSAML&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fsaml&PrincipalArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Asaml-provider%2Fbench&SAMLAssertion={assertion}"
        )),
    }])
}

async fn sekisho_server(
    dir: &std::path::Path,
    users: usize,
    issuer: &str,
    saml_metadata: &str,
) -> SocketAddr {
    let boot = dir.join("iam.toml");
    std::fs::write(&boot, bootstrap(users, issuer, saml_metadata))
        .unwrap_or_else(|e| panic_exit(&e));
    let mut cfg = Config::default();
    // The `saml` scenario replays one response.
    cfg.saml.allow_assertion_reuse = true;

    cfg.oidc.insecure_http_prefixes = vec!["http://127.0.0.1:".into()];
    cfg.store.backend = Backend::Embedded;
    cfg.keep_state_in(dir);
    cfg.audit.sink = if std::env::var("LOADGEN_AUDIT").as_deref() == Ok("none") {
        AuditSink::None
    } else {
        AuditSink::File
    };
    cfg.iam.bootstrap = Some(boot);
    let (st, _) = sekisho::server::build(cfg, Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic_exit(&e));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic_exit(&e));
    let addr = l.local_addr().unwrap_or_else(|e| panic_exit(&e));
    tokio::spawn(async move {
        let _ = sekisho::http::serve(l, st, std::future::pending()).await;
    });
    addr
}

fn report(name: &str, s: &Stats, floor: &Stats) {
    println!(
        "{name:<34} {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {:>5}   ratio vs floor {:.2}x",
        s.rps,
        s.p50.as_secs_f64() * 1e3,
        s.p99.as_secs_f64() * 1e3,
        s.errors,
        s.rps / floor.rps.max(1.0)
    );
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile_dir();
    let floor = floor_server().await;
    let _ = ENDPOINT_MODE.set(a.endpoint.is_some());
    let web = web_issuer().await;
    let idp = saml_idp();
    let sek = match a.endpoint {
        Some(e) => e,
        None => sekisho_server(&dir, a.users, &web.url, &idp.metadata).await,
    };
    let form = "application/x-www-form-urlencoded; charset=utf-8";
    let gci = "Action=GetCallerIdentity&Version=2011-06-15";
    let mk = |addr, path: &str, body: &str, ct: &str, svc: &str| {
        Arc::new(
            (0..64)
                .map(|_| sign(addr, path, body, ct, svc))
                .collect::<Vec<_>>(),
        )
    };
    println!(
        "{} s per side, in alternating 0.5 s slices; {} connections; embedded store",
        a.seconds, a.concurrency
    );
    let floor_reqs = mk(floor, "/", gci, form, "sts");
    // The machine's speed drifts by tens of percent within a minute (shared hosts), so the
    // floor and Sekisho are measured in alternating half-second slices, `seconds` in all on
    // each side: drift hits both sides of each ratio alike. The floor is driven with the
    // signed GetCallerIdentity request (the spine issue's floor) and, for scenarios whose
    // requests differ, also with the scenario's own requests, byte for byte (a floor that
    // reads what the client must send but does nothing with it).
    let slice = Duration::from_millis(500);
    let rounds = (a.seconds * 2).max(1);
    let paired = |name: &'static str, reqs: Arc<Vec<Prepared>>, same_shape: bool| {
        let floor_reqs = floor_reqs.clone();
        async move {
            let (mut f, mut g, mut s) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                f.push(drive(floor, floor_reqs.clone(), slice, a.concurrency).await);
                if same_shape {
                    g.push(drive(floor, reqs.clone(), slice, a.concurrency).await);
                }
                s.push(drive(sek, reqs.clone(), slice, a.concurrency).await);
            }
            let (f, s) = (Stats::of(&f), Stats::of(&s));
            report("  floor (fixed body, same run)", &f, &f);
            report(name, &s, &f);
            if same_shape {
                let g = Stats::of(&g);
                report("  floor fed this scenario's requests", &g, &g);
                report("  ... ratio vs that floor", &s, &g);
            }
        }
    };
    let external = a.endpoint.is_some();
    let want = |s: &str| (a.scenario == "all" && (!external || s == "gci")) || a.scenario == s;
    if want("gci") {
        paired(
            "GetCallerIdentity (AKIA)",
            mk(sek, "/", gci, form, "sts"),
            false,
        )
        .await;
    }
    if want("assume") {
        let body = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Ftarget&RoleSessionName=bench&ExternalId=bench";
        paired("AssumeRole (AKIA)", mk(sek, "/", body, form, "sts"), true).await;
    }
    if want("verify") {
        let body = verify_body(sek).await;
        paired(
            "verify endpoint (ASIA, s3:GetObject)",
            mk(sek, "/verify", &body, "application/json", "sts"),
            true,
        )
        .await;
    }
    if want("iam") {
        for (name, body) in [
            (
                "IAM GetRole",
                "Action=GetRole&Version=2010-05-08&RoleName=target".to_owned(),
            ),
            (
                "IAM ListUsers (100/page)",
                "Action=ListUsers&Version=2010-05-08&MaxItems=100".to_owned(),
            ),
        ] {
            paired(name, mk(sek, "/", &body, form, "iam"), false).await;
        }
    }
    if want("web") {
        for (name, tokens) in [
            ("AssumeRoleWithWebIdentity (RS256)", &web.rs256),
            ("AssumeRoleWithWebIdentity (ES256)", &web.es256),
        ] {
            paired(name, web_requests(sek, tokens), true).await;
        }
    }
    if want("saml") {
        paired(
            "AssumeRoleWithSAML (RSA-2048, SHA-256)",
            saml_requests(sek, &idp.response_b64),
            true,
        )
        .await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sekisho-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic_exit(&e));
    d
}

/// Assumes the role once and builds a verification request for an S3 GET signed with the
/// session credentials.
async fn verify_body(sek: SocketAddr) -> String {
    let body = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Ftarget&RoleSessionName=bench&ExternalId=bench";
    let p = sign(
        sek,
        "/",
        body,
        "application/x-www-form-urlencoded; charset=utf-8",
        "sts",
    );
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut b = http::Request::builder()
        .method("POST")
        .uri(format!("http://{sek}/"));
    for (k, v) in &p.headers {
        b = b.header(k, v);
    }
    let resp = client
        .request(b.body(Full::new(p.body)).unwrap_or_else(|e| panic_exit(&e)))
        .await
        .unwrap_or_else(|e| panic_exit(&e));
    let xml = String::from_utf8_lossy(
        &resp
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic_exit(&e))
            .to_bytes(),
    )
    .into_owned();
    let field = |t: &str| {
        let open = format!("<{t}>");
        let close = format!("</{t}>");
        xml.split(&open)
            .nth(1)
            .and_then(|r| r.split(&close).next())
            .unwrap_or_default()
            .to_owned()
    };
    let (ak, sk, tok) = (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    );
    let mut h = http::HeaderMap::new();
    h.insert("host", http::HeaderValue::from_static("bench.s3.local"));
    let signed = sekisho::sigv4::sign_request(
        "GET",
        "/obj",
        "",
        &h,
        b"",
        &ak,
        &SecretString::new(sk),
        Some(&tok),
        "us-east-1",
        "s3",
        SystemClock.now(),
    );
    let mut headers = vec![("host".to_owned(), "bench.s3.local".to_owned())];
    headers.extend(signed);
    serde_json::json!({
        "request": { "method": "GET", "path": "/obj", "query": "", "headers": headers,
            "payload_hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        "service": "s3", "action": "s3:GetObject", "resource": "arn:aws:s3:::bench/obj",
    })
    .to_string()
}
