//! The accept loop every role shares: admission by the role's [`Gate`], a
//! refusal the client can read, and no spinning when the process is out of
//! file descriptors.
//!
//! Out of descriptors, `accept` fails while the connection stays in the
//! backlog, so the listener stays readable and a naive loop spins, logging
//! each failure, while the clients hang. Here the loop keeps one descriptor
//! in reserve: on EMFILE it gives it up and uses it to take the waiting
//! connections one by one, tell each why and close it, then backs off
//! (10 ms doubling to 1 s) and logs once per burst.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::gate::{Gate, Refusal, Ticket};
use crate::stop::Phase;

/// Refused connections being answered at once; beyond, they are closed
/// without an answer (a flood must not turn into as many tasks and sockets).
const MAX_REFUSING: u32 = 64;
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts on `listener` until the node drains. Each admitted connection
/// goes to `start` with its ticket; a refused one gets `refusal(why, ip)`
/// (the protocol's greeting-time goodbye) and is closed.
pub async fn accept_loop(
    listener: TcpListener,
    gate: Arc<Gate>,
    refusal: impl Fn(Refusal, IpAddr) -> String,
    mut start: impl FnMut(TcpStream, SocketAddr, Ticket),
) {
    let role = gate.role();
    let mut stop = gate.stop();
    let refusing = Arc::new(AtomicU32::new(0));
    let mut reserve = Reserve::open();
    let mut backoff = BACKOFF_MIN;
    let mut failures = 0u64;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.reached(Phase::Draining) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if failures > 0 {
                    tracing::warn!(target: "net", role, "accepting again after {failures} failed accept(s)");
                    failures = 0;
                    backoff = BACKOFF_MIN;
                }
                let _ = stream.set_nodelay(true);
                match gate.admit(peer.ip()) {
                    Ok(ticket) => start(stream, peer, ticket),
                    Err(why) => {
                        let text = refusal(why, peer.ip());
                        match why {
                            // Logged once when banned; a client that keeps
                            // knocking must not fill the log.
                            Refusal::Banned { until } => {
                                tracing::debug!(target: "net", role, "refused connection from {}: banned until {}", peer.ip(), until_text(until));
                            }
                            Refusal::PerAddress => {
                                tracing::warn!(target: "net", role, "refused connection from {}: too many connections from this address", peer.ip());
                            }
                            Refusal::Total | Refusal::Exhausted => {
                                tracing::warn!(target: "net", role, "refused connection from {}: too many connections", peer.ip());
                            }
                        }
                        refuse(stream, text, &refusing);
                    }
                }
            }
            Err(err) => {
                failures += 1;
                if failures == 1 {
                    tracing::error!(target: "net", role, "accept failed: {err}; backing off");
                }
                if is_out_of_descriptors(&err) {
                    let turned = reserve.turn_away(&listener, &refusal).await;
                    if turned > 0 {
                        tracing::warn!(target: "net", role, "out of file descriptors: turned {turned} waiting connection(s) away");
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// A ban's end as clients and operators read it: `2026-05-01 14:03:00 UTC`.
pub fn until_text(until: SystemTime) -> String {
    let secs = until
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "later".to_string())
}

fn is_out_of_descriptors(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Answers a refused connection, then closes it without a reset that could
/// wipe the answer out (the client's first command may already be on its way).
fn refuse(mut stream: TcpStream, text: String, refusing: &Arc<AtomicU32>) {
    if refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::Relaxed);
        let _ = stream.try_write(text.as_bytes());
        return;
    }
    let refusing = refusing.clone();
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            stream.write_all(text.as_bytes()).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 512];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
        refusing.fetch_sub(1, Ordering::Relaxed);
    });
}

/// One descriptor kept open so that, out of descriptors, a waiting
/// connection can still be taken off the backlog and closed.
struct Reserve(Option<std::fs::File>);

impl Reserve {
    fn open() -> Reserve {
        Reserve(std::fs::File::open("/dev/null").ok())
    }

    /// Takes the connections waiting now (none is waited for) and closes
    /// each after a best-effort refusal; returns how many.
    async fn turn_away(
        &mut self,
        listener: &TcpListener,
        refusal: &impl Fn(Refusal, IpAddr) -> String,
    ) -> usize {
        self.0 = None;
        let mut turned = 0;
        // Zero timeout: one try each, never a wait for a connection to come.
        while turned < 1024 {
            match tokio::time::timeout(Duration::ZERO, listener.accept()).await {
                Ok(Ok((stream, peer))) => {
                    let _ = stream.try_write(refusal(Refusal::Exhausted, peer.ip()).as_bytes());
                    drop(stream);
                    turned += 1;
                }
                _ => break,
            }
        }
        *self = Reserve::open();
        turned
    }
}
