//! The director role in `havre serve`: logged-in IMAP, POP3 and ManageSieve
//! sessions handed over to the user's backend ([`handoff`]), and in the
//! background ([`start`]) the backends' probes, the kicks any director
//! sends, and every few seconds a look at the sessions this director
//! relays: one whose backend failed or whose user was moved meanwhile is
//! closed (a kick lost on the way is made good), assignments of users
//! still connected are renewed, and the counts for `havre director status`
//! are written.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use havre_config::{Config, LoadedConfig, Role};
use havre_director::kicks::{self, Kick};
use havre_director::probe::{self, ProbeSettings};
use havre_director::proxy::{Ports, Proxy, ProxySettings};
use havre_director::secret::SharedSecret;
use havre_director::view::Views;
use havre_director::{assign, backends, relayed};
use havre_directory::cluster::{ClusterLogin, Fixed, SecretSource};
use havre_net::{Handoff, Sessions};
use havre_state::State;

/// How directors log in at backends on users' behalf, and which networks
/// they come from: the secret of `director.secret_file`, or, in a cluster
/// (`state.backend = "redis"`) without one, the secret kept in the shared
/// state; `None` for a node alone without a file (it neither makes nor
/// takes such logins).
pub fn cluster_login(
    loaded: &LoadedConfig,
    state: Arc<dyn State>,
) -> anyhow::Result<Option<ClusterLogin>> {
    let d = &loaded.config.director;
    if !loaded.config.has_cluster_secret() {
        return Ok(None);
    }
    let secrets: Arc<dyn SecretSource> = if !d.secret_file.as_os_str().is_empty() {
        let path = loaded.config_dir().join(&d.secret_file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("director.secret_file: cannot read {}", path.display()))?;
        let secret = text.trim();
        if secret.len() < 16 {
            anyhow::bail!(
                "director.secret_file: {} holds {} characters; a secret needs at least 16 (openssl rand -hex 32 > {})",
                path.display(),
                secret.len(),
                path.display()
            );
        }
        Arc::new(Fixed(secret.as_bytes().to_vec()))
    } else {
        Arc::new(SharedSecret::new(state))
    };
    let trusted = d
        .trusted_networks
        .iter()
        .map(|n| {
            let n = n.trim();
            n.parse::<ipnet::IpNet>()
                .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| format!("director.trusted_networks: {n:?} is not a network"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(ClusterLogin::from_source(secrets, trusted)))
}

/// The backends' view a director's proxy and LMTP forwarder share (one
/// reader of the state for both); `None` on a node without the director
/// role.
pub fn views(loaded: &LoadedConfig, state: &Arc<dyn State>) -> Option<Arc<Views>> {
    loaded
        .config
        .has_role(Role::Director)
        .then(|| Arc::new(Views::new(state.clone())))
}

/// The handover of a director's logged-in sessions; `None` on a node
/// without the director role (no `views`).
pub fn handoff(
    loaded: &LoadedConfig,
    state: Arc<dyn State>,
    views: Option<Arc<Views>>,
) -> anyhow::Result<Option<Arc<dyn Handoff>>> {
    let config = &loaded.config;
    let Some(views) = views else {
        return Ok(None);
    };
    let login = cluster_login(loaded, state.clone())?.context(
        "a director needs director.secret_file, or state.backend = \"redis\" to keep the cluster's secret",
    )?;
    let settings = ProxySettings {
        user_expire: config.director.user_expire.0,
        connect_timeout: config.director.connect_timeout.0,
        ports: ports(config),
        spare_connections: config.director.spare_connections as usize,
    };
    Ok(Some(Arc::new(Proxy::new(state, views, login, settings))))
}

/// The backends' ports: `director.backend_ports`, or the director's own.
fn ports(config: &Config) -> Ports {
    let own = |set: u16, listen: &[SocketAddr], default: u16| {
        if set != 0 {
            set
        } else {
            listen.first().map_or(default, SocketAddr::port)
        }
    };
    let b = &config.director.backend_ports;
    Ports {
        imap: own(b.imap, &config.imap.listen, 143),
        pop3: own(b.pop3, &config.pop3.listen, 110),
        managesieve: own(b.managesieve, &config.managesieve.listen, 4190),
        lmtp: own(b.lmtp, &config.lmtp.listen, 24),
    }
}

/// Starts the director's background work (see the module's documentation).
pub fn start(
    loaded: &LoadedConfig,
    state: Arc<dyn State>,
    sessions: Arc<Sessions>,
) -> anyhow::Result<()> {
    let config = &loaded.config;
    let login = cluster_login(loaded, state.clone())?.context(
        "a director needs director.secret_file, or state.backend = \"redis\" to keep the cluster's secret",
    )?;
    let d = &config.director;
    let probe_user = (!d.probe_user.trim().is_empty()).then(|| d.probe_user.trim().to_string());
    probe::start(
        state.clone(),
        login,
        ProbeSettings {
            interval: d.probe_interval.0,
            timeout: d.connect_timeout.0,
            imap_port: ports(config).imap,
            user: probe_user,
        },
    );
    tokio::spawn(follow_kicks(state.clone(), sessions.clone()));
    tokio::spawn(look_over(
        state,
        sessions,
        config.server.node_id,
        d.probe_interval.0,
        d.user_expire.0,
    ));
    Ok(())
}

/// Closes the sessions every director is told to close.
async fn follow_kicks(state: Arc<dyn State>, sessions: Arc<Sessions>) {
    let mut kicks = kicks::receive(&*state);
    while let Some(kick) = kicks.next().await {
        match kick {
            Kick::User(user) => {
                let n = sessions.kick(&user);
                if n > 0 {
                    tracing::info!(target: "director", "user=<{user}>: {n} session(s) closed (kick)");
                }
            }
            Kick::Backend(backend) => {
                let n = sessions.kick_backend(&backend);
                if n > 0 {
                    tracing::info!(target: "director", "backend {backend}: {n} session(s) closed");
                }
            }
        }
    }
}

/// Every `interval`: the relayed sessions against the shared view.
async fn look_over(
    state: Arc<dyn State>,
    sessions: Arc<Sessions>,
    node: u8,
    interval: Duration,
    expire: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = look_over_once(&*state, &sessions, node, interval, expire).await {
            tracing::warn!(target: "director", "relayed sessions not checked: {err}");
        }
    }
}

async fn look_over_once(
    state: &dyn State,
    sessions: &Sessions,
    node: u8,
    interval: Duration,
    expire: Duration,
) -> havre_director::Result<()> {
    let relayed_now = sessions.relayed();
    let list = backends::list(state).await?;
    let healthy: HashSet<&str> = list
        .iter()
        .filter(|b| b.healthy())
        .map(|b| b.address.as_str())
        .collect();
    let taking: HashSet<&str> = list
        .iter()
        .filter(|b| b.takes_new_users())
        .map(|b| b.address.as_str())
        .collect();
    let mut done = HashSet::new();
    for (user, backend) in &relayed_now {
        if !done.insert((user.to_lowercase(), backend.clone())) {
            continue;
        }
        if !healthy.contains(backend.as_str()) {
            let n = sessions.kick_backend(backend);
            tracing::info!(target: "director", "backend {backend} is down or removed: {n} session(s) closed");
            continue;
        }
        // Renewed while she is connected; the answer says where she is
        // assigned now (one round trip per user, no walk of every key).
        // Nowhere: her assignment was dropped (a flush: the backend takes
        // nobody, and a session that outlived the kick is closed below),
        // or lost with the state (a Redis restarted: the backend takes
        // users, and her session says where she is).
        let renewed = match assign::renew(state, user, backend, expire).await {
            Ok(None) if taking.contains(backend.as_str()) => {
                assign::restore(state, user, backend, expire)
                    .await
                    .map(Some)
            }
            other => other,
        };
        let held = match renewed {
            Ok(held) => held,
            // The others are still looked at, the counts still written.
            Err(err) => {
                tracing::warn!(target: "director", "user=<{user}>: assignment to {backend} not renewed: {err}");
                continue;
            }
        };
        // Only her sessions there: the list was read before these round
        // trips, and a move meanwhile may already have her next session on
        // her new backend.
        if held.as_deref() != Some(backend.as_str()) {
            let n = sessions.kick_on(user, backend);
            match held {
                Some(now) if assign::moving(&now).is_some() => {
                    tracing::info!(target: "director", "user=<{user}> is moving: {n} session(s) on {backend} closed")
                }
                Some(now) => {
                    tracing::info!(target: "director", "user=<{user}> is on {now} now: {n} session(s) on {backend} closed")
                }
                None => {
                    tracing::info!(target: "director", "user=<{user}> was sent away from {backend}: {n} session(s) there closed")
                }
            }
        }
    }
    let mut counts = BTreeMap::new();
    for (_, backend) in &relayed_now {
        *counts.entry(backend.clone()).or_insert(0) += 1;
    }
    relayed::publish(state, node, &counts, interval * 3).await
}

/// LMTP deliveries sent to each recipient's backend; `None` on a node
/// without the director role (no `views`).
pub fn lmtp_forward(
    loaded: &LoadedConfig,
    state: Arc<dyn State>,
    views: Option<Arc<Views>>,
) -> anyhow::Result<Option<Arc<dyn havre_net::LmtpForward>>> {
    let config = &loaded.config;
    let Some(views) = views else {
        return Ok(None);
    };
    let resolver = havre_outbound::Resolver::new(&config.dns.nameservers)
        .context("cannot set up the DNS resolver (dns.nameservers)")?;
    Ok(Some(Arc::new(havre_director::lmtp::LmtpForwarder::new(
        state,
        views,
        resolver,
        &config.server.hostname,
        ports(config).lmtp,
        config.director.user_expire.0,
        config.director.connect_timeout.0,
    ))))
}
