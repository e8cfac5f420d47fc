//! Listening sockets: admission by the role's gate (connections in all and
//! per client address), one task per session.

use std::net::SocketAddr;
use std::sync::Arc;

use havre_net::{Gate, Io, Refusal, Ticket};
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
        tokio::spawn(session_task(
            services,
            Box::new(stream),
            peer,
            local,
            implicit_tls,
            ticket,
        ));
    })
    .await;
}

/// One connection's task, from its admission to its end. Every connection
/// keeps this future for its whole life, and 10,000 idle ones are the design
/// point: what only a command or the TLS handshake needs is on the heap
/// while it runs, and the session is made in the task rather than moved into
/// it (a task keeps what it captured beside the future it runs).
pub(crate) fn session_task(
    services: Services,
    stream: Box<dyn Io>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    implicit_tls: bool,
    ticket: Ticket,
) -> impl Future<Output = ()> + Send + 'static {
    let (entry, stop) = services.sessions.open("imap", peer.ip(), ticket.stop());
    async move {
        let mut session = Session::new(services, peer, local).with_entry(entry);
        session.run(stream, implicit_tls, stop).await;
        drop(ticket);
    }
}

#[cfg(test)]
mod tests {
    use havre_net::{Caps, Stop};

    use super::*;

    /// What each connection's task holds for the whole connection, whatever
    /// it does; an idle session is little more. It was 11 KB when commands
    /// ran inside it (and a guarded command's future was held twice).
    const SESSION_TASK_MAX: usize = 4 * 1024;

    #[tokio::test]
    async fn a_session_task_is_small() {
        let dir = tempfile::tempdir().unwrap();
        let services = crate::testing::services(dir.path()).await;
        let gate = Gate::new("imap", Caps::UNLIMITED, Stop::never());
        let peer: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let ticket = gate.admit(peer.ip()).unwrap();
        let (server, _client) = tokio::io::duplex(64);
        let task = session_task(services, Box::new(server), peer, None, true, ticket);
        let size = std::mem::size_of_val(&task);
        assert!(
            size <= SESSION_TASK_MAX,
            "a session task is {size} bytes, over {SESSION_TASK_MAX}"
        );
    }
}
