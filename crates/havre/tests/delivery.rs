//! Mail from the Internet to local users, with real clients.

use havre_testkit::{Havre, python_ok, swaks};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    node.cli_ok(&[
        "alias",
        "add",
        "team@example.test",
        "alice@example.test",
        "bob@example.test",
    ]);
    node.start();
    node
}

/// smtplib.sendmail with one recipient; prints the reply or the refusal.
const SEND: &str = r#"
import smtplib, sys
port, sender, rcpt, token = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
msg = f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {token}\r\nX-Token: {token}\r\n\r\nHello {token}.\r\n"
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
    s.ehlo("client.test")
    try:
        refused = s.sendmail(sender, [rcpt], msg)
        print("SENT", refused)
    except smtplib.SMTPRecipientsRefused as e:
        for addr, (code, text) in e.recipients.items():
            print("REFUSED", code, text.decode())
"#;

fn smtplib_send(node: &Havre, rcpt: &str, token: &str) -> String {
    let port = node.smtp_port.to_string();
    python_ok(SEND, &[&port, "sender@remote.test", rcpt, token])
}

#[test]
fn mail_to_a_user_lands_in_her_maildir_with_return_path_delivered_to_and_received() {
    let node = node();
    assert!(smtplib_send(&node, "alice@example.test", "t-user").starts_with("SENT"));
    let messages = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(messages.len(), 1, "log:\n{}", node.log());
    let m = &messages[0];
    assert!(m.starts_with("Return-Path: <sender@remote.test>\nDelivered-To: alice@example.test\nReceived: from client.test (localhost [127.0.0.1])\n"), "{m}");
    assert!(
        m.contains("by mx.example.test (havre) with ESMTP id "),
        "{m}"
    );
    assert!(m.contains("X-Token: t-user\n"));
    assert!(
        !m.contains('\r'),
        "Maildir files use LF line endings like Dovecot's"
    );
    // The queue id of Received: is the one in the logs, Postfix-style (the
    // relay logs after the mailbox is written: wait for it to finish).
    node.wait_for_empty_queue();
    let id = m
        .split("with ESMTP id ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let log = node.log();
    assert!(
        log.contains(&format!("{id}: from=<sender@remote.test>, size=")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{id}: to=<alice@example.test>, relay=local")),
        "{log}"
    );
    assert!(log.contains("status=sent"), "{log}");
}

#[test]
fn an_alias_with_two_targets_reaches_both_mailboxes_once() {
    let node = node();
    assert!(smtplib_send(&node, "team@example.test", "t-alias").starts_with("SENT"));
    for user in ["alice@example.test", "bob@example.test"] {
        let messages = node.wait_for_messages(user, 1);
        assert_eq!(messages.len(), 1, "{user}");
        assert!(messages[0].contains(&format!("Delivered-To: {user}\n")));
    }
    node.wait_for_empty_queue();
    assert_eq!(node.messages("alice@example.test").len(), 1);
}

#[test]
fn sub_addressing_delivers_user_plus_tag_to_the_user() {
    let node = node();
    assert!(smtplib_send(&node, "alice+lists@example.test", "t-tag").starts_with("SENT"));
    let messages = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("X-Token: t-tag"));
}

#[test]
fn an_unknown_user_is_refused_with_550_5_1_1_during_the_dialogue() {
    let node = node();
    let out = smtplib_send(&node, "nobody@example.test", "t-unknown");
    assert!(out.starts_with("REFUSED 550 5.1.1"), "{out}");
    assert!(node.log().contains(
        "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nobody@example.test>"
    ));
}

#[test]
fn relaying_to_a_foreign_domain_is_refused_with_554_5_7_1() {
    let node = node();
    let out = smtplib_send(&node, "someone@elsewhere.test", "t-relay");
    assert!(out.starts_with("REFUSED 554 5.7.1"), "{out}");
    assert!(out.contains("Relay access denied"), "{out}");
}

#[test]
fn swaks_delivers_to_a_user_an_alias_and_a_tag_and_is_refused_elsewhere() {
    let node = node();
    let server = node.smtp_addr();
    let ok = |to: &str| {
        let out = swaks(&[
            "--server",
            &server,
            "--from",
            "x@remote.test",
            "--to",
            to,
            "--header",
            &format!("X-Token: swaks-{to}"),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "swaks to {to}: {text}");
        assert!(text.contains("<-  250 2.0.0 Ok: queued as "), "{text}");
    };
    ok("alice@example.test");
    ok("team@example.test");
    ok("bob+x@example.test");
    assert_eq!(node.wait_for_messages("alice@example.test", 2).len(), 2);
    assert_eq!(node.wait_for_messages("bob@example.test", 2).len(), 2);

    for (to, reply) in [
        ("ghost@example.test", "550 5.1.1"),
        ("x@elsewhere.test", "554 5.7.1"),
    ] {
        let out = swaks(&["--server", &server, "--from", "x@remote.test", "--to", to]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!out.status.success());
        assert!(text.contains(&format!("<** {reply}")), "{to}: {text}");
    }
}

#[test]
fn swaks_over_starttls_delivers_and_the_received_header_says_esmtps() {
    let node = node();
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "x@remote.test",
        "--to",
        "alice@example.test",
        "-tls",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("<-  220 2.0.0 Ready to start TLS"), "{text}");
    let messages = node.wait_for_messages("alice@example.test", 1);
    assert!(messages[0].contains("with ESMTPS id"), "{}", messages[0]);
}

#[test]
fn chunking_with_bdat_delivers_the_exact_bytes() {
    let node = node();
    let script = r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode()
        lines.append(line.strip())
        if line[3] == " ":
            return lines
reply()
s.sendall(b"EHLO client.test\r\n"); ehlo = reply()
assert "250 CHUNKING" in ehlo or "250-CHUNKING" in ehlo, ehlo
s.sendall(b"MAIL FROM:<x@remote.test>\r\n"); print(reply()[-1])
s.sendall(b"RCPT TO:<alice@example.test>\r\n"); print(reply()[-1])
part1 = b"Subject: chunked\r\nX-Token: bdat\r\n\r\n.line starting with a dot\r\n"
part2 = b"end\r\n"
s.sendall(b"BDAT %d\r\n" % len(part1) + part1); print(reply()[-1])
s.sendall(b"BDAT %d LAST\r\n" % len(part2) + part2); print(reply()[-1])
s.sendall(b"QUIT\r\n"); print(reply()[-1])
"#;
    let text = python_ok(script, &[&node.smtp_port.to_string()]);
    assert!(text.contains("250 2.0.0 Ok: queued as"), "{text}");
    let messages = node.wait_for_messages("alice@example.test", 1);
    // BDAT content is not dot-stuffed: the leading dot stays.
    assert!(
        messages[0].ends_with("X-Token: bdat\n\n.line starting with a dot\nend\n"),
        "{}",
        messages[0]
    );
}

#[test]
fn a_message_with_utf8_addresses_is_accepted_under_smtputf8() {
    let node = node();
    node.add_user("élodie@example.test");
    let script = r#"
import smtplib, sys
msg = "From: zoé@remote.test\r\nTo: élodie@example.test\r\nSubject: accents\r\n\r\nBonjour\r\n".encode()
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as s:
    s.ehlo("client.test")
    print(s.sendmail("zoé@remote.test", ["élodie@example.test"], msg, mail_options=["SMTPUTF8"]))
"#;
    python_ok(script, &[&node.smtp_port.to_string()]);
    let messages = node.wait_for_messages("élodie@example.test", 1);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("with UTF8SMTP id"), "{}", messages[0]);
}

#[test]
fn rcpt_to_a_bare_postmaster_is_accepted_and_reaches_the_postmaster_of_the_local_domain() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.cli_ok(&[
        "alias",
        "add",
        "postmaster@example.test",
        "alice@example.test",
    ]);
    node.start();
    // RFC 5321 4.5.1: "<postmaster>" without a domain must be accepted.
    let out = havre_testkit::dialogue(
        node.smtp_port,
        r#"
s, f = connect(); last(f)
s.sendall(b"EHLO client.test\r\n"); last(f)
s.sendall(b"MAIL FROM:<someone@remote.test>\r\n"); last(f)
s.sendall(b"RCPT TO:<Postmaster>\r\n"); print("rcpt:", last(f))
s.sendall(b"DATA\r\n"); last(f)
s.sendall(b"Subject: to the postmaster\r\nX-Token: bare-postmaster\r\n\r\nhello\r\n.\r\n"); print("data:", last(f))
s.sendall(b"QUIT\r\n"); last(f)
"#,
        &[],
    );
    assert!(out.contains("rcpt: 250 2.1.5"), "{out}");
    assert!(out.contains("data: 250 2.0.0"), "{out}");
    let messages = node.wait_for_messages("alice@example.test", 1);
    assert!(
        messages[0].contains("X-Token: bare-postmaster"),
        "{messages:?}"
    );
}

/// One client, one connection, 200 messages one after another: prints, per
/// message, its queue id (from the 250) and when MAIL FROM was sent.
const SEND_MANY: &str = r#"
import smtplib, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.ehlo("client.test")
    for i in range(count):
        sent = time.time()
        code, _ = s.mail("sender@remote.test")
        assert code == 250, code
        code, _ = s.rcpt("alice@example.test")
        assert code == 250, code
        code, reply = s.data(f"Subject: {i}\r\n\r\nmessage {i}\r\n".encode())
        assert code == 250, (code, reply)
        print(reply.decode().split("queued as ")[1], sent)
"#;

/// The log's stamp of a line, in unix seconds (milliseconds truncated).
fn stamp(line: &str) -> f64 {
    let word = line.split(' ').next().unwrap();
    let at = chrono::DateTime::parse_from_str(word, "%Y-%m-%dT%H:%M:%S%.3f%:z").unwrap();
    at.timestamp_micros() as f64 / 1e6
}

#[test]
fn messages_sent_one_after_another_are_delivered_at_once_and_log_their_true_delay() {
    let node = node();
    let sent = python_ok(SEND_MANY, &[&node.smtp_port.to_string(), "200"]);
    let mail_sent: std::collections::HashMap<&str, f64> = sent
        .lines()
        .map(|line| {
            let (id, at) = line.split_once(' ').unwrap();
            (id, at.parse().unwrap())
        })
        .collect();
    assert_eq!(mail_sent.len(), 200, "{sent}");
    let log = node.wait_for_log("status=sent", 200);
    let mut checked = 0;
    for line in log.lines().filter(|l| l.contains("status=sent")) {
        // `<stamp> <host> havre/local[pid]: <id>: to=<...>, relay=local, delay=D, ...`
        let id = line.split(' ').nth(3).unwrap().trim_end_matches(':');
        let queued = log
            .lines()
            .find(|l| l.contains(id) && l.ends_with("(queue active)"))
            .unwrap();
        // No message waits for the relay's scan of the queue, once a
        // second: each is picked up as soon as it is queued.
        assert!(stamp(line) - stamp(queued) < 0.5, "{queued}\n{line}\n{log}");
        // And its delay says how long it really took: no more than from the
        // client's MAIL FROM to the log's stamp of the delivery (whose
        // milliseconds are truncated; the delay is rounded to 10 ms), where
        // whole seconds of arrival made it up to a second more.
        let delay: f64 = line
            .split("delay=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        let taken = stamp(line) - mail_sent[id];
        assert!(
            delay <= taken + 0.011,
            "delay={delay} but {taken:.3}s from MAIL FROM: {line}"
        );
        checked += 1;
    }
    assert_eq!(checked, 200, "{log}");
    assert_eq!(node.wait_for_messages("alice@example.test", 200).len(), 200);
}
