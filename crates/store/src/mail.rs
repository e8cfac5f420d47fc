//! Mailboxes: the index of each user's folders and messages.
//!
//! Message bodies are Maildir files; the store keeps what IMAP needs to answer
//! without touching them: UIDs, UIDVALIDITY, UIDNEXT, flags and keywords,
//! mod-sequences (CONDSTORE/QRESYNC), sizes, internal dates, the parsed-message
//! cache, and which UIDs were expunged at which mod-sequence.
//!
//! Rules the implementation keeps:
//! - UIDs of a mailbox only grow; `uidnext` is above every UID ever given.
//! - every change to a mailbox (new message, flag change, expunge) takes a new
//!   mod-sequence from `highestmodseq + 1`; messages changed by one call share it.
//! - mailbox names use `/` as the hierarchy separator, `INBOX` in upper case.

use async_trait::async_trait;

use crate::rows::StoreRow;
use crate::{FlagMode, Result, apply_flags, same_flags};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRecord {
    pub id: i64,
    pub user: String,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: u64,
    /// `\Sent`, `\Trash`... (RFC 6154).
    pub special_use: Option<String>,
    /// Whether the name is in the user's subscription list.
    pub subscribed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub uid: u32,
    /// Path of the Maildir file relative to the folder's directory (`cur/...`).
    pub file: String,
    /// RFC 822 size (CRLF line endings).
    pub size: u64,
    /// Unix seconds.
    pub internal_date: i64,
    /// System flags and keywords, e.g. `["\\Seen", "$Label1"]`.
    pub flags: Vec<String>,
    pub modseq: u64,
    /// The parsed-message cache (see havre-message). Lists leave it out (it
    /// is the bulky column): ask [`MailStore::message_cache`] for it.
    pub cache: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub file: String,
    pub size: u64,
    pub internal_date: i64,
    pub flags: Vec<String>,
    pub cache: Option<String>,
    /// A UID to keep (imports); `None` takes `uidnext`. A kept UID must be at
    /// least `uidnext`.
    pub uid: Option<u32>,
    /// Its search text ([`IndexedText`](crate::IndexedText)), indexed with
    /// the row; `None` leaves the message pending, indexed at the first
    /// SEARCH that needs it.
    pub text: Option<crate::IndexedText>,
}

/// What a mailbox creation starts from: fresh, or as imported from Dovecot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxInit {
    pub special_use: Option<String>,
    pub uidvalidity: Option<u32>,
    pub uidnext: Option<u32>,
}

/// The result of a flag change on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    pub uid: u32,
    pub flags: Vec<String>,
    pub modseq: u64,
    /// The message's file as the index has it (read in the same
    /// transaction): what a caller renaming it for its flags starts from.
    pub file: String,
}

/// What a flag update did to the messages it named. A message no longer in
/// the mailbox (expunged meanwhile) is in none of the lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagUpdate {
    /// Messages whose flags changed: their new flags and mod-sequence.
    pub changed: Vec<FlagChange>,
    /// Messages that already had the asked flags: their stored flags and
    /// mod-sequence, untouched.
    pub unchanged: Vec<FlagChange>,
    /// UIDs left alone because they were modified after `unchanged_since`.
    pub modified: Vec<u32>,
}

#[async_trait]
pub trait MailStore: Send + Sync {
    async fn mailbox_create(
        &self,
        user: &str,
        name: &str,
        init: &MailboxInit,
    ) -> Result<MailboxRecord>;
    async fn mailbox_get(&self, user: &str, name: &str) -> Result<Option<MailboxRecord>>;
    async fn mailbox_by_id(&self, id: i64) -> Result<Option<MailboxRecord>>;
    async fn mailbox_list(&self, user: &str) -> Result<Vec<MailboxRecord>>;
    async fn mailbox_rename(&self, id: i64, new_name: &str) -> Result<()>;
    async fn mailbox_delete(&self, id: i64) -> Result<bool>;
    /// Adds `name` to (or removes it from) the user's subscription list. The
    /// list is the client's (RFC 9051 6.3.7): names need not exist, and
    /// creating or deleting a mailbox leaves it alone; a rename moves the
    /// renamed name's subscription.
    async fn subscription_set(&self, user: &str, name: &str, subscribed: bool) -> Result<()>;
    /// The user's subscribed names, existing or not, sorted.
    async fn subscriptions(&self, user: &str) -> Result<Vec<String>>;
    /// Claims for one session the messages no session has seen yet (RFC 3501
    /// 2.3.2: a message is recent in one session only): returns their UIDs,
    /// `from..uidnext`, and moves the mark to `uidnext`, in one transaction.
    async fn mailbox_claim_recent(&self, id: i64) -> Result<std::ops::Range<u32>>;
    /// The first UID no session has claimed as recent.
    async fn mailbox_recent_from(&self, id: i64) -> Result<u32>;

    /// A mailbox as imported from another server, in one transaction: created
    /// with `init`'s UIDVALIDITY and special use (or, when the user has an
    /// empty mailbox of that name, that one takes them, keeping its id), and
    /// its messages with their UIDs (each kept UID must be above the previous
    /// one, else it takes the next). UIDNEXT ends at `init.uidnext` or above
    /// the last UID, whichever is higher, so no UID of the old server comes
    /// back. A mailbox of that name with messages is refused
    /// ([`StoreError::AlreadyExists`](crate::StoreError::AlreadyExists)).
    async fn mailbox_import(
        &self,
        user: &str,
        name: &str,
        init: &MailboxInit,
        messages: &[NewMessage],
    ) -> Result<MailboxRecord>;

    /// The user's metadata entries (RFC 5464) of a mailbox, or of the
    /// server with `None`, sorted by name.
    async fn metadata_get(
        &self,
        user: &str,
        mailbox_id: Option<i64>,
    ) -> Result<Vec<(String, Vec<u8>)>>;
    /// Sets (`Some`) or removes (`None`) entries in one transaction. Returns
    /// `false`, changing nothing, when the result would have more than
    /// `max_entries` entries there (`[METADATA TOOMANY]`).
    async fn metadata_set(
        &self,
        user: &str,
        mailbox_id: Option<i64>,
        changes: &[(String, Option<Vec<u8>>)],
        max_entries: usize,
    ) -> Result<bool>;
    /// Adds a message; returns its UID and mod-sequence.
    async fn message_insert(&self, mailbox_id: i64, message: &NewMessage) -> Result<(u32, u64)>;
    /// Adds several messages in one transaction (MULTIAPPEND, RFC 3502: all
    /// or none): consecutive UIDs and one mod-sequence, in the given order.
    /// A file already indexed (a `sync` that came first) keeps its UID.
    async fn message_insert_all(
        &self,
        mailbox_id: i64,
        messages: &[NewMessage],
    ) -> Result<Vec<u32>>;
    /// The message indexed with this file (`new/...` or `cur/...`), if any.
    async fn message_by_file(&self, mailbox_id: i64, file: &str) -> Result<Option<MessageRecord>>;
    /// The message with this UID, if it is still in the index.
    async fn message_get(&self, mailbox_id: i64, uid: u32) -> Result<Option<MessageRecord>>;
    /// Records where a message's file is now (another program moved it from
    /// new/ to cur/ or renamed it for its flags). Neither UID nor mod-sequence
    /// change: the message is the same.
    async fn message_set_file(&self, mailbox_id: i64, uid: u32, file: &str) -> Result<()>;
    /// [`MailStore::message_set_file`] for several messages, in one
    /// transaction (a flag change renamed their files).
    async fn message_set_files(&self, mailbox_id: i64, files: &[(u32, String)]) -> Result<()>;
    /// The messages with a UID above `uid`, by UID (what a `dovecot-uidlist`
    /// that ends at `uid` lacks).
    async fn message_list_above(&self, mailbox_id: i64, uid: u32) -> Result<Vec<MessageRecord>>;
    /// Every message of the mailbox, by UID.
    async fn message_list(&self, mailbox_id: i64) -> Result<Vec<MessageRecord>>;
    /// Messages whose mod-sequence is above `modseq`.
    async fn message_changes(&self, mailbox_id: i64, modseq: u64) -> Result<Vec<MessageRecord>>;
    /// Adds, removes or replaces flags of each of `uids`, computed from the
    /// stored flags inside the store's transaction, so concurrent updates of
    /// different flags all take effect. Only messages whose flags change take
    /// a new mod-sequence (one for the whole call); with `unchanged_since`,
    /// messages modified after it are left alone (RFC 7162).
    async fn message_update_flags(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        mode: FlagMode,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagUpdate>;
    async fn message_cache(&self, mailbox_id: i64, uid: u32) -> Result<Option<String>>;
    async fn message_set_cache(&self, mailbox_id: i64, uid: u32, cache: &str) -> Result<()>;
    /// Removes messages from the index, remembering them for QRESYNC; returns
    /// the mod-sequence of the expunge.
    async fn message_expunge(&self, mailbox_id: i64, uids: &[u32]) -> Result<u64>;
    /// UIDs expunged after `modseq`.
    async fn expunged_since(&self, mailbox_id: i64, modseq: u64) -> Result<Vec<u32>>;
    /// Bytes used by all of the user's messages.
    async fn quota_used(&self, user: &str) -> Result<u64>;
}

/// What indexing a delivered message did (each engine's `index_message`).
pub(crate) enum Indexed {
    New {
        uid: u32,
        modseq: u64,
    },
    /// The file was indexed before, with this UID.
    Known {
        uid: u32,
    },
    NoMailbox,
}

impl Indexed {
    /// The UID of a delivery attempt's message: 0 when its mailbox is gone.
    pub(crate) fn delivered_uid(&self) -> u32 {
        match self {
            Indexed::New { uid, .. } | Indexed::Known { uid } => *uid,
            Indexed::NoMailbox => 0,
        }
    }
}

/// One flag update as both engines apply it to each message it names.
pub(crate) struct FlagEdit<'a> {
    pub mode: FlagMode,
    pub flags: &'a [String],
    pub unchanged_since: Option<u64>,
    /// The mod-sequence the changed messages take.
    pub modseq: u64,
}

impl FlagEdit<'_> {
    /// Files message `uid` (its stored flags, mod-sequence and file) in
    /// `update` under what the edit does to it; its change when its flags
    /// change, to be written.
    pub(crate) fn apply<'u>(
        &self,
        update: &'u mut FlagUpdate,
        uid: u32,
        stored: &str,
        stored_modseq: u64,
        file: String,
    ) -> Option<&'u FlagChange> {
        if self
            .unchanged_since
            .is_some_and(|since| stored_modseq > since)
        {
            update.modified.push(uid);
            return None;
        }
        let stored = flags_from_text(stored);
        let new = apply_flags(self.mode, &stored, self.flags);
        if same_flags(&new, &stored) {
            update.unchanged.push(FlagChange {
                uid,
                flags: stored,
                modseq: stored_modseq,
                file,
            });
            return None;
        }
        update.changed.push(FlagChange {
            uid,
            flags: new,
            modseq: self.modseq,
            file,
        });
        update.changed.last()
    }
}

/// The UIDVALIDITY of a mailbox being created for a user whose mailboxes
/// had at most `last`: the creation time, as Dovecot does, but always above
/// `last` (RFC 9051 2.3.1.1), so a name deleted and created again within
/// one second still gets a new one. `requested` (an import keeping
/// Dovecot's value) is taken as is.
pub(crate) fn next_uidvalidity(last: i64, requested: Option<u32>) -> u32 {
    if let Some(value) = requested {
        return value;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let next = (last + 1).clamp(1, i64::from(u32::MAX)) as u32;
    (now.min(u64::from(u32::MAX)) as u32).max(next)
}

/// The UIDs of imported messages, the first at least `floor`: each keeps
/// its UID when it is above the previous one, else takes the next; and the
/// UIDNEXT the mailbox ends at, `uidnext` or above the last UID, whichever
/// is higher, so no UID of the old server comes back.
pub(crate) fn import_uids(
    floor: u32,
    uidnext: Option<u32>,
    messages: &[NewMessage],
) -> (Vec<u32>, u32) {
    let mut last = floor.saturating_sub(1);
    let uids = messages
        .iter()
        .map(|message| {
            last = match message.uid {
                Some(uid) if uid > last => uid,
                _ => last + 1,
            };
            last
        })
        .collect();
    (uids, uidnext.unwrap_or(1).max(last + 1))
}

type Decoded<T> = std::result::Result<T, sqlx::Error>;

/// A mailbox's row: its columns and `subscribed` (0 or 1).
pub(crate) fn mailbox_from_row(row: &impl StoreRow) -> Decoded<MailboxRecord> {
    Ok(MailboxRecord {
        id: row.int("id")?,
        user: row.text("user")?,
        name: row.text("name")?,
        uidvalidity: row.int("uidvalidity")? as u32,
        uidnext: row.int("uidnext")? as u32,
        highestmodseq: row.int("highestmodseq")? as u64,
        special_use: row.maybe_text("special_use")?,
        subscribed: row.int("subscribed")? != 0,
    })
}

pub(crate) fn message_from_row(row: &impl StoreRow) -> Decoded<MessageRecord> {
    Ok(MessageRecord {
        uid: row.int("uid")? as u32,
        file: row.text("file")?,
        size: row.int("size")? as u64,
        internal_date: row.int("internal_date")?,
        flags: flags_from_text(&row.text("flags")?),
        modseq: row.int("modseq")? as u64,
        cache: row.maybe_text("cache")?,
    })
}

pub(crate) fn flags_to_text(flags: &[String]) -> String {
    flags.join(" ")
}

pub(crate) fn flags_from_text(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}
