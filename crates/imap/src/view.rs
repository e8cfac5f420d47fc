//! The selected mailbox as one session sees it: message sequence numbers,
//! UIDs, flags and mod-sequences, and what changed since the client last heard.
//!
//! Sequence numbers are per session (RFC 9051 2.3.1.2): they only shift when
//! this session reports an EXPUNGE. So the view keeps its own list of UIDs and
//! learns about the store's changes through [`View::poll`], which the session
//! calls where the protocol allows updates.

use std::collections::HashMap;
use std::sync::Arc;

use havre_mailbox::{MailboxError, Mailboxes, Snapshot};
use havre_store::{MailboxRecord, MessageRecord};

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

/// The message records come from a [`Snapshot`] shared with every session
/// that has the mailbox selected; the view keeps only what differs for this
/// session, which is empty while it idles.
#[derive(Debug, Clone)]
pub struct View {
    pub mailbox: MailboxRecord,
    pub read_only: bool,
    snapshot: Arc<Snapshot>,
    /// UIDs in sequence order (sequence number = index + 1) when they are
    /// not the snapshot's: expunges not reported yet, or reported ones the
    /// snapshot does not know of yet.
    own_uids: Option<Vec<u32>>,
    /// Records this session sees otherwise than the snapshot: its own flag
    /// changes newer than the snapshot, and the messages expunged from the
    /// store that the client has not been told of (they can still be
    /// fetched).
    own_records: HashMap<u32, MessageRecord>,
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
        mailboxes: &Mailboxes,
        mailbox: MailboxRecord,
        read_only: bool,
    ) -> Result<View, MailboxError> {
        let snapshot = mailboxes.snapshot(&mailbox).await?;
        let mut keywords = Vec::new();
        for message in snapshot.records() {
            learn_keywords(&mut keywords, &message.flags);
        }
        Ok(View {
            mailbox,
            read_only,
            known_modseq: snapshot.modseq(),
            reported_exists: snapshot.uids().len() as u32,
            snapshot,
            own_uids: None,
            own_records: HashMap::new(),
            pending_expunges: Vec::new(),
            keywords,
            pending_flags: Vec::new(),
            contexts: Default::default(),
        })
    }

    pub fn exists(&self) -> u32 {
        self.uids().len() as u32
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
        self.own_uids
            .as_deref()
            .unwrap_or_else(|| self.snapshot.uids())
    }

    pub fn uid_of(&self, seq: u32) -> Option<u32> {
        self.uids().get((seq as usize).checked_sub(1)?).copied()
    }

    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids().binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    pub fn message(&self, uid: u32) -> Option<&MessageRecord> {
        if let Some(own) = self.own_records.get(&uid) {
            return Some(own);
        }
        if self
            .own_uids
            .as_ref()
            .is_some_and(|own| own.binary_search(&uid).is_err())
        {
            return None;
        }
        self.snapshot.get(uid).map(|m| m.as_ref())
    }

    /// Records this session's own flag change (STORE, FETCH setting
    /// `\Seen`): the client knows of it before the next snapshot does.
    pub fn set_flags(&mut self, uid: u32, flags: &[String], modseq: u64) {
        let Some(current) = self.message(uid) else {
            return;
        };
        if current.flags == flags && current.modseq == modseq {
            return;
        }
        let mut record = current.clone();
        record.flags = flags.to_vec();
        record.modseq = modseq;
        self.own_records.insert(uid, record);
    }

    /// The largest UID, or 0 for an empty mailbox (for `*` in UID sets).
    pub fn max_uid(&self) -> u32 {
        self.uids().last().copied().unwrap_or(0)
    }

    fn records(&self) -> impl Iterator<Item = &MessageRecord> {
        self.uids().iter().filter_map(|uid| self.message(*uid))
    }

    pub fn unseen(&self) -> usize {
        self.records()
            .filter(|m| !has_flag(&m.flags, "\\Seen"))
            .count()
    }

    pub fn first_unseen_seq(&self) -> Option<u32> {
        self.records()
            .position(|m| !has_flag(&m.flags, "\\Seen"))
            .map(|i| i as u32 + 1)
    }

    /// The highest mod-sequence of a message in the view.
    pub fn max_modseq(&self) -> u64 {
        if self.own_uids.is_none() && self.own_records.is_empty() {
            return self.snapshot.max_modseq();
        }
        self.records().map(|m| m.modseq).max().unwrap_or(0)
    }

    /// Reads what changed in the store. What `allow` holds back (expunges
    /// during FETCH, STORE, SEARCH by sequence number; flags in a NOTIFY
    /// push without FlagChange) is kept for a later pass.
    pub async fn poll(
        &mut self,
        mailboxes: &Mailboxes,
        allow: Allow,
    ) -> Result<Vec<Update>, MailboxError> {
        let allow_expunge = allow.expunge;
        let mut updates = Vec::new();
        let Some(fresh) = mailboxes.store().mailbox_by_id(self.mailbox.id).await? else {
            return Ok(updates);
        };
        if fresh.highestmodseq > self.known_modseq {
            let next = mailboxes.snapshot(&fresh).await?;
            if self.adopt(next) {
                updates.insert(0, Update::Keywords);
            }
        }
        self.mailbox = fresh;
        if allow.flags {
            for uid in std::mem::take(&mut self.pending_flags) {
                if let Some(known) = self.message(uid) {
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
                if let Some(seq) = self.forget(uid) {
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

    /// Moves the view onto a newer snapshot, noting what the client must
    /// hear of: messages gone from it (kept until their EXPUNGE may be
    /// sent), messages whose flags differ from what this session had, and
    /// new messages (which join the sequence numbers at once). True when a
    /// keyword the client does not know appeared.
    fn adopt(&mut self, next: Arc<Snapshot>) -> bool {
        let old = std::mem::replace(&mut self.snapshot, next.clone());
        self.known_modseq = self.known_modseq.max(next.modseq());
        if Arc::ptr_eq(&old, &next) {
            return false;
        }
        let own_uids = self.own_uids.take();
        let mine = own_uids.as_deref().unwrap_or_else(|| old.uids());
        let (theirs, records) = (next.uids(), next.records());
        let mut new_keywords = false;
        let mut kept = Vec::new();
        // The old snapshot's record of a UID, looked up in UID order.
        let mut cursor = 0;
        let mut old_record = |uid: u32| {
            while old.uids().get(cursor).is_some_and(|u| *u < uid) {
                cursor += 1;
            }
            (old.uids().get(cursor) == Some(&uid)).then(|| &old.records()[cursor])
        };
        let (mut i, mut j) = (0, 0);
        loop {
            match (mine.get(i).copied(), theirs.get(j).copied()) {
                (None, None) => break,
                (Some(uid), next_uid) if next_uid.is_none_or(|n| uid < n) => {
                    // Expunged in the store: still shown until reported.
                    if !self.own_records.contains_key(&uid)
                        && let Some(record) = old_record(uid)
                    {
                        self.own_records.insert(uid, record.as_ref().clone());
                    }
                    if !self.pending_expunges.contains(&uid) {
                        self.pending_expunges.push(uid);
                    }
                    kept.push(uid);
                    i += 1;
                }
                (mine_uid, Some(_)) if mine_uid.is_none_or(|m| theirs[j] < m) => {
                    // A new message.
                    new_keywords |= learn_keywords(&mut self.keywords, &records[j].flags);
                    j += 1;
                }
                (Some(uid), Some(_)) => {
                    let fresh = &records[j];
                    let before = old_record(uid);
                    let own = self.own_records.get(&uid);
                    let shared = own.is_none() && before.is_some_and(|b| Arc::ptr_eq(b, fresh));
                    if !shared {
                        let known = own.or(before.map(|b| b.as_ref()));
                        if known.is_some_and(|k| k.flags != fresh.flags)
                            && !self.pending_flags.contains(&uid)
                        {
                            self.pending_flags.push(uid);
                        }
                        new_keywords |= learn_keywords(&mut self.keywords, &fresh.flags);
                        // The snapshot caught up with this session's change.
                        if own.is_some_and(|o| fresh.modseq >= o.modseq) {
                            self.own_records.remove(&uid);
                        }
                    }
                    i += 1;
                    j += 1;
                }
                (None, Some(_)) | (Some(_), None) => unreachable!("matched above"),
            }
        }
        if !kept.is_empty() {
            let mut uids = Vec::with_capacity(theirs.len() + kept.len());
            uids.extend_from_slice(theirs);
            uids.extend_from_slice(&kept);
            uids.sort_unstable();
            self.own_uids = Some(uids);
        }
        new_keywords
    }

    /// Takes `uid` out of the sequence numbers; its former number.
    fn forget(&mut self, uid: u32) -> Option<u32> {
        let seq = self.seq_of(uid)?;
        let snapshot = &self.snapshot;
        let uids = self
            .own_uids
            .get_or_insert_with(|| snapshot.uids().to_vec());
        uids.remove(seq as usize - 1);
        if uids.as_slice() == snapshot.uids() {
            self.own_uids = None;
        }
        self.own_records.remove(&uid);
        Some(seq)
    }

    /// Forgets messages this session expunged itself (it reports them).
    pub fn remove(&mut self, uid: u32) -> Option<u32> {
        let seq = self.forget(uid)?;
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
    use std::sync::Arc;

    use havre_mailbox::Mailboxes;
    use havre_store::{FlagMode, MailboxRecord, SqliteStore};

    use super::{Allow, Update, View, learn_keywords};

    const USER: &str = "alice@example.test";

    /// An INBOX with messages 1, 2 and 3.
    async fn inbox() -> (tempfile::TempDir, Mailboxes, MailboxRecord) {
        let dir = tempfile::tempdir().unwrap();
        let template = format!("{}/%d/%n", dir.path().display());
        let store = Arc::new(SqliteStore::memory().await.unwrap());
        let mailboxes = Mailboxes::new(store, template, "mx.example.test");
        mailboxes.ensure_defaults(USER).await.unwrap();
        let inbox = mailboxes.get(USER, "INBOX").await.unwrap().unwrap();
        for n in 1..=3 {
            let message = format!("Subject: {n}\r\n\r\n{n}\r\n").into_bytes();
            mailboxes
                .append(USER, &inbox, message, Vec::new(), None)
                .await
                .unwrap();
        }
        let inbox = mailboxes.get(USER, "INBOX").await.unwrap().unwrap();
        (dir, mailboxes, inbox)
    }

    /// What the view holds of its own besides the shared snapshot.
    fn own_state(view: &View) -> (bool, usize) {
        (view.own_uids.is_some(), view.own_records.len())
    }

    const HOLD_EXPUNGES: Allow = Allow {
        expunge: false,
        flags: true,
    };

    #[tokio::test]
    async fn two_sessions_on_a_mailbox_share_its_records_and_own_nothing_while_idle() {
        let (_dir, mailboxes, inbox) = inbox().await;
        let one = View::open(&mailboxes, inbox.clone(), false).await.unwrap();
        let two = View::open(&mailboxes, inbox, false).await.unwrap();
        assert!(Arc::ptr_eq(&one.snapshot, &two.snapshot));
        assert_eq!(own_state(&one), (false, 0));
        assert_eq!(one.uids(), [1, 2, 3]);
        assert_eq!(one.message(2).unwrap().uid, 2);
    }

    #[tokio::test]
    async fn an_expunge_by_another_session_waits_with_its_record_then_the_view_shares_again() {
        let (_dir, mailboxes, inbox) = inbox().await;
        let mut view = View::open(&mailboxes, inbox.clone(), false).await.unwrap();
        let second = view.message(2).unwrap().clone();
        mailboxes.expunge(USER, &inbox, &[second]).await.unwrap();
        // During a FETCH: the message keeps its number and can be fetched.
        let held = view.poll(&mailboxes, HOLD_EXPUNGES).await.unwrap();
        assert_eq!(held, []);
        assert_eq!(view.uids(), [1, 2, 3]);
        assert_eq!(view.seq_of(3), Some(3));
        assert_eq!(view.message(2).unwrap().uid, 2);
        assert_eq!(view.snapshot.uids(), [1, 3]);
        assert_eq!(own_state(&view), (true, 1));
        // At the next command that allows it.
        let updates = view.poll(&mailboxes, Allow::ALL).await.unwrap();
        assert_eq!(updates, [Update::Expunge { seq: 2, uid: 2 }]);
        assert_eq!(view.uids(), [1, 3]);
        assert!(view.message(2).is_none());
        assert_eq!(own_state(&view), (false, 0));
    }

    #[tokio::test]
    async fn a_sessions_own_flag_change_is_not_reported_back_but_anothers_is() {
        let (_dir, mailboxes, inbox) = inbox().await;
        let mut mine = View::open(&mailboxes, inbox.clone(), false).await.unwrap();
        let mut theirs = View::open(&mailboxes, inbox.clone(), false).await.unwrap();
        let seen = ["\\Seen".to_string()];
        let done = mailboxes
            .update_flags(USER, &inbox, &[1], FlagMode::Add, &seen, None)
            .await
            .unwrap();
        let modseq = done.changed[0].modseq;
        mine.set_flags(1, &seen, modseq);
        assert_eq!(mine.message(1).unwrap().flags, seen);
        assert_eq!(own_state(&mine), (false, 1));
        assert_eq!(mine.poll(&mailboxes, Allow::ALL).await.unwrap(), []);
        // Once the snapshot has the change, the session's copy goes.
        assert_eq!(own_state(&mine), (false, 0));
        assert_eq!(mine.message(1).unwrap().flags, seen);
        assert_eq!(
            theirs.poll(&mailboxes, Allow::ALL).await.unwrap(),
            [Update::Flags {
                seq: 1,
                uid: 1,
                flags: seen.to_vec(),
                modseq
            }]
        );
        assert!(Arc::ptr_eq(&mine.snapshot, &theirs.snapshot));
    }

    #[tokio::test]
    async fn a_new_message_is_announced_once_to_each_session() {
        let (_dir, mailboxes, inbox) = inbox().await;
        let mut view = View::open(&mailboxes, inbox.clone(), false).await.unwrap();
        mailboxes
            .append(
                USER,
                &inbox,
                b"Subject: 4\r\n\r\n4\r\n".to_vec(),
                Vec::new(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            view.poll(&mailboxes, Allow::ALL).await.unwrap(),
            [Update::Exists(4)]
        );
        assert_eq!(view.poll(&mailboxes, Allow::ALL).await.unwrap(), []);
        assert_eq!(view.uids(), [1, 2, 3, 4]);
        assert_eq!(own_state(&view), (false, 0));
    }

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
