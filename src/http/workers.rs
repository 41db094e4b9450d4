//! Serving threads (`[server] serving_threads`): each connection is served, from its first
//! request to its close, on one of several threads, each running a single-threaded tokio
//! runtime of its own; a new connection goes to the thread with the fewest open.
//!
//! Why: a request here is short (tens of microseconds of CPU), so the work-stealing runtime's
//! bookkeeping — a connection's task moving between worker threads, wake-ups that cross
//! threads, reference counts and queues shared by every worker — is a measurable share of it.
//! A connection that stays on one thread keeps its state in one core's cache and is woken by its
//! own thread's I/O driver. The price: a connection never moves, so a thread with a few very
//! busy connections cannot hand work to an idle one (new connections still balance by count).
//! `serving_threads = 0` serves every connection on the process's shared runtime instead.
//!
//! Everything else is unchanged: the connection caps, timeouts, guards and graceful shutdown
//! are the listener's, and tasks a request spawns (blocking work included) run on its thread's
//! runtime.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The serving threads; dropping this ends them (once their connections have ended: the
/// listener waits for that first).
#[derive(Debug)]
pub struct Workers {
    threads: Vec<Thread>,
}

#[derive(Debug)]
struct Thread {
    handle: Handle,
    open: Arc<AtomicUsize>,
    /// Dropped with the thread's entry: its runtime's `block_on` returns and the thread ends.
    _stop: oneshot::Sender<()>,
}

/// Counts a connection open on its thread until dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Workers {
    /// Starts `n` (at least 1) serving threads.
    ///
    /// # Errors
    /// When a runtime or a thread cannot be created.
    pub fn start(n: usize) -> std::io::Result<Self> {
        let mut threads = Vec::with_capacity(n.max(1));
        for i in 0..n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = rt.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("sekisho-serve-{i}"))
                .spawn(move || {
                    // Ends when the sender is dropped; the runtime is dropped here, on its
                    // own thread, never inside another runtime.
                    let _ = rt.block_on(stopped);
                })?;
            threads.push(Thread {
                handle,
                open: Arc::default(),
                _stop: stop,
            });
        }
        Ok(Self { threads })
    }

    /// How many threads serve.
    #[must_use]
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Never: there is at least one thread.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Connections open on each thread, in order.
    #[must_use]
    pub fn open(&self) -> Vec<usize> {
        self.threads.iter().map(|t| t.open.load(Relaxed)).collect()
    }

    /// Serves `stream` (accepted on another runtime) with `serve` on the thread with the fewest
    /// open connections; `serve` gets the stream registered with that thread's I/O driver.
    pub fn spawn<F, Fut>(&self, stream: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(t) = self.threads.iter().min_by_key(|t| t.open.load(Relaxed)) else {
            return;
        };
        // Taken out of the accepting runtime's driver, to be registered with the thread's.
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot hand a connection to a serving thread");
                return;
            }
        };
        t.open.fetch_add(1, Relaxed);
        let open = Open(t.open.clone());
        t.handle.spawn(async move {
            let _open = open;
            match TcpStream::from_std(std_stream) {
                Ok(stream) => serve(stream).await,
                Err(e) => tracing::warn!(error = %e, "cannot register a connection"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        reason = "tests"
    )]
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Connections land on the least loaded thread, are served there (not on the accepting
    /// runtime), and are counted until they end.
    #[tokio::test]
    async fn connections_balance_by_count_and_run_on_their_thread() {
        let w = Workers::start(2).unwrap();
        assert_eq!((w.len(), w.open()), (2, vec![0, 0]));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            let (stream, _) = listener.accept().await.unwrap();
            w.spawn(stream, |mut s| async move {
                let name = std::thread::current().name().unwrap_or("").to_owned();
                let mut b = [0u8; 1];
                // Echo the thread's name once asked, then wait for the close.
                if s.read_exact(&mut b).await.is_ok() {
                    let _ = s.write_all(name.as_bytes()).await;
                    let _ = s.write_all(b"\n").await;
                    let _ = s.read(&mut b).await;
                }
            });
        }
        let mut names = Vec::new();
        for c in &mut clients {
            c.write_all(b"?").await.unwrap();
            let mut buf = vec![0u8; 64];
            let n = c.read(&mut buf).await.unwrap();
            names.push(String::from_utf8_lossy(&buf[..n]).trim().to_owned());
        }
        assert_eq!(
            names,
            ["sekisho-serve-0", "sekisho-serve-1", "sekisho-serve-0"],
            "fewest open first, ties to the first"
        );
        assert_eq!(w.open(), vec![2, 1]);
        drop(clients.remove(0));
        tokio::time::timeout(Duration::from_secs(5), async {
            while w.open() != vec![1, 1] {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("a closed connection is no longer counted");
    }
}
