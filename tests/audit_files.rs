//! Audit files that can be managed: size rotation and logrotate-style reopening under load lose
//! no event, and the `sekisho` process reopens its file on `SIGHUP` and drains on `SIGTERM`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::{ALICE, BOB, DEPLOYER};

/// Every line of every file in `dir`, with the file it came from.
fn all_lines(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("audit.jsonl")
        {
            for l in std::fs::read_to_string(&p).unwrap().lines() {
                out.push((p.clone(), l.to_owned()));
            }
        }
    }
    out
}

/// Waits (bounded) until the audit writer has written as many events as requests were served.
async fn wait_written(server: &common::Server) -> u64 {
    let served = server.state.metrics.requests.load(Relaxed);
    for _ in 0..250 {
        if server.state.audit.stats().events_written >= served {
            return served;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{served} served, {:?} written", server.state.audit.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_loses_no_event() {
    let server = common::start_configured(common::BOOTSTRAP, |c| {
        c.audit.max_file_bytes = 64 * 1024;
        c.audit.max_files = 1000;
    })
    .await;
    let path = server.state.config.audit.path.clone();
    let dir = path.parent().unwrap().to_owned();

    // One AssumeRole, alone, to measure a typical event.
    server
        .sts(ALICE.0, ALICE.1, None)
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("alice-deploy")
        .external_id("ext-123")
        .send()
        .await
        .unwrap();
    wait_written(&server).await;
    let lines = all_lines(&dir);
    let assume = lines
        .iter()
        .find(|(_, l)| l.contains("\"eventName\":\"AssumeRole\""))
        .unwrap();
    println!("one AssumeRole audit event: {} bytes", assume.1.len() + 1);

    // Load: 16 clients, allowed and denied calls, while the file rotates by size and is moved
    // away twice as logrotate would, each move followed by a reopen (what SIGHUP does).
    let mut tasks = Vec::new();
    for t in 0..16 {
        let alice = server.sts(ALICE.0, ALICE.1, None);
        let bob = server.sts(BOB.0, BOB.1, None);
        tasks.push(tokio::spawn(async move {
            for i in 0..60 {
                if (t + i) % 3 == 0 {
                    // Denied (bob may not assume it): audited too.
                    let _ = bob
                        .assume_role()
                        .role_arn(DEPLOYER)
                        .role_session_name("b")
                        .send()
                        .await;
                } else {
                    alice
                        .assume_role()
                        .role_arn(DEPLOYER)
                        .role_session_name(format!("s-{t}-{i}"))
                        .external_id("ext-123")
                        .send()
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for n in 0..2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = std::fs::rename(&path, dir.join(format!("audit.jsonl-moved-{n}")));
        server.state.audit.reopen();
    }
    for t in tasks {
        t.await.unwrap();
    }
    let served = wait_written(&server).await;

    let lines = all_lines(&dir);
    let ids: HashSet<String> = lines
        .iter()
        .map(|(_, l)| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["requestID"].as_str().unwrap().to_owned()
        })
        .collect();
    let files: HashSet<&PathBuf> = lines.iter().map(|(p, _)| p).collect();
    let stats = server.state.audit.stats();
    println!(
        "{served} requests served, {} audit lines in {} files, {} rotations, {} bytes \
         ({} bytes an event)",
        lines.len(),
        files.len(),
        stats.rotations,
        stats.bytes_written,
        stats.bytes_written / stats.events_written.max(1)
    );
    assert_eq!(served, 1 + 16 * 60);
    assert_eq!(
        lines.len() as u64,
        served,
        "one line per request, none lost"
    );
    assert_eq!(ids.len() as u64, served, "none written twice");
    assert!(stats.rotations >= 5, "{stats:?}");
    assert_eq!(stats.write_errors, 0);
    for f in files {
        if f.to_string_lossy().contains("moved") {
            continue;
        }
        let size = std::fs::metadata(f).unwrap().len();
        assert!(size <= 64 * 1024, "{} is {size} bytes", f.display());
    }
    assert!(std::fs::exists(dir.join("audit.jsonl-moved-1")).unwrap());
}

#[tokio::test]
async fn metrics_and_readyz_report_the_audit_sink() {
    let server = common::start_configured(common::BOOTSTRAP, |c| {
        c.audit.min_free_bytes = 0;
    })
    .await;
    let (status, body) = http_get(&server.endpoint, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready"));
    server
        .sts(ALICE.0, ALICE.1, None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    wait_written(&server).await;
    let (status, body) = http_get(&server.endpoint, "/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "sekisho_audit_write_errors_total 0",
        "sekisho_audit_sink_failing 0",
        "sekisho_audit_events_written_total ",
        "sekisho_audit_events_waiting 0",
        "sekisho_audit_bytes_written_total ",
        "sekisho_audit_rotations_total 0",
        "sekisho_audit_free_bytes ",
        "sekisho_connections_open ",
        "sekisho_connections_refused_total 0",
        "sekisho_connections_timed_out_total ",
    ] {
        assert!(body.contains(&format!("\n{name}")), "{name} in\n{body}");
    }
    let bytes: u64 = body
        .lines()
        .find_map(|l| l.strip_prefix("sekisho_audit_bytes_written_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(bytes > 100, "{bytes}");

    // Less free space than asked for: not ready, while requests are still served and audited.
    let server = common::start_configured(common::BOOTSTRAP, |c| {
        c.audit.min_free_bytes = u64::MAX - 1;
    })
    .await;
    let (status, body) = http_get(&server.endpoint, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("audit.min_free_bytes"), "{body}");
    server
        .sts(ALICE.0, ALICE.1, None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
}

/// A GET on a new connection: status and body.
async fn http_get(endpoint: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(endpoint.trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut got))
        .await
        .unwrap()
        .unwrap();
    let status = got[9..12].parse().unwrap();
    let body = got.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// The real process: `SIGHUP` reopens the audit file (logrotate's `postrotate`), `SIGTERM` stops
/// it cleanly with every answered request audited.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_process_reopens_on_sighup_and_drains_on_sigterm() {
    use rustix::process::{Pid, Signal, kill_process};
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sekisho.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\n[store]\nbackend = \"memory\"\n\
         [audit]\npath = \"audit.jsonl\"\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sekisho"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = Pid::from_child(&child);
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("sekisho listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();

    // Unsigned calls are refused (MissingAuthenticationToken) and audited all the same.
    let call = || {
        let endpoint = endpoint.clone();
        async move {
            let (status, body) =
                http_get(&endpoint, "/?Action=GetCallerIdentity&Version=2011-06-15").await;
            assert!((400..500).contains(&status), "{status} {body}");
        }
    };
    let audit = dir.path().join("audit.jsonl");
    let moved = dir.path().join("audit.jsonl.1");
    let lines = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .count()
    };
    call().await;
    call().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::rename(&audit, &moved).unwrap();
    kill_process(pid, Signal::HUP).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    call().await;
    kill_process(pid, Signal::TERM).unwrap();
    let mut status = None;
    for _ in 0..100 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("still running 5 s after SIGTERM");
    };
    assert!(status.success(), "{status}");
    assert_eq!(lines(&moved), 2, "before the rotation");
    assert_eq!(lines(&audit), 1, "after SIGHUP, in a new file");
}

/// The minting actions write their `responseElements` as text (not a JSON tree): the bytes must
/// be those serde_json writes for the same object (members in name order, compact), with the
/// access key id and expiration of the credentials answered and never their secret or token.
#[tokio::test]
#[expect(
    deprecated,
    reason = "the SDK marks PackedPolicySize deprecated; AWS and Sekisho still answer it"
)]
async fn minting_actions_record_their_response_elements_as_serde_json_would() {
    let server = common::start().await;
    let dir = server.state.config.audit.path.parent().unwrap().to_owned();
    let alice = server.sts(ALICE.0, ALICE.1, None);
    let iso = |t: &aws_sdk_sts::primitives::DateTime| {
        chrono::DateTime::from_timestamp(t.secs(), 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let creds = |c: &aws_sdk_sts::types::Credentials| serde_json::json!({"accessKeyId": c.access_key_id(), "expiration": iso(c.expiration())});

    let a = alice
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("elements")
        .external_id("ext-123")
        .send()
        .await
        .unwrap();
    let user = a.assumed_role_user().unwrap();
    let assume = serde_json::json!({
        "credentials": creds(a.credentials().unwrap()),
        "assumedRoleUser": {"assumedRoleId": user.assumed_role_id(), "arn": user.arn()},
        "packedPolicySize": a.packed_policy_size().unwrap_or(0),
    });
    let s = alice.get_session_token().send().await.unwrap();
    let session = serde_json::json!({"credentials": creds(s.credentials().unwrap())});
    let f = alice
        .get_federation_token()
        .name("partner")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let fed = f.federated_user().unwrap();
    let federation = serde_json::json!({
        "credentials": creds(f.credentials().unwrap()),
        "federatedUser": {"federatedUserId": fed.federated_user_id(), "arn": fed.arn()},
        "packedPolicySize": f.packed_policy_size().unwrap(),
    });
    wait_written(&server).await;
    let lines = all_lines(&dir);
    for (name, want, secret) in [
        (
            "AssumeRole",
            &assume,
            a.credentials().unwrap().secret_access_key(),
        ),
        (
            "GetSessionToken",
            &session,
            s.credentials().unwrap().secret_access_key(),
        ),
        (
            "GetFederationToken",
            &federation,
            f.credentials().unwrap().secret_access_key(),
        ),
    ] {
        let (_, line) = lines
            .iter()
            .find(|(_, l)| l.contains(&format!("\"eventName\":\"{name}\"")))
            .unwrap_or_else(|| panic!("no {name} event"));
        let text = format!(
            "\"responseElements\":{}",
            serde_json::to_string(want).unwrap()
        );
        assert!(line.contains(&text), "{name}: want {text} in {line}");
        assert!(!line.contains(secret), "{name}: the secret is not recorded");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(&v["responseElements"], want, "{name}");
    }
}
