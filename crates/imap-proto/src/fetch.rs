//! FETCH data items (RFC 9051 6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ) and
//! body sections.

use std::fmt;

use crate::error::ParseError;
use crate::lexer::{Cursor, PResult, is_astring_char};

/// One FETCH data item. The macros `ALL`, `FAST` and `FULL` are expanded by
/// the parser (RFC 9051 6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    /// `RFC822`: the whole message, like `BODY[]` (and sets `\Seen`).
    Rfc822,
    /// `RFC822.HEADER`: like `BODY.PEEK[HEADER]`.
    Rfc822Header,
    Rfc822Size,
    /// `RFC822.TEXT`: like `BODY[TEXT]` (and sets `\Seen`).
    Rfc822Text,
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    BodyStructure,
    Uid,
    ModSeq,
    /// RFC 8514 `SAVEDATE`.
    SaveDate,
    /// RFC 8474 `EMAILID` and `THREADID`.
    EmailId,
    ThreadId,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        section: Section,
        partial: Option<Partial>,
        peek: bool,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]`.
    Binary {
        part: Vec<u32>,
        partial: Option<Partial>,
        peek: bool,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize {
        part: Vec<u32>,
    },
    /// `PREVIEW` or `PREVIEW (LAZY)` (RFC 8970).
    Preview {
        lazy: bool,
    },
}

impl FetchAttr {
    /// Whether fetching this item sets `\Seen` (in a read-write mailbox).
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            FetchAttr::Rfc822
                | FetchAttr::Rfc822Text
                | FetchAttr::BodySection { peek: false, .. }
                | FetchAttr::Binary { peek: false, .. }
        )
    }
}

/// `<origin.length>`: at most `length` octets from `origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    pub origin: u32,
    pub length: u32,
}

/// A body section: a part path (empty for the whole message) and what of
/// that part. `BODY[]` is `Section::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// `1.2.3` as `[1, 2, 3]`.
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    /// Field names as sent (compare case-insensitively).
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    /// Only with a part number.
    Mime,
}

impl fmt::Display for Section {
    /// The section as it appears between the brackets of a FETCH response.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.part.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{p}")?;
        }
        let Some(text) = &self.text else {
            return Ok(());
        };
        if !self.part.is_empty() {
            f.write_str(".")?;
        }
        let (name, fields) = match text {
            SectionText::Header => ("HEADER", None),
            SectionText::HeaderFields(fields) => ("HEADER.FIELDS", Some(fields)),
            SectionText::HeaderFieldsNot(fields) => ("HEADER.FIELDS.NOT", Some(fields)),
            SectionText::Text => ("TEXT", None),
            SectionText::Mime => ("MIME", None),
        };
        f.write_str(name)?;
        if let Some(fields) = fields {
            f.write_str(" (")?;
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                // Field names are parsed as astrings; quote any that are not
                // plain atoms so the echo stays parseable.
                if !field.is_empty() && field.bytes().all(|b| b.is_ascii() && is_astring_char(b)) {
                    f.write_str(field)?;
                } else {
                    write!(
                        f,
                        "\"{}\"",
                        field.replace('\\', "\\\\").replace('"', "\\\"")
                    )?;
                }
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// `fetch-att` list: a macro, one item, or `(item ...)`.
pub(crate) fn parse_items(c: &mut Cursor<'_>) -> PResult<Vec<FetchAttr>> {
    let mut items = Vec::new();
    if c.peek() == Some(b'(') {
        c.paren_list(false, |c| {
            items.push(parse_item(c)?);
            Ok(())
        })?;
        return Ok(items);
    }
    if c.peek_atom_is("ALL") || c.peek_atom_is("FAST") || c.peek_atom_is("FULL") {
        let name = c.keyword()?;
        items.extend([
            FetchAttr::Flags,
            FetchAttr::InternalDate,
            FetchAttr::Rfc822Size,
        ]);
        if name != "FAST" {
            items.push(FetchAttr::Envelope);
        }
        if name == "FULL" {
            items.push(FetchAttr::Body);
        }
        return Ok(items);
    }
    items.push(parse_item(c)?);
    Ok(items)
}

fn parse_item(c: &mut Cursor<'_>) -> PResult<FetchAttr> {
    // Names end at '[' (an atom char stops at '[' only because we split on
    // it here) so read the name up to '[', '<', SP or ')'.
    let rest = c.rest();
    let len = rest
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        .count();
    let name = rest[..len].to_ascii_uppercase();
    if len == 0 {
        return Err(ParseError::syntax("expected a FETCH item"));
    }
    c.advance(len);
    let simple = match name.as_slice() {
        b"ENVELOPE" => Some(FetchAttr::Envelope),
        b"FLAGS" => Some(FetchAttr::Flags),
        b"INTERNALDATE" => Some(FetchAttr::InternalDate),
        b"RFC822" => Some(FetchAttr::Rfc822),
        b"RFC822.HEADER" => Some(FetchAttr::Rfc822Header),
        b"RFC822.SIZE" => Some(FetchAttr::Rfc822Size),
        b"RFC822.TEXT" => Some(FetchAttr::Rfc822Text),
        b"BODYSTRUCTURE" => Some(FetchAttr::BodyStructure),
        b"UID" => Some(FetchAttr::Uid),
        b"MODSEQ" => Some(FetchAttr::ModSeq),
        b"SAVEDATE" => Some(FetchAttr::SaveDate),
        b"EMAILID" => Some(FetchAttr::EmailId),
        b"THREADID" => Some(FetchAttr::ThreadId),
        b"BODY" if c.peek() != Some(b'[') => Some(FetchAttr::Body),
        _ => None,
    };
    if let Some(item) = simple {
        return Ok(item);
    }
    match name.as_slice() {
        b"BODY" | b"BODY.PEEK" => {
            let section = parse_section(c)?;
            let partial = parse_partial(c)?;
            Ok(FetchAttr::BodySection {
                section,
                partial,
                peek: name.len() > 4,
            })
        }
        b"BINARY" | b"BINARY.PEEK" => {
            let part = parse_binary_part(c)?;
            let partial = parse_partial(c)?;
            Ok(FetchAttr::Binary {
                part,
                partial,
                peek: name.len() > 6,
            })
        }
        b"BINARY.SIZE" => Ok(FetchAttr::BinarySize {
            part: parse_binary_part(c)?,
        }),
        b"PREVIEW" => Ok(FetchAttr::Preview {
            lazy: parse_preview_modifiers(c)?,
        }),
        _ => Err(ParseError::syntax("unknown FETCH item")),
    }
}

/// `[SP "(" preview-mod *(SP preview-mod) ")"]` after PREVIEW; LAZY is the
/// only modifier RFC 8970 defines. Whether LAZY was given.
fn parse_preview_modifiers(c: &mut Cursor<'_>) -> PResult<bool> {
    if !(c.peek() == Some(b' ') && c.peek_at(1) == Some(b'(')) {
        return Ok(false);
    }
    c.sp()?;
    let mut lazy = false;
    c.paren_list(false, |c| {
        match c.keyword()?.as_str() {
            "LAZY" => lazy = true,
            _ => return Err(ParseError::syntax("unknown PREVIEW modifier")),
        }
        Ok(())
    })?;
    Ok(lazy)
}

/// `"[" [section-part] "]"` for BINARY.
fn parse_binary_part(c: &mut Cursor<'_>) -> PResult<Vec<u32>> {
    c.expect(b'[', "expected '['")?;
    let mut part = Vec::new();
    if !c.eat(b']') {
        loop {
            part.push(c.nz_number()?);
            if c.eat(b']') {
                break;
            }
            c.expect(b'.', "bad section part")?;
        }
    }
    Ok(part)
}

/// `"[" [section-spec] "]"`.
pub(crate) fn parse_section(c: &mut Cursor<'_>) -> PResult<Section> {
    c.expect(b'[', "expected '['")?;
    let mut section = Section::default();
    if c.eat(b']') {
        return Ok(section);
    }
    // section-part: nz-number *("." nz-number), each followed by '.' or ']'.
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        section.part.push(c.nz_number()?);
        if c.eat(b']') {
            return Ok(section);
        }
        c.expect(b'.', "bad section")?;
    }
    let rest = c.rest();
    let len = rest
        .iter()
        .take_while(|&&b| b.is_ascii_alphabetic() || b == b'.')
        .count();
    let name = rest[..len].to_ascii_uppercase();
    c.advance(len);
    let text = match name.as_slice() {
        b"HEADER" => SectionText::Header,
        b"TEXT" => SectionText::Text,
        b"MIME" if !section.part.is_empty() => SectionText::Mime,
        b"HEADER.FIELDS" | b"HEADER.FIELDS.NOT" => {
            c.sp()?;
            let mut fields = Vec::new();
            c.paren_list(false, |c| {
                let field = c.astring_utf8("bad header field name")?;
                if field.is_empty()
                    || !field
                        .bytes()
                        .all(|b| (0x21..=0x7e).contains(&b) && b != b':')
                {
                    return Err(ParseError::syntax("bad header field name"));
                }
                fields.push(field);
                Ok(())
            })?;
            if name.len() == "HEADER.FIELDS".len() {
                SectionText::HeaderFields(fields)
            } else {
                SectionText::HeaderFieldsNot(fields)
            }
        }
        _ => return Err(ParseError::syntax("bad section")),
    };
    section.text = Some(text);
    c.expect(b']', "expected ']' after section")?;
    Ok(section)
}

/// `"<" number "." nz-number ">"`.
fn parse_partial(c: &mut Cursor<'_>) -> PResult<Option<Partial>> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let origin = c.number()?;
    c.expect(b'.', "bad partial")?;
    let length = c.nz_number()?;
    c.expect(b'>', "bad partial")?;
    Ok(Some(Partial { origin, length }))
}
