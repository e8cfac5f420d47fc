//! SMTP and LMTP servers: the `mx` role (Internet mail for local users, port 25)
//! and the LMTP listener of the mailbox tier (RFC 2033).
//!
//! The mx role speaks ESMTP with PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
//! ENHANCEDSTATUSCODES, STARTTLS and CHUNKING. It accepts a recipient only if
//! the directory says the address is local and leads somewhere: no open relay,
//! whatever tricks the address carries (`%`, `!`, source routes, quoted `@`, IP
//! literals). It answers 250 to the body only once the queue has made it
//! durable. LMTP answers each recipient after writing its mailbox. Local
//! programs submit through `havre sendmail` on a Unix socket ([`local`]).
//!
//! The mx and submission sessions name each client by its forward-confirmed
//! reverse name and run their role's checks pipeline (`havre-checks`) at
//! connect, HELO, MAIL, each RCPT and the end of DATA: a refusal is the
//! check's reply, the headers checks add go on top of the stored message
//! (after our `Received:`), and an `Authentication-Results:` claiming this
//! host is removed from what the client sent ([`pipeline`]).
//!
//! Layers, one way: `havre-smtp-codec` (bytes ↔ commands and replies, the DATA
//! decoder) knows nothing of sessions; the session knows nothing of sockets
//! beyond the `conn` wrapper; [`server`] owns sockets and TLS.

mod data;
mod lmtp_sieve;
pub mod local;
pub mod networks;
mod partly_delivered;
mod pipeline;
mod received;
pub mod server;
mod session;
mod subject;

use std::sync::Arc;
use std::time::Duration;

use havre_directory::Directory;
use havre_mailbox::LocalDelivery;
use havre_queue::Queue;

pub use havre_smtp_codec as codec;
pub use local::{Caller, LocalSettings};
pub use partly_delivered::PartlyDelivered;
pub use pipeline::{ClientNames, SessionChecks};
pub use server::{Listener, serve, serve_local};

/// The dialect a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Mx,
    /// Authenticated users' mail (587 STARTTLS, 465 TLS): AUTH after TLS,
    /// senders checked against the login.
    Submission,
    Lmtp,
    /// Local programs' mail through `havre sendmail` (Postfix's pickup), on
    /// a Unix socket: the caller is known by its uid, may send anywhere,
    /// and its unqualified addresses are completed ([`local`]).
    Local,
}

impl Mode {
    /// The role's name in logs (the program name after `havre/`).
    pub fn role(self) -> &'static str {
        match self {
            Mode::Mx => "mx",
            Mode::Submission => "submission",
            Mode::Lmtp => "lmtp",
            Mode::Local => "pickup",
        }
    }
}

/// Limits and names, from the `[server]` and `[smtp]` config sections.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub hostname: String,
    pub banner: String,
    pub message_size_limit: u64,
    pub line_length_limit: usize,
    pub recipient_limit: usize,
    pub hard_error_limit: usize,
    pub idle_timeout: Duration,
    /// Bytes the queue's filesystem must keep free for MAIL to be accepted
    /// (at least 1.5 x `message_size_limit` whatever this says).
    pub min_free_space: u64,
    /// The longest a session may last, however busy (a client dripping bytes
    /// beats the idle timeout forever).
    pub session_deadline: Duration,
    /// A full mailbox defers (452 4.2.2) rather than refuses (552 5.2.2):
    /// `mailbox.quota_full_tempfail`.
    pub quota_full_tempfail: bool,
}

/// What sessions need from the rest of the node.
pub struct Services {
    pub settings: Arc<SmtpSettings>,
    pub directory: Directory,
    pub queue: Arc<Queue>,
    pub local: LocalDelivery,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Clients that may relay without AUTH (Postfix's mynetworks).
    pub internal_networks: Vec<networks::Network>,
    /// Classes whose users may use any sender address.
    pub any_sender_classes: Vec<String>,
    /// How local submission completes addresses.
    pub local_submission: LocalSettings,
    /// The checks of mx and submission, and reverse DNS of their clients.
    pub checks: SessionChecks,
    /// The node's guard: failed AUTHs, unknown recipients and bad commands
    /// of mx and submission clients count against their address.
    pub guard: havre_guard::Guard,
    /// Connections, refusals, accepted messages and LMTP deliveries, for
    /// reports and traces.
    pub events: havre_events::Events,
    /// The director role: LMTP deliveries go to each recipient's backend
    /// instead of a local mailbox.
    pub lmtp_forward: Option<Arc<dyn havre_net::LmtpForward>>,
    /// LMTP: what an earlier attempt delivered of an address with several
    /// mailboxes, skipped at the retry.
    pub partly_delivered: PartlyDelivered,
}
