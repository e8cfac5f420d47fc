//! Mailbox changes across the nodes of a cluster: what this node's
//! sessions and deliveries change is published on the shared state
//! (`state.backend = "redis"`: Redis pub/sub), and what other nodes publish
//! wakes this node's IMAP sessions (IDLE, NOTIFY) at once, as a change made
//! here does. Each message names the process it came from, which does not
//! take its own changes twice.

use std::sync::Arc;

use havre_mailbox::{Notifier, changes};
use havre_state::State;
use tokio::sync::mpsc;

/// The channel every node publishes on and listens to.
const CHANNEL: &str = "mailbox-changes";

/// Starts relaying `notifier`'s changes to the other nodes through
/// `state`, and theirs to it.
pub fn start(state: Arc<dyn State>, notifier: Notifier, node_id: u8) {
    // The process, not only the node: a node restarted is another sender.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let origin = format!("{node_id}.{}.{started}", std::process::id());
    let (relay, mut outgoing) = mpsc::unbounded_channel();
    notifier.relay_to(relay);
    let mut incoming = state.subscribe(CHANNEL);
    let publisher = state.clone();
    let from = origin.clone();
    tokio::spawn(async move {
        let mut failing = false;
        while let Some((user, change)) = outgoing.recv().await {
            let line = format!("{from}\t{}", changes::encode(&user, &change));
            match publisher.publish(CHANNEL, &line).await {
                Ok(()) => failing = false,
                Err(err) if !failing => {
                    failing = true;
                    tracing::warn!(target: "cluster", "cannot tell the other nodes of a mailbox change (their sessions see it at their next check): {err}");
                }
                Err(_) => {}
            }
        }
    });
    tokio::spawn(async move {
        while let Some(line) = incoming.recv().await {
            let Some((sender, rest)) = line.split_once('\t') else {
                continue;
            };
            if sender == origin {
                continue;
            }
            if let Some((user, change)) = changes::decode(rest) {
                notifier.deliver(&user, change);
            }
        }
    });
}
