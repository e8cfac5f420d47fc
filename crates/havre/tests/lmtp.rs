//! The LMTP listener of the mailbox tier (RFC 2033): one reply per recipient.

use havre_testkit::{Havre, python_ok};

#[path = "support/lmtp_once.rs"]
mod lmtp_once;
use lmtp_once::SEND_ONE;

#[test]
fn lmtp_answers_each_recipient_and_delivers_straight_to_the_maildir() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    node.start();
    let script = r#"
import smtplib, sys
lmtp = smtplib.LMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
code, _ = lmtp.ehlo("director.test")   # smtplib's LMTP sends LHLO
print("lhlo:", code)
msg = b"Subject: via lmtp\r\nX-Token: lmtp\r\n\r\nhello\r\n"
try:
    lmtp.sendmail("sender@remote.test", ["alice@example.test", "ghost@example.test", "bob@example.test"], msg)
except smtplib.SMTPRecipientsRefused as e:
    print("refused all", e)
else:
    print("sent")
lmtp.quit()
"#;
    let text = python_ok(script, &[&node.lmtp_port.to_string()]);
    assert!(text.contains("lhlo: 250"), "{text}");
    assert!(text.contains("sent"), "{text}");
    // Delivered before the reply: no waiting for a queue.
    for user in ["alice@example.test", "bob@example.test"] {
        let messages = node.messages(user);
        assert_eq!(messages.len(), 1, "{user}");
        assert!(messages[0].starts_with("Return-Path: <sender@remote.test>\nDelivered-To: "));
        assert!(messages[0].contains("with LMTP id"));
    }
    // Refused after alice was accepted: the line names the transaction's id,
    // as Postfix's does once it has a queue file.
    assert!(
        node.log()
            .contains(": reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <ghost@example.test>"),
        "{}",
        node.log()
    );
}

#[test]
fn lmtp_gives_one_reply_per_accepted_recipient_after_the_dot() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    node.start();
    let script = r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def last():
    while True:
        line = f.readline().decode()
        if line[3] == " ":
            return line.strip()
last()
s.sendall(b"EHLO x\r\n"); print("ehlo:", last())
s.sendall(b"LHLO director.test\r\n"); last()
s.sendall(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
print(last(), last(), last(), last())
s.sendall(b"Subject: x\r\n\r\nbody\r\n.\r\n")
print("r1:", last()); print("r2:", last())
"#;
    let text = python_ok(script, &[&node.lmtp_port.to_string()]);
    assert!(text.contains("ehlo: 500 5.5.1"), "LMTP wants LHLO: {text}");
    assert!(
        text.contains("r1: 250 2.0.0 <alice@example.test>"),
        "{text}"
    );
    assert!(text.contains("r2: 250 2.0.0 <bob@example.test>"), "{text}");
}

#[test]
fn an_alias_deferred_for_one_of_its_mailboxes_is_not_delivered_twice_to_the_others_at_the_retry() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.add_user("carol@example.test");
    node.cli_ok(&["alias", "add", "staff@example.test", "alice@example.test"]);
    node.cli_ok(&["alias", "add", "staff@example.test", "carol@example.test"]);
    node.start();
    let port = node.lmtp_port.to_string();
    // carol's Maildir cannot take mail: its new/ is a file.
    let new = node.maildir("carol@example.test").join("new");
    std::fs::create_dir_all(new.parent().unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&new);
    std::fs::write(&new, "in the way").unwrap();
    let out = python_ok(SEND_ONE, &[&port, "staff@example.test", "minutes"]);
    assert!(
        out.contains("reply: 451 4.2.0 <staff@example.test>"),
        "{out}"
    );
    assert_eq!(node.messages("alice@example.test").len(), 1);
    // Repaired; Postfix sends the same message again: carol gets it, alice
    // does not get a second copy.
    std::fs::remove_file(&new).unwrap();
    std::fs::create_dir(&new).unwrap();
    let out = python_ok(SEND_ONE, &[&port, "staff@example.test", "minutes"]);
    assert!(
        out.contains("reply: 250 2.0.0 <staff@example.test>"),
        "{out}"
    );
    assert_eq!(node.messages("alice@example.test").len(), 1);
    assert_eq!(node.messages("carol@example.test").len(), 1);
    let log = node.log();
    assert!(
        log.contains("to=<alice@example.test>, orig_to=<staff@example.test>: delivered by an earlier attempt, skipped"),
        "{log}"
    );
    // Answered for good, the record is gone: the same message again (a
    // resend by hand) reaches both; another message reaches both.
    for subject in ["minutes", "agenda"] {
        let out = python_ok(SEND_ONE, &[&port, "staff@example.test", subject]);
        assert!(out.contains("reply: 250 2.0.0"), "{out}");
    }
    assert_eq!(node.messages("alice@example.test").len(), 3);
    assert_eq!(node.messages("carol@example.test").len(), 3);
}
