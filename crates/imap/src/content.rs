//! What the session needs from a message's bytes, in one place: loading the
//! Maildir file, the cached analysis (ENVELOPE, BODYSTRUCTURE, sort keys), and
//! sections. Everything here goes through `havre-message`.

use havre_imap_proto::{Section, SectionText};
use havre_mailbox::MailboxError;
use havre_message::Analysis;
use havre_store::{MailboxRecord, MessageRecord};

use crate::session::Session;

/// Converts the parser's section to the analyser's.
fn message_section(section: &Section) -> havre_message::Section {
    havre_message::Section {
        part: section.part.clone(),
        text: section.text.as_ref().map(|t| match t {
            SectionText::Header => havre_message::SectionText::Header,
            SectionText::Text => havre_message::SectionText::Text,
            SectionText::Mime => havre_message::SectionText::Mime,
            SectionText::HeaderFields(f) => havre_message::SectionText::HeaderFields(f.clone()),
            SectionText::HeaderFieldsNot(f) => {
                havre_message::SectionText::HeaderFieldsNot(f.clone())
            }
        }),
    }
}

/// The bytes of `section` (CRLF form).
pub(crate) fn section_bytes(raw: &[u8], section: &Section) -> Option<Vec<u8>> {
    // A missing part is an empty string, as Dovecot answers it.
    Some(havre_message::section(raw, &message_section(section)))
}

pub(crate) fn whole(raw: &[u8]) -> Vec<u8> {
    havre_message::imap_form(raw).into_owned()
}

impl Session {
    /// The message's bytes, wherever another program moved its file. An
    /// error is logged here; FETCH also tells the client (see `fetch`).
    pub(crate) async fn load(
        &self,
        mailbox: &MailboxRecord,
        message: &MessageRecord,
    ) -> Result<Vec<u8>, MailboxError> {
        let read = self
            .services
            .mailboxes
            .read_message(self.user(), mailbox, message)
            .await;
        if let Err(err) = &read {
            tracing::warn!(target: "imap", "user=<{}> {} UID {}: {err}", self.user(), mailbox.name, message.uid);
        }
        read
    }

    /// SAVEDATE (RFC 8514): when the message was saved in this mailbox.
    /// A Maildir name starts with the time its file was written in the
    /// folder (`<secs>.<unique>.<host>`), which no rename changes; a name
    /// without it falls back to the file's change time (Dovecot's), which a
    /// flag change's rename moves.
    pub(crate) async fn save_date(
        &self,
        mailbox: &MailboxRecord,
        message: &MessageRecord,
    ) -> Option<i64> {
        use std::os::unix::fs::MetadataExt;
        let name = message.file.rsplit('/').next().unwrap_or(&message.file);
        if let Some(secs) = name.split_once('.').and_then(|(secs, _)| secs.parse().ok()) {
            return Some(secs);
        }
        let path = self
            .services
            .mailboxes
            .locate(self.user(), mailbox, message)
            .await
            .ok()?;
        let meta = tokio::fs::metadata(&path).await.ok()?;
        Some(meta.ctime())
    }

    /// The analysis of a message, from the store's cache or computed (and
    /// cached) now.
    pub(crate) async fn analysis(&mut self, uid: u32, raw: Option<&[u8]>) -> Option<Analysis> {
        let view = self.selected.as_ref()?;
        let record = view.message(uid)?.clone();
        let mailbox = view.mailbox.clone();
        let store = self.services.mailboxes.store().clone();
        if let Ok(Some(cached)) = store.message_cache(mailbox.id, uid).await
            && let Some(analysis) = Analysis::from_cache(&cached)
        {
            return Some(analysis);
        }
        let loaded;
        let raw = match raw {
            Some(raw) => raw,
            None => {
                loaded = self.load(&mailbox, &record).await.ok()?;
                &loaded[..]
            }
        };
        let analysis = havre_message::analyse(raw);
        let cache = analysis.to_cache();
        let _ = store.message_set_cache(mailbox.id, uid, &cache).await;
        Some(analysis)
    }
}
