//! Everything an IMAP server needs to know about the content of one
//! message, computed from its bytes, with no I/O.
//!
//! The input is the message as stored (Maildir keeps LF line endings, as
//! Dovecot does); every size, offset, line count and section is computed
//! on its CRLF form ([`imap_form`]: a file stored as received, with its
//! CRLFs, is its own CRLF form), as IMAP defines them.
//!
//! # What it computes
//!
//! - [`analyse`] → [`Analysis`]: RFC822.SIZE, ENVELOPE, BODY and
//!   BODYSTRUCTURE already in IMAP syntax, the SORT/THREAD keys, and a
//!   compact one-line string for a cache ([`Analysis::to_cache`]), so FETCH
//!   and SORT need not read the message again; the RFC 8970 PREVIEW text
//!   ([`Analysis::preview`]) is part of it.
//! - [`section()`]: `BODY[...]` data (HEADER, TEXT, MIME, HEADER.FIELDS[.NOT],
//!   nested part numbers), with [`partial`] for `<offset.length>`.
//! - [`binary_section`], [`binary_size`]: `BINARY[part]` and `BINARY.SIZE`
//!   (RFC 3516), the content with its Content-Transfer-Encoding undone.
//! - SEARCH: [`header_contains`], [`body_contains`], [`text_contains`] on
//!   decoded text, [`sent_date`]; [`header()`], [`header_end`] and
//!   [`decode_header_value`] for the session's own needs; [`indexed_text`]
//!   computes once the folded text they compare, for an index.
//! - SORT and THREAD (RFC 5256): [`sort_keys`], [`base_subject`],
//!   [`thread_orderedsubject`], [`thread_references`], [`format_threads`].
//!
//! # Dovecot compatibility
//!
//! MIME structure, ENVELOPE, BODY/BODYSTRUCTURE, sections, BINARY, SORT
//! and THREAD follow Dovecot 2.3 rule for rule, and were checked byte for
//! byte against Dovecot 2.3.19 on real and mutated messages, so clients see
//! the same answers after a migration: types, parameters and values as
//! written in the message, `"text" "plain" ("charset" "us-ascii")` and
//! `"7bit"` as defaults, Content-Type honoured with MIME-Version or
//! Content-Type present (always inside a multipart), RFC 2231 continuations
//! merged but not decoded, broken addresses filled with `MISSING_MAILBOX`,
//! `MISSING_DOMAIN` or `SYNTAX_ERROR`, subjects and display names cleaned
//! of extra whitespace, strings quoted or sent as literals as Dovecot does
//! (IMAP4rev1 rules: 8-bit text goes in literals).
//!
//! Where we knowingly differ:
//!
//! - header bytes that are not UTF-8 are read as Windows-1252 and sent as
//!   UTF-8 (Dovecot sends the raw bytes), since the strings are Rust
//!   strings;
//! - BINARY decodes malformed quoted-printable leniently where Dovecot
//!   answers `NO [PARSE]`;
//! - HEADER.FIELDS of an encapsulated message whose header was cut short by
//!   a boundary is just the empty line (Dovecot's answer there depends on
//!   bytes past the part).
//!
//! Decoding (RFC 2047 encoded-words, charsets, dates) is mail-parser's.
//! The MIME structure is parsed here rather than by mail-parser because
//! IMAP needs Dovecot's exact boundary rules and byte ranges.
//!
//! # Broken input
//!
//! Nothing here panics or fails on bad input; every function gives the
//! best-effort answer Dovecot would:
//!
//! - a missing closing boundary ends the open parts at the end of the
//!   message, and a missing inner close delimiter is healed by the outer
//!   boundary (boundaries match by prefix at any nesting level);
//! - a multipart whose boundary never appears has one empty text/plain
//!   part in BODYSTRUCTURE; a part typed multipart that is not one is
//!   application/octet-stream;
//! - a header without an empty line ends at the end of the message; lines
//!   without a colon are kept in the header but are not fields;
//! - unparsable Content-Type parameters are skipped, an unparsable
//!   Content-Transfer-Encoding is reported as "7bit";
//! - more than 100 levels of nesting or 10 000 parts are not split further;
//! - NULs in header values become U+FFFD, NULs in `BODY[]` data 0x80;
//! - base64 and quoted-printable are decoded leniently.
//!
//! What it refuses: BINARY of a part whose Content-Transfer-Encoding is
//! unknown ([`BinaryError::UnknownEncoding`], answered `NO [UNKNOWN-CTE]`).

mod address;
mod analysis;
mod binary;
mod bodystructure;
mod boundary;
mod cache;
mod cached_header;
mod crlf;
mod date;
mod envelope;
mod header;
mod indexed;
mod mime;
mod msgid;
mod objectid;
mod params;
mod part;
mod part_data;
mod preview;
mod quote;
mod rfc822;
mod search;
mod section;
mod sexpr;
mod sort;
mod source;
mod subject;
mod text;
mod thread;

pub use analysis::{Analysis, analyse};
pub use binary::{BinaryError, binary_section, binary_size};
pub use cached_header::{CACHED_FIELDS, cached_header_fields};
pub use crlf::{crlf_size, imap_form, imap_size, to_crlf};
pub use indexed::{BODY_SEPARATOR, IndexedField, IndexedText, LIST_SEPARATOR, indexed_text};
pub use objectid::{email_id, thread_id};
pub use preview::PREVIEW_MAX_CHARS;
pub use search::{
    address_contains, body_contains, header, header_contains, header_end, sent_date, sent_day,
    text_contains,
};
pub use section::{Section, SectionText, partial, section};
pub use sort::{SortKeys, sort_keys};
pub use source::MessageSource;
pub use subject::base_subject;
pub use text::decode_header_value;
pub use thread::{
    ThreadInput, ThreadNode, format_threads, thread_orderedsubject, thread_references,
};
