//! Importing a Dovecot Maildir, so that users moving to havre download
//! nothing again: every folder keeps its UIDVALIDITY and UIDNEXT, every
//! message its UID, flags, keywords, size and internal date.
//!
//! What is read, as Dovecot writes it:
//! - the tree: the INBOX at the root (`cur/`, `new/`), folders beside it as
//!   Maildir++ directories (`.Lists.rust` is "Lists/rust", names in modified
//!   UTF-7);
//! - `dovecot-uidlist` in each folder: the header `3 V<uidvalidity>
//!   N<nextuid> ...` (or version 1, `1 <uidvalidity> <nextuid>`), then one
//!   `<uid> [<ext>...] :<file name up to ':'>` line per message. A file not
//!   listed gets a UID from NEXTUID on, in Dovecot's order (by the time in
//!   its name), as Dovecot would give it;
//! - `dovecot-keywords`: `<index> <keyword>` lines; the letters `a`..`z`
//!   after `:2,` are keywords 0..25, the capitals are the system flags;
//! - `subscriptions` at the root (Dovecot's version 1 or 2 format).
//!
//! How: everything is read and checked first (a malformed control file, a
//! folder name havre cannot store, or a mailbox of the user that already has
//! other messages stops the import before anything is written). Then, folder
//! by folder, the files are copied into the user's Maildir under the same
//! name (fsynced, with their modification time, which is the internal date),
//! the directories fsynced, and only then the folder's index is written in
//! one transaction ([`havre_store::MailStore::mailbox_import`]). When havre's
//! Maildir of the user *is* the imported tree, nothing is copied.
//!
//! Run again after an interruption, an import leaves alone the folders whose
//! messages are all in havre already with their UIDs, and does the others.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use havre_maildir::{Keywords, Maildir, MaildirError, folder_name, parse_name, utf8_folder_name};
use havre_store::{MailboxInit, NewMessage, StoreError};

use crate::flags;
use crate::mailboxes::{MailboxError, Mailboxes};

/// Dovecot's default special-use folders (its `15-mailboxes.conf`, plus the
/// names other servers and clients commonly used).
const SPECIAL_USE: &[(&str, &str)] = &[
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Sent Messages", "\\Sent"),
    ("Sent Items", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Deleted Messages", "\\Trash"),
    ("Deleted Items", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Spam", "\\Junk"),
    ("Archive", "\\Archive"),
];

/// Messages copied at the same time.
const COPIES_AT_ONCE: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no user {0}: add it first with `havre user add {0}`")]
    NoSuchUser(String),
    #[error(
        "the snapshot has no folder {folder:?} for {user} (it has: {})",
        .available.join(", ")
    )]
    NoSuchFolder {
        folder: String,
        user: String,
        available: Vec<String>,
    },
    #[error("{0}: not a Maildir (no cur/ directory)")]
    NotAMaildir(PathBuf),
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0}: not a folder name havre can store")]
    BadFolder(PathBuf),
    /// Mailboxes the import would fill that already have messages, with
    /// how many: an import only fills empty mailboxes.
    #[error(
        "nothing was imported: {user} already has messages in {}; an import only fills empty mailboxes",
        .mailboxes.iter().map(|(m, n)| format!("{m} ({n})")).collect::<Vec<_>>().join(", ")
    )]
    NotEmpty {
        user: String,
        mailboxes: Vec<(String, usize)>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the import did, folder by folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub folders: Vec<ImportedFolder>,
    /// Empty mailboxes of the user whose special use an imported folder took
    /// (e.g. "Sent" when Dovecot's sent folder was "Sent Messages"); deleted.
    pub replaced: Vec<String>,
    /// Folders left alone because havre's mailbox of that name has messages
    /// and nothing is missing from it: every message of the folder is there
    /// with its UID (an import run again after an interruption), or the
    /// folder has none.
    pub left_alone: Vec<String>,
    /// Directories of the tree that are not Maildir++ folders, and why.
    pub skipped: Vec<(PathBuf, &'static str)>,
    /// No `subscriptions` file: every folder was left subscribed.
    pub no_subscriptions_file: bool,
}

impl ImportReport {
    pub fn messages(&self) -> usize {
        self.folders.iter().map(|f| f.messages).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.folders.iter().map(|f| f.bytes).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFolder {
    /// The havre name ("INBOX", "Lists/rust").
    pub name: String,
    pub uidvalidity: u32,
    /// Whether the UIDVALIDITY (and so the UIDs) came from `dovecot-uidlist`.
    pub uidvalidity_kept: bool,
    pub uidnext: u32,
    pub messages: usize,
    /// Bytes of the message files.
    pub bytes: u64,
    pub special_use: Option<String>,
    pub subscribed: bool,
    /// The files were already in the user's Maildir: indexed, not copied.
    pub in_place: bool,
    /// Messages gone from the source between the scan and their copy (a
    /// Dovecot still running expunged them).
    pub vanished: usize,
}

/// One folder of the source tree, read and planned.
pub(crate) struct SourceFolder {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    uidvalidity: Option<u32>,
    nextuid: Option<u32>,
    /// In UID order.
    pub(crate) messages: Vec<SourceMessage>,
    /// `dovecot-keywords`: letter → keyword.
    keywords: Arc<Keywords>,
}

pub(crate) struct SourceMessage {
    uid: u32,
    /// `cur` or `new`.
    pub(crate) sub: &'static str,
    pub(crate) file_name: String,
    pub(crate) flags: Vec<String>,
    /// `W=` of the name, or of the uidlist record.
    vsize: Option<u64>,
}

/// Imports the Dovecot Maildir at `source` into `user`'s mailboxes.
/// `progress(done, total)` is called after each message.
pub async fn import_dovecot_maildir(
    mailboxes: &Mailboxes,
    user: &str,
    source: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<ImportReport, ImportError> {
    let user = user.to_lowercase();
    if mailboxes.store().get_user(&user).await?.is_none() {
        return Err(ImportError::NoSuchUser(user));
    }
    let root = source.to_path_buf();
    let (folders, subscriptions, skipped) = blocking(move || {
        let (folders, skipped) = scan_tree(&root)?;
        let subscriptions = Maildir::new(&root)
            .read_subscriptions()
            .map_err(from_maildir)?;
        Ok((folders, subscriptions, skipped))
    })
    .await?;

    // Check everything before writing anything.
    let existing = mailboxes.list(&user).await?;
    let mut conflicts = Vec::new();
    let mut left_alone = Vec::new();
    for folder in &folders {
        mailboxes.maildir_of(&user, &folder.name)?;
        let Some(record) = existing.iter().find(|m| m.name == folder.name) else {
            continue;
        };
        let indexed: HashMap<String, u32> = mailboxes
            .store()
            .message_list(record.id)
            .await?
            .into_iter()
            .map(|m| (m.file, m.uid))
            .collect();
        if indexed.is_empty() {
            continue;
        }
        // Without a uidlist the UIDs were havre's: the files tell.
        let all_there = folder.uidvalidity.is_none_or(|v| v == record.uidvalidity)
            && folder.messages.iter().all(|m| {
                indexed
                    .get(&format!("{}/{}", m.sub, m.file_name))
                    .is_some_and(|&uid| folder.uidvalidity.is_none() || uid == m.uid)
            });
        if folder.messages.is_empty() || all_there {
            left_alone.push(folder.name.clone());
        } else {
            conflicts.push((folder.name.clone(), indexed.len()));
        }
    }
    if !conflicts.is_empty() {
        return Err(ImportError::NotEmpty {
            user,
            mailboxes: conflicts,
        });
    }
    let imported: HashSet<&str> = folders.iter().map(|f| f.name.as_str()).collect();
    let taken: HashSet<&str> = folders
        .iter()
        .filter_map(|f| special_use(&f.name))
        .collect();
    let mut redundant = Vec::new();
    for record in &existing {
        if !imported.contains(record.name.as_str())
            && record.name != "INBOX"
            && record
                .special_use
                .as_deref()
                .is_some_and(|s| taken.contains(s))
            && record.uidnext == 1
            && mailboxes.store().message_list(record.id).await?.is_empty()
        {
            // Nor any file the index does not know yet.
            let maildir = mailboxes.maildir_of(&user, &record.name)?;
            if blocking(move || Ok(maildir.messages().map(|m| m.is_empty()).unwrap_or(false)))
                .await?
            {
                redundant.push(record.clone());
            }
        }
    }

    let folders: Vec<SourceFolder> = folders
        .into_iter()
        .filter(|f| !left_alone.contains(&f.name))
        .collect();
    let total: u64 = folders.iter().map(|f| f.messages.len() as u64).sum();
    let mut done = 0u64;
    progress(done, total);
    let mut report = ImportReport {
        folders: Vec::new(),
        replaced: Vec::new(),
        left_alone,
        skipped,
        no_subscriptions_file: subscriptions.is_none(),
    };
    for folder in folders {
        let target = mailboxes.maildir_of(&user, &folder.name)?;
        let home = mailboxes.root_of(&user);
        let (name, dir, to) = (
            folder.name.clone(),
            folder.dir.clone(),
            target.root().to_path_buf(),
        );
        let in_place = blocking(move || {
            if name == "INBOX" {
                home.create().map_err(MailboxError::from)?;
            } else {
                home.create_folder(&name).map_err(MailboxError::from)?;
            }
            Ok(same_dir(&dir, &to))
        })
        .await?;
        // A few copies at once: their fsyncs share the file system's commits.
        let mut fetched: Vec<Option<Fetched>> = Vec::with_capacity(folder.messages.len());
        fetched.resize_with(folder.messages.len(), || None);
        let mut running = tokio::task::JoinSet::new();
        let mut planned = folder.messages.iter().enumerate();
        loop {
            while running.len() < COPIES_AT_ONCE
                && let Some((index, message)) = planned.next()
            {
                let source = folder.dir.clone();
                let to = (!in_place).then(|| target.root().to_path_buf());
                let (sub, file_name) = (message.sub, message.file_name.clone());
                running
                    .spawn_blocking(move || (index, fetch(&source, sub, file_name, to.as_deref())));
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (index, result) =
                joined.map_err(|e| ImportError::Mailbox(MailboxError::Task(e.to_string())))?;
            fetched[index] = result?;
            done += 1;
            progress(done, total);
        }
        let mut records = Vec::with_capacity(folder.messages.len());
        let (mut bytes, mut vanished) = (0, 0);
        for (message, fetched) in folder.messages.iter().zip(fetched) {
            let Some((sub, file_name, copied)) = fetched else {
                vanished += 1;
                continue;
            };
            // Renamed meanwhile: its name has the flags of now.
            let (flags, vsize) = if file_name == message.file_name {
                (message.flags.clone(), message.vsize)
            } else {
                let parsed = parse_name(&file_name);
                (
                    flags::from_letters(&parsed.flags, &folder.keywords),
                    parsed.vsize.or(message.vsize),
                )
            };
            bytes += copied.bytes;
            records.push(NewMessage {
                file: format!("{sub}/{file_name}"),
                size: vsize.unwrap_or(copied.vsize),
                internal_date: copied.mtime,
                flags,
                cache: None,
                uid: Some(message.uid),
                // Indexed for SEARCH by the first search of the folder.
                text: None,
            });
        }
        if !in_place {
            let to = target.root().to_path_buf();
            blocking(move || {
                for sub in ["new", "cur"] {
                    sync_dir(&to.join(sub))?;
                }
                Ok(())
            })
            .await?;
        }
        let init = MailboxInit {
            special_use: special_use(&folder.name).map(str::to_string),
            uidvalidity: folder.uidvalidity,
            uidnext: folder.nextuid,
        };
        let record = mailboxes
            .store()
            .mailbox_import(&user, &folder.name, &init, &records)
            .await?;
        let subscribed = folder.name == "INBOX"
            || subscriptions
                .as_ref()
                .is_none_or(|names| names.contains(&folder.name));
        if record.subscribed != subscribed {
            mailboxes.subscribe(&user, &record.name, subscribed).await?;
        }
        // Dovecot's files and the names, as havre keeps them: the source's
        // keyword letters, so the copied names mean what they meant.
        mailboxes
            .after_import(&user, &record, (!in_place).then(|| folder.keywords.clone()))
            .await?;
        mailboxes
            .notifier()
            .changed(&user, record.id, crate::MessageChange::New);
        report.folders.push(ImportedFolder {
            name: folder.name,
            uidvalidity: record.uidvalidity,
            uidvalidity_kept: folder.uidvalidity.is_some(),
            uidnext: record.uidnext,
            messages: records.len(),
            bytes,
            special_use: record.special_use,
            subscribed,
            in_place,
            vanished,
        });
    }
    for record in redundant {
        mailboxes.delete(&user, &record).await?;
        report.replaced.push(record.name);
    }
    mailboxes.write_subscriptions(&user).await;
    Ok(report)
}

/// The special use Dovecot's default configuration gives a top-level name.
fn special_use(name: &str) -> Option<&'static str> {
    SPECIAL_USE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, use_)| *use_)
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ImportError> + Send + 'static,
) -> Result<T, ImportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ImportError::Mailbox(MailboxError::Task(e.to_string())))?
}

/// A control file the Maildir crate could not read, as an import error.
fn from_maildir(e: MaildirError) -> ImportError {
    match e {
        MaildirError::Malformed { path, line, reason } => {
            ImportError::Malformed { path, line, reason }
        }
        MaildirError::Io { path, source } => ImportError::Io { path, source },
        other => ImportError::Mailbox(other.into()),
    }
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The INBOX and every folder of the tree, with their messages planned.
pub(crate) type Skipped = Vec<(PathBuf, &'static str)>;

pub(crate) fn scan_tree(root: &Path) -> Result<(Vec<SourceFolder>, Skipped), ImportError> {
    if !root.join("cur").is_dir() {
        return Err(ImportError::NotAMaildir(root.to_path_buf()));
    }
    let mut folders = vec![scan_folder("INBOX".into(), root.to_path_buf())?];
    let mut skipped = Vec::new();
    let mut dirs = Vec::new();
    for entry in fs::read_dir(root).map_err(io_at(root))? {
        let entry = entry.map_err(io_at(root))?;
        let os_name = entry.file_name();
        let bytes = os_name.as_encoded_bytes();
        if !entry.file_type().map_err(io_at(&entry.path()))?.is_dir()
            || matches!(bytes, b"." | b".." | b"cur" | b"new" | b"tmp")
        {
            continue;
        }
        if !bytes.starts_with(b".") {
            skipped.push((
                entry.path(),
                "not a Maildir++ folder (Dovecot's LAYOUT=fs is not read)",
            ));
            continue;
        }
        dirs.push(entry.path());
    }
    dirs.sort();
    for dir in dirs {
        if !dir.join("cur").is_dir() {
            skipped.push((dir, "no cur/ directory"));
            continue;
        }
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| folder_name(n).or_else(|| utf8_folder_name(n)))
            .ok_or_else(|| ImportError::BadFolder(dir.clone()))?;
        folders.push(scan_folder(name, dir)?);
    }
    Ok((folders, skipped))
}

fn scan_folder(name: String, dir: PathBuf) -> Result<SourceFolder, ImportError> {
    let maildir = Maildir::new(&dir);
    let uidlist = maildir
        .read_uidlist()
        .map_err(from_maildir)?
        .map(|(u, _)| u);
    // File name up to ':' → (uid, `W` of the record).
    let listed_uids: HashMap<&str, (u32, Option<u64>)> = uidlist
        .iter()
        .flat_map(|u| &u.records)
        .map(|r| (r.name.as_str(), (r.uid, r.vsize)))
        .collect();
    let keywords = maildir
        .read_keywords()
        .map_err(from_maildir)?
        .map(|(k, _)| k)
        .unwrap_or_default();
    let mut listed = Vec::new();
    let mut unlisted = Vec::new();
    let mut seen = HashSet::new();
    for sub in ["cur", "new"] {
        let path = dir.join(sub);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(io_at(&path)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_at(&path))?;
            let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
                return Err(ImportError::Io {
                    path: entry.path(),
                    source: std::io::Error::other("file name is not UTF-8"),
                });
            };
            if file_name.starts_with('.') || !entry.file_type().map_err(io_at(&path))?.is_file() {
                continue;
            }
            let parsed = parse_name(&file_name);
            let key = key_of(&file_name).to_string();
            let flags = flags::from_letters(&parsed.flags, &keywords);
            let record = listed_uids
                .get(key.as_str())
                .filter(|_| seen.insert(key.clone()));
            let message = SourceMessage {
                uid: record.map(|r| r.0).unwrap_or(0),
                sub,
                vsize: parsed.vsize.or(record.and_then(|r| r.1)),
                file_name,
                flags,
            };
            if record.is_some() {
                listed.push(message);
            } else {
                unlisted.push(message);
            }
        }
    }
    listed.sort_by_key(|m| m.uid);
    // As Dovecot: new files in the order of the time in their names.
    unlisted.sort_by(|a, b| sort_key(&a.file_name).cmp(&sort_key(&b.file_name)));
    let last = listed.last().map(|m| m.uid).unwrap_or(0);
    let mut next = uidlist
        .as_ref()
        .map(|u| u.header.nextuid)
        .unwrap_or(1)
        .max(last + 1);
    for message in &mut unlisted {
        message.uid = next;
        next += 1;
    }
    listed.extend(unlisted);
    Ok(SourceFolder {
        name,
        dir,
        uidvalidity: uidlist.as_ref().map(|u| u.header.uidvalidity),
        nextuid: uidlist.as_ref().map(|_| next),
        messages: listed,
        keywords: Arc::new(keywords),
    })
}

/// The part of a Maildir file name no reader changes: up to the ':'.
pub(crate) fn key_of(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

/// Where a message was found (`cur` or `new`, its name) and what it is.
type Fetched = (&'static str, String, Copied);

/// Copies (or, with `to` `None`, measures) a message of `source`. A Dovecot
/// still running may rename it (a flag change) or expunge it meanwhile: it
/// is looked for again by its key; `None` if it is gone.
fn fetch(
    source: &Path,
    mut sub: &'static str,
    mut file_name: String,
    to: Option<&Path>,
) -> Result<Option<Fetched>, ImportError> {
    let mut attempts = 0;
    loop {
        let from = source.join(sub).join(&file_name);
        let result = match to {
            Some(to) => copy_message(&from, to, sub, &file_name),
            None => measure(&from),
        };
        match result {
            Ok(copied) => return Ok(Some((sub, file_name, copied))),
            Err(ImportError::Io { path, source: e })
                if e.kind() == ErrorKind::NotFound && path == from && attempts < 3 =>
            {
                attempts += 1;
                match find_by_key(source, key_of(&file_name))? {
                    Some(found) => (sub, file_name) = found,
                    None => return Ok(None),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn find_by_key(source: &Path, key: &str) -> Result<Option<(&'static str, String)>, ImportError> {
    for sub in ["cur", "new"] {
        let dir = source.join(sub);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(io_at(&dir)(e)),
        };
        for entry in entries {
            let name = entry.map_err(io_at(&dir))?.file_name();
            if let Some(name) = name.to_str()
                && key_of(name) == key
            {
                return Ok(Some((sub, name.to_string())));
            }
        }
    }
    Ok(None)
}

/// `(seconds, microseconds, name)` of `<secs>.M<usecs>P<pid>.<host>...`.
fn sort_key(name: &str) -> (u64, u64, &str) {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    let secs = name[..digits].parse().unwrap_or(0);
    let usecs = name[digits..]
        .strip_prefix('.')
        .and_then(|rest| rest.split(['.', ':']).next())
        .and_then(|unique| unique.split_once('M'))
        .map(|(_, after)| {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            after[..n].parse().unwrap_or(0)
        })
        .unwrap_or(0);
    (secs, usecs, name.split(':').next().unwrap_or(name))
}

/// What a copied (or measured) file is.
struct Copied {
    bytes: u64,
    /// The size with CRLF line endings.
    vsize: u64,
    /// Modification time, Unix seconds: the internal date.
    mtime: i64,
}

/// Counts the bytes and line ends of a stream as it goes by.
#[derive(Default)]
struct Counter {
    bytes: u64,
    lf: u64,
    crlf: u64,
    last_cr: bool,
}

impl Counter {
    fn add(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if b == b'\n' {
                self.lf += 1;
                self.crlf += u64::from(self.last_cr);
            }
            self.last_cr = b == b'\r';
        }
        self.bytes += chunk.len() as u64;
    }

    fn vsize(&self) -> u64 {
        self.bytes + self.lf - self.crlf
    }
}

fn mtime_of(file: &File, path: &Path) -> Result<(SystemTime, i64), ImportError> {
    let modified = file
        .metadata()
        .and_then(|m| m.modified())
        .map_err(io_at(path))?;
    let secs = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok((modified, secs))
}

/// Reads a file already where it belongs.
fn measure(path: &Path) -> Result<Copied, ImportError> {
    let mut file = File::open(path).map_err(io_at(path))?;
    let (_, mtime) = mtime_of(&file, path)?;
    let mut counter = Counter::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => counter.add(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_at(path)(e)),
        }
    }
    Ok(Copied {
        bytes: counter.bytes,
        vsize: counter.vsize(),
        mtime,
    })
}

/// Copies `from` to `<to>/<sub>/<file_name>` durably: written in tmp/ with
/// the source's modification time, fsynced, renamed. The caller fsyncs the
/// directories once the folder is done.
fn copy_message(from: &Path, to: &Path, sub: &str, file_name: &str) -> Result<Copied, ImportError> {
    let mut source = File::open(from).map_err(io_at(from))?;
    let (modified, mtime) = mtime_of(&source, from)?;
    let tmp = to.join("tmp").join(file_name.replace(':', "_"));
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_at(&tmp))?;
    let mut counter = Counter::default();
    let mut buf = vec![0u8; 64 * 1024];
    let result = (|| {
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_at(from)(e)),
            };
            out.write_all(&buf[..n]).map_err(io_at(&tmp))?;
            counter.add(&buf[..n]);
        }
        out.set_modified(modified).map_err(io_at(&tmp))?;
        out.sync_all().map_err(io_at(&tmp))?;
        let dest = to.join(sub).join(file_name);
        fs::rename(&tmp, &dest).map_err(io_at(&dest))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    Ok(Copied {
        bytes: counter.bytes,
        vsize: counter.vsize(),
        mtime,
    })
}

fn sync_dir(dir: &Path) -> Result<(), ImportError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_keeps_the_uids_of_its_uidlist_and_numbers_the_rest_after_them() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        fs::write(
            dir.path().join("dovecot-uidlist"),
            "3 V1600000000 N13 G3085f01b7f11094c501100008c4a11c1\n\
             5 :1600000001.M1P1.old,S=10,W=12\n\
             9 W300 S290 :1600000002.M2P1.old\n",
        )
        .unwrap();
        fs::write(dir.path().join("dovecot-keywords"), "0 $Label1\n").unwrap();
        fs::write(
            dir.path().join("cur/1600000001.M1P1.old,S=10,W=12:2,Sa"),
            "x",
        )
        .unwrap();
        fs::write(dir.path().join("new/1600000002.M2P1.old"), "y").unwrap();
        fs::write(dir.path().join("new/1600000003.M3P1.other"), "z").unwrap();
        let folder = scan_folder("INBOX".into(), dir.path().to_path_buf()).unwrap();
        assert_eq!(
            (folder.uidvalidity, folder.nextuid),
            (Some(1_600_000_000), Some(14))
        );
        let seen: Vec<(u32, &str, Option<u64>, &[String])> = folder
            .messages
            .iter()
            .map(|m| (m.uid, m.file_name.as_str(), m.vsize, &m.flags[..]))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    5,
                    "1600000001.M1P1.old,S=10,W=12:2,Sa",
                    Some(12),
                    &["\\Seen".to_string(), "$Label1".to_string()][..]
                ),
                (9, "1600000002.M2P1.old", Some(300), &[][..]),
                (13, "1600000003.M3P1.other", None, &[][..]),
            ]
        );
    }

    #[test]
    fn a_broken_uidlist_stops_the_import_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("cur")).unwrap();
        fs::write(dir.path().join("dovecot-uidlist"), "3 V1 N5\n4 :a\n2 :b\n").unwrap();
        let err = scan_folder("INBOX".into(), dir.path().to_path_buf())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.ends_with("dovecot-uidlist:3: bad or unordered UID: \"2 :b\""),
            "{err}"
        );
    }

    #[test]
    fn a_message_renamed_or_expunged_by_a_running_dovecot_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (source, to) = (dir.path().join("src"), dir.path().join("dst"));
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(source.join(sub)).unwrap();
            fs::create_dir_all(to.join(sub)).unwrap();
        }
        fs::write(source.join("cur/1.M1P1.h:2,RS"), "a\nb\n").unwrap();
        // Planned as unread in new/, read and answered since.
        let (sub, name, copied) = fetch(&source, "new", "1.M1P1.h".into(), Some(&to))
            .unwrap()
            .unwrap();
        assert_eq!((sub, name.as_str()), ("cur", "1.M1P1.h:2,RS"));
        assert_eq!((copied.bytes, copied.vsize), (4, 6));
        assert!(to.join("cur/1.M1P1.h:2,RS").is_file());
        assert!(
            fetch(&source, "cur", "2.M1P1.h:2,S".into(), Some(&to))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn unlisted_files_are_ordered_by_the_time_in_their_names() {
        let mut names = vec![
            "1700000000.M20P1.h",
            "999999999.M1P1.h",
            "1700000000.M3P1.h:2,S",
        ];
        names.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        assert_eq!(
            names,
            [
                "999999999.M1P1.h",
                "1700000000.M3P1.h:2,S",
                "1700000000.M20P1.h"
            ]
        );
    }
}
