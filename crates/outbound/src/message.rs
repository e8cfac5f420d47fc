//! What goes out after DATA: the spool file, after the header fields
//! made for this delivery (a DKIM signature), which are never written
//! into a copy of the file.

use std::path::Path;

use tokio::fs::File;

/// One message to send: `prepend` (whole header lines, CRLF-terminated,
/// such as `DKIM-Signature:` fields; may be empty), then the file at `path`.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub prepend: &'a [u8],
    pub path: &'a Path,
}

impl Message<'_> {
    /// Bytes on the wire before dot-stuffing, for SIZE=.
    pub async fn size(&self) -> std::io::Result<u64> {
        Ok(self.prepend.len() as u64 + tokio::fs::metadata(self.path).await?.len())
    }
}

/// A file alone, as spooled.
impl<'a, P: AsRef<Path> + ?Sized> From<&'a P> for Message<'a> {
    fn from(path: &'a P) -> Message<'a> {
        Message {
            prepend: &[],
            path: path.as_ref(),
        }
    }
}

/// A [`Message`] with its file open, as a session sends it.
pub(crate) struct Body<'a> {
    pub(crate) prepend: &'a [u8],
    pub(crate) file: File,
}
