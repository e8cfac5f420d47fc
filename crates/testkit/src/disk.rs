//! A small filesystem of the test's own, to run out of space on purpose.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of a few megabytes, unmounted when
/// dropped. Mounting needs root: the test command runs as root in CI, and a
/// disk-full test must not pretend to pass without a full disk.
pub struct SmallDisk {
    mount_point: PathBuf,
    _fresh: Option<tempfile::TempDir>,
    filler: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (mount(8) syntax: "8m") on a fresh directory.
    pub fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("mount point");
        let mut disk = SmallDisk::mount_on(dir.path(), size);
        disk._fresh = Some(dir);
        disk
    }

    /// Mounts a tmpfs of `size` over the directory `dir`, keeping what it
    /// held (copied onto the new filesystem, owners and modes included).
    pub fn mount_over(dir: &Path, size: &str) -> SmallDisk {
        let aside = dir.with_extension("before-mount");
        std::fs::rename(dir, &aside).expect("move the directory aside");
        std::fs::create_dir(dir).expect("recreate the mount point");
        let disk = SmallDisk::mount_on(dir, size);
        let status = Command::new("cp")
            .arg("-a")
            .arg(aside.join("."))
            .arg(dir)
            .status()
            .expect("run cp");
        assert!(status.success(), "cp -a onto the small disk failed");
        std::fs::remove_dir_all(&aside).expect("remove the old directory");
        disk
    }

    fn mount_on(dir: &Path, size: &str) -> SmallDisk {
        // SAFETY: geteuid(2) has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "disk-full tests mount a small tmpfs and must run as root"
        );
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed: {status}");
        SmallDisk {
            mount_point: dir.to_path_buf(),
            _fresh: None,
            filler: dir.join(".filler"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Bytes free for an unprivileged writer right now.
    pub fn available(&self) -> u64 {
        // SAFETY: statvfs(2) writes into the zeroed struct we pass; the path is NUL-terminated.
        unsafe {
            let path = std::ffi::CString::new(self.path().as_os_str().as_encoded_bytes())
                .expect("path without NUL");
            let mut stat: libc::statvfs = std::mem::zeroed();
            assert_eq!(libc::statvfs(path.as_ptr(), &mut stat), 0, "statvfs");
            stat.f_bavail as u64 * stat.f_frsize as u64
        }
    }

    /// Fills the disk until only `leave` bytes are free (rounded to pages).
    pub fn fill(&self, leave: u64) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .expect("filler file");
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(err) if err.kind() == std::io::ErrorKind::StorageFull => break,
                Err(err) => panic!("filling the disk: {err}"),
            }
        }
        let len = file.metadata().expect("filler size").len();
        file.set_len(len.saturating_sub(leave))
            .expect("shrink filler");
        file.sync_all().expect("sync filler");
    }

    /// Gives the space back.
    pub fn free(&self) {
        let _ = std::fs::remove_file(&self.filler);
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
    }
}
