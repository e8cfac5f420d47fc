//! Dovecot's dot-locks, so that havre and a Dovecot (or a second havre
//! process) sharing a Maildir never write one control file at once.
//!
//! The lock of `dovecot-uidlist` is `dovecot-uidlist.lock` beside it,
//! created exclusively. Whoever holds it may append to the file, or write
//! the file's new content into the lock file itself and rename it over the
//! file, which replaces the file atomically and releases the lock in one
//! step (Dovecot's `file_dotlock_replace`). A lock older than two minutes
//! belongs to a process that died holding it and is taken over, as Dovecot
//! does (its `stale_timeout` for these files).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::MaildirError;
use crate::error::io_at;
use crate::fs::{FILE_MODE, sync_parent};

/// A lock this old was left by a process that died (Dovecot: 2 minutes).
const STALE: Duration = Duration::from_secs(120);
/// How long we wait for a live holder before giving up. Holders keep the
/// lock for a few milliseconds; giving up leaves the file as it was, and
/// the caller's next pass brings it up to date.
const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(5);

/// Which version of a file a reader saw: a file replaced by rename has a new
/// inode, a file appended to a new length (Dovecot compares the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
}

impl FileId {
    pub(crate) fn of(meta: &fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
        }
    }

    /// The current version of the file at `path`, `None` if there is none.
    pub(crate) fn at(path: &Path) -> Result<Option<FileId>, MaildirError> {
        match fs::metadata(path) {
            Ok(meta) => Ok(Some(FileId::of(&meta))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_at(path)(e)),
        }
    }
}

/// A held `<file>.lock`; dropping it releases the lock.
pub(crate) struct DotLock {
    lock: PathBuf,
    target: PathBuf,
    file: Option<File>,
}

impl DotLock {
    /// Takes the lock of `target`, waiting for a live holder and taking over
    /// a stale lock.
    pub(crate) fn acquire(target: &Path) -> Result<DotLock, MaildirError> {
        let mut lock = target.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let deadline = Instant::now() + WAIT;
        loop {
            let created = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&lock);
            match created {
                Ok(file) => {
                    return Ok(DotLock {
                        lock,
                        target: target.to_path_buf(),
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_at(&lock)(e)),
            }
            let age = fs::metadata(&lock)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            if age.is_some_and(|age| age > STALE) {
                // Its holder died; whoever removes it first takes it next.
                let _ = fs::remove_file(&lock);
                continue;
            }
            if Instant::now() >= deadline {
                return Err(MaildirError::Locked(lock));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Replaces the locked file with `content`: written into the lock file,
    /// fsynced, renamed over the file, and the directory fsynced. With
    /// `after` (the replaced file's modification time), the new file's is
    /// made later, for readers that notice a change by its time (Dovecot
    /// reads `dovecot-keywords` again only when its mtime grew).
    pub(crate) fn replace(
        mut self,
        content: &[u8],
        after: Option<SystemTime>,
    ) -> Result<FileId, MaildirError> {
        let mut file = self.file.take().expect("a held lock has its file");
        file.write_all(content).map_err(io_at(&self.lock))?;
        if let Some(after) = after {
            let modified = file
                .metadata()
                .and_then(|m| m.modified())
                .map_err(io_at(&self.lock))?;
            if modified <= after {
                file.set_modified(after + Duration::from_secs(1))
                    .map_err(io_at(&self.lock))?;
            }
        }
        file.sync_all().map_err(io_at(&self.lock))?;
        let id = FileId::of(&file.metadata().map_err(io_at(&self.lock))?);
        fs::rename(&self.lock, &self.target).map_err(io_at(&self.target))?;
        // Renamed: nothing left to release.
        self.lock = PathBuf::new();
        sync_parent(&self.target)?;
        Ok(id)
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        if !self.lock.as_os_str().is_empty() {
            // Best effort: a lock left behind goes stale in two minutes.
            let _ = fs::remove_file(&self.lock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_and_a_stale_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dovecot-uidlist");
        let held = DotLock::acquire(&target).unwrap();
        assert!(dir.path().join("dovecot-uidlist.lock").exists());
        let waiter = {
            let target = target.clone();
            std::thread::spawn(move || DotLock::acquire(&target).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        waiter.join().unwrap().unwrap();

        // A lock its holder left three minutes ago.
        let lock = dir.path().join("dovecot-uidlist.lock");
        let file = File::create(&lock).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(180))
            .unwrap();
        let taken = DotLock::acquire(&target).unwrap();
        taken.replace(b"3 V1 N1\n", None).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"3 V1 N1\n");
        assert!(!lock.exists());
    }

    #[test]
    fn a_replaced_file_is_later_than_the_one_it_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dovecot-keywords");
        fs::write(&target, "0 a\n").unwrap();
        let future = SystemTime::now() + Duration::from_secs(60);
        DotLock::acquire(&target)
            .unwrap()
            .replace(b"0 a\n1 b\n", Some(future))
            .unwrap();
        let modified = fs::metadata(&target).unwrap().modified().unwrap();
        assert!(modified > future);
    }
}
