//! One copy of a mailbox's message records for every session that has it
//! selected.
//!
//! An IMAP session used to load its own list of the selected mailbox's
//! records (about 330 bytes a message), so 10,000 sessions on 1,000-message
//! INBOXes held 3.5 GB of copies of the same rows. A [`Snapshot`] is those
//! records at one mod-sequence, immutable and behind an `Arc`; [`Snapshots`]
//! hands the newest one of a mailbox to whoever asks and keeps only a weak
//! reference, so a snapshot goes with its last session. A change makes a new
//! snapshot from the last one (copy-on-write: the records that did not change
//! are shared between the two, by their own `Arc`), so a session can tell
//! what changed between the snapshot it has and the next one by comparing
//! pointers.
//!
//! What is a session's own (its sequence numbers, expunges it has not
//! reported, its `\Recent` messages, its own flag changes not yet in a
//! snapshot) stays in the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use havre_store::{MailboxRecord, MessageRecord, Store, StoreError};

/// A mailbox's messages as the store had them at [`Snapshot::modseq`].
#[derive(Debug)]
pub struct Snapshot {
    mailbox_id: i64,
    uidvalidity: u32,
    /// Every change up to this mod-sequence is in; a few later ones may be
    /// too (the store is read after the mod-sequence), which the next
    /// snapshot reads again.
    modseq: u64,
    /// In UID order, with `records` at the same index.
    uids: Vec<u32>,
    records: Vec<Arc<MessageRecord>>,
    max_modseq: u64,
}

impl Snapshot {
    /// Every message of `mailbox`, read from the store.
    async fn load(store: &dyn Store, mailbox: &MailboxRecord) -> Result<Snapshot, StoreError> {
        let list = store.message_list(mailbox.id).await?;
        let uids = list.iter().map(|m| m.uid).collect();
        Ok(Snapshot::new(
            mailbox,
            uids,
            list.into_iter().map(Arc::new).collect(),
        ))
    }

    /// This snapshot with what changed in the store since: changed and new
    /// messages read anew, expunged ones left out, the others shared.
    async fn advance(
        &self,
        store: &dyn Store,
        mailbox: &MailboxRecord,
    ) -> Result<Snapshot, StoreError> {
        // Changes before expunges: a message expunged between the two reads
        // is left out; one expunged before is not among the changes.
        let changes = store.message_changes(mailbox.id, self.modseq).await?;
        let expunged = store.expunged_since(mailbox.id, self.modseq).await?;
        let gone = |uid: u32| expunged.binary_search(&uid).is_ok();
        let mut uids = Vec::with_capacity(self.uids.len() + changes.len());
        let mut records = Vec::with_capacity(uids.capacity());
        let mut changes = changes.into_iter().filter(|c| !gone(c.uid)).peekable();
        for (uid, record) in self.uids.iter().zip(&self.records) {
            while let Some(change) = changes.next_if(|c| c.uid < *uid) {
                uids.push(change.uid);
                records.push(Arc::new(change));
            }
            if let Some(change) = changes.next_if(|c| c.uid == *uid) {
                uids.push(*uid);
                records.push(Arc::new(change));
            } else if !gone(*uid) {
                uids.push(*uid);
                records.push(record.clone());
            }
        }
        for change in changes {
            uids.push(change.uid);
            records.push(Arc::new(change));
        }
        Ok(Snapshot::new(mailbox, uids, records))
    }

    fn new(mailbox: &MailboxRecord, uids: Vec<u32>, records: Vec<Arc<MessageRecord>>) -> Snapshot {
        let max_modseq = records.iter().map(|m| m.modseq).max().unwrap_or(0);
        Snapshot {
            mailbox_id: mailbox.id,
            uidvalidity: mailbox.uidvalidity,
            modseq: mailbox.highestmodseq,
            uids,
            records,
            max_modseq,
        }
    }

    pub fn mailbox_id(&self) -> i64 {
        self.mailbox_id
    }

    pub fn modseq(&self) -> u64 {
        self.modseq
    }

    /// The UIDs of the messages, ascending.
    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    /// The records, in the order of [`Snapshot::uids`].
    pub fn records(&self) -> &[Arc<MessageRecord>] {
        &self.records
    }

    pub fn get(&self, uid: u32) -> Option<&Arc<MessageRecord>> {
        let at = self.uids.binary_search(&uid).ok()?;
        Some(&self.records[at])
    }

    /// The highest mod-sequence of a message in the snapshot.
    pub fn max_modseq(&self) -> u64 {
        self.max_modseq
    }

    /// Whether this snapshot can stand for `mailbox` as the store has it
    /// now (the same mailbox, UIDs of the same validity, nothing newer).
    fn serves(&self, mailbox: &MailboxRecord) -> bool {
        self.mailbox_id == mailbox.id
            && self.uidvalidity == mailbox.uidvalidity
            && self.modseq >= mailbox.highestmodseq
    }
}

/// One mailbox's place in the cache: held while its next snapshot is made,
/// so that sessions woken by the same change make it once.
type Slot = Arc<tokio::sync::Mutex<Weak<Snapshot>>>;

/// The newest snapshot of each mailbox some session has selected.
#[derive(Debug, Default)]
pub struct Snapshots {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    by_mailbox: HashMap<i64, Slot>,
    /// Slots of mailboxes nobody has selected any more are dropped when
    /// the map reaches this size.
    sweep_at: usize,
}

/// Below this many slots, none is swept.
const MIN_SWEEP: usize = 64;

impl Snapshots {
    /// A snapshot of `mailbox` holding at least every change up to its
    /// `highestmodseq` (read from the store by the caller): the cached one if
    /// it is recent enough, else one made from it (or from the store).
    pub async fn at_least(
        &self,
        store: &dyn Store,
        mailbox: &MailboxRecord,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let slot = self.slot(mailbox.id);
        let mut newest = slot.lock().await;
        let cached = newest.upgrade();
        if let Some(snapshot) = &cached
            && snapshot.serves(mailbox)
        {
            return Ok(snapshot.clone());
        }
        let next = match cached {
            Some(old) if old.uidvalidity == mailbox.uidvalidity => {
                old.advance(store, mailbox).await?
            }
            _ => Snapshot::load(store, mailbox).await?,
        };
        let next = Arc::new(next);
        *newest = Arc::downgrade(&next);
        Ok(next)
    }

    fn slot(&self, mailbox_id: i64) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.by_mailbox.get(&mailbox_id) {
            return slot.clone();
        }
        if slots.by_mailbox.len() >= slots.sweep_at.max(MIN_SWEEP) {
            // A slot someone holds, or whose snapshot lives, stays.
            slots.by_mailbox.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |w| w.strong_count() > 0)
            });
            slots.sweep_at = slots.by_mailbox.len() * 2;
        }
        let slot = Slot::default();
        slots.by_mailbox.insert(mailbox_id, slot.clone());
        slot
    }

    /// How many mailboxes have a live snapshot (tests, `havre who`-style
    /// diagnostics).
    pub fn live(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .by_mailbox
            .values()
            .filter(|slot| slot.try_lock().is_ok_and(|w| w.strong_count() > 0))
            .count()
    }
}
