//! BODY[section]<partial> and BINARY[part], compared with what Dovecot
//! 2.3.19 answers for the same bytes. All data is on the CRLF form.

mod common;

use common::*;
use havre_message::{
    BinaryError, Section, SectionText, binary_section, binary_size, partial, section,
};

fn sec(part: &[u32], text: Option<SectionText>) -> Section {
    Section {
        part: part.to_vec(),
        text,
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn whole_message_header_and_text_are_on_the_crlf_form() {
    let raw = PLAIN.as_bytes();
    assert_eq!(section(raw, &sec(&[], None)), crlf(PLAIN).into_bytes());
    let header = text(section(raw, &sec(&[], Some(SectionText::Header))));
    assert!(header.starts_with("Return-Path: <alice@example.org>\r\nReceived: from"));
    assert!(header.ends_with("Content-Transfer-Encoding: 7bit\r\n\r\n"));
    let body = section(raw, &sec(&[], Some(SectionText::Text)));
    assert_eq!(body.len(), 101);
    assert_eq!(&body[..9], b"Hi Bob,\r\n");
    // a non-multipart message has only part 1: its body
    assert_eq!(section(raw, &sec(&[1], None)), body);
    assert!(section(raw, &sec(&[2], None)).is_empty());
}

#[test]
fn nested_parts_of_a_forwarded_message() {
    let raw = FORWARDED.as_bytes();
    assert_eq!(
        text(section(raw, &sec(&[2], Some(SectionText::Header)))),
        "Date: Wed, 05 Mar 2025 08:00:00 +0000\r\n\
         From: \"Newsletter\" <news@shop.example>\r\n\
         To: bob@example.com\r\n\
         Subject: Spring sale: 20% off\r\n\
         Message-ID: <abc.123@shop.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
    );
    assert_eq!(
        text(section(raw, &sec(&[2, 1], None))),
        "Spring sale, 20% off."
    );
    assert_eq!(
        text(section(raw, &sec(&[2, 2], None))),
        "<p>Spring sale, <b>20% off</b>.</p>"
    );
    assert_eq!(
        text(section(raw, &sec(&[2, 2], Some(SectionText::Mime)))),
        "Content-Type: text/html; charset=UTF-8\r\n\r\n"
    );
    assert_eq!(
        text(section(raw, &sec(&[1], Some(SectionText::Mime)))),
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    );
    // BODY[2] of a message/rfc822 is the whole encapsulated message (417 octets)
    let inner = section(raw, &sec(&[2], None));
    assert_eq!(inner.len(), 417);
    assert!(text(inner).starts_with("Date: Wed, 05 Mar 2025"));
    // HEADER and TEXT only exist for message/rfc822 parts
    assert!(section(raw, &sec(&[1], Some(SectionText::Header))).is_empty());
    assert!(section(raw, &sec(&[2, 3], None)).is_empty());
    assert!(section(raw, &sec(&[3], None)).is_empty());
    assert!(section(raw, &sec(&[], Some(SectionText::Mime))).is_empty());
}

#[test]
fn header_fields_and_header_fields_not() {
    let raw = FORWARDED.as_bytes();
    let fields = SectionText::HeaderFields(vec!["SUBJECT".into(), "from".into()]);
    assert_eq!(
        text(section(raw, &sec(&[2], Some(fields)))),
        "From: \"Newsletter\" <news@shop.example>\r\nSubject: Spring sale: 20% off\r\n\r\n"
    );
    let not = SectionText::HeaderFieldsNot(vec!["Received".into(), "Date".into(), "X-Nope".into()]);
    let header = text(section(PLAIN.as_bytes(), &sec(&[], Some(not))));
    assert!(header.starts_with("Return-Path: <alice@example.org>\r\nFrom: Alice Martin"));
    assert!(header.ends_with("7bit\r\n\r\n"));
    // nothing matches: just the empty line
    let none = SectionText::HeaderFields(vec!["X-Nope".into()]);
    assert_eq!(section(raw, &sec(&[], Some(none))), b"\r\n");
}

#[test]
fn partial_fetch_offsets_count_crlf_octets() {
    let raw = LATIN1;
    let body = section(raw, &sec(&[1], None));
    assert_eq!(partial(&body, 0, Some(20)), b"Bonjour \xe0 tous,\r\n\r\nL");
    let inner = section(FORWARDED.as_bytes(), &sec(&[2], None));
    assert_eq!(
        partial(&inner, 10, Some(30)),
        b" 05 Mar 2025 08:00:00 +0000\r\nF"
    );
    let text = section(FORWARDED.as_bytes(), &sec(&[2], Some(SectionText::Text)));
    assert_eq!(partial(&text, 0, Some(12)), b"--inner\r\nCon");
    assert_eq!(partial(&body, 80, None), b"ois\r\n");
    assert!(partial(&body, 85, Some(10)).is_empty());
    assert!(partial(&body, 1000, None).is_empty());
}

#[test]
fn sections_of_broken_mime_follow_the_healed_structure() {
    let raw = BROKEN.as_bytes();
    assert_eq!(section(raw, &sec(&[1, 2], None)), b"<p>second</p>");
    assert_eq!(
        section(raw, &sec(&[2], None)),
        b"third part, and no closing boundary\r\n"
    );
}

#[test]
fn nuls_in_fetched_data_become_0x80() {
    let raw = b"Subject: a\n\nbody\0with nul\n";
    assert_eq!(
        section(raw, &sec(&[], Some(SectionText::Text))),
        b"body\x80with nul\r\n"
    );
}

#[test]
fn binary_decodes_base64_and_quoted_printable() {
    let pdf = binary_section(MIXED.as_bytes(), &[2]).unwrap();
    assert_eq!(pdf.len(), 98);
    assert!(pdf.starts_with(b"%PDF-1.4\n% havre test invoice\n"));
    assert_eq!(binary_size(MIXED.as_bytes(), &[2]), Ok(98));
    assert_eq!(
        binary_section(ALTERNATIVE.as_bytes(), &[1]).unwrap(),
        "Spring sale \u{2013} 20% off everything until Sunday.\r\nVisit https://shop.example/sale"
            .as_bytes()
    );
    // identity encodings and missing parts
    assert_eq!(
        binary_section(MIXED.as_bytes(), &[1]).unwrap(),
        section(MIXED.as_bytes(), &sec(&[1], None))
    );
    assert_eq!(binary_section(MIXED.as_bytes(), &[7]), Ok(Vec::new()));
}

#[test]
fn binary_refuses_unknown_transfer_encodings() {
    let raw = b"MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 f\n";
    assert_eq!(
        binary_section(raw, &[1]),
        Err(BinaryError::UnknownEncoding("x-uuencode".into()))
    );
}
