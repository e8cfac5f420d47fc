//! The IMAP server of the mailbox tier: IMAP4rev2 (RFC 9051) with IMAP4rev1
//! (RFC 3501) compatibility, on Dovecot-compatible Maildir.
//!
//! Layers, one way: `havre-imap-proto` parses commands and writes responses;
//! `havre-message` knows what is inside a message (ENVELOPE, BODYSTRUCTURE,
//! sections, search text, threads); `havre-mailbox` owns folders, files and the
//! index; this crate is the session between them: states, sequence numbers
//! ([`view::View`]), what a command may change and which untagged updates the
//! client is owed.
//!
//! Promises: a client sees changes made by another session or by delivery at
//! its next command, and within a second during IDLE (in-process
//! notifications); logins are refused before TLS (LOGINDISABLED) and without
//! TLS no password is ever read; under NOTIFY (RFC 5465) a client hears of
//! its other mailboxes' changes without asking, and a `SEARCH RETURN
//! (UPDATE)` result (RFC 5267) follows the mailbox; every limit (command length, literal size,
//! connections per user and per address, idle time) ends in a protocol answer,
//! never a crash.

mod command;
mod content;
mod context;
mod keywords;
mod limits;
mod list;
mod mailbox_cmd;
mod message_cmd;
mod metadata;
mod notify;
mod recent;
mod search;
mod search_index;
mod server;
mod session;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use havre_directory::Directory;
use havre_mailbox::Mailboxes;

pub use limits::ConnectionLimits;
pub use server::serve;

#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub hostname: String,
    /// Logged-in clients (RFC 9051: at least 30 minutes).
    pub idle_timeout: Duration,
    /// Before login.
    pub login_timeout: Duration,
    pub max_command_length: usize,
    /// APPENDLIMIT: the largest message accepted.
    pub max_message_size: u64,
    pub max_connections_per_user: u32,
}

pub struct ImapServices {
    pub settings: ImapSettings,
    pub directory: Directory,
    pub mailboxes: Mailboxes,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub limits: ConnectionLimits,
    /// The node's list of logged-in sessions (`havre who`, `havre kick`).
    pub sessions: Arc<havre_net::Sessions>,
    /// The node's guard: failed logins and BAD commands count against the
    /// client's address.
    pub guard: havre_guard::Guard,
    /// Logins and failed logins, for reports and traces.
    pub events: havre_events::Events,
    /// The director role: logged-in sessions are relayed to the user's
    /// backend instead of served here.
    pub handoff: Option<Arc<dyn havre_net::Handoff>>,
}

pub type Services = Arc<ImapServices>;

#[cfg(test)]
mod testing {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use havre_directory::Directory;
    use havre_mailbox::Mailboxes;
    use havre_store::{SqliteStore, Store};

    use crate::{ConnectionLimits, ImapServices, ImapSettings, Services};

    /// A node's IMAP services on a store and Maildirs under `dir`, no TLS.
    pub(crate) async fn services(dir: &Path) -> Services {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.join("havre.db")).await.unwrap());
        Arc::new(ImapServices {
            settings: ImapSettings {
                hostname: "mx.test".into(),
                idle_timeout: Duration::from_secs(5),
                login_timeout: Duration::from_secs(5),
                max_command_length: 8192,
                max_message_size: 1 << 20,
                max_connections_per_user: 10,
            },
            directory: Directory::new(store.clone(), "+"),
            mailboxes: Mailboxes::new(store, format!("{}/%d/%n", dir.display()), "mx.test"),
            tls: None,
            limits: ConnectionLimits::default(),
            sessions: havre_net::Sessions::new(),
            guard: havre_guard::Guard::off(),
            events: havre_events::Events::disabled(),
            handoff: None,
        })
    }
}
