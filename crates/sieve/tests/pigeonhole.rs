//! Differential: the same scripts and messages through havre-sieve and
//! through Pigeonhole's `sieve-test` (Debian's dovecot-sieve, which the
//! test command installs), the actions compared where both implement the
//! extensions a script uses. What is compared is what a delivery does:
//! the folders stored into (with their flags), redirects, rejects,
//! discards and vacation answers; and a script one refuses, the other
//! must refuse too.

use std::collections::BTreeSet;
use std::process::Command;

use havre_sieve::{Action, Envelope, Limits, Message, NoHost, Outcome, Script};

const SENDER: &str = "sender@remote.test";
const RECIPIENT: &str = "alice@example.test";

const MESSAGES: &[(&str, &str)] = &[
    (
        "list",
        "From: Bob <bob@lists.example.org>\r\nTo: team@lists.example.org\r\nCc: alice@example.test\r\n\
         List-Id: <team.lists.example.org>\r\nSubject: [team] weekly meeting\r\n\
         Date: Tue, 1 Dec 2026 09:06:31 +0100\r\nMessage-ID: <1@lists.example.org>\r\n\r\n\
         Agenda attached.\r\n",
    ),
    (
        "boss",
        "From: The Boss <boss@example.test>\r\nTo: Alice <alice@example.test>\r\n\
         Subject: URGENT: budget\r\nX-Priority: 1\r\nX-Spam-Score: 7\r\n\
         Message-ID: <2@example.test>\r\n\r\nCall me about the budget.\r\n",
    ),
    (
        "spam",
        "From: winner@lottery.test\r\nTo: undisclosed-recipients:;\r\n\
         Subject: You have WON\r\nX-Spam-Flag: YES\r\n\r\nClaim your prize now.\r\n",
    ),
];

const SCRIPTS: &[&str] = &[
    "keep;",
    "discard;",
    "stop;",
    "require \"fileinto\"; fileinto \"Lists\";",
    "require [\"fileinto\", \"copy\"]; fileinto :copy \"Lists\";",
    "require \"fileinto\"; if exists \"list-id\" { fileinto \"Lists\"; stop; }",
    "require \"fileinto\"; if header :contains \"subject\" \"[team]\" { fileinto \"Lists/team\"; }",
    "require \"fileinto\"; if address :domain :is \"from\" \"example.test\" { fileinto \"Work\"; } else { keep; }",
    "require \"fileinto\"; if address :localpart :is \"from\" \"boss\" { fileinto \"Boss\"; } elsif header :is \"x-spam-flag\" \"YES\" { fileinto \"Junk\"; }",
    "if header :matches \"subject\" \"*WON*\" { discard; }",
    "if anyof (header :contains \"subject\" \"urgent\", exists \"x-priority\") { redirect \"alice@phone.test\"; }",
    "require \"copy\"; redirect :copy \"archive@example.test\";",
    "require \"reject\"; if header :contains \"subject\" \"WON\" { reject \"No lotteries, thank you.\"; }",
    "require \"imap4flags\"; if exists \"x-priority\" { addflag \"\\\\Flagged\"; } keep;",
    "require [\"imap4flags\", \"fileinto\"]; setflag \"\\\\Seen\"; fileinto \"Read\"; removeflag \"\\\\Seen\";",
    "require \"imap4flags\"; addflag [\"\\\\Seen\", \"$label1\"];",
    "require [\"relational\", \"comparator-i;ascii-numeric\", \"fileinto\"]; if header :value \"ge\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"5\" { fileinto \"Junk\"; }",
    "require \"envelope\"; if envelope :is \"from\" \"sender@remote.test\" { discard; }",
    "require [\"envelope\", \"subaddress\", \"fileinto\"]; if envelope :detail \"to\" \"lists\" { fileinto \"Lists\"; }",
    "require [\"variables\", \"fileinto\"]; if header :matches \"list-id\" \"<*.lists.example.org>\" { fileinto \"Lists/${1}\"; }",
    "require \"body\"; if body :contains \"prize\" { discard; }",
    "if size :over 100 { discard; }",
    "if not exists \"message-id\" { discard; }",
    "require \"fileinto\"; if allof (exists \"from\", header :contains \"from\" \"example\") { fileinto \"Known\"; }",
    "require [\"vacation\"]; vacation :days 3 :subject \"Away\" \"I am away until Monday.\";",
    "require \"regex\"; if header :regex \"subject\" \"^\\\\[team\\\\] w.*g$\" { discard; }",
    "require [\"regex\", \"variables\", \"fileinto\"]; if header :regex \"from\" \"([a-z]+)@(example|lists)\" { fileinto \"From/${1}\"; }",
    "require \"encoded-character\"; if header :contains \"subject\" \"${hex:5B}team${hex:5D}\" { discard; }",
    "require [\"date\", \"relational\"]; if currentdate :value \"ge\" \"year\" \"2000\" { discard; }",
    "require [\"date\", \"fileinto\"]; if date :is \"date\" \"year\" \"2026\" { fileinto \"2026\"; }",
    "require \"duplicate\"; if duplicate { discard; }",
    "require [\"editheader\", \"fileinto\"]; addheader \"X-Filed\" \"yes\"; if header :is \"x-filed\" \"yes\" { fileinto \"Edited\"; }",
    "require [\"variables\", \"fileinto\"]; set :lower \"who\" \"BOSS\"; if address :localpart :is \"from\" \"${who}\" { fileinto \"Boss\"; }",
    "require \"copy\"; if header :contains \"subject\" \"budget\" { redirect :copy \"a@x.test\"; redirect \"b@x.test\"; }",
    "require [\"imap4flags\", \"fileinto\", \"variables\"]; setflag \"flags\" \"\\\\Answered\"; fileinto :flags \"${flags} \\\\Seen\" \"Done\";",
    // Refused by both: a flag variable without "variables"; an unknown
    // command; a test used without its extension.
    "require [\"imap4flags\", \"fileinto\"]; setflag \"flags\" \"\\\\Answered\"; fileinto \"Done\";",
    "filein \"Lists\";",
    "if body :contains \"prize\" { discard; }",
];

/// What a delivery does, as both sides print it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Done {
    Store { folder: String, flags: Vec<String> },
    Redirect(String),
    Reject(String),
    Discard,
    Vacation,
}

/// What havre-sieve does; `None` when it refuses the script.
fn ours(script: &str, message: &str) -> Option<BTreeSet<Done>> {
    let compiled = Script::compile(script, &Limits::default()).ok()?;
    let envelope = Envelope {
        from: SENDER.into(),
        to: RECIPIENT.into(),
        original_to: None,
        auth: None,
    };
    let outcome: Outcome = compiled
        .run(&Message::parse(message.as_bytes()), &envelope, &NoHost)
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    let flags = |flags: &[String]| {
        let mut flags: Vec<String> = flags.iter().map(|f| f.to_lowercase()).collect();
        flags.sort();
        flags
    };
    let mut done = BTreeSet::new();
    for action in &outcome.actions {
        done.insert(match action {
            Action::Keep { flags: f } => Done::Store {
                folder: "INBOX".into(),
                flags: flags(f),
            },
            Action::FileInto {
                mailbox, flags: f, ..
            } => Done::Store {
                folder: mailbox.clone(),
                flags: flags(f),
            },
            Action::Redirect { address, .. } => Done::Redirect(address.clone()),
            Action::Reject { reason, .. } => Done::Reject(reason.clone()),
            Action::Discard => Done::Discard,
            Action::Vacation(_) => Done::Vacation,
        });
    }
    if outcome.implicit_keep {
        done.insert(Done::Store {
            folder: "INBOX".into(),
            flags: flags(&outcome.keep_flags),
        });
    }
    Some(done)
}

/// `sieve-test`'s "Performed actions" and "Implicit keep", read back;
/// `None` when it refuses the script.
fn pigeonhole(dir: &std::path::Path, script: &str, message: &str) -> Option<BTreeSet<Done>> {
    let script_path = dir.join("script.sieve");
    let message_path = dir.join("message.eml");
    std::fs::write(&script_path, script).unwrap();
    std::fs::write(&message_path, message).unwrap();
    // sieve-test drops privileges to mail_uid; the files must be readable
    // by that account.
    for path in [dir, &script_path, &message_path] {
        use std::os::unix::fs::PermissionsExt;
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = Command::new("sieve-test")
        .args(["-o", "mail_uid=65534", "-o", "mail_gid=65534"])
        // editheader is off in Pigeonhole unless asked for.
        .args(["-x", "+editheader"])
        .args(["-f", SENDER, "-a", RECIPIENT, "-r", RECIPIENT])
        .arg(&script_path)
        .arg(&message_path)
        .output()
        .expect("sieve-test (Debian package dovecot-sieve) runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if String::from_utf8_lossy(&out.stderr).contains("failed to compile sieve script") {
        return None;
    }
    assert!(
        out.status.success(),
        "sieve-test failed on {script}:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut done = BTreeSet::new();
    let mut last_store: Option<(String, Vec<String>)> = None;
    let flush = |last: &mut Option<(String, Vec<String>)>, done: &mut BTreeSet<Done>| {
        if let Some((folder, mut flags)) = last.take() {
            flags.sort();
            done.insert(Done::Store { folder, flags });
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(folder) = line.strip_prefix("* store message in folder: ") {
            flush(&mut last_store, &mut done);
            last_store = Some((folder.to_string(), Vec::new()));
        } else if let Some(flags) = line.strip_prefix("+ add IMAP flags: ") {
            if let Some((_, list)) = last_store.as_mut() {
                list.extend(flags.split_whitespace().map(str::to_lowercase));
            }
        } else if line.starts_with('*') {
            flush(&mut last_store, &mut done);
            if let Some(to) = line.strip_prefix("* redirect message to: ") {
                done.insert(Done::Redirect(to.trim_matches(['<', '>']).to_string()));
            } else if let Some(reason) = line.strip_prefix("* reject message with reason: ") {
                done.insert(Done::Reject(reason.to_string()));
            } else if line == "* discard" {
                done.insert(Done::Discard);
            } else if line.starts_with("* send vacation message") {
                done.insert(Done::Vacation);
            }
        }
    }
    flush(&mut last_store, &mut done);
    Some(done)
}

#[test]
fn havre_sieve_acts_as_pigeonhole_on_every_script_and_message_of_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut differences = Vec::new();
    let mut kinds = std::collections::HashSet::new();
    for script in SCRIPTS {
        for (name, message) in MESSAGES {
            let theirs = pigeonhole(dir.path(), script, message);
            kinds.extend(theirs.iter().flatten().map(std::mem::discriminant));
            let ours = ours(script, message);
            if ours != theirs {
                differences.push(format!(
                    "{script}\n  on {name}: havre {ours:?}\n  pigeonhole {theirs:?}"
                ));
            }
        }
    }
    // sieve-test's output was read: every kind of action came out of it.
    assert_eq!(
        kinds.len(),
        5,
        "the table must make sieve-test print every kind of action"
    );
    assert!(
        differences.is_empty(),
        "{} difference(s):\n{}",
        differences.len(),
        differences.join("\n")
    );
}
