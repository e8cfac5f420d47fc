//! The open-file limit and the connection caps it can hold.
//!
//! Every connection is a descriptor. `havre serve` raises its soft limit to
//! the hard limit, keeps a reserve for the database, spool and Maildir files
//! and outbound connections, and lowers the roles' connection caps so that
//! together they fit in the rest: one role flooded to its cap never leaves
//! another without descriptors.

use havre_config::{Config, Role};
use havre_net::Caps;

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limit now in
/// force.
pub fn raise() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit = raised;
        }
    }
    Ok(limit.rlim_cur)
}

/// Descriptors kept out of the connection caps: the database pool, spool and
/// Maildir files being written, outbound connections, the listeners.
pub fn reserve(limit: u64) -> u64 {
    (limit / 8).max(128)
}

/// The caps of each enabled listening role, from the configuration, lowered
/// in proportion when together they need more descriptors than `limit`
/// leaves after the reserve. The second value says whether they were.
pub fn caps(config: &Config, limit: u64) -> (Vec<(Role, Caps)>, bool) {
    let smtp = Caps {
        total: config.smtp.max_connections,
        per_ip: config.smtp.max_connections_per_ip,
    };
    let wanted = [
        (Role::Mx, smtp),
        (Role::Submission, smtp),
        (Role::Lmtp, smtp),
        (
            Role::Imap,
            Caps {
                total: config.imap.max_connections,
                per_ip: config.imap.max_connections_per_ip,
            },
        ),
        (
            Role::Pop3,
            Caps {
                total: config.pop3.max_connections,
                per_ip: config.pop3.max_connections_per_ip,
            },
        ),
        (
            Role::ManageSieve,
            Caps {
                total: config.managesieve.max_connections,
                per_ip: config.managesieve.max_connections_per_ip,
            },
        ),
    ];
    let enabled: Vec<(Role, Caps)> = wanted
        .into_iter()
        .filter(|(role, _)| config.listens_for(*role))
        .collect();
    let needed: u64 = enabled.iter().map(|(_, c)| u64::from(c.total)).sum();
    let room = limit
        .saturating_sub(reserve(limit))
        .max(enabled.len() as u64);
    if needed <= room {
        return (enabled, false);
    }
    let lowered = enabled
        .into_iter()
        .map(|(role, c)| {
            let total = (u64::from(c.total) * room / needed).max(1) as u32;
            (
                role,
                // Half at most from one address, so that one client
                // flooding a role never fills it alone.
                Caps {
                    total,
                    per_ip: c.per_ip.min((total / 2).max(1)),
                },
            )
        })
        .collect();
    (lowered, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_that_fit_in_the_limit_are_kept() {
        let config = Config::default();
        let (caps, lowered) = caps(&config, 65_536);
        assert!(!lowered);
        let imap = caps.iter().find(|(r, _)| *r == Role::Imap).unwrap().1;
        assert_eq!(imap.total, 1000);
        assert_eq!(caps.len(), 6, "every listening role, the relay has none");
    }

    #[test]
    fn with_1024_descriptors_the_caps_shrink_together_and_leave_the_reserve() {
        let config = Config::default();
        let (caps, lowered) = caps(&config, 1024);
        assert!(lowered);
        let sum: u64 = caps.iter().map(|(_, c)| u64::from(c.total)).sum();
        assert!(sum <= 1024 - reserve(1024), "{caps:?}");
        let mx = caps.iter().find(|(r, _)| *r == Role::Mx).unwrap().1;
        let imap = caps.iter().find(|(r, _)| *r == Role::Imap).unwrap().1;
        assert!(mx.total >= 1 && imap.total > mx.total, "{caps:?}");
        assert!(mx.per_ip < mx.total, "one address cannot fill the role");
    }
}
