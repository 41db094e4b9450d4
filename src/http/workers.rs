//! The connection workers: threads that each run a single-threaded runtime and serve whole the
//! connections the accept loop hands them, in turn.
//!
//! A connection stays on one thread from its first byte to its close. On the shared
//! work-stealing runtime a connection's task ran on whichever worker had last polled the
//! sockets' readiness, so its buffers, its request future and the memory it freed moved between
//! cores with most requests. Here each worker's caches keep its own connections, and the
//! per-thread copies of decoded IAM reads (the IAM repository's front) are hit by the thread
//! that made them. The tasks started at boot (revocation refresh, the store's change feed) stay
//! on the main runtime; anything a request spawns (a JWKS refresh behind it, a last-use write)
//! runs on its worker, and the store's I/O on that worker's blocking threads.
//!
//! Measured on the 2-core bench machine, build against build with wrk beside the server
//! (`scripts/bench_ab.py`): AssumeRole 8% and GetCallerIdentity 13% more requests a second.

use std::future::Future;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::listener::Slot;

/// One accepted connection on its way to a worker.
struct Handoff {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    slot: Slot,
}

/// The worker threads and the queue into each.
pub(crate) struct Workers {
    queues: Vec<mpsc::UnboundedSender<Handoff>>,
    threads: Vec<JoinHandle<()>>,
    next: usize,
}

/// The number of workers `configured` asks for: itself, or with 0 one per available core.
#[must_use]
pub fn count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Blocking threads (the store's I/O, the SAML XML work) each worker's runtime may start: the
/// 512 tokio allows one runtime, shared out, so that `n` workers under a flood of blocking work
/// do not start `n` times as many threads as one runtime would (at least 16 each).
#[must_use]
fn blocking_threads_each(n: usize) -> usize {
    (512 / n.max(1)).max(16)
}

impl Workers {
    /// Starts `n` (at least 1) workers, each serving the connections it is handed with `serve`.
    ///
    /// # Errors
    /// A thread or its runtime could not be started.
    pub(crate) fn start<F, Fut>(n: usize, serve: F) -> std::io::Result<Self>
    where
        F: Fn(TcpStream, SocketAddr, Slot) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let n = n.max(1);
        let mut queues = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(blocking_threads_each(n))
                .build()?;
            let (tx, rx) = mpsc::unbounded_channel();
            let serve = serve.clone();
            let thread = std::thread::Builder::new()
                .name(format!("sekisho-worker-{i}"))
                .spawn(move || rt.block_on(run(rx, serve)))?;
            queues.push(tx);
            threads.push(thread);
        }
        Ok(Self {
            queues,
            threads,
            next: 0,
        })
    }

    /// Hands `stream` to the next worker in turn (the next one that still runs, if a worker
    /// has stopped); a connection no worker takes is closed.
    pub(crate) fn hand(&mut self, stream: TcpStream, peer: SocketAddr, slot: Slot) {
        let mut job = match stream.into_std() {
            Ok(stream) => Handoff { stream, peer, slot },
            Err(e) => {
                tracing::warn!(error = %e, "could not hand a connection to a worker");
                return;
            }
        };
        for _ in 0..self.queues.len() {
            let i = self.next % self.queues.len();
            self.next = self.next.wrapping_add(1);
            match self.queues.get(i).map(|q| q.send(job)) {
                Some(Ok(())) => return,
                Some(Err(mpsc::error::SendError(back))) => job = back,
                None => return,
            }
        }
        tracing::error!("no connection worker is running; closing the connection");
    }

    /// Stops taking connections and waits (off the runtime) until every worker has finished
    /// the connections it holds.
    pub(crate) async fn finish(self) {
        drop(self.queues);
        let threads = self.threads;
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                if t.join().is_err() {
                    tracing::error!("a connection worker panicked");
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::error!("waiting for the connection workers failed");
        }
    }
}

/// A worker's loop: serves each connection it is handed as a task of its own runtime, and once
/// its queue is closed, lets them finish.
async fn run<F, Fut>(mut queue: mpsc::UnboundedReceiver<Handoff>, serve: F)
where
    F: Fn(TcpStream, SocketAddr, Slot) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            job = queue.recv() => {
                let Some(Handoff { stream, peer, slot }) = job else { break };
                match TcpStream::from_std(stream) {
                    Ok(s) => {
                        conns.spawn(serve(s, peer, slot));
                    }
                    Err(e) => tracing::warn!(error = %e, "could not serve a handed connection"),
                }
            }
            // Finished connections are reaped as they end, so the set holds only open ones.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    while conns.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::watch;

    use super::*;
    use crate::http::listener::Limits;

    /// Each connection answers the name of the thread serving it, then stays open until
    /// released.
    #[tokio::test]
    async fn connections_go_to_the_workers_in_turn_and_finish_waits_for_them() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits::new(16, 16);
        let (release, released) = watch::channel(false);
        let ended = Arc::new(Mutex::new(0_usize));
        let counted = ended.clone();
        let mut workers = Workers::start(2, move |mut s: TcpStream, _, slot| {
            let mut released = released.clone();
            let counted = counted.clone();
            async move {
                let name = std::thread::current().name().unwrap_or("?").to_owned();
                s.write_all(name.as_bytes()).await.unwrap();
                s.shutdown().await.unwrap();
                let _ = released.wait_for(|r| *r).await;
                *counted.lock().unwrap() += 1;
                drop(slot);
            }
        })
        .unwrap();
        let mut names = Vec::new();
        for _ in 0..4 {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (stream, peer) = listener.accept().await.unwrap();
            workers.hand(stream, peer, limits.admit(peer.ip()).unwrap());
            let mut name = String::new();
            client.read_to_string(&mut name).await.unwrap();
            names.push(name);
        }
        assert_eq!(
            names,
            [
                "sekisho-worker-0",
                "sekisho-worker-1",
                "sekisho-worker-0",
                "sekisho-worker-1"
            ]
        );
        let finish = tokio::spawn(workers.finish());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!finish.is_finished(), "open connections are waited for");
        assert_eq!(*ended.lock().unwrap(), 0);
        release.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), finish)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*ended.lock().unwrap(), 4, "every connection ran to its end");
    }

    #[test]
    fn the_blocking_threads_are_shared_out() {
        assert_eq!(blocking_threads_each(1), 512);
        assert_eq!(blocking_threads_each(2), 256);
        assert_eq!(blocking_threads_each(8), 64);
        assert_eq!(blocking_threads_each(1024), 16, "never fewer than 16");
        assert_eq!(blocking_threads_each(0), 512);
    }

    #[test]
    fn zero_means_one_per_core() {
        assert_eq!(count(3), 3);
        assert!(count(0) >= 1);
        assert_eq!(
            count(0),
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        );
    }
}
