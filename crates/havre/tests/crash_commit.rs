//! kill -9 exactly between a commit and its reply (the fault points of
//! `havre_queue::fault`, armed with `HAVRE_FAULT`): with commits grouped and
//! their fsync shared, a message is on disk before its 250, so a 250 is never
//! lost; a message committed but never answered is delivered (once) and, when
//! its client sends it again, delivered a second time: the accepted
//! duplicate window, the same as Postfix's.

use std::time::Duration;

use havre_testkit::{Havre, python, python_ok};

#[path = "support/flood.rs"]
mod flood;
use flood::{FLOOD, each_acknowledged_token_delivered_once, tokens_in_mailbox};

/// One message, as a client that retries does: prints `250` or `no reply`.
const SEND_ONE: &str = r#"
import smtplib, sys
port = int(sys.argv[1])
msg = "Subject: retried\r\nX-Token: retried\r\n\r\nthe same message twice\r\n"
try:
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.sendmail("flood@remote.test", ["alice@example.test"], msg)
    s.quit()
    print("250")
except (smtplib.SMTPServerDisconnected, ConnectionError):
    print("no reply")
"#;

fn died_at(node: &mut Havre, point: &str) {
    assert!(
        node.wait_for_exit(Duration::from_secs(60)),
        "the fault point {point} was never reached:\n{}",
        node.log()
    );
    assert!(
        node.stderr()
            .contains(&format!("fault point {point} reached: SIGKILL")),
        "serve ended elsewhere:\n{}",
        node.stderr()
    );
}

#[test]
fn every_250_survives_a_kill_between_a_commit_and_its_reply_under_load() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    // The 40th record committed: 8 sessions are committing at once, so others
    // are between their commit and their reply too.
    node.start_with_fault("enqueue-committed:40");
    let ack = node.dir().join("acked.txt");
    let port = node.smtp_port.to_string();
    let ack_arg = ack.display().to_string();
    let flood = std::thread::spawn(move || python(FLOOD, &[&port, &ack_arg, "25", "8", "0"]));
    died_at(&mut node, "enqueue-committed");
    node.start();
    let out = flood.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.wait_for_empty_queue();

    let (acked, seen) = each_acknowledged_token_delivered_once(&node, &ack);
    // The message whose commit the kill followed was never answered, and
    // was delivered all the same: the kill landed after the commit.
    let unanswered: Vec<&String> = seen.keys().filter(|t| !acked.contains(t)).collect();
    assert!(
        !unanswered.is_empty(),
        "no committed message went unanswered: the kill did not land between commit and reply"
    );
    assert_eq!(node.spool_files("tmp"), 0);
}

#[test]
fn a_message_committed_but_unanswered_is_delivered_and_its_retry_makes_the_one_accepted_duplicate()
{
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start_with_fault("enqueue-committed");
    let port = node.smtp_port.to_string();
    assert_eq!(python_ok(SEND_ONE, &[&port]).trim(), "no reply");
    died_at(&mut node, "enqueue-committed");
    node.start();
    // The client saw no 250 and sends the message again, as RFC 5321 asks.
    assert_eq!(python_ok(SEND_ONE, &[&port]).trim(), "250");
    node.wait_for_empty_queue();
    assert_eq!(
        tokens_in_mailbox(&node).get("retried"),
        Some(&2),
        "the unanswered copy was lost, or more than the retry arrived"
    );
}

#[test]
fn a_delivery_killed_before_its_outcome_is_committed_is_not_delivered_again() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    // Taken in by a node without the relay role: otherwise the relay could
    // reach the fault point before the session wrote its 250 (seen in CI).
    node.set("server.roles", "[\"mx\"]");
    node.start();
    let port = node.smtp_port.to_string();
    assert_eq!(python_ok(SEND_ONE, &[&port]).trim(), "250");
    node.stop();
    node.set("server.roles", "[\"mx\", \"relay\"]");
    node.start_with_fault("attempt-delivered");
    // The copy is in the Maildir, the attempt's outcome and the record's
    // removal (one transaction) never committed.
    died_at(&mut node, "attempt-delivered");
    assert_eq!(node.queued(), 1);
    node.start();
    node.wait_for_empty_queue();
    assert_eq!(tokens_in_mailbox(&node).get("retried"), Some(&1));
    assert!(
        node.log()
            .contains("status=sent (already delivered by an earlier attempt)"),
        "{}",
        node.log()
    );
}

/// An older havre killed between creating `dovecot-uidlist.lock` and writing
/// its pid into it left an empty lock nobody can tell the owner of: it held
/// every delivery to the folder back (each waiting for the lock, under the
/// folder's lock) until it was two minutes old. A CI run saw 148 messages
/// still queued a minute after a restart.
#[test]
fn an_empty_uidlist_lock_left_by_a_killed_process_does_not_hold_deliveries_back() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let port = node.smtp_port.to_string();
    assert_eq!(python_ok(SEND_ONE, &[&port]).trim(), "250");
    node.wait_for_empty_queue();
    node.kill9();
    let maildir = node.maildir("alice@example.test");
    let lock = maildir.join("dovecot-uidlist.lock");
    std::fs::File::create(&lock)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(5))
        .unwrap();
    node.start();
    assert_eq!(python_ok(SEND_ONE, &[&port]).trim(), "250");
    node.wait_for_empty_queue();
    assert_eq!(tokens_in_mailbox(&node).get("retried"), Some(&2));
    // Both messages get their UID in dovecot-uidlist at once, not after
    // two minutes.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let uidlist = std::fs::read_to_string(maildir.join("dovecot-uidlist")).unwrap_or_default();
        if uidlist.lines().skip(1).count() == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dovecot-uidlist not written past the empty lock:\n{uidlist}\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!lock.exists());
}
