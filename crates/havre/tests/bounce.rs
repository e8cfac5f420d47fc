//! Bounces: a recipient that fails for good earns the sender a DSN (RFC 3464);
//! a bounce itself never bounces.

use havre_testkit::{Havre, swaks};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    // Accepted at RCPT (the alias exists), undeliverable later (its target
    // does not any more: `alias add` refuses a target that is nobody).
    node.add_user("ghost@example.test");
    node.cli_ok(&["alias", "add", "team@example.test", "ghost@example.test"]);
    node.cli_ok(&["user", "remove", "ghost@example.test"]);
    node.start();
    node
}

#[test]
fn a_failed_recipient_gives_the_sender_a_dsn_naming_it_and_the_reason() {
    let node = node();
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "alice@example.test",
        "--to",
        "team@example.test",
        "--header",
        "Subject: to the team",
    ]);
    assert!(out.status.success());
    let messages = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(messages.len(), 1, "{}", node.log());
    let dsn = &messages[0];
    assert!(dsn.starts_with("Return-Path: <>\n"), "{dsn}");
    assert!(
        dsn.contains("Subject: Undelivered Mail Returned to Sender"),
        "{dsn}"
    );
    assert!(
        dsn.contains("Content-Type: multipart/report; report-type=delivery-status;"),
        "{dsn}"
    );
    // Expanded at enqueue, like Postfix: the final address, and the one the
    // sender wrote.
    assert!(
        dsn.contains("Original-Recipient: rfc822; team@example.test\r\nFinal-Recipient: rfc822; ghost@example.test")
            || dsn.contains("Original-Recipient: rfc822; team@example.test\nFinal-Recipient: rfc822; ghost@example.test"),
        "{dsn}"
    );
    assert!(dsn.contains("Action: failed"), "{dsn}");
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    assert!(dsn.contains("ghost@example.test"), "{dsn}");
    assert!(
        dsn.contains("Subject: to the team"),
        "the original headers come back: {dsn}"
    );
    node.wait_for_empty_queue();
    assert!(
        node.log().contains("sender non-delivery notification:"),
        "{}",
        node.log()
    );
}

#[test]
fn mail_from_the_null_sender_never_bounces() {
    let node = node();
    havre_testkit::python_ok(
        r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.sendmail("", ["team@example.test"], b"Subject: a bounce of some other system\r\n\r\nx\r\n")
"#,
        &[&node.smtp_port.to_string()],
    );
    node.wait_for_empty_queue();
    assert!(
        node.log().contains("no bounce: null sender"),
        "{}",
        node.log()
    );
    assert!(node.messages("alice@example.test").is_empty());
}
