//! Listening sockets: admission by the role's gate, then one task per session.

use std::net::SocketAddr;
use std::sync::Arc;

use havre_net::{Gate, Refusal};
use tokio::net::TcpListener;
use tokio::sync::watch;

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
    let role = match listener.mode {
        Mode::Mx => "mx",
        Mode::Submission => "submission",
        Mode::Lmtp => "lmtp",
    };
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
