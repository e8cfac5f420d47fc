//! An address that an LMTP server expands to several mailboxes (an alias,
//! when a Postfix in front hands it over unexpanded) gets one reply for
//! all of them: RFC 2033 answers per RCPT. When some copies are written and
//! another is deferred the reply is 4xx, and the client sends the message
//! again later to the address, hence to every mailbox. So that the
//! mailboxes served already do not get it twice, such a partial delivery is
//! remembered in the node's shared state (in a cluster every node sees it:
//! the retry may reach another director or backend) for as long as a
//! sender keeps a message queued (`queue.max_lifetime`), keyed by a digest
//! of the message as the client sent it, the sender and the address. The
//! retry skips the mailboxes named there.
//!
//! Only partial deliveries are remembered, so nothing else is ever
//! skipped, and only addresses with several mailboxes pay the digest and
//! the state's round trip. Two messages are told apart by their bytes: a
//! client that sends the very same bytes again as a new message (no
//! `Received:`, no `Message-ID:` of its own) while the first is still
//! deferred would have the second skip the mailboxes the first reached;
//! Postfix's and havre's queues never do. When the state does not answer, every mailbox
//! gets the message: a duplicate rather than a loss.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use havre_state::{Persist, State};
use sha2::{Digest, Sha256};

const PREFIX: &str = "lmtp:partly:";

/// The digest of a message's bytes as the client sent them (before the
/// `Received:` this server adds, which differs at each attempt).
#[derive(Default)]
pub(crate) struct ContentDigest(Sha256);

impl ContentDigest {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub(crate) fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// Where one recipient's partial delivery is remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key(String);

impl Key {
    pub(crate) fn new(content: &[u8; 32], sender: &str, rcpt: &str) -> Key {
        let mut hash = Sha256::new();
        hash.update(content);
        hash.update(sender.to_ascii_lowercase().as_bytes());
        hash.update([0]);
        hash.update(rcpt.to_ascii_lowercase().as_bytes());
        let hex: String = hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Key(format!("{PREFIX}{hex}"))
    }
}

/// The shared state's record of partial deliveries.
#[derive(Clone)]
pub struct PartlyDelivered {
    state: Option<Arc<dyn State>>,
    keep_for: Duration,
}

impl PartlyDelivered {
    /// Records kept in `state` for `keep_for` (the queue's lifetime).
    pub fn new(state: Arc<dyn State>, keep_for: Duration) -> PartlyDelivered {
        PartlyDelivered {
            state: Some(state),
            keep_for,
        }
    }

    /// Nothing remembered (a node without state: tests of other things).
    pub fn off() -> PartlyDelivered {
        PartlyDelivered {
            state: None,
            keep_for: Duration::ZERO,
        }
    }

    /// The mailboxes an earlier attempt delivered this message to for this
    /// recipient.
    pub(crate) async fn earlier(&self, key: &Key, id: &str) -> BTreeSet<String> {
        let Some(state) = &self.state else {
            return BTreeSet::new();
        };
        match state.get(&key.0).await {
            Ok(Some(value)) => value.lines().map(str::to_string).collect(),
            Ok(None) => BTreeSet::new(),
            Err(err) => {
                tracing::warn!(target: "smtp", role = "lmtp", "{id}: earlier partial deliveries not read ({err}): every mailbox gets this one");
                BTreeSet::new()
            }
        }
    }

    /// After an attempt: `delivered` (this attempt's and the earlier ones)
    /// remembered when the recipient is deferred, forgotten when it is
    /// answered for good.
    pub(crate) async fn settle(
        &self,
        key: &Key,
        id: &str,
        delivered: &BTreeSet<String>,
        deferred: bool,
        had_earlier: bool,
    ) {
        let Some(state) = &self.state else {
            return;
        };
        let result = if deferred && !delivered.is_empty() {
            let value: Vec<&str> = delivered.iter().map(String::as_str).collect();
            state
                .set(
                    &key.0,
                    &value.join("\n"),
                    Some(self.keep_for),
                    Persist::Durable,
                )
                .await
        } else if !deferred && had_earlier {
            state.delete(&key.0).await.map(drop)
        } else {
            Ok(())
        };
        if let Err(err) = result {
            tracing::warn!(target: "smtp", role = "lmtp", "{id}: partial delivery not recorded ({err}): a retry may deliver again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(text: &[u8]) -> [u8; 32] {
        let mut d = ContentDigest::default();
        d.update(text);
        d.finish()
    }

    #[test]
    fn a_key_names_the_message_the_sender_and_the_address() {
        let a = digest(b"Subject: a\r\n\r\nx\r\n");
        let b = digest(b"Subject: b\r\n\r\nx\r\n");
        let key = Key::new(&a, "bob@remote.test", "staff@example.test");
        assert_eq!(key, Key::new(&a, "Bob@Remote.test", "STAFF@example.test"));
        assert_ne!(key, Key::new(&b, "bob@remote.test", "staff@example.test"));
        assert_ne!(key, Key::new(&a, "eve@remote.test", "staff@example.test"));
        assert_ne!(key, Key::new(&a, "bob@remote.test", "all@example.test"));
    }

    #[tokio::test]
    async fn a_deferred_recipient_s_copies_are_remembered_until_it_is_answered_for_good() {
        let state: Arc<dyn State> = Arc::new(havre_state::EmbeddedState::memory());
        let partly = PartlyDelivered::new(state, Duration::from_secs(60));
        let key = Key::new(&digest(b"x"), "bob@remote.test", "staff@example.test");
        assert!(partly.earlier(&key, "T1").await.is_empty());
        let one: BTreeSet<String> = ["ann@example.test".to_string()].into();
        partly.settle(&key, "T1", &one, true, false).await;
        assert_eq!(partly.earlier(&key, "T2").await, one);
        let both: BTreeSet<String> = ["ann@example.test", "joe@example.test"]
            .map(String::from)
            .into();
        partly.settle(&key, "T2", &both, false, true).await;
        assert!(partly.earlier(&key, "T3").await.is_empty());
        // Deferred with nothing delivered: nothing to remember.
        partly
            .settle(&key, "T3", &BTreeSet::new(), true, false)
            .await;
        assert!(partly.earlier(&key, "T4").await.is_empty());
    }
}
