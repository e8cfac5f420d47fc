//! Connections of the line-based protocols (SMTP, LMTP, IMAP, POP3): a plain or
//! TLS stream behind one type, a bounded read buffer, every read and write
//! under the idle timeout and the session deadline, and replies buffered until
//! the client has nothing more pipelined. Protocol crates format their own
//! replies; this crate only moves bytes, admits connections (per-role caps,
//! out-of-descriptor back-off) and carries the node's stop to every session.

mod accept;
mod conn;
mod gate;
mod stop;
mod tls;

pub use accept::accept_loop;
pub use conn::{Conn, ConnError, Io, Line};
pub use gate::{Caps, Gate, Refusal, Ticket};
pub use stop::{Phase, Stop, Stopper};
pub use tls::accept_tls;
