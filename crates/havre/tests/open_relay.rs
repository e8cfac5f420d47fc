//! No open relay, ever: every trick in the book is refused at RCPT.

use havre_testkit::{Havre, python};

/// Sends raw RCPT lines in one session and prints each reply's first line.
const PROBE: &str = r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode("utf-8", "replace")
        if len(line) < 4 or line[3] == " ":
            return line.strip()
reply()
s.sendall(b"EHLO attacker.test\r\n"); reply()
for rcpt in sys.argv[2:]:
    s.sendall(b"RSET\r\n"); reply()
    s.sendall(b"MAIL FROM:<spammer@attacker.test> SMTPUTF8\r\n"); reply()
    s.sendall(b"RCPT TO:" + rcpt.encode() + b"\r\n")
    print(rcpt, "=>", reply())
s.sendall(b"QUIT\r\n"); reply()
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
    let port = node.smtp_port.to_string();
    let mut args = vec![port.as_str()];
    args.extend(tricks);
    let out = python(PROBE, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        std::fs::read_dir(node.data_dir().join("queue/msg"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn local_addresses_in_upper_case_or_with_a_trailing_dot_are_still_local() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let port = node.smtp_port.to_string();
    let out = python(
        PROBE,
        &[&port, "<ALICE@EXAMPLE.TEST>", "<alice@example.test.>"],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in text.lines() {
        assert!(line.contains("=> 250 2.1.5"), "{text}");
    }
}
