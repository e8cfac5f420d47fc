//! SEARCH helpers: decoded header values, decoded bodies, sent dates.

mod common;

use common::*;
use havre_message::{
    body_contains, decode_header_value, header, header_contains, header_end, sent_date,
    text_contains,
};

#[test]
fn header_search_is_case_insensitive_on_decoded_values() {
    assert!(header_contains(PLAIN.as_bytes(), "subject", "FRIDAY"));
    assert!(header_contains(PLAIN.as_bytes(), "To", "carol@example.net"));
    assert!(!header_contains(PLAIN.as_bytes(), "Subject", "Saturday"));
    // RFC 2047 words in ISO-8859-1 and UTF-8, adjacent words joined
    assert!(header_contains(
        LATIN1,
        "Subject",
        "r\u{c9}union de l'\u{e9}quipe\u{2013} le 12 mars"
    ));
    assert!(header_contains(LATIN1, "from", "Fran\u{e7}ois M\u{fc}ller"));
    assert!(header_contains(LATIN1, "To", "b\u{f6}b"));
}

#[test]
fn empty_needle_asks_whether_the_field_is_present() {
    assert!(header_contains(PLAIN.as_bytes(), "Cc", ""));
    assert!(!header_contains(PLAIN.as_bytes(), "Bcc", ""));
}

#[test]
fn body_search_decodes_transfer_encodings_and_charsets() {
    // quoted-printable UTF-8
    assert!(body_contains(
        ALTERNATIVE.as_bytes(),
        "sale \u{2013} 20% OFF everything"
    ));
    // 8-bit ISO-8859-1
    assert!(body_contains(LATIN1, "La R\u{c9}UNION aura lieu"));
    // text parts only: not the base64 PDF, not the header
    assert!(body_contains(MIXED.as_bytes(), "invoice attached"));
    assert!(!body_contains(MIXED.as_bytes(), "%PDF"));
    assert!(!body_contains(PLAIN.as_bytes(), "Bob Dupont"));
    // an attached message's header and text parts are part of the body
    assert!(body_contains(FORWARDED.as_bytes(), "newsletter"));
    assert!(body_contains(FORWARDED.as_bytes(), "<b>20% off</b>"));
    assert!(body_contains(PLAIN.as_bytes(), ""));
}

#[test]
fn text_search_covers_header_and_body() {
    assert!(text_contains(PLAIN.as_bytes(), "bob dupont"));
    assert!(text_contains(PLAIN.as_bytes(), "rue lepic"));
    assert!(text_contains(LATIN1, "\u{e9}quipe"));
    assert!(!text_contains(PLAIN.as_bytes(), "Montmartre"));
}

#[test]
fn sent_date_is_the_date_header_in_unix_time() {
    assert_eq!(sent_date(PLAIN.as_bytes()), Some(1_741_079_700));
    assert_eq!(sent_date(b"Date: not a date\n\nx"), None);
    assert_eq!(sent_date(b"Subject: no date\n\nx"), None);
}

#[test]
fn header_lookup_unfolds_and_decodes_the_first_field() {
    assert_eq!(
        header(PLAIN.as_bytes(), "received").as_deref(),
        Some(
            "from mail.example.org (mail.example.org [192.0.2.10])\tby mx.example.com (havre) \
             with ESMTPS id 4Y7qKz1\tfor <bob@example.com>; Tue, 04 Mar 2025 10:15:02 +0100"
        )
    );
    assert_eq!(
        header(LATIN1, "Subject").as_deref(),
        Some("R\u{e9}union de l'\u{e9}quipe\u{2013} le 12 mars")
    );
    assert_eq!(header(PLAIN.as_bytes(), "X-Missing"), None);
    assert_eq!(
        decode_header_value(b"=?utf-8?q?a?= =?utf-8?q?b?= c"),
        "ab c"
    );
}

#[test]
fn header_end_is_an_offset_in_the_stored_bytes() {
    assert_eq!(header_end(PLAIN.as_bytes()), 545);
    assert_eq!(&PLAIN.as_bytes()[545..552], b"Hi Bob,");
    assert_eq!(header_end(b"No: body"), 8);
}
