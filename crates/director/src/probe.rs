//! Each director probes each backend every `director.probe_interval`, as
//! Dovecot's poolmon: a connection, a login and a NOOP. The login is the
//! cluster's probe login ([`PROBE_LOGIN`]: the backend checks the token,
//! its directory and its mail storage, and opens nobody's session), or
//! `director.probe_user`'s when set (her account and mailbox opened as at
//! any login). A backend that fails is marked down in the shared state
//! for every director, its users' assignments are dropped and their
//! sessions closed, so that clients reconnect and land on another backend;
//! back, it takes new users only (the moved ones keep their new place).

use std::sync::Arc;
use std::time::Duration;

use havre_directory::cluster::{ClusterLogin, PROBE_LOGIN};
use havre_state::State;

use crate::backends::{self, Backend};
use crate::kicks::{self, Kick};
use crate::login::probe_imap;
use crate::{Result, assign};

#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub interval: Duration,
    pub timeout: Duration,
    pub imap_port: u16,
    /// The user a probe logs in as; `None`: the probe login
    /// ([`PROBE_LOGIN`]).
    pub user: Option<String>,
}

/// Probes every backend once; returns the backends found failing.
pub async fn probe_all(
    state: &dyn State,
    login: &ClusterLogin,
    settings: &ProbeSettings,
) -> Result<Vec<String>> {
    let list = backends::list(state).await?;
    let probes = list.iter().map(|backend| probe(login, settings, backend));
    // Concurrently: a backend that hangs delays no other.
    let results = futures_util::future::join_all(probes).await;
    let mut failing = Vec::new();
    for (backend, result) in list.iter().zip(results) {
        match result {
            Ok(()) => {
                if backends::mark_answering(state, &backend.address).await? {
                    tracing::info!(target: "director", "backend {} answers again: it takes new users", backend.address);
                }
            }
            Err(why) => {
                failing.push(backend.address.clone());
                // Kept for a few intervals: a director that stops probing
                // does not leave a backend down for ever.
                let ttl = settings.interval * 3 + settings.timeout;
                backends::mark_failed(state, &backend.address, &why, ttl).await?;
                // Its users are sent away once, when it fails: a listing
                // of every assignment and a kick at every interval of an
                // outage would cost the state for nothing (a placement
                // sets aside an assignment to a failed backend, and each
                // director closes the sessions it still relays there).
                if backend.healthy() {
                    tracing::warn!(target: "director", "backend {} is down: {why}; its users move", backend.address);
                    move_users_away(state, &backend.address).await?;
                }
            }
        }
    }
    Ok(failing)
}

/// Drops the assignments to `address` and closes its sessions on every
/// director; returns how many users had one.
async fn move_users_away(state: &dyn State, address: &str) -> Result<usize> {
    let users = assign::release_backend(state, address).await?;
    kicks::send(state, &Kick::Backend(address.to_string())).await?;
    if !users.is_empty() {
        tracing::info!(target: "director", "{} user(s) of backend {address} go elsewhere at their next connection", users.len());
    }
    Ok(users.len())
}

async fn probe(
    login: &ClusterLogin,
    settings: &ProbeSettings,
    backend: &Backend,
) -> std::result::Result<(), String> {
    let exchange = async {
        let mut stream = havre_net::connect(&backend.address, settings.imap_port, settings.timeout)
            .await
            .map_err(|e| format!("IMAP port {}: {e}", settings.imap_port))?;
        let user = settings.user.as_deref().unwrap_or(PROBE_LOGIN);
        let token = login.token(user).await?;
        probe_imap(&mut stream, user, &token)
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(settings.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {:?}", settings.timeout)),
    }
}

/// Probes every `settings.interval` until the process ends.
pub fn start(state: Arc<dyn State>, login: ClusterLogin, settings: ProbeSettings) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = probe_all(&*state, &login, &settings).await {
                tracing::warn!(target: "director", "backends not probed: {err}");
            }
        }
    });
}
