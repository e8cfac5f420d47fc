//! SMTP/LMTP wire format: parsing command lines and formatting replies.
//!
//! Command parsing is smtp-proto's (Stalwart's production parser); this module
//! only bounds its input to one line and owns the result, so the session never
//! sees borrowed network bytes. It is the target of the `smtp_command` fuzzer.

use std::fmt::Write;

pub use smtp_proto::Request;

/// A parsed command, owning its strings.
pub type Command = Request<String>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("command not recognized")]
    Unknown,
    #[error("syntax: {0}")]
    Syntax(&'static str),
    #[error("bad sender address syntax")]
    BadSender,
    #[error("bad recipient address syntax")]
    BadRecipient,
    #[error("invalid parameter {0}")]
    InvalidParameter(String),
    #[error("unsupported parameter {0}")]
    UnsupportedParameter(String),
}

impl CommandError {
    /// The reply Postfix would give.
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::Unknown => Reply::new(500, "5.5.2", "Error: command not recognized"),
            CommandError::Syntax(syntax) => Reply::new(501, "5.5.4", format!("Syntax: {syntax}")),
            CommandError::BadSender => Reply::new(501, "5.1.7", "Bad sender address syntax"),
            CommandError::BadRecipient => Reply::new(501, "5.1.3", "Bad recipient address syntax"),
            CommandError::InvalidParameter(p) => {
                Reply::new(501, "5.5.4", format!("Bad {p} parameter syntax"))
            }
            CommandError::UnsupportedParameter(p) => {
                Reply::new(555, "5.5.4", format!("Unsupported option: {p}"))
            }
        }
    }
}

/// Parses one command line (with or without its CRLF).
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    // smtp-proto wants the terminating LF to know the line is complete.
    let mut owned;
    let line = if line.ends_with(b"\n") {
        line
    } else {
        owned = line.to_vec();
        owned.extend_from_slice(b"\r\n");
        &owned[..]
    };
    if let Some(rcpt) = bare_postmaster(line) {
        return Ok(rcpt);
    }
    match Request::parse(&mut line.iter()) {
        Ok(request) => Ok(request.into_owned()),
        Err(err) => Err(match err {
            smtp_proto::Error::UnknownCommand => CommandError::Unknown,
            smtp_proto::Error::SyntaxError { syntax } => CommandError::Syntax(syntax),
            smtp_proto::Error::InvalidSenderAddress => CommandError::BadSender,
            smtp_proto::Error::InvalidRecipientAddress => CommandError::BadRecipient,
            smtp_proto::Error::InvalidParameter { param } => {
                CommandError::InvalidParameter(param.to_string())
            }
            smtp_proto::Error::UnsupportedParameter { param } => {
                CommandError::UnsupportedParameter(param)
            }
            // A complete line that still "needs more data" is malformed.
            _ => CommandError::Unknown,
        }),
    }
}

/// `RCPT TO:<Postmaster>` (any case, no domain, no parameters), which RFC 5321
/// 4.5.1 says every server must accept; smtp-proto's parser wants a domain.
fn bare_postmaster(line: &[u8]) -> Option<Command> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (verb, rest) = line.split_at_checked(8)?;
    if !verb.eq_ignore_ascii_case(b"RCPT TO:") {
        return None;
    }
    let rest = rest.trim_ascii();
    if !rest.eq_ignore_ascii_case(b"<postmaster>") {
        return None;
    }
    Some(Request::Rcpt {
        to: smtp_proto::RcptTo {
            address: "postmaster".into(),
            orcpt: None,
            rrvs: 0,
            flags: 0,
        },
    })
}

/// For local submission (Unix programs write `root`, not `root@domain`): a
/// `MAIL FROM:<name>` or `RCPT TO:<name>` line whose path has no `@`, with
/// the path replaced by `qualify(name)`; `None` for any other line, which
/// is parsed as it is. The null sender `<>` is left alone.
pub fn qualify_path(line: &[u8], qualify: impl Fn(&str) -> String) -> Option<Vec<u8>> {
    let (verb_len, _) = [&b"MAIL FROM:"[..], b"RCPT TO:"]
        .iter()
        .map(|v| (v.len(), v))
        .find(|(n, v)| line.get(..*n).is_some_and(|p| p.eq_ignore_ascii_case(v)))?;
    let (verb, rest) = line.split_at(verb_len);
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    let rest = &rest[spaces..];
    let (path, after) = if let Some(inner) = rest.strip_prefix(b"<") {
        let close = inner.iter().position(|&b| b == b'>')?;
        (&inner[..close], &inner[close + 1..])
    } else {
        let end = rest
            .iter()
            .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
            .unwrap_or(rest.len());
        (&rest[..end], &rest[end..])
    };
    let name = std::str::from_utf8(path).ok()?;
    if name.is_empty() || name.contains('@') || name.contains(|c: char| c.is_whitespace()) {
        return None;
    }
    let mut out = verb.to_vec();
    out.push(b'<');
    out.extend_from_slice(qualify(name).as_bytes());
    out.push(b'>');
    out.extend_from_slice(after);
    Some(out)
}

/// One reply: code, enhanced status code (RFC 3463) and text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub status: &'static str,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            status,
            lines: vec![text.into()],
        }
    }

    /// A reply without an enhanced status code (greeting, EHLO).
    pub fn plain(code: u16, lines: Vec<String>) -> Reply {
        Reply {
            code,
            status: "",
            lines,
        }
    }

    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// The first line without the code, for logs.
    pub fn text(&self) -> String {
        let first = self.lines.first().map(String::as_str).unwrap_or("");
        if self.status.is_empty() {
            format!("{} {first}", self.code)
        } else {
            format!("{} {} {first}", self.code, self.status)
        }
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut text = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            if self.status.is_empty() {
                let _ = write!(text, "{}{sep}{line}\r\n", self.code);
            } else {
                let _ = write!(text, "{}{sep}{} {line}\r\n", self.code, self.status);
            }
        }
        if self.lines.is_empty() {
            let _ = write!(text, "{}\r\n", self.code);
        }
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod qualify_tests {
    use super::*;

    fn q(line: &str) -> Option<String> {
        qualify_path(line.as_bytes(), |n| format!("{n}@example.org"))
            .map(|l| String::from_utf8(l).unwrap())
    }

    #[test]
    fn unqualified_paths_are_completed_and_parameters_kept() {
        assert_eq!(
            q("MAIL FROM:<alice> BODY=8BITMIME\r\n").as_deref(),
            Some("MAIL FROM:<alice@example.org> BODY=8BITMIME\r\n")
        );
        assert_eq!(
            q("rcpt to: root\r\n").as_deref(),
            Some("rcpt to:<root@example.org>\r\n")
        );
        assert_eq!(q("MAIL FROM:<>\r\n"), None, "the null sender stays");
        assert_eq!(q("RCPT TO:<bob@x.test>\r\n"), None);
        assert_eq!(q("DATA\r\n"), None);
        assert_eq!(q("RCPT TO:<unclosed\r\n"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_from_with_size_and_body_parameters() {
        let Ok(Request::Mail { from }) =
            parse_command(b"MAIL FROM:<bob@remote.test> SIZE=1000 BODY=8BITMIME\r\n")
        else {
            panic!()
        };
        assert_eq!(from.address, "bob@remote.test");
        assert_eq!(from.size, 1000);
    }

    #[test]
    fn a_source_route_is_stripped_to_the_final_address() {
        let Ok(Request::Rcpt { to }) = parse_command(b"RCPT TO:<@relay.test:victim@evil.test>")
        else {
            panic!()
        };
        assert_eq!(to.address, "victim@evil.test");
    }

    #[test]
    fn a_bare_postmaster_is_a_recipient_without_a_domain() {
        for line in [
            &b"RCPT TO:<Postmaster>\r\n"[..],
            b"rcpt to:<POSTMASTER>",
            b"RCPT TO: <postmaster>\r\n",
        ] {
            let Ok(Request::Rcpt { to }) = parse_command(line) else {
                panic!("{line:?}")
            };
            assert_eq!(to.address, "postmaster");
        }
        let Ok(Request::Rcpt { to }) = parse_command(b"RCPT TO:<postmaster@example.test>") else {
            panic!()
        };
        assert_eq!(to.address, "postmaster@example.test");
    }

    #[test]
    fn garbage_is_an_unknown_command_not_a_panic() {
        assert_eq!(parse_command(b"\0\0\xff\r\n"), Err(CommandError::Unknown));
        assert!(parse_command(b"").is_err());
        assert!(parse_command(b"MAIL FROM:<a@b").is_err());
    }

    #[test]
    fn multi_line_replies_use_dashes_until_the_last_line() {
        let mut out = Vec::new();
        Reply::plain(
            250,
            vec!["mx.test".into(), "PIPELINING".into(), "CHUNKING".into()],
        )
        .write_to(&mut out);
        assert_eq!(out, b"250-mx.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
        out.clear();
        Reply::new(550, "5.1.1", "<x@y>: User unknown").write_to(&mut out);
        assert_eq!(out, b"550 5.1.1 <x@y>: User unknown\r\n");
    }
}
