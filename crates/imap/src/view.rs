//! The selected mailbox as one session sees it: message sequence numbers,
//! UIDs, flags and mod-sequences, and what changed since the client last heard.
//!
//! Sequence numbers are per session (RFC 9051 2.3.1.2): they only shift when
//! this session reports an EXPUNGE. So the view keeps its own list of UIDs and
//! learns about the store's changes through [`View::poll`], which the session
//! calls where the protocol allows updates.

use std::collections::HashMap;

use havre_store::{MailboxRecord, MessageRecord, Store, StoreError};

/// One untagged update owed to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// `* n EXPUNGE` (sequence number at the time it is sent).
    Expunge { seq: u32, uid: u32 },
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n FETCH (UID u FLAGS (...) [MODSEQ (m)])`.
    Flags {
        seq: u32,
        uid: u32,
        flags: Vec<String>,
        modseq: u64,
    },
}

#[derive(Debug, Clone)]
pub struct View {
    pub mailbox: MailboxRecord,
    pub read_only: bool,
    /// UIDs in sequence order (sequence number = index + 1).
    uids: Vec<u32>,
    messages: HashMap<u32, MessageRecord>,
    /// The highest mod-sequence whose changes the client has been told of.
    pub known_modseq: u64,
    /// Expunges seen in the store but not yet reported (they must wait while
    /// a sequence-number command runs).
    pending_expunges: Vec<u32>,
    /// The message count the client believes in (EXISTS minus EXPUNGEs sent).
    reported_exists: u32,
}

impl View {
    pub async fn open(
        store: &dyn Store,
        mailbox: MailboxRecord,
        read_only: bool,
    ) -> Result<View, StoreError> {
        let list = store.message_list(mailbox.id).await?;
        let uids: Vec<u32> = list.iter().map(|m| m.uid).collect();
        let known_modseq = mailbox.highestmodseq;
        let reported_exists = uids.len() as u32;
        Ok(View {
            mailbox,
            read_only,
            uids,
            messages: list.into_iter().map(|m| (m.uid, m)).collect(),
            known_modseq,
            pending_expunges: Vec::new(),
            reported_exists,
        })
    }

    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    pub fn uids(&self) -> &[u32] {
        &self.uids
    }

    pub fn uid_of(&self, seq: u32) -> Option<u32> {
        self.uids.get((seq as usize).checked_sub(1)?).copied()
    }

    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    pub fn message(&self, uid: u32) -> Option<&MessageRecord> {
        self.messages.get(&uid)
    }

    pub fn message_mut(&mut self, uid: u32) -> Option<&mut MessageRecord> {
        self.messages.get_mut(&uid)
    }

    /// The largest UID, or 0 for an empty mailbox (for `*` in UID sets).
    pub fn max_uid(&self) -> u32 {
        self.uids.last().copied().unwrap_or(0)
    }

    pub fn unseen(&self) -> usize {
        self.messages
            .values()
            .filter(|m| !has_flag(&m.flags, "\\Seen"))
            .count()
    }

    pub fn first_unseen_seq(&self) -> Option<u32> {
        self.uids
            .iter()
            .position(|uid| {
                self.messages
                    .get(uid)
                    .is_some_and(|m| !has_flag(&m.flags, "\\Seen"))
            })
            .map(|i| i as u32 + 1)
    }

    /// Reads what changed in the store. With `allow_expunge` false (during
    /// FETCH, STORE, SEARCH by sequence number) expunges are kept for later.
    pub async fn poll(
        &mut self,
        store: &dyn Store,
        allow_expunge: bool,
    ) -> Result<Vec<Update>, StoreError> {
        let mut updates = Vec::new();
        let Some(fresh) = store.mailbox_by_id(self.mailbox.id).await? else {
            return Ok(updates);
        };
        if fresh.highestmodseq > self.known_modseq {
            for uid in store
                .expunged_since(self.mailbox.id, self.known_modseq)
                .await?
            {
                if self.messages.contains_key(&uid) && !self.pending_expunges.contains(&uid) {
                    self.pending_expunges.push(uid);
                }
            }
            let changes = store
                .message_changes(self.mailbox.id, self.known_modseq)
                .await?;
            let mut added = false;
            for change in changes {
                match self.messages.get_mut(&change.uid) {
                    Some(known) => {
                        if known.flags != change.flags {
                            updates.push(Update::Flags {
                                seq: 0,
                                uid: change.uid,
                                flags: change.flags.clone(),
                                modseq: change.modseq,
                            });
                        }
                        *known = change;
                    }
                    None => {
                        // Not in the view: a new message (expunged ones are
                        // no longer in the store's changes).
                        self.uids.push(change.uid);
                        self.messages.insert(change.uid, change);
                        added = true;
                    }
                }
            }
            if added {
                self.uids.sort_unstable();
            }
            self.known_modseq = fresh.highestmodseq;
        }
        self.mailbox = fresh;
        if allow_expunge && !self.pending_expunges.is_empty() {
            let mut gone = std::mem::take(&mut self.pending_expunges);
            gone.sort_unstable();
            // Highest first: each EXPUNGE leaves the lower numbers unchanged.
            for uid in gone.into_iter().rev() {
                if let Some(seq) = self.seq_of(uid) {
                    self.uids.remove(seq as usize - 1);
                    self.messages.remove(&uid);
                    self.reported_exists = self.reported_exists.saturating_sub(1);
                    updates.insert(0, Update::Expunge { seq, uid });
                }
            }
            // Keep expunges first, highest sequence number first.
            updates.sort_by_key(|u| match u {
                Update::Expunge { seq, .. } => (0, u32::MAX - seq),
                _ => (1, 0),
            });
        }
        let exists = self.exists();
        for update in updates.iter_mut() {
            if let Update::Flags { seq, uid, .. } = update {
                *seq = self.seq_of(*uid).unwrap_or(0);
            }
        }
        updates.retain(|u| !matches!(u, Update::Flags { seq: 0, .. }));
        // New messages are only announced after the expunges, and only when
        // the count the client knows differs (RFC 9051 7.4.1).
        if exists != self.reported_exists {
            let insert_at = updates
                .iter()
                .position(|u| !matches!(u, Update::Expunge { .. }))
                .unwrap_or(updates.len());
            updates.insert(insert_at, Update::Exists(exists));
            self.reported_exists = exists;
        }
        Ok(updates)
    }

    /// Forgets messages this session expunged itself (it reports them).
    pub fn remove(&mut self, uid: u32) -> Option<u32> {
        let seq = self.seq_of(uid)?;
        self.uids.remove(seq as usize - 1);
        self.messages.remove(&uid);
        self.pending_expunges.retain(|u| *u != uid);
        self.reported_exists = self.reported_exists.saturating_sub(1);
        Some(seq)
    }
}

pub fn has_flag(flags: &[String], flag: &str) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}
