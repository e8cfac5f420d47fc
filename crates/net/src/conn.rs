//! The connection under a session: a plain or TLS stream, a bounded read buffer
//! and an output buffer flushed only when the client has nothing more
//! pipelined (RFC 2920 for SMTP; IMAP and POP3 clients pipeline too).

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::stop::{Phase, Stop};

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("timeout")]
    Timeout,
    #[error("connection closed by client")]
    Closed,
    /// The session has lasted longer than its deadline (a client dripping
    /// bytes just fast enough to beat the idle timeout).
    #[error("session deadline exceeded")]
    Deadline,
    /// The node is stopping: no new command is taken (draining), or the
    /// grace period is over (closing).
    #[error("server shutting down")]
    Stopping,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub enum Line {
    Complete(Vec<u8>),
    /// Longer than the limit; the rest of it was read and thrown away.
    TooLong,
}

/// A line read by [`Conn::read_line_keeping_ends`].
pub enum LineEnds {
    Complete(Vec<u8>),
    /// Longer than the limit: its first and last bytes (newline included),
    /// the rest read and thrown away.
    TooLong {
        head: Vec<u8>,
        tail: Vec<u8>,
    },
}

pub struct Conn {
    stream: Box<dyn Io>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    timeout: Duration,
    deadline: Option<Instant>,
    stop: Stop,
}

/// A new connection's read buffer: small, because most connections spend
/// their life idle (10,000 IMAP IDLE sessions are the design point).
const READ_START: usize = 1024;
/// The read buffer of a connection waiting in IMAP IDLE, which expects
/// `DONE\r\n`: anything longer grows it back to [`READ_START`] at once.
const READ_IDLE: usize = 16;
/// Bulk transfers (DATA, APPEND literals) grow it up to this.
const READ_MAX: usize = 64 * 1024;
/// An output buffer grown beyond this by a burst (a big FETCH) is given
/// back once flushed, so a session keeps its peak only while it sends.
const OUT_KEEP: usize = 64 * 1024;
/// How long the goodbye of a session past its deadline may take to write.
const LAST_WORDS: Duration = Duration::from_secs(10);
/// How long [`Conn::shutdown`] reads after closing our side.
const LINGER: Duration = Duration::from_secs(1);

impl Conn {
    pub fn new(stream: Box<dyn Io>, timeout: Duration) -> Conn {
        Conn {
            stream,
            buf: vec![0; READ_START],
            start: 0,
            end: 0,
            out: Vec::with_capacity(256),
            timeout,
            deadline: None,
            stop: Stop::never(),
        }
    }

    /// Makes the connection follow the node's stop: [`Conn::wait_command`]
    /// gives way when it drains, every read when it closes.
    pub fn with_stop(mut self, stop: Stop) -> Conn {
        self.stop = stop;
        self
    }

    /// Every read and write fails with [`ConnError::Deadline`] after `at`,
    /// whatever the idle timeout (`None`: no deadline).
    pub fn set_deadline(&mut self, at: Option<Instant>) {
        self.deadline = at;
    }

    fn limit(&mut self) -> Result<(Duration, ConnError), ConnError> {
        wait_limit(self.timeout, self.deadline).map_err(|e| self.expired(e))
    }

    /// Past the deadline, the session still gets to say goodbye: the
    /// deadline goes, and the idle timeout shrinks to a few seconds.
    fn expired(&mut self, e: ConnError) -> ConnError {
        if matches!(e, ConnError::Deadline) {
            self.deadline = None;
            self.timeout = self.timeout.min(LAST_WORDS);
        }
        e
    }

    /// Whether the node is stopping (sessions take no new command).
    pub fn stopping(&self) -> bool {
        self.stop.phase() >= Phase::Draining
    }

    /// Waits for the client's next command: returns at once when input is
    /// buffered, [`ConnError::Stopping`] when the node drains (even with
    /// input pipelined: that command is new work).
    pub async fn wait_command(&mut self) -> Result<(), ConnError> {
        if self.stopping() {
            return Err(ConnError::Stopping);
        }
        if self.has_buffered() {
            return Ok(());
        }
        self.fill_unless_stopping().await.map(|_| ())
    }

    /// [`Conn::fill`], given up when the node drains (IMAP IDLE).
    pub async fn fill_unless_stopping(&mut self) -> Result<usize, ConnError> {
        self.fill_until(Phase::Draining).await
    }

    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn has_buffered(&self) -> bool {
        self.start < self.end
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Throws away pipelined input (after STARTTLS: input sent before the TLS
    /// handshake must never be read as if it came over TLS).
    pub fn discard_buffered(&mut self) -> usize {
        let n = self.end - self.start;
        self.start = 0;
        self.end = 0;
        n
    }

    /// Reads more bytes into the buffer; waits at most the idle timeout.
    pub async fn fill(&mut self) -> Result<usize, ConnError> {
        self.fill_until(Phase::Closing).await
    }

    /// [`Conn::fill`], given up with [`ConnError::Stopping`] once the node
    /// reaches `phase`. One wait on the stop for both phases (closing comes
    /// after draining): a session waiting for its client, which is what an
    /// idle connection's future holds, keeps one such wait, not two.
    async fn fill_until(&mut self, phase: Phase) -> Result<usize, ConnError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let (limit, expired) = self.limit()?;
        let mut stop = self.stop.clone();
        let read = tokio::time::timeout(limit, self.stream.read(&mut self.buf[self.end..]));
        let n = tokio::select! {
            read = read => match read {
                Err(_) => return Err(self.expired(expired)),
                Ok(result) => result?,
            },
            _ = stop.reached(phase) => return Err(ConnError::Stopping),
        };
        if n == 0 {
            return Err(ConnError::Closed);
        }
        self.end += n;
        // The client sends faster than we read, or more than an idle
        // connection's buffer holds: read more at a time.
        if self.end == self.buf.len() && self.buf.len() < READ_MAX {
            let bigger = (self.buf.len() * 2).clamp(READ_START, READ_MAX);
            self.buf.resize(bigger, 0);
        }
        Ok(n)
    }

    /// Gives back what a connection waiting for a long time (IMAP IDLE)
    /// does not need: the read buffer shrinks to [`READ_IDLE`] when nothing
    /// is buffered, whatever a burst grew it to, and an empty output buffer
    /// is dropped. Both grow again with the next input or response.
    pub fn release_idle_memory(&mut self) {
        if self.start == self.end && self.buf.len() > READ_IDLE {
            self.start = 0;
            self.end = 0;
            self.buf = vec![0; READ_IDLE];
        }
        if self.out.is_empty() {
            self.out = Vec::new();
        }
    }

    /// One line, CRLF (or bare LF) included, at most `limit` bytes. A longer
    /// line is read to its end without keeping it, so memory stays bounded
    /// whatever the client sends.
    pub async fn read_line(&mut self, limit: usize) -> Result<Line, ConnError> {
        Ok(match self.read_line_keeping_ends(limit, 0).await? {
            LineEnds::Complete(line) => Line::Complete(line),
            LineEnds::TooLong { .. } => Line::TooLong,
        })
    }

    /// [`Conn::read_line`] that keeps the first and the last `keep` bytes of
    /// a line too long to keep whole: an IMAP session reads the tag from
    /// the head (to answer `tag BAD`) and a literal announcement from the
    /// tail (to skip the literal that follows).
    pub async fn read_line_keeping_ends(
        &mut self,
        limit: usize,
        keep: usize,
    ) -> Result<LineEnds, ConnError> {
        let mut line = Vec::new();
        let mut ends: Option<(Vec<u8>, Vec<u8>)> = None;
        loop {
            let buffered = self.buffered();
            let newline = buffered.iter().position(|&b| b == b'\n');
            let chunk = &buffered[..newline.map_or(buffered.len(), |p| p + 1)];
            // Without its newline yet, a line at the limit is already too long.
            let needed = line.len() + chunk.len() + usize::from(newline.is_none());
            match ends.as_mut() {
                None if needed <= limit => line.extend_from_slice(chunk),
                None => {
                    line.extend_from_slice(chunk);
                    let head = line[..keep.min(line.len())].to_vec();
                    let tail = line[line.len().saturating_sub(keep)..].to_vec();
                    line = Vec::new();
                    ends = Some((head, tail));
                }
                Some((_, tail)) => {
                    tail.extend_from_slice(&chunk[chunk.len().saturating_sub(keep)..]);
                    let excess = tail.len().saturating_sub(keep);
                    tail.drain(..excess);
                }
            }
            let n = chunk.len();
            self.consume(n);
            if newline.is_some() {
                return Ok(match ends {
                    None => LineEnds::Complete(line),
                    Some((head, tail)) => LineEnds::TooLong { head, tail },
                });
            }
            self.fill().await?;
        }
    }

    /// Bytes to send at the next [`Conn::flush`].
    pub fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Reads exactly `n` bytes (an IMAP literal), handing them to `sink` as
    /// they arrive so a large literal is never held twice.
    pub async fn read_exact_with(
        &mut self,
        mut n: u64,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<(), ConnError> {
        while n > 0 {
            if !self.has_buffered() {
                self.fill().await?;
            }
            let take = (self.end - self.start).min(usize::try_from(n).unwrap_or(usize::MAX));
            sink(&self.buf[self.start..self.start + take]);
            self.consume(take);
            n -= take as u64;
        }
        Ok(())
    }

    /// Changes the idle timeout (longer once logged in, re-armed by IDLE).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub async fn flush(&mut self) -> Result<(), ConnError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let result = self.write(&out).await;
        self.out = out;
        self.out.clear();
        if self.out.capacity() > OUT_KEEP {
            self.out = Vec::with_capacity(256);
        }
        result
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        let (limit, expired) = self.limit()?;
        let result = tokio::time::timeout(limit, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await;
        match result {
            Err(_) => Err(self.expired(expired)),
            Ok(r) => Ok(r?),
        }
    }

    /// Sends what is queued, then `bytes`, now (greetings, continuation
    /// requests, last words, the parts of a big response): `bytes` are
    /// written from where they are, not copied into the output buffer.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.flush().await?;
        self.write(bytes).await
    }

    /// From now on, reads and writes go through raw deflate (RFC 4978 for
    /// IMAP; any line protocol could use it). Call it once what was sent
    /// uncompressed is flushed; input already buffered arrived after the
    /// command that asked for compression, so it is compressed input.
    pub fn start_deflate(&mut self) {
        let plain = std::mem::replace(&mut self.stream, Box::new(std::io::Cursor::new(Vec::new())));
        let ahead = &self.buf[self.start..self.end];
        self.stream = Box::new(crate::deflate::Deflate::new(plain, ahead));
        self.start = 0;
        self.end = 0;
    }

    /// Hands the stream over to a relay (the director role), with the input
    /// read ahead and the session's stop.
    pub(crate) fn into_relay_parts(self) -> (Box<dyn Io>, Vec<u8>, Stop) {
        let ahead = self.buf[self.start..self.end].to_vec();
        (self.stream, ahead, self.stop)
    }

    /// Hands the stream over (for the TLS upgrade); buffered input is dropped.
    pub fn into_stream(self) -> Box<dyn Io> {
        self.stream
    }

    /// The same connection on a new stream (after the TLS handshake): the
    /// stop and the deadline stay.
    pub(crate) fn upgraded(
        stop: Stop,
        deadline: Option<Instant>,
        stream: Box<dyn Io>,
        timeout: Duration,
    ) -> Conn {
        let mut conn = Conn::new(stream, timeout).with_stop(stop);
        conn.deadline = deadline;
        conn
    }

    pub(crate) fn guard(&self) -> (Stop, Option<Instant>) {
        (self.stop.clone(), self.deadline)
    }

    /// Ends the connection: our side is closed first, then what the client
    /// still sends is read and dropped for a moment, so a last reply (a 421
    /// when the node stops) is not wiped out by a reset when the client's
    /// next command reaches a closed socket.
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.stream.shutdown()).await;
        let mut sink = [0u8; 512];
        let _ = tokio::time::timeout(LINGER, async {
            while matches!(self.stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

/// The idle `timeout`, or less when the `deadline` comes first; with the
/// error to give when it runs out.
pub(crate) fn wait_limit(
    timeout: Duration,
    deadline: Option<Instant>,
) -> Result<(Duration, ConnError), ConnError> {
    let Some(at) = deadline else {
        return Ok((timeout, ConnError::Timeout));
    };
    let left = at.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(ConnError::Deadline)
    } else if left < timeout {
        Ok((left, ConnError::Deadline))
    } else {
        Ok((timeout, ConnError::Timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn conn_reading(input: &[u8]) -> Conn {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        client.write_all(input).await.unwrap();
        drop(client);
        Conn::new(Box::new(server), Duration::from_secs(5))
    }

    #[tokio::test]
    async fn a_line_too_long_keeps_only_its_first_and_last_bytes() {
        let mut long = b"a17 APPEND INBOX ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 200_000));
        long.extend_from_slice(b" {12+}\r\n");
        long.extend_from_slice(b"b NOOP\r\n");
        let mut conn = conn_reading(&long).await;
        match conn.read_line_keeping_ends(1000, 16).await.unwrap() {
            LineEnds::TooLong { head, tail } => {
                assert_eq!(head, b"a17 APPEND INBOX");
                assert_eq!(tail, b"xxxxxxxx {12+}\r\n");
            }
            LineEnds::Complete(_) => panic!("a 200 kB line is over a 1000-byte limit"),
        }
        match conn.read_line(1000).await.unwrap() {
            Line::Complete(line) => assert_eq!(line, b"b NOOP\r\n"),
            Line::TooLong => panic!("the next line is short"),
        }
    }

    #[tokio::test]
    async fn a_burst_s_buffers_are_given_back_while_idle_and_the_connection_reads_on() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let mut conn = Conn::new(Box::new(server), Duration::from_secs(5));
        // A big literal grows the read buffer, a response the output buffer.
        client.write_all(&[b'x'; 200_000]).await.unwrap();
        conn.read_exact_with(200_000, |_| {}).await.unwrap();
        conn.queue(&[b'y'; 3000]);
        conn.flush().await.unwrap();
        assert_eq!(conn.buf.len(), READ_MAX);
        assert!(conn.out.capacity() >= 3000);

        conn.release_idle_memory();
        assert_eq!(conn.buf.len(), READ_IDLE);
        assert_eq!(conn.out.capacity(), 0);

        // The end of IDLE, with a command pipelined after it that is longer
        // than the idle buffer.
        let command = format!("a2 UID FETCH 1:* (FLAGS {})\r\n", "BODY.PEEK[] ".repeat(20));
        client.write_all(b"DONE\r\n").await.unwrap();
        client.write_all(command.as_bytes()).await.unwrap();
        assert!(matches!(conn.read_line(64).await.unwrap(), Line::Complete(l) if l == b"DONE\r\n"));
        match conn.read_line(1000).await.unwrap() {
            Line::Complete(line) => assert_eq!(line, command.as_bytes()),
            Line::TooLong => panic!("the command is under the limit"),
        }
        assert_eq!(conn.buf.len(), READ_START);
        conn.queue(b"a2 OK\r\n");
        conn.flush().await.unwrap();
        let mut sent = vec![0u8; 3007];
        client.read_exact(&mut sent).await.unwrap();
        assert!(sent.ends_with(b"yyya2 OK\r\n"));
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_complete_and_one_more_byte_is_not() {
        let mut conn = conn_reading(b"abc\r\nabcd\r\n").await;
        assert!(matches!(conn.read_line(5).await.unwrap(), Line::Complete(l) if l == b"abc\r\n"));
        assert!(matches!(conn.read_line(5).await.unwrap(), Line::TooLong));
    }
}
