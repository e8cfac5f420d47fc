//! What the store's tests start from: a store with users of
//! `example.test`, and queued messages from a remote sender received in
//! 2023, due at once, with pending recipients.

// Each test binary uses its part.
#![allow(dead_code)]

use havre_store::{NewUser, QueueEntry, QueueRecipient, RecipientStatus, SqliteStore, Store};

/// An in-memory store with the domain `example.test` and these users.
pub async fn store_with_users(emails: &[&str]) -> SqliteStore {
    let store = SqliteStore::memory().await.unwrap();
    store.add_domain("example.test").await.unwrap();
    for email in emails {
        store.add_user(&user(email)).await.unwrap();
    }
    store
}

/// A user of the default class, without password nor quota.
pub fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password_hash: None,
        class: "default".into(),
        quota: None,
    }
}

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
