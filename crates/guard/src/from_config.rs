//! The guard's settings from `[guard]` (and `relay.internal_networks`,
//! which `guard.exempt` may name).

use std::net::IpAddr;

use havre_config::{Config, INTERNAL_NETWORKS};
use ipnet::IpNet;

use crate::GuardSettings;

/// `[guard]` of a configuration that passed its checks (an entry that is
/// no network is left out; the checks refuse it).
pub fn settings_from_config(config: &Config) -> GuardSettings {
    let g = &config.guard;
    let mut exempt = Vec::new();
    for entry in &g.exempt {
        if entry.trim() == INTERNAL_NETWORKS {
            exempt.extend(
                config
                    .relay
                    .internal_networks
                    .iter()
                    .filter_map(|n| network(n)),
            );
        } else if let Some(net) = network(entry) {
            exempt.push(net);
        }
    }
    // A backend never counts nor bans its directors: every session a
    // director relays (each login a connection, hundreds an hour per user
    // population) comes from the director's address, and a ban of it would
    // shut out every user behind it. The director screens the clients.
    if config.takes_director_logins() {
        exempt.extend(
            config
                .director
                .trusted_networks
                .iter()
                .filter_map(|n| network(n)),
        );
    }
    GuardSettings {
        enabled: g.enabled,
        max_failures: g.max_failures,
        find_time: g.find_time.0,
        ban_time: g.ban_time.0,
        max_unknown_recipients: g.max_unknown_recipients,
        max_protocol_errors: g.max_protocol_errors,
        connections_warn: g.connections_warn,
        connections_ban: g.connections_ban,
        exempt,
    }
}

/// `192.0.2.0/24` or a lone address.
fn network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn by_default_loopback_and_the_internal_networks_are_exempt() {
        let mut config = Config::default();
        config.relay.internal_networks = vec!["10.0.0.0/8".into()];
        let s = settings_from_config(&config);
        assert!(s.is_exempt(ip("127.0.0.5")));
        assert!(s.is_exempt(ip("::1")));
        assert!(s.is_exempt(ip("10.1.2.3")));
        assert!(!s.is_exempt(ip("192.0.2.1")));
        assert_eq!((s.max_failures, s.find_time.as_secs()), (10, 600));
        assert_eq!(s.ban_time.as_secs(), 3600);
    }

    #[test]
    fn a_backend_exempts_its_directors_and_a_director_or_a_lone_node_does_not() {
        let mut config = Config::default();
        config.guard.exempt = vec![];
        config.director.trusted_networks = vec!["10.0.0.0/24".into()];
        let lone = settings_from_config(&config);
        assert!(
            !lone.is_exempt(ip("10.0.0.5")),
            "no cluster secret: not a backend"
        );
        config.director.secret_file = "director.secret".into();
        let backend = settings_from_config(&config);
        assert!(backend.is_exempt(ip("10.0.0.5")));
        assert!(!backend.is_exempt(ip("10.0.1.5")));
        config.server.roles = vec![havre_config::Role::Director];
        let director = settings_from_config(&config);
        assert!(!director.is_exempt(ip("10.0.0.5")));
    }

    #[test]
    fn an_empty_list_exempts_no_one_and_a_list_exempts_its_networks() {
        let mut config = Config::default();
        config.guard.exempt = vec![];
        let s = settings_from_config(&config);
        assert!(!s.is_exempt(ip("127.0.0.1")));
        config.guard.exempt = vec!["192.0.2.0/24".into(), "2001:db8::1".into()];
        let s = settings_from_config(&config);
        assert!(s.is_exempt(ip("192.0.2.200")));
        assert!(s.is_exempt(ip("2001:db8::1")));
        assert!(!s.is_exempt(ip("127.0.0.1")));
    }
}
