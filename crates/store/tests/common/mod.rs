//! What the store's tests queue: a message from a remote sender received in
//! 2023, due at once, with pending recipients.

use havre_store::{QueueEntry, QueueRecipient, RecipientStatus};

/// A queued message `id` from `sender` to `recipients`, all pending.
pub fn queued(id: &str, sender: &str, recipients: Vec<QueueRecipient>) -> QueueEntry {
    QueueEntry {
        id: id.into(),
        sender: sender.into(),
        size: 1234,
        arrival: 1_700_000_000,
        client: "mx.remote.test[192.0.2.1]".into(),
        protocol: "ESMTP".into(),
        attempts: 0,
        next_attempt: 1_700_000_000,
        hold: false,
        hold_reason: None,
        warned: false,
        recipients,
    }
}

/// Recipient number `idx`, pending, sent to `address` (for `orig`'s RCPT).
pub fn pending(idx: i64, address: &str, orig: Option<String>) -> QueueRecipient {
    QueueRecipient {
        idx,
        address: address.into(),
        orig,
        status: RecipientStatus::Pending,
        last_reply: None,
    }
}
