//! `havre spam learn` and `havre spam classify` with the real binary: a
//! labelled set learned from a folder of files and from a Maildir moves the
//! Bayes probability of new messages the right way; a message learned twice
//! counts once, and learning it as the other class moves it; a user's own
//! counts are hers.

use std::fs;
use std::path::Path;

use havre_testkit::Havre;

const SPAM_WORDS: &[&str] = &[
    "cheap",
    "pills",
    "viagra",
    "winner",
    "lottery",
    "claim",
    "prize",
    "casino",
    "bonus",
    "unsubscribe",
    "guaranteed",
    "income",
    "offer",
    "limited",
    "click",
    "discount",
    "million",
    "dollars",
    "free",
    "loans",
];
const HAM_WORDS: &[&str] = &[
    "meeting",
    "agenda",
    "minutes",
    "project",
    "schedule",
    "review",
    "draft",
    "report",
    "budget",
    "committee",
    "thanks",
    "regards",
    "tomorrow",
    "attached",
    "notes",
    "deadline",
    "seminar",
    "students",
    "course",
    "library",
];

/// A message of `words` (a different selection for each `n`), from a
/// sender of `domain`.
fn message(n: usize, words: &[&str], domain: &str, subject: &str) -> String {
    let body: Vec<&str> = (0..60)
        .map(|i| words[(i * 7 + n * 3 + i / 5) % words.len()])
        .collect();
    format!(
        "From: Someone <sender{n}@{domain}>\r\n\
         To: alice@example.test\r\n\
         Subject: {subject} {n}\r\n\
         Message-ID: <{n}.{subject}@{domain}>\r\n\
         Date: Mon, 2 Dec 2024 10:00:00 +0000\r\n\
         \r\n\
         {}\r\n",
        body.join(" ")
    )
}

fn spam(n: usize) -> String {
    message(n, SPAM_WORDS, "offers.example.com", "YOU ARE A WINNER")
}

fn ham(n: usize) -> String {
    message(n, HAM_WORDS, "university.example.edu", "project meeting")
}

/// `count` messages as plain files in `dir`.
fn files(dir: &Path, count: usize, make: fn(usize) -> String) {
    fs::create_dir_all(dir).unwrap();
    for n in 0..count {
        fs::write(dir.join(format!("{n:03}.eml")), make(n)).unwrap();
    }
}

/// `count` messages in a Maildir folder, half in cur/ and half in new/.
fn maildir(dir: &Path, count: usize, make: fn(usize) -> String) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for n in 0..count {
        let (sub, info) = if n % 2 == 0 {
            ("cur", ":2,S")
        } else {
            ("new", "")
        };
        fs::write(
            dir.join(sub)
                .join(format!("170000{n:04}.M{n}P1.host{info}")),
            make(n),
        )
        .unwrap();
    }
    fs::write(dir.join("dovecot-uidlist"), "3 V1 N1\n").unwrap();
}

/// The probability `havre spam classify --json` gives each file.
fn probabilities(node: &Havre, args: &[&str]) -> Vec<Option<f64>> {
    let mut all = vec!["spam", "classify", "--json"];
    all.extend_from_slice(args);
    let out = node.cli_ok(&all);
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    parsed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["probability"].as_f64())
        .collect()
}

#[test]
fn learning_a_labelled_set_moves_the_probability_of_new_messages_the_right_way() {
    let node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    let work = node.dir().join("corpus");
    files(&work.join("spam"), 40, spam);
    maildir(&work.join("Maildir"), 40, ham);
    // New messages, never learned.
    let new_spam = work.join("new-spam.eml");
    let new_ham = work.join("new-ham.eml");
    fs::write(&new_spam, spam(1000)).unwrap();
    fs::write(&new_ham, ham(1000)).unwrap();
    let new = [new_spam.to_str().unwrap(), new_ham.to_str().unwrap()];

    // Nothing learned: the classifier cannot tell.
    assert_eq!(probabilities(&node, &new), vec![None, None]);

    let out = node.cli_ok(&[
        "spam",
        "learn",
        "--spam",
        work.join("spam").to_str().unwrap(),
    ]);
    assert_eq!(out.trim(), "learned 40 spam messages (0 already known)");
    let out = node.cli_ok(&[
        "spam",
        "learn",
        "--ham",
        work.join("Maildir").to_str().unwrap(),
    ]);
    assert_eq!(out.trim(), "learned 40 ham messages (0 already known)");

    let after = probabilities(&node, &new);
    let (spam_p, ham_p) = (after[0].unwrap(), after[1].unwrap());
    assert!(spam_p > 0.9, "the new spam: {spam_p}");
    assert!(ham_p < 0.1, "the new ham: {ham_p}");
    // The text form says how little was learned for the filter to use it.
    let text = node.cli_ok(&["spam", "classify", new[0]]);
    assert!(
        text.contains("probability 0.9") || text.contains("probability 1.0"),
        "{text}"
    );
    assert!(text.contains("40 spam and 40 ham learned"), "{text}");

    // Learning the same folder again counts nothing twice.
    let out = node.cli_ok(&[
        "spam",
        "learn",
        "--spam",
        work.join("spam").to_str().unwrap(),
    ]);
    assert_eq!(out.trim(), "learned 0 spam messages (40 already known)");
    assert_eq!(probabilities(&node, &new[..1]), vec![Some(spam_p)]);

    // The "spam" was ham after all: moved, the new spam is no longer spam.
    let out = node.cli_ok(&[
        "spam",
        "learn",
        "--ham",
        work.join("spam").to_str().unwrap(),
    ]);
    assert_eq!(
        out.trim(),
        "learned 40 ham messages (0 already known; 40 of them learned as spam before, moved)"
    );
    assert_eq!(probabilities(&node, &new[..1]), vec![None], "no spam left");
}

#[test]
fn a_users_own_counts_are_hers_and_a_file_that_cannot_be_read_is_named() {
    let node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    let work = node.dir().join("corpus");
    files(&work.join("spam"), 20, spam);
    files(&work.join("ham"), 20, ham);
    let probe = work.join("probe.eml");
    fs::write(&probe, spam(500)).unwrap();
    let probe = probe.to_str().unwrap();

    let out = node.cli_ok(&[
        "spam",
        "learn",
        "--spam",
        "--user",
        "Alice@Example.test",
        work.join("spam").to_str().unwrap(),
    ]);
    assert_eq!(
        out.trim(),
        "learned 20 spam messages for alice@example.test (0 already known)"
    );
    node.cli_ok(&[
        "spam",
        "learn",
        "--ham",
        "--user",
        "alice@example.test",
        work.join("ham").to_str().unwrap(),
    ]);
    // Hers, not everyone's.
    assert_eq!(probabilities(&node, &[probe]), vec![None]);
    let hers = probabilities(&node, &["--user", "alice@example.test", probe]);
    assert!(hers[0].unwrap() > 0.9, "{hers:?}");

    // An unknown user is refused; a file that cannot be read is named, the
    // rest learned.
    let out = node.cli(&[
        "spam",
        "learn",
        "--spam",
        "--user",
        "bob@example.test",
        probe,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bob@example.test: no such user"));
    fs::write(work.join("spam").join("tiny.eml"), "x").unwrap();
    let unreadable = work.join("spam").join("unreadable.eml");
    std::os::unix::fs::symlink(work.join("nowhere"), &unreadable).unwrap();
    let out = node.cli(&[
        "spam",
        "learn",
        "--spam",
        work.join("spam").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unreadable.eml"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("learned 21 spam messages"),
        "the readable ones are learned"
    );
}
