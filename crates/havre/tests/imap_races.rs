//! IMAP with several sessions on one mailbox at once (issue 8): Python's
//! imaplib, one connection per session, against the real binary. Each script
//! is bounded by an alarm and socket timeouts, and load loops by count.

use havre_testkit::{Havre, python_ok, swaks};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

fn deliver(node: &Havre, subject: &str) {
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "bob@remote.test",
        "--to",
        "alice@example.test",
        "--header",
        &format!("Subject: {subject}"),
        "--body",
        &format!("Body of {subject}."),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `connect()` gives a session logged in over STARTTLS as alice; the whole
/// script must end within 120 s.
const LOGIN: &str = r#"
import imaplib, ssl, sys, time, signal, threading, os, re
signal.alarm(120)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def connect():
    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=30)
    m.starttls(ssl_context=ctx)
    m.login("alice@example.test", "secret")
    return m
"#;

fn imap(node: &Havre, script: &str) -> String {
    let maildir = node.maildir("alice@example.test");
    python_ok(
        &format!("{LOGIN}\n{script}"),
        &[&node.imap_port.to_string(), &maildir.display().to_string()],
    )
}

#[test]
fn an_append_racing_other_sessions_selects_answers_ok_with_its_uid_and_keeps_its_flags() {
    let node = node();
    // Three sessions SELECT and NOOP in a loop (each SELECT indexes files it
    // finds) while a fourth APPENDs 200 messages: every APPEND is OK with a
    // UID of its own, and the mailbox holds those 200 messages, with their
    // flags, once each.
    let out = imap(
        &node,
        r#"
stop = threading.Event()
errors = []
def watch():
    try:
        m = connect()
        while not stop.is_set():
            m.select("INBOX")
            m.noop()
        m.logout()
    except Exception as e:
        errors.append(repr(e))
watchers = [threading.Thread(target=watch) for _ in range(3)]
for w in watchers: w.start()
a = connect()
answers, uids = [], []
for i in range(200):
    typ, data = a.append("INBOX", r"(\Flagged $Race)", None, b"Subject: race %d\r\n\r\nbody %d\r\n" % (i, i))
    found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
    if typ != "OK" or not found:
        answers.append((i, typ, data))
    else:
        uids.append(int(found.group(1)))
stop.set()
for w in watchers: w.join()
print("watcher errors:", errors)
print("failed appends:", answers)
print("distinct uids:", len(set(uids)))
c = connect()
typ, data = c.select("INBOX")
print("exists:", int(data[0]))
typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
fetched = [x for x in data if isinstance(x, tuple)]
stored = sorted(int(re.search(rb"UID (\d+)", x[0]).group(1)) for x in fetched)
print("same uids:", stored == sorted(uids))
print("distinct subjects:", len({x[1].strip() for x in fetched}))
print("without their flags:", [x[0] for x in fetched if b"\\Flagged" not in x[0] or b"$Race" not in x[0]])
"#,
    );
    assert!(out.contains("watcher errors: []"), "{out}");
    assert!(out.contains("failed appends: []"), "{out}");
    assert!(out.contains("distinct uids: 200"), "{out}");
    assert!(out.contains("exists: 200"), "{out}");
    assert!(out.contains("same uids: True"), "{out}");
    assert!(out.contains("distinct subjects: 200"), "{out}");
    assert!(out.contains("without their flags: []"), "{out}");
}

#[test]
fn a_message_another_program_renamed_for_its_flags_is_still_fetched_and_not_indexed_twice() {
    let node = node();
    deliver(&node, "moved");
    node.wait_for_messages("alice@example.test", 1);
    // Session a sees the message (its SELECT moved it new/ -> cur/, as
    // Dovecot's does); then a program sharing the Maildir (Dovecot, mutt)
    // marks it read by renaming it with its flags in the name.
    let out = imap(
        &node,
        r#"
root = sys.argv[2]
a = connect(); a.select("INBOX")
print("new:", os.listdir(os.path.join(root, "new")))
name = os.listdir(os.path.join(root, "cur"))[0]
base = name.split(":")[0]
print("info:", name[len(base):])
os.rename(os.path.join(root, "cur", name), os.path.join(root, "cur", base + ":2,S"))
typ, data = a.fetch("1", "(BODY.PEEK[TEXT])")
print("a fetch:", typ, [x[1] for x in data if isinstance(x, tuple)])
b = connect()
typ, data = b.select("INBOX")
print("b exists:", data[0].decode())
typ, data = b.uid("FETCH", "1:*", "(UID FLAGS)")
print("b uids:", data)
typ, data = b.fetch("1", "(BODY.PEEK[TEXT])")
print("b fetch:", typ, [x[1] for x in data if isinstance(x, tuple)])
os.rename(os.path.join(root, "cur", base + ":2,S"), os.path.join(root, "cur", base + ":2,RS"))
typ, data = a.fetch("1", "(BODY.PEEK[TEXT])")
print("a again:", typ, [x[1] for x in data if isinstance(x, tuple)])
"#,
    );
    assert!(out.contains("new: []"), "{out}");
    assert!(out.contains("info: :2,\n"), "{out}");
    assert!(out.contains("a fetch: OK [b'Body of moved."), "{out}");
    assert!(out.contains("b exists: 1"), "{out}");
    // One message, with the flag the new name says.
    assert!(
        out.contains(r"b uids: [b'1 (UID 1 FLAGS (\\Seen))']"),
        "{out}"
    );
    assert!(out.contains("b fetch: OK [b'Body of moved."), "{out}");
    assert!(out.contains("a again: OK [b'Body of moved."), "{out}");
}

#[test]
fn a_fetch_of_a_message_another_session_expunged_says_no_instead_of_leaving_it_out() {
    let node = node();
    deliver(&node, "first");
    deliver(&node, "second");
    node.wait_for_messages("alice@example.test", 2);
    let out = imap(
        &node,
        r#"
a = connect(); a.select("INBOX")
b = connect(); b.select("INBOX")
a.store("1", "+FLAGS", r"(\Deleted)")
a.expunge()
typ, data = b.fetch("1:2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("b fetch:", typ, data)
typ, data = b.noop()
print("b told:", b.untagged_responses.get("EXPUNGE"))
typ, data = b.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("b after:", typ, [x[1].strip() for x in data if isinstance(x, tuple)])
"#,
    );
    // The message still readable is sent; the one gone is not left out
    // silently: the tagged NO says so, and NOOP then reports the EXPUNGE.
    assert!(out.contains("b fetch: NO [b'[EXPUNGEISSUED]"), "{out}");
    assert!(out.contains("b told: [b'1']"), "{out}");
    assert!(out.contains("b after: OK [b'Subject: second'"), "{out}");
}

#[test]
fn a_mailbox_deleted_and_created_again_within_a_second_gets_a_greater_uidvalidity() {
    let node = node();
    // Session a creates, fills and deletes "Lists" three times as fast as it
    // can; session b, which keeps asking, must never see a UIDVALIDITY twice,
    // or it would take the new UID 1 for the message it cached.
    let out = imap(
        &node,
        r#"
a = connect(); b = connect()
seen = []
for i in range(3):
    assert a.create("Lists")[0] == "OK"
    typ, data = a.append("Lists", None, None, b"Subject: round %d\r\n\r\nx\r\n" % i)
    seen.append(int(re.search(rb"APPENDUID (\d+) 1\]", data[0]).group(1)))
    typ, data = b.status("Lists", "(UIDVALIDITY)")
    assert int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1)) == seen[-1], data
    assert a.delete("Lists")[0] == "OK"
print("uidvalidities:", seen)
print("increasing:", all(x < y for x, y in zip(seen, seen[1:])))
"#,
    );
    assert!(out.contains("increasing: True"), "{out}");
}

#[test]
fn a_new_message_is_recent_in_the_first_session_that_sees_it_and_in_no_other() {
    let node = node();
    deliver(&node, "one");
    deliver(&node, "two");
    node.wait_for_messages("alice@example.test", 2);
    // imaplib speaks IMAP4rev1 (it does not ENABLE IMAP4rev2): \Recent is shown.
    let out = imap(
        &node,
        r#"
def recent(m):
    return m.response("RECENT")[1]
a = connect(); a.select("INBOX")
print("a select recent:", recent(a))
print("a flags:", a.fetch("1:*", "(FLAGS)")[1])
print("a search recent:", a.search(None, "RECENT")[1], "new:", a.search(None, "NEW")[1], "old:", a.search(None, "OLD")[1])
b = connect(); b.select("INBOX")
print("b select recent:", recent(b))
print("b flags:", b.fetch("1:*", "(FLAGS)")[1])
print("b search recent:", b.search(None, "RECENT")[1], "old:", b.search(None, "OLD")[1])
c = connect()
c.append("INBOX", None, None, b"Subject: three\r\n\r\nthree\r\n")
print("c status:", c.status("INBOX", "(RECENT)")[1])
e = connect(); e.select("INBOX", readonly=True)
print("e examine recent:", recent(e))
b.noop()
print("b noop recent:", recent(b), "flags:", b.fetch("3", "(FLAGS)")[1])
a.noop()
print("a noop recent:", recent(a), "flags:", a.fetch("3", "(FLAGS)")[1])
print("c status after:", c.status("INBOX", "(RECENT)")[1])
"#,
    );
    assert!(out.contains("a select recent: [b'2']"), "{out}");
    assert!(
        out.contains(r"a flags: [b'1 (FLAGS (\\Recent))', b'2 (FLAGS (\\Recent))']"),
        "{out}"
    );
    assert!(
        out.contains("a search recent: [b'1 2'] new: [b'1 2'] old: [b'']"),
        "{out}"
    );
    assert!(out.contains("b select recent: [b'0']"), "{out}");
    assert!(
        out.contains("b flags: [b'1 (FLAGS ())', b'2 (FLAGS ())']"),
        "{out}"
    );
    assert!(
        out.contains("b search recent: [b''] old: [b'1 2']"),
        "{out}"
    );
    assert!(out.contains("c status: [b'INBOX (RECENT 1)']"), "{out}");
    // EXAMINE looks without taking: the message stays for the next SELECTer.
    assert!(out.contains("e examine recent: [b'1']"), "{out}");
    assert!(
        out.contains(r"b noop recent: [b'1'] flags: [b'3 (FLAGS (\\Recent))']"),
        "{out}"
    );
    assert!(
        out.contains("a noop recent: [b'2'] flags: [b'3 (FLAGS ())']"),
        "{out}"
    );
    assert!(
        out.contains("c status after: [b'INBOX (RECENT 0)']"),
        "{out}"
    );
}
