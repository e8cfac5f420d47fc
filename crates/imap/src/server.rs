//! Listening sockets: accept, enforce the per-address limit, one task per session.

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Services;
use crate::session::Session;

/// Accepts until `shutdown`; `implicit_tls` for port 993.
pub async fn serve(
    listener: TcpListener,
    implicit_tls: bool,
    services: Services,
    mut shutdown: watch::Receiver<bool>,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "imap", role = "imap", "listening on {addr}{}", if implicit_tls { " (TLS)" } else { "" });
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().ok();
                    let services = services.clone();
                    tokio::spawn(async move {
                        let slot = services.limits.acquire(
                            format!("ip:{}", peer.ip()),
                            services.settings.max_connections_per_ip,
                        );
                        let session = Session::new(services.clone(), peer, local);
                        session.run(Box::new(stream), implicit_tls, slot).await;
                    });
                }
                Err(err) => {
                    tracing::error!(target: "imap", role = "imap", "accept failed: {err}");
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
