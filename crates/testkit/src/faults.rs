//! Streams that fail on purpose, for the unit tests of sessions: what a
//! session does when its own code meets a bug.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// One end of an in-memory connection whose reads panic: a session given it
/// writes its greeting, then panics inside its first command. Writes reach
/// the other end, where the test reads what the client would have seen.
pub struct PanicOnRead(DuplexStream);

impl PanicOnRead {
    /// The server's end and the client's end.
    pub fn pair() -> (PanicOnRead, DuplexStream) {
        let (server, client) = tokio::io::duplex(64 * 1024);
        (PanicOnRead(server), client)
    }
}

impl AsyncRead for PanicOnRead {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        panic!("a bug met while reading a command");
    }
}

impl AsyncWrite for PanicOnRead {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
