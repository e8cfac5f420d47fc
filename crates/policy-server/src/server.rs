//! The listener: connections admitted under the cap, one task each.

use std::sync::Arc;

use havre_net::{Gate, accept_loop};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{Instances, PolicyServices};

/// What every connection of the service shares: the services of the
/// moment, and the messages under way (which outlive a reload).
pub struct Server {
    pub services: watch::Receiver<Arc<PolicyServices>>,
    pub instances: Instances,
}

impl Server {
    pub fn new(services: watch::Receiver<Arc<PolicyServices>>) -> Arc<Server> {
        Arc::new(Server {
            services,
            instances: Instances::new(),
        })
    }
}

/// Accepts on `listener` until the node drains. A connection beyond the
/// gate's cap is closed at once without a word (the accept loop logs it):
/// Postfix then tries again, and applies its
/// smtpd_policy_service_default_action (451 4.3.5) if it still fails.
pub async fn serve(listener: TcpListener, server: Arc<Server>, gate: Arc<Gate>) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "policy", role = "policy", "listening on {addr}");
    }
    accept_loop(
        listener,
        gate,
        |_, _| String::new(),
        |stream, peer, ticket| {
            tokio::spawn(crate::session::session(
                stream,
                peer,
                ticket,
                server.clone(),
            ));
        },
    )
    .await;
}
