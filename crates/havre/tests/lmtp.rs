//! The LMTP listener of the mailbox tier (RFC 2033): one reply per recipient.

use havre_testkit::{Havre, python_ok};

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
