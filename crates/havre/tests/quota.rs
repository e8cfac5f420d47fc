//! Quotas at delivery: a full mailbox refuses new mail at RCPT (552 5.2.2,
//! or 452 4.2.2 with mailbox.quota_full_tempfail), and LMTP checks each
//! message against what is left before it stores the copy.

use havre_testkit::{Havre, python_ok};

/// Sends one message of about `size` bytes over LMTP to each of `rcpts`,
/// raw, and prints every reply line.
const LMTP_SEND: &str = r#"
import socket, sys
port, size, rcpts = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port), timeout=30)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode().strip()
        if line[3] == " ":
            print(line)
            return line
reply()
s.sendall(b"LHLO client.test\r\n"); reply()
s.sendall(b"MAIL FROM:<sender@remote.test>\r\n"); reply()
accepted = 0
for r in rcpts:
    s.sendall(f"RCPT TO:<{r}>\r\n".encode())
    if reply().startswith("250"):
        accepted += 1
if accepted:
    s.sendall(b"DATA\r\n"); reply()
    line = b"x" * 78 + b"\r\n"
    s.sendall(b"Subject: big\r\n\r\n" + line * max(1, size // 80) + b".\r\n")
    for _ in range(accepted):
        reply()
s.sendall(b"QUIT\r\n"); reply()
"#;

fn node_with_small_quota() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("bob@example.test");
    node.cli_ok(&[
        "user",
        "add",
        "carol@example.test",
        "--class",
        "student",
        "--quota",
        "20K",
    ]);
    node.start();
    node
}

#[test]
fn a_student_whose_mailbox_is_full_gets_552_5_2_2_and_others_still_get_their_mail() {
    let node = node_with_small_quota();
    let port = node.lmtp_port.to_string();
    // 15 KB fits in 20 KB.
    let first = python_ok(LMTP_SEND, &[&port, "15000", "carol@example.test"]);
    assert!(first.contains("250 2.0.0 <carol@example.test>"), "{first}");
    let shown = node.cli_ok(&["user", "quota", "carol@example.test"]);
    assert!(
        shown.starts_with("carol@example.test: ") && shown.contains(" used of 20K ("),
        "{shown}"
    );
    // 10 KB more would not: the message is refused for her alone, after
    // the dot, and bob gets his copy.
    let second = python_ok(
        LMTP_SEND,
        &[&port, "10000", "carol@example.test", "bob@example.test"],
    );
    assert!(
        second.contains("552 5.2.2 <carol@example.test>: Mailbox is full"),
        "{second}"
    );
    assert!(second.contains("250 2.0.0 <bob@example.test>"), "{second}");
    assert_eq!(node.messages("carol@example.test").len(), 1);
    assert_eq!(node.messages("bob@example.test").len(), 1);
    // Her quota lowered below what she holds: now she is refused at RCPT,
    // before any data is sent.
    node.cli_ok(&["user", "modify", "carol@example.test", "--quota", "10K"]);
    let full = python_ok(LMTP_SEND, &[&port, "100", "carol@example.test"]);
    assert!(
        full.contains("552 5.2.2 <carol@example.test>: Mailbox is full"),
        "{full}"
    );
    assert!(!full.contains("354"), "no DATA for nobody: {full}");
    let shown = node.cli_ok(&["user", "quota", "carol@example.test", "--json"]);
    assert!(shown.contains("\"limit\": 10240"), "{shown}");
}

#[test]
fn with_quota_full_tempfail_a_full_mailbox_defers_with_452_4_2_2() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.cli_ok(&["user", "add", "carol@example.test", "--quota", "1K"]);
    node.set("mailbox.quota_full_tempfail", "true");
    node.start();
    let port = node.lmtp_port.to_string();
    let over = python_ok(LMTP_SEND, &[&port, "4000", "carol@example.test"]);
    assert!(
        over.contains("452 4.2.2 <carol@example.test>: Mailbox is full"),
        "{over}"
    );
    // The MX refuses her at RCPT a message whose announced SIZE is over
    // what is left (smtplib announces it).
    let smtp = python_ok(
        r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
try:
    s.sendmail("sender@remote.test", ["carol@example.test"], b"Subject: x\r\n\r\n" + b"y" * 4000 + b"\r\n")
except smtplib.SMTPRecipientsRefused as e:
    code, text = e.recipients["carol@example.test"]
    print(code, text.decode())
s.quit()
"#,
        &[&node.smtp_port.to_string()],
    );
    assert!(
        smtp.contains("452 4.2.2 <carol@example.test>: Mailbox is full"),
        "{smtp}"
    );
    assert!(node.messages("carol@example.test").is_empty());
}

#[test]
fn a_delivery_that_takes_her_past_80_percent_brings_her_one_warning() {
    let node = node_with_small_quota();
    let port = node.lmtp_port.to_string();
    // 17 KB of 20 KB: past 80%.
    let sent = python_ok(LMTP_SEND, &[&port, "17000", "carol@example.test"]);
    assert!(sent.contains("250 2.0.0 <carol@example.test>"), "{sent}");
    let messages = node.wait_for_messages("carol@example.test", 2);
    let warnings: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains("Subject: Your mailbox is 80% full"))
        .collect();
    assert_eq!(warnings.len(), 1, "{messages:?}");
    assert!(warnings[0].contains("Auto-Submitted: auto-generated"));
    assert!(
        warnings[0].starts_with("Return-Path: <>"),
        "{}",
        warnings[0]
    );
    // The next small message crosses nothing: no second warning.
    python_ok(LMTP_SEND, &[&port, "100", "carol@example.test"]);
    node.wait_for_messages("carol@example.test", 3);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let messages = node.messages("carol@example.test");
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("Subject: Your mailbox is"))
            .count(),
        1
    );
}

#[test]
fn a_message_the_mx_took_for_a_mailbox_it_does_not_fit_bounces_with_5_2_2() {
    let node = node_with_small_quota();
    // No SIZE announced: RCPT cannot tell, the relay finds it too big.
    let sent = python_ok(
        r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode().strip()
        if line[3] == " ":
            return line
reply()
for command in [b"EHLO client.test", b"MAIL FROM:<sender@example.test>", b"RCPT TO:<carol@example.test>", b"DATA"]:
    s.sendall(command + b"\r\n")
    print(reply())
s.sendall(b"Subject: too big\r\n\r\n" + (b"z" * 78 + b"\r\n") * 400 + b".\r\n")
print(reply())
s.sendall(b"QUIT\r\n")
"#,
        &[&node.smtp_port.to_string()],
    );
    assert!(sent.contains("250 2.0.0 Ok: queued as"), "{sent}");
    node.wait_for_log("dsn=5.2.2, status=bounced", 1);
    assert!(node.messages("carol@example.test").is_empty());
}

#[test]
fn a_student_without_a_quota_of_her_own_has_her_classs_and_unlimited_exempts_one() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set(
        "mailbox.class_quotas",
        r#"{ student = "1K", staff = "1G" }"#,
    );
    node.cli_ok(&["user", "add", "dan@example.test", "--class", "student"]);
    node.cli_ok(&[
        "user",
        "add",
        "eve@example.test",
        "--class",
        "student",
        "--quota",
        "unlimited",
    ]);
    node.start();
    let port = node.lmtp_port.to_string();
    let sent = python_ok(
        LMTP_SEND,
        &[&port, "4000", "dan@example.test", "eve@example.test"],
    );
    assert!(
        sent.contains("552 5.2.2 <dan@example.test>: Mailbox is full"),
        "{sent}"
    );
    assert!(sent.contains("250 2.0.0 <eve@example.test>"), "{sent}");
    let dan = node.cli_ok(&["user", "quota", "dan@example.test"]);
    assert!(dan.contains(" used of 1K"), "{dan}");
    let eve = node.cli_ok(&["user", "quota", "eve@example.test"]);
    assert!(eve.contains(" used of unlimited"), "{eve}");
}
