//! The Postfix policy delegation protocol (Postfix's SMTPD_POLICY_README),
//! without I/O: the framing of requests, their attributes, and the replies.
//!
//! A request is a sequence of `name=value` lines, each ended by a newline,
//! and ended by an empty line; the reply is one `action=...` line and an
//! empty line. Several requests follow each other on one connection. Postfix
//! sends LF; a CR before the LF is accepted (and dropped) for people typing
//! requests by hand.
//!
//! What this crate promises, whatever the bytes:
//!
//! - memory stays bounded: a line longer than [`Limits::line_length`] is read
//!   to its end without being kept, and a request keeps at most
//!   [`Limits::attributes`] attributes;
//! - the framing never gets lost: a malformed request (a line without `=`,
//!   an empty name, a NUL or a CR inside a line, bytes that are not UTF-8, too long a line, too
//!   many attributes) is still read to its empty line and comes out as one
//!   [`Frame::Invalid`] with the first problem, so the client gets exactly
//!   one reply per request;
//! - decoding the same bytes in one piece or byte by byte gives the same
//!   frames (the fuzz target `policy_request` checks it).
//!
//! The meaning of the attributes (which request, which stage) is the
//! server's (`havre-policy-server`): a [`Request`] is only the list of
//! attributes in the order they came.

#![forbid(unsafe_code)]

mod decoder;
mod reply;
mod request;

pub use decoder::{Decoder, Frame, Limits, RequestError};
pub use reply::Reply;
pub use request::Request;
