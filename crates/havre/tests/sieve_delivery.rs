//! Users' Sieve scripts at delivery, end to end: stored with `havre sieve
//! put` and `activate`, run on mail arriving over SMTP (the relay's local
//! delivery) and LMTP.

use havre_testkit::imap::imaplib;
use havre_testkit::{Havre, python_ok};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

/// smtplib.sendmail; prints SENT, or each refusal with its code.
const SEND: &str = r#"
import smtplib, sys
port, sender, rcpt, headers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
msg = f"From: {sender}\r\nTo: {rcpt}\r\n{headers}\r\n\r\nHello.\r\n"
cls = smtplib.LMTP if sys.argv[5] == "lmtp" else smtplib.SMTP
s = cls("127.0.0.1", int(port), timeout=30)
s.ehlo("client.test")
try:
    s.sendmail(sender, [rcpt], msg)
    print("SENT")
except smtplib.SMTPRecipientsRefused as e:
    for addr, (code, text) in e.recipients.items():
        print("REFUSED", code, text.decode())
except smtplib.SMTPDataError as e:
    print("DATA", e.smtp_code, e.smtp_error.decode())
s.quit()
"#;

fn send(node: &Havre, via: &str, rcpt: &str, headers: &str) -> String {
    let port = if via == "lmtp" {
        node.lmtp_port
    } else {
        node.smtp_port
    };
    python_ok(
        SEND,
        &[&port.to_string(), "sender@remote.test", rcpt, headers, via],
    )
}

fn put_script(node: &Havre, user: &str, script: &str) {
    let out = node.cli_with_stdin(&["sieve", "put", user, "main"], script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.cli_ok(&["sieve", "activate", user, "main"]);
}

/// Files in `folder` (`""` for INBOX) of `user`'s Maildir.
fn files(node: &Havre, user: &str, folder: &str) -> Vec<String> {
    let root = node.maildir(user);
    let dir = if folder.is_empty() {
        root
    } else {
        root.join(format!(".{folder}"))
    };
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for entry in entries.flatten() {
                out.push(std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
    }
    out
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool, node: &Havre) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not after 30s\n{}",
            node.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_script_put_by_the_operator_files_list_mail_into_a_folder_flagged_and_redirects_the_rest() {
    let mut node = Havre::init(BIN);
    for user in ["alice", "carol"] {
        node.add_user(&format!("{user}@example.test"));
    }
    put_script(
        &node,
        "alice@example.test",
        "require [\"fileinto\", \"imap4flags\", \"mailbox\"];\n\
         if header :contains \"List-Id\" \"talk.lists.example\" {\n  \
           fileinto :create :flags \"\\\\Flagged\" \"Lists\";\n\
         } elsif header :is \"Subject\" \"forward me\" {\n  \
           redirect \"carol@example.test\";\n\
         } elsif header :is \"Subject\" \"junk\" {\n  \
           discard;\n\
         }\n",
    );
    node.start();

    // From a list: into Lists, made for it, flagged.
    let out = send(
        &node,
        "smtp",
        "alice@example.test",
        "Subject: news\r\nList-Id: Talk <talk.lists.example>",
    );
    assert!(out.starts_with("SENT"), "{out}");
    wait_for(
        "the list message in Lists",
        || files(&node, "alice@example.test", "Lists").len() == 1,
        &node,
    );
    node.wait_for_empty_queue();
    assert!(files(&node, "alice@example.test", "").is_empty());
    let fetched = imaplib(
        &node,
        "m = connect()\nm.select('Lists')\nprint(m.fetch('1', '(FLAGS)')[1])\n",
    );
    assert!(fetched.contains("\\\\Flagged"), "{fetched}");

    // Redirected: to carol, from the original sender, alice's copy gone.
    let out = send(&node, "smtp", "alice@example.test", "Subject: forward me");
    assert!(out.starts_with("SENT"), "{out}");
    let carol = node.wait_for_messages("carol@example.test", 1);
    assert_eq!(carol.len(), 1, "{}", node.log());
    assert!(
        carol[0].starts_with(
            "Return-Path: <sender@remote.test>\nDelivered-To: carol@example.test\n\
             Delivered-To: alice@example.test\n"
        ),
        "{}",
        carol[0]
    );
    node.wait_for_empty_queue();
    assert!(files(&node, "alice@example.test", "").is_empty());

    // Discarded: nothing anywhere, and the log says so.
    let out = send(&node, "smtp", "alice@example.test", "Subject: junk");
    assert!(out.starts_with("SENT"), "{out}");
    node.wait_for_empty_queue();
    assert!(files(&node, "alice@example.test", "").is_empty());
    assert!(
        node.log().contains("status=sent (discarded by sieve)"),
        "{}",
        node.log()
    );

    // Anything else: INBOX.
    let out = send(&node, "smtp", "alice@example.test", "Subject: hello");
    assert!(out.starts_with("SENT"), "{out}");
    node.wait_for_messages("alice@example.test", 1);
}

#[test]
fn over_lmtp_a_reject_is_the_recipients_550_and_a_broken_script_keeps() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    put_script(
        &node,
        "alice@example.test",
        "require \"reject\";\nif header :is \"Subject\" \"offer\" { reject \"No offers, thanks.\"; }\n",
    );
    node.start();
    let out = send(&node, "lmtp", "alice@example.test", "Subject: offer");
    assert!(
        out.contains("DATA 550 5.7.1 <alice@example.test> No offers, thanks."),
        "{out}"
    );
    assert!(files(&node, "alice@example.test", "").is_empty());
    let out = send(&node, "lmtp", "alice@example.test", "Subject: hello");
    assert!(out.starts_with("SENT"), "{out}");
    assert_eq!(files(&node, "alice@example.test", "").len(), 1);

    // A script that fails at run time (a redirect too many): kept, and
    // the log names the user and why.
    put_script(
        &node,
        "bob@example.test",
        "redirect \"a@x.example\";\nredirect \"b@x.example\";\nredirect \"c@x.example\";\n\
         redirect \"d@x.example\";\nredirect \"e@x.example\";\n",
    );
    let out = send(&node, "lmtp", "bob@example.test", "Subject: hello");
    assert!(out.starts_with("SENT"), "{out}");
    assert_eq!(files(&node, "bob@example.test", "").len(), 1);
    let log = node.log();
    assert!(
        log.contains("to=<bob@example.test>: sieve: main: line 5:"),
        "{log}"
    );
    assert_eq!(node.queued(), 0, "nothing redirected");
}

#[test]
fn a_vacation_script_answers_a_sender_once_from_the_null_sender_and_never_a_list() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    put_script(
        &node,
        "alice@example.test",
        "require \"vacation\";\nvacation :days 7 \"I am away until Monday.\";\n",
    );
    node.start();
    let lunch = "Subject: lunch?\r\nMessage-ID: <lunch@example.test>";
    let sent = |headers: &str| {
        python_ok(
            SEND,
            &[
                &node.lmtp_port.to_string(),
                "bob@example.test",
                "alice@example.test",
                headers,
                "lmtp",
            ],
        )
    };
    assert!(sent(lunch).starts_with("SENT"));
    let replies = node.wait_for_messages("bob@example.test", 1);
    assert_eq!(replies.len(), 1, "{}", node.log());
    let reply = &replies[0];
    assert!(reply.starts_with("Return-Path: <>\n"), "{reply}");
    assert!(reply.contains("\nSubject: Auto: lunch?\n"), "{reply}");
    assert!(
        reply.contains("\nIn-Reply-To: <lunch@example.test>\n"),
        "{reply}"
    );
    assert!(reply.contains("\nAuto-Submitted: auto-replied"), "{reply}");
    assert!(reply.contains("I am away until Monday."), "{reply}");
    // Again within the days, and from a list: alice gets them, bob no reply.
    assert!(sent("Subject: and dinner?").starts_with("SENT"));
    assert!(sent("Subject: news\r\nList-Id: <talk.example.test>").starts_with("SENT"));
    node.wait_for_empty_queue();
    assert_eq!(files(&node, "alice@example.test", "").len(), 3);
    assert_eq!(node.messages("bob@example.test").len(), 1);
    let log = node.log();
    assert!(
        log.contains("vacation not sent: <bob@example.test> already answered"),
        "{log}"
    );
    assert!(
        log.contains("vacation not sent: mail from a list (list-id)"),
        "{log}"
    );
}

#[test]
fn the_sites_before_script_runs_for_users_without_one_and_a_broken_one_stops_serve_starting() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    let spam = node.dir().join("spam.sieve");
    std::fs::write(
        &spam,
        "require \"fileinto\";\nif header :contains \"Subject\" \"[SPAM]\" { fileinto \"Junk\"; stop; }\n",
    )
    .unwrap();
    node.set("sieve.before", "[\"spam.sieve\"]");
    assert!(
        node.cli_ok(&["config", "show"])
            .contains("sieve.before = [\"spam.sieve\"]")
    );
    node.cli_ok(&["config", "check"]);
    // A site script that does not compile: serve and config check refuse it.
    std::fs::write(node.dir().join("broken.sieve"), "filein \"x\";\n").unwrap();
    node.set("sieve.after", "[\"broken.sieve\"]");
    let out = node.cli(&["config", "check"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        stderr.contains("sieve.after: ")
            && stderr.contains("broken.sieve: line 1, column 1: unknown command 'filein'"),
        "{stderr}"
    );
    node.set("sieve.after", "[]");
    node.start();
    let out = send(&node, "lmtp", "alice@example.test", "Subject: [SPAM] pills");
    assert!(out.starts_with("SENT"), "{out}");
    let out = send(&node, "lmtp", "alice@example.test", "Subject: hello");
    assert!(out.starts_with("SENT"), "{out}");
    assert_eq!(files(&node, "alice@example.test", "Junk").len(), 1);
    assert_eq!(files(&node, "alice@example.test", "").len(), 1);
}

#[test]
fn through_the_queue_a_reject_bounces_to_the_sender_with_the_scripts_reason() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    put_script(
        &node,
        "alice@example.test",
        "require \"reject\";\nif header :is \"Subject\" \"offer\" { reject \"No offers, thanks.\"; }\n",
    );
    node.start();
    let out = python_ok(
        SEND,
        &[
            &node.smtp_port.to_string(),
            "bob@example.test",
            "alice@example.test",
            "Subject: offer",
            "smtp",
        ],
    );
    assert!(out.starts_with("SENT"), "{out}");
    let bounces = node.wait_for_messages("bob@example.test", 1);
    assert_eq!(bounces.len(), 1, "{}", node.log());
    assert!(
        bounces[0].contains("rejected by sieve: No offers, thanks."),
        "{}",
        bounces[0]
    );
    assert!(bounces[0].contains("5.7.1"), "{}", bounces[0]);
    node.wait_for_empty_queue();
    assert!(files(&node, "alice@example.test", "").is_empty());
}

#[test]
fn vacation_answers_mail_to_an_alias_of_the_user_and_envelope_sees_it_as_orig_to() {
    let mut node = Havre::init(BIN);
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    node.cli_ok(&["alias", "add", "office@example.test", "alice@example.test"]);
    put_script(
        &node,
        "alice@example.test",
        "require [\"vacation\", \"envelope\", \"imap4flags\"];\n\
         if envelope :is \"orig_to\" \"office@example.test\" { addflag \"$Office\"; }\n\
         vacation \"Away.\";\n",
    );
    node.start();
    let out = python_ok(
        SEND,
        &[
            &node.smtp_port.to_string(),
            "bob@example.test",
            "office@example.test",
            "Subject: for the office",
            "smtp",
        ],
    );
    assert!(out.starts_with("SENT"), "{out}");
    let replies = node.wait_for_messages("bob@example.test", 1);
    assert_eq!(replies.len(), 1, "{}", node.log());
    assert!(
        replies[0].contains("Subject: Auto: for the office"),
        "{}",
        replies[0]
    );
    node.wait_for_empty_queue();
    let fetched = imaplib(
        &node,
        "m = connect()\nm.select('INBOX')\nprint(m.fetch('1', '(FLAGS)')[1])\n",
    );
    assert!(fetched.contains("$Office"), "{fetched}");
}
