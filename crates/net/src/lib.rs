//! Connections of the line-based protocols (SMTP, LMTP, IMAP, POP3): a plain or
//! TLS stream behind one type, a bounded read buffer, every read and write
//! under the idle timeout and the session deadline, and replies buffered until
//! the client has nothing more pipelined. Protocol crates format their own
//! replies; this crate only moves bytes, admits connections (per-role caps,
//! out-of-descriptor back-off, a [`Screen`] such as the guard's bans before
//! anything else), compresses a connection on request (raw
//! deflate, [`Conn::start_deflate`]), carries the node's stop to every session, keeps
//! the list of logged-in sessions for `havre who` and `havre kick`
//! ([`Sessions`]), ends a session whose command panicked ([`guard_command`]) and
//! words the line of a client that leaves before logging in as Dovecot does
//! ([`LoginEnd`]).

mod accept;
mod conn;
mod deflate;
mod gate;
mod guard;
mod handoff;
mod login_log;
mod sessions;
mod stop;
mod tls;

pub use accept::{accept_loop, until_text};
pub use conn::{Conn, ConnError, Io, Line, LineEnds};
pub use gate::{Caps, Exempt, Gate, Refusal, Screen, Ticket};
pub use guard::{Peer, catch_panic, guard_command};
pub use handoff::{
    Backend, Forwarded, Handoff, HandoffError, LmtpForward, Protocol, RelayEnd, connect, relay,
};
pub use login_log::{LoginEnd, shown_user};
pub use sessions::{SessionEntry, SessionInfo, Sessions, xclient_address};
pub use stop::{Phase, Stop, Stopper};
pub use tls::accept_tls;
