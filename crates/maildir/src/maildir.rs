//! The `Maildir` handle: creating the layout, folders, and looking up
//! what is already there.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::MaildirError;
use crate::error::io_at;
use crate::fs::{FILE_MODE, ensure_dir, sync_dir, sync_parent};
use crate::name::{unique_of, validate_unique};

/// One Maildir: the INBOX at the root, or a Maildir++ folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildir {
    pub(crate) root: PathBuf,
}

impl Maildir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Maildir { root: root.into() }
    }

    /// The directory holding cur/, new/ and tmp/.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the root and its cur/, new/ and tmp/ (mode 0700) where
    /// missing; idempotent. New directories are made durable (their parent
    /// is fsynced), so a delivery's fsync of new/ is not undone by a crash
    /// forgetting new/ itself.
    pub fn create(&self) -> Result<(), MaildirError> {
        if ensure_dir(&self.root, true)? {
            sync_parent(&self.root)?;
        }
        let mut created = false;
        for sub in ["cur", "new", "tmp"] {
            created |= ensure_dir(&self.root.join(sub), false)?;
        }
        if created {
            sync_dir(&self.root)?;
        }
        Ok(())
    }

    /// Creates (idempotently) the Maildir++ folder `name`, an IMAP name
    /// with '/' between levels: "Sent" is `.Sent`, "Lists/foo" is
    /// `.Lists.foo`, each with cur/ new/ tmp/ and an empty `maildirfolder`
    /// file (the marker by which Dovecot and others know a folder from a
    /// root). Also creates this maildir if it is missing.
    pub fn create_folder(&self, name: &str) -> Result<Maildir, MaildirError> {
        let dir = self.root.join(crate::folder::dir_name(name)?);
        self.create()?;
        let folder = Maildir::new(dir);
        folder.create()?;
        let marker = folder.root.join("maildirfolder");
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&marker)
            .map_err(io_at(&marker))?;
        sync_dir(&folder.root)?;
        Ok(folder)
    }

    /// The Maildir++ folder `name` ("Sent", "Lists/foo"), without creating it.
    pub fn folder(&self, name: &str) -> Result<Maildir, MaildirError> {
        Ok(Maildir::new(self.root.join(crate::folder::dir_name(name)?)))
    }

    /// The message delivered earlier with this `unique`, if any: in new/,
    /// or in cur/ where a reader may have moved and renamed it (adding
    /// ":2,FLAGS"). A caller whose delivery was interrupted (crash, error
    /// after the rename) asks this before delivering again, so that no
    /// message is delivered twice.
    pub fn find_delivered(&self, unique: &str) -> Result<Option<PathBuf>, MaildirError> {
        validate_unique(unique)?;
        // Readers move new/ → cur/ and never back, so new/ is read first.
        // A reader renaming the file inside cur/ (a flag change) while we
        // read cur/ may hide it from that one pass, so cur/ is read twice.
        for sub in ["new", "cur", "cur"] {
            let dir = self.root.join(sub);
            if let Some(found) = find_in(&dir, unique)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Where the message once named `file_name` is now: readers (Dovecot, a
    /// mail client) move a file from new/ to cur/ and rename it in cur/ for
    /// its flags, always keeping the part before ':' ([`stable_part`]).
    /// Searched in new/ then cur/ (twice, as [`Maildir::find_delivered`] does,
    /// for a rename racing the read).
    pub fn find_moved(&self, file_name: &str) -> Result<Option<PathBuf>, MaildirError> {
        let wanted = stable_part(file_name);
        for sub in ["new", "cur", "cur"] {
            let dir = self.root.join(sub);
            let found = find_entry(&dir, |name| stable_part(name) == wanted)?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Renames a message file, `from` and `to` relative to this maildir
    /// (`new/X` → `cur/X:2,S`, `cur/X:2,S` → `cur/X:2,RS`). Not durable by
    /// itself: the caller fsyncs the directories once a batch is renamed
    /// ([`Maildir::sync_subdirs`]). A `from` that is gone is an `Io` error
    /// of kind `NotFound`.
    pub fn rename_message(&self, from: &str, to: &str) -> Result<(), MaildirError> {
        let (from, to) = (self.root.join(from), self.root.join(to));
        fs::rename(&from, &to).map_err(io_at(&from))
    }

    /// fsyncs the named sub-directories (`new`, `cur`), which makes the
    /// renames done in them durable.
    pub fn sync_subdirs<'a>(
        &self,
        subs: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), MaildirError> {
        for sub in subs {
            sync_dir(&self.root.join(sub))?;
        }
        Ok(())
    }

    /// Names of the messages in one sub-directory (`new`, `cur`), sorted;
    /// none when it does not exist.
    pub fn names_in(&self, sub: &str) -> Result<Vec<String>, MaildirError> {
        let dir = self.root.join(sub);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_at(&dir)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_at(&dir))?;
            if let Some(name) = entry.file_name().to_str()
                && !name.starts_with('.')
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Paths of all messages in new/ and cur/, sorted.
    pub fn messages(&self) -> Result<Vec<PathBuf>, MaildirError> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            for entry in fs::read_dir(&dir).map_err(io_at(&dir))? {
                let entry = entry.map_err(io_at(&dir))?;
                // dot files are not messages (Maildir readers skip them)
                if !entry.file_name().as_encoded_bytes().starts_with(b".") {
                    out.push(entry.path());
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The part of a message's file name that no reader changes: everything
/// before the ":2,<flags>" info, which is what identifies the message when it
/// moves from new/ to cur/ or its flags change.
pub fn stable_part(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

fn find_in(dir: &Path, unique: &str) -> Result<Option<PathBuf>, MaildirError> {
    find_entry(dir, |name| unique_of(name) == Some(unique))
}

fn find_entry(dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<Option<PathBuf>, MaildirError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // no such directory: nothing was delivered there
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(&wanted) {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}
