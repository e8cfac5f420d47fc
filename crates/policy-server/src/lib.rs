//! The Postfix policy delegation service (`policy.listen`): a Postfix with
//! `check_policy_service inet:HOST:PORT` asks havre, at each stage it is
//! configured for, and havre answers from the same checks pipeline as its
//! own mx sessions (policy rules with their rate limits, greylisting), so a
//! site that keeps Postfix replaces Postgrey and Postfwd with havre.
//!
//! What it promises:
//!
//! - each request gets exactly one reply, in order, several requests per
//!   connection (the wire format is `havre-policy-proto`'s);
//! - a malformed request (garbage lines, too long a line, too many
//!   attributes, bytes that are not UTF-8, a request it cannot read facts
//!   from) gets `action=DEFER_IF_PERMIT Policy service error` and a warning
//!   in the log; a connection idle longer than `policy.idle_timeout`, or
//!   whose request is not complete within `policy.request_timeout`, is
//!   closed; at most `policy.max_connections` at once, beyond which a
//!   connection is closed at once (Postfix retries, then applies its
//!   `smtpd_policy_service_default_action`). A panic while answering ends
//!   that connection only, without a reply (Postfix retries);
//! - the facts are what an SMTP session would give: the stage from
//!   `protocol_state`, the client, HELO, sender, recipient, SASL login,
//!   size; the user class of `sasl_username` comes from the directory
//!   (remembered for a minute, [`CachedClasses`]), so class rules (student
//!   10 messages a minute) hold for Postfix's authenticated users too; the recipients of a message are counted by
//!   the service ([`Instances`]), since Postfix says `recipient_count=0` at
//!   RCPT, so a per-message rate counts each message once;
//! - verdicts in Postfix's words: see [`answer`].
//!
//! The rules and settings follow a reload from the next request on; the
//! listener and the connection cap need a restart.

#![forbid(unsafe_code)]

mod directory;
mod facts;
mod instances;
mod server;
mod service;
mod session;

pub use directory::{CachedClasses, DirectoryClasses};
pub use facts::{ACCESS_POLICY, FactsError, facts};
pub use instances::{Instances, Message};
pub use server::{Server, serve};
pub use service::{Classes, PolicyServices, PolicySettings, SERVICE_ERROR, answer};
