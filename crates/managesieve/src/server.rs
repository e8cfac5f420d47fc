//! Listening sockets: admission by the role's gate, then one task per session.

use std::sync::Arc;

use havre_net::{Gate, Refusal};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::ManageSieveServices;
use crate::proto::{Code, Status, response};
use crate::session::Session;

/// Accepts ManageSieve connections until the node drains (port 4190,
/// STARTTLS offered when TLS is configured).
pub async fn serve(
    listener: TcpListener,
    services: watch::Receiver<Arc<ManageSieveServices>>,
    gate: Arc<Gate>,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "managesieve", role = "managesieve", "listening on {addr} (managesieve)");
    }
    let refusal = |why, ip| {
        let text = match why {
            Refusal::PerAddress => "Too many connections from your address.".to_string(),
            Refusal::Total => "Server is full, try again later.".to_string(),
            Refusal::Exhausted => "Server out of resources.".to_string(),
            Refusal::Banned { until } => {
                format!(
                    "Client [{ip}] banned until {}.",
                    havre_net::until_text(until)
                )
            }
        };
        let code = match why {
            Refusal::Banned { .. } => None,
            _ => Some(Code::TryLater),
        };
        String::from_utf8_lossy(&response(Status::Bye, code.as_ref(), &text)).into_owned()
    };
    let fallback = listener.local_addr().ok();
    havre_net::accept_loop(listener, gate, refusal, |stream, peer, ticket| {
        let local = stream.local_addr().ok().or(fallback).unwrap_or(peer);
        let services = services.borrow().clone();
        let (entry, stop) = services
            .sessions
            .open("managesieve", peer.ip(), ticket.stop());
        tokio::spawn(async move {
            let mut session = Session::new(services, peer, local, Some(entry));
            session.run(Box::new(stream), stop).await;
            drop(ticket);
        });
    })
    .await;
}
