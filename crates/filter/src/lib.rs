//! The spam filter (Rspamd's and SpamAssassin's job, during the SMTP
//! dialogue): named symbols, each with a weight, whose sum decides what
//! happens to a message.
//!
//! # Symbols
//!
//! Each family of tests reads the one analysis of the message
//! (`havre-content`) or what the node knows of it, and says which symbols
//! match ([`SYMBOLS`] is the table of every symbol, its default weight and
//! meaning; `[spam.weights]` replaces weights by name):
//!
//! - the checks that ran before: SPF, DKIM, DMARC and ARC from our
//!   `Authentication-Results:` and `Received-SPF:`, greylisting's
//!   `X-Greylist:` ([`auth`]);
//! - DNS lists: the client in `mx.dnsbl`, the sender domain, HELO and
//!   client name in `mx.rhsbl`, the hosts of the URLs in `spam.uribl`
//!   ([`lists`], through the node's resolver, bounded in number and time);
//! - header sanity: missing or malformed Date, Message-ID, From, dates far
//!   from the reception, forged mailers, recipients in bulk, a subject in
//!   capitals ([`headers`]);
//! - the body: HTML only, links whose text names another site, hidden
//!   text, images instead of text, capitals, encodings that hide words,
//!   the analysis' limits, GTUBE ([`body`]); attachments ([`attachments`]);
//! - the Bayes probability, through [`BayesModel`], scaled as Rspamd
//!   scales it ([`bayes`]).
//!
//! # Actions and marks
//!
//! The sum is compared with Rspamd's thresholds: from `spam.reject` (15)
//! the message is refused (`554 5.7.1 Spam message rejected`; GTUBE always
//! is), from `spam.add_header` (6) it gets `X-Spam: Yes`, from
//! `spam.greylist` (4) it is deferred once (`451 4.7.1`, greylisting's
//! state keyed by the message). Every accepted message carries
//! `X-Spam-Score:` and `X-Spam-Symbols:`, and the seeds' marks: above 5
//! `[SPAM] ` before the subject and `X-Spam-Status: HIGH`, MEDIUM from 4,
//! LOW from 3; above `spam.junk_above` (5) the `X-Havre-Quarantine:` mark
//! that files it into the recipient's Junk folder ([`marking`]).
//!
//! # Bounds
//!
//! The analysis reads at most the first 4 MiB and a bounded number of
//! parts, URLs and archive entries; messages over `spam.max_size` are not
//! scored; the DNS lookups of a message stop at `spam.dns_time_limit` and
//! the classifier at 5 s. Nothing the filter does fails a delivery.
//!
//! [`score`] scores without any network (the benchmark, the Bayes
//! cross-validation); [`Engine`] adds the lookups; [`SpamCheck`] is the
//! check of the mx pipeline.

#![forbid(unsafe_code)]

pub mod attachments;
pub mod auth;
pub mod bayes;
pub mod body;
mod check;
mod engine;
mod envelope;
pub mod headers;
pub mod lists;
pub mod marking;
mod score;
mod settings;
mod symbols;

pub use bayes::BayesModel;
pub use check::SpamCheck;
pub use engine::{Engine, score, skipped};
pub use envelope::Envelope;
pub use score::{Action, Found, Hit, Level, Score};
pub use settings::{Settings, Weights};
pub use symbols::{SYMBOLS, Symbol, symbol};
