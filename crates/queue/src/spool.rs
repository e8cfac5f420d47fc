//! Spool files: message bodies of the queue, written durably.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

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
    pub async fn create(&self, id: &str) -> Result<SpoolFile, QueueError> {
        let tmp = self.tmp.join(id);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .await
            .map_err(io_err(&tmp))?;
        Ok(SpoolFile {
            writer: BufWriter::with_capacity(64 * 1024, file),
            final_path: self.message_path(id),
            tmp,
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
        if let Err(err) = tokio::fs::remove_file(&path).await
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

/// A body being received. Dropped without `commit` (a session that ended
/// abnormally, a panic while it was written), its `tmp/` file is removed:
/// nothing is left behind for the startup sweep.
pub struct SpoolFile {
    writer: BufWriter<tokio::fs::File>,
    tmp: PathBuf,
    final_path: PathBuf,
    written: u64,
    committed: bool,
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        if !self.committed {
            // A single unlink: cheap enough to do synchronously here.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl SpoolFile {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), QueueError> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(io_err(&self.tmp))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Where the body will be once committed.
    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// fsync the file, move it into `msg/`, fsync the directory. On failure
    /// the body is gone from `tmp/` and nothing new is in `msg/`.
    pub async fn commit(mut self) -> Result<(), QueueError> {
        let result = self.make_durable().await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&self.tmp).await;
        }
        result
    }

    async fn make_durable(&mut self) -> Result<(), QueueError> {
        self.writer.flush().await.map_err(io_err(&self.tmp))?;
        self.writer
            .get_ref()
            .sync_all()
            .await
            .map_err(io_err(&self.tmp))?;
        // link(2) refuses an existing name where rename(2) would replace it:
        // a queue id that somehow came twice must never cost the first
        // message its body.
        tokio::fs::hard_link(&self.tmp, &self.final_path)
            .await
            .map_err(io_err(&self.final_path))?;
        self.committed = true;
        let dir = self
            .final_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let tmp = self.tmp.clone();
        // Concurrent enqueues share the directory's fsync (group sync).
        let synced = tokio::task::spawn_blocking(move || {
            std::fs::remove_file(&tmp)?;
            havre_fsync::sync_dir(&dir)
        })
        .await
        .map_err(|e| QueueError::Spool {
            path: self.final_path.display().to_string(),
            source: std::io::Error::other(e),
        })
        .and_then(|r| r.map_err(io_err(&self.final_path)));
        if synced.is_err() {
            let _ = tokio::fs::remove_file(&self.final_path).await;
        }
        synced
    }

    /// Moves the body into `msg/` without making it durable: for a body
    /// that is only read from while the client waits (LMTP copies it into
    /// each mailbox, fsyncing each copy, and removes it before the session
    /// goes on). A crash leaves at most an orphan the startup sweep removes,
    /// and the client, having no reply, sends the message again.
    pub async fn commit_transient(mut self) -> Result<(), QueueError> {
        let moved = self.move_unsynced().await;
        if moved.is_err() {
            let _ = tokio::fs::remove_file(&self.tmp).await;
        }
        moved
    }

    async fn move_unsynced(&mut self) -> Result<(), QueueError> {
        self.writer.flush().await.map_err(io_err(&self.tmp))?;
        tokio::fs::hard_link(&self.tmp, &self.final_path)
            .await
            .map_err(io_err(&self.final_path))?;
        self.committed = true;
        let _ = tokio::fs::remove_file(&self.tmp).await;
        Ok(())
    }

    /// Everything written so far, read back from the file, which is then
    /// removed (a body held aside while its checks run: see havre-smtp).
    pub async fn read_back(mut self) -> Result<Vec<u8>, QueueError> {
        self.writer.flush().await.map_err(io_err(&self.tmp))?;
        tokio::fs::read(&self.tmp).await.map_err(io_err(&self.tmp))
    }

    /// Drops an unfinished body (rejected message, client gone).
    pub async fn discard(self) {
        drop(self);
    }
}

#[cfg(test)]
mod tests {
    use super::Spool;

    fn names(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[tokio::test]
    async fn a_body_dropped_unfinished_leaves_nothing_in_tmp() {
        let root = std::env::temp_dir().join(format!("havre-spool-{}", std::process::id()));
        let spool = Spool::open(&root).unwrap();
        let mut file = spool.create("0000000000000001").await.unwrap();
        file.write(b"Subject: half\r\n").await.unwrap();
        assert_eq!(names(&root.join("tmp")), ["0000000000000001"]);
        drop(file);
        assert!(names(&root.join("tmp")).is_empty());

        let mut file = spool.create("0000000000000002").await.unwrap();
        file.write(b"Subject: whole\r\n").await.unwrap();
        file.commit().await.unwrap();
        assert!(names(&root.join("tmp")).is_empty());
        assert_eq!(names(&root.join("msg")), ["0000000000000002"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
