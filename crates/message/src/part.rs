//! The parsed MIME tree kept in an [`crate::Analysis`]: byte ranges on the
//! CRLF form, and the header data BODYSTRUCTURE and ENVELOPE are made of.

/// One MIME part. Ranges are offsets into the CRLF form of the message:
/// `header_start..body_start` is the header block (its ending empty line
/// included), `body_start..end` the body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    pub header_start: usize,
    pub body_start: usize,
    pub end: usize,
    /// Lines of the body (LF count), for text/* and message/rfc822.
    pub lines: u64,
    pub data: MimeData,
    /// For the message itself and for the message inside a message/rfc822.
    pub envelope: Option<Envelope>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Leaf,
    /// A multipart; no children when the boundary never showed up.
    Multipart(Vec<Part>),
    /// A message/rfc822: the encapsulated message.
    Message(Box<Part>),
}

impl Part {
    pub(crate) fn body_size(&self) -> u64 {
        (self.end - self.body_start) as u64
    }
}

/// The Content-* data of a part, as Dovecot's `message-part-data.c` keeps
/// it: values as written (case kept), the first of each header counting.
/// Everything is absent for a part that is not MIME (no MIME-Version and no
/// Content-Type at the top, or in an encapsulated message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MimeData {
    /// Type and subtype; the subtype is "" when the header is broken.
    pub content_type: Option<(String, String)>,
    pub params: Vec<(String, String)>,
    pub id: Option<String>,
    pub description: Option<String>,
    pub transfer_encoding: Option<String>,
    pub md5: Option<String>,
    pub disposition: Option<String>,
    pub disposition_params: Vec<(String, String)>,
    pub language: Option<Vec<String>>,
    pub location: Option<String>,
}

impl MimeData {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// ENVELOPE fields: raw header values (the last of each header counting,
/// addresses of repeated headers added up, as in Dovecot), addresses
/// parsed. An empty address list is NIL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub date: Option<String>,
    pub subject: Option<String>,
    pub from: Vec<Addr>,
    pub sender: Vec<Addr>,
    pub reply_to: Vec<Addr>,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    pub bcc: Vec<Addr>,
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
}

/// An ENVELOPE address (name adl mailbox host); a group start has only the
/// mailbox (the group name), a group end has nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Addr {
    pub name: Option<String>,
    pub route: Option<String>,
    pub mailbox: Option<String>,
    pub domain: Option<String>,
}
