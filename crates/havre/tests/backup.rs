//! Backups as a site takes them: `havre backup snapshot` while the node
//! serves, restic (Debian's) taking the snapshot away and bringing it back,
//! and one user's lost messages restored with their flags, never twice; a
//! snapshot onto a full disk leaves nothing behind.

use std::path::Path;
use std::process::{Command, Output};

use havre_testkit::imap::imaplib;
use havre_testkit::{Havre, SmallDisk};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

fn restic(repo: &Path, args: &[&str]) -> Output {
    let out = Command::new("restic")
        .arg("--repo")
        .arg(repo)
        .args(["--no-cache", "--quiet"])
        .args(args)
        .env("RESTIC_PASSWORD", "test")
        .output()
        .expect("restic must be installed (the test command installs it)");
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `havre backup restore-user USER --from FROM EXTRA...`.
fn restore(node: &Havre, user: &str, from: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "backup",
        "restore-user",
        user,
        "--from",
        from.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    node.cli(&args)
}

fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Alice's INBOX: each message's subject and flags, by UID.
const LIST: &str = r#"
m = connect()
box = sys.argv[2]
typ, data = m.select('"%s"' % box)
print("SELECT", typ, data[0].decode())
typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
for item in data:
    if isinstance(item, tuple):
        meta = item[0].decode()
        subject = item[1].decode().strip()
        uid = meta[meta.index("UID ") + 4:].split()[0].rstrip(")")
        print("MSG uid=%s" % uid, meta[meta.index("FLAGS"):].split(")")[0] + ")", subject)
m.logout()
"#;

fn list(node: &Havre, mailbox: &str) -> String {
    havre_testkit::python_ok(
        &format!("{}\n{LIST}", havre_testkit::imap::IMAPLIB_PRELUDE),
        &[&node.imap_port.to_string(), mailbox],
    )
}

#[test]
fn a_user_s_lost_messages_come_back_from_a_restic_copy_of_a_snapshot_with_their_flags_once() {
    let node = Havre::started(BIN, &["alice@example.test"], |_| {});
    for n in 1..=3 {
        let out = havre_testkit::swaks(&[
            "--server",
            &node.smtp_addr(),
            "--from",
            "bob@remote.test",
            "--to",
            "alice@example.test",
            "--header",
            &format!("Subject: message {n}"),
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    node.wait_for_messages("alice@example.test", 3);
    // Alice flags the second message and reads it.
    imaplib(
        &node,
        r#"
m = connect(); m.select("INBOX")
m.uid("STORE", "2", "+FLAGS", r"(\Flagged \Seen $Important)")
m.logout()
"#,
    );

    let snapshot = node.dir().join("snapshot");
    let out = node.cli_ok(&["backup", "snapshot", snapshot.to_str().unwrap()]);
    assert!(
        out.contains("snapshot written in ") && out.contains("hard-linked"),
        "{out}"
    );
    let manifest = std::fs::read_to_string(snapshot.join("MANIFEST")).unwrap();
    assert!(
        manifest.contains("maildir mail/%d/%n/Maildir\n"),
        "{manifest}"
    );
    assert!(snapshot.join("store.sqlite").exists() && snapshot.join("events.sqlite").exists());
    // A second snapshot into the same place is refused: it is not empty.
    let err = failure(&node.cli(&["backup", "snapshot", snapshot.to_str().unwrap()]));
    assert!(err.contains("is not empty"), "{err}");

    // restic takes it away, and the snapshot directory goes.
    let repo = node.dir().join("restic-repo");
    restic(&repo, &["init"]);
    restic(&repo, &["backup", snapshot.to_str().unwrap()]);
    std::fs::remove_dir_all(&snapshot).unwrap();

    // Alice loses the first two messages.
    imaplib(
        &node,
        r#"
m = connect(); m.select("INBOX")
m.uid("STORE", "1:2", "+FLAGS", r"(\Deleted)")
m.expunge(); m.logout()
"#,
    );
    let inbox = list(&node, "INBOX");
    assert_eq!(inbox.matches("MSG ").count(), 1, "{inbox}");

    // restic brings the snapshot back; havre brings her messages back.
    let restored = node.dir().join("restored");
    restic(
        &repo,
        &["restore", "latest", "--target", restored.to_str().unwrap()],
    );
    let from = restored.join(snapshot.strip_prefix("/").unwrap());
    let out = succeeded(&restore(&node, "alice@example.test", &from, &[]));
    assert!(
        out.contains("restored 2 message(s) for alice@example.test"),
        "{out}"
    );
    assert!(
        out.contains("(1 already there, not restored again)"),
        "{out}"
    );
    assert!(out.contains("INBOX -> Restored/INBOX: 2 restored"), "{out}");
    let back = list(&node, "Restored/INBOX");
    assert!(back.contains("SELECT OK 2"), "{back}");
    let flagged = back
        .lines()
        .find(|l| l.contains("message 2"))
        .unwrap_or_else(|| panic!("{back}"));
    assert!(
        flagged.contains("\\Flagged")
            && flagged.contains("\\Seen")
            && flagged.contains("$Important"),
        "{back}"
    );
    let plain = back.lines().find(|l| l.contains("message 1")).unwrap();
    assert!(!plain.contains("\\Seen"), "{back}");
    // New UIDs in the new mailbox.
    assert!(
        plain.contains("MSG uid=1 ") && flagged.contains("MSG uid=2 "),
        "{back}"
    );
    // Run again: nothing twice.
    let out = succeeded(&restore(
        &node,
        "alice@example.test",
        &from,
        &["--folder", "INBOX"],
    ));
    assert!(
        out.contains("restored 0 message(s)") && out.contains("(3 already there"),
        "{out}"
    );
    assert!(list(&node, "Restored/INBOX").contains("SELECT OK 2"));

    // Bad input: clear errors, exit 1, nothing changes.
    let err = failure(&restore(&node, "ghost@example.test", &from, &[]));
    assert!(
        err.contains("no user ghost@example.test on this node"),
        "{err}"
    );
    let err = failure(&restore(
        &node,
        "alice@example.test",
        &from,
        &["--folder", "Nope"],
    ));
    assert!(
        err.contains("the snapshot has no folder \"Nope\" for alice@example.test (it has: INBOX"),
        "{err}"
    );
    let err = failure(&restore(&node, "alice@example.test", &node.dir(), &[]));
    assert!(
        err.contains("is not a havre snapshot: it has no MANIFEST"),
        "{err}"
    );
    let log = node.log();
    assert!(
        log.contains("alice@example.test: 2 message(s) restored from "),
        "{log}"
    );
}

#[test]
fn a_snapshot_onto_a_full_disk_fails_clearly_and_leaves_nothing_behind() {
    let node = Havre::started(BIN, &["alice@example.test"], |_| {});
    let (sent, out) = node.send_to_mx("alice@example.test");
    assert!(sent, "{out}");
    node.wait_for_messages("alice@example.test", 1);
    let disk = SmallDisk::mount("64k");
    let snapshot = disk.path().join("snapshot");
    let err = failure(&node.cli(&["backup", "snapshot", snapshot.to_str().unwrap()]));
    assert!(
        err.contains("no snapshot written in") && err.contains("the partial snapshot was removed"),
        "{err}"
    );
    assert!(err.contains("cannot copy the store"), "{err}");
    assert!(!snapshot.exists(), "the partial snapshot is gone");
    // The node goes on serving.
    let (sent, out) = node.send_to_mx("alice@example.test");
    assert!(sent, "{out}");
    node.wait_for_messages("alice@example.test", 2);
}

/// Mail from outside, one message a connection, while the test works.
const LOAD: &str = r#"
import smtplib, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
for n in range(count):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.sendmail("bob@remote.test", ["alice@example.test"],
               "From: bob@remote.test\r\nTo: alice@example.test\r\nSubject: load %d\r\n\r\nbody %d\r\n" % (n, n))
    s.quit()
print("sent", count)
"#;

#[test]
fn a_folder_deleted_after_a_snapshot_taken_under_load_comes_back_and_imap_clients_see_it() {
    let node = Havre::started(BIN, &["alice@example.test"], |_| {});
    // Alice files five messages into Projects, two of them flagged.
    imaplib(
        &node,
        r#"
m = connect()
m.create("Projects")
for n in range(5):
    flags = r"(\Seen \Flagged)" if n < 2 else r"(\Seen)"
    m.append("Projects", flags, None, ("Subject: project %d\r\n\r\nplan %d\r\n" % (n, n)).encode())
m.logout()
"#,
    );
    // Mail keeps arriving while the snapshot is taken.
    let load = Command::new("python3")
        .args(["-c", LOAD, &node.smtp_port.to_string(), "60"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    node.wait_for_messages("alice@example.test", 5);
    let inbox = node.maildir("alice@example.test");
    let before = ["new", "cur"]
        .iter()
        .map(|sub| std::fs::read_dir(inbox.join(sub)).map_or(0, |d| d.count()))
        .sum::<usize>();
    let snapshot = node.dir().join("snapshot");
    let out = node.cli_ok(&["backup", "snapshot", snapshot.to_str().unwrap()]);
    assert!(out.contains("snapshot written in"), "{out}");
    let out = load.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sent 60"),
        "{out:?}"
    );
    node.wait_for_messages("alice@example.test", 60);
    // Every message delivered before the snapshot began is in it.
    let manifest = std::fs::read_to_string(snapshot.join("MANIFEST")).unwrap();
    let in_inbox = manifest
        .lines()
        .filter(|l| l.contains("alice/Maildir/new/") || l.contains("alice/Maildir/cur/"))
        .count();
    assert!(in_inbox >= before, "{in_inbox} < {before}: {manifest}");
    assert_eq!(
        manifest
            .lines()
            .filter(|l| l.contains("alice/Maildir/.Projects/cur/"))
            .count(),
        5,
        "{manifest}"
    );

    // Alice deletes the folder by mistake.
    imaplib(&node, "m = connect(); m.delete(\"Projects\"); m.logout()");
    assert!(!list(&node, "INBOX").contains("project"));
    let out = succeeded(&restore(
        &node,
        "alice@example.test",
        &snapshot,
        &["--folder", "Projects"],
    ));
    assert!(
        out.contains("Projects -> Restored/Projects: 5 restored"),
        "{out}"
    );
    // Her IMAP client sees the folder and its messages, flags and all.
    let folders = imaplib(&node, "m = connect(); print(m.list()[1]); m.logout()");
    assert!(folders.contains("Restored/Projects"), "{folders}");
    let back = list(&node, "Restored/Projects");
    assert!(back.contains("SELECT OK 5"), "{back}");
    assert_eq!(back.matches("\\Flagged").count(), 2, "{back}");
    assert_eq!(back.matches("\\Seen").count(), 5, "{back}");
}

#[test]
fn a_node_on_postgresql_snapshots_its_mail_and_leaves_the_store_to_pg_dump() {
    let node = Havre::started(BIN, &[], |node| {
        node.use_own_postgres();
        node.add_user("alice@example.test");
    });
    for n in 0..2 {
        let (ok, said) = node.send_to_mx("alice@example.test");
        assert!(ok, "message {n}: {said}");
    }
    node.wait_for_messages("alice@example.test", 2);
    let snapshot = node.dir().join("snapshot");
    let out = node.cli_ok(&["backup", "snapshot", snapshot.to_str().unwrap()]);
    assert!(
        out.contains("not the store (PostgreSQL's: pg_dump it)"),
        "{out}"
    );
    assert!(!snapshot.join("store.sqlite").exists());
    let manifest = std::fs::read_to_string(snapshot.join("MANIFEST")).unwrap();
    assert!(
        manifest.contains("store postgresql (not in this snapshot: copy it with pg_dump)"),
        "{manifest}"
    );
    // Both messages deleted, then brought back from the snapshot.
    imaplib(
        &node,
        "m = connect()\nm.select('INBOX')\nm.store('1:*', '+FLAGS', r'(\\Deleted)')\nm.expunge()\nm.logout()\n",
    );
    let said = succeeded(&restore(&node, "alice@example.test", &snapshot, &[]));
    assert!(said.contains("2 message"), "{said}");
    assert_eq!(list(&node, "Restored/INBOX").matches("MSG uid=").count(), 2);
}
