//! The POP3 wire format without I/O: command parsing, response lines, the
//! capability list, UIDLs, and the encoder that turns a Maildir file (LF line
//! endings) into a dot-stuffed CRLF multi-line response. SASL messages are
//! decoded by `havre_directory::sasl`, shared with the other protocols.

/// A POP3 command as the client sent it (RFC 1939, 2449, 2595, 5034).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Capa,
    Stls,
    User(String),
    /// The rest of the line after `PASS `: passwords may contain spaces.
    Pass(String),
    /// `AUTH` alone lists the mechanisms; `initial` is the SASL initial
    /// response (`=` for an empty one, kept as sent).
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Apop,
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    Top(u32, u64),
    Dele(u32),
    Rset,
    Noop,
    Quit,
    /// `XCLIENT ADDR=... PORT=...`: a proxy names the client it speaks
    /// for (Dovecot's and Postfix's extension), as `(NAME, value)` pairs,
    /// names upper-case.
    Xclient(Vec<(String, String)>),
}

impl Command {
    /// The keyword, upper-case (for logs and statistics).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Apop => "APOP",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top(..) => "TOP",
            Command::Dele(_) => "DELE",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Xclient(_) => "XCLIENT",
        }
    }
}

/// Why a line is not a command we can run; [`ParseError::message`] is the
/// text after `-ERR `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Unknown,
    Empty,
    MissingArgument(&'static str),
    TooManyArguments,
    InvalidNumber(String),
}

impl ParseError {
    pub fn message(&self) -> String {
        match self {
            ParseError::Unknown => "Unknown command.".into(),
            ParseError::Empty => "Empty command line.".into(),
            ParseError::MissingArgument(what) => format!("Missing argument: {what}."),
            ParseError::TooManyArguments => "Too many arguments.".into(),
            ParseError::InvalidNumber(arg) => {
                format!("Invalid number: {}", printable(arg, 40))
            }
        }
    }
}

/// Parses one command line (CRLF or bare LF included or not). Keywords are
/// case-insensitive; arguments are separated by spaces.
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    let line = strip_eol(line);
    let text = String::from_utf8_lossy(line);
    let (keyword, rest) = match text.split_once(' ') {
        Some((k, r)) => (k, r),
        None => (text.as_ref(), ""),
    };
    if keyword.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let keyword = keyword.to_ascii_uppercase();
    if keyword == "PASS" {
        if rest.is_empty() {
            return Err(ParseError::MissingArgument("password"));
        }
        return Ok(Command::Pass(rest.to_string()));
    }
    let args: Vec<&str> = rest.split_ascii_whitespace().collect();
    let none = |command: Command| {
        if args.is_empty() {
            Ok(command)
        } else {
            Err(ParseError::TooManyArguments)
        }
    };
    let optional_number = |command: fn(Option<u32>) -> Command| match args.as_slice() {
        [] => Ok(command(None)),
        [n] => Ok(command(Some(message_number(n)?))),
        _ => Err(ParseError::TooManyArguments),
    };
    let number = |command: fn(u32) -> Command| match args.as_slice() {
        [] => Err(ParseError::MissingArgument("message number")),
        [n] => Ok(command(message_number(n)?)),
        _ => Err(ParseError::TooManyArguments),
    };
    match keyword.as_str() {
        "CAPA" => none(Command::Capa),
        "STLS" => none(Command::Stls),
        "STAT" => none(Command::Stat),
        "RSET" => none(Command::Rset),
        "NOOP" => none(Command::Noop),
        "QUIT" => none(Command::Quit),
        "USER" => match args.as_slice() {
            [] => Err(ParseError::MissingArgument("user name")),
            [name] => Ok(Command::User(name.to_string())),
            _ => Err(ParseError::TooManyArguments),
        },
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth {
                mechanism: None,
                initial: None,
            }),
            [mechanism] => Ok(Command::Auth {
                mechanism: Some(mechanism.to_ascii_uppercase()),
                initial: None,
            }),
            [mechanism, initial] => Ok(Command::Auth {
                mechanism: Some(mechanism.to_ascii_uppercase()),
                initial: Some(initial.to_string()),
            }),
            _ => Err(ParseError::TooManyArguments),
        },
        "APOP" => Ok(Command::Apop),
        "XCLIENT" => {
            if args.is_empty() {
                return Err(ParseError::MissingArgument("attribute"));
            }
            let pairs = args.iter().map(|arg| match arg.split_once('=') {
                Some((name, value)) => Ok((name.to_ascii_uppercase(), value.to_string())),
                None => Err(ParseError::MissingArgument("NAME=value")),
            });
            Ok(Command::Xclient(pairs.collect::<Result<_, _>>()?))
        }
        "LIST" => optional_number(Command::List),
        "UIDL" => optional_number(Command::Uidl),
        "RETR" => number(Command::Retr),
        "DELE" => number(Command::Dele),
        "TOP" => match args.as_slice() {
            [] => Err(ParseError::MissingArgument("message number")),
            [_] => Err(ParseError::MissingArgument("number of lines")),
            [n, lines] => Ok(Command::Top(message_number(n)?, line_count(lines)?)),
            _ => Err(ParseError::TooManyArguments),
        },
        _ => Err(ParseError::Unknown),
    }
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn message_number(arg: &str) -> Result<u32, ParseError> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::InvalidNumber(arg.to_string()));
    }
    arg.parse()
        .map_err(|_| ParseError::InvalidNumber(arg.to_string()))
}

/// TOP's line count: any non-negative number; a huge one means "all".
fn line_count(arg: &str) -> Result<u64, ParseError> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::InvalidNumber(arg.to_string()));
    }
    Ok(arg.parse().unwrap_or(u64::MAX))
}

/// At most `max` characters of `text`, control characters replaced, for
/// echoing client input back or into logs.
pub fn printable(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `+OK` with an optional text, CRLF-terminated.
pub fn ok(text: &str) -> String {
    if text.is_empty() {
        "+OK\r\n".into()
    } else {
        format!("+OK {text}\r\n")
    }
}

/// `-ERR` with an optional response code (RFC 2449 8, RFC 3206), e.g.
/// `err(Some("IN-USE"), "...")` gives `-ERR [IN-USE] ...`.
pub fn err(code: Option<&str>, text: &str) -> String {
    match code {
        Some(code) => format!("-ERR [{code}] {text}\r\n"),
        None => format!("-ERR {text}\r\n"),
    }
}

/// Response codes we use.
pub const CODE_AUTH: &str = "AUTH";
pub const CODE_IN_USE: &str = "IN-USE";
pub const CODE_SYS_TEMP: &str = "SYS/TEMP";

/// The UIDL of a message, as Dovecot's default `pop3_uidl_format`
/// (`%08Xu%08Xv`): the IMAP UID, then the UIDVALIDITY, 8 upper-case hex digits
/// each. A client moving from Dovecot sees the same UIDLs and downloads
/// nothing twice.
pub fn uidl(uid: u32, uidvalidity: u32) -> String {
    format!("{uid:08X}{uidvalidity:08X}")
}

/// What the session can offer right now, for CAPA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapaContext {
    /// STLS could be started (TLS material is configured).
    pub tls_available: bool,
    /// The connection is already under TLS (STLS done, or port 995).
    pub tls_active: bool,
}

/// The SASL mechanisms offered under TLS.
pub const SASL_MECHANISMS: &[&str] = &["PLAIN"];

/// The CAPA list (RFC 2449), without the `+OK` and the final dot. Logins are
/// offered only under TLS; RFC 2449 wants what AUTHORIZATION offers to be
/// listed in TRANSACTION too, which TLS already guarantees here.
pub fn capabilities(context: CapaContext) -> Vec<String> {
    let mut lines: Vec<String> = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if context.tls_active {
        lines.push("USER".into());
        lines.push(format!("SASL {}", SASL_MECHANISMS.join(" ")));
    } else if context.tls_available {
        lines.push("STLS".into());
    }
    lines.push("IMPLEMENTATION havre".into());
    lines
}

/// A multi-line response: `+OK <first>`, the lines (dot-stuffed), `.`.
pub fn multiline(first: &str, lines: &[String]) -> String {
    let mut out = ok(first);
    for line in lines {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// Turns message bytes (LF or CRLF line endings) into the body of a RETR or
/// TOP response: CRLF line endings, a `.` doubled at the start of a line
/// (RFC 1939 3), and for TOP only the header, the empty line and the first
/// `n` body lines. Fed in chunks of any size; [`BodyEncoder::finish`] adds the
/// final CRLF if the message lacks one, and the terminating `.` line.
#[derive(Debug, Clone)]
pub struct BodyEncoder {
    at_line_start: bool,
    pending_cr: bool,
    in_header: bool,
    body_lines_left: Option<u64>,
    done: bool,
    written: u64,
}

impl BodyEncoder {
    /// The whole message (RETR).
    pub fn message() -> BodyEncoder {
        BodyEncoder::new(None)
    }

    /// The header and the first `lines` lines of the body (TOP).
    pub fn top(lines: u64) -> BodyEncoder {
        BodyEncoder::new(Some(lines))
    }

    fn new(body_lines: Option<u64>) -> BodyEncoder {
        BodyEncoder {
            at_line_start: true,
            pending_cr: false,
            in_header: true,
            body_lines_left: body_lines,
            done: false,
            written: 0,
        }
    }

    /// Nothing more will be written (TOP reached its line count): the caller
    /// may stop reading.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes of message written so far (stuffing included, final dot not).
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let before = out.len();
        for &b in input {
            if self.done {
                break;
            }
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    out.extend_from_slice(b"\r\n");
                    self.end_line();
                    continue;
                }
                // A bare CR is content, passed through as it is.
                out.push(b'\r');
                self.at_line_start = false;
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.end_line();
                }
                _ => {
                    if self.at_line_start && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.at_line_start = false;
                }
            }
        }
        self.written += (out.len() - before) as u64;
    }

    /// Ends the response: a CRLF if the last line had none, then `.` CRLF.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.done {
            let before = out.len();
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                self.at_line_start = true;
            } else if !self.at_line_start {
                out.extend_from_slice(b"\r\n");
                self.at_line_start = true;
            }
            self.written += (out.len() - before) as u64;
            self.done = true;
        }
        out.extend_from_slice(b".\r\n");
    }

    fn end_line(&mut self) {
        let empty = self.at_line_start;
        self.at_line_start = true;
        if self.in_header {
            if empty {
                self.in_header = false;
                if self.body_lines_left == Some(0) {
                    self.done = true;
                }
            }
        } else if let Some(left) = self.body_lines_left.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.done = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_case_insensitive_and_take_their_arguments() {
        assert_eq!(
            parse_command(b"XCLIENT addr=192.0.2.7 PORT=4242\r\n"),
            Ok(Command::Xclient(vec![
                ("ADDR".into(), "192.0.2.7".into()),
                ("PORT".into(), "4242".into())
            ]))
        );
        assert!(parse_command(b"XCLIENT\r\n").is_err());
        assert!(parse_command(b"XCLIENT ADDR\r\n").is_err());
        assert_eq!(parse_command(b"capa\r\n"), Ok(Command::Capa));
        assert_eq!(parse_command(b"StAt\n"), Ok(Command::Stat));
        assert_eq!(parse_command(b"LIST\r\n"), Ok(Command::List(None)));
        assert_eq!(parse_command(b"list 3\r\n"), Ok(Command::List(Some(3))));
        assert_eq!(parse_command(b"UIDL 12\r\n"), Ok(Command::Uidl(Some(12))));
        assert_eq!(parse_command(b"RETR 1\r\n"), Ok(Command::Retr(1)));
        assert_eq!(parse_command(b"TOP 2 0\r\n"), Ok(Command::Top(2, 0)));
        assert_eq!(
            parse_command(b"TOP 2 99999999999999999999999\r\n"),
            Ok(Command::Top(2, u64::MAX))
        );
        assert_eq!(parse_command(b"DELE 7\r\n"), Ok(Command::Dele(7)));
        assert_eq!(
            parse_command(b"USER alice@example.test\r\n"),
            Ok(Command::User("alice@example.test".into()))
        );
        assert_eq!(
            parse_command(b"AUTH plain dGVzdA==\r\n"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("dGVzdA==".into())
            })
        );
        assert_eq!(
            parse_command(b"AUTH\r\n"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
    }

    #[test]
    fn a_password_keeps_its_spaces() {
        assert_eq!(
            parse_command(b"PASS  two words \r\n"),
            Ok(Command::Pass(" two words ".into()))
        );
        assert_eq!(
            parse_command(b"PASS\r\n"),
            Err(ParseError::MissingArgument("password"))
        );
    }

    #[test]
    fn bad_lines_are_refused_with_a_reason() {
        assert_eq!(parse_command(b"\r\n"), Err(ParseError::Empty));
        assert_eq!(parse_command(b"XYZZY\r\n"), Err(ParseError::Unknown));
        assert_eq!(parse_command(b"\xff\xfe\r\n"), Err(ParseError::Unknown));
        assert_eq!(
            parse_command(b"RETR\r\n"),
            Err(ParseError::MissingArgument("message number"))
        );
        assert_eq!(
            parse_command(b"RETR -1\r\n"),
            Err(ParseError::InvalidNumber("-1".into()))
        );
        assert_eq!(
            parse_command(b"RETR 99999999999\r\n"),
            Err(ParseError::InvalidNumber("99999999999".into()))
        );
        assert_eq!(
            parse_command(b"DELE 1 2\r\n"),
            Err(ParseError::TooManyArguments)
        );
        assert_eq!(
            parse_command(b"STAT x\r\n"),
            Err(ParseError::TooManyArguments)
        );
        assert_eq!(
            parse_command(b"TOP 1\r\n"),
            Err(ParseError::MissingArgument("number of lines"))
        );
        assert!(
            ParseError::InvalidNumber("a\u{7}b".into())
                .message()
                .ends_with("a?b")
        );
    }

    #[test]
    fn responses_carry_their_response_codes() {
        assert_eq!(ok(""), "+OK\r\n");
        assert_eq!(ok("Logged in."), "+OK Logged in.\r\n");
        assert_eq!(
            err(Some(CODE_IN_USE), "Maildrop already locked."),
            "-ERR [IN-USE] Maildrop already locked.\r\n"
        );
        assert_eq!(err(None, "Unknown command."), "-ERR Unknown command.\r\n");
        assert_eq!(
            multiline("2 messages", &["1 10".into(), ".x".into()]),
            "+OK 2 messages\r\n1 10\r\n..x\r\n.\r\n"
        );
    }

    #[test]
    fn uidls_are_dovecots_default_format() {
        assert_eq!(uidl(1, 0x5f3a_0001), "000000015F3A0001");
        assert_eq!(uidl(0xABCDEF, 1), "00ABCDEF00000001");
    }

    #[test]
    fn logins_are_offered_only_under_tls() {
        let plain = capabilities(CapaContext {
            tls_available: true,
            tls_active: false,
        });
        assert!(plain.contains(&"STLS".to_string()));
        assert!(!plain.iter().any(|c| c == "USER" || c.starts_with("SASL")));
        let secure = capabilities(CapaContext {
            tls_available: true,
            tls_active: true,
        });
        assert!(!secure.contains(&"STLS".to_string()));
        assert!(secure.contains(&"USER".to_string()));
        assert!(secure.contains(&"SASL PLAIN".to_string()));
        let none = capabilities(CapaContext {
            tls_available: false,
            tls_active: false,
        });
        assert!(!none.contains(&"STLS".to_string()));
        for cap in ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"] {
            assert!(none.contains(&cap.to_string()), "{cap}");
        }
        assert_eq!(
            none.last().map(String::as_str),
            Some("IMPLEMENTATION havre")
        );
    }

    fn encode_all(encoder: &mut BodyEncoder, input: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            encoder.encode(piece, &mut out);
        }
        encoder.finish(&mut out);
        out
    }

    #[test]
    fn a_message_is_sent_with_crlf_and_dots_stuffed_whatever_the_chunking() {
        let input = b"Subject: x\n\n.hidden\nmid.dle\n..two\r\nlast";
        let expected = b"Subject: x\r\n\r\n..hidden\r\nmid.dle\r\n...two\r\nlast\r\n.\r\n";
        for chunk in [1, 2, 3, 7, 1000] {
            let mut encoder = BodyEncoder::message();
            assert_eq!(
                encode_all(&mut encoder, input, chunk),
                expected.to_vec(),
                "chunk {chunk}"
            );
            assert_eq!(encoder.written(), expected.len() as u64 - 3);
        }
    }

    #[test]
    fn a_lone_dot_line_cannot_end_the_response_early() {
        let mut encoder = BodyEncoder::message();
        let out = encode_all(&mut encoder, b"a\n.\nb\n", 1);
        assert_eq!(out, b"a\r\n..\r\nb\r\n.\r\n".to_vec());
        // A CR at the end of the file still ends its line properly.
        let mut encoder = BodyEncoder::message();
        assert_eq!(encode_all(&mut encoder, b"a\r", 1), b"a\r\n.\r\n".to_vec());
        // Bare CR inside a line is content.
        let mut encoder = BodyEncoder::message();
        assert_eq!(
            encode_all(&mut encoder, b"a\rb\n\r.x\n", 1),
            b"a\rb\r\n\r.x\r\n.\r\n".to_vec()
        );
        let mut encoder = BodyEncoder::message();
        assert_eq!(encode_all(&mut encoder, b"", 1), b".\r\n".to_vec());
    }

    #[test]
    fn top_sends_the_header_the_blank_line_and_n_body_lines() {
        let input = b"A: 1\nB: 2\n\nline1\n.line2\nline3\n";
        let mut top0 = BodyEncoder::top(0);
        assert_eq!(
            encode_all(&mut top0, input, 4),
            b"A: 1\r\nB: 2\r\n\r\n.\r\n".to_vec()
        );
        assert!(top0.is_done());
        let mut top2 = BodyEncoder::top(2);
        assert_eq!(
            encode_all(&mut top2, input, 1),
            b"A: 1\r\nB: 2\r\n\r\nline1\r\n..line2\r\n.\r\n".to_vec()
        );
        let mut top9 = BodyEncoder::top(9);
        assert_eq!(
            encode_all(&mut top9, input, 5),
            b"A: 1\r\nB: 2\r\n\r\nline1\r\n..line2\r\nline3\r\n.\r\n".to_vec()
        );
        // A message without a body: the whole header.
        let mut headers_only = BodyEncoder::top(0);
        assert_eq!(
            encode_all(&mut headers_only, b"A: 1\r\nB: 2", 3),
            b"A: 1\r\nB: 2\r\n.\r\n".to_vec()
        );
    }
}
