//! `[guard]`: Fail2ban's job inside havre, per client address.
//!
//! The file's shape only; the guard itself (`havre-guard`) gets its own
//! settings, built by the binary from these.

use serde::{Deserialize, Serialize};

use crate::values::Duration;

/// The word in `guard.exempt` that stands for `relay.internal_networks`
/// (Postfix writes `$mynetworks` for the same purpose).
pub const INTERNAL_NETWORKS: &str = "relay.internal_networks";

/// `[guard]`: counters of failed logins, unknown recipients, protocol errors
/// and connections per client address, and the bans they lead to. The
/// defaults are Fail2ban's (10 failures in 10 minutes: banned an hour) and
/// the seeds' hourly connection rule (warn at 500, ban at 2,500).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Guard {
    pub enabled: bool,
    /// Failed logins (SMTP AUTH, IMAP, POP3 together) within `find_time`
    /// that ban an address; 0: never.
    pub max_failures: u32,
    pub find_time: Duration,
    pub ban_time: Duration,
    /// RCPTs answered 550 5.1.1 within `find_time` that ban; 0: never.
    pub max_unknown_recipients: u32,
    /// Bad commands within `find_time` that ban; 0: never.
    pub max_protocol_errors: u32,
    /// Connections within an hour that log a warning; 0: never.
    pub connections_warn: u32,
    /// Connections within an hour that ban; 0: never.
    pub connections_ban: u32,
    /// Networks (CIDR or address) never counted nor banned, and the word
    /// [`INTERNAL_NETWORKS`].
    pub exempt: Vec<String>,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            enabled: true,
            max_failures: 10,
            find_time: Duration::from_secs(600),
            ban_time: Duration::from_secs(3600),
            max_unknown_recipients: 20,
            max_protocol_errors: 50,
            connections_warn: 500,
            connections_ban: 2500,
            exempt: vec![
                "127.0.0.0/8".into(),
                "::1/128".into(),
                INTERNAL_NETWORKS.into(),
            ],
        }
    }
}
