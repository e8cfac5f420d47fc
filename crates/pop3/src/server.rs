//! Listening sockets: accept, then one task per session.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Pop3Services;
use crate::session::Session;

/// Accepts POP3 connections until `shutdown` turns true: port 110 style
/// (`implicit_tls = false`, STLS offered when TLS is configured) or port 995
/// style (TLS from the first byte). Sessions under way finish on their own; a
/// session that has not sent QUIT deletes nothing.
pub async fn serve(
    listener: TcpListener,
    implicit_tls: bool,
    services: Arc<Pop3Services>,
    mut shutdown: watch::Receiver<bool>,
) {
    let kind = if implicit_tls { "pop3s" } else { "pop3" };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "pop3", role = "pop3", "listening on {addr} ({kind})");
    }
    if implicit_tls && services.tls.is_none() {
        tracing::error!(target: "pop3", role = "pop3", "{kind} listener without TLS material: every connection will be closed");
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().unwrap_or_else(|_| {
                        listener.local_addr().unwrap_or(peer)
                    });
                    let session = Session::new(services.clone(), peer, local);
                    tokio::spawn(session.run(Box::new(stream), implicit_tls));
                }
                Err(err) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::error!(target: "pop3", role = "pop3", "accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
    }
}
