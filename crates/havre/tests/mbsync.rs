//! A real synchronising client: mbsync (isync) mirrors a 1,000-message INBOX,
//! flags change on both sides, and further syncs converge with nothing lost
//! or duplicated.

use std::path::Path;

use havre_testkit::{Havre, python_ok};

#[path = "support/mbsync.rs"]
mod client;
use client::{mbsync, mbsync_config};

/// Delivers `count` messages over LMTP in one session (straight to the Maildir).
const FILL: &str = r#"
import smtplib, sys
count = int(sys.argv[2])
lmtp = smtplib.LMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
lmtp.ehlo("filler.test")
for i in range(count):
    msg = f"From: list@remote.test\r\nSubject: message {i}\r\nMessage-ID: <m{i}@remote.test>\r\n\r\nbody {i}\r\n"
    lmtp.sendmail("list@remote.test", ["alice@example.test"], msg)
lmtp.quit()
print("filled", count)
"#;

/// Local messages: (file name, flags after ":2,").
fn local(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let flags = name.split(":2,").nth(1).unwrap_or("").to_string();
            out.push((name, flags));
        }
    }
    out
}

fn subjects(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            if let Some(s) = text.lines().find_map(|l| l.strip_prefix("Subject: ")) {
                out.push(s.to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn mbsync_mirrors_a_thousand_messages_and_flag_changes_converge() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    python_ok(FILL, &[&node.lmtp_port.to_string(), "1000"]);

    let (config, inbox) = mbsync_config(&node, "INBOX");

    mbsync(&config);
    let first = local(&inbox);
    assert_eq!(first.len(), 1000, "first sync brings everything down");
    let mut expected = subjects(&inbox);
    expected.dedup();
    assert_eq!(expected.len(), 1000, "no duplicates");

    // Near side: flag 10 messages, delete 5 (T flag, expunged by the sync),
    // none of them among the last 100, which the far side reads below.
    let mut flagged = 0;
    let mut deleted = Vec::new();
    let early = first.iter().filter(|(name, _)| {
        let path = ["cur", "new"]
            .iter()
            .map(|d| inbox.join(d).join(name))
            .find(|p| p.exists())
            .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("Subject: message "))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n < 900)
    });
    for (name, _) in early.take(15) {
        let path = ["cur", "new"]
            .iter()
            .map(|d| inbox.join(d).join(name))
            .find(|p| p.exists())
            .unwrap();
        let base = name.split(":2,").next().unwrap();
        let current = name.split(":2,").nth(1).unwrap_or("");
        let new_flags = if flagged < 10 {
            flagged += 1;
            format!("F{current}")
        } else {
            let text = std::fs::read_to_string(&path).unwrap();
            deleted.push(
                text.lines()
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .unwrap()
                    .to_string(),
            );
            format!("{current}T")
        };
        let mut letters: Vec<char> = new_flags.chars().collect();
        letters.sort();
        letters.dedup();
        let target = inbox
            .join("cur")
            .join(format!("{base}:2,{}", letters.iter().collect::<String>()));
        std::fs::rename(&path, &target).unwrap();
    }
    // Far side: another client reads 20 messages.
    python_ok(
        r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret"); m.select("INBOX")
m.store("981:1000", "+FLAGS", "(\\Seen)")
m.logout()
"#,
        &[&node.imap_port.to_string()],
    );

    mbsync(&config);
    let after = local(&inbox);
    assert_eq!(after.len(), 995, "the 5 deleted messages are gone locally");
    let server = python_ok(
        r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
print("exists", m.select("INBOX")[1][0].decode())
print("flagged", len(m.search(None, "FLAGGED")[1][0].split()))
print("seen", len(m.search(None, "SEEN")[1][0].split()))
print("deleted", len(m.search(None, "DELETED")[1][0].split()))
"#,
        &[&node.imap_port.to_string()],
    );
    assert!(server.contains("exists 995"), "{server}");
    assert!(server.contains("flagged 10"), "{server}");
    assert!(server.contains("deleted 0"), "{server}");
    let seen_locally = after.iter().filter(|(_, f)| f.contains('S')).count();
    assert!(
        seen_locally >= 20,
        "the server's \\Seen reached the near side: {seen_locally}"
    );
    assert!(
        server.contains(&format!("seen {seen_locally}")),
        "{server} vs {seen_locally} locally"
    );

    // A third sync has nothing to do and changes nothing.
    mbsync(&config);
    let again = local(&inbox);
    let mut names_after: Vec<_> = after.iter().map(|(n, _)| n.clone()).collect();
    let mut names_again: Vec<_> = again.iter().map(|(n, _)| n.clone()).collect();
    names_after.sort();
    names_again.sort();
    assert_eq!(names_after, names_again, "converged");
    let subjects_now = subjects(&inbox);
    for gone in &deleted {
        assert!(!subjects_now.contains(gone), "{gone} came back");
    }
    let mut unique = subjects_now.clone();
    unique.dedup();
    assert_eq!(unique.len(), 995, "nothing duplicated");
}

/// A phone working on the INBOX (new messages, flags, deletions) while mbsync
/// syncs the same account again and again.
const PHONE: &str = r#"
import imaplib, random, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
rnd = random.Random(int(sys.argv[2]))
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret"); m.select("INBOX")
for i in range(80):
    typ, _ = m.append("INBOX", None, None, f"From: phone@remote.test\r\nSubject: phone {i}\r\n\r\nfrom the phone\r\n".encode())
    assert typ == "OK", typ
    uids = m.uid("SEARCH", None, "ALL")[1][0].split()
    typ, _ = m.uid("STORE", rnd.choice(uids), "+FLAGS", "(\\Flagged)")
    assert typ == "OK", typ
    if i % 8 == 7:
        m.uid("STORE", rnd.choice(uids), "+FLAGS", "(\\Deleted)")
        m.expunge()
m.logout()
print("phone done")
"#;

/// What the server has: subject and whether it is flagged, per message.
const SERVER_STATE: &str = r#"
import imaplib, re, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret"); m.select("INBOX", readonly=True)
typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
for item in data:
    if isinstance(item, tuple):
        flagged = "\\Flagged" in item[0].decode()
        subject = item[1].decode().strip().removeprefix("Subject: ")
        print(("F " if flagged else "- ") + subject)
"#;

#[test]
fn mbsync_and_a_phone_working_at_once_converge_with_nothing_lost_or_doubled() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    python_ok(FILL, &[&node.lmtp_port.to_string(), "300"]);
    let (config, inbox) = mbsync_config(&node, "INBOX");
    mbsync(&config);

    let port = node.imap_port.to_string();
    let phone = std::thread::spawn(move || python_ok(PHONE, &[&port, "7"]));
    while !phone.is_finished() {
        mbsync(&config);
    }
    assert!(phone.join().unwrap().contains("phone done"));
    mbsync(&config);
    mbsync(&config);

    let server: Vec<String> = python_ok(SERVER_STATE, &[&node.imap_port.to_string()])
        .lines()
        .map(str::to_string)
        .collect();
    let mut near: Vec<String> = Vec::new();
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(inbox.join(sub)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let flagged = name.split(":2,").nth(1).unwrap_or("").contains('F');
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let subject = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default()
                .to_string();
            near.push(format!("{} {subject}", if flagged { "F" } else { "-" }));
        }
    }
    let mut server_sorted = server.clone();
    server_sorted.sort();
    near.sort();
    assert_eq!(server_sorted.len(), 300 + 80 - 10, "{server_sorted:?}");
    let mut unique = server_sorted.clone();
    unique.dedup();
    assert_eq!(
        unique.len(),
        server_sorted.len(),
        "a message doubled on the server"
    );
    assert_eq!(near, server_sorted, "the two sides did not converge");
}
