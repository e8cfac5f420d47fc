//! [`Analysis`]: what FETCH ENVELOPE / BODY / BODYSTRUCTURE / RFC822.SIZE
//! and SORT / THREAD need, computed once and cacheable as a string.

use crate::bodystructure::write_part;
use crate::cache;
use crate::crlf::imap_form;
use crate::envelope::write_envelope;
use crate::header::message_header;
use crate::mime;
use crate::part::Part;
use crate::preview::preview;
use crate::sort::{SortKeys, keys_from_fields};

/// The analysis of one message; see [`analyse`].
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub(crate) size: u64,
    pub(crate) root: Part,
    pub(crate) sort: SortKeys,
    /// RFC 8970 PREVIEW text, computed with the rest so it is cached too.
    pub(crate) preview: String,
}

/// Parses a message (as stored: LF or CRLF line endings). Never fails:
/// broken MIME gives the structure Dovecot would report.
pub fn analyse(raw: &[u8]) -> Analysis {
    let crlf = imap_form(raw);
    let root = mime::parse(&crlf);
    let sort = keys_from_fields(&message_header(&crlf).fields);
    let preview = preview(&crlf, &root);
    Analysis {
        size: crlf.len() as u64,
        root,
        sort,
        preview,
    }
}

impl Analysis {
    /// RFC822.SIZE: octets of the CRLF form.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// ENVELOPE value, parentheses included:
    /// `("date" "subject" ((from)) ((sender)) ((reply-to)) ((to)) ((cc)) ((bcc)) "in-reply-to" "message-id")`.
    pub fn envelope(&self) -> String {
        let mut out = String::from("(");
        write_envelope(&mut out, self.root.envelope.as_ref());
        out.push(')');
        out
    }

    /// BODYSTRUCTURE (`extended`) or BODY value, parentheses included.
    pub fn bodystructure(&self, extended: bool) -> String {
        let mut out = String::from("(");
        write_part(&mut out, &self.root, extended);
        out.push(')');
        out
    }

    /// SORT / THREAD keys.
    pub fn sort_keys(&self) -> &SortKeys {
        &self.sort
    }

    /// RFC 8970 PREVIEW: plain text on one line, at most
    /// [`crate::PREVIEW_MAX_CHARS`] characters; empty when the message has
    /// no text to show.
    pub fn preview(&self) -> &str {
        &self.preview
    }

    /// Sent date (Date: header) in Unix seconds, if it parses.
    pub fn sent_date(&self) -> Option<i64> {
        self.sort.date
    }

    /// A compact one-line string to store; [`Analysis::from_cache`] reads it.
    pub fn to_cache(&self) -> String {
        cache::to_cache(self)
    }

    /// Reads [`Analysis::to_cache`] output; `None` when it is not one
    /// (corrupt, or from an incompatible version: analyse again then).
    pub fn from_cache(text: &str) -> Option<Analysis> {
        cache::from_cache(text)
    }
}
