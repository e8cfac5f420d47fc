//! The Postfix policy delegation service (`policy.listen`), wired: its
//! listeners (bound before privileges are dropped), the checks it answers
//! from (the same rules and greylisting as the mx role, on the node's one
//! shared state), and its connection gate. It has no entry in
//! `server.roles`: a Postfix admin turns it on by giving it an address, as
//! with Postgrey's or Postfwd's `--inet`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use havre_checks::Pipeline;
use havre_config::Config;
use havre_net::{Caps, Gate, Stop};
use havre_policy_proto::Limits;
use havre_policy_server::{
    CachedClasses, DirectoryClasses, PolicyServices, PolicySettings, Server,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::live::Shared;

/// How long the service remembers a user's class: `havre user modify
/// --class` reaches Postfix's users within this.
const CLASSES_KEPT: Duration = Duration::from_secs(60);

/// Binds every `policy.listen` address (none: the service is off).
pub async fn bind(addrs: &[SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    for addr in addrs {
        let socket = TcpListener::bind(addr)
            .await
            .with_context(|| format!("policy.listen: cannot listen on {addr}"))?;
        out.push(socket);
    }
    Ok(out)
}

/// The service's checks and settings from `config`.
pub fn services(shared: &Shared, config: &Config) -> anyhow::Result<Arc<PolicyServices>> {
    let checks = havre_policy::from_config(config, shared.state.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut pipeline = Pipeline::new("policy");
    for check in checks.all() {
        pipeline.push(check);
    }
    Ok(Arc::new(PolicyServices {
        settings: PolicySettings {
            idle_timeout: config.policy.idle_timeout.get(),
            request_timeout: config.policy.request_timeout.get(),
            limits: Limits::default(),
        },
        pipeline: Arc::new(pipeline),
        classes: Arc::new(CachedClasses::new(
            Arc::new(DirectoryClasses(shared.directory.clone())),
            CLASSES_KEPT,
        )),
    }))
}

/// Starts accepting on `listeners`; the gate is returned so that a stop
/// waits for its connections like the roles'.
pub fn start(
    listeners: Vec<TcpListener>,
    services: watch::Receiver<Arc<PolicyServices>>,
    config: &Config,
    stop: Stop,
) -> Arc<Gate> {
    // Every connection comes from the Postfix hosts: no per-address cap.
    let cap = config.policy.max_connections;
    let gate = Gate::new(
        "policy",
        Caps {
            total: cap,
            per_ip: cap,
        },
        stop,
    );
    let server = Server::new(services);
    for listener in listeners {
        tokio::spawn(havre_policy_server::serve(
            listener,
            server.clone(),
            gate.clone(),
        ));
    }
    gate
}
