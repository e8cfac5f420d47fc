//! Where a message's bytes are: a file, or memory. The queue keeps small
//! bodies with their records and bigger ones in spool files; LMTP keeps what
//! it receives in memory; whoever delivers or sends reads either the same way.

use std::borrow::Cow;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum MessageSource {
    /// A file: a queue spool file.
    File(PathBuf),
    /// Bytes in memory: a body kept with its queue record, or a small
    /// message received over LMTP.
    Bytes(Arc<[u8]>),
}

impl MessageSource {
    pub fn file(path: &Path) -> MessageSource {
        MessageSource::File(path.to_path_buf())
    }

    /// A reader from the first byte. Blocking: call it off the async workers.
    pub fn reader(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(match self {
            MessageSource::File(path) => Box::new(std::fs::File::open(path)?),
            MessageSource::Bytes(bytes) => Box::new(&bytes[..]),
        })
    }

    /// The whole message. Blocking for a file.
    pub fn read_all(&self) -> io::Result<Cow<'_, [u8]>> {
        match self {
            MessageSource::File(path) => std::fs::read(path).map(Cow::Owned),
            MessageSource::Bytes(bytes) => Ok(Cow::Borrowed(bytes)),
        }
    }
}
