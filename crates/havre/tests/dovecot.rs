//! An admin's way back: Dovecot pointed at the Maildir havre wrote shows
//! the UIDs, UIDVALIDITY, flags, keywords, folders and subscriptions havre's
//! IMAP showed, and `havre import maildir` brings the Maildir (with what
//! Dovecot changed) back into a fresh node with all of them.
//!
//! Dovecot is Debian's (dovecot-core, installed by scripts/test), run with a
//! throwaway config and no listener; doveadm asks it. Dovecot refuses to
//! open mail as root, so it reads a copy of the Maildir owned by `nobody`,
//! as an admin rolling back would give the tree to the mail user.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use havre_testkit::imap::imaplib;
use havre_testkit::{Havre, swaks};

const USER: &str = "alice@example.test";

/// What a client sees: per mailbox its UIDVALIDITY and `(uid, flags)`, and
/// the subscribed names. Printed by [`SEEN_BY_IMAP`] as
/// `uidvalidity <box> <n>`, `message <box> <uid> <flags>`, `subscribed <name>`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    lines: BTreeSet<String>,
}

impl Seen {
    fn parse(out: &str) -> Seen {
        Seen {
            lines: out
                .lines()
                .filter(|l| {
                    ["uidvalidity ", "message ", "subscribed "]
                        .iter()
                        .any(|p| l.starts_with(p))
                })
                .map(str::to_string)
                .collect(),
        }
    }
}

/// Flags in one order, without `\Recent` (which is per session).
fn flag_set<'a>(flags: impl Iterator<Item = &'a str>) -> String {
    let mut flags: Vec<&str> = flags
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .collect();
    flags.sort_unstable();
    flags.join(" ")
}

const SEEN_BY_IMAP: &str = r#"
import re
m = connect()
for box in ("INBOX", "Lists/rust"):
    typ, _ = m.select('"%s"' % box)
    assert typ == "OK", box
    print("uidvalidity", box, m.response("UIDVALIDITY")[1][0].decode())
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
    for item in data:
        if item is None:
            continue
        text = item.decode()
        uid = re.search(r"UID (\d+)", text).group(1)
        flags = [f for f in re.search(r"FLAGS \(([^)]*)\)", text).group(1).split() if f != "\\Recent"]
        print("message", box, uid, " ".join(sorted(flags)))
typ, data = m.lsub('""', "*")
for item in data:
    print("subscribed", item.decode().rsplit(" ", 1)[1].strip('"'))
m.logout()
"#;

fn deliver(node: &Havre, subject: &str) {
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "bob@remote.test",
        "--to",
        USER,
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

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} (scripts/test installs dovecot-core): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Dovecot master with no listener, serving one user whose Maildir is
/// `home/Maildir`, for doveadm; stopped when dropped.
struct Dovecot {
    config: PathBuf,
}

impl Dovecot {
    fn start(dir: &Path) -> Dovecot {
        let config = dir.join("dovecot.conf");
        fs::create_dir_all(dir.join("run")).unwrap();
        fs::write(
            &config,
            format!(
                r#"
base_dir = {dir}/run
log_path = {dir}/dovecot.log
protocols =
ssl = no
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/home
}}
passdb {{
  driver = static
  args = password=unused
}}
"#,
                dir = dir.display()
            ),
        )
        .unwrap();
        // It forks into the background: no pipe of ours may stay open in it.
        let started = Command::new("dovecot")
            .args(["-c", config.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("dovecot (scripts/test installs dovecot-core)");
        assert!(
            started.success(),
            "dovecot did not start: see {}/dovecot.log",
            dir.display()
        );
        Dovecot { config }
    }

    fn doveadm(&self, args: &[&str]) -> String {
        let mut all = vec!["-c", self.config.to_str().unwrap()];
        all.extend(args);
        run("doveadm", &all)
    }

    /// What Dovecot shows, in [`Seen`]'s lines.
    fn seen(&self) -> Seen {
        let mut lines = BTreeSet::new();
        let status = self.doveadm(&["mailbox", "status", "-u", USER, "uidvalidity", "*"]);
        for line in status.lines() {
            let (name, value) = line.rsplit_once(" uidvalidity=").unwrap();
            if name == "INBOX" || name == "Lists/rust" {
                lines.insert(format!("uidvalidity {name} {value}"));
            }
        }
        let fetched = self.doveadm(&["fetch", "-u", USER, "mailbox uid flags", "ALL"]);
        // doveadm's "pager" output: records end with a form feed.
        for record in fetched.split('\x0c').filter(|r| !r.trim().is_empty()) {
            let field = |key: &str| {
                record
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            let flags = field("flags:");
            lines.insert(format!(
                "message {} {} {}",
                field("mailbox:"),
                field("uid:"),
                flag_set(flags.split_whitespace())
            ));
        }
        for name in self.doveadm(&["mailbox", "list", "-u", USER, "-s"]).lines() {
            lines.insert(format!("subscribed {name}"));
        }
        Seen { lines }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .args(["-c", self.config.to_str().unwrap(), "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The `(uid, file)` records of a `dovecot-uidlist`, and its UIDVALIDITY.
fn uidlist(dir: &Path) -> (String, Vec<(u32, String)>) {
    let text = fs::read_to_string(dir.join("dovecot-uidlist")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let validity = header.split(' ').nth(1).unwrap().strip_prefix('V').unwrap();
    let records = lines
        .map(|l| {
            let (uid, rest) = l.split_once(' ').unwrap();
            (
                uid.parse().unwrap(),
                rest.rsplit_once(':').unwrap().1.to_string(),
            )
        })
        .collect();
    (validity.to_string(), records)
}

#[test]
fn dovecot_shows_what_havre_showed_and_the_maildir_comes_back_with_its_uids_and_flags() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user(USER);
    node.start();
    for subject in ["one", "two", "three", "four"] {
        deliver(&node, subject);
    }
    assert_eq!(node.wait_for_messages(USER, 4).len(), 4);

    let out = imaplib(
        &node,
        r#"
m = connect()
print("create", m.create('"Lists/rust"')[0])
print("subscribe", m.subscribe('"Lists/rust"')[0], m.unsubscribe("Junk")[0])
m.select("INBOX")
print("store", m.store("1", "+FLAGS", "(\\Seen \\Flagged)")[0])
print("store", m.store("2", "+FLAGS", "($Label1)")[0])
print("store", m.store("3", "+FLAGS", "(\\Answered)")[0])
print("copy", m.copy("1", '"Lists/rust"')[0])
print("store", m.store("4", "+FLAGS", "(\\Deleted)")[0])
print("expunge", m.expunge()[0])
m.logout()
"#,
    );
    assert_eq!(out.matches(" OK").count(), 9, "{out}");
    let havre = Seen::parse(&imaplib(&node, SEEN_BY_IMAP));

    // Right after the client's STOREs, with havre still running: the files
    // say the flags, dovecot-uidlist the UIDs IMAP gave.
    let maildir = node.maildir(USER);
    let (validity, records) = uidlist(&maildir);
    assert!(
        havre
            .lines
            .contains(&format!("uidvalidity INBOX {validity}")),
        "{havre:?}"
    );
    let uids: Vec<u32> = records.iter().map(|(uid, _)| *uid).collect();
    // UID 4 was expunged: its record stays until a quarter are gone, and
    // Dovecot skips a record whose file is gone.
    assert_eq!(uids, [1, 2, 3, 4]);
    let mut cur: Vec<String> = fs::read_dir(maildir.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    cur.sort();
    let expected: Vec<String> = [":2,FS", ":2,a", ":2,R"]
        .iter()
        .zip(&records)
        .map(|(info, (_, name))| format!("{name}{info}"))
        .collect();
    assert_eq!(cur, expected);
    assert_eq!(
        fs::read_to_string(maildir.join("dovecot-keywords")).unwrap(),
        "0 $Label1\n"
    );
    assert!(fs::read_dir(maildir.join("new")).unwrap().next().is_none());

    // The way back: Dovecot on a copy given to the mail user.
    let dovecot_dir = node.dir().join("dovecot");
    let home = dovecot_dir.join("home");
    fs::create_dir_all(&home).unwrap();
    run(
        "cp",
        &["-a", maildir.to_str().unwrap(), home.to_str().unwrap()],
    );
    run("chown", &["-R", "nobody:nogroup", home.to_str().unwrap()]);
    let dovecot = Dovecot::start(&dovecot_dir);
    let shown = dovecot.seen();
    assert_eq!(
        shown,
        havre,
        "Dovecot (left) and havre (right) disagree; Dovecot's log:\n{}",
        fs::read_to_string(dovecot_dir.join("dovecot.log")).unwrap_or_default()
    );
    for line in [
        "message INBOX 1 \\Flagged \\Seen",
        "message INBOX 2 $Label1",
        "message INBOX 3 \\Answered",
        "message Lists/rust 1 \\Flagged \\Seen",
        "subscribed Lists/rust",
        "subscribed INBOX",
    ] {
        assert!(havre.lines.contains(line), "{line} in {havre:?}");
    }
    assert!(!havre.lines.contains("subscribed Junk"), "{havre:?}");

    // Dovecot changes something too, then the Maildir comes back to havre.
    dovecot.doveadm(&[
        "flags",
        "add",
        "-u",
        USER,
        "\\Answered",
        "mailbox",
        "INBOX",
        "uid",
        "2",
    ]);
    drop(dovecot);
    let mut back = Havre::init(env!("CARGO_BIN_EXE_havre"));
    back.add_user(USER);
    let source = home.join("Maildir");
    let out = back.cli_ok(&[
        "import",
        "maildir",
        source.to_str().unwrap(),
        "--user",
        USER,
    ]);
    assert!(out.contains("imported 4 message(s)"), "{out}");
    back.start();
    let returned = Seen::parse(&imaplib(&back, SEEN_BY_IMAP));
    let mut expected = havre.lines.clone();
    expected.remove("message INBOX 2 $Label1");
    expected.insert("message INBOX 2 $Label1 \\Answered".to_string());
    assert_eq!(returned.lines, expected);
}
