//! `[director]`: the director role (proxies sending each user to one
//! mailbox backend) and, on the backends, who may log in on users' behalf.
//!
//! The file's shape only; the director itself is `havre-director`.

use serde::{Deserialize, Serialize};

use crate::values::Duration;

/// `[director]`, read by directors and backends alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Director {
    /// The cluster's shared secret (a file, the same on every director and
    /// backend): directors sign their logins at the backends with it.
    /// Empty: the secret kept in the shared state (made by the first node
    /// that needs it) when `state.backend = "redis"`; none on a node alone.
    pub secret_file: std::path::PathBuf,
    /// On a backend: the networks (CIDR or address) directors log in from.
    /// Their connections need no TLS and may log in on users' behalf.
    /// Loopback by default, as Dovecot counts local connections secure.
    pub trusted_networks: Vec<String>,
    /// How long a user stays on her backend after her last connection ends
    /// (Dovecot's `director_user_expire`).
    pub user_expire: Duration,
    /// How often each director probes each backend.
    pub probe_interval: Duration,
    /// The user a probe logs in as (a real login and a NOOP); empty: the
    /// cluster's probe login, which a backend answers after checking its
    /// directory and mail storage, opening nobody's session.
    pub probe_user: String,
    /// How long a backend may take to accept a connection or answer a
    /// login before it counts as failed; for an LMTP copy, to accept,
    /// greet and answer LHLO before the copy is deferred.
    pub connect_timeout: Duration,
    /// Connections each director keeps open and greeted to each backend,
    /// per protocol in use, so that a login costs the backend one round
    /// trip; 0 opens one per login, as Dovecot's director.
    pub spare_connections: u32,
    /// The backends' ports, when not the director's own.
    pub backend_ports: BackendPorts,
}

impl Default for Director {
    fn default() -> Self {
        Self {
            secret_file: std::path::PathBuf::new(),
            trusted_networks: vec!["127.0.0.0/8".into(), "::1/128".into()],
            user_expire: Duration::from_secs(15 * 60),
            probe_interval: Duration::from_secs(10),
            probe_user: String::new(),
            connect_timeout: Duration::from_secs(5),
            spare_connections: 4,
            backend_ports: BackendPorts::default(),
        }
    }
}

/// `director.backend_ports`: 0 takes the port of the director's own
/// listener of that protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendPorts {
    pub imap: u16,
    pub pop3: u16,
    pub managesieve: u16,
    pub lmtp: u16,
}
