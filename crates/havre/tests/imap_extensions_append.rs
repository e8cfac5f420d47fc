//! APPEND extensions seen by real clients (Python's imaplib, raw commands
//! through it) against the real binary: MULTIAPPEND (RFC 3502).

use havre_testkit::{Havre, python_ok};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

/// alice with a quota of `bytes`.
fn node_with_quota(bytes: &str) -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    let out = node.cli_with_stdin(
        &[
            "user",
            "add",
            "alice@example.test",
            "--password-stdin",
            "--quota",
            bytes,
        ],
        "secret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.start();
    node
}

/// imaplib logged in over STARTTLS as alice, in `connect()`; `raw(m, ...)`
/// sends a command and returns every line up to the tagged result;
/// `append(m, mailbox, [(flags, bytes), ...])` sends one APPEND with each
/// message as a synchronizing literal, waiting for each `+` as a client does.
const LOGIN: &str = r#"
import imaplib, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def connect():
    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
    m.starttls(ssl_context=ctx)
    m.login("alice@example.test", "secret")
    return m
def until(m, tag):
    out = []
    while True:
        got = m._get_line()
        out.append(got.decode(errors="replace"))
        if got.startswith(tag + b" "):
            return out
def raw(m, line):
    tag = m._new_tag()
    m.send(tag + b" " + line.encode() + b"\r\n")
    return until(m, tag)
def append(m, mailbox, messages):
    tag = m._new_tag()
    line = tag + b" APPEND " + mailbox.encode()
    for i, (flags, body) in enumerate(messages):
        if flags:
            line += b" (" + flags.encode() + b")"
        m.send(line + b" {%d}\r\n" % len(body))
        got = m._get_line()
        if got.startswith(tag + b" "):
            return [got.decode(errors="replace")]
        if not got.startswith(b"+"):
            return [got.decode(errors="replace")] + until(m, tag)
        m.send(body)
        line = b""
    m.send(b"\r\n")
    return until(m, tag)
def message(subject):
    return b"From: bob@example.test\r\nSubject: " + subject.encode() + b"\r\n\r\nHello.\r\n"
"#;

fn imap(node: &Havre, script: &str) -> String {
    python_ok(
        &format!("{LOGIN}\n{script}"),
        &[&node.imap_port.to_string()],
    )
}

fn maildir_files(node: &Havre) -> usize {
    node.messages("alice@example.test").len()
}

#[test]
fn a_multiappend_saves_every_message_and_answers_their_uids() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
watcher = connect()
print("watch:", watcher.select("INBOX")[0])
print("caps:", raw(m, "CAPABILITY")[0])
for l in append(m, "INBOX", [("\\Seen", message("one")), ("", message("two")), ("\\Flagged $Work", message("three"))]):
    print("append:", l)
for l in raw(m, "STATUS INBOX (UIDVALIDITY)"): print("status:", l)
for l in raw(watcher, "NOOP"): print("noop:", l)
for l in raw(watcher, "FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"): print("fetch:", l)
"#,
    );
    assert!(out.contains("MULTIAPPEND"), "{out}");
    let tagged = out
        .lines()
        .find(|l| l.starts_with("append: ") && l.contains(" OK "))
        .unwrap_or_else(|| panic!("no OK for the MULTIAPPEND: {out}"));
    let uidvalidity = out
        .lines()
        .find_map(|l| l.split("(UIDVALIDITY ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        tagged.contains(&format!("[APPENDUID {uidvalidity} 1:3]")),
        "{out}"
    );
    // The other session hears of all three, in the order they were sent,
    // each with its own flags (and \Recent: it is an IMAP4rev1 client that
    // had the mailbox selected).
    assert!(out.contains("noop: * 3 EXISTS"), "{out}");
    assert!(
        out.contains(r"fetch: * 1 FETCH (UID 1 FLAGS (\Seen \Recent)"),
        "{out}"
    );
    assert!(
        out.contains(r"fetch: * 2 FETCH (UID 2 FLAGS (\Recent)"),
        "{out}"
    );
    assert!(
        out.contains(r"fetch: * 3 FETCH (UID 3 FLAGS (\Flagged \Recent $Work)"),
        "{out}"
    );
    let subjects: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("fetch: Subject: "))
        .collect();
    assert_eq!(
        subjects,
        [
            "fetch: Subject: one",
            "fetch: Subject: two",
            "fetch: Subject: three"
        ],
        "{out}"
    );
    assert_eq!(maildir_files(&node), 3);
}

#[test]
fn a_multiappend_with_one_empty_message_saves_none_of_them() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
for l in append(m, "INBOX", [("", message("one")), ("", b""), ("", message("three"))]):
    print("append:", l)
for l in raw(m, "STATUS INBOX (MESSAGES UIDNEXT)"): print("status:", l)
"#,
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("append: ") && l.contains(" NO ")),
        "{out}"
    );
    assert!(
        out.contains("status: * STATUS INBOX (MESSAGES 0 UIDNEXT 1)"),
        "{out}"
    );
    assert_eq!(maildir_files(&node), 0, "no file is left behind");
}

#[test]
fn a_multiappend_over_the_quota_as_a_whole_saves_none_of_them() {
    let node = node_with_quota("250");
    let out = imap(
        &node,
        r#"
m = connect()
body = message("x" * 100)
print("size:", len(body))
for l in append(m, "INBOX", [("", body), ("", body)]):
    print("append:", l)
for l in raw(m, "STATUS INBOX (MESSAGES)"): print("status:", l)
for l in append(m, "INBOX", [("", body)]):
    print("single:", l)
"#,
    );
    // Each message fits, both together do not: neither is kept.
    assert!(out.contains("[OVERQUOTA]"), "{out}");
    assert!(out.contains("status: * STATUS INBOX (MESSAGES 0)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("single: ") && l.contains("OK [APPENDUID")),
        "{out}"
    );
    assert_eq!(maildir_files(&node), 1);
}
