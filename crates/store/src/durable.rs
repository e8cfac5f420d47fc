//! How a write that answers a client reaches the disk: group commit.
//!
//! The database runs in WAL mode with `synchronous=NORMAL`, so a COMMIT
//! appends its frames to the `-wal` file without waiting for the disk. SQLite
//! documents that in this mode the WAL is synced before each checkpoint, the
//! database file after it, and the WAL header when the file starts being
//! reused; what NORMAL gives up is only the sync of the frames of each
//! commit. Every write that someone is answered for therefore goes through
//! [`SqliteStore::commit`], [`SqliteStore::write`] or [`SqliteStore::run`]
//! (a transaction sent as one script), which after the COMMIT
//! fsyncs the `-wal` file ([`WalSync`]) before returning. fsync covers every
//! frame written before it started, and a WAL is replayed as a prefix, so a
//! sync that starts after this COMMIT makes it, and every earlier commit,
//! durable. The sync is a [`havre_fsync::GroupSync`]: concurrent writers
//! (SMTP sessions, delivery workers, IMAP sessions) that committed while a
//! sync was running share the next one, and the single writer connection
//! is free for the next transaction while the disk works. Writers await
//! it: only the one that runs the fsync takes a thread of the blocking pool.
//!
//! SQLite deletes the `-wal` file when the last connection to the database
//! closes (after a complete checkpoint, which synced the database file) and
//! creates it again at the next write: the path is opened at each sync, a
//! missing file means everything committed is in the synced database file,
//! and a file seen for the first time (a new inode) has its directory
//! synced too, so that its name survives a power cut.
//!
//! What readers see: another connection sees a commit as soon as it is made,
//! a few milliseconds before its sync ends. A power cut (not a crash of the
//! process: the kernel keeps what was written) in that window can roll back
//! a change a reader saw but nobody was answered for, the way Dovecot's
//! index is not fsynced by default. Nothing that was acknowledged is lost.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use havre_fsync::GroupSync;

/// The `-wal` file of one database and the syncs shared by its writers.
pub(crate) struct WalSync {
    wal: PathBuf,
    dir: PathBuf,
    group: Arc<GroupSync>,
    /// Device and inode of the WAL last synced with its directory.
    known: Mutex<Option<(u64, u64)>>,
}

impl WalSync {
    pub(crate) fn new(database: &Path) -> WalSync {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        let dir = match database.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        WalSync {
            wal: PathBuf::from(wal),
            dir,
            group: Arc::new(GroupSync::new()),
            known: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.wal
    }

    /// Returns once everything committed before the call is on disk.
    pub(crate) async fn synced(self: &Arc<Self>) -> io::Result<()> {
        let wal = Arc::clone(self);
        self.group.sync_async(move || wal.sync_now()).await
    }

    /// [`WalSync::synced`] from a thread that may block.
    #[cfg(test)]
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.group.sync(|| self.sync_now())
    }

    /// How many fsyncs of the WAL ran (for tests).
    #[cfg(test)]
    pub(crate) fn runs(&self) -> u64 {
        self.group.runs()
    }

    fn sync_now(&self) -> io::Result<()> {
        let file = match File::open(&self.wal) {
            Ok(file) => file,
            // Checkpointed into the database file, synced, then removed.
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        file.sync_all()?;
        let meta = file.metadata()?;
        let inode = (meta.dev(), meta.ino());
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if *known != Some(inode) {
            File::open(&self.dir)?.sync_all()?;
            *known = Some(inode);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;
    use std::sync::Arc;

    use super::WalSync;
    use crate::*;

    fn entry(n: usize) -> QueueEntry {
        QueueEntry {
            id: format!("{n:016X}"),
            sender: "x@remote.test".into(),
            size: 10,
            arrival: 1_700_000_000,
            client: "mx.remote.test[192.0.2.1]".into(),
            protocol: "ESMTP".into(),
            attempts: 0,
            next_attempt: 1_700_000_000,
            hold: false,
            hold_reason: None,
            warned: false,
            node: 0,
            recipients: vec![QueueRecipient {
                idx: 0,
                address: "alice@example.test".into(),
                orig: None,
                status: RecipientStatus::Pending,
                last_reply: None,
            }],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn forty_sessions_wait_for_a_wal_sync_that_began_after_their_commit_and_share_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("havre.db"))
                .await
                .unwrap(),
        );
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(
            synchronous, 1,
            "the writer must not fsync each COMMIT itself"
        );
        // A slow disk: a sync is under way and does not end until released.
        let wal = store.wal.clone().unwrap();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, sync_started) = std::sync::mpsc::channel();
        let slow = {
            let wal = wal.clone();
            std::thread::spawn(move || {
                wal.group.sync(|| {
                    started.send(()).unwrap();
                    released.recv().unwrap();
                    Ok(())
                })
            })
        };
        sync_started.recv().unwrap();
        let before = wal.runs();
        let sessions: Vec<_> = (0..40)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move { store.queue_insert(&entry(n), None).await })
            })
            .collect();
        // Every record is committed (another connection sees them all)...
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while store.queue_list().await.unwrap().len() < 40 {
            assert!(
                std::time::Instant::now() < deadline,
                "the inserts did not commit"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // ...but none is acknowledged: the sync under way began before them.
        assert!(
            sessions.iter().all(|s| !s.is_finished()),
            "an insert returned before its sync"
        );
        release.send(()).unwrap();
        slow.join().unwrap().unwrap();
        for session in sessions {
            session.await.unwrap().unwrap();
        }
        let syncs = wal.runs() - before;
        assert!(
            (1..=2).contains(&syncs),
            "{syncs} WAL fsyncs for 40 inserts that waited together"
        );
    }

    #[tokio::test]
    async fn a_database_opened_through_a_symbolic_link_syncs_the_real_wal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let store = SqliteStore::open(&dir.path().join("real/havre.db"))
            .await
            .unwrap();
        drop(store);
        let link = dir.path().join("havre.db");
        std::os::unix::fs::symlink(dir.path().join("real/havre.db"), &link).unwrap();
        let store = SqliteStore::open(&link).await.unwrap();
        store.add_domain("example.test").await.unwrap();
        let wal = store.wal.as_ref().unwrap();
        assert_eq!(wal.path(), dir.path().join("real/havre.db-wal"));
        let synced = wal.known.lock().unwrap().map(|(_, ino)| ino);
        let real = std::fs::metadata(dir.path().join("real/havre.db-wal")).unwrap();
        assert_eq!(synced, Some(real.ino()));
    }

    #[test]
    fn a_wal_removed_and_made_again_is_synced_with_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("havre.db");
        let wal = WalSync::new(&database);
        assert_eq!(wal.path(), dir.path().join("havre.db-wal"));
        // No WAL: the last connection checkpointed everything and removed it.
        wal.sync().unwrap();
        assert_eq!(*wal.known.lock().unwrap(), None);
        std::fs::write(wal.path(), b"frames").unwrap();
        wal.sync().unwrap();
        let first = std::fs::metadata(wal.path()).unwrap().ino();
        assert_eq!(wal.known.lock().unwrap().map(|(_, ino)| ino), Some(first));
        std::fs::remove_file(wal.path()).unwrap();
        // Keep the old inode number from being handed out again at once.
        let _keep = std::fs::write(dir.path().join("other"), b"x");
        std::fs::write(wal.path(), b"new frames").unwrap();
        let second = std::fs::metadata(wal.path()).unwrap().ino();
        wal.sync().unwrap();
        assert_eq!(wal.known.lock().unwrap().map(|(_, ino)| ino), Some(second));
        assert_eq!(wal.runs(), 3);
    }
}
