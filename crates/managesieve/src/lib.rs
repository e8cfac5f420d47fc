//! ManageSieve (RFC 5804): users upload, check, list, fetch, rename, delete
//! and activate their Sieve scripts over the network (port 4190), as
//! webmails (SOGo, Roundcube) and clients (sieve-connect, Thunderbird's
//! sieve add-on) do with Dovecot's Pigeonhole.
//!
//! What it promises:
//! - a script is stored only if it compiles: PUTSCRIPT and CHECKSCRIPT run
//!   `havre_sieve::check` and answer `NO` with every error, each as
//!   `line L, column C: message` (one per line, Pigeonhole's way of giving
//!   a client the whole list); scripts are kept in the store
//!   (`havre_store::SieveStore`), at most one active per user;
//! - the CAPABILITY lists what the interpreter really supports
//!   (`havre_sieve::supported_extensions`), its redirect limit
//!   (MAXREDIRECTS), and is sent again after STARTTLS (RFC 5804 2.2);
//! - a per-user quota: [`ManageSieveSettings::max_script_size`] octets per
//!   script (`NO (QUOTA/MAXSIZE)`), [`ManageSieveSettings::max_scripts`]
//!   scripts (`NO (QUOTA/MAXSCRIPTS)`) and [`ManageSieveSettings::quota`]
//!   octets in all (`NO (QUOTA)`), answered alike by HAVESPACE and
//!   PUTSCRIPT;
//! - the same login protection as IMAP: failed logins wait, count against
//!   the client's address in the guard (`managesieve` in its breakdown),
//!   and end the connection after three; the lines are Dovecot's
//!   (`managesieve-login: Login: user=<...>, method=PLAIN, rip=..., lip=..., TLS`).
//!
//! What it refuses:
//! - any login before TLS: the SASL capability is empty until STARTTLS
//!   (RFC 5804 1.7) and AUTHENTICATE answers `NO (ENCRYPT-NEEDED)`, as
//!   IMAP's LOGINDISABLED; SASL mechanisms other than PLAIN and LOGIN, and
//!   an authorization identity other than the user;
//! - script names that RFC 5804 1.6 forbids (empty, control characters,
//!   longer than [`proto::MAX_NAME`] octets) and scripts that are not UTF-8;
//! - commands longer than [`ManageSieveSettings::max_line`] before login and
//!   than that plus the script size after (a literal past it is read and
//!   dropped, or ends the connection when it is much larger); clients idle
//!   for [`ManageSieveSettings::idle_timeout`] or not logged in after
//!   [`ManageSieveSettings::login_timeout`]; sessions after
//!   [`ManageSieveSettings::max_bad_commands`] refused commands.
//!
//! Layers, one way: [`proto`] (bytes ↔ commands and responses, no I/O, the
//! fuzz target's) knows nothing of sessions; the session knows nothing of
//! sockets beyond `havre_net::Conn`; `server` owns sockets.

pub mod proto;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod session;

#[cfg(feature = "server")]
pub use server::serve;
#[cfg(feature = "server")]
pub use services::{ManageSieveServices, ManageSieveSettings};

#[cfg(feature = "server")]
mod services {
    use std::sync::Arc;
    use std::time::Duration;

    use havre_directory::Directory;
    use havre_store::Store;

    /// Limits and names of the ManageSieve listeners.
    #[derive(Debug, Clone)]
    pub struct ManageSieveSettings {
        /// Named in the greeting.
        pub hostname: String,
        /// Every read and write waits at most this long.
        pub idle_timeout: Duration,
        /// From connecting to logging in, however the client trickles.
        pub login_timeout: Duration,
        /// Longest line (a command without its literals, a SASL response).
        pub max_line: usize,
        /// Largest script, in octets (Dovecot's `sieve_max_script_size`).
        pub max_script_size: usize,
        /// Scripts per user; 0: no limit (`sieve_quota_max_scripts`).
        pub max_scripts: u32,
        /// Octets of all of a user's scripts; 0: no limit
        /// (`sieve_quota_max_storage`).
        pub quota: u64,
        /// Refused commands a session may collect before it is closed.
        pub max_bad_commands: usize,
        /// How long a failed login waits before its `NO`.
        pub auth_failure_delay: Duration,
    }

    impl ManageSieveSettings {
        /// The defaults, for `hostname`.
        pub fn new(hostname: impl Into<String>) -> ManageSieveSettings {
            ManageSieveSettings {
                hostname: hostname.into(),
                idle_timeout: Duration::from_secs(10 * 60),
                login_timeout: Duration::from_secs(60),
                max_line: 8 * 1024,
                max_script_size: 1 << 20,
                max_scripts: 100,
                quota: 10 << 20,
                max_bad_commands: 10,
                auth_failure_delay: Duration::from_secs(2),
            }
        }
    }

    /// What ManageSieve sessions need from the rest of the node.
    pub struct ManageSieveServices {
        pub settings: ManageSieveSettings,
        pub directory: Directory,
        /// Where the scripts are (`havre_store::SieveStore`).
        pub store: Arc<dyn Store>,
        /// Needed for STARTTLS; without it nobody can log in.
        pub tls: Option<tokio_rustls::TlsAcceptor>,
        /// The node's list of logged-in sessions (`havre who`, `havre kick`).
        pub sessions: Arc<havre_net::Sessions>,
        /// Failed logins and refused commands count against the address.
        pub guard: havre_guard::Guard,
        /// Logins and failed logins are recorded here (reports, metrics).
        pub events: havre_events::Events,
        /// The director role: logged-in sessions are relayed to the user's
        /// backend instead of served here.
        pub handoff: Option<std::sync::Arc<dyn havre_net::Handoff>>,
    }
}
