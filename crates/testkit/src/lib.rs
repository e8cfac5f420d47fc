//! The shared test harness: the real `havre` binary on free loopback ports with
//! a fresh data directory, real clients (Python's smtplib, swaks) and a DNS
//! server of the test's own ([`dns::TestDns`]), a real Postfix of the
//! test's own ([`Postfix`]), a real clamd ([`Clamd`]) and a real OpenLDAP
//! server ([`Slapd`]).
//!
//! A test reads like the scenario: init a node, add users, start it, talk to it
//! with a real client, look in the Maildir.

mod clamd;
pub mod cluster;
mod disk;
pub mod dns;
pub mod faults;
pub mod imap;
mod node;
mod postfix;
mod proxy;
mod sink;
mod slapd;
mod tools;

pub use clamd::{Clamd, EICAR, EICAR_SIGNATURE};
pub use disk::SmallDisk;
pub use node::Havre;
pub use postfix::Postfix;
pub use proxy::CutProxy;
pub use sink::{SinkMode, SmtpSink};
pub use slapd::{LDAP_ADMIN, LDAP_ADMIN_PASSWORD, LDAP_BASE, Slapd};
pub use tools::{
    DIALOGUE_PRELUDE, FROM_ADDRESS_PRELUDE, dialogue, free_port, python, python_ok, swaks,
};
