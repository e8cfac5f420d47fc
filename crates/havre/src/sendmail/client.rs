//! The SMTP client side of `havre sendmail`: blocking, on the Unix socket
//! of `havre serve`, one command and one reply at a time.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long a reply may take: the server's own idle timeout is minutes;
/// a cron job must not hang forever on a wedged server.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A reply: its code and its lines' text (after `250-`/`250 `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        (200..400).contains(&self.code)
    }

    pub fn is_temporary(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// `550 5.1.1 <x@y>: ...`, as the server said it (last line).
    pub fn text(&self) -> String {
        format!(
            "{} {}",
            self.code,
            self.lines.last().map(String::as_str).unwrap_or("")
        )
    }

    /// The `<address>` of a local-submission reply (`250 2.1.0
    /// <alice@example.org>... Sender ok`): the address as completed.
    pub fn angle_address(&self) -> Option<&str> {
        let line = self.lines.first()?;
        let open = line.find('<')?;
        let close = line[open..].find('>')? + open;
        Some(&line[open + 1..close])
    }
}

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    pub fn connect(path: &Path) -> std::io::Result<Client> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
        Ok(Client {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// Reads one (possibly multi-line) reply.
    pub fn reply(&mut self) -> std::io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "havre serve closed the connection",
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("not an SMTP reply: {line:?}"),
                    )
                })?;
            lines.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, lines });
            }
        }
    }

    /// Sends one command line and reads its reply.
    pub fn command(&mut self, line: &str) -> std::io::Result<Reply> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\r\n")?;
        self.writer.flush()?;
        self.reply()
    }

    /// Sends a message in CRLF lines as DATA's content (dot-stuffed, then
    /// the end marker) and reads the reply.
    pub fn data(&mut self, message: &[u8]) -> std::io::Result<Reply> {
        let mut out = Vec::with_capacity(message.len() + 64);
        let mut line_start = true;
        for &byte in message {
            if line_start && byte == b'.' {
                out.push(b'.');
            }
            out.push(byte);
            line_start = byte == b'\n';
        }
        if !line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.writer.write_all(&out)?;
        self.writer.flush()?;
        self.reply()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_completed_address_is_read_from_a_local_reply() {
        let reply = Reply {
            code: 250,
            lines: vec!["2.1.0 <alice@example.org>... Sender ok".into()],
        };
        assert_eq!(reply.angle_address(), Some("alice@example.org"));
        assert_eq!(reply.text(), "250 2.1.0 <alice@example.org>... Sender ok");
    }
}
