//! APPEND and METADATA extensions seen by real clients (Python's imaplib,
//! raw commands through it) against the real binary: MULTIAPPEND (RFC
//! 3502), CATENATE (RFC 4469), METADATA and METADATA-SERVER (RFC 5464).

use havre_testkit::Havre;
use havre_testkit::imap::imaplib;

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

/// What these scenarios add to `havre_testkit::imap::IMAPLIB_PRELUDE`.
const EXTRA: &str = r#"
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
    imaplib(node, &format!("{EXTRA}\n{script}"))
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

#[test]
fn metadata_set_by_one_session_is_read_by_another_and_nil_removes_it() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
other = connect()
print("caps:", raw(m, "CAPABILITY")[0])
for l in raw(m, 'SETMETADATA "" (/private/vendor/acme/theme "dark" /private/vendor/acme/lang "fr")'): print("set-server:", l)
for l in raw(m, 'SETMETADATA INBOX (/shared/comment "Main box" /private/comment "mine")'): print("set-inbox:", l)
for l in raw(other, 'GETMETADATA "" /private/vendor/acme/theme'): print("get-one:", l)
for l in raw(other, 'GETMETADATA (DEPTH infinity) "" /private/vendor'): print("get-deep:", l)
for l in raw(other, 'GETMETADATA INBOX (/shared/comment /private/comment /private/missing)'): print("get-inbox:", l)
for l in raw(m, 'SETMETADATA INBOX (/private/comment NIL)'): print("unset:", l)
for l in raw(other, 'GETMETADATA INBOX (/shared/comment /private/comment)'): print("get-after:", l)
for l in raw(other, 'GETMETADATA Nowhere /private/comment'): print("get-missing:", l)
for l in raw(other, 'GETMETADATA INBOX /comment'): print("get-invalid:", l)
"#,
    );
    assert!(out.contains(" METADATA "), "{out}");
    assert!(out.contains(" METADATA-SERVER"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("set-server: ") && l.contains(" OK ")),
        "{out}"
    );
    assert!(
        out.contains(r#"get-one: * METADATA "" (/private/vendor/acme/theme dark)"#)
            || out.contains(r#"get-one: * METADATA "" (/private/vendor/acme/theme "dark")"#),
        "{out}"
    );
    let deep = out
        .lines()
        .find(|l| l.starts_with("get-deep: * METADATA"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        deep.contains("/private/vendor/acme/lang") && deep.contains("/private/vendor/acme/theme"),
        "{out}"
    );
    let inbox = out
        .lines()
        .find(|l| l.starts_with("get-inbox: * METADATA INBOX"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(inbox.contains(r#"/shared/comment "Main box""#), "{out}");
    assert!(inbox.contains("/private/comment"), "{out}");
    assert!(
        !inbox.contains("/private/missing"),
        "an entry without a value is left out: {out}"
    );
    let after = out
        .lines()
        .find(|l| l.starts_with("get-after: * METADATA INBOX"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(!after.contains("/private/comment"), "{out}");
    assert!(after.contains("/shared/comment"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("get-missing: ") && l.contains(" NO ")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("get-invalid: ") && l.contains(" BAD ")),
        "{out}"
    );
}

#[test]
fn metadata_limits_answer_longentries_maxsize_and_toomany() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
long = b"x" * 2000
for l in raw(m, b'SETMETADATA INBOX (/private/long {2000+}\r\n' + long + b' /private/short "s")'): print("set-long:", l)
for l in raw(m, 'GETMETADATA (MAXSIZE 100) INBOX (/private/long /private/short)'): print("get-max:", l)
huge = b"y" * 20000
for l in raw(m, b'SETMETADATA INBOX (/private/huge {20000+}\r\n' + huge + b')'): print("set-huge:", l)
many = " ".join('/private/n%d "v"' % i for i in range(250))
for l in raw(m, 'SETMETADATA "" (' + many + ')'): print("set-many:", l)
for l in raw(m, 'GETMETADATA (DEPTH 1) "" /private'): print("get-many:", l)
"#,
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("set-long: ") && l.contains(" OK ")),
        "{out}"
    );
    assert!(
        out.contains(r#"get-max: * METADATA INBOX (/private/short s)"#)
            || out.contains(r#"get-max: * METADATA INBOX (/private/short "s")"#),
        "{out}"
    );
    assert!(out.contains("OK [METADATA LONGENTRIES 2000]"), "{out}");
    assert!(out.contains("NO [METADATA MAXSIZE "), "{out}");
    assert!(out.contains("NO [METADATA TOOMANY]"), "{out}");
    // A refused SETMETADATA keeps none of its entries.
    assert!(!out.contains("get-many: * METADATA"), "{out}");
}

#[test]
fn metadata_goes_with_its_mailbox() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
print("create:", m.create("Work")[0])
for l in raw(m, 'SETMETADATA Work (/private/comment "old project")'): print("set:", l)
print("rename:", m.rename("Work", "Projects")[0])
for l in raw(m, 'GETMETADATA Projects /private/comment'): print("renamed:", l)
print("delete:", m.delete("Projects")[0])
print("create-again:", m.create("Projects")[0])
for l in raw(m, 'GETMETADATA Projects /private/comment'): print("recreated:", l)
"#,
    );
    assert!(
        out.contains(r#"renamed: * METADATA Projects (/private/comment "old project")"#),
        "a rename keeps the entries: {out}"
    );
    assert!(out.contains("create-again: OK"), "{out}");
    assert!(!out.contains("recreated: * METADATA"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("recreated: ") && l.contains(" OK ")),
        "{out}"
    );
}

#[test]
fn catenate_builds_a_draft_from_text_and_a_section_of_a_stored_message() {
    let node = node();
    let out = imap(
        &node,
        r#"
import re
m = connect()
print("caps:", raw(m, "CAPABILITY")[0])
source = b"From: bob@example.test\r\nSubject: original\r\n\r\nOriginal body.\r\n"
typ, data = m.append("INBOX", None, None, source)
found = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
validity, uid = found.group(1).decode(), found.group(2).decode()
body = b"\r\nMy reply.\r\n"
url = "/INBOX;UIDVALIDITY=%s/;UID=%s/;SECTION=HEADER" % (validity, uid)
line = ('APPEND Drafts (\\Draft) CATENATE (URL "%s" TEXT {%d+}\r\n' % (url, len(body))).encode() + body + b")"
for l in raw(m, line): print("catenate:", l)
whole = "/INBOX/;UID=%s" % uid
for l in raw(m, 'APPEND Drafts CATENATE (TEXT {10+}\r\nX-Pre: 1\r\n URL "%s")' % whole): print("whole:", l)
stale = "/INBOX;UIDVALIDITY=%d/;UID=%s" % (int(validity) + 1, uid)
for l in raw(m, 'APPEND Drafts CATENATE (URL "%s" TEXT {2+}\r\nxx)' % stale): print("stale:", l)
for l in raw(m, 'APPEND Drafts CATENATE (URL "/INBOX/;UID=99")'): print("missing:", l)
m.select("Drafts")
typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[])")
for item in data:
    if isinstance(item, tuple):
        print("draft-flags:", item[0].decode())
        print("draft:", repr(item[1]))
for l in raw(m, "STATUS Drafts (MESSAGES)"): print("status:", l)
"#,
    );
    assert!(out.contains(" CATENATE"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("catenate: ") && l.contains("OK [APPENDUID")),
        "{out}"
    );
    // The header of the stored message, then the client's text.
    assert!(
        out.contains(
            r"draft: b'From: bob@example.test\r\nSubject: original\r\n\r\n\r\nMy reply.\r\n'"
        ),
        "{out}"
    );
    assert!(out.contains(r"\Draft"), "{out}");
    assert!(
        out.contains(
            r"draft: b'X-Pre: 1\r\nFrom: bob@example.test\r\nSubject: original\r\n\r\nOriginal body.\r\n'"
        ),
        "{out}"
    );
    // A URL that names nothing of this user's: NO [BADURL], nothing saved.
    assert!(
        out.lines()
            .any(|l| l.starts_with("stale: ") && l.contains("NO [BADURL /INBOX;UIDVALIDITY=")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("missing: ") && l.contains("NO [BADURL /INBOX/;UID=99]")),
        "{out}"
    );
    assert!(
        out.contains("status: * STATUS Drafts (MESSAGES 2)"),
        "{out}"
    );
}
