//! Alias loops never swallow mail: an address that only loops is refused at
//! RCPT while the client is there to tell its sender, and a queued message
//! whose recipient became a loop since is bounced, not dropped.

use havre_testkit::{Havre, python_ok, swaks};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

/// `loopa -> loopb -> loopa`, built the way an operator would end up with it:
/// `alias add` refuses a target that is nobody, so the chain first reached a
/// user, then lost her.
fn make_loop(node: &Havre) {
    node.add_user("carol@example.test");
    node.cli_ok(&["alias", "add", "loopa@example.test", "carol@example.test"]);
    node.cli_ok(&["alias", "add", "loopb@example.test", "loopa@example.test"]);
    node.cli_ok(&["alias", "add", "loopa@example.test", "loopb@example.test"]);
    node.cli_ok(&[
        "alias",
        "remove",
        "loopa@example.test",
        "carol@example.test",
    ]);
}

const SEND: &str = r#"
import smtplib, sys
port, rcpt = sys.argv[1], sys.argv[2]
msg = f"From: sender@remote.test\r\nTo: {rcpt}\r\nSubject: loop\r\n\r\nHello.\r\n"
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
    s.ehlo("client.test")
    try:
        print("SENT", s.sendmail("sender@remote.test", [rcpt], msg))
    except smtplib.SMTPRecipientsRefused as e:
        for addr, (code, text) in e.recipients.items():
            print("REFUSED", code, text.decode())
"#;

#[test]
fn mail_to_an_alias_loop_is_refused_at_rcpt_with_550_5_4_6_and_nothing_is_queued() {
    let mut node = Havre::init(BIN);
    make_loop(&node);
    node.start();
    let port = node.smtp_port.to_string();
    for rcpt in ["loopa@example.test", "loopb@example.test"] {
        let out = python_ok(SEND, &[&port, rcpt]);
        assert_eq!(
            out.trim(),
            format!("REFUSED 550 5.4.6 <{rcpt}>: Recipient address rejected: mail forwarding loop"),
            "{}",
            node.log()
        );
    }
    let log = node.log();
    assert!(
        log.contains(
            "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.4.6 <loopa@example.test>"
        ),
        "{log}"
    );
    assert!(!log.contains("nrcpt=0"), "{log}");
    assert_eq!(node.queued(), 0);
    assert_eq!(node.spool_files("tmp"), 0);
}

#[test]
fn a_queued_message_whose_recipient_became_a_loop_bounces_to_its_sender() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    // Accept and queue, but deliver nothing yet: no relay role.
    node.set(
        "server.roles",
        r#"["mx", "submission", "lmtp", "imap", "pop3"]"#,
    );
    node.start();
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "alice@example.test",
        "--to",
        "bob@example.test",
        "--header",
        "Subject: before the change",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(node.queued(), 1);
    // Meanwhile bob leaves and his address becomes a loop.
    node.cli_ok(&["alias", "add", "bob@example.test", "alice@example.test"]);
    node.cli_ok(&["alias", "add", "loop@example.test", "bob@example.test"]);
    node.cli_ok(&["user", "remove", "bob@example.test"]);
    node.cli_ok(&["alias", "add", "bob@example.test", "loop@example.test"]);
    node.cli_ok(&["alias", "remove", "bob@example.test", "alice@example.test"]);
    node.stop();
    node.set(
        "server.roles",
        r#"["mx", "submission", "relay", "lmtp", "imap", "pop3"]"#,
    );
    node.start();
    let messages = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(messages.len(), 1, "{}", node.log());
    let dsn = &messages[0];
    assert!(dsn.starts_with("Return-Path: <>\n"), "{dsn}");
    assert!(
        dsn.contains("Final-Recipient: rfc822; bob@example.test"),
        "{dsn}"
    );
    assert!(dsn.contains("Status: 5.4.6"), "{dsn}");
    assert!(dsn.contains("Subject: before the change"), "{dsn}");
    node.wait_for_empty_queue();
    let log = node.log();
    assert!(
        log.contains("to=<bob@example.test>, relay=local")
            && log.contains("dsn=5.4.6, status=bounced (mail forwarding loop)"),
        "{log}"
    );
}
