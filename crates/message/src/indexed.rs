//! The text SEARCH matches, computed once (at delivery) so that SUBJECT,
//! FROM, TO, CC, BCC, BODY and TEXT can be answered from an index without
//! reading the message again.
//!
//! Every piece is the exact string the file-reading helpers of
//! [`crate::search`] compare, case-folded the same way, so a substring test
//! of a folded needle against a stored piece gives their answer. Several
//! pieces of one kind (two Subject fields, the addresses of a From field,
//! the text parts of a body) are joined with a separator: a needle that does
//! not contain the separator can only match inside one piece, so the test on
//! the joined string stays exact. A needle that contains it is not answered
//! by the index ([`IndexedText::answers`]).

use crate::address::parse_address_list;
use crate::crlf::imap_form;
use crate::header::message_header;
use crate::mime;
use crate::part::{Kind, Part};
use crate::search::{address_text, body_text, header_text, is_text};
use crate::text::{decode_header_value, fold_case};

/// Joins the values of a header field or the addresses of an address field.
pub const LIST_SEPARATOR: char = '\n';
/// Joins the pieces of a body (text parts, headers of attached messages).
pub const BODY_SEPARATOR: char = '\u{1}';

/// Folded search text of one message; `None` when the message has no such
/// field (or, for addresses, no address in it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexedText {
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub bcc: Option<String>,
    /// The message header as `Name: value` lines (what TEXT matches besides
    /// the body).
    pub header: String,
    /// What BODY matches, pieces joined with [`BODY_SEPARATOR`].
    pub body: String,
    /// The lines of the header fields clients list messages with, for
    /// [`crate::cached_header_fields`]; `None` when they cannot be kept.
    pub fields: Option<Vec<u8>>,
}

/// Which stored piece a SEARCH key is answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexedField {
    Subject,
    From,
    To,
    Cc,
    Bcc,
    Body,
    /// Header or body.
    Text,
}

impl IndexedText {
    /// The folded needle to look for in `field`, or `None` when the index
    /// cannot answer it exactly (the needle contains a separator).
    pub fn answers(field: IndexedField, needle: &str) -> Option<String> {
        let folded = fold_case(needle);
        let separator = match field {
            IndexedField::Body | IndexedField::Text => BODY_SEPARATOR,
            _ => LIST_SEPARATOR,
        };
        (!folded.contains(separator)).then_some(folded)
    }
}

/// The search text of a message as stored.
pub fn indexed_text(raw: &[u8]) -> IndexedText {
    let header = message_header(raw);
    let values = |name: &str| -> Option<String> {
        let found: Vec<String> = header
            .fields
            .iter()
            .filter(|f| f.is(name))
            .map(|f| fold_case(&decode_header_value(&f.value)))
            .collect();
        (!found.is_empty()).then(|| found.join(&LIST_SEPARATOR.to_string()))
    };
    let addresses = |name: &str| -> Option<String> {
        let found: Vec<String> = header
            .fields
            .iter()
            .filter(|f| f.is(name))
            .flat_map(|f| parse_address_list(&f.value))
            .map(|a| fold_case(&address_text(&a)))
            .collect();
        (!found.is_empty()).then(|| found.join(&LIST_SEPARATOR.to_string()))
    };
    let data = imap_form(raw);
    let root = mime::parse(&data);
    let mut pieces = Vec::new();
    body_pieces(&data, &root, &mut pieces);
    IndexedText {
        subject: values("Subject"),
        from: addresses("From"),
        to: addresses("To"),
        cc: addresses("Cc"),
        bcc: addresses("Bcc"),
        header: fold_case(&header_text(&data, &root)),
        body: pieces.join(&BODY_SEPARATOR.to_string()),
        fields: crate::cached_header::keep(&data, root.header_start, root.body_start),
    }
}

/// The pieces `body_contains` tests, in the same walk, folded.
fn body_pieces(data: &[u8], part: &Part, out: &mut Vec<String>) {
    // Iterative: a message nested thousands deep must not exhaust the stack.
    let mut stack = vec![part];
    while let Some(part) = stack.pop() {
        match &part.kind {
            Kind::Multipart(children) => stack.extend(children.iter().rev()),
            Kind::Message(inner) => {
                out.push(fold_case(&header_text(data, inner)));
                stack.push(inner);
            }
            Kind::Leaf => {
                if is_text(part) {
                    out.push(fold_case(&body_text(data, part)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{address_contains, body_contains, header_contains, text_contains};

    fn matches(stored: &Option<String>, needle: &str) -> bool {
        stored.as_deref().is_some_and(|s| s.contains(needle))
    }

    const MESSAGE: &[u8] = b"From: =?utf-8?q?Zo=C3=A9?= <zoe@example.test>\r\n\
        To: Team: bob@example.test, carol@example.test;\r\n\
        Subject: Quarterly =?iso-8859-1?q?r=E9sum=E9?=\r\n\
        Subject: second subject\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        SGVsbG8gV8OTUkxE\r\n\
        --b\r\nContent-Type: message/rfc822\r\n\r\n\
        Subject: inner one\r\n\r\ninner body\r\n\
        --b\r\nContent-Type: application/octet-stream\r\n\r\nsecret bytes\r\n\
        --b--\r\n";

    #[test]
    fn a_message_in_memory_with_crlf_is_indexed_as_its_lf_file_on_disk() {
        // Deliveries index what they hold in memory (CRLF, as received);
        // a later sync indexes the Maildir file (LF): the same rows.
        let folded = b"Subject: a long\r\n subject\r\nFrom: Zo\xc3\xa9 <zoe@example.test>\r\n\
            Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n--b--\r\n";
        let lf: Vec<u8> = folded.iter().copied().filter(|&b| b != b'\r').collect();
        assert_eq!(indexed_text(folded), indexed_text(&lf));
        assert_eq!(
            indexed_text(MESSAGE),
            indexed_text(
                &MESSAGE
                    .iter()
                    .copied()
                    .filter(|&b| b != b'\r')
                    .collect::<Vec<_>>()
            )
        );
    }

    #[test]
    fn the_index_answers_as_the_file_helpers_do() {
        let text = indexed_text(MESSAGE);
        for needle in ["RÉSUMÉ", "second", "Quarterly résumé", "nothing", ""] {
            let folded = IndexedText::answers(IndexedField::Subject, needle).unwrap();
            assert_eq!(
                matches(&text.subject, &folded),
                header_contains(MESSAGE, "Subject", needle),
                "subject {needle:?}"
            );
        }
        for needle in ["zoé <zoe@", "team", "carol@example.test", "bob", "nobody"] {
            let folded = IndexedText::answers(IndexedField::To, needle).unwrap();
            assert_eq!(
                matches(&text.to, &folded),
                address_contains(MESSAGE, "To", needle)
            );
            assert_eq!(
                matches(&text.from, &folded),
                address_contains(MESSAGE, "From", needle)
            );
        }
        assert_eq!(text.cc, None);
        for needle in [
            "hello wórld",
            "inner one",
            "inner body",
            "secret",
            "quarterly",
        ] {
            let folded = IndexedText::answers(IndexedField::Body, needle).unwrap();
            assert_eq!(
                text.body.contains(&folded),
                body_contains(MESSAGE, needle),
                "body {needle:?}"
            );
            assert_eq!(
                text.header.contains(&folded) || text.body.contains(&folded),
                text_contains(MESSAGE, needle),
                "text {needle:?}"
            );
        }
    }

    #[test]
    fn a_needle_spanning_two_pieces_is_left_to_the_file() {
        assert_eq!(IndexedText::answers(IndexedField::Subject, "a\nb"), None);
        assert_eq!(IndexedText::answers(IndexedField::Body, "a\u{1}b"), None);
        assert_eq!(
            IndexedText::answers(IndexedField::Body, "A\r\nB").as_deref(),
            Some("a\r\nb")
        );
    }
}
