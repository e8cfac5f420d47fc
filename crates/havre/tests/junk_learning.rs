//! Users teach the Bayes classifier by sorting their mail over IMAP, as
//! with Dovecot's imapsieve and rspamc: a message moved into Junk is
//! learned as spam for her, one moved out of Junk as ham, one thrown from
//! Junk into Trash teaches nothing. The real binary, Python's imaplib, and
//! `havre spam stats` to read what was learned.

use havre_testkit::imap::imaplib;
use havre_testkit::{Havre, swaks};

const ALICE: &str = "alice@example.test";

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user(ALICE);
    node.add_user("bob@example.test");
    node.start();
    node
}

fn deliver(node: &Havre, subject: &str, body: &str) {
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "sender@remote.test",
        "--to",
        ALICE,
        "--header",
        &format!("Subject: {subject}"),
        "--body",
        body,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Delivers `messages` (subject, body) and waits until all are in INBOX.
fn deliver_all(node: &Havre, messages: &[(&str, &str)]) {
    for (subject, body) in messages {
        deliver(node, subject, body);
    }
    let got = node.wait_for_messages(ALICE, messages.len());
    assert_eq!(got.len(), messages.len(), "{}", node.log());
}

/// Moves (or copies) the messages of `from` whose subject has `subject`
/// into `to`, over IMAP as alice.
fn imap_transfer(node: &Havre, verb: &str, from: &str, subject: &str, to: &str) {
    let out = imaplib(
        node,
        &format!(
            r#"
m = connect()
typ, _ = m.select("{from}")
assert typ == "OK"
typ, data = m.uid("SEARCH", "SUBJECT", '"{subject}"')
uids = data[0].decode().split()
assert uids, "no message with subject {subject} in {from}"
typ, data = m.uid("{verb}", ",".join(uids), "{to}")
print("result", typ, data)
m.logout()
"#
        ),
    );
    assert!(out.contains("result OK"), "{out}");
}

/// `havre spam stats --user ADDRESS --json`: (spam, ham) learned.
fn learned(node: &Havre, user: &str) -> (u64, u64) {
    let out = node.cli_ok(&["spam", "stats", "--user", user, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = &v[0];
    assert_eq!(row["owner"], user, "{out}");
    (row["spam"].as_u64().unwrap(), row["ham"].as_u64().unwrap())
}

/// Lines of the log saying the classifier learned from alice's folders.
fn lessons(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("spam-learn") && l.contains("user=<alice@example.test>"))
        .collect()
}

/// The queue id a lesson line starts with (`...spam-learn[pid]: ID: learned...`).
fn queue_id_of(line: &str) -> String {
    let (_, after) = line.split_once("spam-learn").unwrap();
    let (_, rest) = after.split_once(": ").unwrap();
    rest.split(':').next().unwrap().to_string()
}

/// Waits until the log has `count` lesson lines; returns them.
fn wait_for_lessons(node: &Havre, count: usize) -> Vec<String> {
    let log = node.wait_for_log("spam-learn", count);
    let lines: Vec<String> = lessons(&log).into_iter().map(str::to_string).collect();
    assert_eq!(lines.len(), count, "{log}");
    lines
}

#[test]
fn moving_a_message_into_junk_teaches_spam_back_to_inbox_ham_and_into_trash_nothing() {
    let node = node();
    deliver_all(
        &node,
        &[
            ("Cheap pills", "Buy cheap pills now, best prices online."),
            (
                "Meeting notes",
                "Notes of Tuesday's meeting about the budget.",
            ),
            (
                "Lottery winner",
                "You won the lottery, send your bank details.",
            ),
        ],
    );
    assert_eq!(learned(&node, ALICE), (0, 0));

    imap_transfer(&node, "MOVE", "INBOX", "Cheap pills", "Junk");
    let lines = wait_for_lessons(&node, 1);
    assert!(
        lines[0].contains(
            "learned spam from user=<alice@example.test>: mailbox move from INBOX to Junk"
        ),
        "{lines:?}"
    );
    // The queue id our Received: gave it, as in every line about the message.
    let queue_id = queue_id_of(&lines[0]);
    assert_ne!(queue_id, "NOQUEUE", "{lines:?}");
    let log = node.log();
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("{queue_id}: to=<{ALICE}>"))),
        "queue id {queue_id} is not the delivery's:\n{log}"
    );
    assert_eq!(learned(&node, ALICE), (1, 0));
    // Only her counts: nobody else's, not the global ones.
    assert_eq!(learned(&node, "bob@example.test"), (0, 0));

    // A mistake: back to INBOX. The same message is now ham, not spam too.
    imap_transfer(&node, "MOVE", "Junk", "Cheap pills", "INBOX");
    let lines = wait_for_lessons(&node, 2);
    assert!(
        lines[1].contains("learned ham (was learned as spam) from user=<alice@example.test>: mailbox move from Junk to INBOX"),
        "{lines:?}"
    );
    assert_eq!(learned(&node, ALICE), (0, 1));

    // Spam moved into Junk, then thrown away from Junk: one lesson only.
    imap_transfer(&node, "MOVE", "INBOX", "Lottery winner", "Junk");
    wait_for_lessons(&node, 3);
    imap_transfer(&node, "MOVE", "Junk", "Lottery winner", "Trash");
    // Lessons are learned in order: once a later one is logged, a lesson
    // from the move to Trash would have been too.
    imap_transfer(&node, "COPY", "INBOX", "Meeting notes", "Junk");
    let lines = wait_for_lessons(&node, 4);
    assert!(
        lines[3].contains(
            "learned spam from user=<alice@example.test>: mailbox copy from INBOX to Junk"
        ),
        "{lines:?}"
    );
    assert_eq!(learned(&node, ALICE), (2, 1));

    // The whole picture, globally and per user.
    let stats = node.cli_ok(&["spam", "stats"]);
    assert!(stats.contains("(global)"), "{stats}");
    assert!(
        stats
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [ALICE, "2", "1"]),
        "{stats}"
    );
}

#[test]
fn a_message_appended_to_junk_is_spam_and_with_learning_off_nothing_is_learned_until_a_reload() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user(ALICE);
    node.set("spam.learn_from_junk", "false");
    node.start();
    deliver_all(
        &node,
        &[
            ("Cheap pills", "Buy cheap pills now, best prices online."),
            (
                "Lottery winner",
                "You won the lottery, send your bank details.",
            ),
        ],
    );
    imap_transfer(&node, "MOVE", "INBOX", "Cheap pills", "Junk");

    node.set("spam.learn_from_junk", "true");
    node.hup();
    node.wait_for_log("reload: spam.learn_from_junk changed", 1);
    // A client without MOVE saves a copy into Junk itself.
    let out = imaplib(
        &node,
        r#"
m = connect()
msg = b"From: x@remote.test\r\nSubject: Replica watches\r\nMessage-ID: <w1@remote.test>\r\n\r\nReplica watches at low prices.\r\n"
typ, data = m.append("Junk", None, None, msg)
print("result", typ)
m.logout()
"#,
    );
    assert!(out.contains("result OK"), "{out}");
    let lines = wait_for_lessons(&node, 1);
    assert!(
        lines[0].contains(
            "NOQUEUE: learned spam from user=<alice@example.test>: mailbox append to Junk"
        ) && lines[0].contains("message-id=<w1@remote.test>"),
        "{lines:?}"
    );
    // The move made while learning was off was not learned.
    assert_eq!(learned(&node, ALICE), (1, 0));
}

/// `havre spam classify FILE [--user ADDRESS] --json`: the Bayes
/// probability (None while no spam or no ham was learned).
fn probability(node: &Havre, file: &std::path::Path, user: Option<&str>) -> Option<f64> {
    let path = file.display().to_string();
    let mut args = vec!["spam", "classify", &path, "--json"];
    if let Some(user) = user {
        args.extend(["--user", user]);
    }
    let out = node.cli_ok(&args);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["probability"].as_f64()
}

#[test]
fn what_a_user_sorts_into_and_out_of_junk_moves_the_probability_of_her_similar_mail() {
    let node = node();
    deliver_all(
        &node,
        &[
            (
                "Cheap pills",
                "Buy cheap pills online now. Best prices, discount pharmacy, order today.",
            ),
            (
                "Budget meeting",
                "Here are the notes of the budget meeting on Tuesday. The team agreed on the agenda.",
            ),
        ],
    );
    let spammy = node.dir().join("spammy.eml");
    let hammy = node.dir().join("hammy.eml");
    std::fs::write(
        &spammy,
        "From: other@remote.test\r\nSubject: Discount pills\r\n\r\n\
         Order cheap pills online today, best discount prices at our pharmacy.\r\n",
    )
    .unwrap();
    std::fs::write(
        &hammy,
        "From: other@remote.test\r\nSubject: Meeting agenda\r\n\r\n\
         The agenda of the team meeting on Tuesday, with the budget notes.\r\n",
    )
    .unwrap();
    assert_eq!(probability(&node, &spammy, Some(ALICE)), None);

    imap_transfer(&node, "MOVE", "INBOX", "Cheap pills", "Junk");
    // Ham she had put in Junk by mistake and takes back.
    imap_transfer(&node, "MOVE", "INBOX", "Budget meeting", "Junk");
    imap_transfer(&node, "MOVE", "Junk", "Budget meeting", "INBOX");
    wait_for_lessons(&node, 3);
    assert_eq!(learned(&node, ALICE), (1, 1));

    let spam_p = probability(&node, &spammy, Some(ALICE)).expect("spam and ham learned");
    let ham_p = probability(&node, &hammy, Some(ALICE)).expect("spam and ham learned");
    assert!(spam_p > 0.9, "similar spam: {spam_p}");
    assert!(ham_p < 0.1, "similar ham: {ham_p}");
    // Her lessons are hers: the global counts learned nothing.
    assert_eq!(probability(&node, &spammy, None), None);
}
