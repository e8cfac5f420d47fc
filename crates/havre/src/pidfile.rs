//! `<data_dir>/havre.pid`: which process serves a data directory, so that
//! `havre reload` and `havre config set` find it (Postfix's master.pid).
//!
//! serve writes the file atomically (a temporary file renamed into place)
//! and holds an exclusive `flock` on it for its whole life; a file nobody
//! holds is what a killed serve left behind, and means nothing runs. The
//! lock also keeps a second serve off a data directory in use. serve
//! removes the file when it exits.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub struct PidFile {
    path: PathBuf,
    /// Holds the lock until serve exits.
    _file: File,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("havre.pid")
}

impl PidFile {
    /// Writes this process's id, locked; refused while another serve holds
    /// the file.
    pub fn create(data_dir: &Path) -> anyhow::Result<PidFile> {
        let path = path(data_dir);
        if let Some(pid) = running(data_dir)? {
            bail!(
                "another havre serve (pid {pid}) runs on the data directory {} ({}); stop it first",
                data_dir.display(),
                path.display()
            );
        }
        let pid = std::process::id();
        let tmp = data_dir.join(format!(".havre.pid.{pid}"));
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let written = lock(&file, libc::LOCK_EX | libc::LOCK_NB)
            .and_then(|()| writeln!(file, "{pid}"))
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
        Ok(PidFile { path, _file: file })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own: a file another serve wrote since is left alone.
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|text| text.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The pid of the serve running on `data_dir`, if one runs.
pub fn running(data_dir: &Path) -> anyhow::Result<Option<u32>> {
    let path = path(data_dir);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            bail!(
                "cannot read {}: {e} (run this as root or as serve's account, server.user)",
                path.display()
            )
        }
    };
    match lock(&file, libc::LOCK_SH | libc::LOCK_NB) {
        // Nobody holds it: left by a serve that was killed.
        Ok(()) => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {}
        Err(e) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.trim()
        .parse()
        .map(Some)
        .with_context(|| format!("{}: not a process id: {:?}", path.display(), text.trim()))
}

fn lock(file: &File, operation: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock on a descriptor this File owns for the whole call.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
