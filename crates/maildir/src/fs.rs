//! Small file-system helpers for the durability rules of the crate.

use std::fs::DirBuilder;
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use crate::MaildirError;
use crate::error::io_at;

/// Mail is private: directories are created 0700, as Dovecot does for a
/// mailbox whose root has no group/other permissions.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Message and marker files: 0600, matching `DIR_MODE`.
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents when `recursive`) with `DIR_MODE`.
/// Returns whether it was created, so the caller can make the new entry
/// durable by syncing the parent; an existing directory is fine.
pub(crate) fn ensure_dir(dir: &Path, recursive: bool) -> Result<bool, MaildirError> {
    if recursive && dir.is_dir() {
        return Ok(false);
    }
    match DirBuilder::new()
        .recursive(recursive)
        .mode(DIR_MODE)
        .create(dir)
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
        Err(e) => Err(io_at(dir)(e)),
    }
}

/// fsyncs a directory, which is what makes a file created or renamed in
/// it survive a crash (the file's own fsync does not cover its name).
/// Concurrent deliveries to one folder share the fsync (group sync): one
/// that began after the caller's rename covers it.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), MaildirError> {
    havre_fsync::sync_dir(dir).map_err(io_at(dir))
}

/// Syncs the parent of a path that was just created in it.
pub(crate) fn sync_parent(path: &Path) -> Result<(), MaildirError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        // a relative single-component path lives in the current directory
        _ => sync_dir(Path::new(".")),
    }
}
