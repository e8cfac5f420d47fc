//! Listening sockets: accept, then one task per session.

use std::net::SocketAddr;
use std::sync::Arc;

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

/// Accepts connections until `shutdown` turns true. Sessions under way finish
/// on their own; nothing they acknowledged depends on them any more.
pub async fn serve(
    listener: Listener,
    services: Arc<Services>,
    mut shutdown: watch::Receiver<bool>,
) {
    let role = match listener.mode {
        Mode::Mx => "mx",
        Mode::Submission => "submission",
        Mode::Lmtp => "lmtp",
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "smtp", role, "listening on {addr}");
    }
    loop {
        tokio::select! {
            accepted = listener.socket.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let session = Session::new(listener.mode, services.clone(), peer);
                    tokio::spawn(session.run(Box::new(stream), listener.implicit_tls));
                }
                Err(err) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::error!(target: "smtp", role, "accept failed: {err}");
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
