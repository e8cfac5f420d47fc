//! The POP3 server of the mailbox tier (RFC 1939, with CAPA from RFC 2449,
//! STLS from RFC 2595, SASL from RFC 5034 and response codes from RFC 3206):
//! port 110 with STLS, port 995 with TLS from the first byte.
//!
//! What it promises:
//! - the maildrop is the user's INBOX, indexed by `havre-mailbox`: files other
//!   programs dropped into the Maildir are indexed at login
//!   ([`havre_mailbox::Mailboxes::sync`]), then the session works on a snapshot.
//!   Message numbers are 1..n in UID order and fixed for the session;
//! - sizes (STAT, LIST, RETR) are the RFC 822 sizes of the index (CRLF line
//!   endings); RETR and TOP send the Maildir file with CRLF line endings,
//!   dot-stuffed, so a line holding a single `.` cannot end a response early;
//! - UIDLs are Dovecot's default (`%08Xu%08Xv`: the IMAP UID, then the
//!   UIDVALIDITY, 8 upper-case hex digits each), so they are stable across
//!   sessions, agree with IMAP, and a client moving from Dovecot downloads
//!   nothing twice;
//! - DELE only marks: messages are expunged (index first, then files) in the
//!   UPDATE state, after QUIT. A session that ends any other way deletes
//!   nothing. Messages fully retrieved with RETR get `\Seen` at QUIT, as
//!   Dovecot does by default;
//! - one POP3 session per maildrop (RFC 1939 4): a second login of the same
//!   user while one is in TRANSACTION gets `-ERR [IN-USE]`; the lock goes when
//!   the first session ends, however it ends.
//!
//! What it refuses:
//! - any login before TLS (`USER`, `PASS`, `AUTH` answer
//!   `-ERR [AUTH] Plaintext authentication disallowed...`, as Dovecot does:
//!   `[PRIVACYREQUIRED]` is an IMAP code, RFC 5530, with no POP3 equivalent);
//!   APOP (it needs the clear-text password stored); SASL mechanisms other than
//!   PLAIN; an authorization identity other than the authentication identity;
//! - lines longer than [`Pop3Settings::max_line`], clients idle for
//!   [`Pop3Settings::idle_timeout`] (`-ERR Disconnected for inactivity.`), and
//!   sessions after [`Pop3Settings::max_bad_commands`] `-ERR` answers
//!   (`-ERR Too many bad commands.`). Failed logins wait
//!   [`Pop3Settings::auth_failure_delay`] before their answer.
//!
//! Layers, one way: [`protocol`] (bytes ↔ commands and responses, the body
//! encoder) knows nothing of sessions; the session knows nothing of sockets
//! beyond `havre_net::Conn`; [`server`] owns sockets. SASL messages are
//! decoded by `havre_directory::sasl`, passwords checked by the directory.

mod lock;
pub mod protocol;
pub mod server;
mod session;

use std::time::Duration;

use havre_directory::Directory;
use havre_mailbox::Mailboxes;

pub use lock::{MaildropGuard, MaildropLocks};
pub use server::serve;

/// RFC 1939 3: the autologout timer "MUST be of at least 10 minutes".
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// RFC 2449 4 allows commands of 255 octets; SASL responses may be longer.
pub const DEFAULT_MAX_LINE: usize = 1024;
pub const DEFAULT_MAX_BAD_COMMANDS: usize = 10;
/// Dovecot's login processes: from connecting to logging in, at most this.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Dovecot's `auth_failure_delay`.
pub const DEFAULT_AUTH_FAILURE_DELAY: Duration = Duration::from_secs(2);

/// Limits and names of the POP3 listeners.
#[derive(Debug, Clone)]
pub struct Pop3Settings {
    /// Named in the greeting.
    pub hostname: String,
    /// The autologout timer: every read and write waits at most this long.
    pub idle_timeout: Duration,
    /// Longest command line (CRLF included); longer ones get `-ERR`.
    pub max_line: usize,
    /// From connecting to logging in, however the client trickles its bytes.
    pub login_timeout: Duration,
    /// `-ERR` answers a session may collect before it is closed.
    pub max_bad_commands: usize,
    /// How long a failed login waits before its `-ERR` (slows guessing).
    pub auth_failure_delay: Duration,
}

impl Pop3Settings {
    /// The defaults, for `hostname`.
    pub fn new(hostname: impl Into<String>) -> Pop3Settings {
        Pop3Settings {
            hostname: hostname.into(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_line: DEFAULT_MAX_LINE,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            max_bad_commands: DEFAULT_MAX_BAD_COMMANDS,
            auth_failure_delay: DEFAULT_AUTH_FAILURE_DELAY,
        }
    }
}

/// What POP3 sessions need from the rest of the node.
pub struct Pop3Services {
    pub settings: Pop3Settings,
    pub directory: Directory,
    pub mailboxes: Mailboxes,
    /// Needed for STLS and port 995; without it nobody can log in.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Shared by every POP3 listener of the process.
    pub locks: MaildropLocks,
    /// The node's list of logged-in sessions (`havre who`, `havre kick`).
    pub sessions: std::sync::Arc<havre_net::Sessions>,
    /// The node's guard: failed logins and bad commands count against the
    /// client's address.
    pub guard: havre_guard::Guard,
    /// Logins and failed logins, for reports and traces.
    pub events: havre_events::Events,
    /// The director role: logged-in sessions are relayed to the user's
    /// backend instead of served here.
    pub handoff: Option<std::sync::Arc<dyn havre_net::Handoff>>,
}
