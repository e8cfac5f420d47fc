//! SMTP wire format, with no I/O: command lines in, replies out, the DATA
//! decoder, and the header fields the submission role checks. Kept apart from
//! sessions and sockets so it can be fuzzed cheaply (`fuzz/`) and reused by the
//! submission role and the outbound client.

pub mod dot;
pub mod headers;
pub mod protocol;

pub use dot::DotDecoder;
pub use protocol::{Command, CommandError, Reply, Request, parse_command, qualify_path};
