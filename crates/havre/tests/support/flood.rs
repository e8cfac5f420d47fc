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

/// The tokens FLOOD wrote down as acknowledged (its ack file at `ack`),
/// after checking what the kill -9 tests promise: each of them is in
/// alice's mailbox exactly once, and no token at all is there twice.
/// Returns them with the count of every token delivered.
pub fn each_acknowledged_token_delivered_once(
    node: &Havre,
    ack: &std::path::Path,
) -> (Vec<String>, HashMap<String, usize>) {
    let acked: Vec<String> = std::fs::read_to_string(ack)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let seen = tokens_in_mailbox(node);
    for token in &acked {
        assert_eq!(
            seen.get(token),
            Some(&1),
            "acknowledged {token} delivered {:?} times",
            seen.get(token)
        );
    }
    for (token, count) in &seen {
        assert_eq!(*count, 1, "{token} delivered {count} times");
    }
    (acked, seen)
}
