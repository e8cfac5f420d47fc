//! Who may connect to a role: at most `total` connections at once, and at
//! most `per_ip` from one client address (Postfix's default_process_limit and
//! smtpd_client_connection_count_limit; Dovecot's process and client limits).
//! A connection holds a [`Ticket`] for its whole life; the gate also tells
//! `havre serve` when the role's last session has ended.
//!
//! Before the caps, a gate may ask a [`Screen`] about the client (the
//! guard's bans, shared by every role's gate): a banned address is turned
//! away before any session, TLS handshake or directory lookup is spent on
//! it, at the cost of one lookup in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::watch;

use crate::stop::Stop;

/// Concurrent connections a role accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub total: u32,
    pub per_ip: u32,
}

impl Caps {
    pub const UNLIMITED: Caps = Caps {
        total: u32::MAX,
        per_ip: u32::MAX,
    };
}

/// Why a connection is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's address has `per_ip` connections already.
    PerAddress,
    /// The role has `total` connections already.
    Total,
    /// The process is out of file descriptors (not a gate's decision: the
    /// accept loop turns waiting clients away with it).
    Exhausted,
    /// The [`Screen`] refuses the address (banned) until then.
    Banned { until: SystemTime },
}

/// What a gate asks about each client before admitting it.
pub trait Screen: Send + Sync {
    /// `Err(until)`: the address is refused until then. Called for every
    /// connection, so it must be cheap (no I/O); it may also count the
    /// connection.
    fn screen(&self, ip: IpAddr) -> Result<(), SystemTime>;
}

/// Client addresses the per-address cap does not apply to.
pub type Exempt = Box<dyn Fn(IpAddr) -> bool + Send + Sync>;

pub struct Gate {
    role: &'static str,
    caps: Caps,
    exempt: Exempt,
    screen: Option<Arc<dyn Screen>>,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    /// Connections open now; `havre serve` waits for it to reach 0.
    open: watch::Sender<u32>,
    stop: Stop,
}

/// One admitted connection; gives its place back when dropped, however the
/// session ends.
pub struct Ticket {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Gate {
    pub fn new(role: &'static str, caps: Caps, stop: Stop) -> Arc<Gate> {
        Gate::with_exempt(role, caps, stop, Box::new(|_| false))
    }

    /// A gate whose per-address cap spares the addresses `exempt` accepts,
    /// as Postfix spares `$mynetworks` (smtpd_client_event_limit_exceptions):
    /// a whole site behind one NAT address submits through it.
    pub fn with_exempt(role: &'static str, caps: Caps, stop: Stop, exempt: Exempt) -> Arc<Gate> {
        Gate::screened(role, caps, stop, exempt, None)
    }

    /// A gate that first asks `screen` about each client (see [`Screen`]).
    pub fn screened(
        role: &'static str,
        caps: Caps,
        stop: Stop,
        exempt: Exempt,
        screen: Option<Arc<dyn Screen>>,
    ) -> Arc<Gate> {
        Arc::new(Gate {
            role,
            caps,
            exempt,
            screen,
            per_ip: Mutex::new(HashMap::new()),
            open: watch::Sender::new(0),
            stop,
        })
    }

    pub fn role(&self) -> &'static str {
        self.role
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    pub fn stop(&self) -> Stop {
        self.stop.clone()
    }

    /// Connections open now.
    pub fn open(&self) -> u32 {
        *self.open.borrow()
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        if let Some(screen) = &self.screen {
            screen
                .screen(ip)
                .map_err(|until| Refusal::Banned { until })?;
        }
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let from_ip = per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.caps.per_ip && !(self.exempt)(ip) {
            return Err(Refusal::PerAddress);
        }
        if self.open() >= self.caps.total {
            return Err(Refusal::Total);
        }
        per_ip.insert(ip, from_ip + 1);
        self.open.send_modify(|n| *n += 1);
        Ok(Ticket {
            gate: self.clone(),
            ip,
        })
    }

    /// Resolves when no connection is open.
    pub async fn wait_empty(&self) {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|n| *n == 0).await;
    }
}

impl Ticket {
    pub fn stop(&self) -> Stop {
        self.gate.stop()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut per_ip = self.gate.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.gate.open.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn an_exempt_address_is_not_held_to_the_per_address_cap_but_to_the_total() {
        let caps = Caps {
            total: 5,
            per_ip: 2,
        };
        let site: IpAddr = "10.0.0.1".parse().unwrap();
        let gate = Gate::with_exempt(
            "submission",
            caps,
            Stop::never(),
            Box::new(move |ip| ip == site),
        );
        let tickets: Vec<_> = (0..5).map(|_| gate.admit(site).unwrap()).collect();
        assert_eq!(gate.admit(site).err(), Some(Refusal::Total));
        drop(tickets);
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        let _a = gate.admit(other).unwrap();
        let _b = gate.admit(other).unwrap();
        assert_eq!(gate.admit(other).err(), Some(Refusal::PerAddress));
    }

    #[test]
    fn the_third_connection_of_an_address_is_refused_until_one_ends() {
        let gate = Gate::new(
            "mx",
            Caps {
                total: 10,
                per_ip: 2,
            },
            Stop::never(),
        );
        let first = gate.admit(ip(1)).unwrap();
        let _second = gate.admit(ip(1)).unwrap();
        assert_eq!(gate.admit(ip(1)).err(), Some(Refusal::PerAddress));
        assert!(gate.admit(ip(2)).is_ok(), "other addresses are not counted");
        drop(first);
        assert!(gate.admit(ip(1)).is_ok());
    }

    #[test]
    fn beyond_the_total_every_address_is_refused() {
        let gate = Gate::new(
            "imap",
            Caps {
                total: 2,
                per_ip: 5,
            },
            Stop::never(),
        );
        let tickets = [gate.admit(ip(1)).unwrap(), gate.admit(ip(2)).unwrap()];
        assert_eq!(gate.admit(ip(3)).err(), Some(Refusal::Total));
        assert_eq!(gate.open(), 2);
        drop(tickets);
        assert_eq!(gate.open(), 0);
        assert!(gate.admit(ip(3)).is_ok());
    }

    #[test]
    fn a_screened_out_address_is_refused_before_the_caps_and_takes_no_place() {
        struct OnlyOdd;
        impl Screen for OnlyOdd {
            fn screen(&self, ip: IpAddr) -> Result<(), SystemTime> {
                match ip {
                    IpAddr::V4(v4) if v4.octets()[3] % 2 == 0 => Err(SystemTime::UNIX_EPOCH),
                    _ => Ok(()),
                }
            }
        }
        let gate = Gate::screened(
            "mx",
            Caps {
                total: 1,
                per_ip: 1,
            },
            Stop::never(),
            Box::new(|_| false),
            Some(Arc::new(OnlyOdd)),
        );
        assert_eq!(
            gate.admit(ip(2)).err(),
            Some(Refusal::Banned {
                until: SystemTime::UNIX_EPOCH
            })
        );
        assert_eq!(gate.open(), 0);
        let _ticket = gate.admit(ip(1)).unwrap();
        assert_eq!(
            gate.admit(ip(4)).err(),
            Some(Refusal::Banned {
                until: SystemTime::UNIX_EPOCH
            }),
            "banned even when full"
        );
    }

    #[tokio::test]
    async fn waiting_for_the_last_session_ends_when_its_ticket_goes() {
        let gate = Gate::new("pop3", Caps::UNLIMITED, Stop::never());
        let ticket = gate.admit(ip(1)).unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.wait_empty().await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(ticket);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken when the last ticket goes")
            .unwrap();
    }
}
