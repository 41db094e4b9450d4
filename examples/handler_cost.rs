//! Measures the server-side cost of one request without the network: the router is called
//! in-process (`oneshot`) with pre-signed requests. `cargo run --release --example handler_cost`
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "measurement tool")]

use std::sync::Arc;

/// mimalloc: the request path is allocation-heavy, and it measured faster than the system
/// allocator in the load test.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
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
trust_policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"bench"}}}]}'
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = std::env::temp_dir().join(format!("sekisho-hc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("iam.toml"), BOOT).unwrap();
    let mut cfg = Config::default();
    cfg.store.backend = Backend::Memory;
    cfg.iam.bootstrap = Some(dir.join("iam.toml"));
    cfg.audit.sink = if std::env::var("AUDIT").as_deref() == Ok("file") {
        AuditSink::File
    } else {
        AuditSink::None
    };
    cfg.audit.path = dir.join("audit.jsonl");
    let (st, _) = sekisho::server::build(cfg, Arc::new(SystemClock))
        .await
        .unwrap();
    let app = sekisho::http::app(st);
    for (name, body) in [
        ("GetCallerIdentity", "Action=GetCallerIdentity&Version=2011-06-15".to_owned()),
        ("AssumeRole", "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Ftarget&RoleSessionName=bench&ExternalId=bench".to_owned()),
    ] {
        let mut h = http::HeaderMap::new();
        h.insert("host", "localhost".parse().unwrap());
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        let extra = sekisho::sigv4::sign_request("POST", "/", "", &h, body.as_bytes(), "AKIARTXV5AHD2JZDEGXD",
            &SecretString::from("adminSecretKeyadminSecretKeyadminSecret0"), None, "us-east-1", "sts", SystemClock.now());
        let n = 20_000;
        let t = Instant::now();
        for _ in 0..n {
            let mut req = http::Request::builder().method("POST").uri("/");
            for (k, v) in h.iter() { req = req.header(k, v); }
            for (k, v) in &extra { req = req.header(k, v); }
            let resp = app.clone().oneshot(req.body(axum::body::Body::from(body.clone())).unwrap()).await.unwrap();
            assert_eq!(resp.status(), 200);
            let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        }
        println!("{name:<20} {:>7.2} µs per request (in-process, no network)", t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
