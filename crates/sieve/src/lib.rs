//! Sieve (RFC 5228), the mail filtering language, without I/O: a parser
//! with line and column errors, a compiled form to cache per script, and an
//! interpreter whose work is bounded.
//!
//! Delivery compiles a user's active script once ([`Script::compile`]),
//! keeps it (it is immutable and `Send + Sync`), and runs it on each
//! message ([`Script::run`], or a [`Run`] for the site's scripts before and
//! after the user's). A run reads the message ([`Message`], [`Envelope`])
//! and asks the world what it cannot know through a [`Host`] (the time,
//! mailboxes, the duplicate store, included scripts, spam and virus
//! verdicts); it returns an [`Outcome`]: the actions in order, whether the
//! implicit keep applies, header edits and duplicate marks. Carrying them
//! out is the caller's.
//!
//! What this crate promises, whatever the script and the message:
//!
//! - no panic and no unbounded work. A script is at most
//!   [`Limits::max_script_size`] bytes; the parser refuses nesting past
//!   [`Limits::max_block_nesting`] before recursing; regular expressions
//!   are regex-lite's (linear time, program size capped); `:matches` never
//!   backtracks over earlier wildcards; a run counts its instructions,
//!   redirects, actions, includes and variables, and reads at most
//!   [`Limits::max_header_size`] of a field and [`Limits::max_body_size`]
//!   of a body.
//! - errors say where: a [`CompileError`] has a line and a column, a
//!   [`RuntimeError`] the line of the command. A script that fails at run
//!   time means keep, as Pigeonhole does.
//!
//! Extensions ([`supported_extensions`]): fileinto, reject and ereject
//! (RFC 5429), envelope, encoded-character, vacation (RFC 5230) and
//! vacation-seconds (RFC 6131), subaddress (RFC 5233),
//! comparator-i;ascii-numeric, relational (RFC 5231), regex
//! (draft-ietf-sieve-regex, as Pigeonhole: regex-lite's syntax, which is
//! close to POSIX extended), body (RFC 5173), copy (RFC 3894), include
//! (RFC 6609), variables (RFC 5229), imap4flags (RFC 5232), mailbox
//! (RFC 5490), date and index (RFC 5260), duplicate (RFC 7352),
//! editheader (RFC 5293), spamtest, spamtestplus and virustest (RFC 5235),
//! environment (RFC 5183).
//!
//! Written from the RFCs; sieve-rs (AGPL) was not used nor read.

#![forbid(unsafe_code)]

mod actions;
mod ast;
mod compile;
mod date;
mod edit;
mod error;
mod extensions;
mod host;
mod interp;
mod lexer;
mod limits;
mod matching;
mod message;
mod outcome;
mod parser;
mod program;
mod script;
mod variables;

pub use date::Zoned;
pub use edit::apply_header_edits;
pub use error::{CompileError, Pos, RuntimeError};
pub use extensions::supported_extensions;
pub use host::{Host, NoHost};
pub use interp::{Flow, Run};
pub use limits::Limits;
pub use message::{Envelope, Message};
pub use outcome::{Action, DuplicateMark, HeaderEdit, Outcome, Vacation};
pub use program::Location;
pub use script::{Script, check};
