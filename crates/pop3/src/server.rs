//! Listening sockets: admission by the role's gate, then one task per session.

use std::sync::Arc;

use havre_net::{Gate, Refusal};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Pop3Services;
use crate::session::Session;

/// Accepts POP3 connections until the node drains: port 110 style
/// (`implicit_tls = false`, STLS offered when TLS is configured) or port 995
/// style (TLS from the first byte). A session that has not sent QUIT deletes
/// nothing, so stopping one never loses a DELE the client was told about.
pub async fn serve(
    listener: TcpListener,
    implicit_tls: bool,
    services: watch::Receiver<Arc<Pop3Services>>,
    gate: Arc<Gate>,
) {
    let kind = if implicit_tls { "pop3s" } else { "pop3" };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "pop3", role = "pop3", "listening on {addr} ({kind})");
    }
    if implicit_tls && services.borrow().tls.is_none() {
        tracing::error!(target: "pop3", role = "pop3", "{kind} listener without TLS material: every connection will be closed");
    }
    let refusal = |why, ip| match why {
        Refusal::PerAddress => {
            "-ERR [SYS/TEMP] Too many connections from your address.\r\n".to_string()
        }
        Refusal::Total => "-ERR [SYS/TEMP] Server is full, try again later.\r\n".to_string(),
        Refusal::Exhausted => "-ERR [SYS/TEMP] Server out of resources.\r\n".to_string(),
        // RFC 3206: SYS/PERM, trying again soon will not help.
        Refusal::Banned { until } => format!(
            "-ERR [SYS/PERM] Client [{ip}] banned until {}.\r\n",
            havre_net::until_text(until)
        ),
    };
    let fallback = listener.local_addr().ok();
    havre_net::accept_loop(listener, gate, refusal, |stream, peer, ticket| {
        let local = stream.local_addr().ok().or(fallback).unwrap_or(peer);
        let services = services.borrow().clone();
        let (entry, stop) = services.sessions.open("pop3", peer.ip(), ticket.stop());
        let session = Session::new(services, peer, local).with_entry(entry);
        tokio::spawn(async move {
            session.run(Box::new(stream), implicit_tls, stop).await;
            drop(ticket);
        });
    })
    .await;
}
