//! SMTP on the wire, client side: replies, EHLO capabilities, dot-stuffing.

use havre_net::{Conn, ConnError, Line};
use smtp_proto::{EXT_SIZE, EhloResponse};

use crate::outcome::Failure;

/// One server reply: its code and its lines as received.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    lines: Vec<String>,
}

impl Reply {
    /// The reply on one line, as Postfix quotes it ("550-5.1.1 a 550 5.1.1
    /// b" for a two-line reply).
    pub(crate) fn text(&self) -> String {
        self.lines.join(" ")
    }

    pub(crate) fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The enhanced status code of the first line when it has one that
    /// agrees with the reply code, else "X.0.0".
    pub(crate) fn status(&self) -> String {
        let class = self.code / 100;
        let first = self.lines.first().map(String::as_str).unwrap_or("");
        if let Some(token) = first.get(4..).and_then(|rest| rest.split(' ').next()) {
            let parts: Vec<&str> = token.split('.').collect();
            let valid = parts.len() == 3
                && parts
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
                && parts[0] == class.to_string();
            if valid {
                return token.to_owned();
            }
        }
        format!("{class}.0.0")
    }
}

/// The longest reply line kept (RFC 5321 says 512; servers exceed it).
const MAX_REPLY_LINE: usize = 4096;
/// The most lines in one reply (an EHLO reply has a dozen).
const MAX_REPLY_LINES: usize = 200;

/// The server of a session, as messages name it.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// "mx1.example.org" (Remote-MTA).
    pub(crate) host: String,
    /// "mx1.example.org[192.0.2.1]" (log and DSN text).
    pub(crate) label: String,
    /// "mx1.example.org[192.0.2.1]:25" (the log's `relay=`, as Postfix's).
    pub(crate) relay: String,
}

/// What the server offered in its EHLO/LHLO reply.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Capabilities {
    flags: u32,
    /// The SIZE limit, 0 for none declared.
    pub(crate) size: u64,
}

impl Capabilities {
    pub(crate) fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Parses an EHLO reply line by line with smtp-proto, so one line it
    /// does not understand does not hide the others.
    pub(crate) fn parse(reply: &Reply) -> Capabilities {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let keyword = line.get(4..).unwrap_or("");
            let text = format!("250-x\r\n250 {keyword}\r\n");
            if let Ok(ehlo) = EhloResponse::<String>::parse(&mut text.as_bytes().iter()) {
                caps.flags |= ehlo.capabilities;
                if ehlo.capabilities & EXT_SIZE != 0 {
                    caps.size = ehlo.size as u64;
                }
            }
        }
        caps
    }
}

/// Reading or writing failed.
pub(crate) enum WireError {
    Conn(ConnError),
    Malformed(&'static str),
}

impl From<ConnError> for WireError {
    fn from(e: ConnError) -> Self {
        WireError::Conn(e)
    }
}

impl WireError {
    pub(crate) fn failure(&self, peer: &Peer, stage: &str) -> Failure {
        let text = match self {
            WireError::Conn(ConnError::Timeout | ConnError::Deadline) => {
                format!("conversation with {} timed out while {stage}", peer.label)
            }
            WireError::Conn(ConnError::Closed | ConnError::Stopping) => {
                format!("lost connection with {} while {stage}", peer.label)
            }
            WireError::Conn(ConnError::Io(e)) => {
                format!("lost connection with {} while {stage}: {e}", peer.label)
            }
            WireError::Malformed(what) => {
                format!("protocol error with {} while {stage}: {what}", peer.label)
            }
        };
        Failure::local(false, "4.4.2", text, Some(&peer.host))
    }
}

pub(crate) async fn read_reply(conn: &mut Conn) -> Result<Reply, WireError> {
    let mut lines = Vec::new();
    let mut code = 0;
    loop {
        let line = match conn.read_line(MAX_REPLY_LINE).await? {
            Line::Complete(line) => line,
            Line::TooLong => return Err(WireError::Malformed("reply line too long")),
        };
        let mut line = String::from_utf8_lossy(&line).into_owned();
        while line.ends_with(['\r', '\n']) {
            line.pop();
        }
        let bytes = line.as_bytes();
        if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
            return Err(WireError::Malformed("reply without a 3-digit code"));
        }
        if lines.is_empty() {
            code = line[..3].parse().unwrap_or(0);
        }
        let last = bytes.get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return Ok(Reply { code, lines });
        }
        if lines.len() >= MAX_REPLY_LINES {
            return Err(WireError::Malformed("reply with too many lines"));
        }
    }
}

/// The message with every line end as it goes out on the wire: CRLF for a
/// CRLF, a bare LF and a bare CR alike (what [`DotStuffer`] sends, without the
/// dot-stuffing). A DKIM signature must be computed on these bytes, or a
/// message with a bare CR would leave with a signature over other bytes
/// than the ones sent. Borrows when the message is already pure CRLF.
pub fn line_ends_as_sent(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let pure = raw.iter().enumerate().all(|(i, &b)| match b {
        b'\r' => raw.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && raw[i - 1] == b'\r',
        _ => true,
    });
    if pure {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64 + 2);
    let mut ends = LineEnds::default();
    ends.encode(raw, &mut out);
    ends.finish(&mut out);
    std::borrow::Cow::Owned(out)
}

/// [`line_ends_as_sent`] of a stream (a spool file), a block at a time:
/// what a DKIM signer reads so that it never holds the whole message.
pub struct LineEndsAsSent<R> {
    inner: R,
    ends: LineEnds,
    raw: Vec<u8>,
    out: Vec<u8>,
    /// Bytes of `out` already given.
    given: usize,
    done: bool,
}

impl<R: std::io::Read> LineEndsAsSent<R> {
    pub fn new(inner: R) -> LineEndsAsSent<R> {
        LineEndsAsSent {
            inner,
            ends: LineEnds::default(),
            raw: vec![0; 64 * 1024],
            out: Vec::new(),
            given: 0,
            done: false,
        }
    }
}

impl<R: std::io::Read> std::io::Read for LineEndsAsSent<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.given == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.given = 0;
            let n = self.inner.read(&mut self.raw)?;
            if n == 0 {
                self.done = true;
                self.ends.finish(&mut self.out);
            } else {
                self.ends.encode(&self.raw[..n], &mut self.out);
            }
        }
        let n = buf.len().min(self.out.len() - self.given);
        buf[..n].copy_from_slice(&self.out[self.given..self.given + n]);
        self.given += n;
        Ok(n)
    }
}

/// Line ends made CRLF, resumable across blocks (a CR may end one block
/// and its LF start the next).
#[derive(Debug, Default, Clone, Copy)]
struct LineEnds {
    pending_cr: bool,
}

impl LineEnds {
    fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 2);
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => out.extend_from_slice(b"\r\n"),
                b => out.push(b),
            }
        }
    }

    /// A CR that ended the input is a line end too.
    fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Dot-stuffing (RFC 5321 4.5.2) of a byte stream, resumable across
/// blocks. Bare LF becomes CRLF on the way, so nothing in the message can
/// look like an end of data to a lenient receiver (SMTP smuggling).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DotStuffer {
    line_start: bool,
    /// A CR whose meaning depends on the next byte (which may be in the next block).
    pending_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            line_start: true,
            pending_cr: false,
        }
    }
}

impl DotStuffer {
    /// Every line ending goes out as CRLF, whether it came as CRLF, a bare LF
    /// or a bare CR: a next hop that takes either alone as a line end must
    /// not be able to see an end of data that we did not (SMTP smuggling).
    pub(crate) fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 2);
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                self.end_line(out);
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => self.end_line(out),
                _ => {
                    if self.line_start && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.line_start = false;
                }
            }
        }
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.line_start = true;
    }

    /// The end of data: a CRLF if the message did not end with one, then
    /// ".CRLF".
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        *self = DotStuffer::default();
    }
}

/// An address fit for `<...>` in MAIL/RCPT: no controls, spaces or angle
/// brackets that could end the command early or inject another one.
pub(crate) fn address_ok(address: &str) -> bool {
    !address
        .chars()
        .any(|c| c.is_control() || c == ' ' || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use smtp_proto::{
        EXT_8BIT_MIME, EXT_CHUNKING, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SMTP_UTF8,
        EXT_START_TLS,
    };

    use super::*;

    fn stuff(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::default();
        let mut out = Vec::new();
        for chunk in chunks {
            s.encode(chunk, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_with_the_marker() {
        assert_eq!(
            stuff(&[b".hidden\r\nline\r\n.\r\n..two\r\n"]),
            b"..hidden\r\nline\r\n..\r\n...two\r\n.\r\n"
        );
        assert_eq!(stuff(&[b""]), b".\r\n");
        assert_eq!(stuff(&[b"no final newline"]), b"no final newline\r\n.\r\n");
    }

    #[test]
    fn dot_stuffing_resumes_across_blocks_split_anywhere() {
        let input = b"a\r\n.b\r\n..c\r\nd.e\r\n.";
        let whole = stuff(&[input]);
        for split in 0..=input.len() {
            assert_eq!(stuff(&[&input[..split], &input[split..]]), whole, "{split}");
        }
    }

    #[test]
    fn bare_lf_becomes_crlf_so_no_smuggled_end_of_data() {
        assert_eq!(
            stuff(&[b"a\n.\nMAIL FROM:<x@y>\n"]),
            b"a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n"
        );
        assert_eq!(stuff(&[b"a\r", b"\n.b"]), b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn line_ends_as_sent_are_those_the_dot_stuffer_writes() {
        for raw in [
            &b"a\r\nb\r\n"[..],
            b"a\rb\nc\r\n",
            b"line1\r.\r\n",
            b"\r\r\n\n",
            b"end\r",
        ] {
            let sent_whole = |bytes: &[u8]| {
                let mut out = Vec::new();
                let mut stuffer = DotStuffer::default();
                stuffer.encode(bytes, &mut out);
                stuffer.finish(&mut out);
                out
            };
            let stuffed = sent_whole(&line_ends_as_sent(raw));
            let direct = sent_whole(raw);
            assert_eq!(stuffed, direct, "{raw:?}");
            let sent = line_ends_as_sent(raw);
            assert!(
                sent.windows(2)
                    .enumerate()
                    .all(|(i, w)| (w[0] != b'\r' || w[1] == b'\n')
                        && (w[1] != b'\n' || w[0] == b'\r')
                        && (i > 0 || w[0] != b'\n')),
                "{sent:?}"
            );
        }
        assert!(matches!(
            line_ends_as_sent(b"a\r\nb\r\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    /// Gives one byte per read: every block boundary falls everywhere.
    struct ByteByByte<'a>(&'a [u8]);

    impl std::io::Read for ByteByByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn a_stream_read_a_byte_at_a_time_gets_the_line_ends_of_the_whole() {
        use std::io::Read;
        for raw in [
            &b"a\r\nb\r\n"[..],
            b"a\rb\nc\r\n",
            b"line1\r.\r\n",
            b"\r\r\n\n",
            b"end\r",
            b"",
        ] {
            let mut streamed = Vec::new();
            LineEndsAsSent::new(ByteByByte(raw))
                .read_to_end(&mut streamed)
                .unwrap();
            assert_eq!(streamed, line_ends_as_sent(raw).as_ref(), "{raw:?}");
        }
    }

    #[test]
    fn bare_cr_becomes_crlf_so_no_smuggled_end_of_data() {
        assert_eq!(
            stuff(&[b"line1\r.\r\nMAIL FROM:<x@y>\r\n"]),
            b"line1\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n"
        );
        assert_eq!(stuff(&[b"a\r.\rb"]), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(stuff(&[b"ends with cr\r"]), b"ends with cr\r\n.\r\n");
        let input = b"x\r.\r\n\r\r\n.y\n";
        let whole = stuff(&[input]);
        assert_eq!(whole, b"x\r\n..\r\n\r\n\r\n..y\r\n.\r\n");
        for split in 0..=input.len() {
            assert_eq!(stuff(&[&input[..split], &input[split..]]), whole, "{split}");
        }
    }

    fn reply(lines: &[&str]) -> Reply {
        Reply {
            code: lines[0][..3].parse().unwrap(),
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn enhanced_status_from_the_reply_or_derived() {
        assert_eq!(reply(&["550 5.1.1 <x>: user unknown"]).status(), "5.1.1");
        assert_eq!(reply(&["451 4.7.1 greylisted"]).status(), "4.7.1");
        assert_eq!(reply(&["550 user unknown"]).status(), "5.0.0");
        assert_eq!(reply(&["550 4.1.1 mismatched"]).status(), "5.0.0");
        assert_eq!(reply(&["250 Ok"]).status(), "2.0.0");
        assert_eq!(
            reply(&["550-5.1.1 first", "550 5.1.1 second"]).text(),
            "550-5.1.1 first 550 5.1.1 second"
        );
    }

    #[test]
    fn ehlo_capabilities_by_smtp_proto_line_by_line() {
        let caps = Capabilities::parse(&reply(&[
            "250-mx.test Hello",
            "250-PIPELINING",
            "250-SIZE 10240000",
            "250-X-WEIRD stuff {here}",
            "250-STARTTLS",
            "250-8BITMIME",
            "250-ENHANCEDSTATUSCODES",
            "250 SMTPUTF8",
        ]));
        assert!(caps.has(EXT_PIPELINING));
        assert!(caps.has(EXT_START_TLS));
        assert!(caps.has(EXT_8BIT_MIME));
        assert!(caps.has(EXT_SMTP_UTF8));
        assert!(caps.has(EXT_ENHANCED_STATUS_CODES));
        assert!(!caps.has(EXT_CHUNKING));
        assert_eq!(caps.size, 10_240_000);
        let bare = Capabilities::parse(&reply(&["250-mx.test", "250 SIZE"]));
        assert!(bare.has(EXT_SIZE));
        assert_eq!(bare.size, 0);
    }

    #[test]
    fn addresses_that_could_inject_commands_are_refused() {
        assert!(address_ok("user@example.org"));
        assert!(address_ok(""));
        assert!(address_ok("jöran@exämple.org"));
        assert!(!address_ok("a@b>\r\nRCPT TO:<c@d"));
        assert!(!address_ok("a b@c"));
    }
}
