//! The node's heartbeat in the store: which node this is, what it runs and
//! where it listens, written at start and then every [`EVERY`], so that
//! `havre cluster status` on any node lists the cluster and tells a node
//! that stopped answering.

use std::sync::Arc;
use std::time::Duration;

use havre_config::{Config, LoadedConfig, Role};
use havre_store::{NodeStatus, Store};
use tokio::sync::watch;

/// Between two heartbeats.
pub const EVERY: Duration = Duration::from_secs(10);

/// A node whose last heartbeat is older than this is said not to answer.
pub const MISSED_AFTER: Duration = Duration::from_secs(3 * EVERY.as_secs());

/// What this node tells the others about itself.
pub fn status(config: &Config, started_at: i64) -> NodeStatus {
    NodeStatus {
        id: config.server.node_id,
        hostname: config.server.hostname.clone(),
        roles: config.server.roles.iter().map(|r| r.to_string()).collect(),
        address: listening(config),
        version: crate::version::VERSION.to_string(),
        started_at,
        heartbeat: started_at,
    }
}

/// The listeners of the enabled roles, as an operator reads them:
/// `mx 127.0.0.1:25, imap 127.0.0.1:143 127.0.0.1:993`.
fn listening(config: &Config) -> String {
    let roles: [(Role, Vec<std::net::SocketAddr>); 8] = [
        (Role::Mx, config.mx.listen.clone()),
        (
            Role::Submission,
            [
                &config.submission.listen[..],
                &config.submission.tls_listen[..],
            ]
            .concat(),
        ),
        (Role::Lmtp, config.lmtp.listen.clone()),
        (
            Role::Imap,
            [&config.imap.listen[..], &config.imap.tls_listen[..]].concat(),
        ),
        (
            Role::Pop3,
            [&config.pop3.listen[..], &config.pop3.tls_listen[..]].concat(),
        ),
        (Role::ManageSieve, config.managesieve.listen.clone()),
        (Role::Web, config.http.listen.clone()),
        (Role::Relay, Vec::new()),
    ];
    roles
        .iter()
        .filter(|(role, addresses)| config.listens_for(*role) && !addresses.is_empty())
        .map(|(role, addresses)| {
            let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
            format!("{role} {}", addresses.join(" "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Beats until `shutdown`. A store that does not answer is logged, once
/// per outage, and the beats go on: the node serves meanwhile.
pub async fn run(store: Arc<dyn Store>, mut node: NodeStatus, mut shutdown: watch::Receiver<bool>) {
    let mut failing = false;
    loop {
        node.heartbeat = chrono::Utc::now().timestamp();
        match store.node_heartbeat(&node).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(target: "cluster", "heartbeat of node {} written again", node.id);
            }
            Ok(()) => {}
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(target: "cluster", "cannot write the heartbeat of node {}: {err}", node.id);
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Refuses to start a node whose `server.node_id` another host answers to
/// (a heartbeat from another host name within [`MISSED_AFTER`]): two nodes
/// on one id would each take the other's queue records for its own. A
/// node that shares this one's host name is told of, since file names in
/// the shared Maildirs are made unique by the host name.
pub async fn check_identity(
    store: &dyn Store,
    loaded: &LoadedConfig,
    now: i64,
) -> anyhow::Result<()> {
    let server = &loaded.config.server;
    let recent = |node: &NodeStatus| now - node.heartbeat <= MISSED_AFTER.as_secs() as i64;
    for node in store.nodes().await? {
        if !recent(&node) {
            continue;
        }
        if node.id == server.node_id && node.hostname != server.hostname {
            return Err(loaded
                .invalid(
                    &["server", "node_id"],
                    format!(
                        "{} is the id of {}, which answered {} s ago: give each node its own",
                        node.id,
                        node.hostname,
                        (now - node.heartbeat).max(0)
                    ),
                )
                .into());
        }
        if node.id != server.node_id && node.hostname == server.hostname {
            tracing::warn!(target: "cluster", "node {} runs with the same server.hostname ({}): the host name makes the names of new mail files unique in shared Maildirs, give each node its own", node.id, node.hostname);
        }
    }
    Ok(())
}
