//! The Postfix policy delegation service (`policy.listen`), spoken to by
//! Python sockets as Postfix's smtpd speaks it: several requests per
//! connection, the student limit through `sasl_username`, garbage, a
//! request never finished, and rules that follow a reload.

use std::io::Write;

use havre_testkit::{Havre, free_port, python_ok};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

/// Python helpers: `connect()` to the port in `sys.argv[1]`; `ask(s, f,
/// attrs)` sends one request and returns its reply's lines joined by ` | `
/// (`<closed>` when the server hung up); `rcpt(...)` is the request Postfix
/// sends at RCPT.
const PRELUDE: &str = r#"
import socket, sys, time
def connect():
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
    return s, s.makefile("rb")
def reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return "<closed>"
        line = line.decode().rstrip("\n")
        if line == "":
            return " | ".join(lines)
        lines.append(line)
def ask(s, f, attrs):
    s.sendall(("".join("%s=%s\n" % kv for kv in attrs.items()) + "\n").encode())
    return reply(f)
def rcpt(instance, recipient, sasl="", sender=None, state="RCPT"):
    return {"request": "smtpd_access_policy", "protocol_state": state,
            "protocol_name": "ESMTP", "client_address": "192.0.2.7",
            "client_name": "unknown", "reverse_client_name": "unknown",
            "helo_name": "laptop.example.net", "sender": sender if sender is not None else sasl,
            "recipient": recipient, "recipient_count": "0", "queue_id": "",
            "instance": instance, "size": "0", "sasl_method": "plain" if sasl else "",
            "sasl_username": sasl, "sasl_sender": "", "ccert_subject": "",
            "encryption_protocol": "TLSv1.3", "encryption_cipher": "TLS_AES_256_GCM_SHA384",
            "encryption_keysize": "256", "etrn_domain": "", "stress": "",
            "client_port": "41234", "policy_context": "", "server_address": "127.0.0.1",
            "server_port": "25"}
"#;

/// A node whose policy service listens on a port of its own; `alice` is a
/// student, `bob` staff.
fn node_with_policy() -> (Havre, u16) {
    let mut node = Havre::init(BIN);
    let port = free_port();
    node.set("policy.listen", &format!("[\"127.0.0.1:{port}\"]"));
    for (user, class) in [("alice", "student"), ("bob", "staff")] {
        let out = node.cli_with_stdin(
            &[
                "user",
                "add",
                &format!("{user}@example.test"),
                "--password-stdin",
                "--class",
                class,
            ],
            "secret\n",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (node, port)
}

fn start(node: &mut Havre, port: u16) {
    node.start();
    node.wait_for_log(&format!("listening on 127.0.0.1:{port}"), 1);
}

fn run(port: u16, script: &str) -> String {
    python_ok(&format!("{PRELUDE}\n{script}"), &[&port.to_string()])
}

#[test]
fn a_students_11th_message_in_a_minute_is_deferred_over_one_policy_connection() {
    let (mut node, port) = node_with_policy();
    start(&mut node, port);
    let out = run(
        port,
        r#"
s, f = connect()
# Ten messages of three recipients each: each message counts once.
for n in range(10):
    for to in ("x@example.net", "y@example.net", "z@example.net"):
        print(n, ask(s, f, rcpt("m%d" % n, to, sasl="alice@example.test")))
print("11th", ask(s, f, rcpt("m10", "x@example.net", sasl="alice@example.test")))
# Staff may send 60 a minute.
for n in range(11):
    r = ask(s, f, rcpt("b%d" % n, "x@example.net", sasl="bob@example.test"))
print("bob 11th", r)
"#,
    );
    let accepted = out
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.ends_with(" action=DUNNO"));
    assert_eq!(accepted.count(), 30, "{out}");
    assert!(
        out.contains(
            "11th action=450 4.7.1 Rate limit exceeded: 10 messages per minute for class student\n"
        ),
        "{out}"
    );
    assert!(out.contains("bob 11th action=DUNNO"), "{out}");
    let log = node.wait_for_log("Rate limit exceeded", 1);
    assert!(
        log.contains("havre/policy")
            && log.contains("NOQUEUE: reject: RCPT from unknown[192.0.2.7]"),
        "the refusal is logged as Postfix logs one: {log}"
    );
}

#[test]
fn garbage_gets_a_deferral_and_the_connection_goes_on() {
    let (mut node, port) = node_with_policy();
    start(&mut node, port);
    let out = run(
        port,
        r#"
s, f = connect()
s.sendall(b"this is not an attribute\nGET / HTTP/1.1\n\n")
print("garbage", reply(f))
s.sendall(b"sender=" + b"x" * 100000 + b"\n\n")
print("long", reply(f))
s.sendall(b"request=smtpd_access_policy\nhelo_name=\xff\xfe\n\n")
print("latin1", reply(f))
print("no client", ask(s, f, {"request": "smtpd_access_policy", "protocol_state": "RCPT"}))
print("good", ask(s, f, rcpt("g1", "x@example.net")))
"#,
    );
    let deferred = "action=DEFER_IF_PERMIT Policy service error";
    for case in ["garbage", "long", "latin1", "no client"] {
        assert!(
            out.contains(&format!("{case} {deferred}\n")),
            "{case}: {out}"
        );
    }
    assert!(out.contains("good action=DUNNO\n"), "{out}");
    let log = node.wait_for_log("bad request from", 4);
    for why in [
        "line 1: no '=' (expected name=value)",
        "line 1: longer than 2048 bytes",
        "line 2: not UTF-8",
        "client_address \"\" is not an IP address",
    ] {
        assert!(log.contains(why), "{why}: {log}");
    }
    assert!(node.pid().is_some(), "still serving");
}

#[test]
fn a_client_that_never_finishes_its_request_is_closed() {
    let (mut node, port) = node_with_policy();
    node.set("policy.request_timeout", "\"1s\"");
    start(&mut node, port);
    let out = run(
        port,
        r#"
s, f = connect()
s.sendall(b"request=smtpd_access_policy\nprotocol_state=RC")
start = time.time()
print("then", reply(f), time.time() - start >= 0.9)
s2, f2 = connect()
print("others", ask(s2, f2, rcpt("o1", "x@example.net")))
"#,
    );
    assert!(out.contains("then <closed> True\n"), "{out}");
    assert!(out.contains("others action=DUNNO\n"), "{out}");
    let log = node.wait_for_log("request not finished in time, closed", 1);
    assert!(log.contains("havre/policy"), "{log}");
}

#[test]
fn rules_changed_by_a_reload_answer_the_next_request_of_an_open_connection() {
    let (mut node, port) = node_with_policy();
    start(&mut node, port);
    let script = r#"
s, f = connect()
print("before", ask(s, f, rcpt("r1", "x@example.test", sender="spammer@bad.test")))
sys.stdout.flush()
sys.stdin.readline()
print("after", ask(s, f, rcpt("r2", "x@example.test", sender="spammer@bad.test")))
print("tagged", ask(s, f, rcpt("r3", "x@example.test", sender="friend@good.test")))
print("tagged again", ask(s, f, rcpt("r3", "y@example.test", sender="friend@good.test")))
print("at data", ask(s, f, rcpt("r3", "", sender="friend@good.test", state="END-OF-MESSAGE")))
"#;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!("{PRELUDE}\n{script}"))
        .arg(port.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(node.config_path())
        .unwrap();
    writeln!(
        config,
        "\n[[policy.rules]]\nname = \"spammer\"\nsender = \"spammer@bad.test\"\naction = \"reject\"\ntext = \"Go away\"\n\n\
         [[policy.rules]]\nname = \"tag\"\naction = \"add_header\"\nheader = \"X-Policy: seen\"\n\n\
         [[policy.rules]]\nname = \"tag2\"\naction = \"add_header\"\nheader = \"X-Policy-Two: seen\""
    )
    .unwrap();
    drop(config);
    // Wait for the first answer before reloading.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(&mut stdout);
        reader.read_line(&mut first).unwrap();
    }
    assert_eq!(first, "before action=DUNNO\n");
    node.cli_ok(&["reload"]);
    node.wait_for_log("reload: policy.rules changed", 1);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    assert!(rest.contains("after action=554 5.7.1 Go away\n"), "{rest}");
    assert!(
        rest.contains("tagged action=PREPEND X-Policy: seen\n"),
        "one header per reply: {rest}"
    );
    assert!(
        rest.contains("tagged again action=PREPEND X-Policy-Two: seen\n"),
        "the second header waited for the next request of the message: {rest}"
    );
    assert!(
        rest.contains("at data action=DUNNO\n"),
        "each header once: {rest}"
    );
}
