//! The header fields mail clients list messages with (`BODY.PEEK[HEADER.
//! FIELDS (From To Subject Date Message-ID References)]`), kept apart at
//! delivery so that FETCH can answer them without reading the message.
//!
//! What is kept is the fields' own lines, byte for byte as FETCH sends them
//! (CRLF form, NULs as 0x80), in header order: read back with the same
//! header parser, they give exactly what [`crate::section()`] gives from the
//! whole message, for any list of names among [`CACHED_FIELDS`].

use crate::crlf::without_nuls;
use crate::header::{Field, HeaderBlock, parse_header_block};

/// Fields kept: those Thunderbird, Apple Mail, Outlook, mutt, K-9 and
/// Roundcube ask for in their message lists.
pub const CACHED_FIELDS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "references",
    "in-reply-to",
    "reply-to",
    "sender",
    "content-type",
    "content-description",
    "priority",
    "x-priority",
    "importance",
    "newsgroups",
    "list-id",
    "list-post",
    "list-subscribe",
    "list-unsubscribe",
    "x-label",
    "x-original-to",
    "lines",
];

fn cached(name: &str) -> bool {
    CACHED_FIELDS.iter().any(|c| c.eq_ignore_ascii_case(name))
}

fn is_cached(field: &Field) -> bool {
    CACHED_FIELDS.iter().any(|c| field.is(c))
}

/// The lines of `block`'s fields named in `wanted`, each ending with a
/// line break, then an empty line: HEADER.FIELDS as Dovecot sends it.
fn field_lines(data: &[u8], block: &HeaderBlock, wanted: impl Fn(&Field) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in &block.fields {
        if wanted(f) {
            out.extend_from_slice(&data[f.start..f.end]);
            if !out.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out
}

/// What to keep of a message header (`data` in CRLF form, the header
/// block from its start to `body_start`); `None` when its first line
/// starts with whitespace, which would read differently once moved.
pub(crate) fn keep(data: &[u8], header_start: usize, body_start: usize) -> Option<Vec<u8>> {
    let block = parse_header_block(&data[..body_start], header_start, |_| false);
    let kept = field_lines(data, &block, is_cached);
    if kept.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        return None;
    }
    Some(without_nuls(kept))
}

/// `HEADER.FIELDS (names)` of the top-level message from what [`keep`]
/// kept, or `None` when some name is not among [`CACHED_FIELDS`].
pub fn cached_header_fields(kept: &[u8], names: &[String]) -> Option<Vec<u8>> {
    if !names.iter().all(|n| cached(n)) {
        return None;
    }
    let block = parse_header_block(kept, 0, |_| false);
    let mut out = field_lines(kept, &block, |f| names.iter().any(|n| f.is(n)));
    out.extend_from_slice(b"\r\n");
    Some(out)
}
