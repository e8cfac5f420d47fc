//! Bringing one user's messages back from a snapshot (`havre backup
//! restore-user`): each folder of the user's Maildir in the snapshot goes
//! into `<into>/<folder>` (`Restored/INBOX`, `Restored/Sent`...), as new
//! messages with new UIDs and the flags their file names carry.
//!
//! A message still in any of the user's mailboxes is not brought back a
//! second time: what the user did not lose stays single, and a restore run
//! twice restores nothing the second time. "Still there" is byte for byte:
//! the files of the same length in the user's Maildir are compared by
//! their hash, so a message moved to another folder since the snapshot
//! (written again under another name) is recognised too.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use xxhash_rust::xxh3::xxh3_64;

use crate::import::{ImportError, blocking, io_at, scan_tree};
use crate::mailboxes::{Appended, Mailboxes};

/// Messages appended in one go (one transaction each batch).
const BATCH: usize = 64;

/// What a restore did, folder by folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    pub folders: Vec<RestoredFolder>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoredFolder {
    /// The folder in the snapshot.
    pub from: String,
    /// The user's mailbox it went into.
    pub into: String,
    pub restored: usize,
    /// Messages of the snapshot the user still has (not restored).
    pub still_there: usize,
    pub bytes: u64,
}

impl RestoreReport {
    pub fn restored(&self) -> usize {
        self.folders.iter().map(|f| f.restored).sum()
    }

    pub fn still_there(&self) -> usize {
        self.folders.iter().map(|f| f.still_there).sum()
    }
}

/// The messages the user has now, found by length then hash.
struct Present {
    by_length: HashMap<u64, Vec<PathBuf>>,
    hashes: HashMap<PathBuf, Option<u64>>,
}

impl Present {
    /// Whether a file with exactly `bytes` is among them.
    fn contains(&mut self, bytes: &[u8]) -> bool {
        let Some(paths) = self.by_length.get(&(bytes.len() as u64)) else {
            return false;
        };
        let wanted = xxh3_64(bytes);
        paths.iter().any(|path| {
            // A file expunged meanwhile is simply not there.
            *self
                .hashes
                .entry(path.clone())
                .or_insert_with(|| fs::read(path).ok().map(|b| xxh3_64(&b)))
                == Some(wanted)
        })
    }
}

/// Restores `user`'s Maildir at `source` (a snapshot's copy of it): every
/// folder, or only `only`, into `into/<folder>`. `progress(done, total)` is
/// called after each message.
pub async fn restore_user(
    mailboxes: &Mailboxes,
    user: &str,
    source: &Path,
    only: Option<&str>,
    into: &str,
    mut progress: impl FnMut(u64, u64),
) -> Result<RestoreReport, ImportError> {
    let user = user.to_lowercase();
    if mailboxes.store().get_user(&user).await?.is_none() {
        return Err(ImportError::NoSuchUser(user));
    }
    let root = source.to_path_buf();
    let (mut folders, _) = blocking(move || scan_tree(&root)).await?;
    if let Some(only) = only {
        let wanted =
            |name: &str| name == only || (name == "INBOX" && only.eq_ignore_ascii_case("INBOX"));
        if !folders.iter().any(|f| wanted(&f.name)) {
            return Err(ImportError::NoSuchFolder {
                folder: only.to_string(),
                user,
                available: folders.iter().map(|f| f.name.clone()).collect(),
            });
        }
        folders.retain(|f| wanted(&f.name));
    }
    let mut present = present(mailboxes, &user).await?;
    let total: u64 = folders.iter().map(|f| f.messages.len() as u64).sum();
    let mut done = 0;
    let mut report = RestoreReport::default();
    for folder in folders {
        let target = format!("{into}/{}", folder.name);
        let mailbox = match mailboxes.get(&user, &target).await? {
            Some(mailbox) => mailbox,
            None => {
                let created = mailboxes.create(&user, &target, None).await?;
                mailboxes.subscribe(&user, &target, true).await?;
                created
            }
        };
        let mut row = RestoredFolder {
            from: folder.name.clone(),
            into: target,
            ..RestoredFolder::default()
        };
        // A batch at a time: a folder may be bigger than memory.
        for chunk in folder.messages.chunks(BATCH) {
            let files: Vec<(PathBuf, Vec<String>)> = chunk
                .iter()
                .map(|m| (folder.dir.join(m.sub).join(&m.file_name), m.flags.clone()))
                .collect();
            let mut batch = Vec::with_capacity(files.len());
            for message in blocking(move || read_messages(files)).await? {
                done += 1;
                progress(done, total);
                let Some(message) = message else {
                    continue;
                };
                if present.contains(&message.message) {
                    row.still_there += 1;
                    continue;
                }
                row.restored += 1;
                row.bytes += message.message.len() as u64;
                batch.push(message);
            }
            if !batch.is_empty() {
                mailboxes.append_all(&user, &mailbox, batch).await?;
            }
        }
        report.folders.push(row);
    }
    Ok(report)
}

/// Every message file of the user's mailboxes, by length.
async fn present(mailboxes: &Mailboxes, user: &str) -> Result<Present, ImportError> {
    let mut paths = Vec::new();
    for mailbox in mailboxes.list(user).await? {
        for record in mailboxes.store().message_list(mailbox.id).await? {
            paths.push(mailboxes.message_path(user, &mailbox, &record)?);
        }
    }
    blocking(move || {
        let mut by_length: HashMap<u64, Vec<PathBuf>> = HashMap::new();
        for path in paths {
            // Gone since it was listed: not there.
            if let Ok(meta) = fs::metadata(&path) {
                by_length.entry(meta.len()).or_default().push(path);
            }
        }
        Ok(Present {
            by_length,
            hashes: HashMap::new(),
        })
    })
    .await
}

/// Messages read from the snapshot with their flags and dates; `None` for
/// a file that vanished from the snapshot.
fn read_messages(files: Vec<(PathBuf, Vec<String>)>) -> Result<Vec<Option<Appended>>, ImportError> {
    let mut out = Vec::with_capacity(files.len());
    for (path, flags) in files {
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.push(None);
                continue;
            }
            Err(e) => return Err(io_at(&path)(e)),
        };
        // The file's time is the message's internal date (Maildir).
        let date = fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        out.push(Some(Appended {
            message: bytes,
            flags,
            internal_date: date,
        }));
    }
    Ok(out)
}
