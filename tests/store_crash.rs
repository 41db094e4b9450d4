//! Durability proof for the embedded backend: a writer process is SIGKILLed mid-stream and every
//! write it acknowledged must be in the reopened file, which must be consistent.
//!
//! The writer is this very test binary, re-run with `--exact crash_child_writer --ignored` and
//! environment variables telling it what to write. It prints `ack <key>` only after `commit` (or
//! `put_mark`) returned; the parent reads those lines, kills the child after a chosen number of
//! acknowledgements (`Child::kill` sends SIGKILL on Unix), then checks the file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sekisho::store::embedded::EmbeddedKv;
use sekisho::store::{Batch, Kv};

const ENV_DB: &str = "SEKISHO_CRASH_CHILD_DB";
const ENV_MODE: &str = "SEKISHO_CRASH_CHILD_MODE";
const ENV_ROUND: &str = "SEKISHO_CRASH_CHILD_ROUND";
/// The child stops by itself after this many writes or this long, if never killed.
const CHILD_MAX_WRITES: usize = 100_000;
const CHILD_MAX_TIME: Duration = Duration::from_secs(60);
/// How long the parent waits for the next line before giving up.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);

fn kv_keys(round: usize, i: usize) -> (String, String) {
    (format!("r{round}/a/{i:06}"), format!("r{round}/b/{i:06}"))
}

fn mark_key(round: usize, i: usize) -> String {
    format!("r{round}/m/{i:06}")
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}").into_bytes()
}

/// The writer child. Does nothing when run without the environment variables.
#[test]
#[ignore = "the child process of the crash tests, which run it themselves"]
fn crash_child_writer() {
    let Ok(db) = std::env::var(ENV_DB) else {
        return;
    };
    let mode = std::env::var(ENV_MODE).unwrap();
    let round: usize = std::env::var(ENV_ROUND).unwrap().parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let kv = EmbeddedKv::open(Path::new(&db)).unwrap();
        // libtest has printed "test crash_child_writer ... " without a newline: end that line so
        // every acknowledgement starts its own.
        println!();
        let started = Instant::now();
        for i in 0..CHILD_MAX_WRITES {
            if started.elapsed() > CHILD_MAX_TIME {
                break;
            }
            if mode == "kv" {
                // Two keys per batch: after the crash they must be both present or both absent.
                let (a, b) = kv_keys(round, i);
                kv.commit(Batch::new().put(a.clone(), value(i)).put(b, value(i)))
                    .await
                    .unwrap();
                println!("ack {a}");
            } else {
                let key = mark_key(round, i);
                let now = Utc::now();
                assert!(
                    kv.put_mark(&key, now + chrono::Duration::days(1), now)
                        .await
                        .unwrap()
                );
                println!("ack {key}");
            }
        }
    });
}

/// Runs one writer child, SIGKILLs it after `kill_after` acknowledgements and returns every key
/// it acknowledged (including lines already in the pipe when it died).
fn run_child(db: &Path, mode: &str, round: usize, kill_after: usize) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child_writer", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(ENV_DB, db)
        .env(ENV_MODE, mode)
        .env(ENV_ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                // A line cut short by the kill has no newline: it was never acknowledged.
                Ok(_) if !line.ends_with('\n') => break,
                Ok(_) => {
                    if tx.send(line.trim_end().to_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let started = Instant::now();
    let mut acked = Vec::new();
    let mut killed = false;
    loop {
        match rx.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => {
                assert!(
                    line.starts_with("ack ") || !line.contains("ack "),
                    "an acknowledgement not at the start of its line: {line:?}"
                );
                if let Some(key) = line.strip_prefix("ack ") {
                    acked.push(key.to_owned());
                    if acked.len() == kill_after && !killed {
                        child.kill().unwrap();
                        killed = true;
                        eprintln!(
                            "{mode} round {round}: {kill_after} acknowledged writes in {:?}, \
                             then SIGKILL",
                            started.elapsed()
                        );
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("the writer child went silent");
            }
        }
    }
    reader.join().unwrap();
    let status = child.wait().unwrap();
    assert!(
        killed,
        "the child stopped before {kill_after} writes: {status:?}"
    );
    assert_eq!(status.signal(), Some(9), "the child died of SIGKILL");
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commits_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.redb");
    let kill_points = [1, 40, 150];
    let mut landed_per_round = Vec::new();
    for (round, &kill_after) in kill_points.iter().enumerate() {
        let acked = run_child(&db, "kv", round, kill_after);
        assert!(acked.len() >= kill_after);
        for (i, key) in acked.iter().enumerate() {
            assert_eq!(
                key,
                &kv_keys(round, i).0,
                "acknowledgements arrive in order"
            );
        }

        let kv = EmbeddedKv::open(&db).expect("the killed writer's file reopens");
        for key in &acked {
            assert!(
                kv.get(key).await.unwrap().is_some(),
                "acknowledged {key} lost"
            );
        }
        // Consistency: batches landed whole, and in order: indexes 0..n with n = acked or
        // acked + 1 (the commit in flight at the kill may or may not have landed).
        let a = kv
            .scan(&format!("r{round}/a/"), None, usize::MAX)
            .await
            .unwrap();
        let b = kv
            .scan(&format!("r{round}/b/"), None, usize::MAX)
            .await
            .unwrap();
        assert_eq!(a.len(), b.len(), "a batch landed half");
        let n = a.len();
        assert!(
            n == acked.len() || n == acked.len() + 1,
            "{n} vs {}",
            acked.len()
        );
        for (i, ((ka, va), (kb, vb))) in a.iter().zip(&b).enumerate() {
            let (want_a, want_b) = kv_keys(round, i);
            assert_eq!((ka, kb), (&want_a, &want_b), "no gap before index {i}");
            assert_eq!((va, vb), (&value(i), &value(i)), "intact values at {i}");
        }
        landed_per_round.push(n);
        // Earlier rounds are untouched.
        for (r, &landed) in landed_per_round.iter().enumerate() {
            let got = kv.scan(&format!("r{r}/"), None, usize::MAX).await.unwrap();
            assert_eq!(
                got.len(),
                2 * landed,
                "round {r} intact after round {round}"
            );
        }
        // And the reopened file takes writes again.
        kv.commit(Batch::new().put(format!("after/{round}"), vec![1]))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_marks_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("marks.redb");
    for (round, kill_after) in [7_usize, 90].into_iter().enumerate() {
        let acked = run_child(&db, "mark", round, kill_after);
        let kv = EmbeddedKv::open(&db).expect("the killed writer's file reopens");
        let now = Utc::now();
        let later = now + chrono::Duration::days(1);
        for (i, key) in acked.iter().enumerate() {
            assert_eq!(key, &mark_key(round, i));
            assert!(
                !kv.put_mark(key, later, now).await.unwrap(),
                "acknowledged mark {key} lost: a replay would be accepted"
            );
        }
        // The write after the last acknowledged one may have landed; the one after that was
        // never attempted, so it must be new.
        let never = mark_key(round, acked.len() + 1);
        assert!(kv.put_mark(&never, later, now).await.unwrap());
    }
}
