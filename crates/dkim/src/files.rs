//! Durable, private writes: temporary file, fsync, rename, fsync of the
//! directory.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::DkimError;

/// Creates `dir` (and its missing parents) readable by the owner only, and
/// makes the new entries durable.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), DkimError> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(DkimError::io(dir))?;
    for created in missing {
        if let Some(parent) = created.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Replaces `path` with `bytes` (mode 0600) so that a reader sees the old
/// file or the whole new one, even across a crash. The caller syncs the
/// directory once all its files are written.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DkimError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    // A leftover of an interrupted write.
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(DkimError::io(&tmp))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(err) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(DkimError::io(path)(err));
    }
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), DkimError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(DkimError::io(dir))
}
