//! The crash tests' load and count: `FLOOD` (support/flood.py) sends tokens
//! and writes down each one that got 250; `tokens_in_mailbox` counts the
//! copies of each token delivered to alice.

use std::collections::HashMap;

use havre_testkit::Havre;

pub const FLOOD: &str = include_str!("flood.py");

pub fn tokens_in_mailbox(node: &Havre) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for message in node.messages("alice@example.test") {
        if let Some(token) = message.lines().find_map(|l| l.strip_prefix("X-Token: ")) {
            *seen.entry(token.to_string()).or_insert(0) += 1;
        }
    }
    seen
}
