//! Users' INBOX records, kept for deliveries. Every delivery needs its
//! recipient's INBOX (the id its index row goes under), and reading it was
//! a trip to the store's reader thread per message. An INBOX is never
//! renamed nor deleted ([`crate::Mailboxes::delete`] and `rename` refuse),
//! so its id changes only when its user is removed and made again, maybe by
//! another process (`havre user`): a delivery whose index row was not
//! committed forgets its user's entry (see `Staged`), and the next one reads
//! the record again.
//!
//! A kept record's `uidnext` and `highestmodseq` are those of its first
//! read: deliveries use its id and name only, and what checks more (the
//! `dovecot-uidlist` against the index) reads the record afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use havre_store::MailboxRecord;

/// Beyond this many users the map starts over: a bound, not a policy (a
/// node delivering to more users than that reads their INBOX again now and
/// then).
const KEPT: usize = 20_000;

#[derive(Default)]
pub(crate) struct Inboxes {
    by_user: Mutex<HashMap<String, MailboxRecord>>,
}

impl Inboxes {
    pub(crate) fn get(&self, user: &str) -> Option<MailboxRecord> {
        self.lock().get(user).cloned()
    }

    pub(crate) fn keep(&self, inbox: &MailboxRecord) {
        let mut by_user = self.lock();
        if by_user.len() >= KEPT {
            by_user.clear();
        }
        by_user.insert(inbox.user.clone(), inbox.clone());
    }

    pub(crate) fn forget(&self, user: &str) {
        self.lock().remove(user);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MailboxRecord>> {
        self.by_user.lock().unwrap_or_else(|e| e.into_inner())
    }
}
