//! Framing: from the lines and literals a client sends to one complete
//! command, with the limits enforced before anything is buffered.
//!
//! A command is a line; when a line ends with a literal announcement
//! (`{N}`, `{N+}` of RFC 7888, or `~{N}` of RFC 3516) the next N bytes are
//! raw data and the command continues with the line after them. The
//! session reads lines and literal bytes from its socket; this module says
//! what to read next and when the command is whole:
//!
//! ```text
//! loop {
//!     line = read line (CRLF included)
//!     match framer.push_line(line)? {
//!         Complete(cmd)        => parse_command(&cmd) ... ; continue
//!         NeedLiteral{size,sync} => if sync { send "+ Ready\r\n" }
//!                                   feed exactly `size` bytes with push_literal
//!         Refused(r)           => send r.response();
//!                                 if r.close { send r.bye(); close }
//!                                 read and drop r.discard bytes
//!         Skip{discard}        => read and drop `discard` bytes
//!     }
//! }
//! ```

use crate::lexer::Cursor;

/// The largest non-synchronizing literal LITERAL- (and IMAP4rev2) allows.
pub const LITERAL_MINUS_MAX: u64 = 4096;

/// What the session does next after giving the framer a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// A whole command (lines joined with CRLF, literals inline, ending with
    /// CRLF): give it to [`crate::parse_command`].
    Complete(Vec<u8>),
    /// The line announced a literal of `size` bytes. When `synchronizing`,
    /// send a continuation (`+ Ready`) first; then read exactly `size` bytes
    /// into [`CommandFramer::push_literal`], then the next line.
    NeedLiteral { size: u64, synchronizing: bool },
    /// The command is refused before it is complete: send
    /// [`Refusal::response`]; see [`Refusal`] for what follows.
    Refused(Refusal),
    /// The line belonged to a command refused earlier and was dropped. Read
    /// and drop `discard` bytes (a non-synchronizing literal the client
    /// sends regardless; may be 0), then go on reading lines.
    Skip { discard: u64 },
}

/// Why a command was refused while it was being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefuseReason {
    /// Lines (and literals outside APPEND) exceed the command limit.
    CommandTooLong,
    /// A literal outside APPEND would exceed the command limit.
    LiteralTooBig,
    /// LITERAL-: a non-synchronizing literal over 4096 bytes.
    NonSyncLiteralTooBig,
    /// The APPEND message is over the APPENDLIMIT.
    AppendTooBig,
    /// An APPEND literal before login (see [`CommandFramer::append_allowed`]).
    NotAuthenticated,
}

/// A refused command and how to get past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The command's tag, if its first line could be read.
    pub tag: Option<String>,
    pub reason: RefuseReason,
    /// Bytes of a non-synchronizing literal the client sends anyway: read
    /// and drop them, then keep feeding lines; the rest of the refused
    /// command comes back as [`Framed::Skip`].
    pub discard: u64,
    /// `discard` is more than the framer's `max_discard`: send the response
    /// (then an untagged `BYE`) and close the connection instead of reading
    /// on (RFC 7888 4, second choice).
    pub close: bool,
}

impl Refusal {
    /// The response line: `TAG NO [TOOBIG] ...` for an APPEND over the
    /// limit (RFC 7889), `TAG BAD [TOOBIG] ...` for a literal too big,
    /// `TAG BAD ...` for a command too long; `*` when the tag is unknown.
    /// With `close`, follow it with [`Refusal::bye`].
    pub fn response(&self) -> Vec<u8> {
        let tag = self.tag.as_deref().unwrap_or("*");
        let (status, text) = match self.reason {
            RefuseReason::AppendTooBig => ("NO [TOOBIG]", "Message too big"),
            RefuseReason::NonSyncLiteralTooBig => {
                ("BAD [TOOBIG]", "Non-synchronizing literal over 4096 bytes")
            }
            RefuseReason::LiteralTooBig => ("BAD [TOOBIG]", "Literal too big"),
            RefuseReason::CommandTooLong => ("BAD", "Command too long"),
            RefuseReason::NotAuthenticated => ("BAD", "Log in first."),
        };
        format!("{tag} {status} {text}\r\n").into_bytes()
    }

    /// `* BYE [TOOBIG] ...`, for a refusal that closes the connection.
    pub fn bye(&self) -> Vec<u8> {
        b"* BYE [TOOBIG] Literal too big to skip\r\n".to_vec()
    }
}

/// Misuse of the framer by the session (a bug, not a client error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a line was pushed while literal bytes are still expected")]
    LiteralPending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announcement {
    size: u64,
    synchronizing: bool,
}

/// The literal announcement a line ends with, if any (`line` without its
/// CRLF): `{N}`, `{N+}`, `~{N}`, `~{N+}`. A count too large for u64 is
/// reported as `u64::MAX` (and will be refused).
fn announcement(line: &[u8]) -> Option<Announcement> {
    let body = line.strip_suffix(b"}")?;
    let (body, synchronizing) = match body.strip_suffix(b"+") {
        Some(b) => (b, false),
        None => (body, true),
    };
    let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let (body, digits) = body.split_at(body.len() - digits);
    body.strip_suffix(b"{")?;
    let size = digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    Some(Announcement {
        size: size.unwrap_or(u64::MAX),
        synchronizing,
    })
}

/// The literal a line announces, as `(size, synchronizing)`: for a session
/// that frames by itself.
pub fn literal_announcement(line: &[u8]) -> Option<(u64, bool)> {
    announcement(strip_eol(line)).map(|a| (a.size, a.synchronizing))
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[derive(Debug, Clone, Default)]
struct Head {
    tag: Option<String>,
    append: bool,
}

impl Head {
    fn of(line: &[u8]) -> Head {
        let mut c = Cursor::new(line);
        let tag = c.tag().map(str::to_owned);
        let append = tag.is_some() && c.eat(b' ') && c.keyword().is_ok_and(|k| k == "APPEND");
        Head { tag, append }
    }
}

/// Assembles commands from lines and literals; see the module docs.
#[derive(Debug, Clone)]
pub struct CommandFramer {
    max_command: usize,
    max_literal: u64,
    max_discard: u64,
    literal_plus: bool,
    append_allowed: bool,
    buf: Vec<u8>,
    head: Head,
    /// Bytes counted against `max_command`: lines, and literals outside
    /// APPEND.
    counted: u64,
    /// Literal bytes of an APPEND.
    append_bytes: u64,
    literal_remaining: u64,
    skipping: bool,
}

impl CommandFramer {
    /// `max_command` bounds a command's lines and the literals of any
    /// command but APPEND; `max_literal` bounds the APPEND message (the
    /// APPENDLIMIT). Non-synchronizing literals follow LITERAL- (at most
    /// 4096 bytes), as IMAP4rev2 requires; see [`Self::literal_plus`].
    pub fn new(max_command: usize, max_literal: u64) -> CommandFramer {
        CommandFramer {
            max_command,
            max_literal,
            max_discard: max_literal.max(max_command as u64),
            literal_plus: false,
            append_allowed: true,
            buf: Vec::new(),
            head: Head::default(),
            counted: 0,
            append_bytes: 0,
            literal_remaining: 0,
            skipping: false,
        }
    }

    /// Accept non-synchronizing literals of any size within the limits
    /// (advertise `LITERAL+` rather than `LITERAL-`).
    pub fn literal_plus(mut self, on: bool) -> CommandFramer {
        self.literal_plus = on;
        self
    }

    /// Whether APPEND may carry literals. Before login it may not (like
    /// Dovecot's imap-login): an unauthenticated client is refused before
    /// any `+` and before a byte of its message is read, so it cannot make
    /// the server hold the APPENDLIMIT in memory.
    pub fn append_allowed(mut self, on: bool) -> CommandFramer {
        self.append_allowed = on;
        self
    }

    /// The most bytes of a refused non-synchronizing literal the session is
    /// willing to read and drop; beyond it the refusal says `close`.
    /// Default: the larger of the two limits.
    pub fn max_discard(mut self, bytes: u64) -> CommandFramer {
        self.max_discard = bytes;
        self
    }

    /// Literal bytes still expected by [`Self::push_literal`].
    pub fn literal_remaining(&self) -> u64 {
        self.literal_remaining
    }

    /// No command is half-read (nothing buffered, nothing being skipped).
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && self.literal_remaining == 0 && !self.skipping
    }

    /// Forgets any half-read command (after STARTTLS, for instance).
    pub fn reset(&mut self) {
        self.buf = Vec::new();
        self.head = Head::default();
        self.counted = 0;
        self.append_bytes = 0;
        self.literal_remaining = 0;
        self.skipping = false;
    }

    /// Gives the framer one line (with its CRLF or LF, or without).
    pub fn push_line(&mut self, line: &[u8]) -> Result<Framed, FrameError> {
        if self.literal_remaining > 0 {
            return Err(FrameError::LiteralPending);
        }
        let body = strip_eol(line);
        if self.skipping {
            return Ok(self.skip(body));
        }
        if self.buf.is_empty() {
            self.head = Head::of(body);
        }
        let ann = announcement(body);
        let counted = self.counted.saturating_add(body.len() as u64 + 2);
        if counted > self.max_command as u64 {
            return Ok(self.refuse(RefuseReason::CommandTooLong, ann));
        }
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(b"\r\n");
        self.counted = counted;
        let Some(ann) = ann else {
            let command = std::mem::take(&mut self.buf);
            self.reset();
            return Ok(Framed::Complete(command));
        };
        if self.head.append && !self.append_allowed {
            return Ok(self.refuse(RefuseReason::NotAuthenticated, Some(ann)));
        }
        if !ann.synchronizing && !self.literal_plus && ann.size > LITERAL_MINUS_MAX {
            return Ok(self.refuse(RefuseReason::NonSyncLiteralTooBig, Some(ann)));
        }
        if self.head.append {
            let total = self.append_bytes.saturating_add(ann.size);
            if ann.size > self.max_literal {
                return Ok(self.refuse(RefuseReason::AppendTooBig, Some(ann)));
            }
            // Room for the messages and a name literal, no more: the
            // messages of a MULTIAPPEND share the APPENDLIMIT, as they are
            // all held until the last one arrives (all or none, RFC 3502).
            if total > self.max_literal.saturating_add(self.max_command as u64) {
                return Ok(self.refuse(RefuseReason::AppendTooBig, Some(ann)));
            }
            self.append_bytes = total;
        } else {
            let total = self.counted.saturating_add(ann.size);
            if total > self.max_command as u64 {
                return Ok(self.refuse(RefuseReason::LiteralTooBig, Some(ann)));
            }
            self.counted = total;
        }
        // Nothing is reserved for the announced size: a client announcing
        // the limit and sending nothing costs what it sent, no more.
        self.literal_remaining = ann.size;
        Ok(Framed::NeedLiteral {
            size: ann.size,
            synchronizing: ann.synchronizing,
        })
    }

    /// A line longer than the session was willing to keep: `head` is its
    /// beginning (for the tag; may be empty) and `tail` its last bytes (at
    /// least the last 32 recommended, to see a literal announcement; may be
    /// empty). The command is refused as too long.
    pub fn push_truncated_line(&mut self, head: &[u8], tail: &[u8]) -> Result<Framed, FrameError> {
        if self.literal_remaining > 0 {
            return Err(FrameError::LiteralPending);
        }
        let tail = strip_eol(tail);
        if self.skipping {
            return Ok(self.skip(tail));
        }
        if self.buf.is_empty() {
            self.head = Head::of(head);
        }
        Ok(self.refuse(RefuseReason::CommandTooLong, announcement(tail)))
    }

    /// Gives the framer literal bytes; takes at most
    /// [`Self::literal_remaining`] of them and returns how many it took.
    pub fn push_literal(&mut self, bytes: &[u8]) -> usize {
        let n = usize::try_from(self.literal_remaining)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        self.buf.extend_from_slice(&bytes[..n]);
        self.literal_remaining -= n as u64;
        n
    }

    fn skip(&mut self, line: &[u8]) -> Framed {
        match announcement(line) {
            Some(ann) if !ann.synchronizing => Framed::Skip { discard: ann.size },
            // A synchronizing literal is never sent without our "+"; any
            // other line ends the refused command.
            _ => {
                self.skipping = false;
                Framed::Skip { discard: 0 }
            }
        }
    }

    fn refuse(&mut self, reason: RefuseReason, ann: Option<Announcement>) -> Framed {
        let tag = self.head.tag.take();
        self.reset();
        let discard = match ann {
            Some(a) if !a.synchronizing => a.size,
            _ => 0,
        };
        let close = discard > self.max_discard;
        self.skipping = discard > 0 && !close;
        Framed::Refused(Refusal {
            tag,
            reason,
            discard,
            close,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_are_found_only_at_the_end_of_a_line() {
        assert_eq!(literal_announcement(b"a LOGIN {5}\r\n"), Some((5, true)));
        assert_eq!(literal_announcement(b"a LOGIN {5+}"), Some((5, false)));
        assert_eq!(
            literal_announcement(b"a APPEND x ~{12}\n"),
            Some((12, true))
        );
        assert_eq!(literal_announcement(b"a LOGIN {5} x"), None);
        assert_eq!(literal_announcement(b"a LOGIN {}"), None);
        assert_eq!(literal_announcement(b"a LOGIN 5}"), None);
        assert_eq!(
            literal_announcement(b"a x {99999999999999999999999}"),
            Some((u64::MAX, true))
        );
    }

    #[test]
    fn the_framer_never_reserves_more_than_it_has_received() {
        let mut framer = CommandFramer::new(64 * 1024, 50_000_000);
        let line = b"a APPEND INBOX {20000000}\r\n";
        assert_eq!(
            framer.push_line(line),
            Ok(Framed::NeedLiteral {
                size: 20_000_000,
                synchronizing: true
            })
        );
        assert!(
            framer.buf.capacity() <= 2 * line.len(),
            "{} bytes reserved for a 27-byte line",
            framer.buf.capacity()
        );
        let mut received = line.len();
        for _ in 0..10 {
            framer.push_literal(&[b'x'; 1000]);
            received += 1000;
            // Growing as the bytes come costs at most twice what came.
            assert!(framer.buf.capacity() <= 2 * received);
        }
        assert_eq!(framer.literal_remaining(), 20_000_000 - 10_000);
    }

    #[test]
    fn before_login_an_append_literal_is_refused_before_any_continuation() {
        let new = || {
            CommandFramer::new(64 * 1024, 50_000_000)
                .literal_plus(true)
                .append_allowed(false)
                .max_discard(64 * 1024)
        };
        let mut framer = new();
        let Ok(Framed::Refused(refusal)) = framer.push_line(b"a1 APPEND INBOX {20000000}\r\n")
        else {
            panic!("a synchronizing APPEND literal before login must be refused");
        };
        assert_eq!(refusal.response(), b"a1 BAD Log in first.\r\n");
        assert_eq!((refusal.discard, refusal.close), (0, false));
        assert!(framer.is_idle(), "nothing of the APPEND is kept");
        assert_eq!(
            framer.push_line(b"a2 NOOP\r\n"),
            Ok(Framed::Complete(b"a2 NOOP\r\n".to_vec()))
        );

        // A non-synchronizing literal is on its way anyway: too big to read
        // and drop, the connection closes.
        let Ok(Framed::Refused(refusal)) = new().push_line(b"a3 APPEND INBOX {20000000+}\r\n")
        else {
            panic!("a non-synchronizing APPEND literal before login must be refused");
        };
        assert_eq!(refusal.response(), b"a3 BAD Log in first.\r\n");
        assert!(refusal.close);

        // A name literal counts as well: APPEND gets no literal at all.
        let Ok(Framed::Refused(refusal)) = new().push_line(b"a4 APPEND {5+}\r\n") else {
            panic!("a mailbox name literal of APPEND before login must be refused");
        };
        assert_eq!((refusal.discard, refusal.close), (5, false));

        // LOGIN with literals still works before login.
        let mut framer = new();
        assert!(matches!(
            framer.push_line(b"a5 LOGIN {5}\r\n"),
            Ok(Framed::NeedLiteral { size: 5, .. })
        ));
        framer.push_literal(b"alice");
        assert_eq!(
            framer.push_line(b" secret\r\n"),
            Ok(Framed::Complete(
                b"a5 LOGIN {5}\r\nalice secret\r\n".to_vec()
            ))
        );
    }
}
