//! The Redis backend against a real server: runs only when `REDIS_URL` is set (the Makefile sets
//! it in `make test`); otherwise each test prints why it was skipped and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;
mod conformance;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sekisho::store::redis::RedisKv;
use sekisho::store::{Batch, Check, Error, Kv};

fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            common::skip("REDIS_URL not set (scripts/with-redis.sh starts one)");
            None
        }
    }
}

/// The tests share one server and one of them kills pub/sub connections: run them one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn fresh_namespace() -> String {
    format!("sekisho-test-{}", uuid::Uuid::new_v4().simple())
}

/// Deletes every key of a test namespace, so repeated runs do not grow the server.
async fn cleanup(url: &str, namespaces: &[&str]) {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    for ns in namespaces {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{{{ns}}}:*"))
            .query_async(&mut con)
            .await
            .unwrap();
        for chunk in keys.chunks(500) {
            let _: i64 = redis::cmd("DEL")
                .arg(chunk)
                .query_async(&mut con)
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_passes_conformance_suite() {
    let Some(url) = redis_url() else { return };
    let _serial = SERIAL.lock().await;
    let ns = fresh_namespace();
    let kv = RedisKv::connect(&url, &ns).await.unwrap();
    let started = Instant::now();
    conformance::run_suite(Arc::new(kv)).await;
    eprintln!("redis conformance suite: {:?}", started.elapsed());
    cleanup(&url, &[&ns]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_data_and_notifications_but_not_other_namespaces() {
    let Some(url) = redis_url() else { return };
    let _serial = SERIAL.lock().await;
    let ns = fresh_namespace();
    let node_a = RedisKv::connect(&url, &ns).await.unwrap();
    let node_b = RedisKv::connect(&url, &ns).await.unwrap();
    let other_ns = fresh_namespace();
    let other = RedisKv::connect(&url, &other_ns).await.unwrap();

    node_a
        .commit(Batch::new().put("k", b"v".to_vec()))
        .await
        .unwrap();
    assert_eq!(node_b.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(
        other.get("k").await.unwrap(),
        None,
        "namespaces are isolated"
    );
    assert!(other.scan("", None, 10).await.unwrap().is_empty());
    let err = node_b
        .commit(Batch::new().check(Check::Absent("k".into())))
        .await;
    assert!(matches!(err, Err(Error::Conflict(k)) if k == "k"));

    let mut rx_b = node_b.watch();
    let mut rx_other = other.watch();
    node_a.notify("roles/r1").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), rx_b.recv()).await;
    assert_eq!(got.unwrap().unwrap(), "roles/r1", "the other node hears it");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx_other.try_recv().is_err(), "another namespace does not");
    cleanup(&url, &[&ns, &other_ns]).await;
}

#[tokio::test]
async fn unreachable_redis_is_a_backend_error() {
    // Port 1 on loopback: nothing listens there.
    let err = RedisKv::connect("redis://127.0.0.1:1/", "x").await;
    assert!(matches!(err, Err(Error::Backend(_))));
    let err = RedisKv::connect("not a url", "x").await;
    assert!(matches!(err, Err(Error::Backend(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_survives_a_dropped_pubsub_connection() {
    let Some(url) = redis_url() else { return };
    let _serial = SERIAL.lock().await;
    let kv = RedisKv::connect(&url, &fresh_namespace()).await.unwrap();
    let mut rx = kv.watch();

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(killed >= 1, "our subscriber connection was killed");

    // Notifications sent while disconnected are lost (best effort); keep sending until the
    // subscriber is back, which must happen within the backoff schedule.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut heard = false;
    while Instant::now() < deadline && !heard {
        kv.notify("after-reconnect").await.unwrap();
        if let Ok(Ok(topic)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            heard = topic == "after-reconnect";
        }
    }
    assert!(
        heard,
        "the watcher reconnected and hears notifications again"
    );
}
