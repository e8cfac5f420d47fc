//! The queue tools an admin knows from mailq, postqueue and postsuper, on a
//! running node.

use havre_testkit::{Havre, swaks};

fn stuck_node() -> (Havre, Vec<String>) {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    // Forwarded outside, to a destination that cannot be reached: the
    // messages stay queued, deferred.
    let dead = havre_testkit::free_port();
    node.set(
        "relay.routes",
        &format!("{{ \"partner.test\" = \"smtp:[127.0.0.1]:{dead}\" }}"),
    );
    node.cli_ok(&["alias", "add", "fwd@example.test", "someone@partner.test"]);
    node.start();
    let mut ids = Vec::new();
    for subject in ["first", "second"] {
        let out = swaks(&[
            "--server",
            &node.smtp_addr(),
            "--from",
            "sender@remote.test",
            "--to",
            "fwd@example.test",
            "--header",
            &format!("Subject: {subject}"),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let id = text
            .split("queued as ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        ids.push(id.to_string());
    }
    // Wait until both have been tried once.
    for _ in 0..100 {
        let list = node.cli_ok(&["queue", "list"]);
        if list.matches("someone@partner.test").count() == 2 && list.contains('(') {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (node, ids)
}

#[test]
fn mailq_lists_deferred_mail_with_the_reason_above_the_recipient() {
    let (node, ids) = stuck_node();
    let list = node.cli_ok(&["queue", "list"]);
    assert!(list.starts_with("-Queue ID-"), "{list}");
    for id in &ids {
        assert!(list.contains(id.as_str()), "{list}");
    }
    assert!(list.contains("sender@remote.test"), "{list}");
    assert!(
        list.contains("(") && list.contains("someone@partner.test"),
        "{list}"
    );
    assert!(list.contains("in 2 Requests."), "{list}");
    let show = node.cli_ok(&["queue", "show", &ids[0]]);
    assert!(
        show.contains("sender:       <sender@remote.test>"),
        "{show}"
    );
    assert!(
        show.contains("recipient:    <someone@partner.test> (from <fwd@example.test>) pending"),
        "{show}"
    );
    assert!(show.contains("Subject: first"), "{show}");
}

#[test]
fn hold_release_requeue_flush_and_delete_do_what_postsuper_does() {
    let (node, ids) = stuck_node();
    node.cli_ok(&["queue", "hold", &ids[0]]);
    let list = node.cli_ok(&["queue", "list"]);
    assert!(
        list.contains(&format!("{}!", ids[0])),
        "held is marked !: {list}"
    );
    node.cli_ok(&["queue", "release", &ids[0]]);
    assert!(!node.cli_ok(&["queue", "list"]).contains('!'));
    assert!(
        node.cli_ok(&["queue", "requeue", "ALL"])
            .contains("Requeued: 2 messages")
    );
    assert!(
        node.cli_ok(&["queue", "flush"])
            .contains("Flushed: 2 messages")
    );
    assert!(
        node.cli_ok(&["queue", "delete", &ids[0]])
            .contains("Deleted: 1 message")
    );
    assert!(!node.data_dir().join("queue/msg").join(&ids[0]).exists());
    let list = node.cli_ok(&["queue", "list"]);
    assert!(
        !list.contains(ids[0].as_str()) && list.contains(ids[1].as_str()),
        "{list}"
    );
    let out = node.cli(&["queue", "hold", "NOSUCHID"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no message NOSUCHID in the queue"));
    node.cli_ok(&["queue", "delete", "ALL"]);
    assert_eq!(node.cli_ok(&["queue", "list"]), "Mail queue is empty\n");
}
