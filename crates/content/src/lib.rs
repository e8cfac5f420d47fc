//! One bounded analysis of a message's bytes, read by the spam scorer, the
//! Bayes tokenizer and the attachment rules alike, so each of them sees
//! the same decoded message and none parses it again.
//!
//! [`analyze`] takes the raw message and [`Limits`] and gives a
//! [`Content`]:
//!
//! - the top-level header fields in order, values decoded (RFC 2047), the
//!   raw header, the From address and the Date as a timestamp;
//! - the text: text/plain parts and the visible text of HTML parts (tags,
//!   scripts and styles removed, character references decoded), transfer
//!   encodings and charsets undone, zero-width characters dropped; the
//!   hidden text of the HTML apart;
//! - HTML facts: HTML-only, links (the href's host and the host the
//!   link's text names), hidden text, images and "mostly images";
//! - the hosts of the URLs in text and HTML, and the domains of the
//!   e-mail addresses in the text;
//! - attachments: decoded name (RFC 2231/2047), declared type, type
//!   sniffed from the magic bytes, size, the entries of zip archives (one
//!   nested level by default), encryption;
//! - encoding facts: text in base64 or quoted-printable, broken base64 or
//!   quoted-printable, unknown charsets and transfer encodings, 8-bit text
//!   without a charset;
//! - counts (parts, letters, capitals) and the limits the message reached.
//!
//! # What it promises
//!
//! It is pure (no I/O, no async), never fails and never panics, whatever
//! the bytes. Its time and memory are bounded by [`Limits`]: only the
//! first [`Limits::max_scan_bytes`] are parsed (4 MiB by default, as
//! SpamAssassin and Rspamd scan), at most [`Limits::max_parts`] MIME parts
//! and [`Limits::max_depth`] levels are looked at, text and lists are
//! capped, and archives are read from their central directory, inflating
//! at most [`Limits::max_inflate_bytes`] for the whole message (nested
//! archives and the first bytes of entries). Each limit reached is set in
//! [`Content::limits_hit`] so a scorer can say so.
//!
//! The MIME tree is split here (boundaries matched by prefix, as Dovecot
//! does), so the limits bound the work itself; each part's header (RFC
//! 2231 parameters, RFC 2047 words) and its charset are mail-parser's;
//! top-level header values are decoded as IMAP decodes them
//! ([`havre_message::decode_header_value`]). Transfer encodings are undone
//! leniently, as mail clients do, and what had to be forgiven is counted
//! in [`EncodingFacts`].
//!
//! # What it does not do
//!
//! It looks at what a message says, not at what it means: no scores, no
//! verdicts, no DNS (the scorer looks the URL hosts up), no archive
//! formats but zip (rar, 7z, gzip... are recognised, not opened), no
//! decryption.

mod analyze;
mod archive;
mod content;
mod decode;
mod entities;
mod headers;
mod html;
mod limits;
mod multipart;
mod sniff;
mod text_sink;
mod urls;
mod walk;

pub use analyze::analyze;
pub use content::{
    Archive, ArchiveEntry, Attachment, Content, EncodingFacts, HeaderField, HtmlFacts, Link,
    TextKind, TextPart, extension,
};
pub use limits::{Limits, LimitsHit};
pub use sniff::{FileType, sniff};
