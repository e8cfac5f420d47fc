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
    let requeued = node.cli(&["queue", "requeue", "ALL"]);
    assert!(requeued.status.success());
    assert!(String::from_utf8_lossy(&requeued.stderr).contains("Requeued: 2 messages"));
    assert!(
        node.cli_ok(&["queue", "flush"])
            .contains("Flushed: 2 messages")
    );
    assert_eq!(
        node.cli_ok(&["queue", "delete", &ids[0]]),
        format!("{}: removed\n", ids[0])
    );
    assert!(!node.cli(&["queue", "show", &ids[0]]).status.success());
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

#[test]
fn hold_release_and_delete_take_all_or_ids_on_standard_input_and_say_each_like_postsuper() {
    let (node, ids) = stuck_node();
    let held = node.cli(&["queue", "hold", "ALL"]);
    assert!(held.status.success());
    let said = String::from_utf8_lossy(&held.stdout).into_owned();
    for id in &ids {
        assert!(said.contains(&format!("{id}: placed on hold\n")), "{said}");
    }
    assert!(
        String::from_utf8_lossy(&held.stderr).contains("Placed on hold: 2 messages"),
        "postsuper's count on standard error"
    );
    let list = node.cli_ok(&["queue", "list"]);
    assert_eq!(list.matches('!').count(), 2, "{list}");

    // mailq's own lines, marks included, as a script would pipe them.
    let piped = format!("{}!\n\n{}! extra words\n", ids[0], ids[1]);
    let released = node.cli_with_stdin(&["queue", "release", "-"], &piped);
    assert!(released.status.success());
    assert_eq!(
        String::from_utf8_lossy(&released.stdout),
        format!(
            "{}: released from hold\n{}: released from hold\n",
            ids[0], ids[1]
        )
    );
    assert!(!node.cli_ok(&["queue", "list"]).contains('!'));

    let deleted = node.cli_with_stdin(&["queue", "delete", "-", "NOSUCHID"], &ids[0]);
    assert!(
        !deleted.status.success(),
        "an id not in the queue is an error"
    );
    assert_eq!(
        String::from_utf8_lossy(&deleted.stdout),
        format!("{}: removed\n", ids[0]),
        "the others are still done"
    );
    assert!(String::from_utf8_lossy(&deleted.stderr).contains("no message NOSUCHID in the queue"));
    assert_eq!(
        node.cli_ok(&["queue", "delete", "ALL"]),
        format!("{}: removed\n", ids[1])
    );
}

#[test]
fn queue_show_body_prints_the_whole_message_like_postcat() {
    let (node, ids) = stuck_node();
    let headers_only = node.cli_ok(&["queue", "show", &ids[0]]);
    assert!(headers_only.contains("Subject: first"), "{headers_only}");
    assert!(
        !headers_only.contains("This is a test mailing"),
        "{headers_only}"
    );
    let whole = node.cli_ok(&["queue", "show", "--body", &ids[0]]);
    let (head, body) = whole
        .split_once("Subject: first")
        .expect("the header is printed");
    assert!(
        head.contains("recipient:    <someone@partner.test>"),
        "{head}"
    );
    assert!(
        body.contains("\n\nThis is a test mailing"),
        "the body after a blank line: {whole}"
    );
    assert!(!whole.contains('\r'), "lines end with LF on a terminal");
}
