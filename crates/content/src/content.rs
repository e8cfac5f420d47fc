//! [`Content`]: what [`crate::analyze`] found in one message.

use std::ops::Range;

use crate::limits::LimitsHit;
use crate::sniff::FileType;

/// The analysis of one message. Everything is decoded: header values
/// (RFC 2047), text (transfer encodings and charsets undone, HTML rendered
/// to its visible text), attachment names (RFC 2231 and 2047).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Content {
    /// Size of the whole message in bytes (also what was not scanned).
    pub size: usize,
    /// The top-level header fields in message order, values decoded.
    pub headers: Vec<HeaderField>,
    /// The `From:` address (addr-spec) when it parses.
    pub from_address: Option<String>,
    /// The `From:` display name, decoded, when there is one.
    pub from_name: Option<String>,
    /// The `Date:` as Unix seconds when it parses as an RFC 5322 date.
    pub date_timestamp: Option<i64>,
    /// The decoded text of the message: its text/plain parts and the
    /// visible text of its HTML parts, each part on its own lines, at most
    /// [`crate::Limits::max_text_bytes`]. Attached messages are included;
    /// attached text files are not.
    pub text: String,
    /// Where each part's text is in [`Content::text`].
    pub text_parts: Vec<TextPart>,
    /// Text of HTML parts that a reader does not see (display:none,
    /// visibility:hidden, font-size 0, text the colour of its background);
    /// bounded like [`Content::text`].
    pub hidden_text: String,
    /// Facts about the HTML parts.
    pub html: HtmlFacts,
    /// Hosts of the URLs in the text and the HTML (links, images), lower
    /// case, IDNA (punycode) for non-ASCII names, each once, in the order
    /// found.
    pub url_hosts: Vec<String>,
    /// Domains of the e-mail addresses written in the text, lower case,
    /// each once.
    pub email_domains: Vec<String>,
    /// The attachments (and inline files), in message order.
    pub attachments: Vec<Attachment>,
    /// Transfer-encoding and charset facts.
    pub encoding: EncodingFacts,
    /// MIME parts looked at, containers included.
    pub parts: usize,
    /// Letters in [`Content::text`].
    pub letters: usize,
    /// Upper-case letters in [`Content::text`].
    pub capitals: usize,
    /// Characters in [`Content::text`].
    pub text_chars: usize,
    /// The limits this message reached.
    pub limits_hit: LimitsHit,
    pub(crate) raw_header: Vec<u8>,
}

/// One header field: its name as written and its value unfolded and
/// decoded (RFC 2047), trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    pub name: String,
    pub value: String,
    /// The raw value (after the colon, folding kept) in
    /// [`Content::raw_header`].
    pub raw: Range<usize>,
}

/// The kind of a text part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    Plain,
    Html,
}

/// A text part of the message and where its text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPart {
    pub kind: TextKind,
    /// Byte range of its text in [`Content::text`].
    pub range: Range<usize>,
    /// Part of a multipart/alternative.
    pub in_alternative: bool,
}

/// What the HTML parts show and hide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HtmlFacts {
    /// HTML text parts.
    pub parts: usize,
    /// The message has HTML text but no text/plain one.
    pub html_only: bool,
    /// The links (`<a href>`), at most [`crate::Limits::max_urls`].
    pub links: Vec<Link>,
    /// `<img>` tags.
    pub images: usize,
    /// Visible characters of the HTML text (whitespace excluded).
    pub visible_chars: usize,
    /// Hidden characters (whitespace excluded), see
    /// [`Content::hidden_text`].
    pub hidden_chars: usize,
    /// Images and almost no text besides (fewer than 200 visible
    /// characters): the "image spam" shape.
    pub mostly_images: bool,
}

/// A link of an HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Host of the href (lower case, IDNA), if it is a URL with a host.
    pub href_host: Option<String>,
    /// The host the link's visible text names, when that text looks like a
    /// URL or a domain ("www.bank.com", "https://bank.com/login").
    pub text_host: Option<String>,
}

impl Link {
    /// The visible text names another site than the link goes to (neither
    /// host is the other or a subdomain of it, `www.` aside): the phishing
    /// shape `<a href="http://evil.example">www.bank.com</a>`.
    pub fn text_names_other_host(&self) -> bool {
        let (Some(href), Some(text)) = (&self.href_host, &self.text_host) else {
            return false;
        };
        let href = href.strip_prefix("www.").unwrap_or(href);
        let text = text.strip_prefix("www.").unwrap_or(text);
        !(href == text || is_subdomain(href, text) || is_subdomain(text, href))
    }
}

fn is_subdomain(name: &str, of: &str) -> bool {
    name.len() > of.len()
        && name.ends_with(of)
        && name.as_bytes()[name.len() - of.len() - 1] == b'.'
}

/// A file carried by the message (attached or inline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name (Content-Disposition filename, else Content-Type name),
    /// RFC 2231 / RFC 2047 decoded.
    pub name: Option<String>,
    /// Declared Content-Type, lower case `type/subtype`.
    pub declared_type: String,
    /// The type its first bytes show.
    pub sniffed: Option<FileType>,
    /// Decoded size in bytes.
    pub size: usize,
    /// The entries of a zip archive (nested archives' entries follow their
    /// container's entry, with a greater depth).
    pub archive: Option<Archive>,
}

impl Attachment {
    /// The file name's extension, lower case, without the dot.
    pub fn extension(&self) -> Option<String> {
        self.name.as_deref().and_then(extension)
    }
}

/// The extension of a file name, lower case, without the dot (trailing
/// dots and spaces ignored, as Windows does).
pub fn extension(name: &str) -> Option<String> {
    let name = name.trim_end_matches(['.', ' ']);
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// What a zip archive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Archive {
    /// The entries, nested ones after their container.
    pub entries: Vec<ArchiveEntry>,
    /// Some entry is encrypted (its content cannot be checked).
    pub encrypted: bool,
    /// The archive (or a nested one) could not be read: broken, or cut by
    /// the scan limit.
    pub unreadable: bool,
}

/// A file in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// Its path in the archive, as stored.
    pub name: String,
    /// 1 for an entry of the attachment, 2 for one of a zip inside it...
    pub depth: usize,
    /// Declared uncompressed size.
    pub size: u64,
    pub encrypted: bool,
    /// The type its first bytes show, when they could be read.
    pub sniffed: Option<FileType>,
}

impl ArchiveEntry {
    /// The entry name's extension, lower case, without the dot.
    pub fn extension(&self) -> Option<String> {
        extension(&self.name)
    }
}

/// How the parts were encoded, and what was wrong with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EncodingFacts {
    /// Text parts sent in base64 (text needs no base64; spam uses it to
    /// hide words from simple filters).
    pub text_base64: usize,
    /// Text parts sent in quoted-printable.
    pub text_qp: usize,
    /// The highest share of `=XX` escapes among the characters of a
    /// quoted-printable text part (0.0 to 1.0).
    pub qp_max_encoded_ratio: f32,
    /// Parts whose base64 has characters outside the alphabet, data after
    /// the padding, or a length that is not a multiple of 4.
    pub broken_base64: usize,
    /// Parts whose quoted-printable has `=` not followed by two hex digits
    /// or a line end.
    pub broken_qp: usize,
    /// Content-Transfer-Encoding values other than 7bit, 8bit, binary,
    /// base64 and quoted-printable.
    pub unknown_transfer_encodings: usize,
    /// Charsets declared that are not known (lower case, each once).
    pub unknown_charsets: Vec<String>,
    /// Text parts with 8-bit bytes and no charset declared.
    pub undeclared_8bit: usize,
    /// The top-level header has raw 8-bit bytes (not RFC 2047 encoded).
    pub header_8bit: bool,
}

impl Content {
    /// The raw top-level header (up to and including the empty line).
    pub fn raw_header(&self) -> &[u8] {
        &self.raw_header
    }

    /// The raw value of a field (after the colon, folding kept).
    pub fn raw_value(&self, field: &HeaderField) -> &[u8] {
        self.raw_header.get(field.raw.clone()).unwrap_or_default()
    }

    /// The first field of this name (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }

    /// Every field of this name (case-insensitive), in order, decoded.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }

    /// The decoded `Subject:`.
    pub fn subject(&self) -> Option<&str> {
        self.header("Subject")
    }

    /// The decoded `From:` field as written.
    pub fn from(&self) -> Option<&str> {
        self.header("From")
    }

    /// The `Date:` field as written ([`Content::date_timestamp`] is its value).
    pub fn date(&self) -> Option<&str> {
        self.header("Date")
    }

    /// The `Message-ID:` field as written.
    pub fn message_id(&self) -> Option<&str> {
        self.header("Message-ID")
    }

    /// When the message was received: the date of the topmost
    /// `Received:` field that has one (after its last `;`), as Unix
    /// seconds. A stored message scores as it did on arrival with it.
    pub fn received_timestamp(&self) -> Option<i64> {
        self.header_all("Received").find_map(|value| {
            let (_, date) = value.rsplit_once(';')?;
            mail_parser::DateTime::parse_rfc822(date.trim())
                .filter(|d| d.is_valid())
                .map(|d| d.to_timestamp())
        })
    }

    /// Share of upper-case letters among the letters of the text (0.0 when
    /// there are none).
    pub fn capital_ratio(&self) -> f32 {
        if self.letters == 0 {
            0.0
        } else {
            self.capitals as f32 / self.letters as f32
        }
    }

    /// The text of one part.
    pub fn part_text(&self, part: &TextPart) -> &str {
        self.text.get(part.range.clone()).unwrap_or_default()
    }
}
