//! What goes out after DATA: the queued body (a spool file, or bytes kept
//! in memory), after the header fields made for this delivery (a DKIM
//! signature), which are never written into a copy of the body.

use std::io;
use std::path::Path;

use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Where the body is.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// A spool file, streamed a block at a time, never loaded whole.
    File(&'a Path),
    /// Bytes in memory (a small body kept with its queue record).
    Bytes(&'a [u8]),
}

/// A queued or received body where it is.
impl<'a> From<&'a havre_message::MessageSource> for Content<'a> {
    fn from(source: &'a havre_message::MessageSource) -> Content<'a> {
        match source {
            havre_message::MessageSource::File(path) => Content::File(path),
            havre_message::MessageSource::Bytes(bytes) => Content::Bytes(bytes),
        }
    }
}

/// One message to send: `prepend` (whole header lines, CRLF-terminated,
/// such as `DKIM-Signature:` fields; may be empty), then the body.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub prepend: &'a [u8],
    pub content: Content<'a>,
}

impl Message<'_> {
    /// Bytes on the wire before dot-stuffing, for SIZE=.
    pub async fn size(&self) -> io::Result<u64> {
        let content = match self.content {
            Content::File(path) => tokio::fs::metadata(path).await?.len(),
            Content::Bytes(bytes) => bytes.len() as u64,
        };
        Ok(self.prepend.len() as u64 + content)
    }
}

/// A file alone, as spooled.
impl<'a, P: AsRef<Path> + ?Sized> From<&'a P> for Message<'a> {
    fn from(path: &'a P) -> Message<'a> {
        Message {
            prepend: &[],
            content: Content::File(path.as_ref()),
        }
    }
}

/// A [`Message`] ready to be read, as a session sends it (again from the
/// start for each transaction).
pub(crate) struct Body<'a> {
    pub(crate) prepend: &'a [u8],
    reader: Reader<'a>,
}

enum Reader<'a> {
    File(File),
    Bytes { bytes: &'a [u8], at: usize },
}

impl<'a> Body<'a> {
    /// Opens the file, if the body is one; on failure, the error and the
    /// file's path for the message that says so.
    pub(crate) async fn open(message: Message<'a>) -> Result<Body<'a>, (&'a Path, io::Error)> {
        let reader = match message.content {
            Content::File(path) => Reader::File(File::open(path).await.map_err(|e| (path, e))?),
            Content::Bytes(bytes) => Reader::Bytes { bytes, at: 0 },
        };
        Ok(Body {
            prepend: message.prepend,
            reader,
        })
    }

    pub(crate) async fn rewind(&mut self) -> io::Result<()> {
        match &mut self.reader {
            Reader::File(file) => file.seek(io::SeekFrom::Start(0)).await.map(drop),
            Reader::Bytes { at, .. } => {
                *at = 0;
                Ok(())
            }
        }
    }

    /// The next bytes of the body into `block`; 0 at its end.
    pub(crate) async fn read(&mut self, block: &mut [u8]) -> io::Result<usize> {
        match &mut self.reader {
            Reader::File(file) => file.read(block).await,
            Reader::Bytes { bytes, at } => {
                let n = block.len().min(bytes.len() - *at);
                block[..n].copy_from_slice(&bytes[*at..*at + n]);
                *at += n;
                Ok(n)
            }
        }
    }
}
