//! The search index of mailboxes: the folded text SEARCH matches (see
//! havre-message's `indexed_text`), one row per message, written with the
//! message's row and removed with it.
//!
//! Messages indexed before the index existed (or whose text could not be
//! computed) are listed as pending; the first SEARCH of their mailbox fills
//! them in, in batches, before it asks the index.
//!
//! STATUS's counts are here too: like a search, one question over every
//! message of a mailbox, answered by the database; and the header lines
//! FETCH of a message list asks for, kept with the text.

use async_trait::async_trait;

use crate::{MessageRecord, Result};

/// What SEARCH compares for one message is havre-message's analysis,
/// stored as it is; a SEARCH key names the stored piece it is answered from.
pub use havre_message::{IndexedField, IndexedText};

/// What STATUS counts in a mailbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxCounts {
    pub messages: u64,
    /// Without `\Seen`.
    pub unseen: u64,
    /// With `\Deleted`.
    pub deleted: u64,
    /// Sum of the RFC 822 sizes.
    pub size: u64,
    /// Messages no session has claimed as recent yet.
    pub unclaimed_recent: u64,
}

/// Questions about every message of a mailbox that the database answers
/// without handing over the messages: text search and STATUS counts.
#[async_trait]
pub trait SearchStore: Send + Sync {
    /// STATUS's counts, in one aggregate query.
    async fn mailbox_counts(&self, mailbox_id: i64) -> Result<MailboxCounts>;
    /// UIDs of the mailbox's indexed messages whose `field` contains
    /// `folded` (already case-folded), by UID. Messages still pending are
    /// not among them.
    async fn text_search(
        &self,
        mailbox_id: i64,
        field: IndexedField,
        folded: &str,
    ) -> Result<Vec<u32>>;
    /// The header field lines kept for FETCH ([`IndexedText::fields`]),
    /// if the message is indexed and they could be kept.
    async fn message_fields(&self, mailbox_id: i64, uid: u32) -> Result<Option<Vec<u8>>>;
    /// Up to `limit` messages of the mailbox that are not indexed yet.
    async fn text_pending(&self, mailbox_id: i64, limit: i64) -> Result<Vec<MessageRecord>>;
    /// Indexes messages that were pending, in one transaction; a message
    /// expunged meanwhile is skipped.
    async fn text_index(&self, mailbox_id: i64, texts: &[(u32, IndexedText)]) -> Result<()>;
}
