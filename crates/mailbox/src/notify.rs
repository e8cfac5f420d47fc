//! Telling the sessions of a user that one of their mailboxes changed.
//!
//! In one process (all-in-one node) a delivery, an APPEND or a STORE reaches
//! every IMAP session of the user at once, which is what makes IDLE push
//! immediate. Sessions still compare the store's state with their own when
//! woken, so a missed or duplicated wake-up costs nothing but a query.
//!
//! A change says which mailbox and what kind of change it was, so a session
//! under NOTIFY (RFC 5465) can tell a client which of its other mailboxes
//! got mail, was renamed or was subscribed to. The channel of a user holds
//! [`CAPACITY`] changes; a session that falls further behind learns it
//! lagged (and says so to a NOTIFY client) rather than holding memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Changes a user's channel keeps for a session that has not read them.
pub const CAPACITY: usize = 64;

/// What happened to the messages of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageChange {
    /// New messages (delivery, APPEND, COPY, MOVE, files indexed by sync).
    New,
    Expunged,
    Flags,
}

/// One change to a user's mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Messages of the mailbox with this store id changed.
    Messages { mailbox: i64, what: MessageChange },
    /// A mailbox was created, deleted (`deleted`) or renamed from
    /// `old_name` (each mailbox below a renamed one has its own change).
    Mailbox {
        name: String,
        old_name: Option<String>,
        deleted: bool,
    },
    /// A name was subscribed to or unsubscribed from.
    Subscription { name: String, subscribed: bool },
}

impl Change {
    /// The mailbox (store id) whose messages changed, if that is the change.
    pub fn messages_of(&self) -> Option<i64> {
        match self {
            Change::Messages { mailbox, .. } => Some(*mailbox),
            _ => None,
        }
    }
}

#[derive(Clone, Default)]
pub struct Notifier {
    users: Arc<Mutex<HashMap<String, broadcast::Sender<Change>>>>,
}

impl Notifier {
    pub fn subscribe(&self, user: &str) -> broadcast::Receiver<Change> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .entry(user.to_string())
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe()
    }

    /// Messages of `mailbox` (store id) changed.
    pub fn changed(&self, user: &str, mailbox: i64, what: MessageChange) {
        self.send(user, Change::Messages { mailbox, what });
    }

    pub fn send(&self, user: &str, change: Change) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = users.get(user)
            && sender.send(change).is_err()
        {
            // Nobody listens any more: forget the channel.
            users.remove(user);
        }
    }
}
