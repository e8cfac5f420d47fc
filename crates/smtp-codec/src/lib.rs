//! SMTP wire format, with no I/O: command lines in, replies out, and the DATA
//! decoder. Kept apart from sessions and sockets so it can be fuzzed cheaply
//! (`fuzz/`) and reused by the submission role and the outbound client.

pub mod dot;
pub mod protocol;

pub use dot::DotDecoder;
pub use protocol::{Command, CommandError, Reply, Request, parse_command};
