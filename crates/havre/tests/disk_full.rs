//! A full disk: havre says 452 4.3.1 and never 250 for a message it did not
//! store, then serves again by itself once space is back.
//!
//! The node's data directory is a tmpfs of 20 MB that the test mounts (root
//! only) and fills.

use std::time::{Duration, Instant};

use havre_testkit::{Havre, SmallDisk, python_ok};

/// Sends `count` messages of about 2.5 KB on one connection each and prints one
/// line per message: the reply that ended its transaction ("250 <queue id>" or
/// "<code> <text>").
const SEND: &str = r#"
import smtplib, sys
port, count, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(count):
    token = f"{tag}-{i}"
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.ehlo("sender.test")
        code, text = s.mail("x@remote.test")
        if code == 250:
            code, text = s.rcpt("alice@example.test")
        if code == 250:
            body = f"Subject: {token}\r\nX-Token: {token}\r\n\r\n" + ("y" * 998 + "\r\n") * 2
            code, text = s.data(body)
        print(token, code, text.decode())
        s.quit()
    except smtplib.SMTPResponseException as e:
        print(token, e.smtp_code, e.smtp_error.decode())
"#;

struct Reply {
    token: String,
    code: u16,
    text: String,
}

fn send(node: &Havre, count: usize, tag: &str) -> Vec<Reply> {
    python_ok(
        SEND,
        &[&node.smtp_port.to_string(), &count.to_string(), tag],
    )
    .lines()
    .map(|line| {
        let mut parts = line.splitn(3, ' ');
        Reply {
            token: parts.next().unwrap_or_default().to_string(),
            code: parts.next().unwrap_or_default().parse().unwrap_or(0),
            text: parts.next().unwrap_or_default().to_string(),
        }
    })
    .collect()
}

fn tokens_delivered(node: &Havre) -> Vec<String> {
    node.messages("alice@example.test")
        .iter()
        .filter_map(|m| m.lines().find_map(|l| l.strip_prefix("X-Token: ")))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_full_disk_gets_452_never_a_false_250_and_mail_flows_again_when_space_is_freed() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    // MAIL needs 1.5 x 4 KB free: with 8 KB left the check lets the first
    // message in and its writes (spool file, database) hit the wall; then the
    // check itself answers.
    node.set("smtp.message_size_limit", "\"4K\"");
    let disk = SmallDisk::mount_over(&node.data_dir(), "20m");
    node.start();
    let first = send(&node, 1, "before");
    assert_eq!(first[0].code, 250, "{}", first[0].text);
    // Delivered and out of the queue before the disk fills: a slow relay
    // writing it afterwards would take the 8 KB left, and every MAIL would
    // be refused by the check before any write could hit the wall.
    assert!(
        node.wait_for_log("havre/qmgr[", 2)
            .lines()
            .any(|l| l.contains("havre/qmgr[") && l.ends_with(": removed")),
        "{}",
        node.log()
    );

    disk.fill(8 * 1024);
    let replies = send(&node, 12, "full");
    let mut acknowledged: Vec<String> = vec!["before-0".into()];
    for reply in &replies {
        match reply.code {
            250 => acknowledged.push(reply.token.clone()),
            452 => assert!(
                reply.text.contains("4.3.1"),
                "{}: {} {}",
                reply.token,
                reply.code,
                reply.text
            ),
            other => panic!(
                "{}: a full disk must be 452 4.3.1, not {other} {}",
                reply.token, reply.text
            ),
        }
    }
    assert!(
        replies.iter().filter(|r| r.code == 452).count() >= 5,
        "the disk never looked full: {:?}",
        replies.iter().map(|r| r.code).collect::<Vec<_>>()
    );

    assert!(
        node.log().contains("cannot queue: "),
        "no write hit the full disk (only the MAIL check answered):\n{}",
        node.log()
    );
    // The events of those sessions are not written into the space mail
    // needs: dropped, and said so (once the writer's batch, collected for a
    // quarter of a second, is due).
    node.wait_for_log(
        "event(s) dropped so far: the disk is nearly full and mail comes first",
        1,
    );

    // IMAP says so too, in Dovecot's words.
    let append = python_ok(
        r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
try:
    print(m.append("INBOX", None, None, b"Subject: draft\r\n\r\n" + b"z" * 3500 + b"\r\n"))
except imaplib.IMAP4.error as e:
    print("NO", e)
"#,
        &[&node.imap_port.to_string()],
    );
    assert!(
        append.contains("[OVERQUOTA]"),
        "APPEND on a full disk: {append}"
    );

    // Everything is back by itself once space is freed, even across a crash.
    disk.free();
    let after = send(&node, 3, "after");
    for reply in &after {
        assert_eq!(reply.code, 250, "{}: {}", reply.token, reply.text);
        acknowledged.push(reply.token.clone());
    }
    node.kill9();
    node.start();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered = tokens_delivered(&node);
        let missing: Vec<&String> = acknowledged
            .iter()
            .filter(|t| !delivered.contains(t))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged but never delivered: {missing:?}\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = node.cli_ok(&["user", "list"]);
    assert!(
        out.contains("alice@example.test"),
        "the CLI still works: {out}"
    );
    node.stop();
    drop(disk);
}
