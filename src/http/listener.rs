//! The listener: accepts connections under a global and a per-address cap, serves each with
//! hyper's HTTP/1 connection, and closes the ones that are slow to send their headers or that
//! sit idle between requests.
//!
//! The timeouts are ours, not hyper's: hyper's `header_read_timeout` is armed whenever a
//! connection waits for a request head (`proto/h1/conn.rs`, `poll_read_head`), on a kept-alive
//! connection between requests too, so it cannot give an idle timeout longer than the header
//! timeout. Each connection instead carries a [`Phase`] — waiting for a head, busy with a
//! request, or idle after an answer — moved by its reads and by the service, and the connection
//! task closes the connection when the phase's deadline passes. The request deadline of the
//! guard layer covers the busy phase (body included).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};

use super::Edge;
use super::workers::Workers;
use crate::state::AppState;

/// Descriptors kept free of connections for the store, audit and key files, and the listener.
pub const RESERVED_FDS: u64 = 256;

/// The answer to a connection over a cap, written without reading its request.
const REFUSED: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// How long the accept loop pauses after an error such as running out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The two connection timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From acceptance (or a kept-alive connection's next first byte) to a complete head.
    pub header: Duration,
    /// From an answer to the next request's first byte.
    pub idle: Duration,
}

/// Where a connection stands, for its timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A request is being handled (its deadline is the guard layer's).
    Busy,
    /// Waiting for a request head to complete, since the connection opened or the head's first
    /// byte arrived.
    Head {
        /// Since when.
        since: Instant,
    },
    /// Answered; waiting for the next request's first byte.
    Idle {
        /// Since when.
        since: Instant,
    },
}

impl Phase {
    /// Bytes arrived: on an idle connection they start the next head.
    #[must_use]
    pub fn on_read(self, now: Instant) -> Self {
        match self {
            Self::Idle { .. } => Self::Head { since: now },
            p => p,
        }
    }

    /// When the connection must be closed, if nothing changes; `None` while busy.
    #[must_use]
    pub fn deadline(self, t: Timeouts) -> Option<Instant> {
        match self {
            Self::Busy => None,
            Self::Head { since } => Some(since + t.header),
            Self::Idle { since } => Some(since + t.idle),
        }
    }
}

/// A connection's phase, shared by its reader and its service (both run in its task, so the
/// lock is never contended).
#[derive(Debug)]
struct Watch(Mutex<Phase>);

impl Watch {
    fn get(&self) -> Phase {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, p: Phase) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = p;
    }

    fn on_read(&self) {
        let mut p = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*p, Phase::Idle { .. }) {
            // Coarse, as the idle time: the header timeout it starts may end a tick or two early.
            *p = p.on_read(Instant::from_std(crate::clock::coarse_instant()));
        }
    }
}

/// The connection caps: a global count and a count per source address.
#[derive(Debug)]
pub struct Limits {
    slots: Arc<Semaphore>,
    max: u32,
    per_ip: usize,
    by_ip: Mutex<crate::FastMap<IpAddr, usize>>,
}

/// One admitted connection; dropping it frees its place under both caps.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    ip: IpAddr,
    limits: Arc<Limits>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self
            .limits
            .by_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

impl Limits {
    /// Caps of `max` connections in all and `per_ip` from one address.
    #[must_use]
    pub fn new(max: u32, per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(max as usize)),
            max,
            per_ip,
            by_ip: Mutex::new(crate::FastMap::default()),
        })
    }

    /// A place for a connection from `ip`, or `None` when a cap is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let permit = self.slots.clone().try_acquire_owned().ok()?;
        let mut m = self.by_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let n = m.entry(ip).or_insert(0);
        if *n >= self.per_ip {
            return None;
        }
        *n += 1;
        Some(Slot {
            _permit: permit,
            ip,
            limits: self.clone(),
        })
    }

    /// Waits until every admitted connection has ended.
    async fn drained(&self) {
        // The semaphore is never closed; if it were, there would be nothing left to wait for.
        let _all = self.slots.acquire_many(self.max).await;
    }
}

/// The connection cap in effect: the configured one, lowered to the descriptor limit (`nofile`,
/// when known) less [`RESERVED_FDS`], and at least 1.
#[must_use]
pub fn effective_max_connections(configured: usize, nofile: Option<u64>) -> u32 {
    let configured = u32::try_from(configured).unwrap_or(u32::MAX);
    let by_fds = nofile.map_or(u32::MAX, |n| {
        u32::try_from(n.saturating_sub(RESERVED_FDS)).unwrap_or(u32::MAX)
    });
    configured.min(by_fds).max(1)
}

/// The process's soft descriptor limit, if it has one.
fn nofile_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Serves `edge` on `listener` until `shutdown` resolves, then lets open connections finish
/// (idle ones are closed at once) and returns when they have.
pub(crate) async fn serve(
    listener: TcpListener,
    edge: Arc<Edge>,
    st: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cfg = &st.config.server;
    let timeouts = Timeouts {
        header: Duration::from_secs(cfg.header_read_timeout_seconds),
        idle: Duration::from_secs(cfg.idle_timeout_seconds),
    };
    let nofile = nofile_limit();
    let max = effective_max_connections(cfg.max_connections, nofile);
    if (max as usize) < cfg.max_connections {
        tracing::warn!(
            configured = cfg.max_connections,
            nofile,
            effective = max,
            "server.max_connections lowered to fit the descriptor limit"
        );
    }
    let limits = Limits::new(max, cfg.max_connections_per_ip.min(max as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = {
        let (edge, st, stop) = (edge.clone(), st.clone(), stop_rx.clone());
        Workers::start(
            super::workers::count(cfg.workers),
            move |stream, peer, slot| {
                connection(
                    stream,
                    peer,
                    edge.clone(),
                    st.clone(),
                    timeouts,
                    stop.clone(),
                    slot,
                )
            },
        )?
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::error!(error = %e, "accept failed; pausing");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(slot) = limits.admit(peer.ip()) else {
            st.metrics.connections_refused.inc();
            // Best effort: the client may read the 503 before the close; it is never waited for.
            let _ = stream.try_write(REFUSED);
            continue;
        };
        let _ = stream.set_nodelay(true);
        workers.hand(stream, peer, slot);
    }
    drop(listener);
    let _ = stop_tx.send(true);
    limits.drained().await;
    workers.finish().await;
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset
    )
}

/// How a connection's task ended.
enum Ended {
    /// The connection closed (or failed).
    Closed,
    /// Its phase's deadline passed.
    TimedOut,
}

/// What a connection's requests share (one `Arc` clone a request).
struct Conn {
    edge: Arc<Edge>,
    peer: SocketAddr,
    /// The peer's address as the audit records it, formatted once for the connection.
    peer_ip: Box<str>,
    watch: Arc<Watch>,
}

/// Serves one connection until it closes, times out, or finishes after shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    edge: Arc<Edge>,
    st: Arc<AppState>,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
    slot: Slot,
) {
    st.metrics.connections_open.fetch_add(1, Relaxed);
    let watch = Arc::new(Watch(Mutex::new(Phase::Head {
        since: Instant::now(),
    })));
    let io = TokioIo::new(Watched {
        inner: stream,
        watch: watch.clone(),
    });
    let conn = Arc::new(Conn {
        edge,
        peer,
        peer_ip: peer.ip().to_string().into_boxed_str(),
        watch: watch.clone(),
    });
    let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        conn.watch.set(Phase::Busy);
        let c = conn.clone();
        async move {
            let resp = c.edge.dispatch(req, c.peer, &c.peer_ip).await;
            // A coarse time, a tick or two behind, so the idle timeout it starts ends that much
            // early; it is seconds long. (A new connection's head time is the precise one.)
            c.watch.set(Phase::Idle {
                since: Instant::from_std(crate::clock::coarse_instant()),
            });
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let mut conn = std::pin::pin!(
        hyper::server::conn::http1::Builder::new()
            .writev(false)
            .serve_connection(io, svc)
    );
    let mut sleep = std::pin::pin!(tokio::time::sleep(timeouts.header));
    let mut armed = None;
    // Shutdown: `changed` is polled once to register this task, then again only when the
    // cheap look of `peek` (one atomic load) says the value moved. Re-polling a registered
    // `watch` wait on every request takes the channel's waiter lock, shared by every
    // connection of the server.
    let peek = stop.clone();
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    let mut shutdown = std::pin::pin!(stop.changed());
    let mut registered = false;
    let ended = std::future::poll_fn(|cx| {
        if !stopping && (!registered || peek.has_changed().unwrap_or(true)) {
            registered = true;
            // Ready when the value changed (only ever to `true`) or the sender is gone.
            if shutdown.as_mut().poll(cx).is_ready() {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
        poll_watched(
            conn.as_mut(),
            &watch,
            timeouts,
            sleep.as_mut(),
            &mut armed,
            cx,
        )
    })
    .await;
    if matches!(ended, Ended::TimedOut) {
        st.metrics.connections_timed_out.inc();
    }
    st.metrics.connections_open.fetch_sub(1, Relaxed);
    drop(slot);
}

/// Polls the connection, then its deadline.
///
/// The timer is re-armed only when the phase's deadline is earlier than the one armed (or none
/// is): a deadline that moved later is found when the earlier one fires, checked against the
/// phase then, and armed again. Most requests move it later (an answer starts the idle time, the
/// next bytes the header time), so a kept-alive connection touches the runtime's timer about once
/// per timeout rather than twice per request. Every phase change happens while the connection
/// is polled, so the phase read here is current.
fn poll_watched<C: Future>(
    conn: Pin<&mut C>,
    watch: &Watch,
    timeouts: Timeouts,
    mut sleep: Pin<&mut Sleep>,
    armed: &mut Option<Instant>,
    cx: &mut Context<'_>,
) -> Poll<Ended> {
    if conn.poll(cx).is_ready() {
        return Poll::Ready(Ended::Closed);
    }
    if let Some(deadline) = watch.get().deadline(timeouts)
        && armed.is_none_or(|a| deadline < a)
    {
        sleep.as_mut().reset(deadline);
        *armed = Some(deadline);
    }
    loop {
        if armed.is_none() || sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        // The armed time came: close only if the phase's own deadline has passed.
        match watch.get().deadline(timeouts) {
            Some(d) if d <= Instant::now() => return Poll::Ready(Ended::TimedOut),
            Some(d) => {
                sleep.as_mut().reset(d);
                *armed = Some(d);
            }
            // Busy: the guards' deadline applies; armed again when the answer is sent.
            None => *armed = None,
        }
    }
}

/// A TCP stream that tells its connection's [`Watch`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.on_read();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[test]
    fn phases_and_deadlines() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let head = Phase::Head { since: t0 };
        assert_eq!(
            head.deadline(T),
            Some(t0 + s(10)),
            "header timeout from accept"
        );
        assert_eq!(
            head.on_read(t0 + s(3)),
            head,
            "reads inside a head keep its start"
        );
        assert_eq!(
            Phase::Busy.deadline(T),
            None,
            "the request deadline covers a busy one"
        );
        assert_eq!(Phase::Busy.on_read(t0 + s(1)), Phase::Busy, "body bytes");
        let idle = Phase::Idle { since: t0 + s(5) };
        assert_eq!(
            idle.deadline(T),
            Some(t0 + s(65)),
            "idle timeout from the answer"
        );
        let next = idle.on_read(t0 + s(20));
        assert_eq!(next, Phase::Head { since: t0 + s(20) });
        assert_eq!(
            next.deadline(T),
            Some(t0 + s(30)),
            "the next head's first byte starts the header timeout"
        );
    }

    #[test]
    fn connection_cap_fits_the_descriptor_limit() {
        assert_eq!(effective_max_connections(8192, None), 8192);
        assert_eq!(effective_max_connections(8192, Some(65536)), 8192);
        assert_eq!(effective_max_connections(8192, Some(1024)), 768);
        assert_eq!(effective_max_connections(8192, Some(100)), 1, "never zero");
        assert_eq!(effective_max_connections(usize::MAX, None), u32::MAX);
    }

    #[tokio::test]
    async fn caps_count_per_address_and_in_all() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let l = Limits::new(3, 2);
        let a1 = l.admit(a).unwrap();
        let a2 = l.admit(a).unwrap();
        assert!(l.admit(a).is_none(), "per-address cap");
        let b1 = l.admit(b).unwrap();
        assert!(l.admit(c).is_none(), "global cap");
        drop(a1);
        let c1 = l.admit(c).unwrap();
        assert!(l.admit(a).is_none(), "global cap again");
        drop((a2, b1, c1));
        assert!(l.by_ip.lock().unwrap().is_empty(), "no entry left behind");
        tokio::time::timeout(Duration::from_secs(1), l.drained())
            .await
            .unwrap();
        let _a = l.admit(a).unwrap();
        let _b = l.admit(a).unwrap();
    }
}
