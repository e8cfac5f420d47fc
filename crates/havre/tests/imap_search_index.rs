//! SEARCH on big mailboxes is answered from the search index kept at
//! delivery, not by reading every message: shown with messages whose files
//! are removed behind the server's back, which only the index still knows.

use std::fs;
use std::path::{Path, PathBuf};

use havre_testkit::imap::{imaplib, lines_with};
use havre_testkit::{Havre, swaks};

fn deliver(node: &Havre, from: &str, subject: &str, body: &str) {
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        from,
        "--to",
        "alice@example.test",
        "--header",
        &format!("Subject: {subject}"),
        "--header",
        &format!("From: Carol <{from}>"),
        "--body",
        body,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Every message file of a Maildir folder (new/ and cur/).
fn files(folder: &Path) -> Vec<PathBuf> {
    ["new", "cur"]
        .iter()
        .flat_map(|sub| fs::read_dir(folder.join(sub)).into_iter().flatten())
        .flatten()
        .map(|e| e.path())
        .collect()
}

fn remove_files(folder: &Path) {
    for file in files(folder) {
        fs::remove_file(file).unwrap();
    }
}

#[test]
fn search_finds_delivered_mail_from_the_index_even_after_its_file_is_gone() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    deliver(
        &node,
        "carol@remote.test",
        "=?utf-8?q?Quarterly_r=C3=A9sum=C3=A9?=",
        "The budget figures are attached.",
    );
    node.wait_for_messages("alice@example.test", 1);
    let appended = imaplib(
        &node,
        r#"
m = connect()
print("append:", m.append("INBOX", None, None,
    b"From: Dave <dave@remote.test>\r\nSubject: lunch\r\n\r\nNoon at the usual place?\r\n"))
"#,
    );
    assert!(appended.contains("append: ('OK'"), "{appended}");
    // Another program (or a disk fault) takes the files away; the index
    // still knows what they said.
    remove_files(&node.maildir("alice@example.test"));

    let out = imaplib(
        &node,
        r#"
m = connect()
m.select("INBOX")
for key in ['SUBJECT "QUARTERLY RÉSUMÉ"'.encode(), b'SUBJECT quarterly', b'FROM carol@remote',
            b'FROM "Dave <dave@"', b'TO alice', b'BODY BUDGET', b'TEXT noon', b'TEXT "subject: lunch"',
            b'NOT SUBJECT quarterly', b'OR BODY budget SUBJECT lunch', b'HEADER Subject LUNCH',
            b'SUBJECT nothing-like-this']:
    tag = m._new_tag()
    m.send(tag + b" UID SEARCH CHARSET UTF-8 " + key + b"\r\n")
    lines = until(m, tag)
    print("search", key.decode(), "=>", " | ".join(lines))
"#,
    );
    // The `* SEARCH` line of each search, and its OK.
    let found = |key: &str| -> String {
        let prefix = format!("search {key} => ");
        let line = lines_with(&out, &prefix);
        assert_eq!(line.len(), 1, "{key}: {out}");
        let answer = &line[0][prefix.len()..];
        assert!(answer.contains(" OK "), "{key}: {answer}");
        answer.split(" | ").next().unwrap_or_default().to_string()
    };
    for (key, uids) in [
        ("SUBJECT \"QUARTERLY RÉSUMÉ\"", "* SEARCH 1"),
        ("SUBJECT quarterly", "* SEARCH 1"),
        ("FROM carol@remote", "* SEARCH 1"),
        ("FROM \"Dave <dave@\"", "* SEARCH 2"),
        ("TO alice", "* SEARCH 1"),
        ("BODY BUDGET", "* SEARCH 1"),
        ("TEXT noon", "* SEARCH 2"),
        ("TEXT \"subject: lunch\"", "* SEARCH 2"),
        ("NOT SUBJECT quarterly", "* SEARCH 2"),
        ("OR BODY budget SUBJECT lunch", "* SEARCH 1 2"),
        ("HEADER Subject LUNCH", "* SEARCH 2"),
        ("SUBJECT nothing-like-this", "* SEARCH"),
    ] {
        assert_eq!(found(key), uids, "{out}");
    }
}

/// A Maildir as another server left it, with a `dovecot-uidlist`.
fn old_maildir(root: &Path) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    let mut uidlist = String::from("3 V1600000000 N4\n");
    for (uid, subject, body) in [
        (1, "invoice 2041", "please pay"),
        (2, "holiday plans", "the mountains in July"),
        (3, "Invoice reminder", "second notice"),
    ] {
        let name = format!("160000000{uid}.M{uid}P1.old");
        fs::write(
            root.join("cur").join(format!("{name}:2,S")),
            format!("From: shop@remote.test\nSubject: {subject}\n\n{body}\n"),
        )
        .unwrap();
        uidlist.push_str(&format!("{uid} :{name}\n"));
    }
    fs::write(root.join("dovecot-uidlist"), uidlist).unwrap();
}

#[test]
fn imported_mail_is_indexed_by_the_first_search_and_answered_from_the_index_after() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    let source = node.dir().join("old/alice/Maildir");
    old_maildir(&source);
    let out = node.cli_ok(&[
        "import",
        "maildir",
        source.to_str().unwrap(),
        "--user",
        "alice@example.test",
    ]);
    assert!(out.contains("imported 3 message(s)"), "{out}");
    node.start();
    let script = r#"
m = connect()
m.select("INBOX")
print("first:", m.uid("SEARCH", "SUBJECT", "invoice"))
print("body:", m.uid("SEARCH", "BODY", "mountains"))
"#;
    let before = imaplib(&node, script);
    assert!(before.contains("first: ('OK', [b'1 3'])"), "{before}");
    assert!(before.contains("body: ('OK', [b'2'])"), "{before}");

    remove_files(&node.maildir("alice@example.test"));
    let after = imaplib(&node, script);
    assert!(after.contains("first: ('OK', [b'1 3'])"), "{after}");
    assert!(after.contains("body: ('OK', [b'2'])"), "{after}");
}

#[test]
fn status_counts_follow_flag_changes_and_expunges() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let out = imaplib(
        &node,
        r#"
items = "(MESSAGES UNSEEN DELETED SIZE RECENT UIDNEXT)"
def status(label):
    m = connect()
    print(label, m.status("INBOX", items)[1][0].decode())
    m.logout()
w = connect()
w.append("INBOX", r"(\Seen)", None, b"Subject: one\r\n\r\n12345\r\n")
w.append("INBOX", None, None, b"Subject: two\r\n\r\n1234567890\r\n")
w.append("INBOX", r"(\Deleted \Seen)", None, b"Subject: three\r\n\r\nx\r\n")
status("appended:")
w.select("INBOX")
status("selected:")
w.uid("STORE", "1", "-FLAGS", r"(\Seen)")
w.uid("STORE", "2", "+FLAGS", r"(\seen \DELETED)")
status("flagged:")
w.expunge()
status("expunged:")
"#,
    );
    let line = |label: &str| -> String {
        let found = lines_with(&out, label);
        assert_eq!(found.len(), 1, "{label} {out}");
        found[0][label.len()..].trim().to_string()
    };
    // Sizes in CRLF form: 23, 28 and 21 bytes.
    assert_eq!(
        line("appended:"),
        "INBOX (MESSAGES 3 UNSEEN 1 DELETED 1 SIZE 72 RECENT 3 UIDNEXT 4)"
    );
    // The selecting session claimed them: recent to no other session.
    assert_eq!(
        line("selected:"),
        "INBOX (MESSAGES 3 UNSEEN 1 DELETED 1 SIZE 72 RECENT 0 UIDNEXT 4)"
    );
    assert_eq!(
        line("flagged:"),
        "INBOX (MESSAGES 3 UNSEEN 1 DELETED 2 SIZE 72 RECENT 0 UIDNEXT 4)"
    );
    assert_eq!(
        line("expunged:"),
        "INBOX (MESSAGES 1 UNSEEN 1 DELETED 0 SIZE 23 RECENT 0 UIDNEXT 4)"
    );
}

#[test]
fn a_message_list_header_fetch_is_answered_from_what_delivery_kept() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let script = r#"
m = connect()
if sys.argv[2] == "append":
    m.append("INBOX", None, None,
        b"Received: from somewhere\r\n"
        b"From: =?utf-8?q?Zo=C3=A9?= <zoe@remote.test>\r\n"
        b"Subject: a long subject\r\n folded on two lines\r\n"
        b"X-Mailer: something\r\n"
        b"To: alice@example.test,\r\n\tbob@example.test\r\n"
        b"Message-ID: <one@remote.test>\r\n"
        b"References: <zero@remote.test>\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        b"subject: a second subject field\r\n"
        b"\r\nbody\r\n")
m.select("INBOX")
for items in ["BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID References)]",
              "BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "BODY.PEEK[HEADER.FIELDS (X-Mailer)]"]:
    typ, data = m.fetch("1", "(" + items + ")")
    print(items, typ, repr(data[0][1] if typ == "OK" and isinstance(data[0], tuple) else data))
"#;
    let python = |mode: &str| {
        havre_testkit::python_ok(
            &format!("{}\n{script}", havre_testkit::imap::IMAPLIB_PRELUDE),
            &[&node.imap_port.to_string(), mode],
        )
    };
    let with_file = python("append");
    let list = "BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID References)] OK ";
    let expected = concat!(
        r"b'From: =?utf-8?q?Zo=C3=A9?= <zoe@remote.test>\r\n",
        r"Subject: a long subject\r\n folded on two lines\r\n",
        r"To: alice@example.test,\r\n\tbob@example.test\r\n",
        r"Message-ID: <one@remote.test>\r\nReferences: <zero@remote.test>\r\n",
        r"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n",
        r"subject: a second subject field\r\n\r\n'",
    );
    assert!(
        with_file.contains(&format!("{list}{expected}")),
        "{with_file}"
    );
    assert!(
        with_file
            .contains("BODY.PEEK[HEADER.FIELDS (X-Mailer)] OK b'X-Mailer: something\\r\\n\\r\\n'"),
        "{with_file}"
    );

    remove_files(&node.maildir("alice@example.test"));
    let without_file = python("again");
    // The same bytes for the fields kept; a field that was not kept needs
    // the file, which is gone.
    for items in [
        "BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID References)]",
        "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
    ] {
        let line = |out: &str| lines_with(out, items).concat();
        assert_eq!(line(&with_file), line(&without_file), "{without_file}");
    }
    assert!(
        !without_file.contains("X-Mailer: something"),
        "{without_file}"
    );
}

#[test]
fn a_fetch_of_many_bodies_gets_every_one_even_a_file_another_program_moved() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let appended = imaplib(
        &node,
        r#"
m = connect()
for i in range(1, 71):
    m.append("INBOX", None, None, ("Subject: number %d\r\n\r\nbody %d\r\n" % (i, i)).encode())
print("appended")
"#,
    );
    assert!(appended.contains("appended"), "{appended}");
    // A mail client on the same Maildir moves message 40 to cur/ as seen,
    // in the middle of what FETCH reads ahead in one go.
    let maildir = node.maildir("alice@example.test");
    let moved = files(&maildir)
        .into_iter()
        .find(|p| {
            fs::read_to_string(p)
                .unwrap()
                .lines()
                .any(|l| l.trim_end() == "body 40")
        })
        .unwrap();
    let name = moved.file_name().unwrap().to_str().unwrap().to_string();
    fs::rename(&moved, maildir.join("cur").join(format!("{name}:2,S"))).unwrap();

    let out = imaplib(
        &node,
        r#"
m = connect()
m.select("INBOX")
typ, data = m.fetch("1:70", "(BODY.PEEK[TEXT])")
print("fetch:", typ)
for item in data:
    if isinstance(item, tuple):
        print("got", item[0].split()[0].decode(), item[1].decode().strip())
"#,
    );
    assert!(out.contains("fetch: OK"), "{out}");
    let got = lines_with(&out, "got ");
    assert_eq!(got.len(), 70, "{out}");
    for (i, line) in got.iter().enumerate() {
        assert_eq!(*line, format!("got {} body {}", i + 1, i + 1), "{out}");
    }
}
