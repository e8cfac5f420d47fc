//! Mailbox names as the session sees them: UTF-8, with `INBOX` in one
//! spelling; and mailbox attributes (LIST, CREATE USE).

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::mutf7::mutf7_decode;

/// A mailbox name in UTF-8. The case-insensitive name `INBOX` is always
/// spelled `INBOX`; other names keep their case (hierarchy below INBOX, such
/// as `inbox/sub`, is left alone: that is the store's business).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mailbox(String);

impl Mailbox {
    pub fn new(name: impl Into<String>) -> Mailbox {
        let name = name.into();
        Mailbox(normalize_inbox(&name).map(str::to_owned).unwrap_or(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn is_inbox(&self) -> bool {
        self.0 == "INBOX"
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Mailbox {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `Some("INBOX")` when `name` is INBOX in any case, else `None`.
pub fn normalize_inbox(name: &str) -> Option<&'static str> {
    name.eq_ignore_ascii_case("INBOX").then_some("INBOX")
}

/// The UTF-8 form of a name from the wire. With `utf8` (after
/// `ENABLE IMAP4rev2` or `UTF8=ACCEPT`) names are UTF-8 as sent. Otherwise a
/// 7-bit name is modified UTF-7 and decoded; a name with 8-bit bytes is
/// taken as raw UTF-8 (some clients send that without enabling anything).
pub fn decode_mailbox_name(raw: &[u8], utf8: bool) -> Result<String, ParseError> {
    if utf8 || !raw.is_ascii() {
        return String::from_utf8(raw.to_vec()).map_err(|_| {
            ParseError::new(
                ParseErrorKind::BadMailboxName,
                "Mailbox name is not valid UTF-8.",
            )
        });
    }
    mutf7_decode(raw).map_err(|_| {
        ParseError::new(
            ParseErrorKind::BadMailboxName,
            "Mailbox name is not valid modified UTF-7.",
        )
    })
}

/// A mailbox attribute (RFC 9051 7.3.1, RFC 5258, RFC 6154 SPECIAL-USE),
/// written with its backslash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MailboxAttr {
    NoInferiors,
    NoSelect,
    Marked,
    Unmarked,
    NonExistent,
    Subscribed,
    Remote,
    HasChildren,
    HasNoChildren,
    All,
    Archive,
    Drafts,
    Flagged,
    Junk,
    Sent,
    Trash,
    /// Any other `\Name`, without its backslash.
    Other(String),
}

impl MailboxAttr {
    /// From `\Name` (or `Name`), case-insensitive.
    pub fn parse(s: &str) -> MailboxAttr {
        let name = s.strip_prefix('\\').unwrap_or(s);
        match name.to_ascii_lowercase().as_str() {
            "noinferiors" => MailboxAttr::NoInferiors,
            "noselect" => MailboxAttr::NoSelect,
            "marked" => MailboxAttr::Marked,
            "unmarked" => MailboxAttr::Unmarked,
            "nonexistent" => MailboxAttr::NonExistent,
            "subscribed" => MailboxAttr::Subscribed,
            "remote" => MailboxAttr::Remote,
            "haschildren" => MailboxAttr::HasChildren,
            "hasnochildren" => MailboxAttr::HasNoChildren,
            "all" => MailboxAttr::All,
            "archive" => MailboxAttr::Archive,
            "drafts" => MailboxAttr::Drafts,
            "flagged" => MailboxAttr::Flagged,
            "junk" => MailboxAttr::Junk,
            "sent" => MailboxAttr::Sent,
            "trash" => MailboxAttr::Trash,
            _ => MailboxAttr::Other(name.to_owned()),
        }
    }

    /// Whether this is one of the RFC 6154 special-use attributes.
    pub fn is_special_use(&self) -> bool {
        matches!(
            self,
            MailboxAttr::All
                | MailboxAttr::Archive
                | MailboxAttr::Drafts
                | MailboxAttr::Flagged
                | MailboxAttr::Junk
                | MailboxAttr::Sent
                | MailboxAttr::Trash
        )
    }
}

impl fmt::Display for MailboxAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            MailboxAttr::NoInferiors => "Noinferiors",
            MailboxAttr::NoSelect => "Noselect",
            MailboxAttr::Marked => "Marked",
            MailboxAttr::Unmarked => "Unmarked",
            MailboxAttr::NonExistent => "NonExistent",
            MailboxAttr::Subscribed => "Subscribed",
            MailboxAttr::Remote => "Remote",
            MailboxAttr::HasChildren => "HasChildren",
            MailboxAttr::HasNoChildren => "HasNoChildren",
            MailboxAttr::All => "All",
            MailboxAttr::Archive => "Archive",
            MailboxAttr::Drafts => "Drafts",
            MailboxAttr::Flagged => "Flagged",
            MailboxAttr::Junk => "Junk",
            MailboxAttr::Sent => "Sent",
            MailboxAttr::Trash => "Trash",
            MailboxAttr::Other(name) => name,
        };
        write!(f, "\\{name}")
    }
}
