//! The search index of a mailbox (see havre-store's `SearchStore`): the text
//! a message is indexed with, and the filling-in of messages that have none
//! yet (delivered before the index existed, imported).

use havre_message::indexed_text;
use havre_store::MailboxRecord;

use crate::mailboxes::{MailboxError, Mailboxes, blocking};

/// Messages indexed per transaction when filling in: a SEARCH on a big
/// old mailbox writes in steps other writers can come between.
const BATCH: i64 = 256;

impl Mailboxes {
    /// Indexes every message of the mailbox that is not yet, in batches;
    /// returns how many were. A message whose file cannot be read is
    /// indexed as empty, which is what a search reading it finds.
    pub async fn fill_search_index(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
    ) -> Result<usize, MailboxError> {
        let mut done = 0;
        loop {
            let pending = self.store().text_pending(mailbox.id, BATCH).await?;
            if pending.is_empty() {
                return Ok(done);
            }
            let maildir = self.maildir_of(user, &mailbox.name)?;
            let listed: Vec<(u32, String)> =
                pending.iter().map(|m| (m.uid, m.file.clone())).collect();
            // One blocking task reads the batch where the index says the
            // files are; the few another program moved are looked for after.
            let (mut texts, moved) = blocking(move || {
                let mut texts = Vec::with_capacity(listed.len());
                let mut moved = Vec::new();
                for (uid, file) in listed {
                    match std::fs::read(maildir.root().join(&file)) {
                        Ok(raw) => texts.push((uid, indexed_text(&raw))),
                        Err(_) => moved.push(uid),
                    }
                }
                Ok((texts, moved))
            })
            .await?;
            for message in pending.iter().filter(|m| moved.contains(&m.uid)) {
                let text = match self.read_message(user, mailbox, message).await {
                    Ok(raw) => blocking(move || Ok(indexed_text(&raw))).await?,
                    Err(_) => indexed_text(b""),
                };
                texts.push((message.uid, text));
            }
            self.store().text_index(mailbox.id, &texts).await?;
            done += texts.len();
        }
    }
}
