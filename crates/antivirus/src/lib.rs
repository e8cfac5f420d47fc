//! Antivirus with ClamAV: each message scanned by clamd over its INSTREAM
//! protocol at the end of DATA, while the sender's client still waits for
//! the reply, so a virus is refused with its name rather than bounced.
//!
//! - [`Clamd`]: the client (TCP `host:port` or a unix socket, one time
//!   limit for connection, sending and answer);
//! - [`Antivirus`]: the [`havre_checks::Check`] (`554 5.7.1 Virus found:
//!   NAME`, `X-Virus-Scanned:` on clean mail, `451 4.7.0` or acceptance
//!   marked `X-Virus-Scan: not scanned (...)` when clamd does not answer).
//!
//! Why a client of our own rather than the clamav-client crate: the
//! exchange is a few lines, and the crate reads clamd's answer with no
//! bound, loses it when clamd closes early (its `StreamMaxLength`: the
//! write fails first and the answer is never read), and leaves the virus
//! name to parse anyway.

#![forbid(unsafe_code)]

mod check;
mod clamd;
mod reply;

pub use check::{Antivirus, NOT_SCANNED_HEADER, OnError, SCANNED_HEADER, Settings};
pub use clamd::{Clamd, ClamdError, Endpoint, Found};
