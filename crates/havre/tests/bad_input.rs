//! Bad input gets a reply or a closed connection, never a crash or a hang, and
//! the server keeps serving everyone else.

use havre_testkit::{Havre, dialogue};

fn node(configure: impl FnOnce(&mut Havre)) -> Havre {
    Havre::started(
        env!("CARGO_BIN_EXE_havre"),
        &["alice@example.test"],
        configure,
    )
}

/// Another client, served normally while a scenario misbehaves.
const HEALTHY: &str = r#"
def healthy():
    s, f = connect(); last(f)
    s.sendall(b"EHLO ok.test\r\n"); last(f)
    s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); last(f)
    s.sendall(b"RCPT TO:<alice@example.test>\r\n"); r = last(f)
    s.sendall(b"QUIT\r\n"); last(f)
    return r
"#;

fn run(node: &Havre, scenario: &str) -> String {
    dialogue(node.smtp_port, &format!("{HEALTHY}\n{scenario}"), &[])
}

#[test]
fn a_10_mb_line_gets_500_5_5_2_and_the_session_goes_on() {
    let node = node(|_| {});
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
s.sendall(b"EHLO " + b"a" * (10 * 1024 * 1024) + b"\r\n")
print("long:", last(f))
s.sendall(b"EHLO client.test\r\n"); print("after:", last(f))
print("other:", healthy())
"#,
    );
    assert!(
        text.contains("long: 500 5.5.2 Error: line too long"),
        "{text}"
    );
    assert!(text.contains("after: 250 CHUNKING"), "{text}");
    assert!(text.contains("other: 250 2.1.5"), "{text}");
}

#[test]
fn nul_bytes_and_garbage_get_error_replies() {
    let node = node(|_| {});
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
s.sendall(b"EH\x00LO x\r\n"); print("nul:", last(f))
s.sendall(b"\xff\xfe\xfd\r\n"); print("binary:", last(f))
s.sendall(b"MAIL FROM:<a\x00b@remote.test>\r\n"); print("nul-addr:", last(f))
s.sendall(b"EHLO client.test\r\n"); last(f)
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); last(f)
s.sendall(b"RCPT TO:<alice@example.test>\r\n"); last(f)
s.sendall(b"DATA\r\n"); last(f)
s.sendall(b"Subject: nul\r\nX-Token: nul\r\n\r\nbefore\x00after\r\n.\r\n"); print("data:", last(f))
print("other:", healthy())
"#,
    );
    assert!(text.contains("nul: 500 5.5.2"), "{text}");
    assert!(text.contains("binary: 500 5.5.2"), "{text}");
    assert!(text.contains("nul-addr: 5"), "{text}");
    assert!(text.contains("data: 250 2.0.0 Ok: queued as"), "{text}");
    assert!(text.contains("other: 250 2.1.5"), "{text}");
}

#[test]
fn commands_out_of_order_get_503_and_data_without_rcpt_gets_554() {
    let node = node(|_| {});
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); print("mail-before-ehlo:", last(f))
s.sendall(b"EHLO client.test\r\n"); last(f)
s.sendall(b"RCPT TO:<alice@example.test>\r\n"); print("rcpt-before-mail:", last(f))
s.sendall(b"DATA\r\n"); print("data-before-mail:", last(f))
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); last(f)
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); print("nested-mail:", last(f))
s.sendall(b"DATA\r\n"); print("data-without-rcpt:", last(f))
s.sendall(b"RCPT TO:<nobody@example.test>\r\n"); last(f)
s.sendall(b"DATA\r\n"); print("data-after-refused-rcpt:", last(f))
s.sendall(b"QUIT\r\n"); print("quit:", last(f))
"#,
    );
    for expected in [
        "mail-before-ehlo: 503 5.5.1",
        "rcpt-before-mail: 503 5.5.1",
        "data-before-mail: 503 5.5.1",
        "nested-mail: 503 5.5.1",
        "data-without-rcpt: 554 5.5.1",
        "data-after-refused-rcpt: 554 5.5.1",
        "quit: 221 2.0.0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn a_client_that_goes_silent_gets_421_4_4_2_and_others_are_served_meanwhile() {
    let node = node(|n| n.set("smtp.idle_timeout", "\"2s\""));
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
s.sendall(b"EHLO slow.test\r\n"); last(f)
print("other:", healthy())
start = time.time()
print("silent:", last(f), "after", int(time.time() - start), "s")
print("then:", last(f))
"#,
    );
    assert!(text.contains("other: 250 2.1.5"), "{text}");
    assert!(
        text.contains("silent: 421 4.4.2 mx.example.test Error: timeout exceeded"),
        "{text}"
    );
    assert!(text.contains("then: <closed>"), "{text}");
}

#[test]
fn a_client_silent_in_the_middle_of_data_is_dropped_and_nothing_is_queued() {
    let node = node(|n| n.set("smtp.idle_timeout", "\"2s\""));
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
s.sendall(b"EHLO slow.test\r\n"); last(f)
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); last(f)
s.sendall(b"RCPT TO:<alice@example.test>\r\n"); last(f)
s.sendall(b"DATA\r\n"); last(f)
s.sendall(b"Subject: never finished\r\n\r\nhalf a mess")
print("silent:", last(f))
"#,
    );
    assert!(text.contains("silent: 421 4.4.2"), "{text}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(node.messages("alice@example.test").is_empty());
    assert_eq!(node.spool_files("tmp"), 0);
    assert_eq!(node.queued(), 0);
}

#[test]
fn a_message_over_the_size_limit_gets_552_5_3_4_declared_or_not() {
    let node = node(|n| n.set("smtp.message_size_limit", "\"10k\""));
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
s.sendall(b"EHLO client.test\r\n"); print("ehlo:", reply(f))
s.sendall(b"MAIL FROM:<a@remote.test> SIZE=20000\r\n"); print("declared:", last(f))
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); last(f)
s.sendall(b"RCPT TO:<alice@example.test>\r\n"); last(f)
s.sendall(b"DATA\r\n"); last(f)
s.sendall(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 20 + b".\r\n"); print("undeclared:", last(f))
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); print("next:", last(f))
"#,
    );
    assert!(text.contains("SIZE 10240"), "{text}");
    assert!(text.contains("declared: 552 5.3.4"), "{text}");
    assert!(text.contains("undeclared: 552 5.3.4"), "{text}");
    assert!(text.contains("next: 250 2.1.0"), "{text}");
}

#[test]
fn the_101st_recipient_gets_452_4_5_3() {
    let node = node(|n| n.set("smtp.recipient_limit", "100"));
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
s.sendall(b"EHLO client.test\r\n"); last(f)
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); last(f)
# Pipelined: all RCPTs in one write (RFC 2920).
s.sendall(b"".join(b"RCPT TO:<alice+%d@example.test>\r\n" % i for i in range(101)))
replies = [last(f) for _ in range(101)]
print("first:", replies[0]); print("100th:", replies[99]); print("101st:", replies[100])
"#,
    );
    assert!(text.contains("first: 250 2.1.5"), "{text}");
    assert!(text.contains("100th: 250 2.1.5"), "{text}");
    assert!(text.contains("101st: 452 4.5.3"), "{text}");
}

#[test]
fn too_many_errors_end_the_session_with_421_4_7_0() {
    let node = node(|n| n.set("smtp.hard_error_limit", "5"));
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
for i in range(5):
    s.sendall(b"BOGUS\r\n"); r = last(f)
print("fifth:", r)
print("then:", last(f))
print("closed:", last(f))
print("other:", healthy())
"#,
    );
    // Like Postfix's smtpd_hard_error_limit: the error that reaches the limit is
    // answered, then the session ends at once.
    assert!(text.contains("fifth: 500 5.5.2"), "{text}");
    assert!(
        text.contains("then: 421 4.7.0 mx.example.test Error: too many errors"),
        "{text}"
    );
    assert!(text.contains("closed: <closed>"), "{text}");
    assert!(text.contains("other: 250 2.1.5"), "{text}");
}

#[test]
fn a_smuggled_second_message_behind_a_bare_lf_terminator_stays_inside_the_first() {
    let node = node(|_| {});
    let text = run(
        &node,
        r#"
s, f = connect(); last(f)
s.sendall(b"EHLO client.test\r\n"); last(f)
s.sendall(b"MAIL FROM:<a@remote.test>\r\n"); last(f)
s.sendall(b"RCPT TO:<alice@example.test>\r\n"); last(f)
s.sendall(b"DATA\r\n"); last(f)
s.sendall(b"Subject: outer\r\n\r\nhello\n.\nMAIL FROM:<evil@remote.test>\nRCPT TO:<alice@example.test>\nDATA\nSubject: smuggled\n\nsmuggled body\r\n.\r\n")
print("end:", last(f))
s.sendall(b"QUIT\r\n"); print("quit:", last(f))
"#,
    );
    assert!(text.contains("end: 250 2.0.0"), "{text}");
    assert!(text.contains("quit: 221"), "{text}");
    let messages = node.wait_for_messages("alice@example.test", 1);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let messages = if messages.len() == 1 {
        node.messages("alice@example.test")
    } else {
        messages
    };
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("Subject: smuggled"));
}
