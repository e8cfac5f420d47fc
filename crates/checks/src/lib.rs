//! The checks of an SMTP transaction, stage by stage: facts in, verdicts out.
//!
//! An SMTP session (mx, submission), the Postfix policy service and
//! `havre check` all describe a transaction the same way, as [`Facts`] at a
//! [`Stage`] (connect, HELO, MAIL, each RCPT, end of DATA), and hand them to
//! the role's [`Pipeline`]. The pipeline runs the [`Check`]s that declared
//! that stage, in order, and returns an [`Outcome`]:
//!
//! - `Accept` (nothing against it: the next check runs), `Permit` (accept
//!   this stage without the remaining checks, Postfix's `OK`), `Reject`
//!   (5xx) or `Defer` (4xx) with a [`Reply`]; the first non-`Accept` ends the
//!   stage;
//! - the headers the checks that ran asked to add (gathered over the stages
//!   of a transaction by [`AddedHeaders`], one per check and name);
//! - a [`Hold`] if a check asked to accept the message but keep it on hold
//!   in the queue (Postfix's `HOLD`, the quarantine; the first one wins);
//! - the trail of every verdict with its reason, for the log and for
//!   `havre check`.
//!
//! Replies are written as Postfix writes a restriction's refusal
//! ([`Reply::line`]: `450 4.7.1 <rcpt>: Recipient address rejected: text`),
//! and refusals are logged as Postfix logs them (`NOQUEUE: reject: RCPT from
//! name[ip]: ...`), with the check and its reason.
//!
//! This crate knows no check: greylisting and policy rules live in
//! `havre-policy`, sender authentication and the content filter in their own
//! crates, each implementing [`Check`]. It does no I/O of its own.

#![forbid(unsafe_code)]

mod facts;
mod pipeline;
mod stage;
mod verdict;

pub use facts::Facts;
pub use pipeline::{AddedHeaders, Check, Hold, Outcome, Pipeline, Step};
pub use stage::Stage;
pub use verdict::{Action, Finding, Header, Reply, Verdict};
