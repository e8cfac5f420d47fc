//! `havre import maildir`: a user moved from Dovecot, seen by a real IMAP client.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use havre_testkit::{Havre, python_ok};

/// Writes a message as Dovecot names it; returns the name up to ':'.
fn message(dir: &Path, sub: &str, base: &str, info: &str, body: &str) -> String {
    let lines = body.matches('\n').count();
    let key = format!("{base},S={},W={}", body.len(), body.len() + lines);
    let path = dir.join(sub).join(format!("{key}{info}"));
    fs::write(&path, body).unwrap();
    let secs = base.split('.').next().unwrap().parse().unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
    key
}

fn folder(root: &Path, dir: &str) -> PathBuf {
    let path = root.join(dir);
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(path.join(sub)).unwrap();
    }
    if !dir.is_empty() {
        fs::write(path.join("maildirfolder"), "").unwrap();
    }
    path
}

/// A Maildir as Dovecot leaves it: INBOX (UIDs 5, 9, 12 of UIDVALIDITY
/// 1600000000, NEXTUID 13), Sent, Lists/rust and Envoyés.
fn dovecot_maildir(root: &Path) {
    let inbox = folder(root, "");
    let one = message(
        &inbox,
        "cur",
        "1600000001.M1P7.old",
        ":2,S",
        "Subject: one\n\nfirst\n",
    );
    let two = message(
        &inbox,
        "cur",
        "1600000002.M2P7.old",
        ":2,FRa",
        "Subject: two\n\nsecond\n",
    );
    let three = message(
        &inbox,
        "new",
        "1600000003.M3P7.old",
        "",
        "Subject: three\n\nthird\n",
    );
    fs::write(
        inbox.join("dovecot-uidlist"),
        format!(
            "3 V1600000000 N13 G3085f01b7f11094c501100008c4a11c1\n5 :{one}\n9 :{two}\n12 :{three}\n"
        ),
    )
    .unwrap();
    fs::write(inbox.join("dovecot-keywords"), "0 $Label1\n").unwrap();
    fs::write(
        inbox.join("subscriptions"),
        "V\t2\n\nINBOX\nSent\nLists\trust\n",
    )
    .unwrap();
    let sent = folder(root, ".Sent");
    let sent_one = message(
        &sent,
        "cur",
        "1600000100.M1P8.old",
        ":2,S",
        "Subject: sent\n\nbye\n",
    );
    fs::write(
        sent.join("dovecot-uidlist"),
        format!("3 V1600000001 N3\n2 :{sent_one}\n"),
    )
    .unwrap();
    let lists = folder(root, ".Lists.rust");
    let listed = message(
        &lists,
        "cur",
        "1600000200.M1P9.old",
        ":2,S",
        "Subject: rust\n\nhi\n",
    );
    fs::write(
        lists.join("dovecot-uidlist"),
        format!("3 V1600000002 N5\n4 :{listed}\n"),
    )
    .unwrap();
    folder(root, ".Envoy&AOk-s");
}

#[test]
fn a_mailbox_imported_from_dovecot_keeps_its_uids_so_clients_download_nothing_again() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    let source = node.dir().join("dovecot/alice/Maildir");
    dovecot_maildir(&source);
    let out = node.cli_ok(&[
        "import",
        "maildir",
        source.to_str().unwrap(),
        "--user",
        "alice@example.test",
    ]);
    assert!(out.contains("imported 5 message(s)"), "{out}");
    assert!(out.contains("in 4 folder(s)"), "{out}");
    for line in [
        "UIDVALIDITY 1600000000 kept, UIDNEXT 13",
        "UIDVALIDITY 1600000001 kept, UIDNEXT 3",
        "UIDVALIDITY 1600000002 kept, UIDNEXT 5",
    ] {
        assert!(out.contains(line), "{line} in {out}");
    }
    node.start();

    let script = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
typ, _ = m.select("INBOX")
print("select:", typ, m.response("UIDVALIDITY")[1], m.response("UIDNEXT")[1])
typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
for line in data:
    print("fetch:", line.decode())
typ, data = m.list()
for line in data:
    print("list:", line.decode())
typ, data = m.lsub()
for line in data:
    print("lsub:", line.decode())
typ, data = m.append("INBOX", None, None, b"Subject: after\r\n\r\nhello\r\n")
print("append:", typ, data[0].decode())
typ, data = m.select('"Lists/rust"')
typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE)")
print("lists:", data[0].decode())
m.logout()
"#;
    let text = python_ok(script, &[&node.imap_port.to_string()]);
    assert!(
        text.contains("select: OK [b'1600000000'] [b'13']"),
        "{text}"
    );
    let fetched: Vec<&str> = text.lines().filter(|l| l.starts_with("fetch:")).collect();
    assert_eq!(fetched.len(), 3, "{text}");
    assert!(
        fetched[0].contains("UID 5 ") && fetched[0].contains("FLAGS (\\Seen)"),
        "{text}"
    );
    assert!(fetched[1].contains("UID 9 "), "{text}");
    for flag in ["\\Answered", "\\Flagged", "$Label1"] {
        assert!(fetched[1].contains(flag), "{flag}: {text}");
    }
    assert!(
        fetched[2].contains("UID 12 ") && fetched[2].contains("FLAGS ()"),
        "{text}"
    );
    let listed = |name: &str| {
        text.lines()
            .any(|l| l.starts_with("list:") && l.ends_with(&format!(" {name}")))
    };
    assert!(listed("Lists/rust") && listed("Envoy&AOk-s"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("list:") && l.contains("\\Sent") && l.contains("Sent")),
        "{text}"
    );
    // Subscriptions came along; Envoyés was not subscribed in Dovecot.
    assert!(
        text.lines()
            .any(|l| l.starts_with("lsub:") && l.contains("Lists/rust")),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("lsub:") && l.contains("Envoy")),
        "{text}"
    );
    // A new message continues where Dovecot stopped.
    assert!(text.contains("[APPENDUID 1600000000 13]"), "{text}");
    assert!(
        text.contains("lists: 1 (UID 4 FLAGS (\\Seen) RFC822.SIZE 21)"),
        "{text}"
    );
}

#[test]
fn importing_for_a_user_that_does_not_exist_says_how_to_add_it() {
    let node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    let source = node.dir().join("dovecot/bob/Maildir");
    dovecot_maildir(&source);
    let out = node.cli(&[
        "import",
        "maildir",
        source.to_str().unwrap(),
        "--user",
        "bob@example.test",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "no user bob@example.test: add it first with `havre user add bob@example.test`"
        ),
        "{stderr}"
    );
}

#[test]
fn an_import_run_twice_leaves_the_first_alone_and_other_mail_is_refused() {
    let node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    let source = node.dir().join("dovecot/alice/Maildir");
    dovecot_maildir(&source);
    let args = [
        "import",
        "maildir",
        source.to_str().unwrap(),
        "--user",
        "alice@example.test",
    ];
    node.cli_ok(&args);
    let again = node.cli_ok(&args);
    assert!(again.contains("imported 0 message(s)"), "{again}");
    assert!(
        again.contains("INBOX: nothing to import (already in havre with the same UIDs)"),
        "{again}"
    );

    // Another mailbox's messages (here: another UIDVALIDITY) never mix in.
    let uidlist = source.join("dovecot-uidlist");
    let text = fs::read_to_string(&uidlist).unwrap();
    fs::write(&uidlist, text.replace("V1600000000", "V1700000000")).unwrap();
    let out = node.cli(&args);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "nothing was imported: alice@example.test already has messages in INBOX (3); \
             an import only fills empty mailboxes"
        ),
        "{stderr}"
    );
}
