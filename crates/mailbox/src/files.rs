//! Finding a message's file where it is now.
//!
//! The index records a file's name when it is indexed, but other programs
//! sharing the Maildir (Dovecot, a mail client) move files from new/ to cur/
//! and rename them for their flags. A message a session still sees must stay
//! readable: the file is looked for under the index's current name, then by
//! the part of its name no reader changes (the next `sync` records where it
//! went, and the flags its new name says). Only a message that left the
//! index (expunged) or whose file is gone altogether is an error, and a
//! typed one, so IMAP can say so to the client.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use havre_store::{MailboxRecord, MessageRecord};

use crate::mailboxes::{MailboxError, Mailboxes, blocking};

/// A file renamed again between finding and reading it is looked for again,
/// this many times.
const ATTEMPTS: usize = 3;

impl Mailboxes {
    /// The path of `message`'s file now, following moves by other programs.
    pub async fn locate(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        message: &MessageRecord,
    ) -> Result<PathBuf, MailboxError> {
        let maildir = self.maildir_of(user, &mailbox.name)?;
        let recorded = maildir.root().join(&message.file);
        if exists(&recorded).await? {
            return Ok(recorded);
        }
        // Another session may have found it already.
        let Some(current) = self.store().message_get(mailbox.id, message.uid).await? else {
            return Err(MailboxError::Expunged(message.uid));
        };
        if current.file != message.file {
            let path = maildir.root().join(&current.file);
            if exists(&path).await? {
                return Ok(path);
            }
        }
        let name = Path::new(&current.file)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let search = maildir.clone();
        let found = blocking(move || Ok(search.find_moved(&name)?)).await?;
        let Some(found) = found else {
            // Expunged while we looked, or deleted behind our back.
            return match self.store().message_get(mailbox.id, message.uid).await? {
                None => Err(MailboxError::Expunged(message.uid)),
                Some(_) => Err(MailboxError::MissingFile(recorded)),
            };
        };
        // Not recorded here: the next sync records the new name and reads
        // the flags it says, which it could not tell from ours if it were
        // already recorded.
        Ok(found)
    }

    /// The bytes of `message`'s file, wherever another program moved it.
    pub async fn read_message(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        message: &MessageRecord,
    ) -> Result<Vec<u8>, MailboxError> {
        let mut attempt = 0;
        loop {
            let path = self.locate(user, mailbox, message).await?;
            match tokio::fs::read(&path).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) if e.kind() == ErrorKind::NotFound && attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                }
                Err(source) => return Err(MailboxError::Io { path, source }),
            }
        }
    }
}

impl Mailboxes {
    /// The bytes of several messages (a FETCH's next ones): read in one
    /// blocking task where the index says their files are, rather than one
    /// task each; the few another program moved are looked for after, one by
    /// one. In the order given.
    pub async fn read_messages(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        messages: &[MessageRecord],
    ) -> Vec<Result<Vec<u8>, MailboxError>> {
        let maildir = match self.maildir_of(user, &mailbox.name) {
            Ok(maildir) => maildir,
            Err(e) => {
                let e = e.to_string();
                return messages
                    .iter()
                    .map(|_| Err(MailboxError::Refused(e.clone())))
                    .collect();
            }
        };
        let paths: Vec<PathBuf> = messages
            .iter()
            .map(|m| maildir.root().join(&m.file))
            .collect();
        let read = blocking(move || Ok(paths.iter().map(std::fs::read).collect::<Vec<_>>()))
            .await
            .unwrap_or_default();
        let mut read = read.into_iter();
        let mut out = Vec::with_capacity(messages.len());
        for message in messages {
            match read.next() {
                Some(Ok(bytes)) => out.push(Ok(bytes)),
                _ => out.push(self.read_message(user, mailbox, message).await),
            }
        }
        out
    }

    /// `message`'s file opened for reading, wherever another program or a
    /// flag change moved it (opened, it stays readable whatever happens to
    /// its name), with the path it was opened at.
    pub async fn open_message(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        message: &MessageRecord,
    ) -> Result<(std::fs::File, PathBuf), MailboxError> {
        let mut attempt = 0;
        loop {
            let path = self.locate(user, mailbox, message).await?;
            let at = path.clone();
            match blocking(move || Ok(std::fs::File::open(&at))).await? {
                Ok(file) => return Ok((file, path)),
                Err(e) if e.kind() == ErrorKind::NotFound && attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                }
                Err(source) => return Err(MailboxError::Io { path, source }),
            }
        }
    }
}

async fn exists(path: &Path) -> Result<bool, MailboxError> {
    match tokio::fs::metadata(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(source) => Err(MailboxError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
