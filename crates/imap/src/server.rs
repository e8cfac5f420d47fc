//! Listening sockets: admission by the role's gate (connections in all and
//! per client address), one task per session.

use std::sync::Arc;

use havre_net::{Gate, Refusal};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Services;
use crate::session::Session;

/// Accepts until the node drains; `implicit_tls` for port 993. A refused
/// client gets its `* BYE` in the clear, even on 993: a TLS handshake per
/// refusal is what a flood would want us to spend. Each session takes the
/// services of the moment it is accepted (a reload publishes new ones).
pub async fn serve(
    listener: TcpListener,
    implicit_tls: bool,
    services: watch::Receiver<Services>,
    gate: Arc<Gate>,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "imap", role = "imap", "listening on {addr}{}", if implicit_tls { " (TLS)" } else { "" });
    }
    let refusal = |why, ip| match why {
        Refusal::PerAddress => {
            "* BYE [UNAVAILABLE] Too many connections from your address\r\n".to_string()
        }
        Refusal::Total => "* BYE [UNAVAILABLE] Server is full, try again later\r\n".to_string(),
        Refusal::Exhausted => "* BYE [UNAVAILABLE] Server out of resources\r\n".to_string(),
        Refusal::Banned { until } => format!(
            "* BYE [UNAVAILABLE] Client [{ip}] banned until {}\r\n",
            havre_net::until_text(until)
        ),
    };
    havre_net::accept_loop(listener, gate, refusal, |stream, peer, ticket| {
        let local = stream.local_addr().ok();
        let services = services.borrow().clone();
        let (entry, stop) = services.sessions.open("imap", peer.ip(), ticket.stop());
        let session = Session::new(services, peer, local).with_entry(entry);
        tokio::spawn(async move {
            session.run(Box::new(stream), implicit_tls, stop).await;
            drop(ticket);
        });
    })
    .await;
}
