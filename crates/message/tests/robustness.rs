//! Broken and hostile input: nothing panics, answers stay consistent, and
//! nesting and part counts are bounded.

mod common;

use common::*;
use havre_message::{
    Analysis, Section, SectionText, analyse, binary_section, body_contains, cached_header_fields,
    header, header_contains, imap_form, indexed_text, section, sent_date, sort_keys, text_contains,
};

/// xorshift: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

const FRAGMENTS: &[&[u8]] = &[
    b"--",
    b"\n",
    b"\r\n",
    b"\r",
    b"--outer",
    b"--inner--",
    b"--b1_mixed",
    b"\n\n",
    b" ",
    b"\t",
    b":",
    b"\"",
    b"(",
    b")",
    b"<",
    b">",
    b"@",
    b",",
    b";",
    b"\\",
    b"=?utf-8?q?=C3=A9?=",
    b"=?x?b?",
    b"MIME-Version: 1.0\n",
    b"Content-Type: multipart/mixed; boundary=outer\n",
    b"Content-Type: message/rfc822\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"Content-Transfer-Encoding: base64\n",
    b"=",
    b"=\n",
    b"\xe9",
    b"\xc3",
    b"\0",
    b"[fwd: ",
];

fn exercise(raw: &[u8]) {
    let a = analyse(raw);
    assert_eq!(a.size(), imap_form(raw).len() as u64);
    assert_eq!(Analysis::from_cache(&a.to_cache()).as_ref(), Some(&a));
    let _ = (a.envelope(), a.bodystructure(true), a.bodystructure(false));
    let full = section(raw, &Section::default());
    assert_eq!(full.len() as u64, a.size());
    for part in [&[][..], &[1], &[2], &[1, 1], &[2, 1], &[2, 2, 1]] {
        for text in [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
            Some(SectionText::HeaderFields(vec!["Subject".into()])),
            Some(SectionText::HeaderFieldsNot(vec!["Subject".into()])),
        ] {
            let s = section(
                raw,
                &Section {
                    part: part.to_vec(),
                    text,
                },
            );
            // HEADER.FIELDS may end a last line and add the empty line
            assert!(s.len() <= full.len() + 4);
        }
        let _ = binary_section(raw, part);
    }
    let _ = (body_contains(raw, "caf\u{e9}"), text_contains(raw, "x"));
    let _ = (
        header_contains(raw, "subject", "re"),
        header(raw, "from"),
        sent_date(raw),
    );
    let _ = sort_keys(raw);
    header_fields_from_the_cache_are_the_file_s(raw);
}

/// HEADER.FIELDS of cached fields, from what delivery kept, is byte for
/// byte what the whole message gives.
fn header_fields_from_the_cache_are_the_file_s(raw: &[u8]) {
    let Some(kept) = indexed_text(raw).fields else {
        return;
    };
    for names in [
        &["From", "To", "Subject", "Date", "Message-ID", "References"][..],
        &["subject"],
        &[
            "CONTENT-TYPE",
            "x-priority",
            "List-Id",
            "cc",
            "bcc",
            "reply-to",
        ],
    ] {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let from_file = section(
            raw,
            &Section {
                part: vec![],
                text: Some(SectionText::HeaderFields(names.clone())),
            },
        );
        assert_eq!(
            cached_header_fields(&kept, &names),
            Some(from_file),
            "{names:?} of {:?}",
            String::from_utf8_lossy(raw)
        );
    }
    assert_eq!(cached_header_fields(&kept, &["X-Spam".to_string()]), None);
}

#[test]
fn mutated_messages_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let seeds: Vec<&[u8]> = vec![
        PLAIN.as_bytes(),
        ALTERNATIVE.as_bytes(),
        MIXED.as_bytes(),
        FORWARDED.as_bytes(),
        BROKEN.as_bytes(),
        LATIN1,
    ];
    for _ in 0..600 {
        let mut m = seeds[rng.below(seeds.len())].to_vec();
        for _ in 0..1 + rng.below(6) {
            let pos = rng.below(m.len() + 1);
            match rng.below(4) {
                0 | 1 => {
                    let f = FRAGMENTS[rng.below(FRAGMENTS.len())];
                    m.splice(pos..pos, f.iter().copied());
                }
                2 => {
                    let end = (pos + rng.below(40)).min(m.len());
                    m.drain(pos..end);
                }
                _ => m.truncate(pos),
            }
        }
        exercise(&m);
    }
}

#[test]
fn odd_inputs() {
    for raw in [
        &b""[..],
        b"\n",
        b"\r\n\r\n",
        b":",
        b"--",
        b"\0\0\0",
        b"Subject: =?utf-8?b?",
        b"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n\n--\n",
        b"Content-Type: message/rfc822\n\n",
        b"Content-Type: multipart/digest; boundary=d\n\n--d\n\n--d\n\nSubject: x\n--d--",
        b"To: (((((\nFrom: \"\\\nCc: <@a,@b,@\n\n",
    ] {
        exercise(raw);
    }
}

#[test]
fn deep_nesting_is_bounded() {
    let depth = 3000;
    let mut m = Vec::new();
    for i in 0..depth {
        // "b{i}x": no boundary is a prefix of another
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}x\n\n--b{i}x\n").as_bytes(),
        );
    }
    m.extend_from_slice(b"\ninnermost\n");
    let a = analyse(&m);
    let bs = a.bodystructure(true);
    // 100 levels of multipart at most, the rest is an opaque leaf
    assert!(bs.matches("\"mixed\" (\"boundary\"").count() <= 100);
    assert_eq!(Analysis::from_cache(&a.to_cache()).as_ref(), Some(&a));

    let mut m = Vec::new();
    for _ in 0..depth {
        m.extend_from_slice(b"Content-Type: message/rfc822\n\n");
    }
    m.extend_from_slice(b"Subject: inner\n\nx\n");
    let a = analyse(&m);
    let body = a.bodystructure(false);
    assert_eq!(body.matches("\"rfc822\"").count(), 100);
    assert!(body.contains("\"application\" \"octet-stream\""));
    exercise(&m);
}

#[test]
fn part_count_is_bounded() {
    let mut m = b"Content-Type: multipart/mixed; boundary=x\n\n".to_vec();
    for _ in 0..20_000 {
        m.extend_from_slice(b"--x\n\nhi\n");
    }
    m.extend_from_slice(b"--x--\n");
    let a = analyse(&m);
    let parts = a
        .bodystructure(false)
        .matches("(\"text\" \"plain\"")
        .count();
    assert!((9_000..=10_000).contains(&parts), "{parts}");
}

#[test]
fn long_lines_and_large_bodies() {
    let mut m = b"Subject: big\nContent-Type: text/plain\nMIME-Version: 1.0\n\n".to_vec();
    m.extend(std::iter::repeat_n(b'a', 2_000_000));
    m.extend_from_slice(b"\nend\n");
    let a = analyse(&m);
    assert_eq!(
        a.bodystructure(false),
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2000007 2)"#
    );
    assert!(body_contains(&m, "aaaa"));
    assert!(body_contains(&m, "END"));
}

#[test]
fn inputs_with_crlf_lf_and_lone_cr_mixed() {
    // A file with CRLFs was stored as received: its bare LFs stay bare.
    let raw = b"Subject: mixed\r\nFrom: a@b\nX: y\r\r\n\r\nline1\rline2\nline3\r\n";
    let a = analyse(raw);
    assert_eq!(a.size(), raw.len() as u64);
    assert_eq!(
        section(
            raw,
            &Section {
                part: vec![],
                text: Some(SectionText::Text)
            }
        ),
        b"line1\rline2\nline3\r\n"
    );
    // An LF file is the LF form of CRLF text: every LF is a CRLF.
    let lf = b"Subject: lf\n\nline1\rline2\nline3\n";
    assert_eq!(analyse(lf).size(), lf.len() as u64 + 4);
}
