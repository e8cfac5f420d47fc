//! BODY, BODYSTRUCTURE and RFC822.SIZE of real-looking messages, compared
//! with what Dovecot 2.3.19 answers for the same bytes.

mod common;

use common::*;
use havre_message::analyse;

#[test]
fn plain_text_mail() {
    let a = analyse(PLAIN.as_bytes());
    assert_eq!(a.size(), 660);
    assert_eq!(
        a.bodystructure(true),
        r#"("text" "plain" ("charset" "utf-8" "format" "flowed") NIL NIL "7bit" 101 6 NIL NIL NIL NIL)"#
    );
    assert_eq!(
        a.bodystructure(false),
        r#"("text" "plain" ("charset" "utf-8" "format" "flowed") NIL NIL "7bit" 101 6)"#
    );
}

#[test]
fn multipart_alternative_with_quoted_printable_text_and_html() {
    let a = analyse(ALTERNATIVE.as_bytes());
    assert_eq!(a.size(), 705);
    assert_eq!(
        a.bodystructure(true),
        concat!(
            r#"(("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" 87 1 NIL NIL NIL NIL)"#,
            r#"("text" "html" ("charset" "UTF-8") NIL NIL "quoted-printable" 97 1 NIL NIL NIL NIL)"#,
            r#" "alternative" ("boundary" "----=_Part_1_2345.6789") NIL NIL NIL)"#
        )
    );
    assert_eq!(
        a.bodystructure(false),
        concat!(
            r#"(("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" 87 1)"#,
            r#"("text" "html" ("charset" "UTF-8") NIL NIL "quoted-printable" 97 1) "alternative")"#
        )
    );
}

#[test]
fn multipart_mixed_with_a_base64_attachment() {
    let a = analyse(MIXED.as_bytes());
    assert_eq!(a.size(), 731);
    assert_eq!(
        a.bodystructure(true),
        concat!(
            r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 58 5 NIL NIL NIL NIL)"#,
            r#"("application" "pdf" ("name" "invoice-2025-02.pdf") NIL NIL "base64" 134 NIL"#,
            r#" ("attachment" ("filename" "invoice-2025-02.pdf")) NIL NIL)"#,
            r#" "mixed" ("boundary" "b1_mixed") NIL NIL NIL)"#
        )
    );
}

const FORWARDED_ENVELOPE: &str = concat!(
    r#"("Wed, 05 Mar 2025 08:00:00 +0000" "Spring sale: 20% off""#,
    r#" (("Newsletter" NIL "news" "shop.example")) (("Newsletter" NIL "news" "shop.example"))"#,
    r#" (("Newsletter" NIL "news" "shop.example")) ((NIL NIL "bob" "example.com")) NIL NIL NIL"#,
    r#" "<abc.123@shop.example>")"#
);

#[test]
fn forwarded_message_rfc822_has_envelope_body_and_lines() {
    let a = analyse(FORWARDED.as_bytes());
    assert_eq!(a.size(), 858);
    let expected = format!(
        concat!(
            r#"(("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 35 1 NIL NIL NIL NIL)"#,
            r#"("message" "rfc822" NIL NIL NIL "7bit" 417 {} "#,
            r#"(("text" "plain" ("charset" "UTF-8") NIL NIL "7bit" 21 0 NIL NIL NIL NIL)"#,
            r#"("text" "html" ("charset" "UTF-8") NIL NIL "7bit" 35 0 NIL NIL NIL NIL)"#,
            r#" "alternative" ("boundary" "inner") NIL NIL NIL) 17 NIL ("inline" NIL) NIL NIL)"#,
            r#" "mixed" ("boundary" "outer") NIL NIL NIL)"#
        ),
        FORWARDED_ENVELOPE
    );
    assert_eq!(a.bodystructure(true), expected);
    let body = format!(
        concat!(
            r#"(("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 35 1)"#,
            r#"("message" "rfc822" NIL NIL NIL "7bit" 417 {} "#,
            r#"(("text" "plain" ("charset" "UTF-8") NIL NIL "7bit" 21 0)"#,
            r#"("text" "html" ("charset" "UTF-8") NIL NIL "7bit" 35 0) "alternative") 17) "mixed")"#
        ),
        FORWARDED_ENVELOPE
    );
    assert_eq!(a.bodystructure(false), body);
}

#[test]
fn latin1_body_and_encoded_words_stay_raw() {
    let a = analyse(LATIN1);
    assert_eq!(a.size(), 452);
    assert_eq!(
        a.bodystructure(true),
        r#"("text" "plain" ("charset" "ISO-8859-1") NIL NIL "8bit" 85 5 NIL NIL NIL NIL)"#
    );
    assert_eq!(
        a.envelope(),
        concat!(
            r#"("Sat, 08 Mar 2025 18:45:00 +0100""#,
            r#" "=?ISO-8859-1?Q?R=E9union_de_l'=E9quipe?= =?UTF-8?B?4oCTIGxlIDEyIG1hcnM=?=""#,
            r#" (("=?ISO-8859-1?Q?Fran=E7ois_M=FCller?=" NIL "francois" "example.fr"))"#,
            r#" (("=?ISO-8859-1?Q?Fran=E7ois_M=FCller?=" NIL "francois" "example.fr"))"#,
            r#" (("=?ISO-8859-1?Q?Fran=E7ois_M=FCller?=" NIL "francois" "example.fr"))"#,
            r#" (("=?UTF-8?B?QsO2Yg==?=" NIL "bob" "example.com")) NIL NIL NIL "<reunion@example.fr>")"#
        )
    );
}

#[test]
fn broken_mime_with_missing_closing_boundaries_ends_at_end_of_message() {
    let a = analyse(BROKEN.as_bytes());
    assert_eq!(a.size(), 413);
    assert_eq!(
        a.bodystructure(true),
        concat!(
            r#"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)"#,
            r#"("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 13 0 NIL NIL NIL NIL)"#,
            r#" "alternative" ("boundary" "inner") NIL NIL NIL)"#,
            r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 37 1 NIL NIL NIL NIL)"#,
            r#" "mixed" ("boundary" "outer") NIL NIL NIL)"#
        )
    );
}

#[test]
fn lf_and_crlf_storage_give_the_same_answers() {
    for message in [PLAIN, ALTERNATIVE, MIXED, FORWARDED, BROKEN] {
        let lf = analyse(message.as_bytes());
        let crlf = analyse(crlf(message).as_bytes());
        assert_eq!(lf.size(), crlf.size());
        assert_eq!(lf.bodystructure(true), crlf.bodystructure(true));
        assert_eq!(lf.envelope(), crlf.envelope());
    }
}

#[test]
fn message_without_mime_version_or_content_type_is_plain_us_ascii() {
    let a = analyse(b"From: a@b\nSubject: x\nContent-Transfer-Encoding: base64\n\naGk=\n");
    assert_eq!(
        a.bodystructure(true),
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)"#
    );
}

#[test]
fn empty_message_and_header_only_message() {
    let empty = analyse(b"");
    assert_eq!(empty.size(), 0);
    assert_eq!(
        empty.bodystructure(false),
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)"#
    );
    assert_eq!(
        empty.envelope(),
        "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    );
    let header_only = analyse(b"From: a@b\nSubject: only header");
    assert_eq!(
        header_only.bodystructure(false),
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)"#
    );
}

#[test]
fn broken_content_headers_degrade_like_dovecot() {
    // no subtype, unknown encoding token, a "multipart" that is not one
    let a = analyse(b"MIME-Version: 1.0\nContent-Type: text\nContent-Transfer-Encoding: ?x\n\nx\n");
    assert_eq!(
        a.bodystructure(true),
        r#"("text" "" ("charset" "us-ascii") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)"#
    );
    let a = analyse(b"MIME-Version: 1.0\nContent-Type: multipart\n\nx\n");
    assert_eq!(
        a.bodystructure(false),
        r#"("application" "octet-stream" NIL NIL NIL "7bit" 3)"#
    );
    let a = analyse(b"MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--x\n\nhi\n--x--\n");
    assert_eq!(
        a.bodystructure(false),
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")"#
    );
}

#[test]
fn rfc2231_parameters_are_merged_but_kept_encoded() {
    let a = analyse(
        b"MIME-Version: 1.0\nContent-Type: application/octet-stream;\n name*0=\"long\";\n name*1*=%20file%20name;\n name*2=\".bin\"\nContent-Disposition: attachment;\n filename*=UTF-8''caf%C3%A9.bin\nContent-Language: en-GB,\n fr\n\nAAEC\n",
    );
    assert_eq!(
        a.bodystructure(true),
        concat!(
            r#"("application" "octet-stream" ("name*" "''long%20file%20name.bin") NIL NIL "7bit" 6"#,
            r#" NIL ("attachment" ("filename*" "UTF-8''caf%C3%A9.bin")) ("en-GB" "fr") NIL)"#
        )
    );
}

/// Dovecot's own BODYSTRUCTURE test vectors (src/lib-imap/test-imap-bodystructure.c).
#[test]
fn dovecot_test_vectors() {
    let cases: [(&str, &str, &str); 4] = [
        (
            "From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nbody\n\n",
            r#"("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 8 2 NIL NIL NIL NIL)"#,
            r#"("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 8 2)"#,
        ),
        (
            "From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"foo\n bar\"\n\n--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n\nhello\n\n--foo bar--\n\n",
            r#"(("text" "x-myown" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL) "mixed" ("boundary" "foo bar") NIL NIL NIL)"#,
            r#"(("text" "x-myown" ("charset" "us-ascii") NIL NIL "7bit" 7 1) "mixed")"#,
        ),
        (
            "From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"foo bar\"\n\n--foo bar\nContent-Type: text/plain; charset=us-ascii\n\nSee attached...\n\n--foo bar\nContent-Type: message/rfc822\n\nFrom: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\nbody\n\n--foo bar--\n\n",
            r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 17 1 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 133 ("Sat, 24 Mar 2017 23:00:00 +0200" NIL ((NIL NIL "user" "domain.org")) ((NIL NIL "user" "domain.org")) ((NIL NIL "user" "domain.org")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL) "mixed" ("boundary" "foo bar") NIL NIL NIL)"#,
            r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 17 1)("message" "rfc822" NIL NIL NIL "7bit" 133 ("Sat, 24 Mar 2017 23:00:00 +0200" NIL ((NIL NIL "user" "domain.org")) ((NIL NIL "user" "domain.org")) ((NIL NIL "user" "domain.org")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1) 6) "mixed")"#,
        ),
        (
            "From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"foo\n bar\"\n\nRoot MIME prologue\n\n--foo bar\nContent-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\nContent-ID: <foo@example.com>\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\nContent-Disposition: inline; foo=bar\nContent-Description: hellodescription\nContent-Language: en, fi, se\nContent-Location: http://example.com/test.txt\n\nhello\n\n--foo bar\nContent-Type: message/rfc822\n\nFrom: sub@domain.org\nTo: sub-to1@domain.org, sub-to2@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\nContent-Type: multipart/alternative; boundary=\"sub1\"\n\nSub MIME prologue\n--sub1\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n<p>Hello world</p>\n\n--sub1\nContent-Type: text/plain\nContent-Transfer-Encoding: ?invalid\n\nHello another world\n\n--sub1--\nSub MIME epilogue\n\n--foo bar--\nRoot MIME epilogue\n",
            r#"(("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\"string") "<foo@example.com>" "hellodescription" "7bit" 7 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("inline" ("foo" "bar")) ("en" "fi" "se") "http://example.com/test.txt")("message" "rfc822" NIL NIL NIL "7bit" 412 ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL) (("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1 NIL NIL NIL NIL) "alternative" ("boundary" "sub1") NIL NIL NIL) 21 NIL NIL NIL NIL) "mixed" ("boundary" "foo bar") NIL NIL NIL)"#,
            r#"(("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\"string") "<foo@example.com>" "hellodescription" "7bit" 7 1)("message" "rfc822" NIL NIL NIL "7bit" 412 ("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) ((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL) (("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1) "alternative") 21) "mixed")"#,
        ),
    ];
    for (message, bodystructure, body) in cases {
        let a = analyse(message.as_bytes());
        assert_eq!(a.bodystructure(true), bodystructure, "{message}");
        assert_eq!(a.bodystructure(false), body, "{message}");
    }
}
