//! Spool files: message bodies of the queue, written durably.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use havre_message::MessageSource;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::QueueError;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> QueueError + '_ {
    move |source| QueueError::Spool {
        path: path.display().to_string(),
        source,
    }
}

/// The spool directory: `tmp/` for bodies being received, `msg/` for queued ones.
#[derive(Debug, Clone)]
pub struct Spool {
    tmp: PathBuf,
    msg: PathBuf,
}

impl Spool {
    pub fn open(root: &Path) -> Result<Spool, QueueError> {
        let spool = Spool {
            tmp: root.join("tmp"),
            msg: root.join("msg"),
        };
        for dir in [&spool.tmp, &spool.msg] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err(dir))?;
        }
        Ok(spool)
    }

    pub fn message_path(&self, id: &str) -> PathBuf {
        self.msg.join(id)
    }

    /// Starts receiving a body; nothing is visible in `msg/` until `commit`.
    /// Nothing touches the disk either until the body outgrows
    /// [`IN_MEMORY`]: most messages are written once, whole, at the commit.
    pub async fn create(&self, id: &str) -> Result<SpoolFile, QueueError> {
        Ok(SpoolFile {
            body: Body::Memory(Vec::new()),
            final_path: self.message_path(id),
            tmp: self.tmp.join(id),
            written: 0,
            committed: false,
        })
    }

    /// Bytes that unprivileged writers can still use on the spool's filesystem.
    pub fn free_space(&self) -> std::io::Result<u64> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.msg.as_os_str().as_bytes())
            .map_err(std::io::Error::other)?;
        // SAFETY: statvfs(2) fills the zeroed struct; `path` is NUL-terminated and outlives the call.
        let stat = unsafe {
            let mut stat: libc::statvfs = std::mem::zeroed();
            if libc::statvfs(path.as_ptr(), &mut stat) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            stat
        };
        Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
    }

    pub async fn remove(&self, id: &str) {
        let path = self.message_path(id);
        // One unlink, done here: it costs about what a trip to a blocking
        // thread and back would, once per message.
        if let Err(err) = std::fs::remove_file(&path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(target: "queue", "{id}: cannot remove {}: {err}", path.display());
        }
    }

    pub async fn ids(&self) -> Result<Vec<String>, QueueError> {
        list(&self.msg).await
    }

    pub(crate) async fn clear_tmp(&self) -> Result<usize, QueueError> {
        let names = list(&self.tmp).await?;
        for name in &names {
            let _ = tokio::fs::remove_file(self.tmp.join(name)).await;
        }
        Ok(names.len())
    }
}

async fn list(dir: &Path) -> Result<Vec<String>, QueueError> {
    let mut out = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await.map_err(io_err(dir))?;
    while let Some(entry) = entries.next_entry().await.map_err(io_err(dir))? {
        if let Some(name) = entry.file_name().to_str() {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// Bodies up to this size are kept in memory until their commit, which
/// puts them in the database with their queue record ([`crate::Queue::enqueue`]).
/// A bigger body goes to `tmp/` as it arrives, so a slow client holds a
/// file, not memory, and its commit fsyncs the file and names it in `msg/`:
/// 128 KiB, as Dovecot's LMTP keeps a message in memory (most mail is
/// smaller; a session at the end of a checked DATA holds it twice, the mx's
/// copy and this one).
pub const IN_MEMORY: usize = 128 << 10;

/// A body being received. Dropped without `commit` (a session that ended
/// abnormally, a panic while it was written), its `tmp/` file, if it had
/// one, is removed: nothing is left behind for the startup sweep.
pub struct SpoolFile {
    body: Body,
    tmp: PathBuf,
    final_path: PathBuf,
    written: u64,
    committed: bool,
}

enum Body {
    Memory(Vec<u8>),
    /// Outgrew [`IN_MEMORY`]: written to `tmp` as it arrives.
    File(BufWriter<tokio::fs::File>),
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        if !self.committed && matches!(self.body, Body::File(_)) {
            // A single unlink: cheap enough to do synchronously here.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl SpoolFile {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), QueueError> {
        match &mut self.body {
            Body::Memory(kept) if kept.len() + bytes.len() <= IN_MEMORY => {
                kept.extend_from_slice(bytes);
            }
            Body::Memory(kept) => {
                let kept = std::mem::take(kept);
                self.spill(&kept, bytes).await?;
            }
            Body::File(writer) => writer.write_all(bytes).await.map_err(io_err(&self.tmp))?,
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Moves what was kept in memory, and `more`, into `tmp/`, where the
    /// rest follows.
    async fn spill(&mut self, kept: &[u8], more: &[u8]) -> Result<(), QueueError> {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.tmp)
            .await
            .map_err(io_err(&self.tmp))?;
        // From here on the file is ours: dropping the body removes it.
        self.body = Body::File(BufWriter::with_capacity(64 * 1024, file));
        let Body::File(writer) = &mut self.body else {
            unreachable!("set above");
        };
        writer.write_all(kept).await.map_err(io_err(&self.tmp))?;
        writer.write_all(more).await.map_err(io_err(&self.tmp))
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Where the body will be once committed.
    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// Makes the body durable in `msg/`: the file and the directory are
    /// fsynced. On failure nothing new is in `msg/` and nothing is left in
    /// `tmp/`.
    pub async fn commit(mut self) -> Result<(), QueueError> {
        let final_path = self.final_path.clone();
        let tmp = self.tmp.clone();
        let body = std::mem::replace(&mut self.body, Body::Memory(Vec::new()));
        // Whatever happens next, the file is accounted for here, not by Drop.
        self.committed = true;
        let made = match body {
            Body::Memory(bytes) => blocking(move || write_durably(&final_path, &bytes)).await,
            Body::File(mut writer) => {
                let flushed = writer.flush().await;
                let file = writer.into_inner().into_std().await;
                blocking(move || {
                    flushed?;
                    let made = file
                        .sync_all()
                        .and_then(|()| link_durably(&tmp, &final_path));
                    let _ = std::fs::remove_file(&tmp);
                    made
                })
                .await
            }
        };
        made.map_err(io_err(&self.final_path))
    }

    /// The body when it is still in memory (it never outgrew
    /// [`IN_MEMORY`]), for the caller to keep elsewhere: nothing is written.
    pub(crate) fn take_memory(&mut self) -> Option<Vec<u8>> {
        match &mut self.body {
            Body::Memory(bytes) => {
                self.committed = true;
                Some(std::mem::take(bytes))
            }
            Body::File(_) => None,
        }
    }

    /// Names the body in `msg/` without making it durable, or keeps it in
    /// memory: for a body that is only read from while the client waits
    /// (LMTP copies it into each mailbox, fsyncing each copy, and removes
    /// a file before the session goes on). A crash leaves at most an orphan
    /// the startup sweep removes, and the client, having no reply, sends the
    /// message again.
    pub async fn commit_transient(mut self) -> Result<MessageSource, QueueError> {
        let body = std::mem::replace(&mut self.body, Body::Memory(Vec::new()));
        self.committed = true;
        match body {
            Body::Memory(bytes) => Ok(MessageSource::Bytes(bytes.into())),
            Body::File(mut writer) => {
                let tmp = self.tmp.clone();
                let final_path = self.final_path.clone();
                let flushed = writer.flush().await;
                drop(writer);
                let linked = blocking(move || {
                    let linked = flushed.and_then(|()| std::fs::hard_link(&tmp, &final_path));
                    let _ = std::fs::remove_file(&tmp);
                    linked
                })
                .await;
                linked.map_err(io_err(&self.final_path))?;
                Ok(MessageSource::File(self.final_path.clone()))
            }
        }
    }

    /// Everything written so far (a body held aside while its checks run:
    /// see havre-smtp); its file, if it had one, is removed.
    pub async fn read_back(mut self) -> Result<Vec<u8>, QueueError> {
        match &mut self.body {
            Body::Memory(kept) => Ok(std::mem::take(kept)),
            Body::File(writer) => {
                writer.flush().await.map_err(io_err(&self.tmp))?;
                tokio::fs::read(&self.tmp).await.map_err(io_err(&self.tmp))
            }
        }
    }

    /// Drops an unfinished body (rejected message, client gone).
    pub async fn discard(self) {
        drop(self);
    }
}

/// A new file at `path` holding `bytes`, fsynced with its directory. The
/// name is taken exclusively, as link(2) would: a queue id that somehow
/// came twice never costs the first message its body. Should anything fail
/// after the name was taken, the file is removed.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_parent(path));
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// `tmp` (synced) named `path` too, with the directory synced. link(2)
/// refuses an existing name where rename(2) would replace it.
fn link_durably(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::hard_link(tmp, path)?;
    let synced = sync_parent(path);
    if synced.is_err() {
        let _ = std::fs::remove_file(path);
    }
    synced
}

/// Concurrent enqueues share the directory's fsync (group sync).
fn sync_parent(path: &Path) -> std::io::Result<()> {
    havre_fsync::sync_dir(path.parent().unwrap_or(Path::new(".")))
}

async fn blocking(
    op: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::task::spawn_blocking(op)
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join)))
}

#[cfg(test)]
mod tests {
    use super::{IN_MEMORY, MessageSource, Spool};

    fn spool() -> (tempfile::TempDir, Spool) {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::open(root.path()).unwrap();
        (root, spool)
    }

    fn names(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[tokio::test]
    async fn a_big_body_goes_to_tmp_as_it_arrives_and_dropped_unfinished_leaves_nothing() {
        let (root, spool) = spool();
        let mut file = spool.create("0000000000000001").await.unwrap();
        file.write(b"Subject: half\r\n\r\n").await.unwrap();
        assert!(
            names(&root.path().join("tmp")).is_empty(),
            "small: in memory"
        );
        file.write(&vec![b'x'; IN_MEMORY]).await.unwrap();
        assert_eq!(names(&root.path().join("tmp")), ["0000000000000001"]);
        drop(file);
        assert!(names(&root.path().join("tmp")).is_empty());
    }

    #[tokio::test]
    async fn small_and_big_bodies_are_committed_whole_and_nothing_stays_in_tmp() {
        let (root, spool) = spool();
        let mut small = spool.create("0000000000000002").await.unwrap();
        small.write(b"Subject: whole\r\n\r\n").await.unwrap();
        small.write(b"body\r\n").await.unwrap();
        small.commit().await.unwrap();
        let mut big = spool.create("0000000000000003").await.unwrap();
        let mut sent = b"Subject: big\r\n\r\n".to_vec();
        big.write(&sent).await.unwrap();
        for n in 0..3u8 {
            let chunk = vec![b'a' + n; IN_MEMORY / 2];
            big.write(&chunk).await.unwrap();
            sent.extend_from_slice(&chunk);
        }
        assert_eq!(big.written(), sent.len() as u64);
        big.commit().await.unwrap();
        assert!(names(&root.path().join("tmp")).is_empty());
        let msg = |id: &str| std::fs::read(spool.message_path(id)).unwrap();
        assert_eq!(msg("0000000000000002"), b"Subject: whole\r\n\r\nbody\r\n");
        assert_eq!(msg("0000000000000003"), sent);
    }

    #[tokio::test]
    async fn a_small_transient_body_never_touches_the_disk() {
        let (root, spool) = spool();
        let mut file = spool.create("0000000000000004").await.unwrap();
        file.write(b"Subject: lmtp\r\n\r\n").await.unwrap();
        let MessageSource::Bytes(bytes) = file.commit_transient().await.unwrap() else {
            panic!("a small body went to a file");
        };
        assert_eq!(&bytes[..], b"Subject: lmtp\r\n\r\n");
        assert!(names(&root.path().join("tmp")).is_empty());
        assert!(names(&root.path().join("msg")).is_empty());
    }
}
