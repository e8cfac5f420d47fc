//! Builds [`MimeData`] and [`Envelope`] from a part's header fields, as
//! Dovecot's `message-part-data.c` does.

use crate::address::parse_address_list;
use crate::header::Field;
use crate::params::{Param, parse_params};
use crate::part::{Addr, Envelope, MimeData};
use crate::rfc822::Lexer;
use crate::text::header_string;

fn strings(params: Vec<Param>) -> Vec<(String, String)> {
    params
        .into_iter()
        .map(|(k, v)| (header_string(&k), header_string(&v)))
        .collect()
}

/// Parses a Content-Type value: ("type/subtype" as far as it could be
/// read, whether it was well-formed, the lexer after it).
pub(crate) fn parse_content_type(value: &[u8]) -> (Vec<u8>, bool, Lexer<'_>) {
    let mut lx = Lexer::new(value);
    lx.skip_lwsp();
    let mut out = Vec::new();
    let ok = lx.parse_content_type(&mut out) >= 0;
    (out, ok, lx)
}

fn content_type(data: &mut MimeData, value: &[u8]) {
    let (ct, ok, mut lx) = parse_content_type(value);
    let (t, s) = match ct.iter().position(|&b| b == b'/') {
        Some(i) => (&ct[..i], &ct[i + 1..]),
        None => (&ct[..], &b""[..]),
    };
    data.content_type = Some((header_string(t), header_string(s)));
    if ok {
        data.params = strings(parse_params(&mut lx));
    }
}

fn transfer_encoding(data: &mut MimeData, value: &[u8]) {
    let mut lx = Lexer::new(value);
    lx.skip_lwsp();
    let mut token = Vec::new();
    if lx.parse_mime_token(&mut token) >= 0 && lx.skip_lwsp() == 0 && !token.is_empty() {
        data.transfer_encoding = Some(header_string(&token));
    }
}

fn disposition(data: &mut MimeData, value: &[u8]) {
    let mut lx = Lexer::new(value);
    lx.skip_lwsp();
    let mut token = Vec::new();
    if lx.parse_mime_token(&mut token) < 0 {
        return;
    }
    data.disposition = Some(header_string(&token));
    data.disposition_params = strings(parse_params(&mut lx));
}

fn language(data: &mut MimeData, value: &[u8]) {
    let mut lx = Lexer::new(value);
    let mut langs = Vec::new();
    lx.skip_lwsp();
    loop {
        let mut atom = Vec::new();
        if lx.parse_atom(&mut atom) < 0 {
            break;
        }
        langs.push(header_string(&atom));
        if lx.at_end() || lx.cur() != b',' {
            break;
        }
        lx.pos += 1;
        lx.skip_lwsp();
    }
    if !langs.is_empty() {
        data.language = Some(langs);
    }
}

/// The Content-* data of a part from its fields.
pub(crate) fn mime_data(fields: &[Field]) -> MimeData {
    let mut data = MimeData::default();
    for f in fields {
        if !f.has_colon {
            continue;
        }
        let Some(name) = f
            .name
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case(b"Content-"))
            .map(|_| &f.name[8..])
        else {
            continue;
        };
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("ID") && data.id.is_none() {
            data.id = Some(header_string(&f.value));
        } else if is("MD5") && data.md5.is_none() {
            data.md5 = Some(header_string(&f.value));
        } else if is("Type") && data.content_type.is_none() {
            content_type(&mut data, &f.value);
        } else if is("Transfer-Encoding") && data.transfer_encoding.is_none() {
            transfer_encoding(&mut data, &f.value);
        } else if is("Language") && data.language.is_none() {
            language(&mut data, &f.value);
        } else if is("Location") && data.location.is_none() {
            data.location = Some(header_string(&f.value));
        } else if is("Description") && data.description.is_none() {
            data.description = Some(header_string(&f.value));
        } else if is("Disposition") && data.disposition_params.is_empty() {
            disposition(&mut data, &f.value);
        }
    }
    data
}

fn addresses(value: &[u8]) -> Vec<Addr> {
    let s = |v: Option<Vec<u8>>| v.map(|b| header_string(&b));
    parse_address_list(value)
        .into_iter()
        .map(|a| Addr {
            name: s(a.name),
            route: s(a.route),
            mailbox: s(a.mailbox),
            domain: s(a.domain),
        })
        .collect()
}

/// The ENVELOPE data of a message header: the last Date, Subject,
/// Message-ID and In-Reply-To count; repeated address fields add up.
pub(crate) fn envelope(fields: &[Field]) -> Envelope {
    let mut env = Envelope::default();
    for f in fields {
        let text = || Some(header_string(&f.value));
        if f.is("Date") {
            env.date = text();
        } else if f.is("Subject") {
            env.subject = text();
        } else if f.is("Message-ID") {
            env.message_id = text();
        } else if f.is("In-Reply-To") {
            env.in_reply_to = text();
        } else if f.is("From") {
            env.from.extend(addresses(&f.value));
        } else if f.is("Sender") {
            env.sender.extend(addresses(&f.value));
        } else if f.is("Reply-To") {
            env.reply_to.extend(addresses(&f.value));
        } else if f.is("To") {
            env.to.extend(addresses(&f.value));
        } else if f.is("Cc") {
            env.cc.extend(addresses(&f.value));
        } else if f.is("Bcc") {
            env.bcc.extend(addresses(&f.value));
        }
    }
    env
}
