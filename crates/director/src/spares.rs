//! Spare backend connections (`director.spare_connections`), opened and
//! greeted before a login needs one: a login through the director then
//! waits for one exchange with the backend (the signed login) instead of
//! three (connect, greeting, login).
//!
//! A pool, per backend and protocol, is filled when a login takes from it
//! and only then: a director nobody logs in through keeps nothing open.
//! A spare is let go after [`MAX_AGE`], well within a backend's login
//! timeout (`imap.login_timeout`, 60 s by default), which runs from the
//! connection's start. One closed by the backend meanwhile is seen when
//! taken and passed over; one that fails during the login is replaced by
//! a new connection there ([`crate::proxy`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use havre_net::Protocol;
use tokio::io::ReadBuf;
use tokio::net::TcpStream;

use crate::login;

/// How long a spare is kept unused.
pub const MAX_AGE: Duration = Duration::from_secs(20);

/// How often spares past their age are let go.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

pub struct Spares {
    pools: Mutex<HashMap<(String, Protocol), Pool>>,
    keep: usize,
    connect_timeout: Duration,
    max_age: Duration,
}

#[derive(Default)]
struct Pool {
    /// Oldest first.
    ready: VecDeque<Spare>,
    /// Connections being opened for this pool.
    opening: usize,
}

struct Spare {
    stream: TcpStream,
    opened: Instant,
}

impl Spares {
    /// Keeps `keep` spares per backend and protocol in use (0: none); in a
    /// Tokio runtime, where its sweeper runs as long as the pools live.
    pub fn new(keep: usize, connect_timeout: Duration) -> Arc<Spares> {
        Spares::aged(keep, connect_timeout, MAX_AGE)
    }

    fn aged(keep: usize, connect_timeout: Duration, max_age: Duration) -> Arc<Spares> {
        let spares = Arc::new(Spares {
            pools: Mutex::new(HashMap::new()),
            keep,
            connect_timeout,
            max_age,
        });
        if keep > 0 {
            tokio::spawn(sweep_while_alive(Arc::downgrade(&spares)));
        }
        spares
    }

    /// A greeted connection to `address` for `protocol`, when one is
    /// ready; what is taken is replaced, on `port`, in the background.
    pub fn take(
        self: &Arc<Self>,
        address: &str,
        port: u16,
        protocol: Protocol,
    ) -> Option<TcpStream> {
        if self.keep == 0 {
            return None;
        }
        let (found, to_open) = {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            let pool = pools.entry((address.to_string(), protocol)).or_default();
            let mut found = None;
            while let Some(spare) = pool.ready.pop_back() {
                if spare.opened.elapsed() < self.max_age && still_open(&spare.stream) {
                    found = Some(spare.stream);
                    break;
                }
                let _ = spare.stream.try_write(login::logout_line(protocol));
            }
            let to_open = self.keep.saturating_sub(pool.ready.len() + pool.opening);
            pool.opening += to_open;
            (found, to_open)
        };
        for _ in 0..to_open {
            tokio::spawn(self.clone().open_one(address.to_string(), port, protocol));
        }
        found
    }

    async fn open_one(self: Arc<Self>, address: String, port: u16, protocol: Protocol) {
        let opened = Instant::now();
        let greeted = async {
            let mut stream = havre_net::connect(&address, port, self.connect_timeout).await?;
            tokio::time::timeout(self.connect_timeout, login::greet(protocol, &mut stream))
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no greeting"))?
                .map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>(stream)
        }
        .await;
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        let pool = pools.entry((address.clone(), protocol)).or_default();
        pool.opening = pool.opening.saturating_sub(1);
        match greeted {
            Ok(stream) => pool.ready.push_back(Spare { stream, opened }),
            // The login that finds no spare connects itself, and says
            // what fails there; the probes mark the backend.
            Err(err) => {
                tracing::debug!(target: "director", "spare connection to {address} port {port}: {err}");
            }
        }
    }

    /// Lets go of the spares past their age.
    fn sweep(&self) {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        for ((_, protocol), pool) in pools.iter_mut() {
            while pool
                .ready
                .front()
                .is_some_and(|s| s.opened.elapsed() >= self.max_age)
            {
                if let Some(old) = pool.ready.pop_front() {
                    let _ = old.stream.try_write(login::logout_line(*protocol));
                }
            }
        }
        pools.retain(|_, pool| !pool.ready.is_empty() || pool.opening > 0);
    }

    /// Spares ready now, all backends and protocols together.
    pub fn ready(&self) -> usize {
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.values().map(|p| p.ready.len()).sum()
    }
}

async fn sweep_while_alive(spares: Weak<Spares>) {
    let mut every = tokio::time::interval(SWEEP_EVERY.min(MAX_AGE));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match spares.upgrade() {
            Some(spares) => spares.sweep(),
            None => return,
        }
    }
}

/// Whether nothing came from the backend since the greeting: neither its
/// close nor a line of its own (a BYE at its shutdown or login timeout).
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(Waker::noop());
    matches!(stream.poll_peek(&mut cx, &mut buf), Poll::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An IMAP "backend" greeting every connection; counts them.
    async fn backend() -> (
        u16,
        Arc<std::sync::atomic::AtomicUsize>,
        Arc<Mutex<Vec<TcpStream>>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (c, h) = (count.clone(), held.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                stream.write_all(b"* OK ready\r\n").await.unwrap();
                h.lock().unwrap().push(stream);
            }
        });
        (port, count, held)
    }

    async fn wait_ready(spares: &Spares, n: usize) {
        for _ in 0..200 {
            if spares.ready() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} spares ready, not {n}", spares.ready());
    }

    #[tokio::test]
    async fn the_first_login_fills_the_pool_and_the_next_ones_take_from_it() {
        let (port, count, _held) = backend().await;
        let spares = Spares::new(2, Duration::from_secs(2));
        assert!(spares.take("127.0.0.1", port, Protocol::Imap).is_none());
        wait_ready(&spares, 2).await;
        let mut taken = spares
            .take("127.0.0.1", port, Protocol::Imap)
            .expect("a spare");
        // Greeted already: what comes next is the backend's answer to us.
        let mut byte = [0u8; 1];
        let nothing = tokio::time::timeout(Duration::from_millis(50), taken.read(&mut byte)).await;
        assert!(nothing.is_err(), "the greeting was read by the pool");
        wait_ready(&spares, 2).await;
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
        // Another protocol has its own pool.
        assert!(spares.take("127.0.0.1", port, Protocol::Pop3).is_none());
    }

    #[tokio::test]
    async fn a_spare_the_backend_closed_is_passed_over() {
        let (port, _count, held) = backend().await;
        let spares = Spares::new(1, Duration::from_secs(2));
        assert!(spares.take("127.0.0.1", port, Protocol::Imap).is_none());
        wait_ready(&spares, 1).await;
        held.lock().unwrap().clear();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(spares.take("127.0.0.1", port, Protocol::Imap).is_none());
    }

    #[tokio::test]
    async fn spares_past_their_age_are_let_go_with_a_logout() {
        let (port, _count, held) = backend().await;
        let spares = Spares::aged(1, Duration::from_secs(2), Duration::from_millis(100));
        assert!(spares.take("127.0.0.1", port, Protocol::Imap).is_none());
        wait_ready(&spares, 1).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        spares.sweep();
        assert_eq!(spares.ready(), 0);
        let mut stream = held.lock().unwrap().pop().unwrap();
        let mut said = Vec::new();
        stream.read_to_end(&mut said).await.unwrap();
        assert_eq!(said, b"Z LOGOUT\r\n");
    }

    #[tokio::test]
    async fn none_are_kept_when_spare_connections_is_0() {
        let (port, count, _held) = backend().await;
        let spares = Spares::new(0, Duration::from_secs(2));
        assert!(spares.take("127.0.0.1", port, Protocol::Imap).is_none());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
