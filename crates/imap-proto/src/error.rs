//! Why a command was not accepted, in words a client can be sent.

use std::borrow::Cow;

/// What kind of problem a [`ParseError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The tag could not be read: answer with an untagged `* BAD`.
    NoTag,
    /// The tag is fine but the command name is not one we know.
    UnknownCommand,
    /// The command is known but its arguments are malformed.
    Syntax,
    /// Parentheses, `NOT` or `OR` nested deeper than [`crate::MAX_DEPTH`].
    TooDeep,
    /// The command is well formed but a mailbox name cannot be decoded (not
    /// modified UTF-7, not UTF-8): a name the server refuses, so the answer
    /// is `NO`, as Dovecot's, not `BAD`.
    BadMailboxName,
}

/// A command that could not be parsed. The message never contains CR, LF or
/// bytes from the client, so it can go verbatim after `BAD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    tag: Option<String>,
    kind: ParseErrorKind,
    message: Cow<'static, str>,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, message: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError {
            tag: None,
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn syntax(message: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError::new(ParseErrorKind::Syntax, message)
    }

    pub(crate) fn with_tag(mut self, tag: &str) -> ParseError {
        if self.kind != ParseErrorKind::NoTag {
            self.tag = Some(tag.to_owned());
        }
        self
    }

    /// The command's tag, when it could be read.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// Answered `NO` (the command was understood), not `BAD`.
    pub fn is_refusal(&self) -> bool {
        self.kind == ParseErrorKind::BadMailboxName && self.tag.is_some()
    }

    /// Text for `TAG BAD <message>`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The whole response line: `TAG BAD message\r\n`, or `* BAD message\r\n`
    /// when there is no tag; `TAG NO message\r\n` for a mailbox name.
    pub fn response(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.message.len() + 16);
        out.extend_from_slice(self.tag.as_deref().unwrap_or("*").as_bytes());
        out.extend_from_slice(if self.is_refusal() { b" NO " } else { b" BAD " });
        out.extend_from_slice(self.message.as_bytes());
        out.extend_from_slice(b"\r\n");
        out
    }
}
