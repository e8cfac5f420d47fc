//! Durable delivery of one message into new/.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::crlf::LfWriter;
use crate::error::io_at;
use crate::fs::{FILE_MODE, sync_dir};
use crate::name::{escape_hostname, validate_unique};
use crate::{Maildir, MaildirError};

/// Large enough that a typical message is a handful of reads and writes.
const CHUNK: usize = 64 * 1024;

impl Maildir {
    /// Durably delivers one message into new/ and returns its final path,
    /// `new/<secs>.<unique>.<hostname>,S=<size>,W=<vsize>`.
    ///
    /// `header_prefix` (e.g. Return-Path and Delivered-To lines) is written
    /// first, then `body`; CRLF line endings become LF on disk, unless that
    /// would change the message (a bare LF in CRLF text): then it is
    /// written again as received, which is why `body` must seek.
    /// The message is written to tmp/, fsynced, renamed into new/, and new/
    /// is fsynced before this returns `Ok`. On `Err` the tmp file is gone and
    /// new/ holds no partial file; if the error came after the rename (the
    /// fsync of new/ failed) the message may be there in full, which is why
    /// a retry asks [`Maildir::find_delivered`] first.
    ///
    /// Refuses (before touching the disk) a `unique` that is empty or has
    /// '/', ':', ',', '.' or control characters, and a `hostname` that is
    /// empty or has control characters.
    pub fn deliver(
        &self,
        unique: &str,
        hostname: &str,
        header_prefix: &[u8],
        body: &mut (impl Read + Seek),
        now: SystemTime,
    ) -> Result<PathBuf, MaildirError> {
        self.deliver_timed(unique, hostname, header_prefix, body, now)
            .map(|(path, _)| path)
    }

    /// [`Maildir::deliver`], also returning the file's modification time
    /// (IMAP's INTERNALDATE, as Dovecot reads it), read from the file
    /// while it is open: no second look up of its path.
    pub fn deliver_timed(
        &self,
        unique: &str,
        hostname: &str,
        header_prefix: &[u8],
        body: &mut (impl Read + Seek),
        now: SystemTime,
    ) -> Result<(PathBuf, SystemTime), MaildirError> {
        validate_unique(unique)?;
        let host = escape_hostname(hostname)?;
        // A clock before 1970 is not worth failing a delivery over.
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let base = format!("{secs}.{unique}.{host}");
        let tmp = self.root.join("tmp").join(&base);

        let result = self.write_and_move(&tmp, &base, header_prefix, body);
        if result.is_err() {
            // Best effort: after a successful rename there is nothing to
            // remove, and a failure to clean up must not hide the real error.
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn write_and_move(
        &self,
        tmp: &Path,
        base: &str,
        header_prefix: &[u8],
        body: &mut (impl Read + Seek),
    ) -> Result<(PathBuf, SystemTime), MaildirError> {
        let (size, vsize, modified) = write_tmp(tmp, header_prefix, body)?;
        let new_dir = self.root.join("new");
        let dest = new_dir.join(format!("{base},S={size},W={vsize}"));
        // rename, not link+unlink: the name is unique by construction, and
        // link() would not stop a duplicate anyway once a reader has moved
        // the first copy to cur/ (Dovecot reasons the same way).
        fs::rename(tmp, &dest).map_err(io_at(&dest))?;
        sync_dir(&new_dir)?;
        Ok((dest, modified))
    }
}

/// Writes the message to `tmp` (LF form, or as received when the LF form
/// would change it) and fsyncs it; returns the file's size, the size of
/// the message IMAP serves from it and the file's modification time.
fn write_tmp(
    tmp: &Path,
    header_prefix: &[u8],
    body: &mut (impl Read + Seek),
) -> Result<(u64, u64, SystemTime), MaildirError> {
    // truncate, not create_new: the name is ours alone (derived from the
    // caller's unique id), so an existing file is a leftover of our own
    // interrupted attempt within the same second.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(tmp)
        .map_err(io_at(tmp))?;
    let start = body.stream_position().map_err(|e| body_error(tmp, e))?;
    let mut out = LfWriter::new(file);
    out.write_all(header_prefix).map_err(io_at(tmp))?;
    copy_body(body, tmp, |chunk| out.write_all(chunk))?;
    let (file, size, vsize) = if out.reversible() {
        out.finish().map_err(io_at(tmp))?
    } else {
        let input = out.input_size();
        let (mut file, _, _) = out.finish().map_err(io_at(tmp))?;
        file.set_len(0).map_err(io_at(tmp))?;
        file.seek(SeekFrom::Start(0)).map_err(io_at(tmp))?;
        body.seek(SeekFrom::Start(start))
            .map_err(|e| body_error(tmp, e))?;
        file.write_all(header_prefix).map_err(io_at(tmp))?;
        copy_body(body, tmp, |chunk| file.write_all(chunk))?;
        (file, input, input)
    };
    file.sync_all().map_err(io_at(tmp))?;
    let modified = file
        .metadata()
        .and_then(|meta| meta.modified())
        .map_err(io_at(tmp))?;
    Ok((size, vsize, modified))
}

fn body_error(tmp: &Path, source: std::io::Error) -> MaildirError {
    MaildirError::Body {
        path: tmp.to_owned(),
        source,
    }
}

/// Reads `body` to its end in chunks, handing each to `write`.
fn copy_body(
    body: &mut impl Read,
    tmp: &Path,
    mut write: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<(), MaildirError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(source) => return Err(body_error(tmp, source)),
        };
        write(&buf[..n]).map_err(io_at(tmp))?;
    }
    Ok(())
}
