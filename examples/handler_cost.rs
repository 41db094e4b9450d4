//! Measures the server-side cost of one request without the network: the router is called
//! in-process (`oneshot`) with pre-signed requests.
//!
//! `cargo run --release --example handler_cost [gci|assume|verify ...]`
//! Environment: `N` (requests per scenario, default 20000), `AUDIT=file` (audit to a file
//! instead of nowhere), `STORE=embedded` (redb instead of memory). Handy under
//! `perf record -g` or `valgrind --tool=callgrind` to see where a request's time goes.
#![expect(clippy::unwrap_used, reason = "measurement tool")]

use std::sync::Arc;

/// jemalloc, as the server uses (see `src/main.rs`).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use std::time::Instant;

use sekisho::clock::{Clock, SystemClock};
use sekisho::config::{AuditSink, Backend, Config};
use sekisho::secret::SecretString;
use tower::ServiceExt;

const BOOT: &str = r#"
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
"#;

const KEY: &str = "AKIARTXV5AHD2JZDEGXD";
const SECRET: &str = "adminSecretKeyadminSecretKeyadminSecret0";
const ASSUME: &str = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Ftarget&RoleSessionName=bench&ExternalId=bench";

fn signed(path: &str, body: &str, ct: &str) -> http::Request<axum::body::Body> {
    let mut h = http::HeaderMap::new();
    h.insert("host", "localhost".parse().unwrap());
    h.insert("content-type", ct.parse().unwrap());
    let extra = sekisho::sigv4::sign_request(
        "POST",
        path,
        "",
        &h,
        body.as_bytes(),
        KEY,
        &SecretString::from(SECRET),
        None,
        "us-east-1",
        "sts",
        SystemClock.now(),
    );
    let mut req = http::Request::builder().method("POST").uri(path);
    for (k, v) in &h {
        req = req.header(k, v);
    }
    for (k, v) in &extra {
        req = req.header(k, v);
    }
    req.body(axum::body::Body::from(body.to_owned())).unwrap()
}

async fn call(app: &axum::Router, req: http::Request<axum::body::Body>) -> axum::body::Bytes {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    body
}

/// Assumes the role and builds a `/verify` body for an S3 GET signed with the session.
async fn verify_body(app: &axum::Router) -> String {
    let xml = call(
        app,
        signed("/", ASSUME, "application/x-www-form-urlencoded"),
    )
    .await;
    let xml = String::from_utf8_lossy(&xml);
    let field = |t: &str| {
        xml.split(&format!("<{t}>"))
            .nth(1)
            .and_then(|r| r.split(&format!("</{t}>")).next())
            .unwrap()
            .to_owned()
    };
    let mut h = http::HeaderMap::new();
    h.insert("host", "bench.s3.local".parse().unwrap());
    let sig = sekisho::sigv4::sign_request(
        "GET",
        "/obj",
        "",
        &h,
        b"",
        &field("AccessKeyId"),
        &SecretString::new(field("SecretAccessKey")),
        Some(&field("SessionToken")),
        "us-east-1",
        "s3",
        SystemClock.now(),
    );
    let mut headers = vec![("host".to_owned(), "bench.s3.local".to_owned())];
    headers.extend(sig);
    serde_json::json!({
        "request": { "method": "GET", "path": "/obj", "query": "", "headers": headers,
            "payload_hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        "service": "s3", "action": "s3:GetObject", "resource": "arn:aws:s3:::bench/obj",
    })
    .to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = std::env::temp_dir().join(format!("sekisho-hc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("iam.toml"), BOOT).unwrap();
    let mut cfg = Config::default();
    cfg.store.backend = if std::env::var("STORE").as_deref() == Ok("embedded") {
        Backend::Embedded
    } else {
        Backend::Memory
    };
    cfg.keep_state_in(&dir);
    cfg.iam.bootstrap = Some(dir.join("iam.toml"));
    cfg.audit.sink = if std::env::var("AUDIT").as_deref() == Ok("file") {
        AuditSink::File
    } else {
        AuditSink::None
    };
    let (st, _) = sekisho::server::build(cfg, Arc::new(SystemClock))
        .await
        .unwrap();
    let app = sekisho::http::app(st);
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let mut wanted: Vec<String> = std::env::args().skip(1).collect();
    if wanted.is_empty() {
        wanted = vec!["gci".into(), "assume".into(), "verify".into()];
    }
    let form = "application/x-www-form-urlencoded";
    for w in &wanted {
        let (name, path, body, ct) = match w.as_str() {
            "gci" => (
                "GetCallerIdentity",
                "/",
                "Action=GetCallerIdentity&Version=2011-06-15".to_owned(),
                form,
            ),
            "assume" => ("AssumeRole", "/", ASSUME.to_owned(), form),
            "verify" => (
                "verify",
                "/verify",
                verify_body(&app).await,
                "application/json",
            ),
            other => {
                eprintln!("unknown scenario {other}; use gci, assume or verify");
                std::process::exit(2);
            }
        };
        // One signature, replayed: the server does not cache anything per signature.
        let proto = signed(path, &body, ct);
        let headers = proto.headers().clone();
        let request = || {
            let mut req = http::Request::builder().method("POST").uri(path);
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            req.body(axum::body::Body::from(body.clone())).unwrap()
        };
        let t = Instant::now();
        for _ in 0..n {
            let _ = call(&app, request()).await;
        }
        println!(
            "{name:<20} {:>7.2} µs per request (in-process, no network)",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
        if std::env::var_os("SHOW").is_some() {
            let answer = call(&app, request()).await;
            println!("request body ({} bytes): {body}", body.len());
            println!(
                "answer ({} bytes): {}",
                answer.len(),
                String::from_utf8_lossy(&answer)
            );
        }
    }
    if std::env::var_os("SHOW").is_some() {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap_or_default();
        if let Some(last) = audit.lines().last() {
            println!("last audit line ({} bytes): {last}", last.len());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
