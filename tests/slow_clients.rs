//! Slow clients: connections that never finish their headers are closed by the header-read
//! timeout while a normal client keeps getting answers; kept-alive connections are closed when
//! idle; the connection caps refuse the excess at once.
//!
//! The slow clients connect from other loopback addresses (127.0.0.2 …, Linux routes all of
//! 127/8 to `lo`), so the per-address cap can tell them from the normal client on 127.0.0.1.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// A request that never ends its headers.
const HALF: &[u8] = b"POST / HTTP/1.1\r\nHost: x\r\n";
/// A whole request, kept alive.
const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
/// A whole request, connection closed after the answer.
const HEALTH_CLOSE: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

fn server_addr(s: &common::Server) -> SocketAddr {
    s.endpoint.trim_start_matches("http://").parse().unwrap()
}

fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Connects to `server` from the loopback address `source`.
async fn connect_from(source: IpAddr, server: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(source, 0)).unwrap();
    tokio::time::timeout(Duration::from_secs(5), sock.connect(server))
        .await
        .expect("connect in time")
        .unwrap()
}

/// Reads until the server closes (or resets) the connection; `None` if it is still open after
/// `limit`.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one `/healthz` answer (`ok`, two bytes of body) from a kept-alive connection.
async fn read_health_answer(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    while !got.ends_with(b"\r\n\r\nok") {
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .expect("answer in time")
            .unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// One `/healthz` request on a new connection from 127.0.0.1: the status line and the time it
/// took, connection included.
async fn health(server: SocketAddr) -> (String, Duration) {
    let t = Instant::now();
    let mut s = connect_from(loopback(1), server).await;
    // A refused connection may be closed before the request is written.
    let _ = s.write_all(HEALTH_CLOSE).await;
    let got = read_until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("answered and closed");
    let text = String::from_utf8_lossy(&got);
    (text.lines().next().unwrap_or("").to_owned(), t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_while_others_are_answered() {
    const SLOW: usize = 2000;
    let server = common::start_configured(common::BOOTSTRAP, |c| {
        c.server.header_read_timeout_seconds = 1;
        c.server.max_connections = 5000;
        c.server.max_connections_per_ip = 2500;
    })
    .await;
    let addr = server_addr(&server);

    // The normal client: a request on a new connection every 20 ms for 3 s.
    let normal = tokio::spawn(async move {
        let mut answers = Vec::new();
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            answers.push(health(addr).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        answers
    });

    // The slow clients: each sends half a request, then waits for the server to hang up.
    let started = Instant::now();
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut s = connect_from(loopback(2), addr).await;
        s.write_all(HALF).await.unwrap();
        let opened = Instant::now();
        slow.push(tokio::spawn(async move {
            let got = read_until_closed(&mut s, Duration::from_secs(15)).await;
            (got, opened.elapsed())
        }));
    }
    let opening = started.elapsed();

    let mut longest = Duration::ZERO;
    let mut shortest = Duration::MAX;
    for h in slow {
        let (got, held) = h.await.unwrap();
        let got = got.unwrap_or_else(|| panic!("a half-sent request still open after {held:?}"));
        assert!(got.is_empty(), "no answer to a half-sent request");
        longest = longest.max(held);
        shortest = shortest.min(held);
    }
    let all_closed = started.elapsed();
    println!(
        "{SLOW} half-sent requests opened in {opening:?}; each closed {shortest:?}..{longest:?} \
         after it was sent; all closed {all_closed:?} after the first"
    );
    assert!(
        shortest >= Duration::from_millis(900),
        "closed by the timeout, not earlier: {shortest:?}"
    );
    assert!(
        longest <= Duration::from_secs(3),
        "closed within the 1 s timeout (plus scheduling on a busy machine): {longest:?}"
    );

    let answers = normal.await.unwrap();
    let mut times: Vec<_> = answers.iter().map(|(_, t)| *t).collect();
    times.sort();
    let median = times[times.len() / 2];
    let worst = *times.last().unwrap();
    println!(
        "normal client: {} answers, median {median:?}, worst {worst:?}",
        answers.len()
    );
    assert!(answers.len() >= 20, "{}", answers.len());
    for (status, _) in &answers {
        assert_eq!(status, "HTTP/1.1 200 OK");
    }
    assert!(median < Duration::from_millis(50), "median {median:?}");
    assert!(worst < Duration::from_secs(1), "worst {worst:?}");

    let m = &server.state.metrics;
    assert!(m.connections_timed_out.load(Relaxed) >= SLOW as u64);
    assert_eq!(m.connections_refused.load(Relaxed), 0);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let server = common::start_configured(common::BOOTSTRAP, |c| {
        c.server.header_read_timeout_seconds = 1;
        c.server.idle_timeout_seconds = 4;
    })
    .await;
    let addr = server_addr(&server);

    // Kept alive and idle: closed by the idle timeout, not the shorter header timeout.
    let idle = tokio::spawn(async move {
        let mut s = connect_from(loopback(1), addr).await;
        s.write_all(HEALTH).await.unwrap();
        assert!(read_health_answer(&mut s).await.starts_with("HTTP/1.1 200"));
        let t = Instant::now();
        assert!(
            read_until_closed(&mut s, Duration::from_secs(10))
                .await
                .is_some()
        );
        t.elapsed()
    });
    // Kept alive, then half a request: closed by the header timeout from its first byte.
    let half = tokio::spawn(async move {
        let mut s = connect_from(loopback(1), addr).await;
        s.write_all(HEALTH).await.unwrap();
        read_health_answer(&mut s).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.write_all(HALF).await.unwrap();
        let t = Instant::now();
        assert!(
            read_until_closed(&mut s, Duration::from_secs(10))
                .await
                .is_some()
        );
        t.elapsed()
    });
    // Slow but within the header timeout, twice on one connection: answered both times.
    let slow_but_fine = tokio::spawn(async move {
        let mut s = connect_from(loopback(1), addr).await;
        for _ in 0..2 {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            s.write_all(b"\r\n").await.unwrap();
            assert!(read_health_answer(&mut s).await.starts_with("HTTP/1.1 200"));
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
    });

    let idle = idle.await.unwrap();
    let half = half.await.unwrap();
    slow_but_fine.await.unwrap();
    println!("idle connection closed after {idle:?}; half-sent next request after {half:?}");
    assert!(
        (Duration::from_millis(3800)..Duration::from_secs(6)).contains(&idle),
        "{idle:?}"
    );
    assert!(
        (Duration::from_millis(900)..Duration::from_millis(2500)).contains(&half),
        "{half:?}"
    );
}

#[tokio::test]
async fn connections_over_the_caps_are_refused_at_once() {
    let server = common::start_configured(common::BOOTSTRAP, |c| {
        c.server.max_connections = 30;
        c.server.max_connections_per_ip = 10;
    })
    .await;
    let addr = server_addr(&server);

    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(connect_from(loopback(2), addr).await);
    }
    // The 11th from the same address: a 503 and a close, without waiting for a request.
    let mut extra = connect_from(loopback(2), addr).await;
    let got = read_until_closed(&mut extra, Duration::from_secs(2))
        .await
        .expect("closed at once");
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        health(addr).await.0,
        "HTTP/1.1 200 OK",
        "other addresses are served"
    );

    // Fill the global cap from two more addresses.
    for n in [3, 4] {
        for _ in 0..10 {
            held.push(connect_from(loopback(n), addr).await);
        }
    }
    // Wait (bounded) until the server has admitted them all.
    for _ in 0..100 {
        if server.state.metrics.connections_open.load(Relaxed) >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, took) = health(addr).await;
    assert_ne!(status, "HTTP/1.1 200 OK", "the global cap holds");
    assert!(took < Duration::from_secs(1), "refused at once: {took:?}");

    // Closing some frees their places.
    held.truncate(20);
    let mut served = false;
    for _ in 0..100 {
        if health(addr).await.0 == "HTTP/1.1 200 OK" {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "served again once connections closed");
    assert!(server.state.metrics.connections_refused.load(Relaxed) >= 2);
}

/// Sends `GET /saml/login` from `source` on a connection of its own; the answer's status line
/// and whether it carries `retry-after: 60`.
async fn sign_in_start(source: IpAddr, server: SocketAddr) -> (String, bool) {
    let mut s = connect_from(source, server).await;
    s.write_all(
        b"GET /saml/login?provider=arn%3Aaws%3Aiam%3A%3A111111111111%3Asaml-provider%2FNone \
          HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let got = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    let status = text.lines().next().unwrap_or_default().to_owned();
    (status, text.contains("\r\nretry-after: 60\r\n"))
}

#[tokio::test]
async fn sign_in_starts_are_budgeted_per_address_per_minute() {
    // `GET /saml/login` is unsigned and stores a pending request id: each address gets
    // `[saml] sign_in_requests_per_minute` of them, answered or refused alike.
    let server = common::start_configured("", |c| c.saml.sign_in_requests_per_minute = 2).await;
    let addr = server_addr(&server);
    for _ in 0..2 {
        let (status, retry) = sign_in_start(loopback(2), addr).await;
        assert!(!status.contains(" 429 "), "{status}");
        assert!(!retry);
    }
    let (status, retry) = sign_in_start(loopback(2), addr).await;
    assert!(
        status.contains(" 429 "),
        "the third in the minute: {status}"
    );
    assert!(retry, "with Retry-After");
    let (status, _) = sign_in_start(loopback(3), addr).await;
    assert!(
        !status.contains(" 429 "),
        "another address has its own budget: {status}"
    );
    // The next minute (the injected clock) starts afresh.
    server.clock.advance(chrono::Duration::seconds(60));
    let (status, _) = sign_in_start(loopback(2), addr).await;
    assert!(!status.contains(" 429 "), "{status}");
}

/// Reads from `s` until the text read contains `want` (or `limit` passes).
async fn read_until_contains(s: &mut TcpStream, want: &str, limit: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    while !String::from_utf8_lossy(&got).contains(want) {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// The Query API, served by the listener without the router, keeps the request guards: a
/// `POST /` whose body never completes holds the only request slot
/// (`max_concurrent_requests = 1`) until the request deadline answers it 503 "Request timed
/// out"; another `POST /` waits for the slot meanwhile, then is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_query_body_times_out_while_holding_its_slot() {
    let server = common::start_configured(common::BOOTSTRAP, |c| {
        c.server.request_timeout_seconds = 2;
        c.server.max_concurrent_requests = 1;
    })
    .await;
    let addr = server_addr(&server);
    let form = "Content-Type: application/x-www-form-urlencoded";
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    let head = format!("POST / HTTP/1.1\r\nHost: x\r\n{form}\r\nContent-Length: 100\r\n\r\n");
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(b"Action=GetCaller").await.unwrap();
    let stalled_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;

    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let mut other = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\n{form}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    other.write_all(req.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut other, Duration::from_secs(10))
        .await
        .expect("answered and closed");
    let waited = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 403") && answer.contains("MissingAuthenticationToken"),
        "the unsigned call answered as AWS does, once it had the slot: {answer}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "waited for the slot the stalled request held: {waited:?}"
    );

    let timed_out = read_until_contains(&mut stalled, "timed out", Duration::from_secs(10)).await;
    assert!(
        timed_out.starts_with("HTTP/1.1 503") && timed_out.contains("Request timed out"),
        "{timed_out}"
    );
    let held = stalled_at.elapsed();
    assert!(
        held >= Duration::from_millis(1800),
        "answered at the deadline: {held:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_closes_idle_kept_alive_connections_at_once() {
    let server = common::start().await;
    let addr = server_addr(&server);
    // Several kept-alive connections, each answered a few times (each answer polls the
    // connection's shutdown watch again), then left idle.
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut s = connect_from(loopback(1), addr).await;
        for _ in 0..3 {
            s.write_all(HEALTH).await.unwrap();
            assert!(read_health_answer(&mut s).await.starts_with("HTTP/1.1 200"));
        }
        conns.push(s);
    }
    // Idle connections stay open while the server runs (the idle timeout is 60 s).
    assert!(
        read_until_closed(&mut conns[0], Duration::from_millis(300))
            .await
            .is_none(),
        "an idle connection was closed while the server ran"
    );
    // Dropping the server ends its shutdown future: every idle connection is closed well before
    // any timeout would have closed it.
    drop(server);
    let t = Instant::now();
    for s in &mut conns {
        assert!(
            read_until_closed(s, Duration::from_secs(5)).await.is_some(),
            "an idle connection outlived the shutdown"
        );
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
