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

use tokio::sync::{broadcast, mpsc};

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
    /// Where changes made here also go, for the other nodes of a cluster
    /// (see [`Notifier::relay_to`]).
    relay: Arc<Mutex<Option<Relay>>>,
}

/// Where a user's changes go for the other nodes.
pub type Relay = mpsc::UnboundedSender<(String, Change)>;

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
        if let Some(relay) = &*self.relay.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = relay.send((user.to_string(), change.clone()));
        }
        self.deliver(user, change);
    }

    /// Every change sent from now on is also given to `relay` (which
    /// publishes it to the other nodes of the cluster).
    pub fn relay_to(&self, relay: Relay) {
        *self.relay.lock().unwrap_or_else(|e| e.into_inner()) = Some(relay);
    }

    /// Tells this process's sessions of `user` of a change, without
    /// relaying it: a change another node made and published.
    pub fn deliver(&self, user: &str, change: Change) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = users.get(user)
            && sender.send(change).is_err()
        {
            // Nobody listens any more: forget the channel.
            users.remove(user);
        }
    }
}

/// A change as one line of text, for the other nodes: the user and the
/// change, fields apart by tabs (escaped within names).
pub fn encode(user: &str, change: &Change) -> String {
    let fields: Vec<String> = match change {
        Change::Messages { mailbox, what } => {
            let what = match what {
                MessageChange::New => "new",
                MessageChange::Expunged => "expunged",
                MessageChange::Flags => "flags",
            };
            vec!["messages".into(), mailbox.to_string(), what.into()]
        }
        Change::Mailbox {
            name,
            old_name,
            deleted,
        } => vec![
            "mailbox".into(),
            escape(name),
            u8::from(*deleted).to_string(),
            old_name.as_deref().map(escape).unwrap_or_default(),
            u8::from(old_name.is_some()).to_string(),
        ],
        Change::Subscription { name, subscribed } => vec![
            "subscription".into(),
            escape(name),
            u8::from(*subscribed).to_string(),
        ],
    };
    format!("{}\t{}", escape(user), fields.join("\t"))
}

/// The user and change of a line made by [`encode`]; `None` for anything
/// else (a newer node's kind of change is ignored, not misread).
pub fn decode(line: &str) -> Option<(String, Change)> {
    let fields: Vec<String> = line.split('\t').map(unescape).collect();
    let change = match fields.get(1)?.as_str() {
        "messages" => Change::Messages {
            mailbox: fields.get(2)?.parse().ok()?,
            what: match fields.get(3)?.as_str() {
                "new" => MessageChange::New,
                "expunged" => MessageChange::Expunged,
                "flags" => MessageChange::Flags,
                _ => return None,
            },
        },
        "mailbox" => Change::Mailbox {
            name: fields.get(2)?.clone(),
            deleted: fields.get(3)? == "1",
            old_name: (fields.get(5)? == "1").then(|| fields[4].clone()),
        },
        "subscription" => Change::Subscription {
            name: fields.get(2)?.clone(),
            subscribed: fields.get(3)? == "1",
        },
        _ => return None,
    };
    Some((fields.first()?.clone(), change))
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\t', "\\t")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_crosses_to_another_node_unchanged() {
        let changes = [
            Change::Messages {
                mailbox: 42,
                what: MessageChange::Expunged,
            },
            Change::Mailbox {
                name: "Projets\tà\\faire".into(),
                old_name: Some("Old".into()),
                deleted: false,
            },
            Change::Mailbox {
                name: "Gone".into(),
                old_name: None,
                deleted: true,
            },
            Change::Subscription {
                name: "Lists/havre".into(),
                subscribed: true,
            },
        ];
        for change in changes {
            let line = encode("ana\tmaria@example.test", &change);
            assert!(!line.contains('\n'));
            assert_eq!(
                decode(&line),
                Some(("ana\tmaria@example.test".to_string(), change))
            );
        }
        assert_eq!(decode("someone\tteleport\t1"), None);
        assert_eq!(decode(""), None);
    }
}
