//! The director's side of a session's handover ([`havre_net::Handoff`]):
//! the user's backend decided ([`assign::place`]), a connection opened to
//! it and a login made there on her behalf.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use havre_directory::cluster::ClusterLogin;
use havre_net::{Backend, Handoff, HandoffError, Protocol};
use havre_state::State;

use crate::assign;
use crate::login::log_in;
use crate::view::Views;

/// The backends' port of each protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub imap: u16,
    pub pop3: u16,
    pub managesieve: u16,
    pub lmtp: u16,
}

impl Ports {
    pub fn of(&self, protocol: Protocol) -> u16 {
        match protocol {
            Protocol::Imap => self.imap,
            Protocol::Pop3 => self.pop3,
            Protocol::ManageSieve => self.managesieve,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub user_expire: Duration,
    pub connect_timeout: Duration,
    pub ports: Ports,
}

pub struct Proxy {
    state: Arc<dyn State>,
    views: Views,
    login: ClusterLogin,
    settings: ProxySettings,
}

impl Proxy {
    pub fn new(state: Arc<dyn State>, login: ClusterLogin, settings: ProxySettings) -> Proxy {
        Proxy {
            views: Views::new(state.clone()),
            state,
            login,
            settings,
        }
    }
}

#[async_trait]
impl Handoff for Proxy {
    async fn open(
        &self,
        protocol: Protocol,
        user: &str,
        _client: SocketAddr,
    ) -> Result<Backend, HandoffError> {
        let unavailable = HandoffError::Unavailable;
        let view = self
            .views
            .get()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut address = assign::place(&*self.state, &view, user, self.settings.user_expire)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let port = self.settings.ports.of(protocol);
        let timeout = self.settings.connect_timeout;
        let mut stream = match havre_net::connect(&address, port, timeout).await {
            Ok(stream) => stream,
            Err(first) => {
                // The probes may have marked it down since this director
                // last read the view: read it now and place her again.
                let view = self
                    .views
                    .read()
                    .await
                    .map_err(|e| unavailable(e.to_string()))?;
                let again = assign::place(&*self.state, &view, user, self.settings.user_expire)
                    .await
                    .map_err(|e| unavailable(e.to_string()))?;
                if again == address {
                    return Err(unavailable(format!(
                        "backend {address} port {port}: {first}"
                    )));
                }
                address = again;
                havre_net::connect(&address, port, timeout)
                    .await
                    .map_err(|e| unavailable(format!("backend {address} port {port}: {e}")))?
            }
        };
        let token = self
            .login
            .token(user)
            .await
            .map_err(|e| unavailable(format!("the cluster's secret: {e}")))?;
        let answer = tokio::time::timeout(timeout, log_in(protocol, &mut stream, user, &token))
            .await
            .map_err(|_| unavailable(format!("backend {address}: no answer to the login")))?
            .map_err(|e| unavailable(format!("backend {address}: login: {e}")))?;
        Ok(Backend {
            address,
            stream,
            answer,
        })
    }

    async fn closed(&self, user: &str, backend: &str) {
        let expire = self.settings.user_expire;
        match assign::renew(&*self.state, user, backend, expire).await {
            Ok(held) if held != backend => {
                tracing::debug!(target: "director", "user=<{user}> was moved to {held} meanwhile");
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(target: "director", "user=<{user}>: assignment to {backend} not renewed: {err}");
            }
        }
    }
}
