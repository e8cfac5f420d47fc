//! IMAP conformance seen by real clients (Python's imaplib, raw commands
//! through it) against the real binary: subscriptions, SEARCH and SORT on
//! addresses and dates, BINARY, mailbox names, CHECK.

use havre_testkit::{Havre, python_ok};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

/// imaplib logged in over STARTTLS as alice, in `connect()`; `cmd(m, ...)`
/// sends a raw command and prints every untagged line and the tagged result.
const LOGIN: &str = r#"
import imaplib, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def connect():
    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
    m.starttls(ssl_context=ctx)
    m.login("alice@example.test", "secret")
    return m
def raw(m, line):
    tag = m._new_tag()
    m.send(tag + b" " + line.encode() + b"\r\n")
    out = []
    while True:
        got = m._get_line()
        out.append(got.decode(errors="replace"))
        if got.startswith(tag + b" "):
            return out
"#;

fn imap(node: &Havre, script: &str) -> String {
    python_ok(
        &format!("{LOGIN}\n{script}"),
        &[&node.imap_port.to_string()],
    )
}

fn lines_with<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn create_does_not_subscribe_and_delete_does_not_unsubscribe() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
other = connect()
print("create:", m.create("Projects")[0])
for l in raw(other, 'LSUB "" "*"'): print("lsub-after-create:", l)
print("subscribe:", m.subscribe("Projects")[0])
print("delete:", other.delete("Projects")[0])
for l in raw(m, 'LSUB "" "*"'): print("lsub-after-delete:", l)
for l in raw(m, 'LIST (SUBSCRIBED) "" "*"'): print("list-subscribed:", l)
for l in raw(m, 'LIST "" "*"'): print("list:", l)
print("unsubscribe:", other.unsubscribe("Projects")[0])
for l in raw(m, 'LSUB "" "*"'): print("lsub-after-unsubscribe:", l)
"#,
    );
    assert!(out.contains("create: OK"), "{out}");
    // A client's CREATE leaves the subscription list alone; the server's own
    // default folders were subscribed when it created them.
    let after_create = lines_with(&out, "lsub-after-create: * LSUB");
    assert!(
        after_create.iter().all(|l| !l.contains("Projects")),
        "{out}"
    );
    for default in ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(
            after_create
                .iter()
                .any(|l| l.ends_with(&format!(" {default}"))),
            "{default} is not subscribed: {out}"
        );
    }
    assert!(out.contains("delete: OK"), "{out}");
    assert!(
        out.contains(r#"lsub-after-delete: * LSUB () "/" Projects"#),
        "{out}"
    );
    assert!(
        out.contains(r#"list-subscribed: * LIST (\NonExistent \Subscribed) "/" Projects"#),
        "{out}"
    );
    assert!(
        lines_with(&out, "list: * LIST")
            .iter()
            .all(|l| !l.contains("Projects")),
        "{out}"
    );
    assert!(out.contains("unsubscribe: OK"), "{out}");
    assert!(
        lines_with(&out, "lsub-after-unsubscribe: * LSUB")
            .iter()
            .all(|l| !l.contains("Projects")),
        "{out}"
    );
}

#[test]
fn lsub_percent_shows_noselect_parents_and_recursivematch_gives_childinfo() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
print("create:", m.create("Lists/rust")[0])
print("subscribe:", m.subscribe("Lists/rust")[0])
for l in raw(m, 'LSUB "" "%"'): print("lsub:", l)
for l in raw(m, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'): print("recursive:", l)
for l in raw(m, 'LIST (SUBSCRIBED) "" "%"'): print("plain:", l)
"#,
    );
    assert!(out.contains("subscribe: OK"), "{out}");
    assert!(
        out.contains(r#"lsub: * LSUB (\Noselect) "/" Lists"#),
        "{out}"
    );
    assert!(
        !out.contains(r#"lsub: * LSUB () "/" Lists/rust"#),
        "`%` does not reach the second level: {out}"
    );
    assert!(
        out.contains(r#"recursive: * LIST (\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))"#),
        "{out}"
    );
    assert!(
        lines_with(&out, "plain: * LIST")
            .iter()
            .all(|l| !l.contains("Lists")),
        "{out}"
    );
}
