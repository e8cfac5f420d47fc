//! A stream whose both directions are raw deflate (RFC 1951, no zlib
//! header), as IMAP COMPRESS=DEFLATE (RFC 4978) asks; any line protocol can
//! put it under its [`crate::Conn`] with [`crate::Conn::start_deflate`].
//!
//! Writes are compressed into a buffer and sent at each flush with a sync
//! flush, so every response the session flushes reaches the client whole
//! (RFC 4978 4: the client must be able to decode what it was sent).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::conn::Io;

/// Compressed input read ahead at most (then decompressed into the reader's
/// buffer before more is read).
const READ_CHUNK: usize = 16 * 1024;

pub(crate) struct Deflate {
    inner: Box<dyn Io>,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed bytes read from `inner`, `input[pos..]` not yet inflated.
    input: Vec<u8>,
    pos: usize,
    /// Compressed bytes not yet written to `inner`, from `sent`.
    output: Vec<u8>,
    sent: usize,
    /// Data was compressed since the last sync flush.
    unsynced: bool,
    /// The client ended its deflate stream or closed the connection.
    ended: bool,
}

impl Deflate {
    /// `inner` in deflate mode; `already_read` is compressed input that
    /// arrived before the switch (read ahead with the COMPRESS command).
    pub(crate) fn new(inner: Box<dyn Io>, already_read: &[u8]) -> Deflate {
        Deflate {
            inner,
            inflate: Decompress::new(false),
            // Level 6 is zlib's default, Dovecot's choice too.
            deflate: Compress::new(Compression::new(6), false),
            input: already_read.to_vec(),
            pos: 0,
            output: Vec::new(),
            sent: 0,
            unsynced: false,
            ended: false,
        }
    }

    /// Compresses `data` (with `flush`) onto the end of `output`.
    fn compress(&mut self, mut data: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            self.output.reserve(data.len() / 2 + 64);
            let before_in = self.deflate.total_in();
            let before_out = self.output.len();
            self.deflate
                .compress_vec(data, &mut self.output, flush)
                .map_err(io::Error::other)?;
            let consumed = (self.deflate.total_in() - before_in) as usize;
            data = &data[consumed..];
            let full = self.output.len() == self.output.capacity();
            // Done when the input is taken and the output had room to spare
            // (a full buffer may mean the flush has more to give).
            if data.is_empty() && !full {
                return Ok(());
            }
            if consumed == 0 && self.output.len() == before_out && !full {
                return Err(io::Error::other("deflate made no progress"));
            }
        }
    }

    /// Writes out what is compressed and waiting.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.output.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.output[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.output.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Deflate {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            let before_in = this.inflate.total_in();
            let before_out = this.inflate.total_out();
            let status = this
                .inflate
                .decompress(
                    &this.input[this.pos..],
                    buf.initialize_unfilled(),
                    FlushDecompress::None,
                )
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = (this.inflate.total_in() - before_in) as usize;
            let produced = (this.inflate.total_out() - before_out) as usize;
            this.pos += consumed;
            buf.advance(produced);
            if matches!(status, Status::StreamEnd) {
                this.ended = true;
            }
            if produced > 0 {
                return Poll::Ready(Ok(()));
            }
            if consumed > 0 && this.pos < this.input.len() {
                continue;
            }
            // Everything read is inflated: read more compressed input.
            this.input.drain(..this.pos);
            this.pos = 0;
            let have = this.input.len();
            this.input.resize(have + READ_CHUNK, 0);
            let mut more = ReadBuf::new(&mut this.input[have..]);
            let polled = Pin::new(&mut this.inner).poll_read(cx, &mut more);
            let got = more.filled().len();
            this.input.truncate(have + got);
            ready!(polled)?;
            if got == 0 {
                this.ended = true;
            }
        }
    }
}

impl AsyncWrite for Deflate {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Bounded memory: what was compressed before goes out first.
        ready!(this.poll_send(cx))?;
        this.compress(data, FlushCompress::None)?;
        this.unsynced = true;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unsynced {
            this.compress(&[], FlushCompress::Sync)?;
            this.unsynced = false;
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::new(6), false);
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
        out
    }

    fn raw_inflate(data: &[u8]) -> Vec<u8> {
        let mut d = Decompress::new(false);
        let mut out = Vec::with_capacity(1 << 20);
        d.decompress_vec(data, &mut out, FlushDecompress::Sync)
            .unwrap();
        out
    }

    #[tokio::test]
    async fn both_directions_are_raw_deflate_with_read_ahead_input_kept() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let first = raw_deflate(b"a1 NOOP\r\n");
        let (ahead, rest) = first.split_at(3);
        let mut stream = Deflate::new(Box::new(ours), ahead);
        theirs.write_all(rest).await.unwrap();
        let mut line = [0u8; 9];
        stream.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"a1 NOOP\r\n");

        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let writer = async {
            stream.write_all(b"a1 OK done\r\n").await.unwrap();
            stream.write_all(&big).await.unwrap();
            stream.flush().await.unwrap();
            stream
        };
        let reader = async {
            let mut got = Vec::new();
            let mut chunk = vec![0u8; 8192];
            let mut inflated = Vec::new();
            while inflated.len() < 12 + big.len() {
                let n = theirs.read(&mut chunk).await.unwrap();
                assert!(n > 0, "stream ended early");
                got.extend_from_slice(&chunk[..n]);
                inflated = raw_inflate(&got);
            }
            inflated
        };
        let (_stream, inflated) = tokio::join!(writer, reader);
        assert_eq!(&inflated[..12], b"a1 OK done\r\n");
        assert_eq!(&inflated[12..], &big[..]);
    }

    #[tokio::test]
    async fn garbage_input_is_an_error_not_a_hang() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut stream = Deflate::new(Box::new(ours), &[]);
        theirs.write_all(&[0xff; 64]).await.unwrap();
        let mut buf = [0u8; 16];
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
