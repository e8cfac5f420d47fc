//! The walk over a parsed message's MIME tree: each part counted, its text
//! rendered, its file described, its encoding checked, within the limits.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use crate::archive::ArchiveReader;
use crate::content::{Attachment, Content, EncodingFacts, HtmlFacts, TextKind, TextPart};
use crate::encoding::{base64_is_broken, quoted_printable_facts};
use crate::html;
use crate::limits::{Limits, LimitsHit};
use crate::sniff::{FileType, sniff};
use crate::text_sink::Sink;

/// An HTML part with fewer visible characters than this besides its
/// images is "mostly images".
const MOSTLY_IMAGES_MAX_CHARS: usize = 200;

pub(crate) struct Walker<'l> {
    limits: &'l Limits,
    /// The scanned bytes (their address and length) when they end before
    /// the message does: a part reaching their end is cut, not broken.
    truncated: Option<(usize, usize)>,
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
    pub(crate) fn new(limits: &'l Limits, truncated: Option<&[u8]>) -> Self {
        Walker {
            limits,
            truncated: truncated.map(|t| (t.as_ptr() as usize, t.len())),
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

    /// Walks a message (the top one, or an attached one at `depth`).
    pub(crate) fn message(&mut self, message: &Message<'_>, depth: usize) {
        self.part(message, 0, depth, false);
    }

    fn part(&mut self, message: &Message<'_>, id: usize, depth: usize, in_alternative: bool) {
        let Some(part) = message.parts.get(id) else {
            return;
        };
        if self.parts >= self.limits.max_parts {
            self.hit.parts = true;
            return;
        }
        self.parts += 1;
        match &part.body {
            PartType::Multipart(children) => {
                if depth >= self.limits.max_depth {
                    self.hit.depth = true;
                    return;
                }
                let alternative = part.is_content_type("multipart", "alternative");
                for &child in children {
                    // Children come after their parent: never walk back.
                    if child as usize > id {
                        self.part(message, child as usize, depth + 1, alternative);
                    }
                }
            }
            PartType::Message(inner) => {
                if depth >= self.limits.max_depth {
                    self.hit.depth = true;
                    return;
                }
                self.message(inner, depth + 1);
            }
            PartType::Text(text) | PartType::Html(text) => {
                let kind = text_kind(part);
                self.check_encoding(message, part, kind.is_some());
                match kind {
                    Some(kind) if !is_attached(part) => self.text_part(text, kind, in_alternative),
                    _ => self.attachment(part, text.as_bytes()),
                }
            }
            PartType::Binary(data) | PartType::InlineBinary(data) => {
                self.check_encoding(message, part, false);
                self.attachment(part, data);
            }
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
                let rendered = html::render(text, &mut self.text, &mut self.hidden, room);
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

    fn attachment(&mut self, part: &MessagePart<'_>, data: &[u8]) {
        let declared_type = part
            .content_type()
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
            name: part.attachment_name().map(str::to_owned),
            declared_type,
            sniffed,
            size: data.len(),
            archive,
        });
    }

    /// Transfer-encoding and charset facts of a leaf part.
    fn check_encoding(&mut self, message: &Message<'_>, part: &MessagePart<'_>, is_text: bool) {
        let raw = message.raw_message();
        let (start, end) = (part.offset_body as usize, part.offset_end as usize);
        let body = raw.get(start..end).unwrap_or_default();
        // Cut by the scan limit: its end is missing, not broken. (Parts of
        // an encoded attached message are offsets into its decoded bytes,
        // never cut.)
        let cut = self
            .truncated
            .is_some_and(|(addr, len)| raw.as_ptr() as usize == addr && end >= len);
        let cte = part
            .content_transfer_encoding()
            .map(|c| c.trim().to_ascii_lowercase());
        match cte.as_deref() {
            Some("base64") => {
                if is_text {
                    self.encoding.text_base64 += 1;
                }
                if !cut && base64_is_broken(body) {
                    self.encoding.broken_base64 += 1;
                }
            }
            Some("quoted-printable") => {
                let (broken, ratio) = quoted_printable_facts(body);
                if is_text {
                    self.encoding.text_qp += 1;
                    self.encoding.qp_max_encoded_ratio =
                        self.encoding.qp_max_encoded_ratio.max(ratio);
                }
                if broken && !cut {
                    self.encoding.broken_qp += 1;
                }
            }
            None | Some("7bit" | "8bit" | "binary" | "") => {}
            Some(_) => self.encoding.unknown_transfer_encodings += 1,
        }
        if !is_text {
            return;
        }
        match part.content_type().and_then(|ct| ct.attribute("charset")) {
            Some(charset) => {
                let charset = charset.trim().trim_matches('"');
                if !charset_known(charset) {
                    let lower = charset.to_ascii_lowercase();
                    if !self.encoding.unknown_charsets.contains(&lower)
                        && self.encoding.unknown_charsets.len() < 16
                    {
                        self.encoding.unknown_charsets.push(lower);
                    }
                }
            }
            None => {
                let eight_bit = match cte.as_deref() {
                    Some("base64" | "quoted-printable") => !part.contents().is_ascii(),
                    _ => !body.is_ascii(),
                };
                if eight_bit {
                    self.encoding.undeclared_8bit += 1;
                }
            }
        }
    }

    /// Moves what was found into `content`.
    pub(crate) fn finish(mut self, content: &mut Content) {
        self.html.html_only = self.html.parts > 0 && self.plain_parts == 0;
        self.html.mostly_images =
            self.html.images > 0 && self.html.visible_chars < MOSTLY_IMAGES_MAX_CHARS;
        let mut hit = self.hit;
        hit.text = self.text.full || self.hidden.full;
        let archive_hit = self.archives.hit;
        hit.archive_entries |= archive_hit.archive_entries;
        hit.archive_depth |= archive_hit.archive_depth;
        hit.inflate_bytes |= archive_hit.inflate_bytes;
        hit.scan_bytes |= content.limits_hit.scan_bytes;
        content.text = self.text.out;
        content.hidden_text = self.hidden.out;
        content.text_parts = self.text_parts;
        content.html = self.html;
        content.attachments = self.attachments;
        content.encoding = EncodingFacts {
            header_8bit: content.encoding.header_8bit,
            ..self.encoding
        };
        content.parts = self.parts;
        content.limits_hit = hit;
        crate::analyze::hosts_and_counts(content, self.html_hosts, self.limits.max_urls);
    }
}

/// Plain or HTML for the text parts a reader reads; `None` for other
/// text types (calendar, vcard, delivery reports...), which are files.
fn text_kind(part: &MessagePart<'_>) -> Option<TextKind> {
    let Some(ct) = part.content_type() else {
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

/// A text part sent as a file: disposition attachment, or a file name.
fn is_attached(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|d| d.is_attachment())
        || part.attachment_name().is_some()
}

/// Whether mail-parser can decode this charset (UTF-8 it reads natively).
fn charset_known(charset: &str) -> bool {
    let c = charset.to_ascii_lowercase();
    matches!(
        c.as_str(),
        "utf-8" | "utf8" | "unicode-1-1-utf-8" | "x-unicode20utf8"
    ) || charset_decoder(c.as_bytes()).is_some()
}
