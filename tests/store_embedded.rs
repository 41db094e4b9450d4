//! The embedded (redb) backend: the conformance suite on a temporary file, and persistence
//! across close and reopen.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod conformance;

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use sekisho::store::embedded::EmbeddedKv;
use sekisho::store::{Batch, Check, Error, Kv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_passes_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let kv = EmbeddedKv::open(&dir.path().join("suite.redb")).unwrap();
    let started = Instant::now();
    conformance::run_suite(Arc::new(kv)).await;
    eprintln!("embedded conformance suite: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_marks_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.redb");
    let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    {
        let kv = EmbeddedKv::open(&path).unwrap();
        kv.commit(
            Batch::new()
                .put("a/1", b"one".to_vec())
                .put("a/2", b"two".to_vec()),
        )
        .await
        .unwrap();
        kv.commit(Batch::new().delete("a/2").put("b", Vec::new()))
            .await
            .unwrap();
        assert!(
            kv.put_mark("nonce", t0 + chrono::Duration::hours(1), t0)
                .await
                .unwrap()
        );
        // A second handle on the same file is refused while the first is open.
        assert!(matches!(EmbeddedKv::open(&path), Err(Error::Backend(_))));
    }
    let kv = EmbeddedKv::open(&path).unwrap();
    assert_eq!(kv.get("a/1").await.unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(
        kv.get("a/2").await.unwrap(),
        None,
        "the delete persisted too"
    );
    assert_eq!(kv.get("b").await.unwrap(), Some(Vec::new()));
    let all = kv.scan("", None, 10).await.unwrap();
    assert_eq!(
        all,
        vec![
            ("a/1".to_owned(), b"one".to_vec()),
            ("b".to_owned(), Vec::new())
        ]
    );
    assert!(
        !kv.put_mark(
            "nonce",
            t0 + chrono::Duration::hours(1),
            t0 + chrono::Duration::minutes(1)
        )
        .await
        .unwrap(),
        "the mark persisted"
    );
    // And the reopened store still enforces checks.
    let err = kv
        .commit(Batch::new().check(Check::Absent("a/1".into())))
        .await;
    assert!(matches!(err, Err(Error::Conflict(k)) if k == "a/1"));
}

#[test]
fn open_fails_cleanly_on_a_non_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.redb");
    std::fs::write(&path, vec![0x5a_u8; 8192]).unwrap();
    assert!(matches!(EmbeddedKv::open(&path), Err(Error::Backend(_))));
}
