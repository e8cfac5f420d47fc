//! Connections of the line-based protocols (SMTP, LMTP, IMAP, POP3): a plain or
//! TLS stream behind one type, a bounded read buffer, every read and write
//! under the idle timeout, and replies buffered until the client has nothing
//! more pipelined. Protocol crates format their own replies; this crate only
//! moves bytes, and ends a session whose command panicked ([`guard_command`]).

mod conn;
mod guard;
mod tls;

pub use conn::{Conn, ConnError, Io, Line, LineEnds};
pub use guard::{Peer, catch_panic, guard_command};
pub use tls::accept_tls;
