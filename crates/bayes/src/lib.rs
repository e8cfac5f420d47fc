//! The Bayes spam classifier, without I/O.
//!
//! A message, as havre-content analysed it, becomes [`Tokens`] ([`tokenize`]:
//! a [`Tokenizer`] fed with its decoded header fields, texts, URL hosts and
//! facts): hashed features, each once, of the
//! OSB kind Rspamd and CRM114 use. Learning counts, per token, how many
//! learned spam and ham messages carried it ([`Counts`]); classifying
//! ([`classify`]) combines the tokens' Robinson probabilities with Fisher's
//! chi-square method, as SpamBayes, bogofilter and SpamAssassin do, into the
//! probability that the message is spam and the number of tokens that said
//! so.
//!
//! Where the counts live (the store: a global set and one per user, and
//! which messages were learned as what) is the caller's business: this crate
//! only computes. [`digest`] names a message so that learning it twice is
//! noticed.

#![forbid(unsafe_code)]

mod classify;
mod counts;
mod digest;
mod message;
mod tokens;
mod words;

pub use classify::{Classification, Params, chi2q, classify, classify_with, token_probability};
pub use counts::{Class, Count, Counts, TokenHasher, TokenMap, Totals};
pub use digest::digest;
pub use message::{tokenize, tokenize_marked};
pub use tokens::{MAX_HEADER_BYTES, MAX_WORDS, Tokenizer, Tokens, WINDOW};
