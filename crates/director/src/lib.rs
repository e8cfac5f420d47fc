//! The director (`server.roles = ["director"]`): proxies in front of the
//! mailbox backends that send every connection of a user (IMAP, POP3,
//! ManageSieve, LMTP deliveries) to the same backend, so that her Maildir
//! on shared storage is written by one machine at a time, and move users
//! away from a backend that fails or is taken down. Dovecot's Director,
//! without its ring protocol: the directors share their view through the
//! shared state (`state.backend = "redis"`), and a director that cannot
//! reach it refuses logins rather than guess.
//!
//! - [`ring`]: consistent hashing of user names over the backends.
//! - [`backends`]: the backend list and the probes' findings.
//! - [`assign`]: users' assignments, kept after their last connection.
//! - [`kicks`]: closing sessions on every director at once.
//! - [`proxy`]: a logged-in session handed over to the user's backend,
//!   [`login`]: the login made there on her behalf.
//!   [`spares`]: connections kept open and greeted for the next logins.
//! - [`lmtp`]: LMTP deliveries, each recipient to her backend.
//! - [`probe`]: the backends' health, as Dovecot's poolmon.
//! - [`relayed`]: the sessions each director relays, for the status.
//! - [`view`]: the backends and their ring, as a director caches them.
//! - [`secret`]: the cluster's secret in the shared state, when no file
//!   gives it.

pub mod assign;
pub mod backends;
pub mod kicks;
pub mod lmtp;
pub mod login;
pub mod probe;
pub mod proxy;
pub mod relayed;
pub mod ring;
pub mod secret;
pub mod spares;
#[cfg(test)]
mod stalling;
pub mod view;

pub use backends::{Admin, Backend};

#[derive(Debug, thiserror::Error)]
pub enum DirectorError {
    /// The shared state could not be read or written: a login is refused
    /// rather than sent somewhere that may split the user.
    #[error("shared state: {0}")]
    State(#[from] havre_state::StateError),
    #[error("no backend takes users (none added, or all down)")]
    NoBackend,
    #[error("{0} is not a backend name (an IP address or a host name)")]
    InvalidAddress(String),
    #[error("no backend {0} (see `havre director status`)")]
    UnknownBackend(String),
    #[error("backend {0} is down")]
    BackendDown(String),
    #[error("user {0} was placed again and again by other directors meanwhile")]
    Contended(String),
    /// `havre director move` or `flush` is closing her sessions on every
    /// director ([`assign::MOVE_GRACE`]).
    #[error("user {0} is moving to another backend")]
    Moving(String),
}

pub type Result<T> = std::result::Result<T, DirectorError>;

/// A value as last read from the shared state, with when it was read.
pub(crate) type Kept<T> = std::sync::Mutex<Option<(std::time::Instant, T)>>;
