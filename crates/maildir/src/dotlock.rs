//! Dovecot's dot-locks, so that havre and a Dovecot (or a second havre
//! process) sharing a Maildir never write one control file at once.
//!
//! The lock of `dovecot-uidlist` is `dovecot-uidlist.lock` beside it,
//! holding `<pid>:<host name>` as Dovecot's do. Like Dovecot, the content is
//! written to a temporary file first and the lock made with link(2), which
//! refuses an existing name: a lock never exists empty, so a process killed
//! while taking it leaves either no lock or one naming a dead process, never
//! one that holds deliveries back until it is two minutes old. Whoever
//! holds it may append to the file, or write the new content beside it
//! (`<file>.tmp`), fsync it and rename it over the file. A lock is taken
//! over when it belongs to a process of this host that is gone (a crash
//! must not hold deliveries back) or is older than two minutes, as Dovecot
//! does (its `stale_timeout` for these files).

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::MaildirError;
use crate::error::io_at;
use crate::fs::{FILE_MODE, sync_parent};

/// A lock this old was left by a process that died (Dovecot: 2 minutes).
const STALE: Duration = Duration::from_secs(120);
/// An empty lock this old was left by a writer that created the lock before
/// writing its owner (older havre versions) and died in between.
const STALE_EMPTY: Duration = Duration::from_secs(2);
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
}

impl DotLock {
    /// Takes the lock of `target`, waiting for a live holder and taking over
    /// a stale lock.
    pub(crate) fn acquire(target: &Path) -> Result<DotLock, MaildirError> {
        let mut lock = target.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let deadline = Instant::now() + WAIT;
        let owner = format!("{}:{}", std::process::id(), hostname());
        let temp = temp_beside(&lock);
        write_new(&temp, owner.as_bytes())?;
        loop {
            let linked = fs::hard_link(&temp, &lock);
            match linked {
                Ok(()) => {
                    let _ = fs::remove_file(&temp);
                    return Ok(DotLock {
                        lock,
                        target: target.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => {
                    let _ = fs::remove_file(&temp);
                    return Err(io_at(&lock)(e));
                }
            }
            let found = fs::metadata(&lock).ok();
            let age = found
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            let empty = found.is_some_and(|m| m.len() == 0);
            let stale = age.is_some_and(|age| age > STALE || (empty && age > STALE_EMPTY));
            if stale || holder_is_gone(&lock) {
                // Its holder died; whoever removes it first takes it next.
                let _ = fs::remove_file(&lock);
                continue;
            }
            if Instant::now() >= deadline {
                let _ = fs::remove_file(&temp);
                return Err(MaildirError::Locked(lock));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Replaces the locked file with `content`: written beside it
    /// (`<file>.tmp`, ours while we hold the lock), fsynced, renamed over
    /// the file, and the directory fsynced; then the lock is released. With
    /// `after` (the replaced file's modification time), the new file's is
    /// made later, for readers that notice a change by its time (Dovecot
    /// reads `dovecot-keywords` again only when its mtime grew).
    pub(crate) fn replace(
        self,
        content: &[u8],
        after: Option<SystemTime>,
    ) -> Result<FileId, MaildirError> {
        let mut tmp = self.target.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(FILE_MODE)
                .open(&tmp)
                .map_err(io_at(&tmp))?;
            file.write_all(content).map_err(io_at(&tmp))?;
            if let Some(after) = after {
                let modified = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .map_err(io_at(&tmp))?;
                if modified <= after {
                    file.set_modified(after + Duration::from_secs(1))
                        .map_err(io_at(&tmp))?;
                }
            }
            file.sync_all().map_err(io_at(&tmp))?;
            let id = FileId::of(&file.metadata().map_err(io_at(&tmp))?);
            fs::rename(&tmp, &self.target).map_err(io_at(&self.target))?;
            Ok(id)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        let id = written?;
        sync_parent(&self.target)?;
        Ok(id)
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        // Best effort: a lock left behind is taken over once its holder is gone.
        let _ = fs::remove_file(&self.lock);
    }
}

/// A name beside `lock` for the lock's content before it is linked into
/// place, unique to this process and call (Dovecot's `.temp.<host>.<pid>.*`).
fn temp_beside(lock: &Path) -> PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    lock.with_file_name(format!(".temp.{}.{}.{seq}", hostname(), std::process::id()))
}

/// Creates `path` (which must not exist) holding `content`.
fn write_new(path: &Path, content: &[u8]) -> Result<(), MaildirError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io_at(path))?;
    file.write_all(content).map_err(|e| {
        let _ = fs::remove_file(path);
        io_at(path)(e)
    })
}

/// Whether a lock says it belongs to a process of this host that no longer
/// runs (`<pid>:<host>`, Dovecot's content too).
fn holder_is_gone(lock: &Path) -> bool {
    let Ok(content) = fs::read_to_string(lock) else {
        return false;
    };
    let Some((pid, host)) = content.trim_end().split_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<libc::pid_t>() else {
        return false;
    };
    if host != hostname() || pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let refused = unsafe { libc::kill(pid, 0) } != 0;
    refused && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// This host's name, as Dovecot writes it in its locks (read once).
fn hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(read_hostname)
}

fn read_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the name is NUL-terminated
    // or fills it (then it is cut at the buffer's end).
    let done = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if done != 0 {
        return String::new();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    std::ffi::OsStr::from_bytes(&buf[..len])
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;

    #[test]
    fn a_lock_appears_with_its_owner_written_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dovecot-uidlist");
        let held = DotLock::acquire(&target).unwrap();
        let owner = fs::read_to_string(dir.path().join("dovecot-uidlist.lock")).unwrap();
        assert_eq!(owner, format!("{}:{}", std::process::id(), hostname()));
        drop(held);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{left:?}");
    }

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

        // A lock whose holder died (no process has PID 0x7ffffffe)...
        let lock = dir.path().join("dovecot-uidlist.lock");
        fs::write(&lock, format!("2147483646:{}", hostname())).unwrap();
        drop(DotLock::acquire(&target).unwrap());
        assert!(!lock.exists());
        // ... or one its holder left three minutes ago.
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
