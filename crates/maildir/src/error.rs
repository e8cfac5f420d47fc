//! The crate's one error type. Every variant that comes from the file
//! system names the path involved, so that an operator reading a log line
//! knows which mailbox (and which file in it) is at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    /// A file-system operation failed on `path`.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Reading the message body from the caller's reader failed while its
    /// copy was being written to `path` (which has been removed again).
    #[error("reading the message body for {path}: {source}")]
    Body {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The unique part of a file name contains a character that would make
    /// the name ambiguous to Dovecot (or is empty).
    #[error(
        "invalid maildir unique name {0:?}: must be non-empty, without '/', ':', ',', '.' or control characters"
    )]
    InvalidUnique(String),
    /// The host name is empty or contains control characters.
    #[error("invalid host name for a maildir file name {0:?}")]
    InvalidHostname(String),
    /// The folder name cannot be stored the Maildir++ way.
    #[error("invalid maildir folder name {name:?}: {reason}")]
    InvalidFolder { name: String, reason: &'static str },
    /// A control file (`dovecot-uidlist`, `dovecot-keywords`) is not in
    /// the format Dovecot writes.
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// Another process held the dot-lock of a control file for longer than
    /// we wait (the lock file is named).
    #[error("{0}: still locked by another process")]
    Locked(PathBuf),
}

/// Attaches `path` to an `io::Error`, for use with `map_err`.
pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> MaildirError {
    let path = path.into();
    move |source| MaildirError::Io { path, source }
}
