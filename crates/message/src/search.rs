//! SEARCH helpers (RFC 3501 6.4.4): HEADER, BODY, TEXT and SENT* keys on
//! decoded text, and header lookups for the session. Matching is a
//! case-insensitive substring test on Unicode text: header values with
//! RFC 2047 encoded-words decoded, text/* bodies with their
//! Content-Transfer-Encoding undone and their charset converted to UTF-8
//! (HTML is searched as it is, tags included).

use crate::address::{Address, parse_address_list};
use crate::binary::decode_transfer_encoding;
use crate::crlf::imap_form;
use crate::date::{parse_date, parse_date_day};
use crate::header::{Field, message_header, parse_header_block};
use crate::mime;
use crate::part::{Kind, Part};
use crate::text::{contains_folded, decode_charset, decode_header_value, fold_case};

/// The first `name` field of the message header, folding removed and
/// encoded-words decoded.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    message_header(raw)
        .fields
        .iter()
        .find(|f| f.is(name))
        .map(|f| decode_header_value(&f.value))
}

/// Offset in `raw` (as given, not CRLF) where the body starts: just after
/// the empty line ending the header, or the end of `raw` when there is none.
pub fn header_end(raw: &[u8]) -> usize {
    message_header(raw).end
}

/// Sent date: the first Date: header as Unix seconds, if it parses.
pub fn sent_date(raw: &[u8]) -> Option<i64> {
    message_header(raw)
        .fields
        .iter()
        .find(|f| f.is("Date"))
        .and_then(|f| parse_date(&f.value))
}

/// The day of the first Date: header in its own zone (days since the
/// epoch), for SENTBEFORE, SENTON and SENTSINCE.
pub fn sent_day(raw: &[u8]) -> Option<i64> {
    message_header(raw)
        .fields
        .iter()
        .find(|f| f.is("Date"))
        .and_then(|f| parse_date_day(&f.value))
}

/// SEARCH FROM/TO/CC/BCC needle: some address of a `field` header, as the
/// ENVELOPE parses it (comments dropped, display name decoded), written
/// `name <mailbox@host>` (a group by its name), contains `needle`; Dovecot
/// searches addresses the same way.
pub fn address_contains(raw: &[u8], field: &str, needle: &str) -> bool {
    let needle = fold_case(needle);
    message_header(raw)
        .fields
        .iter()
        .filter(|f| f.is(field))
        .any(|f| {
            parse_address_list(&f.value)
                .iter()
                .any(|a| contains_folded(&address_text(a), &needle))
        })
}

pub(crate) fn address_text(address: &Address) -> String {
    let part = |b: &Option<Vec<u8>>| b.as_deref().map(decode_header_value).unwrap_or_default();
    match (&address.mailbox, &address.domain) {
        (Some(_), Some(_)) => {
            let addr = format!("{}@{}", part(&address.mailbox), part(&address.domain));
            match &address.name {
                Some(_) => format!("{} <{addr}>", part(&address.name)),
                None => addr,
            }
        }
        // A group's start marker carries its name; its end marker nothing.
        _ => part(&address.mailbox),
    }
}

/// SEARCH HEADER field needle: some `field` header's decoded value contains
/// `needle`. An empty needle matches when the field is present.
pub fn header_contains(raw: &[u8], field: &str, needle: &str) -> bool {
    let needle = fold_case(needle);
    message_header(raw)
        .fields
        .iter()
        .filter(|f| f.is(field))
        .any(|f| contains_folded(&decode_header_value(&f.value), &needle))
}

/// SEARCH BODY needle: the decoded text of the body contains `needle`
/// (text/* parts, and the headers and text parts of attached messages).
pub fn body_contains(raw: &[u8], needle: &str) -> bool {
    let needle = fold_case(needle);
    if needle.is_empty() {
        return true;
    }
    let data = imap_form(raw);
    let root = mime::parse(&data);
    part_contains(&data, &root, &needle)
}

/// SEARCH TEXT needle: the decoded header or body contains `needle`.
pub fn text_contains(raw: &[u8], needle: &str) -> bool {
    let folded = fold_case(needle);
    let data = imap_form(raw);
    let root = mime::parse(&data);
    contains_folded(&header_text(&data, &root), &folded) || part_contains(&data, &root, &folded)
}

fn part_contains(data: &[u8], part: &Part, needle: &str) -> bool {
    match &part.kind {
        Kind::Multipart(children) => children.iter().any(|c| part_contains(data, c, needle)),
        Kind::Message(inner) => {
            contains_folded(&header_text(data, inner), needle) || part_contains(data, inner, needle)
        }
        Kind::Leaf => is_text(part) && contains_folded(&body_text(data, part), needle),
    }
}

pub(crate) fn is_text(part: &Part) -> bool {
    part.data
        .content_type
        .as_ref()
        .is_none_or(|(t, _)| t.eq_ignore_ascii_case("text"))
}

/// A text part's body as Unicode text.
pub(crate) fn body_text(data: &[u8], part: &Part) -> String {
    let body = &data[part.body_start..part.end];
    let decoded = decode_transfer_encoding(body, part.data.transfer_encoding.as_deref())
        .unwrap_or_else(|_| body.to_vec());
    decode_charset(&decoded, part.data.param("charset"))
}

/// A part's header block as decoded "Name: value" lines.
pub(crate) fn header_text(data: &[u8], part: &Part) -> String {
    let block = parse_header_block(&data[..part.body_start], part.header_start, |_| false);
    let mut out = String::new();
    for Field { name, value, .. } in block.fields.iter().filter(|f| f.has_colon) {
        out.push_str(&String::from_utf8_lossy(name));
        out.push_str(": ");
        out.push_str(&decode_header_value(value));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_matches_the_address_not_its_comments() {
        let raw = b"From: Alice (the boss) <alice(at home)@example.test>\r\n\
                    To: =?utf-8?q?Zo=C3=A9?= <zoe@example.test>, Team: bob@example.test;\r\n\r\nhi\r\n";
        assert!(address_contains(raw, "From", "Alice <alice@example.test>"));
        assert!(!address_contains(raw, "From", "boss"));
        assert!(!address_contains(raw, "From", "home"));
        assert!(address_contains(raw, "To", "Zoé <zoe@"));
        assert!(address_contains(raw, "To", "team"));
        assert!(address_contains(raw, "To", "bob@example.test"));
        assert!(!address_contains(raw, "Cc", "bob"));
    }
}
