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
    /// `* FLAGS` and `* OK [PERMANENTFLAGS]`: a keyword the client has not
    /// been told of is about to appear in a FETCH (RFC 9051 7.3.5).
    Keywords,
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
    /// The keywords the client was told of in FLAGS, in the order it learnt
    /// them; a keyword stays listed once used, as in Dovecot.
    keywords: Vec<String>,
    /// Messages whose new flags are not reported yet: a NOTIFY push without
    /// FlagChange leaves them for the next command.
    pending_flags: Vec<u32>,
    /// The searches kept up to date in this mailbox (RFC 5267); they end
    /// with the selection.
    pub(crate) contexts: crate::context::Contexts,
}

/// What an update pass may report now.
#[derive(Debug, Clone, Copy)]
pub struct Allow {
    /// EXPUNGE (not during FETCH, STORE, SEARCH by sequence number, nor in
    /// a NOTIFY push for `selected-delayed`).
    pub expunge: bool,
    /// FETCH FLAGS of others' changes (not in a NOTIFY push without
    /// FlagChange).
    pub flags: bool,
}

impl Allow {
    pub const ALL: Allow = Allow {
        expunge: true,
        flags: true,
    };
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
        let mut keywords = Vec::new();
        for message in &list {
            learn_keywords(&mut keywords, &message.flags);
        }
        Ok(View {
            mailbox,
            read_only,
            uids,
            messages: list.into_iter().map(|m| (m.uid, m)).collect(),
            known_modseq,
            pending_expunges: Vec::new(),
            reported_exists,
            keywords,
            pending_flags: Vec::new(),
            contexts: Default::default(),
        })
    }

    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    /// The keywords used in the mailbox that the client knows of.
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }

    /// Adds the keywords of `flags` the client does not know yet; true when
    /// there were some, and FLAGS must be sent before they are shown.
    pub fn learn_keywords(&mut self, flags: &[String]) -> bool {
        learn_keywords(&mut self.keywords, flags)
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

    /// The highest mod-sequence of a message in the view.
    pub fn max_modseq(&self) -> u64 {
        self.messages.values().map(|m| m.modseq).max().unwrap_or(0)
    }

    /// Reads what changed in the store. What `allow` holds back (expunges
    /// during FETCH, STORE, SEARCH by sequence number; flags in a NOTIFY
    /// push without FlagChange) is kept for a later pass.
    pub async fn poll(
        &mut self,
        store: &dyn Store,
        allow: Allow,
    ) -> Result<Vec<Update>, StoreError> {
        let allow_expunge = allow.expunge;
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
            let mut new_keywords = false;
            for change in changes {
                new_keywords |= learn_keywords(&mut self.keywords, &change.flags);
                match self.messages.get_mut(&change.uid) {
                    Some(known) => {
                        if known.flags != change.flags && !self.pending_flags.contains(&change.uid)
                        {
                            self.pending_flags.push(change.uid);
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
            if new_keywords {
                updates.insert(0, Update::Keywords);
            }
        }
        self.mailbox = fresh;
        if allow.flags {
            for uid in std::mem::take(&mut self.pending_flags) {
                if let Some(known) = self.messages.get(&uid) {
                    updates.push(Update::Flags {
                        seq: 0,
                        uid,
                        flags: known.flags.clone(),
                        modseq: known.modseq,
                    });
                }
            }
        }
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
                Update::Keywords => (0, 0),
                Update::Expunge { seq, .. } => (1, u32::MAX - seq),
                _ => (2, 0),
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
                .position(|u| !matches!(u, Update::Expunge { .. } | Update::Keywords))
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
        self.pending_flags.retain(|u| *u != uid);
        self.reported_exists = self.reported_exists.saturating_sub(1);
        Some(seq)
    }
}

/// Adds to `known` the keywords (flags without a backslash) of `flags` it
/// lacks, compared without case as IMAP does; true when it added some.
fn learn_keywords(known: &mut Vec<String>, flags: &[String]) -> bool {
    let mut added = false;
    for flag in flags {
        if !flag.starts_with('\\') && !has_flag(known, flag) {
            known.push(flag.clone());
            added = true;
        }
    }
    added
}

pub fn has_flag(flags: &[String], flag: &str) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

#[cfg(test)]
mod tests {
    use super::learn_keywords;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_keywords_the_client_has_not_heard_of_need_an_announcement() {
        let mut known = strings(&["$Important"]);
        assert!(!learn_keywords(
            &mut known,
            &strings(&["\\Seen", "$important"])
        ));
        assert!(learn_keywords(
            &mut known,
            &strings(&["\\Flagged", "$Work"])
        ));
        assert_eq!(known, strings(&["$Important", "$Work"]));
        assert!(!learn_keywords(&mut known, &strings(&["$WORK"])));
    }
}
