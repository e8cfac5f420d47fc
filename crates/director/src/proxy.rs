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

use tokio::net::TcpStream;

use crate::assign;
use crate::login::{LoginError, greet, log_in};
use crate::spares::Spares;
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
    /// `director.spare_connections`.
    pub spare_connections: usize,
}

pub struct Proxy {
    state: Arc<dyn State>,
    views: Arc<Views>,
    login: ClusterLogin,
    spares: Arc<Spares>,
    settings: ProxySettings,
}

impl Proxy {
    /// In a Tokio runtime (the spares' sweeper starts with it); `views`
    /// shared with the node's LMTP forwarder.
    pub fn new(
        state: Arc<dyn State>,
        views: Arc<Views>,
        login: ClusterLogin,
        settings: ProxySettings,
    ) -> Proxy {
        Proxy {
            views,
            spares: Spares::new(settings.spare_connections, settings.connect_timeout),
            state,
            login,
            settings,
        }
    }

    /// A new connection to the user's backend, greeted; when `address`
    /// does not answer, she is placed again on a view read now (the probes
    /// may have marked it down since this director last read it).
    async fn connect(
        &self,
        protocol: Protocol,
        user: &str,
        address: String,
    ) -> Result<(String, TcpStream), HandoffError> {
        let unavailable = HandoffError::Unavailable;
        let port = self.settings.ports.of(protocol);
        let timeout = self.settings.connect_timeout;
        let (address, mut stream) = match havre_net::connect(&address, port, timeout).await {
            Ok(stream) => (address, stream),
            Err(first) => {
                self.views
                    .read()
                    .await
                    .map_err(|e| unavailable(e.to_string()))?;
                let again =
                    assign::place(&*self.state, &self.views, user, self.settings.user_expire)
                        .await
                        .map_err(|e| unavailable(e.to_string()))?;
                if again == address {
                    return Err(unavailable(format!(
                        "backend {address} port {port}: {first}"
                    )));
                }
                let stream = havre_net::connect(&again, port, timeout)
                    .await
                    .map_err(|e| unavailable(format!("backend {again} port {port}: {e}")))?;
                (again, stream)
            }
        };
        tokio::time::timeout(timeout, greet(protocol, &mut stream))
            .await
            .map_err(|_| unavailable(format!("backend {address}: no greeting")))?
            .map_err(|e| unavailable(format!("backend {address}: {e}")))?;
        Ok((address, stream))
    }

    /// Logs in at `address` over `stream` (greeted) on `user`'s behalf,
    /// within `director.connect_timeout`.
    async fn log_in_at(
        &self,
        protocol: Protocol,
        address: String,
        mut stream: TcpStream,
        user: &str,
        token: &str,
        client: SocketAddr,
    ) -> Result<Backend, Failed> {
        let unavailable = HandoffError::Unavailable;
        let answer = tokio::time::timeout(
            self.settings.connect_timeout,
            log_in(protocol, &mut stream, user, token, client.ip()),
        )
        .await
        .map_err(|_| {
            Failed::Refused(unavailable(format!(
                "backend {address}: no answer to the login"
            )))
        })?
        .map_err(|e| {
            let err = unavailable(format!("backend {address}: login: {e}"));
            match e {
                LoginError::Io(_) => Failed::Lost(err),
                LoginError::Refused(_) => Failed::Refused(err),
            }
        })?;
        Ok(Backend {
            address,
            stream,
            answer,
        })
    }
}

/// Why a login at a backend failed.
enum Failed {
    /// The connection broke: another may do.
    Lost(HandoffError),
    /// The backend answered no, or nothing in time.
    Refused(HandoffError),
}

impl Failed {
    fn into_error(self) -> HandoffError {
        match self {
            Failed::Lost(err) | Failed::Refused(err) => err,
        }
    }
}

/// Which connection a login at a backend went over, for
/// `havre_director_backend_logins_total`.
fn count_login(connection: &'static str) {
    metrics::counter!("havre_director_backend_logins_total", "connection" => connection)
        .increment(1);
}

#[async_trait]
impl Handoff for Proxy {
    async fn open(
        &self,
        protocol: Protocol,
        user: &str,
        client: SocketAddr,
    ) -> Result<Backend, HandoffError> {
        let unavailable = HandoffError::Unavailable;
        let address =
            assign::place_waiting(&*self.state, &self.views, user, self.settings.user_expire)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
        let token = self
            .login
            .token(user)
            .await
            .map_err(|e| unavailable(format!("the cluster's secret: {e}")))?;
        let port = self.settings.ports.of(protocol);
        if let Some(stream) = self.spares.take(&address, port, protocol) {
            match self
                .log_in_at(protocol, address.clone(), stream, user, &token, client)
                .await
            {
                Ok(backend) => {
                    count_login("spare");
                    return Ok(backend);
                }
                // Closed under us (a backend restarted): a new one does.
                Err(Failed::Lost(err)) => {
                    tracing::debug!(target: "director", "user=<{user}>: a spare connection broke ({err}); connecting");
                }
                Err(Failed::Refused(err)) => return Err(err),
            }
        }
        let (address, stream) = self.connect(protocol, user, address).await?;
        let backend = self
            .log_in_at(protocol, address, stream, user, &token, client)
            .await
            .map_err(Failed::into_error)?;
        count_login("new");
        Ok(backend)
    }

    async fn closed(&self, user: &str, backend: &str) {
        let expire = self.settings.user_expire;
        match assign::renew(&*self.state, user, backend, expire).await {
            Ok(Some(held)) if held != backend => {
                tracing::debug!(target: "director", "user=<{user}> was moved to {held} meanwhile");
            }
            Ok(None) => {
                tracing::debug!(target: "director", "user=<{user}> was sent away from {backend} meanwhile");
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(target: "director", "user=<{user}>: assignment to {backend} not renewed: {err}");
            }
        }
    }
}
