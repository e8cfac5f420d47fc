//! No open relay, ever: every trick in the book is refused at RCPT.

use havre_testkit::{Havre, dialogue};

/// Sends raw RCPT lines in one session and prints each reply's first line.
const PROBE: &str = r#"
s, f = connect(); last(f)
s.sendall(b"EHLO attacker.test\r\n"); last(f)
for rcpt in sys.argv[2:]:
    s.sendall(b"RSET\r\n"); last(f)
    s.sendall(b"MAIL FROM:<spammer@attacker.test> SMTPUTF8\r\n"); last(f)
    s.sendall(b"RCPT TO:" + rcpt.encode() + b"\r\n")
    print(rcpt, "=>", last(f))
s.sendall(b"QUIT\r\n"); last(f)
"#;

#[test]
fn the_open_relay_battery_is_refused_without_exception() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let tricks = [
        // %-hack and bang paths: local parts that name another host.
        "<victim%elsewhere.test@example.test>",
        "<elsewhere.test!victim@example.test>",
        "<victim%elsewhere.test>",
        // Source routes: the real destination is after the colon.
        "<@example.test:victim@elsewhere.test>",
        "<@example.test,@mx.example.test:victim@elsewhere.test>",
        // Quoted local parts hiding an @.
        "<\"victim@elsewhere.test\"@example.test>",
        "<\"victim@elsewhere.test\">",
        // IP literals, ours or anyone's.
        "<victim@[127.0.0.1]>",
        "<victim@[192.0.2.1]>",
        "<victim@[IPv6:::1]>",
        // Case and trailing dots on foreign and local-looking domains.
        "<victim@ELSEWHERE.TEST>",
        "<victim@elsewhere.test.>",
        "<victim@example.test.elsewhere.test>",
        "<victim@sub.example.test>",
        "<victim@example.test..>",
        // No domain at all, or one we do not serve under a local-looking name.
        "<victim>",
        "<postmaster@elsewhere.test>",
    ];
    let text = dialogue(node.smtp_port, PROBE, &tricks);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), tricks.len(), "{text}");
    for line in &lines {
        let reply = line.split("=> ").nth(1).unwrap_or("");
        assert!(
            reply.starts_with('5') || reply.starts_with("4"),
            "accepted a relay attempt: {line}\n{text}"
        );
        assert!(!reply.starts_with("250"), "{line}");
    }
    // Nothing reached any queue.
    assert_eq!(node.queued(), 0);
}

#[test]
fn local_addresses_in_upper_case_or_with_a_trailing_dot_are_still_local() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let text = dialogue(
        node.smtp_port,
        PROBE,
        &["<ALICE@EXAMPLE.TEST>", "<alice@example.test.>"],
    );
    for line in text.lines() {
        assert!(line.contains("=> 250 2.1.5"), "{text}");
    }
}
