//! FETCH `BODY[section]<partial>` data (RFC 3501 6.4.5), on the CRLF form,
//! resolved the way Dovecot's `imap-msgpart.c` does.

use crate::crlf::{imap_form, without_nuls};
use crate::header::{HeaderEnd, parse_header_block};
use crate::mime;
use crate::part::{Kind, Part};

/// What follows the part number in a section specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`: the header block, its ending empty line included.
    Header,
    /// `TEXT`: the body.
    Text,
    /// `MIME`: the MIME header block of a numbered part.
    Mime,
    /// `HEADER.FIELDS (names)`: those fields (names in any case), then an
    /// empty line (always, even when the header had none or nothing matched).
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names)`: the other fields as they are, then an
    /// empty line if the header had one.
    HeaderFieldsNot(Vec<String>),
}

/// A section: part numbers (empty for the whole message) and what to take.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

/// The bytes of a section of the message (CRLF form; NULs turned into
/// 0x80 as IMAP literals require). A part that does not exist, HEADER or
/// TEXT of a part that is not message/rfc822, and MIME without a part
/// number give an empty result.
pub fn section(raw: &[u8], section: &Section) -> Vec<u8> {
    let data = imap_form(raw);
    let root = mime::parse(&data);
    without_nuls(section_of(&data, &root, section))
}

/// `<offset.length>` of FETCH: the bytes of `data` from `offset`, at most
/// `length` of them (all when `None`); empty past the end.
pub fn partial(data: &[u8], offset: u64, length: Option<u64>) -> &[u8] {
    let len = data.len() as u64;
    if offset >= len {
        return &[];
    }
    let end = length.map_or(len, |l| len.min(offset.saturating_add(l)));
    &data[offset as usize..end as usize]
}

pub(crate) fn section_of(data: &[u8], root: &Part, section: &Section) -> Vec<u8> {
    if section.part.is_empty() {
        return match &section.text {
            None => data.to_vec(),
            Some(SectionText::Mime) => Vec::new(),
            Some(text) => message_text(data, root, text),
        };
    }
    let Some(part) = find_part(root, &section.part) else {
        return Vec::new();
    };
    match &section.text {
        None => data[part.body_start..part.end].to_vec(),
        Some(SectionText::Mime) => data[part.header_start..part.body_start].to_vec(),
        Some(text) => match &part.kind {
            Kind::Message(inner) => message_text(data, inner, text),
            _ => Vec::new(),
        },
    }
}

/// The part a dotted part number designates (RFC 3501 6.4.5): the
/// children of a multipart are 1..n; a non-multipart has only part 1,
/// itself; numbers after a message/rfc822 go inside its message.
pub(crate) fn find_part<'p>(root: &'p Part, path: &[u32]) -> Option<&'p Part> {
    let mut part = root;
    for (i, &num) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        part = match &part.kind {
            // (0 counts as 1, as in Dovecot)
            Kind::Multipart(children) => children.get((num as usize).saturating_sub(1))?,
            Kind::Message(_) if num == 1 => part,
            _ if num == 1 && last => part,
            _ => return None,
        };
        if let (Kind::Message(inner), false) = (&part.kind, last) {
            part = inner;
        }
    }
    Some(part)
}

fn message_text(data: &[u8], msg: &Part, text: &SectionText) -> Vec<u8> {
    match text {
        SectionText::Header | SectionText::Mime => data[msg.header_start..msg.body_start].to_vec(),
        SectionText::Text => data[msg.body_start..msg.end].to_vec(),
        SectionText::HeaderFields(names) => header_fields(data, msg, names, true),
        SectionText::HeaderFieldsNot(names) => header_fields(data, msg, names, false),
    }
}

fn header_fields(data: &[u8], msg: &Part, names: &[String], include: bool) -> Vec<u8> {
    let block = parse_header_block(&data[..msg.body_start], msg.header_start, |_| false);
    let mut out = Vec::new();
    for f in &block.fields {
        let listed = names.iter().any(|n| f.is(n));
        if listed == include {
            out.extend_from_slice(&data[f.start..f.end]);
            if include && !out.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    // As Dovecot: HEADER.FIELDS always ends with an empty line,
    // HEADER.FIELDS.NOT when the header had one.
    if include || block.how == HeaderEnd::Blank {
        out.extend_from_slice(b"\r\n");
    }
    out
}
