//! NOTIFY (RFC 5465): what a client asked to hear of, and telling it.
//!
//! The session reads its user's changes ([`havre_mailbox::Change`]) while
//! it waits for a command, in IDLE and at the end of every command, and
//! writes for each event a group of the client's NOTIFY wants:
//! - another mailbox's messages (MessageNew, MessageExpunge, FlagChange):
//!   `* STATUS name (MESSAGES UIDNEXT UNSEEN [HIGHESTMODSEQ])`, or
//!   `(UNSEEN [HIGHESTMODSEQ])` for flags, one per mailbox per pass;
//! - MailboxName: `* LIST () "/" name`, with `\NonExistent` once deleted
//!   and `("OLDNAME" (old))` after a rename;
//! - SubscriptionChange: `* LIST (\Subscribed) "/" name`, or `()` when
//!   unsubscribed;
//! - the selected mailbox (`selected`, `selected-delayed`): its EXISTS,
//!   EXPUNGE (held back under `selected-delayed` until a command allows
//!   them), FETCH FLAGS (with FlagChange) and the FETCH of MessageNew's
//!   attributes (as if `.PEEK`: a notification never marks mail seen),
//!   pushed as they happen while no command runs.
//!
//! Whatever NOTIFY says, the selected mailbox's updates are still written
//! at the end of each command as IMAP requires, so sequence numbers stay
//! the client's. Events are those of this node's own sessions, deliveries
//! and CLI (one process); a change made by another node is seen at the
//! selected mailbox's next poll only.
//!
//! A session that falls more than the user's change channel holds behind
//! (a long command while another session makes many changes) cannot say
//! what it missed: it writes `* OK [NOTIFICATIONOVERFLOW]` and stops
//! notifying, as if NOTIFY NONE, until the client sets NOTIFY again.

use std::collections::BTreeMap;

use havre_imap_proto::{
    Code, EventGroup, FetchAttr, FetchCommand, ListExtra, MailboxAttr, NotifyEvent, NotifyFilter,
    NotifySet, SequenceSet, Status, StatusItem,
};
use havre_mailbox::{Change, MessageChange, normalize_name};
use havre_net::Conn;
use tokio::sync::broadcast::error::TryRecvError;

use crate::list::DELIMITER;
use crate::session::{Outcome, Session};
use crate::view::Allow;

/// At most this many mailbox names in one NOTIFY (Dovecot's limit too);
/// more is `NO [NOTIFICATIONOVERFLOW]`.
const MAX_NAMES: usize = 100;

/// The events havre reports, as BADEVENT lists them.
const SUPPORTED: [&str; 5] = [
    "MessageNew",
    "MessageExpunge",
    "FlagChange",
    "MailboxName",
    "SubscriptionChange",
];

/// What the client wants to hear of.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notify {
    /// The selected mailbox's events, if a `selected` group asked for any.
    selected: Option<SelectedWatch>,
    /// The other groups, in the client's order: the first whose mailboxes
    /// match decides (its NONE included).
    groups: Vec<Watch>,
}

#[derive(Debug, Clone)]
struct SelectedWatch {
    /// `selected-delayed`: expunges wait for a command.
    delayed: bool,
    flags: bool,
    /// MessageNew's attributes (fetched without setting `\Seen`).
    fetch: Vec<FetchAttr>,
}

#[derive(Debug, Clone)]
struct Watch {
    filter: Filter,
    /// `None` for NONE.
    events: Option<Events>,
}

#[derive(Debug, Clone)]
enum Filter {
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<String>),
    Mailboxes(Vec<String>),
}

#[derive(Debug, Clone, Copy, Default)]
struct Events {
    messages: bool,
    flags: bool,
    names: bool,
    subscriptions: bool,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Messages,
    Flags,
    Names,
    Subscriptions,
}

impl Events {
    fn has(&self, kind: Kind) -> bool {
        match kind {
            Kind::Messages => self.messages,
            Kind::Flags => self.flags,
            Kind::Names => self.names,
            Kind::Subscriptions => self.subscriptions,
        }
    }
}

impl Filter {
    fn matches(&self, name: &str, subscribed: &[String]) -> bool {
        match self {
            // Mail is delivered to INBOX only (no rules file into others).
            Filter::Inboxes => name == "INBOX",
            Filter::Personal => true,
            Filter::Subscribed => subscribed.iter().any(|s| s == name),
            Filter::Subtree(roots) => roots.iter().any(|root| {
                name == root
                    || name
                        .strip_prefix(root.as_str())
                        .is_some_and(|rest| rest.starts_with(DELIMITER))
            }),
            Filter::Mailboxes(names) => names.iter().any(|n| n == name),
        }
    }
}

impl Notify {
    /// Whether an event of `kind` about mailbox `name` is wanted.
    fn wants(&self, name: &str, kind: Kind, subscribed: &[String]) -> bool {
        for group in &self.groups {
            if !group.filter.matches(name, subscribed) {
                continue;
            }
            match &group.events {
                None => return false,
                Some(events) if events.has(kind) => return true,
                Some(_) => {}
            }
        }
        false
    }

    fn needs_subscriptions(&self) -> bool {
        self.groups
            .iter()
            .any(|g| matches!(g.filter, Filter::Subscribed))
    }

    fn watches_messages(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g.events.is_some_and(|e| e.messages || e.flags))
    }
}

/// The request as the session keeps it, or the NO it deserves.
fn compile(set: NotifySet) -> Result<Notify, Outcome> {
    let unsupported = set
        .groups
        .iter()
        .flat_map(|g| g.events.iter().flatten())
        .any(|e| {
            matches!(
                e,
                NotifyEvent::AnnotationChange
                    | NotifyEvent::MailboxMetadataChange
                    | NotifyEvent::ServerMetadataChange
                    | NotifyEvent::Other(_)
            )
        });
    if unsupported {
        return Err(Outcome::no_code(
            Code::BadEvent(SUPPORTED.iter().map(|s| s.to_string()).collect()),
            "Unsupported NOTIFY event.",
        ));
    }
    let names: usize = set
        .groups
        .iter()
        .map(|g| match &g.filter {
            NotifyFilter::Subtree(n) | NotifyFilter::Mailboxes(n) => n.len(),
            _ => 0,
        })
        .sum();
    if names > MAX_NAMES {
        return Err(Outcome::no_code(
            Code::NotificationOverflow,
            "Too many mailbox names.",
        ));
    }
    let mut notify = Notify::default();
    for EventGroup { filter, events } in set.groups {
        let mut wanted = Events::default();
        let mut fetch = Vec::new();
        for event in events.iter().flatten() {
            match event {
                NotifyEvent::MessageNew(items) => {
                    wanted.messages = true;
                    fetch = items.clone();
                }
                NotifyEvent::MessageExpunge => wanted.messages = true,
                NotifyEvent::FlagChange => wanted.flags = true,
                NotifyEvent::MailboxName => wanted.names = true,
                NotifyEvent::SubscriptionChange => wanted.subscriptions = true,
                _ => {}
            }
        }
        let names = |list: Vec<havre_imap_proto::Mailbox>| -> Vec<String> {
            list.iter().map(|m| normalize_name(m.as_str())).collect()
        };
        let filter = match filter {
            NotifyFilter::Selected | NotifyFilter::SelectedDelayed => {
                // NONE for the selected mailbox is the default.
                if events.is_some() {
                    notify.selected = Some(SelectedWatch {
                        delayed: filter == NotifyFilter::SelectedDelayed,
                        flags: wanted.flags,
                        fetch,
                    });
                }
                continue;
            }
            NotifyFilter::Inboxes => Filter::Inboxes,
            NotifyFilter::Personal => Filter::Personal,
            NotifyFilter::Subscribed => Filter::Subscribed,
            NotifyFilter::Subtree(list) => Filter::Subtree(names(list)),
            NotifyFilter::Mailboxes(list) => Filter::Mailboxes(names(list)),
        };
        notify.groups.push(Watch {
            filter,
            events: events.map(|_| wanted),
        });
    }
    Ok(notify)
}

impl Session {
    /// NOTIFY NONE / NOTIFY SET (RFC 5465 3).
    pub(crate) async fn notify_command(&mut self, set: Option<NotifySet>) -> Outcome {
        // What happened before this NOTIFY is not its news.
        self.take_changes();
        let Some(set) = set else {
            self.notify = None;
            return Outcome::ok("NOTIFY completed.");
        };
        let status = set.status;
        let notify = match compile(set) {
            Ok(n) => n,
            Err(o) => return o,
        };
        if status && notify.watches_messages() {
            let Ok(mailboxes) = self.services.mailboxes.list(self.user()).await else {
                return Outcome::no_code(Code::ServerBug, "Cannot list mailboxes.");
            };
            let subscribed = self.subscriptions_for(&notify).await;
            let selected = self.selected.as_ref().map(|v| v.mailbox.id);
            for mailbox in mailboxes {
                if Some(mailbox.id) == selected
                    || !(notify.wants(&mailbox.name, Kind::Messages, &subscribed)
                        || notify.wants(&mailbox.name, Kind::Flags, &subscribed))
                {
                    continue;
                }
                // As Dovecot: UIDVALIDITY too, so a client can trust its cache.
                let mut items = self.status_items(Kind::Messages);
                items.insert(2, StatusItem::UidValidity);
                let values = self.status_values(&mailbox, &items).await;
                self.out.status(&mailbox.name, &values);
            }
        }
        self.notify = Some(notify);
        Outcome::ok("NOTIFY completed.")
    }

    async fn subscriptions_for(&self, notify: &Notify) -> Vec<String> {
        if !notify.needs_subscriptions() {
            return Vec::new();
        }
        self.subscription_list().await.unwrap_or_default()
    }

    fn status_items(&self, kind: Kind) -> Vec<StatusItem> {
        let mut items = match kind {
            Kind::Flags => vec![StatusItem::Unseen],
            _ => vec![
                StatusItem::Messages,
                StatusItem::UidNext,
                StatusItem::Unseen,
            ],
        };
        if self.enabled.condstore {
            items.push(StatusItem::HighestModSeq);
        }
        items
    }

    /// The changes the session has not read yet; `None` when it fell too
    /// far behind to know them all.
    fn take_changes(&mut self) -> Option<Vec<Change>> {
        let receiver = self.changes.as_mut()?;
        let mut changes = Vec::new();
        let mut lagged = false;
        loop {
            match receiver.try_recv() {
                Ok(change) => changes.push(change),
                Err(TryRecvError::Lagged(_)) => lagged = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if std::mem::take(&mut self.lagged) || lagged {
            None
        } else {
            Some(changes)
        }
    }

    /// Writes what NOTIFY asks about the changes not yet read (`first`: one
    /// already taken off the channel). Returns whether the selected
    /// mailbox's messages changed, for a push.
    pub(crate) async fn notify_changes(&mut self, first: Option<Change>) -> bool {
        let Some(changes) = self.take_changes() else {
            if self.notify.take().is_some() {
                self.out.untagged(
                    Status::Ok,
                    Some(&Code::NotificationOverflow),
                    "Too many events: NOTIFY is off, set it again.",
                );
            }
            // Whatever was missed, the selected mailbox is looked at.
            return true;
        };
        let changes: Vec<Change> = first.into_iter().chain(changes).collect();
        if changes.is_empty() {
            return false;
        }
        let selected = self.selected.as_ref().map(|v| v.mailbox.id);
        let touches_selected = changes
            .iter()
            .any(|c| c.messages_of().is_some() && c.messages_of() == selected);
        let Some(notify) = self.notify.clone() else {
            return touches_selected;
        };
        let subscribed = self.subscriptions_for(&notify).await;
        // One STATUS per mailbox and pass, for all its message changes.
        let mut statuses: BTreeMap<i64, Kind> = BTreeMap::new();
        for change in changes {
            match change {
                Change::Messages { mailbox, what } => {
                    if Some(mailbox) == selected || !notify.watches_messages() {
                        continue;
                    }
                    let kind = match what {
                        MessageChange::Flags => Kind::Flags,
                        MessageChange::New | MessageChange::Expunged => Kind::Messages,
                    };
                    let entry = statuses.entry(mailbox).or_insert(kind);
                    if matches!(kind, Kind::Messages) {
                        *entry = Kind::Messages;
                    }
                }
                Change::Mailbox {
                    name,
                    old_name,
                    deleted,
                } => {
                    let wanted = notify.wants(&name, Kind::Names, &subscribed)
                        || old_name
                            .as_deref()
                            .is_some_and(|old| notify.wants(old, Kind::Names, &subscribed));
                    if !wanted {
                        continue;
                    }
                    let attrs: &[MailboxAttr] = if deleted {
                        &[MailboxAttr::NonExistent]
                    } else {
                        &[]
                    };
                    self.out.list_extended(
                        attrs,
                        Some(DELIMITER),
                        &name,
                        &ListExtra {
                            old_name: old_name.as_deref(),
                            ..Default::default()
                        },
                    );
                }
                Change::Subscription {
                    name,
                    subscribed: on,
                } => {
                    // The list read above already has the change: a name
                    // just unsubscribed is matched as it was.
                    let mut before = subscribed.clone();
                    if !on {
                        before.push(name.clone());
                    }
                    if !notify.wants(&name, Kind::Subscriptions, &before) {
                        continue;
                    }
                    let attrs: &[MailboxAttr] = if on { &[MailboxAttr::Subscribed] } else { &[] };
                    self.out.list(attrs, Some(DELIMITER), &name);
                }
            }
        }
        let store = self.services.mailboxes.store().clone();
        for (id, kind) in statuses {
            let Ok(Some(mailbox)) = store.mailbox_by_id(id).await else {
                continue;
            };
            if !notify.wants(&mailbox.name, kind, &subscribed) {
                continue;
            }
            let items = self.status_items(kind);
            let values = self.status_values(&mailbox, &items).await;
            self.out.status(&mailbox.name, &values);
        }
        touches_selected
    }

    /// A NOTIFY push while no command runs: other mailboxes' events, and
    /// the selected mailbox's as its `selected` group asks.
    pub(crate) async fn push_notifications(&mut self, conn: &mut Conn, first: Option<Change>) {
        let touches_selected = self.notify_changes(first).await;
        let watch = self.notify.as_ref().and_then(|n| n.selected.clone());
        if let (true, Some(watch)) = (touches_selected, watch)
            && self.selected.is_some()
        {
            let before = self.selected.as_ref().map_or(0, |v| v.max_uid());
            self.send_updates_with(Allow {
                expunge: !watch.delayed,
                flags: watch.flags,
            })
            .await;
            let after = self.selected.as_ref().map_or(0, |v| v.max_uid());
            let new = SequenceSet::parse_str(&format!("{}:{after}", before + 1));
            if let (true, false, Ok(set)) = (after > before, watch.fetch.is_empty(), new) {
                // By UID: the new messages, whatever their numbers are.
                let fetch = FetchCommand {
                    uid: true,
                    set,
                    items: watch.fetch,
                    changed_since: None,
                    vanished: false,
                };
                // A message expunged meanwhile is simply not shown.
                let _ = self.fetch_with(conn, fetch, false).await;
            }
        }
    }
}
