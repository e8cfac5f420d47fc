//! ManageSieve's syntax (RFC 5804 4) without I/O: commands framed from
//! lines and literals ([`Framer`]), parsed ([`parse_command`]), and
//! responses written ([`response`], [`string`]).
//!
//! A command is a name and arguments separated by single spaces, ended by
//! CRLF (a bare LF is taken too). Arguments are strings, quoted (at most
//! [`MAX_QUOTED`] octets, `\"` and `\\` the only escapes, no CR, LF or NUL)
//! or literal (`{N+}` CRLF then N octets; RFC 5804 4 has clients send
//! non-synchronizing literals, and `{N}` is taken the same way, as nothing
//! in ManageSieve would let the server answer before the octets), and
//! numbers (HAVESPACE's size). Everything a client sends is bounded before
//! it is kept: a line by the session's line limit, a whole command (lines
//! and literals) by the framer's limit; a literal past it is read and
//! dropped, or, when it is larger than the framer agrees to skip, ends the
//! connection.

use std::fmt;

/// Longest quoted string (RFC 5804 4: "quoted strings ... up to 1024 octets").
pub const MAX_QUOTED: usize = 1024;

/// A command the server understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `AUTHENTICATE "PLAIN" ["initial response"]` (RFC 5804 2.1).
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    StartTls,
    Logout,
    Capability,
    /// `HAVESPACE "name" size` (2.5).
    HaveSpace {
        name: String,
        size: u64,
    },
    /// `PUTSCRIPT "name" {N+} ...` (2.6); the script as sent.
    PutScript {
        name: String,
        script: Vec<u8>,
    },
    ListScripts,
    /// `SETACTIVE ""` deactivates (2.8).
    SetActive {
        name: String,
    },
    GetScript {
        name: String,
    },
    DeleteScript {
        name: String,
    },
    RenameScript {
        from: String,
        to: String,
    },
    CheckScript {
        script: Vec<u8>,
    },
    /// `NOOP ["tag"]` (2.13): the tag comes back in `OK (TAG "...")`.
    Noop {
        tag: Option<String>,
    },
    /// `XCLIENT ADDR=... [PORT=...]`: a director names the client it
    /// speaks for (Pigeonhole's managesieve-login takes it, as Postfix's
    /// XCLIENT); attribute names upper-cased.
    Xclient(Vec<(String, String)>),
}

impl Command {
    /// The name, as logs write it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Authenticate { .. } => "AUTHENTICATE",
            Command::StartTls => "STARTTLS",
            Command::Logout => "LOGOUT",
            Command::Capability => "CAPABILITY",
            Command::HaveSpace { .. } => "HAVESPACE",
            Command::PutScript { .. } => "PUTSCRIPT",
            Command::ListScripts => "LISTSCRIPTS",
            Command::SetActive { .. } => "SETACTIVE",
            Command::GetScript { .. } => "GETSCRIPT",
            Command::DeleteScript { .. } => "DELETESCRIPT",
            Command::RenameScript { .. } => "RENAMESCRIPT",
            Command::CheckScript { .. } => "CHECKSCRIPT",
            Command::Noop { .. } => "NOOP",
            Command::Xclient(_) => "XCLIENT",
        }
    }

    /// Whether it may be used before logging in.
    pub fn before_login(&self) -> bool {
        matches!(
            self,
            Command::Authenticate { .. }
                | Command::StartTls
                | Command::Logout
                | Command::Capability
                | Command::Noop { .. }
                | Command::Xclient(_)
        )
    }
}

/// Why a command could not be parsed: the text of its `NO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// The command name was not one ManageSieve knows (the guard counts
    /// these like IMAP's BAD).
    pub unknown: bool,
}

impl ParseError {
    fn new(message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            unknown: false,
        }
    }

    /// The `NO` line.
    pub fn response(&self) -> Vec<u8> {
        response(Status::No, None, &self.message)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The literal a line announces at its end (`{N+}` or `{N}` before the
/// line ending): `Some(Ok(N))`, `Some(Err(()))` when the number does not
/// fit in 64 bits, `None` when the line announces none.
pub fn announced_literal(line: &[u8]) -> Option<Result<u64, ()>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
            .ok_or(()),
    )
}

/// What the framer wants or gives after a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// A command, whole (its lines and literals, as sent).
    Complete(Vec<u8>),
    /// The next `n` octets are a literal: hand them to [`Framer::literal`]
    /// (kept, or dropped when the command is already refused).
    Literal(u64),
    /// The command is refused: answer `response`; close the connection
    /// after it when `close`.
    Refused { response: Vec<u8>, close: bool },
}

/// Why a command being read is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    LineTooLong,
    TooLarge { script: bool },
}

/// Assembles commands from lines and literals within limits.
#[derive(Debug)]
pub struct Framer {
    /// Largest command kept (lines and literals together).
    limit: usize,
    /// Largest literal read and dropped when over `limit`; beyond, the
    /// connection is closed.
    skip_limit: u64,
    buf: Vec<u8>,
    refused: Option<Refusal>,
    /// Whether the command being skipped began with PUTSCRIPT or
    /// CHECKSCRIPT (its refusal is about the script's size).
    script: bool,
    keeping: bool,
}

impl Framer {
    pub fn new(limit: usize, skip_limit: u64) -> Framer {
        Framer {
            limit,
            skip_limit,
            buf: Vec::new(),
            refused: None,
            script: false,
            keeping: false,
        }
    }

    /// The next line of the command (its line ending included).
    pub fn line(&mut self, line: &[u8]) -> Framed {
        if self.buf.is_empty() && self.refused.is_none() {
            self.script = starts_with_script_command(line);
        }
        if self.refused.is_none() && self.buf.len() + line.len() > self.limit {
            self.refuse(Refusal::TooLarge {
                script: self.script,
            });
        }
        if self.refused.is_none() {
            self.buf.extend_from_slice(line);
        }
        self.after_line(announced_literal(line))
    }

    /// A line longer than the session reads: `head` and `tail` are its
    /// first and last octets (the tail says whether a literal follows).
    pub fn line_too_long(&mut self, head: &[u8], tail: &[u8]) -> Framed {
        if self.buf.is_empty() && self.refused.is_none() {
            self.script = starts_with_script_command(head);
        }
        self.refuse(Refusal::LineTooLong);
        self.after_line(announced_literal(tail))
    }

    /// Octets of the literal announced by [`Framed::Literal`].
    pub fn literal(&mut self, bytes: &[u8]) {
        if self.keeping {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn refuse(&mut self, why: Refusal) {
        if self.refused.is_none() {
            self.refused = Some(why);
            self.buf = Vec::new();
        }
    }

    fn after_line(&mut self, literal: Option<Result<u64, ()>>) -> Framed {
        match literal {
            None => self.end(),
            Some(Err(())) => self.close(),
            Some(Ok(n)) => {
                let fits = usize::try_from(n)
                    .ok()
                    .and_then(|n| self.buf.len().checked_add(n))
                    .is_some_and(|total| total <= self.limit);
                if self.refused.is_none() && fits {
                    self.keeping = true;
                    return Framed::Literal(n);
                }
                self.refuse(Refusal::TooLarge {
                    script: self.script,
                });
                self.keeping = false;
                if n > self.skip_limit {
                    return self.close();
                }
                Framed::Literal(n)
            }
        }
    }

    /// The line ended the command.
    fn end(&mut self) -> Framed {
        self.keeping = false;
        let refused = self.refused.take();
        let bytes = std::mem::take(&mut self.buf);
        self.script = false;
        match refused {
            None => Framed::Complete(bytes),
            Some(Refusal::LineTooLong) => Framed::Refused {
                response: response(Status::No, None, "Line too long."),
                close: false,
            },
            Some(Refusal::TooLarge { script: true }) => Framed::Refused {
                response: response(
                    Status::No,
                    Some(&Code::QuotaMaxSize),
                    "Script is too large.",
                ),
                close: false,
            },
            Some(Refusal::TooLarge { script: false }) => Framed::Refused {
                response: response(Status::No, None, "Command is too long."),
                close: false,
            },
        }
    }

    fn close(&mut self) -> Framed {
        self.keeping = false;
        self.refused = None;
        self.buf = Vec::new();
        self.script = false;
        Framed::Refused {
            response: response(Status::Bye, None, "Literal too large."),
            close: true,
        }
    }
}

fn starts_with_script_command(line: &[u8]) -> bool {
    let word: Vec<u8> = line
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .map(u8::to_ascii_uppercase)
        .collect();
    word == b"PUTSCRIPT" || word == b"CHECKSCRIPT"
}

/// A cursor over a whole command.
struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Up to the next space or the end of the line (`NAME=value`).
    fn word(&mut self) -> &'a [u8] {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|b| !matches!(b, b' ' | b'\r' | b'\n'))
        {
            self.at += 1;
        }
        &self.bytes[start..self.at]
    }

    fn atom(&mut self) -> &'a [u8] {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
            self.at += 1;
        }
        &self.bytes[start..self.at]
    }

    /// At the end: CRLF or LF, then nothing.
    fn at_end(&self) -> bool {
        let rest = &self.bytes[self.at..];
        rest == b"\r\n" || rest == b"\n"
    }

    fn end(&self) -> Result<(), ParseError> {
        if self.at_end() {
            Ok(())
        } else if self.at >= self.bytes.len() {
            Err(ParseError::new("Missing CRLF at the end of the command."))
        } else {
            Err(ParseError::new(
                "Unexpected characters after the command's arguments.",
            ))
        }
    }

    fn space(&mut self) -> Result<(), ParseError> {
        if self.peek() == Some(b' ') {
            self.at += 1;
            Ok(())
        } else {
            Err(ParseError::new("Missing argument."))
        }
    }

    /// ` argument` when there is one more before the end.
    fn more(&self) -> bool {
        self.peek() == Some(b' ')
    }

    /// A quoted or literal string.
    fn string(&mut self) -> Result<Vec<u8>, ParseError> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => Err(ParseError::new("Expected a string.")),
        }
    }

    fn quoted(&mut self) -> Result<Vec<u8>, ParseError> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(ParseError::new("Unterminated quoted string."));
            };
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => match self.peek() {
                    Some(c @ (b'"' | b'\\')) => {
                        self.at += 1;
                        out.push(c);
                    }
                    _ => return Err(ParseError::new("Invalid escape in a quoted string.")),
                },
                b'\r' | b'\n' | 0 => {
                    return Err(ParseError::new(
                        "Quoted strings cannot hold CR, LF or NUL (use a literal).",
                    ));
                }
                _ => out.push(b),
            }
            if out.len() > MAX_QUOTED {
                return Err(ParseError::new(format!(
                    "Quoted string longer than {MAX_QUOTED} octets (use a literal)."
                )));
            }
        }
        Ok(out)
    }

    fn literal(&mut self) -> Result<Vec<u8>, ParseError> {
        let rest = &self.bytes[self.at..];
        let newline = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| ParseError::new("Invalid literal."))?;
        let n = match announced_literal(&rest[..=newline]) {
            Some(Ok(n)) => n,
            _ => return Err(ParseError::new("Invalid literal.")),
        };
        // The announcement must be exactly `{digits[+]}` and its line end.
        let close = rest[..newline]
            .iter()
            .position(|&b| b == b'}')
            .ok_or_else(|| ParseError::new("Invalid literal."))?;
        let tail = &rest[close + 1..=newline];
        if tail != b"\r\n" && tail != b"\n" {
            return Err(ParseError::new("Invalid literal."));
        }
        let start = self.at + newline + 1;
        let n = usize::try_from(n).map_err(|_| ParseError::new("Invalid literal."))?;
        let end = start
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| ParseError::new("Literal shorter than announced."))?;
        self.at = end;
        Ok(self.bytes[start..end].to_vec())
    }

    /// A string that must be UTF-8 (names, mechanisms, SASL responses).
    fn text(&mut self) -> Result<String, ParseError> {
        String::from_utf8(self.string()?).map_err(|_| ParseError::new("String is not UTF-8."))
    }

    fn number(&mut self) -> Result<u64, ParseError> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()
            .filter(|d| !d.is_empty())
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| ParseError::new("Expected a number."))
    }
}

/// One command, whole, as the [`Framer`] gives it.
pub fn parse_command(bytes: &[u8]) -> Result<Command, ParseError> {
    let mut p = Parser { bytes, at: 0 };
    let name = p.atom().to_ascii_uppercase();
    if name.is_empty() {
        return Err(ParseError::new("Expected a command."));
    }
    let command = match &name[..] {
        b"AUTHENTICATE" => {
            p.space()?;
            let mechanism = p.text()?;
            let initial = if p.more() {
                p.space()?;
                Some(p.text()?)
            } else {
                None
            };
            Command::Authenticate { mechanism, initial }
        }
        b"STARTTLS" => Command::StartTls,
        b"LOGOUT" => Command::Logout,
        b"CAPABILITY" => Command::Capability,
        b"HAVESPACE" => {
            p.space()?;
            let name = p.text()?;
            p.space()?;
            let size = p.number()?;
            Command::HaveSpace { name, size }
        }
        b"PUTSCRIPT" => {
            p.space()?;
            let name = p.text()?;
            p.space()?;
            let script = p.string()?;
            Command::PutScript { name, script }
        }
        b"LISTSCRIPTS" => Command::ListScripts,
        b"SETACTIVE" => {
            p.space()?;
            Command::SetActive { name: p.text()? }
        }
        b"GETSCRIPT" => {
            p.space()?;
            Command::GetScript { name: p.text()? }
        }
        b"DELETESCRIPT" => {
            p.space()?;
            Command::DeleteScript { name: p.text()? }
        }
        b"RENAMESCRIPT" => {
            p.space()?;
            let from = p.text()?;
            p.space()?;
            let to = p.text()?;
            Command::RenameScript { from, to }
        }
        b"CHECKSCRIPT" => {
            p.space()?;
            Command::CheckScript {
                script: p.string()?,
            }
        }
        b"NOOP" => {
            let tag = if p.more() {
                p.space()?;
                Some(p.text()?)
            } else {
                None
            };
            Command::Noop { tag }
        }
        b"XCLIENT" => {
            let mut attributes = Vec::new();
            while p.more() {
                p.space()?;
                let word = std::str::from_utf8(p.word())
                    .map_err(|_| ParseError::new("Expected NAME=value."))?;
                let (name, value) = word
                    .split_once('=')
                    .ok_or_else(|| ParseError::new("Expected NAME=value."))?;
                attributes.push((name.to_ascii_uppercase(), value.to_string()));
            }
            if attributes.is_empty() {
                return Err(ParseError::new("Expected NAME=value."));
            }
            Command::Xclient(attributes)
        }
        _ => {
            return Err(ParseError {
                message: "Unknown command.".into(),
                unknown: true,
            });
        }
    };
    p.end()?;
    Ok(command)
}

/// A client's answer during AUTHENTICATE (RFC 5804 2.1): one string, or
/// `"*"` to abort (`None`).
pub fn parse_sasl_response(bytes: &[u8]) -> Result<Option<String>, ParseError> {
    let mut p = Parser { bytes, at: 0 };
    let text = p.text()?;
    p.end()?;
    // A quoted `"*"` aborts; RFC 5804 2.1 spells the abort as a string.
    Ok((text != "*").then_some(text))
}

/// The first word of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bye,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bye => "BYE",
        }
    }
}

/// Response codes (RFC 5804 1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    EncryptNeeded,
    /// The user's storage would be exceeded.
    Quota,
    QuotaMaxScripts,
    QuotaMaxSize,
    TryLater,
    Active,
    NonExistent,
    AlreadyExists,
    /// NOOP's tag.
    Tag(String),
}

impl Code {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        match self {
            Code::EncryptNeeded => out.extend_from_slice(b"ENCRYPT-NEEDED"),
            Code::Quota => out.extend_from_slice(b"QUOTA"),
            Code::QuotaMaxScripts => out.extend_from_slice(b"QUOTA/MAXSCRIPTS"),
            Code::QuotaMaxSize => out.extend_from_slice(b"QUOTA/MAXSIZE"),
            Code::TryLater => out.extend_from_slice(b"TRYLATER"),
            Code::Active => out.extend_from_slice(b"ACTIVE"),
            Code::NonExistent => out.extend_from_slice(b"NONEXISTENT"),
            Code::AlreadyExists => out.extend_from_slice(b"ALREADYEXISTS"),
            Code::Tag(tag) => {
                out.extend_from_slice(b"TAG ");
                string(out, tag.as_bytes());
            }
        }
        out.push(b')');
    }
}

/// `OK`/`NO`/`BYE`, its code, its text (omitted when empty), CRLF.
pub fn response(status: Status, code: Option<&Code>, text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    out.extend_from_slice(status.as_str().as_bytes());
    if let Some(code) = code {
        out.push(b' ');
        code.write(&mut out);
    }
    if !text.is_empty() {
        out.push(b' ');
        string(&mut out, text.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Writes `s` as a quoted string when it can be one, else as a literal
/// (`{N}` CRLF and the octets: RFC 5804 4's literal-s2c).
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= MAX_QUOTED && !s.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// Writes `s` as a literal whatever it holds (GETSCRIPT's script).
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// Why a script name is refused (RFC 5804 1.6), or `None` when it is a
/// good one: not empty, at most [`MAX_NAME`] octets, none of the control
/// characters (U+0000-001F, U+007F-009F) nor the line and paragraph
/// separators (U+2028, U+2029).
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("Script name is empty.");
    }
    if name.len() > MAX_NAME {
        return Some("Script name is too long.");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return Some("Script name holds control characters.");
    }
    None
}

/// Longest script name, in octets (RFC 5804 1.6 asks for at least 128).
pub const MAX_NAME: usize = 255;

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(input: &[u8], limit: usize, skip: u64) -> Vec<Framed> {
        let mut framer = Framer::new(limit, skip);
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |p| p + 1);
            let framed = framer.line(&rest[..end]);
            rest = &rest[end..];
            if let Framed::Literal(n) = framed {
                let n = (n as usize).min(rest.len());
                framer.literal(&rest[..n]);
                rest = &rest[n..];
                continue;
            }
            out.push(framed);
        }
        out
    }

    fn parse(s: &str) -> Result<Command, ParseError> {
        parse_command(s.as_bytes())
    }

    #[test]
    fn commands_are_case_insensitive_with_quoted_arguments() {
        assert_eq!(parse("capability\r\n"), Ok(Command::Capability));
        assert_eq!(
            parse("Authenticate \"PLAIN\" \"AGEAYg==\"\r\n"),
            Ok(Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some("AGEAYg==".into())
            })
        );
        assert_eq!(
            parse("HAVESPACE \"vacation\" 1024\r\n"),
            Ok(Command::HaveSpace {
                name: "vacation".into(),
                size: 1024
            })
        );
        assert_eq!(
            parse("RENAMESCRIPT \"a\" \"b\"\n"),
            Ok(Command::RenameScript {
                from: "a".into(),
                to: "b".into()
            })
        );
        assert_eq!(parse("NOOP\r\n"), Ok(Command::Noop { tag: None }));
        assert_eq!(
            parse("NOOP \"STARTTLS-SYNC-42\"\r\n"),
            Ok(Command::Noop {
                tag: Some("STARTTLS-SYNC-42".into())
            })
        );
        assert_eq!(
            parse("SETACTIVE \"\"\r\n"),
            Ok(Command::SetActive { name: "".into() })
        );
    }

    #[test]
    fn xclient_takes_name_value_pairs_and_nothing_else() {
        assert_eq!(
            parse("XCLIENT addr=192.0.2.7 PORT=4242\r\n"),
            Ok(Command::Xclient(vec![
                ("ADDR".into(), "192.0.2.7".into()),
                ("PORT".into(), "4242".into())
            ]))
        );
        assert_eq!(
            parse("XCLIENT ADDR=2001:db8::7\r\n"),
            Ok(Command::Xclient(vec![(
                "ADDR".into(),
                "2001:db8::7".into()
            )]))
        );
        assert!(parse("XCLIENT\r\n").is_err());
        assert!(parse("XCLIENT ADDR\r\n").is_err());
        assert!(parse("XCLIENT ADDR=1.2.3.4  PORT=1\r\n").is_err());
    }

    #[test]
    fn quoted_strings_take_their_two_escapes_and_nothing_else() {
        assert_eq!(
            parse("GETSCRIPT \"a\\\"b\\\\c\"\r\n"),
            Ok(Command::GetScript {
                name: "a\"b\\c".into()
            })
        );
        assert!(parse("GETSCRIPT \"a\\nb\"\r\n").is_err());
        assert!(parse("GETSCRIPT \"ab\r\n").is_err());
        let long = format!("GETSCRIPT \"{}\"\r\n", "x".repeat(MAX_QUOTED + 1));
        assert!(parse(&long).is_err());
    }

    #[test]
    fn literals_synchronizing_or_not_hold_any_octets() {
        let script = "require \"fileinto\";\r\nfileinto \"x\";\r\n";
        for plus in ["+", ""] {
            let cmd = format!("PUTSCRIPT \"s\" {{{}{plus}}}\r\n{script}\r\n", script.len());
            assert_eq!(
                parse(&cmd),
                Ok(Command::PutScript {
                    name: "s".into(),
                    script: script.as_bytes().to_vec()
                })
            );
        }
        // A name as a literal, CRLF inside a script.
        assert_eq!(
            parse("GETSCRIPT {3+}\r\nabc\r\n"),
            Ok(Command::GetScript { name: "abc".into() })
        );
        assert!(parse("CHECKSCRIPT {10+}\r\nabc\r\n").is_err());
        assert!(parse("CHECKSCRIPT {x+}\r\nabc\r\n").is_err());
        assert!(parse("CHECKSCRIPT {3+} \r\nabc\r\n").is_err());
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        for bad in [
            "",
            "\r\n",
            "FOO\r\n",
            "PUTSCRIPT\r\n",
            "PUTSCRIPT \"a\"\r\n",
            "PUTSCRIPT \"a\" \"b\"",
            "HAVESPACE \"a\" -1\r\n",
            "HAVESPACE \"a\" 99999999999999999999999\r\n",
            "CAPABILITY extra\r\n",
            "LOGOUT  \r\n",
            "AUTHENTICATE \"PLAIN\"  \"x\"\r\n",
            "GETSCRIPT {18446744073709551615+}\r\n",
            "GETSCRIPT {99999999999999999999999+}\r\n",
        ] {
            let err = parse_command(bad.as_bytes()).unwrap_err();
            let line = err.response();
            assert!(line.starts_with(b"NO \""), "{bad:?}");
            assert!(line.ends_with(b"\r\n"));
        }
        assert!(parse_command(b"GETSCRIPT \"\xff\"\r\n").is_err());
        assert!(parse("FROB\r\n").unwrap_err().unknown);
        assert!(!parse("PUTSCRIPT\r\n").unwrap_err().unknown);
    }

    #[test]
    fn the_framer_joins_lines_and_literals_into_one_command() {
        let input = b"PUTSCRIPT \"s\" {5+}\r\nkeep;\r\nNOOP\r\n";
        assert_eq!(
            frame(input, 1000, 0),
            vec![
                Framed::Complete(b"PUTSCRIPT \"s\" {5+}\r\nkeep;\r\n".to_vec()),
                Framed::Complete(b"NOOP\r\n".to_vec())
            ]
        );
    }

    #[test]
    fn a_script_beyond_the_limit_is_skipped_and_refused_with_maxsize() {
        let input = b"PUTSCRIPT \"s\" {50+}\r\n01234567890123456789012345678901234567890123456789\r\nNOOP\r\n";
        let out = frame(input, 30, 100);
        assert_eq!(
            out,
            vec![
                Framed::Refused {
                    response: b"NO (QUOTA/MAXSIZE) \"Script is too large.\"\r\n".to_vec(),
                    close: false
                },
                Framed::Complete(b"NOOP\r\n".to_vec())
            ]
        );
        // Beyond what the framer skips: goodbye.
        let out = frame(b"GETSCRIPT {5000+}\r\n", 30, 100);
        assert_eq!(
            out,
            vec![Framed::Refused {
                response: b"BYE \"Literal too large.\"\r\n".to_vec(),
                close: true
            }]
        );
    }

    #[test]
    fn a_line_too_long_is_refused_after_its_literal() {
        let mut framer = Framer::new(100, 100);
        assert_eq!(
            framer.line_too_long(b"PUTSCRIPT \"xxxx", b"xxx\" {3+}\r\n"),
            Framed::Literal(3)
        );
        framer.literal(b"abc");
        match framer.line(b"\r\n") {
            Framed::Refused { close: false, .. } => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            framer.line(b"NOOP\r\n"),
            Framed::Complete(b"NOOP\r\n".to_vec())
        );
    }

    #[test]
    fn responses_quote_what_they_can_and_send_the_rest_as_literals() {
        assert_eq!(response(Status::Ok, None, ""), b"OK\r\n");
        assert_eq!(
            response(Status::No, Some(&Code::NonExistent), "No \"such\" script"),
            b"NO (NONEXISTENT) \"No \\\"such\\\" script\"\r\n"
        );
        assert_eq!(
            response(Status::Ok, Some(&Code::Tag("t 1".into())), "Done"),
            b"OK (TAG \"t 1\") \"Done\"\r\n"
        );
        assert_eq!(
            response(Status::No, None, "line 1: a\r\nline 2: b"),
            b"NO {20}\r\nline 1: a\r\nline 2: b\r\n"
        );
    }

    #[test]
    fn sasl_responses_are_one_string_or_an_abort() {
        assert_eq!(
            parse_sasl_response(b"\"AGEAYg==\"\r\n"),
            Ok(Some("AGEAYg==".into()))
        );
        assert_eq!(
            parse_sasl_response(b"{4+}\r\nabcd\r\n"),
            Ok(Some("abcd".into()))
        );
        assert_eq!(parse_sasl_response(b"\"*\"\r\n"), Ok(None));
        assert!(parse_sasl_response(b"AGEAYg==\r\n").is_err());
    }

    #[test]
    fn script_names_follow_rfc_5804_1_6() {
        assert_eq!(name_problem("vacation"), None);
        assert_eq!(name_problem("été 2026"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem("a\tb").is_some());
        assert!(name_problem("a\u{85}b").is_some());
        assert!(name_problem("a\u{2028}b").is_some());
        assert!(name_problem(&"x".repeat(MAX_NAME + 1)).is_some());
    }
}
