//! `sync`: the index made to agree with what is on disk, at SELECT and at a
//! POP3 login, the way Dovecot syncs a Maildir other programs also write.
//!
//! - a file without a UID (another program delivered it, or a crash came
//!   between write and index) is indexed, with the flags of its name;
//! - a file whose name is not the recorded one was moved or renamed by
//!   another program (Dovecot, a mail client, a restore): the new name is
//!   recorded, and when it says flags (`:2,`), the flags it can say are taken
//!   from it (a keyword with no letter stays as the index has it);
//! - a file still under its recorded name whose name does not say the
//!   index's flags (a crash before the rename, a Maildir from before havre
//!   wrote flags into names) is renamed;
//! - `dovecot-uidlist` and `dovecot-keywords` are brought up to date.
//!
//! All under the folder's lock (see `dovecot.rs`), so a flag change of this
//! process is never half seen.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use havre_maildir::{MaildirError, parse_name, unique_of};
use havre_store::{FlagMode, MailboxRecord, MessageRecord, same_flags};

use crate::dovecot::wanted_file;
use crate::flags;
use crate::mailboxes::{MailboxError, Mailboxes, blocking, relative_file, stable_key};

impl Mailboxes {
    /// Indexes the folder's files that have no UID, follows the files other
    /// programs moved or renamed (taking the flags their new names say), and
    /// brings the names and Dovecot's files up to date (see the module).
    /// Returns how many messages were added.
    pub async fn sync(&self, user: &str, mailbox: &MailboxRecord) -> Result<usize, MailboxError> {
        let maildir = self.maildir_of(user, &mailbox.name)?;
        let mut folder = self.folders.lock(mailbox.id).await;
        let listing = maildir.clone();
        let on_disk = blocking(move || match listing.messages() {
            Ok(paths) => Ok(paths),
            Err(MaildirError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(e.into()),
        })
        .await?;
        let records = self.store().message_list(mailbox.id).await?;
        // Every keyword in use gets a letter (while letters are left), so
        // the names can say it.
        let in_use: BTreeSet<String> = records
            .iter()
            .flat_map(|m| flags::keywords_of(&m.flags).map(str::to_string))
            .collect();
        let keywords = self
            .keywords(&maildir, &mut folder, in_use.into_iter().collect())
            .await;
        // Known by the part of the name no reader changes: a file another
        // program moved to cur/ or renamed for its flags is the same message.
        let known: HashMap<String, MessageRecord> = records
            .into_iter()
            .map(|m| (stable_key(&m.file).to_string(), m))
            .collect();
        // new/ is listed before cur/ and readers only move new/ -> cur/, so a
        // file listed twice by a move during the listing keeps its cur/ name.
        let mut files: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
        for path in on_disk {
            if let Some(file) = relative_file(&path) {
                files.insert(stable_key(&file).to_string(), (file, path));
            }
        }
        let mut moved = Vec::new();
        let mut reflagged = Vec::new();
        let mut stale = Vec::new();
        let mut added = 0;
        for (key, (file, path)) in files {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(record) = known.get(&key) {
                if record.file != file {
                    moved.push((record.uid, file.clone()));
                    let parsed = parse_name(name);
                    if parsed.has_flags {
                        let said = flags::from_letters(&parsed.flags, &keywords);
                        let (sayable, unsayable): (Vec<String>, Vec<String>) = record
                            .flags
                            .iter()
                            .cloned()
                            .partition(|f| flags::has_letter(f, &keywords));
                        if !same_flags(&said, &sayable) {
                            reflagged.push((record.uid, [said, unsayable].concat()));
                        }
                    }
                } else if wanted_file(&record.file, &record.flags, &keywords, false) != record.file
                {
                    stale.push((record.uid, record.file.clone(), record.flags.clone()));
                }
                continue;
            }
            if unique_of(name).is_some_and(|u| self.in_flight.contains(u)) {
                // Its writer indexes it, with the flags and date it was given.
                continue;
            }
            let letters = parse_name(name).flags;
            self.index_file(
                user,
                mailbox,
                &path,
                flags::from_letters(&letters, &keywords),
            )
            .await?;
            added += 1;
        }
        self.store().message_set_files(mailbox.id, &moved).await?;
        let mut changed = false;
        for (uid, new_flags) in reflagged {
            let done = self
                .store()
                .message_update_flags(mailbox.id, &[uid], FlagMode::Replace, &new_flags, None)
                .await?;
            changed |= !done.changed.is_empty();
        }
        self.name_files_logged(user, mailbox, &mut folder, stale, false)
            .await;
        self.refresh_uidlist(user, mailbox, &mut folder, None).await;
        drop(folder);
        if changed {
            self.notifier()
                .changed(user, mailbox.id, crate::MessageChange::Flags);
        }
        Ok(added)
    }
}
