//! The walk over a message's MIME tree: each part counted, its text
//! rendered, its file described, its encoding checked, within the limits.
//!
//! The tree is split here (multipart.rs) rather than by mail-parser's
//! whole-message parser, so that the limits bound the work itself: parts
//! past [`Limits::max_parts`] are never split out, levels past
//! [`Limits::max_depth`] never entered. (mail-parser builds every attached
//! message, however deep, and frees them recursively: 100,000 nested
//! message/rfc822 overflow the stack.) mail-parser still parses each
//! part's header (RFC 2047, RFC 2231 parameters) and decodes charsets.

use mail_parser::parsers::MessageStream;
use mail_parser::{ContentType, GetHeader, Header, HeaderName, HeaderValue, MessageParser};

use crate::archive::ArchiveReader;
use crate::content::{
    Attachment, Content, EncodingFacts, HeaderField, HtmlFacts, TextKind, TextPart,
};
use crate::decode::{self, TransferEncoding, charset_known};
use crate::headers;
use crate::html;
use crate::limits::{Limits, LimitsHit};
use crate::multipart::Parts;
use crate::sniff::{FileType, sniff};
use crate::text_sink::Sink;

/// An HTML part with fewer visible characters than this besides its
/// images is "mostly images".
const MOSTLY_IMAGES_MAX_CHARS: usize = 200;
/// Unknown charsets listed (each once).
const MAX_UNKNOWN_CHARSETS: usize = 16;

/// The top-level header, taken from the first entity walked.
#[derive(Debug, Default)]
pub(crate) struct Top {
    pub(crate) raw_header: Vec<u8>,
    pub(crate) fields: Vec<HeaderField>,
    pub(crate) from_address: Option<String>,
    pub(crate) from_name: Option<String>,
    pub(crate) date_timestamp: Option<i64>,
}

/// Where a part sits.
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    depth: usize,
    in_alternative: bool,
    /// A part of a multipart/digest: message/rfc822 unless it says.
    in_digest: bool,
}

pub(crate) struct Walker<'l> {
    limits: &'l Limits,
    parser: &'static MessageParser,
    /// The address just past the scanned bytes when they end before the
    /// message does: a part ending there was cut, not broken.
    cut_end: Option<usize>,
    top: Option<Top>,
    text: Sink,
    hidden: Sink,
    text_parts: Vec<TextPart>,
    html: HtmlFacts,
    html_hosts: Vec<String>,
    plain_parts: usize,
    attachments: Vec<Attachment>,
    encoding: EncodingFacts,
    parts: usize,
    hit: LimitsHit,
    archives: ArchiveReader<'l>,
}

impl<'l> Walker<'l> {
    /// `cut` is the scanned input when the scan limit cut the message.
    pub(crate) fn new(
        limits: &'l Limits,
        parser: &'static MessageParser,
        cut: Option<&[u8]>,
    ) -> Self {
        Walker {
            limits,
            parser,
            cut_end: cut.map(|c| c.as_ptr() as usize + c.len()),
            top: None,
            text: Sink::new(limits.max_text_bytes, false),
            hidden: Sink::new(limits.max_text_bytes, true),
            text_parts: Vec::new(),
            html: HtmlFacts::default(),
            html_hosts: Vec::new(),
            plain_parts: 0,
            attachments: Vec::new(),
            encoding: EncodingFacts::default(),
            parts: 0,
            hit: LimitsHit::default(),
            archives: ArchiveReader::new(limits),
        }
    }

    /// Walks a whole message.
    pub(crate) fn message(&mut self, raw: &[u8]) {
        self.entity(raw, Place::default());
    }

    /// A MIME entity: a header, then a body (a leaf, parts, or a message).
    fn entity(&mut self, data: &[u8], place: Place) {
        if self.parts >= self.limits.max_parts {
            self.hit.parts = true;
            return;
        }
        self.parts += 1;
        let mut stream = MessageStream::new(data);
        let mut fields = Vec::new();
        stream.parse_headers(self.parser, &mut fields);
        let body_start = stream.offset().min(data.len());
        if self.top.is_none() {
            self.top = Some(top(data, &fields, body_start));
        }
        let body = &data[body_start..];
        let content_type = fields
            .header_value(&HeaderName::ContentType)
            .and_then(HeaderValue::as_content_type);
        let is = |t: &str, s: &str| {
            content_type.is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case(t)
                    && ct.subtype().is_some_and(|st| st.eq_ignore_ascii_case(s))
            })
        };
        let multipart = content_type.is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"));
        if multipart
            && let Some(boundary) = content_type
                .and_then(|ct| ct.attribute("boundary"))
                .filter(|b| !b.is_empty())
        {
            if place.depth >= self.limits.max_depth {
                self.hit.depth = true;
                return;
            }
            let delimiter = format!("--{boundary}");
            let inner = Place {
                depth: place.depth + 1,
                in_alternative: place.in_alternative || is("multipart", "alternative"),
                in_digest: is("multipart", "digest"),
            };
            let mut parts = Parts::new(body, delimiter.as_bytes());
            for part in parts.by_ref() {
                if self.parts >= self.limits.max_parts {
                    self.hit.parts = true;
                    break;
                }
                self.entity(part, inner);
            }
            if parts.found_any() {
                return;
            }
            // The boundary never comes: the body is read as text.
        }
        let message = is("message", "rfc822")
            || is("message", "global")
            || (content_type.is_none() && place.in_digest);
        if message {
            if place.depth >= self.limits.max_depth {
                self.hit.depth = true;
                return;
            }
            let encoding = transfer_encoding(&fields);
            let decoded = decode::decode(body, encoding);
            self.encoding_facts(encoding, &decoded, body, false);
            let inner = Place {
                depth: place.depth + 1,
                ..Place::default()
            };
            return self.entity(&decoded.bytes, inner);
        }
        self.leaf(&fields, content_type, body, place);
    }

    fn leaf(
        &mut self,
        fields: &[Header<'_>],
        content_type: Option<&ContentType<'_>>,
        body: &[u8],
        place: Place,
    ) {
        let encoding = transfer_encoding(fields);
        let decoded = decode::decode(body, encoding);
        let kind = text_kind(content_type);
        self.encoding_facts(encoding, &decoded, body, kind.is_some());
        let charset = content_type
            .and_then(|ct| ct.attribute("charset"))
            .map(|c| c.trim().trim_matches('"'))
            .filter(|c| !c.is_empty());
        if kind.is_some() {
            self.charset_facts(charset, &decoded.bytes);
        }
        match kind {
            Some(kind) if !is_attached(fields, content_type) => {
                let text = decode::text(&decoded.bytes, charset);
                self.text_part(&text, kind, place.in_alternative);
            }
            _ => self.attachment(fields, content_type, &decoded.bytes),
        }
    }

    fn text_part(&mut self, text: &str, kind: TextKind, in_alternative: bool) {
        let start = self.text.out.len();
        match kind {
            TextKind::Plain => {
                self.plain_parts += 1;
                self.text.push_str(text);
            }
            TextKind::Html => {
                self.html.parts += 1;
                let (visible_before, hidden_before) = (self.text.chars, self.hidden.chars);
                let room = self.limits.max_urls.saturating_sub(self.html.links.len());
                self.text.collapse = true;
                let rendered = html::render(text, &mut self.text, &mut self.hidden, room);
                self.text.collapse = false;
                self.html.visible_chars += self.text.chars - visible_before;
                self.html.hidden_chars += self.hidden.chars - hidden_before;
                self.html.images += rendered.images;
                self.html.links.extend(rendered.links);
                self.hit.urls |= rendered.links_full;
                self.html_hosts.extend(rendered.hosts);
            }
        }
        self.text.block_break();
        self.text_parts.push(TextPart {
            kind,
            range: start..self.text.out.len(),
            in_alternative,
        });
    }

    fn attachment(
        &mut self,
        fields: &[Header<'_>],
        content_type: Option<&ContentType<'_>>,
        data: &[u8],
    ) {
        let declared_type = content_type
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_else(|| "text/plain".to_owned())
            .to_ascii_lowercase();
        let mut sniffed = sniff(data);
        let mut archive = None;
        if sniffed == Some(FileType::Zip) {
            let (listing, kind) = self.archives.read(data);
            sniffed = Some(kind);
            archive = Some(listing);
        }
        self.attachments.push(Attachment {
            name: file_name(fields, content_type).map(str::to_owned),
            declared_type,
            sniffed,
            size: data.len(),
            archive,
        });
    }

    /// Transfer-encoding facts of a body (`raw`) decoded as `decoded`.
    fn encoding_facts(
        &mut self,
        encoding: TransferEncoding,
        decoded: &decode::Decoded<'_>,
        raw: &[u8],
        is_text: bool,
    ) {
        // Cut by the scan limit: its end is missing, not broken.
        let cut = self.cut_end == Some(raw.as_ptr() as usize + raw.len());
        let broken = decoded.broken && !cut;
        let facts = &mut self.encoding;
        match encoding {
            TransferEncoding::Base64 => {
                facts.text_base64 += usize::from(is_text);
                facts.broken_base64 += usize::from(broken);
            }
            TransferEncoding::QuotedPrintable => {
                if is_text {
                    facts.text_qp += 1;
                    facts.qp_max_encoded_ratio =
                        facts.qp_max_encoded_ratio.max(decoded.escaped_ratio);
                }
                facts.broken_qp += usize::from(broken);
            }
            TransferEncoding::Unknown => facts.unknown_transfer_encodings += 1,
            TransferEncoding::Identity => {}
        }
    }

    fn charset_facts(&mut self, charset: Option<&str>, bytes: &[u8]) {
        match charset {
            Some(charset) if !charset_known(charset) => {
                let lower = charset.to_ascii_lowercase();
                let list = &mut self.encoding.unknown_charsets;
                if !list.contains(&lower) && list.len() < MAX_UNKNOWN_CHARSETS {
                    list.push(lower);
                }
            }
            Some(_) => {}
            None => self.encoding.undeclared_8bit += usize::from(!bytes.is_ascii()),
        }
    }

    /// Moves what was found into `content`.
    pub(crate) fn finish(self, content: &mut Content) {
        let mut html = self.html;
        html.html_only = html.parts > 0 && self.plain_parts == 0;
        html.mostly_images = html.images > 0 && html.visible_chars < MOSTLY_IMAGES_MAX_CHARS;
        let archive_hit = self.archives.hit;
        let mut hit = self.hit;
        hit.text = self.text.full || self.hidden.full;
        hit.archive_entries |= archive_hit.archive_entries;
        hit.archive_depth |= archive_hit.archive_depth;
        hit.inflate_bytes |= archive_hit.inflate_bytes;
        hit.scan_bytes |= content.limits_hit.scan_bytes;
        let top = self.top.unwrap_or_default();
        content.encoding = EncodingFacts {
            header_8bit: !top.raw_header.is_ascii(),
            ..self.encoding
        };
        content.raw_header = top.raw_header;
        content.headers = top.fields;
        content.from_address = top.from_address;
        content.from_name = top.from_name;
        content.date_timestamp = top.date_timestamp;
        content.text = self.text.out;
        content.hidden_text = self.hidden.out;
        content.text_parts = self.text_parts;
        content.html = html;
        content.attachments = self.attachments;
        content.parts = self.parts;
        content.limits_hit = hit;
        crate::analyze::hosts_and_counts(content, self.html_hosts, self.limits.max_urls);
    }
}

fn top(data: &[u8], fields: &[Header<'_>], body_start: usize) -> Top {
    let (from_address, from_name) = headers::from_address(last(fields, HeaderName::From));
    Top {
        raw_header: data[..body_start].to_vec(),
        fields: headers::fields(data, fields, body_start),
        from_address,
        from_name,
        date_timestamp: last(fields, HeaderName::Date)
            .and_then(HeaderValue::as_datetime)
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp()),
    }
}

fn last<'a, 'x>(fields: &'a [Header<'x>], name: HeaderName<'_>) -> Option<&'a HeaderValue<'x>> {
    fields
        .iter()
        .rev()
        .find(|h| h.name == name)
        .map(|h| &h.value)
}

fn transfer_encoding(fields: &[Header<'_>]) -> TransferEncoding {
    TransferEncoding::from_header(
        last(fields, HeaderName::ContentTransferEncoding).and_then(HeaderValue::as_text),
    )
}

/// Plain or HTML for the text parts a reader reads; `None` for other
/// types, text ones included (calendar, vcard, delivery reports...): those
/// are files.
fn text_kind(content_type: Option<&ContentType<'_>>) -> Option<TextKind> {
    let Some(ct) = content_type else {
        return Some(TextKind::Plain);
    };
    let sub = ct.subtype().unwrap_or("");
    if ct.ctype().eq_ignore_ascii_case("text") {
        if sub.eq_ignore_ascii_case("html") {
            Some(TextKind::Html)
        } else if sub.eq_ignore_ascii_case("plain") || sub.is_empty() {
            Some(TextKind::Plain)
        } else {
            None
        }
    } else if ct.ctype().eq_ignore_ascii_case("multipart") {
        // A multipart whose boundary never comes: its body is read as text.
        Some(TextKind::Plain)
    } else {
        None
    }
}

fn disposition<'a, 'x>(fields: &'a [Header<'x>]) -> Option<&'a ContentType<'x>> {
    last(fields, HeaderName::ContentDisposition).and_then(HeaderValue::as_content_type)
}

/// The file name: Content-Disposition's filename, else Content-Type's
/// name (RFC 2231 and RFC 2047 decoded by mail-parser).
fn file_name<'a>(
    fields: &'a [Header<'_>],
    content_type: Option<&'a ContentType<'_>>,
) -> Option<&'a str> {
    disposition(fields)
        .and_then(|d| d.attribute("filename"))
        .or_else(|| content_type.and_then(|ct| ct.attribute("name")))
        .map(str::trim)
        .filter(|n| !n.is_empty())
}

/// A text part sent as a file: disposition attachment, or a file name.
fn is_attached(fields: &[Header<'_>], content_type: Option<&ContentType<'_>>) -> bool {
    disposition(fields).is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
        || file_name(fields, content_type).is_some()
}
