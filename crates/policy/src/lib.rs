//! Policy checks of the pipeline: greylisting ([`Greylist`], Postgrey's
//! semantics) and the ordered rules of `[[policy.rules]]` ([`Rule`],
//! Postfwd's spirit: conditions on the facts, then accept, reject, defer,
//! greylist, add a header or rate-limit).
//!
//! What they remember (greylist triplets, the auto-whitelist, rate-limit
//! cells) is in the shared [`havre_state::State`], so the same checks give
//! the same answers behind an SMTP session and behind the Postfix policy
//! service, and on every node of a cluster.
//!
//! Adding a check: see ARCHITECTURE.md ("How a check is added").

#![forbid(unsafe_code)]

mod from_config;
mod greylist;
mod pattern;
mod rules;

pub use from_config::{PolicyChecks, from_config, greylist_settings};
pub use greylist::{Exempt, Greylist, GreylistSettings, client_network, normalize_sender};
pub use pattern::Pattern;
pub use rules::{Conditions, RateKey, RateLimit, RateWhat, Rule, RuleAction, period_text};

/// Parses a network (`192.0.2.0/24`, `2001:db8::/32`) or a single address.
pub fn parse_network(text: &str) -> Option<ipnet::IpNet> {
    greylist::parse_network(text.trim())
}
