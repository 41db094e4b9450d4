//! The conformance suite every [`Kv`] backend must pass, so the typed layers above the trait can
//! rely on one behaviour whatever the backend.
//!
//! Test support only, so none of it ships in the binary: `mod conformance;` in the store
//! tests (`store_memory.rs`, `store_embedded.rs`, `store_redis.rs`). [`run_suite`] panics
//! (through `assert!`) on the first deviation. It writes
//! only under a fresh random prefix and uses mark keys under that prefix, so it can run against
//! a store that already holds data (a shared Redis) and several runs do not interfere.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "conformance assertions: failing loudly is the point"
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use sekisho::store::{Batch, Check, Error, Kv};

/// How many keys the pagination test writes.
const PAGINATION_KEYS: usize = 2_500;
/// How many tasks race in the concurrency tests.
const RACERS: usize = 20;

/// Runs every conformance check against `kv`, panicking on the first failure.
///
/// Covers: get/put/delete, `get_many` order, scan prefix boundaries (nested prefixes, `/`, `:`
/// and non-ASCII keys, `start_after` on and between keys, limits 0/1/many), pagination over 2,500
/// keys returning each exactly once, batch atomicity for failed `Absent`/`Present`/`Equals`
/// checks, conflicts naming the key, racing commits (exactly one `Absent` winner, no lost
/// compare-and-swap update), marks with explicit `now` values (including the expiry boundary and
/// a race), and notify → watch.
pub async fn run_suite(kv: Arc<dyn Kv>) {
    let root = format!("conformance-{}/", uuid::Uuid::new_v4().simple());
    basics(kv.as_ref(), &format!("{root}basic/")).await;
    get_many_order(kv.as_ref(), &format!("{root}many/")).await;
    scan_boundaries(kv.as_ref(), &format!("{root}scan/")).await;
    pagination(kv.as_ref(), &format!("{root}page")).await;
    batch_atomicity(kv.as_ref(), &format!("{root}atomic/")).await;
    racing_absent_commits(&kv, &format!("{root}race/")).await;
    racing_compare_and_swap(&kv, &format!("{root}cas/")).await;
    marks(kv.as_ref(), &format!("{root}mark/")).await;
    racing_marks(&kv, &format!("{root}markrace/")).await;
    notify_reaches_watch(kv.as_ref(), &root).await;
}

async fn put(kv: &dyn Kv, key: &str, value: &[u8]) {
    kv.commit(Batch::new().put(key, value.to_vec()))
        .await
        .expect("put");
}

async fn get(kv: &dyn Kv, key: &str) -> Option<Vec<u8>> {
    kv.get(key).await.expect("get")
}

async fn scan_keys(kv: &dyn Kv, prefix: &str, after: Option<&str>, limit: usize) -> Vec<String> {
    kv.scan(prefix, after, limit)
        .await
        .expect("scan")
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

async fn expect_conflict(kv: &dyn Kv, batch: Batch, key: &str) {
    match kv.commit(batch).await {
        Err(Error::Conflict(k)) => assert_eq!(k, key, "Conflict must name the failing key"),
        other => panic!("expected Conflict({key:?}), got {other:?}"),
    }
}

async fn basics(kv: &dyn Kv, p: &str) {
    let a = format!("{p}a");
    assert_eq!(get(kv, &a).await, None, "missing key reads as None");
    put(kv, &a, b"one").await;
    assert_eq!(get(kv, &a).await.as_deref(), Some(&b"one"[..]));
    put(kv, &a, b"two").await;
    assert_eq!(
        get(kv, &a).await.as_deref(),
        Some(&b"two"[..]),
        "put overwrites"
    );

    let empty = format!("{p}empty");
    put(kv, &empty, b"").await;
    assert_eq!(
        get(kv, &empty).await,
        Some(Vec::new()),
        "empty value is not absence"
    );

    let binary = format!("{p}bin");
    let bytes: Vec<u8> = (0..=255).collect();
    put(kv, &binary, &bytes).await;
    assert_eq!(
        get(kv, &binary).await,
        Some(bytes),
        "values are arbitrary bytes"
    );

    kv.commit(Batch::new().delete(a.clone()))
        .await
        .expect("delete");
    assert_eq!(get(kv, &a).await, None, "deleted");
    kv.commit(Batch::new().delete(format!("{p}never")))
        .await
        .expect("deleting an absent key is not an error");
    kv.commit(Batch::new()).await.expect("empty batch");
    assert!(!kv.backend_name().is_empty());
}

async fn get_many_order(kv: &dyn Kv, p: &str) {
    for (k, v) in [("c", b"3"), ("a", b"1"), ("b", b"2")] {
        put(kv, &format!("{p}{k}"), v).await;
    }
    let keys: Vec<String> = ["b", "missing", "a", "c", "a"]
        .iter()
        .map(|k| format!("{p}{k}"))
        .collect();
    let got = kv.get_many(&keys).await.expect("get_many");
    let want: Vec<Option<Vec<u8>>> = vec![
        Some(b"2".to_vec()),
        None,
        Some(b"1".to_vec()),
        Some(b"3".to_vec()),
        Some(b"1".to_vec()),
    ];
    assert_eq!(
        got, want,
        "get_many answers in request order, None for missing"
    );
    assert!(kv.get_many(&[]).await.expect("get_many([])").is_empty());
}

async fn scan_boundaries(kv: &dyn Kv, p: &str) {
    let names = [
        "p/a", "p/ab", "p/abc", "p/b", "p/b/c", "p/b:c", "p/z", "p/é", "p/日本", "pq", "p",
    ];
    for n in names {
        put(kv, &format!("{p}{n}"), n.as_bytes()).await;
    }
    let full = |ns: &[&str]| -> Vec<String> { ns.iter().map(|n| format!("{p}{n}")).collect() };
    let all_p = full(&[
        "p/a", "p/ab", "p/abc", "p/b", "p/b/c", "p/b:c", "p/z", "p/é", "p/日本",
    ]);

    // Key order is bytewise: '/' (0x2f) < ':' (0x3a) < 'z' < 'é' (0xc3…) < '日' (0xe6…).
    assert_eq!(scan_keys(kv, &format!("{p}p/"), None, 100).await, all_p);
    let entries = kv.scan(&format!("{p}p/"), None, 100).await.expect("scan");
    for (k, v) in &entries {
        assert_eq!(
            Some(v.as_slice()),
            k.strip_prefix(p).map(str::as_bytes),
            "scan values"
        );
    }
    // A prefix that is a prefix of other keys and prefixes.
    assert_eq!(
        scan_keys(kv, &format!("{p}p/a"), None, 100).await,
        full(&["p/a", "p/ab", "p/abc"])
    );
    assert_eq!(
        scan_keys(kv, &format!("{p}p/ab"), None, 100).await,
        full(&["p/ab", "p/abc"])
    );
    // A prefix equal to a key includes that key.
    assert_eq!(
        scan_keys(kv, &format!("{p}p/b"), None, 100).await,
        full(&["p/b", "p/b/c", "p/b:c"])
    );
    assert_eq!(
        scan_keys(kv, &format!("{p}p/b/"), None, 100).await,
        full(&["p/b/c"])
    );
    assert_eq!(
        scan_keys(kv, &format!("{p}p/b:"), None, 100).await,
        full(&["p/b:c"])
    );
    assert_eq!(
        scan_keys(kv, &format!("{p}p/日"), None, 100).await,
        full(&["p/日本"])
    );
    assert_eq!(scan_keys(kv, &format!("{p}p"), None, 100).await.len(), 11);
    assert!(
        scan_keys(kv, &format!("{p}nothing/"), None, 100)
            .await
            .is_empty()
    );

    // start_after exactly at a key is exclusive.
    let at = format!("{p}p/ab");
    assert_eq!(
        scan_keys(kv, &format!("{p}p/"), Some(&at), 3).await,
        full(&["p/abc", "p/b", "p/b/c"])
    );
    // start_after between keys.
    let between = format!("{p}p/abb");
    assert_eq!(
        scan_keys(kv, &format!("{p}p/"), Some(&between), 1).await,
        full(&["p/abc"])
    );
    // start_after before the prefix starts at the prefix.
    assert_eq!(
        scan_keys(kv, &format!("{p}p/b"), Some(p), 100).await,
        full(&["p/b", "p/b/c", "p/b:c"])
    );
    // start_after equal to the prefix (which is itself a key) skips that key.
    let prefix_key = format!("{p}p/b");
    assert_eq!(
        scan_keys(kv, &prefix_key, Some(&prefix_key), 100).await,
        full(&["p/b/c", "p/b:c"])
    );
    // start_after past the prefix range, and at the last key.
    let past = format!("{p}p/c");
    assert!(
        scan_keys(kv, &format!("{p}p/a"), Some(&past), 100)
            .await
            .is_empty()
    );
    let last = format!("{p}p/日本");
    assert!(
        scan_keys(kv, &format!("{p}p/"), Some(&last), 100)
            .await
            .is_empty()
    );

    // Limits.
    assert!(
        scan_keys(kv, &format!("{p}p/"), None, 0).await.is_empty(),
        "limit 0"
    );
    assert_eq!(
        scan_keys(kv, &format!("{p}p/"), None, 1).await,
        full(&["p/a"])
    );
    assert_eq!(
        scan_keys(kv, &format!("{p}p/"), None, 9).await,
        all_p,
        "limit = count"
    );
    assert_eq!(
        scan_keys(kv, &format!("{p}p/"), None, usize::MAX).await,
        all_p,
        "huge limit"
    );

    // Deleted keys disappear from scans.
    kv.commit(Batch::new().delete(format!("{p}p/ab")))
        .await
        .expect("delete");
    assert_eq!(
        scan_keys(kv, &format!("{p}p/a"), None, 100).await,
        full(&["p/a", "p/abc"])
    );
}

async fn pagination(kv: &dyn Kv, base: &str) {
    let prefix = format!("{base}/");
    // Neighbours just outside the prefix on both sides.
    put(kv, &format!("{base}.before"), b"x").await;
    put(kv, &format!("{base}0after"), b"x").await;
    // Insert in a scrambled order (7 is coprime with 2,500), 250 keys per batch.
    let order: Vec<usize> = (0..PAGINATION_KEYS)
        .map(|i| (i * 7) % PAGINATION_KEYS)
        .collect();
    for chunk in order.chunks(250) {
        let mut batch = Batch::new();
        for i in chunk {
            batch = batch.put(format!("{prefix}{i:05}"), i.to_string().into_bytes());
        }
        kv.commit(batch).await.expect("pagination batch");
    }

    for page_size in [97, 1000, PAGINATION_KEYS] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = kv
                .scan(&prefix, cursor.as_deref(), page_size)
                .await
                .expect("scan page");
            assert!(page.len() <= page_size, "a page never exceeds the limit");
            pages += 1;
            assert!(
                pages <= PAGINATION_KEYS + 2,
                "pagination does not terminate"
            );
            let Some((last, _)) = page.last() else { break };
            cursor = Some(last.clone());
            for (k, v) in page {
                let n: usize = k
                    .strip_prefix(&prefix)
                    .and_then(|n| n.parse().ok())
                    .expect("key is prefix + index");
                assert_eq!(v, n.to_string().into_bytes(), "value of {k}");
                seen.push(k);
            }
        }
        assert_eq!(
            seen.len(),
            PAGINATION_KEYS,
            "every key once (page size {page_size})"
        );
        assert!(
            seen.windows(2).all(|w| w.first() < w.get(1)),
            "strictly increasing, so no duplicates"
        );
        let want: BTreeSet<String> = (0..PAGINATION_KEYS)
            .map(|i| format!("{prefix}{i:05}"))
            .collect();
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), want);
    }
}

async fn assert_untouched(kv: &dyn Kv, x: &str, a: &str, b: &str) {
    assert_eq!(get(kv, x).await.as_deref(), Some(&b"1"[..]), "x unchanged");
    assert_eq!(get(kv, a).await, None, "a not written");
    assert_eq!(get(kv, b).await, None, "b not written");
}

async fn batch_atomicity(kv: &dyn Kv, p: &str) {
    let x = format!("{p}x");
    let y = format!("{p}y");
    let a = format!("{p}a");
    let b = format!("{p}b");
    let missing = format!("{p}missing");
    put(kv, &x, b"1").await;
    put(kv, &y, b"").await;

    // Failed Absent: puts listed before the check are not applied, nor deletes.
    let batch = Batch::new()
        .put(a.clone(), b"new".to_vec())
        .delete(x.clone())
        .check(Check::Absent(x.clone()))
        .put(b.clone(), b"new".to_vec());
    expect_conflict(kv, batch, &x).await;
    assert_untouched(kv, &x, &a, &b).await;

    // Failed Present.
    let batch = Batch::new()
        .put(a.clone(), b"new".to_vec())
        .delete(x.clone())
        .check(Check::Present(missing.clone()));
    expect_conflict(kv, batch, &missing).await;
    assert_untouched(kv, &x, &a, &b).await;

    // Failed Equals (wrong value), and Equals on a missing key with an empty value.
    let batch = Batch::new()
        .put(a.clone(), b"new".to_vec())
        .check(Check::Equals(x.clone(), b"2".to_vec()));
    expect_conflict(kv, batch, &x).await;
    let batch = Batch::new()
        .put(a.clone(), b"new".to_vec())
        .check(Check::Equals(missing.clone(), Vec::new()));
    expect_conflict(kv, batch, &missing).await;
    assert_untouched(kv, &x, &a, &b).await;

    // An existing empty value is Present, not Absent, and Equals the empty value.
    expect_conflict(kv, Batch::new().check(Check::Absent(y.clone())), &y).await;

    // The first checks hold, a later one fails: the conflict names the later key.
    let batch = Batch::new()
        .check(Check::Present(x.clone()))
        .check(Check::Equals(x.clone(), b"1".to_vec()))
        .check(Check::Absent(missing.clone()))
        .check(Check::Present(b.clone()))
        .put(a.clone(), b"new".to_vec());
    expect_conflict(kv, batch, &b).await;
    assert_untouched(kv, &x, &a, &b).await;

    // Every check holds: everything is applied.
    let batch = Batch::new()
        .check(Check::Present(x.clone()))
        .check(Check::Equals(x.clone(), b"1".to_vec()))
        .check(Check::Absent(a.clone()))
        .check(Check::Present(y.clone()))
        .check(Check::Equals(y.clone(), Vec::new()))
        .put(a.clone(), b"A".to_vec())
        .put(b.clone(), b"B".to_vec())
        .delete(x.clone());
    kv.commit(batch).await.expect("all checks hold");
    assert_eq!(get(kv, &a).await.as_deref(), Some(&b"A"[..]));
    assert_eq!(get(kv, &b).await.as_deref(), Some(&b"B"[..]));
    assert_eq!(get(kv, &x).await, None);

    // A conflict on a previously written key after the state changed.
    let batch = Batch::new()
        .check(Check::Equals(a.clone(), b"old".to_vec()))
        .put(a.clone(), b"newer".to_vec());
    expect_conflict(kv, batch, &a).await;
    assert_eq!(get(kv, &a).await.as_deref(), Some(&b"A"[..]));
}

async fn racing_absent_commits(kv: &Arc<dyn Kv>, p: &str) {
    let key = format!("{p}k");
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let kv = Arc::clone(kv);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let batch = Batch::new()
                .check(Check::Absent(key.clone()))
                .put(key.clone(), i.to_string().into_bytes())
                .put(format!("{key}/by/{i}"), Vec::new());
            (i, kv.commit(batch).await)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, result) = task.await.expect("task");
        match result {
            Ok(()) => winners.push(i),
            Err(Error::Conflict(k)) => assert_eq!(k, key),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one Absent commit wins: {winners:?}"
    );
    let winner = winners.first().copied().expect("one winner");
    assert_eq!(
        get(kv.as_ref(), &key).await,
        Some(winner.to_string().into_bytes())
    );
    assert_eq!(
        scan_keys(kv.as_ref(), &format!("{key}/by/"), None, 100).await,
        vec![format!("{key}/by/{winner}")],
        "losers wrote nothing"
    );
}

async fn racing_compare_and_swap(kv: &Arc<dyn Kv>, p: &str) {
    let key = format!("{p}counter");
    put(kv.as_ref(), &key, b"0").await;
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let kv = Arc::clone(kv);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10_000 {
                let old = kv.get(&key).await.expect("get").expect("counter exists");
                let n: u64 = String::from_utf8(old.clone())
                    .expect("utf8")
                    .parse()
                    .expect("number");
                let batch = Batch::new()
                    .check(Check::Equals(key.clone(), old))
                    .put(key.clone(), (n + 1).to_string().into_bytes());
                match kv.commit(batch).await {
                    Ok(()) => return,
                    Err(Error::Conflict(_)) => tokio::task::yield_now().await,
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            panic!("compare-and-swap starved");
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(
        get(kv.as_ref(), &key).await,
        Some(RACERS.to_string().into_bytes()),
        "no lost update"
    );
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_735_689_600 + secs, 0)
        .single()
        .expect("valid time")
}

async fn mark(kv: &dyn Kv, key: &str, expires: i64, now: i64) -> bool {
    kv.put_mark(key, t(expires), t(now))
        .await
        .expect("put_mark")
}

async fn marks(kv: &dyn Kv, p: &str) {
    let m = format!("{p}m");
    assert!(mark(kv, &m, 60, 0).await, "first mark is new");
    assert!(!mark(kv, &m, 60, 1).await, "second mark is refused");
    assert!(
        !mark(kv, &m, 600, 59).await,
        "still refused just before expiry"
    );
    assert!(mark(kv, &m, 120, 60).await, "expired at exactly expires_at");
    assert!(!mark(kv, &m, 120, 61).await, "the renewed mark holds");
    assert!(mark(kv, &m, 300, 200).await, "set again long after expiry");

    // Independent keys, including one that is a prefix of the other.
    let n = format!("{p}m2");
    assert!(mark(kv, &n, 60, 0).await);
    assert!(!mark(kv, &n, 60, 0).await);

    // Marks live apart from the key/value space.
    assert_eq!(get(kv, &m).await, None, "a mark is not a key");
    assert!(
        scan_keys(kv, p, None, 10).await.is_empty(),
        "marks do not scan"
    );
    put(kv, &format!("{p}kv"), b"v").await;
    assert!(
        mark(kv, &format!("{p}kv"), 60, 0).await,
        "a key is not a mark"
    );
}

async fn racing_marks(kv: &Arc<dyn Kv>, p: &str) {
    let key = format!("{p}once");
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let kv = Arc::clone(kv);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            kv.put_mark(&key, t(60), t(0)).await.expect("put_mark")
        }));
    }
    let mut newly = 0;
    for task in tasks {
        if task.await.expect("task") {
            newly += 1;
        }
    }
    assert_eq!(newly, 1, "exactly one racing put_mark sets the mark");
}

async fn notify_reaches_watch(kv: &dyn Kv, root: &str) {
    let mut rx = kv.watch();
    let topic = format!("{root}topic/é");
    kv.notify(&topic).await.expect("notify");
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await {
                Ok(t) if t == topic => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("watch channel closed: {e}"),
            }
        }
    })
    .await;
    assert!(received.is_ok(), "notify reached watch within 10 s");
}
