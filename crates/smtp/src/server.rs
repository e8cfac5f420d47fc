//! Listening sockets (TCP, and the Unix socket of local submission):
//! admission by the role's gate, then one task per session.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use havre_net::{Gate, Phase, Refusal};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use crate::local::Caller;
use crate::session::Session;
use crate::{Mode, Services};

/// A bound listening socket and what it speaks.
pub struct Listener {
    pub socket: TcpListener,
    pub mode: Mode,
    /// TLS from the first byte (port 465 style) instead of STARTTLS.
    pub implicit_tls: bool,
}

impl Listener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

/// Accepts connections until the node drains. Sessions under way finish
/// their transaction; their next command is answered 421 4.3.2.
///
/// Each session takes the services of the moment it is accepted (a reload
/// publishes new ones): it keeps its limits, networks and TLS certificate
/// to its end, and the next sessions get the new ones.
pub async fn serve(listener: Listener, services: watch::Receiver<Arc<Services>>, gate: Arc<Gate>) {
    let role = listener.mode.role();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "smtp", role, "listening on {addr}");
    }
    let hostname = services.borrow().settings.hostname.clone();
    let caps = gate.caps();
    // Postfix's words for the per-client limit; no RFC code fits better than
    // 4.7.0 (too many from you) and 4.3.2 (not accepting now).
    let refusal = move |why, ip: std::net::IpAddr| match why {
        Refusal::PerAddress => format!(
            "421 4.7.0 {hostname} Error: too many connections from {ip} (limit {})\r\n",
            caps.per_ip
        ),
        Refusal::Total => format!(
            "421 4.3.2 {hostname} Error: too many connections (limit {}), try again later\r\n",
            caps.total
        ),
        Refusal::Exhausted => {
            format!("421 4.3.2 {hostname} Error: out of resources, try again later\r\n")
        }
        // Postfix's words for a client refused by policy at connect.
        Refusal::Banned { until } => format!(
            "554 5.7.1 Service unavailable; client [{ip}] banned until {}\r\n",
            havre_net::until_text(until)
        ),
    };
    let (mode, implicit_tls) = (listener.mode, listener.implicit_tls);
    havre_net::accept_loop(listener.socket, gate, refusal, |stream, peer, ticket| {
        let session = Session::new(mode, services.borrow().clone(), peer);
        tokio::spawn(async move {
            let stop = ticket.stop();
            session.run(Box::new(stream), implicit_tls, stop).await;
            drop(ticket);
        });
    })
    .await;
}

/// Accepts local submissions (`havre sendmail`) on a Unix socket until the
/// node drains. Each caller is known by the uid the kernel gives; the gate
/// caps the sessions at once (all come from one "address").
pub async fn serve_local(
    listener: UnixListener,
    services: watch::Receiver<Arc<Services>>,
    gate: Arc<Gate>,
) {
    if let Ok(addr) = listener.local_addr()
        && let Some(path) = addr.as_pathname()
    {
        tracing::info!(target: "smtp", role = "pickup", "listening on {}", path.display());
    }
    let mut stop = gate.stop();
    let local = IpAddr::from([127, 0, 0, 1]);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.reached(Phase::Draining) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::error!(target: "smtp", role = "pickup", "accept failed: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let caller = match Caller::of(&stream) {
            Ok(caller) => caller,
            Err(err) => {
                tracing::warn!(target: "smtp", role = "pickup", "cannot tell who connected: {err}; connection closed");
                continue;
            }
        };
        let ticket = match gate.admit(local) {
            Ok(ticket) => ticket,
            Err(_) => {
                tracing::warn!(target: "smtp", role = "pickup", "refused uid={} ({}): too many local submissions at once", caller.uid, caller.account);
                let mut stream = stream;
                let _ = tokio::io::AsyncWriteExt::write_all(
                    &mut stream,
                    b"421 4.3.2 Error: too many connections, try again later\r\n",
                )
                .await;
                continue;
            }
        };
        let session = Session::new_local(services.borrow().clone(), caller);
        tokio::spawn(async move {
            let stop = ticket.stop();
            session.run(Box::new(stream), false, stop).await;
            drop(ticket);
        });
    }
}
