//! Telling the sessions of a user that one of their mailboxes changed.
//!
//! In one process (all-in-one node) a delivery, an APPEND or a STORE reaches
//! every IMAP session of the user at once, which is what makes IDLE push
//! immediate. Sessions still compare the store's state with their own when
//! woken, so a missed or duplicated wake-up costs nothing but a query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// The mailbox (store id) that changed.
pub type Change = i64;

#[derive(Clone, Default)]
pub struct Notifier {
    users: Arc<Mutex<HashMap<String, broadcast::Sender<Change>>>>,
}

impl Notifier {
    pub fn subscribe(&self, user: &str) -> broadcast::Receiver<Change> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .entry(user.to_string())
            .or_insert_with(|| broadcast::channel(64).0)
            .subscribe()
    }

    pub fn changed(&self, user: &str, mailbox: Change) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = users.get(user)
            && sender.send(mailbox).is_err()
        {
            // Nobody listens any more: forget the channel.
            users.remove(user);
        }
    }
}
