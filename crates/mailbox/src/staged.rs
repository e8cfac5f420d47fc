//! A delivery in two steps, so that its index row can commit with other
//! changes: the relay commits the rows of an attempt's deliveries with the
//! attempt's outcome and the queue record's removal, one transaction.
//!
//! [`Mailboxes::stage_file`] writes the file durably (tmp/, fsync, new/,
//! the folder's fsync) and prepares its row without committing it; the
//! file stays registered as in flight (`in_flight.rs`) so no `sync` indexes
//! it meanwhile. Whoever commits the row hands the [`Staged`] back to
//! [`Mailboxes::staged_indexed`] with its UID (the `dovecot-uidlist` append,
//! the sessions' notification). Dropped without that (the commit failed),
//! the file is a file without a row: the next `sync` indexes it, and a
//! retried delivery finds it ([`havre_maildir::Maildir::find_delivered`]);
//! the user's kept INBOX record is forgotten too, in case its id is what
//! made the commit fail (`inboxes.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use havre_maildir::MaildirError;
use havre_store::{DeliveredRow, MailboxRecord};

use crate::in_flight::Writing;
use crate::inboxes::Inboxes;
use crate::mailboxes::blocking;
use crate::notify::MessageChange;
use crate::{MailboxError, Mailboxes, MessageSource};

/// A message written into a folder whose index row is not committed yet.
pub struct Staged {
    user: String,
    mailbox: MailboxRecord,
    path: PathBuf,
    row: DeliveredRow,
    fresh: bool,
    _writing: Writing,
    /// Set once the row is committed; until then, dropping forgets the
    /// user's kept INBOX.
    committed: bool,
    inboxes: Arc<Inboxes>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            self.inboxes.forget(&self.user);
        }
    }
}

impl Staged {
    /// The row to commit.
    pub fn row(&self) -> &DeliveredRow {
        &self.row
    }

    /// The folder it is in.
    pub fn folder(&self) -> &str {
        &self.mailbox.name
    }

    pub(crate) fn mailbox_id(&self) -> i64 {
        self.mailbox.id
    }

    /// False when an earlier attempt had written it already.
    pub fn fresh(&self) -> bool {
        self.fresh
    }
}

impl Mailboxes {
    /// Writes `source` (after `header`) into `mailbox` durably, or finds the
    /// copy an earlier attempt wrote (`check_duplicate`), and prepares its
    /// index row, with `flags` (Sieve's imap4flags). With
    /// `divert_quarantined`, a message with the quarantine mark is not
    /// written: `None`, and the caller stages it in Junk.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn stage_file(
        &self,
        user: &str,
        mailbox: &MailboxRecord,
        unique: &str,
        header: Vec<u8>,
        source: &MessageSource,
        check_duplicate: bool,
        divert_quarantined: bool,
        flags: Vec<String>,
    ) -> Result<Option<Staged>, MailboxError> {
        let maildir = self.maildir_of(user, &mailbox.name)?;
        let writing = self.in_flight.begin(unique);
        let unique = unique.to_string();
        let hostname = self.hostname().to_string();
        let source = source.clone();
        // The index row is read from the file on the same blocking thread
        // that wrote it: one hop off the async workers per delivery.
        let written = blocking(move || {
            if divert_quarantined && crate::quarantine::is_quarantined(&source) {
                return Ok(None);
            }
            if check_duplicate {
                maildir.create()?;
                if let Some(found) = maildir.find_delivered(&unique)? {
                    let message = crate::mailboxes::index_record(&found, flags)?;
                    return Ok(Some((found, false, message)));
                }
            }
            let now = std::time::SystemTime::now();
            // A message in memory is indexed from memory; a file is read
            // again once written.
            let write = |maildir: &havre_maildir::Maildir| -> Result<_, MailboxError> {
                Ok(match &source {
                    MessageSource::File(file) => {
                        let mut body = std::fs::File::open(file).map_err(|e| MailboxError::Io {
                            path: file.clone(),
                            source: e,
                        })?;
                        let path = maildir.deliver(&unique, &hostname, &header, &mut body, now)?;
                        let message = crate::mailboxes::index_record(&path, flags.clone())?;
                        (path, message)
                    }
                    MessageSource::Bytes(bytes) => {
                        let mut body = std::io::Cursor::new(&bytes[..]);
                        let (path, modified) =
                            maildir.deliver_timed(&unique, &hostname, &header, &mut body, now)?;
                        let whole = [&header[..], &bytes[..]].concat();
                        let message = crate::mailboxes::index_record_of(
                            &path,
                            Some(modified),
                            &whole,
                            flags.clone(),
                        )?;
                        (path, message)
                    }
                })
            };
            // The folder's directories are made when a delivery finds them
            // missing, not looked for before each one (seven calls).
            let (path, message) = match write(&maildir) {
                Err(MailboxError::Maildir(MaildirError::Io { source, .. }))
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    maildir.create()?;
                    write(&maildir)?
                }
                written => written?,
            };
            Ok(Some((path, true, message)))
        })
        .await?;
        Ok(written.map(|(path, fresh, message)| Staged {
            user: user.to_string(),
            mailbox: mailbox.clone(),
            path,
            row: DeliveredRow {
                mailbox_id: mailbox.id,
                message,
            },
            fresh,
            _writing: writing,
            committed: false,
            inboxes: self.inboxes.clone(),
        }))
    }

    /// Commits a staged message's row on its own (LMTP, or a relay attempt
    /// that still has remote work to do) and finishes it: its UID.
    pub async fn index_staged(&self, mut staged: Staged) -> Result<u32, MailboxError> {
        // The row read when the file was written: the file is not read and
        // parsed a second time.
        let uid = self
            .insert_indexed(&staged.user, &staged.mailbox, &staged.row.message)
            .await?;
        staged.committed = true;
        self.uidlist_after_index(&staged, uid).await;
        self.name_flagged(&staged, uid).await;
        Ok(uid)
    }

    /// What follows the commit of a staged message's row (`uid`, 0 when its
    /// mailbox was deleted meanwhile): sessions hear of it, and its UID goes
    /// into the folder's `dovecot-uidlist`.
    pub async fn staged_indexed(&self, mut staged: Staged, uid: u32) {
        staged.committed = true;
        if uid == 0 {
            return;
        }
        self.notifier()
            .changed(&staged.user, staged.mailbox.id, MessageChange::New);
        self.uidlist_after_index(&staged, uid).await;
        self.name_flagged(&staged, uid).await;
    }

    /// Flags a Sieve script gave go into the file's name too, where Dovecot
    /// reads them (`cur/`, `:2,` letters, keywords in dovecot-keywords).
    async fn name_flagged(&self, staged: &Staged, uid: u32) {
        let message = &staged.row.message;
        if message.flags.is_empty() {
            return;
        }
        let mut folder = self.folders.lock(staged.mailbox.id).await;
        let record = (uid, message.file.clone(), message.flags.clone());
        self.name_files_logged(
            &staged.user,
            &staged.mailbox,
            &mut folder,
            vec![record],
            false,
        )
        .await;
    }

    /// The UID into `dovecot-uidlist`, fsynced after the folder's lock is
    /// released: concurrent deliveries to the folder share the fsync.
    async fn uidlist_after_index(&self, staged: &Staged, uid: u32) {
        let written = crate::dovecot::written_record(uid, &staged.path);
        let folder = self.folders.lock(staged.mailbox.id).await;
        let Err(mut folder) = self
            .append_next_uid(&staged.user, &staged.mailbox, folder, written.as_ref())
            .await
        else {
            return;
        };
        let appended = {
            let appended = self
                .refresh_uidlist_unsynced(&staged.user, &staged.mailbox, &mut folder, written)
                .await;
            drop(folder);
            appended
        };
        if appended {
            let maildir = self.maildir_of(&staged.user, &staged.mailbox.name);
            self.sync_uidlist(&staged.user, &staged.mailbox, maildir)
                .await;
        }
    }
}
