//! ENVELOPE, compared with what Dovecot 2.3.19 answers for the same bytes.

mod common;

use common::*;
use havre_message::analyse;

#[test]
fn plain_mail_envelope_defaults_sender_and_reply_to_to_from() {
    assert_eq!(
        analyse(PLAIN.as_bytes()).envelope(),
        concat!(
            r#"("Tue, 04 Mar 2025 10:15:00 +0100" "Lunch on Friday?""#,
            r#" (("Alice Martin" NIL "alice" "example.org"))"#,
            r#" (("Alice Martin" NIL "alice" "example.org"))"#,
            r#" (("Alice Martin" NIL "alice" "example.org"))"#,
            r#" (("Bob Dupont" NIL "bob" "example.com")(NIL NIL "carol" "example.net"))"#,
            r#" (("Dave (IT)" NIL "dave" "example.com")) NIL NIL"#,
            r#" "<20250304101500.1234@example.org>")"#
        )
    );
}

#[test]
fn groups_quotes_broken_addresses_and_folded_ids() {
    let message = "From: \"Joe Q. Public\" <john.q.public@example.com>\n\
        To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\n\
        Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\n\
        Bcc: undisclosed-recipients:;\n\
        Reply-To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\n\
        Sender: user\n\
        Subject:   Re:  spaced   subject  \n\
        In-Reply-To: <a@b>\n <c@d>\n\
        Message-ID:\n <x@y>\n\
        \n\
        body";
    assert_eq!(
        analyse(message.as_bytes()).envelope(),
        concat!(
            "(NIL {18}\r\nRe: spaced subject",
            r#" (("Joe Q. Public" NIL "john.q.public" "example.com"))"#,
            r#" ((NIL NIL "user" "MISSING_DOMAIN"))"#,
            r#" ((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")"#,
            r#"("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL))"#,
            r#" (("Mary Smith" NIL "mary" "x.test")(NIL NIL "jdoe" "example.org")("Who?" NIL "one" "y.test"))"#,
            r#" ((NIL NIL "boss" "nil.test")({16}"#,
            "\r\nGiant; \"Big\" Box NIL \"sysservices\" \"example.net\"))",
            r#" ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))"#,
            r#" "<a@b> <c@d>" " <x@y>")"#
        )
    );
}

#[test]
fn repeated_headers_last_subject_wins_addresses_add_up_and_8bit_goes_in_literals() {
    let message = "Date: Mon, 10 Mar 2025 10:00:00 +0000\nTo: a@b\nTo: c@d\n\
        Subject: first\nSubject: second\nFrom: Caf\u{e9} Owner <cafe@example.fr>\n\
        Cc: x@y.z (Comment Name)\n\nx\n";
    let from = "(({11}\r\nCaf\u{e9} Owner NIL \"cafe\" \"example.fr\"))";
    assert_eq!(
        analyse(message.as_bytes()).envelope(),
        format!(
            r#"("Mon, 10 Mar 2025 10:00:00 +0000" "second" {from} {from} {from} ((NIL NIL "a" "b")(NIL NIL "c" "d")) (("Comment Name" NIL "x" "y.z")) NIL NIL NIL)"#
        )
    );
}

#[test]
fn forwarded_message_envelope_is_the_outer_one() {
    let env = analyse(FORWARDED.as_bytes()).envelope();
    assert!(env.starts_with(r#"("Fri, 07 Mar 2025 09:00:00 +0100" "Fwd: Spring sale: 20% off""#));
    assert!(
        env.ends_with(r#"(("Erin" NIL "erin" "example.org")) NIL NIL NIL "<fwd-1@example.com>")"#)
    );
}
