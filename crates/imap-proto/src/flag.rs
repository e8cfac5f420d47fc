//! Message flags: the system flags and keywords.

use std::fmt;

use crate::error::ParseError;
use crate::lexer::{Cursor, PResult};

/// A message flag. Keywords keep the case they were sent in; IMAP compares
/// them case-insensitively, which is the store's job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    Answered,
    Flagged,
    Deleted,
    Seen,
    Draft,
    /// A keyword such as `$Forwarded` or `NonJunk` (no backslash).
    Keyword(String),
    /// Any other `\Name` (for example `\Recent` in a FETCH response), without
    /// its backslash.
    Extension(String),
}

impl Flag {
    /// From its wire form (`\Seen`, `$Junk`); `None` when it is not an atom.
    pub fn parse(s: &str) -> Option<Flag> {
        let (system, name) = match s.strip_prefix('\\') {
            Some(name) => (true, name),
            None => (false, s),
        };
        if name.is_empty() || !name.bytes().all(crate::lexer::is_atom_char) {
            return None;
        }
        if !system {
            return Some(Flag::Keyword(name.to_owned()));
        }
        Some(match name.to_ascii_lowercase().as_str() {
            "answered" => Flag::Answered,
            "flagged" => Flag::Flagged,
            "deleted" => Flag::Deleted,
            "seen" => Flag::Seen,
            "draft" => Flag::Draft,
            _ => Flag::Extension(name.to_owned()),
        })
    }

    pub(crate) fn parse_wire(c: &mut Cursor<'_>) -> PResult<Flag> {
        let system = c.eat(b'\\');
        let atom = c.atom().map_err(|_| ParseError::syntax("bad flag"))?;
        let text = if system {
            format!("\\{atom}")
        } else {
            atom.to_owned()
        };
        Flag::parse(&text).ok_or_else(|| ParseError::syntax("bad flag"))
    }

    /// `flag-list`: `(` [flag *(SP flag)] `)`.
    pub(crate) fn parse_list(c: &mut Cursor<'_>) -> PResult<Vec<Flag>> {
        let mut flags = Vec::new();
        c.paren_list(true, |c| {
            flags.push(Flag::parse_wire(c)?);
            Ok(())
        })?;
        Ok(flags)
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Answered => f.write_str("\\Answered"),
            Flag::Flagged => f.write_str("\\Flagged"),
            Flag::Deleted => f.write_str("\\Deleted"),
            Flag::Seen => f.write_str("\\Seen"),
            Flag::Draft => f.write_str("\\Draft"),
            Flag::Keyword(k) => f.write_str(k),
            Flag::Extension(e) => write!(f, "\\{e}"),
        }
    }
}
