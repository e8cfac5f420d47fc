//! The quarantine (Postfix's HOLD): with `attachments.action =
//! "quarantine"` a message with a refused file is accepted, held in the
//! queue with its reason, and `havre quarantine` lists, shows, releases
//! (into the recipient's Maildir) or deletes it.

use std::time::Duration;

use havre_testkit::{Havre, python_ok};
use serde_json::Value;

const SEND_FILES: &str = include_str!("support/send_files.py");

const EXE: &str =
    r#"[{"name": "invoice.exe", "type": "application/octet-stream", "content": "pe"}]"#;
const REASON: &str = "Attachment refused: invoice.exe (executable)";

fn node(configure: impl FnOnce(&mut Havre)) -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("bob@example.test");
    node.set("attachments.action", "\"quarantine\"");
    configure(&mut node);
    node.start();
    node
}

/// Sends `attachments` to bob at the mx under `subject`; the queue id.
fn send(node: &Havre, subject: &str, attachments: &str) -> String {
    let spec = format!(r#"{{"subject": "{subject}", "attachments": {attachments}}}"#);
    let port = node.smtp_port.to_string();
    let reply = python_ok(SEND_FILES, &[&port, "bob@example.test", &spec]);
    reply
        .trim()
        .strip_prefix("250 2.0.0 Ok: queued as ")
        .unwrap_or_else(|| panic!("not queued: {reply}"))
        .to_owned()
}

fn quarantined_ids(node: &Havre) -> Vec<String> {
    let list: Value =
        serde_json::from_str(&node.cli_ok(&["quarantine", "list", "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["queue_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_quarantined_message_is_held_listed_shown_then_released_into_the_maildir() {
    let node = node(|_| {});
    let id = send(&node, "quarterly invoice", EXE);
    // Logged as Postfix's cleanup logs a hold, with the check.
    let log = node.wait_for_log(": hold: ", 1);
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{id}: hold: END-OF-MESSAGE from ")))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains(&format!(
            "{REASON}; from=<sender@remote.test> to=<bob@example.test>"
        )) && line.contains("check=attachments"),
        "{line}"
    );
    // Held: the relay does not deliver it.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(node.messages("bob@example.test").is_empty());

    let list = node.cli_ok(&["quarantine", "list"]);
    assert!(
        list.contains(&id) && list.contains("sender@remote.test"),
        "{list}"
    );
    assert!(list.contains(&format!("({REASON})")), "{list}");
    assert!(
        list.contains("bob@example.test") && list.contains("in 1 Request."),
        "{list}"
    );
    let json: Value =
        serde_json::from_str(&node.cli_ok(&["quarantine", "list", "--json"])).unwrap();
    assert_eq!(json[0]["queue_id"], id.as_str());
    assert_eq!(json[0]["sender"], "sender@remote.test");
    assert_eq!(json[0]["recipients"][0], "bob@example.test");
    assert_eq!(json[0]["reason"], REASON);
    assert!(json[0]["date"].as_str().unwrap().ends_with('Z'));
    // mailq marks it held, with its reason.
    let queue = node.cli_ok(&["queue", "list"]);
    assert!(queue.contains(&format!("{id}!")), "{queue}");
    assert!(
        queue.contains(&format!("(quarantine: {REASON})")),
        "{queue}"
    );

    let shown = node.cli_ok(&["quarantine", "show", &id]);
    assert!(
        shown.contains(&format!("quarantine:   {REASON}")),
        "{shown}"
    );
    assert!(shown.contains("Subject: quarterly invoice"), "{shown}");
    assert!(!shown.contains("This program"), "headers only: {shown}");
    let whole = node.cli_ok(&["quarantine", "show", &id, "--body"]);
    assert!(whole.contains("filename=\"invoice.exe\""), "{whole}");
    let json: Value =
        serde_json::from_str(&node.cli_ok(&["quarantine", "show", &id, "--json"])).unwrap();
    assert_eq!(json["hold_reason"], REASON);
    assert_eq!(json["hold"], true);

    assert_eq!(
        node.cli_ok(&["quarantine", "release", &id]),
        format!("{id}: released from hold\n")
    );
    let delivered = node.wait_for_messages("bob@example.test", 1);
    assert_eq!(delivered.len(), 1, "{}", node.log());
    assert!(delivered[0].contains("Subject: quarterly invoice"));
    assert!(delivered[0].contains("invoice.exe"));
    assert!(quarantined_ids(&node).is_empty());
    assert_eq!(
        node.cli_ok(&["quarantine", "list"]),
        "Quarantine is empty\n"
    );
    node.wait_for_empty_queue();
}

#[test]
fn delete_removes_a_quarantined_message_and_leaves_the_others_and_the_operators_holds() {
    let dead = havre_testkit::free_port();
    let node = node(|n| {
        n.set(
            "relay.routes",
            &format!("{{ \"partner.test\" = \"smtp:[127.0.0.1]:{dead}\" }}"),
        );
    });
    node.cli_ok(&["alias", "add", "fwd@example.test", "someone@partner.test"]);
    let first = send(&node, "first", EXE);
    let second = send(&node, "second", EXE);
    assert_eq!(quarantined_ids(&node), [first.clone(), second.clone()]);

    assert_eq!(
        node.cli_ok(&["quarantine", "delete", &first]),
        format!("{first}: removed\n")
    );
    assert!(!node.cli(&["quarantine", "show", &first]).status.success());
    assert_eq!(quarantined_ids(&node), [second.as_str()]);
    node.wait_for_log(&format!("{first}: removed"), 1);

    // A message the operator holds is not in quarantine: the quarantine
    // commands leave it alone.
    let plain = python_ok(
        SEND_FILES,
        &[
            &node.smtp_port.to_string(),
            "fwd@example.test",
            r#"{"subject": "plain", "attachments": []}"#,
        ],
    );
    let plain = plain.trim().rsplit(' ').next().unwrap().to_owned();
    node.cli_ok(&["queue", "hold", &plain]);
    assert_eq!(quarantined_ids(&node), [second.as_str()]);
    let out = node.cli(&["quarantine", "release", &plain]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("no message {plain} in quarantine"))
    );
    let out = node.cli(&["quarantine", "show", &plain]);
    assert!(!out.status.success());
    // ALL is every quarantined message, and only those.
    node.cli_ok(&["quarantine", "delete", "ALL"]);
    assert!(quarantined_ids(&node).is_empty());
    assert!(
        node.cli_ok(&["queue", "list"])
            .contains(&format!("{plain}!"))
    );
}

#[test]
fn quarantined_mail_older_than_the_retention_is_removed_and_logged() {
    let node = node(|n| n.set("quarantine.retention", "\"2s\""));
    let id = send(&node, "old", EXE);
    let log = node.wait_for_log(
        &format!("{id}: from=<sender@remote.test>, removed from quarantine"),
        1,
    );
    assert!(
        log.lines().any(|l| l.contains(&format!(
            "{id}: from=<sender@remote.test>, removed from quarantine after 0 days"
        )) && l.contains(REASON)),
        "{log}"
    );
    assert!(quarantined_ids(&node).is_empty());
    assert_eq!(node.queued(), 0);
    assert!(node.messages("bob@example.test").is_empty());
}

#[test]
fn havre_check_says_a_message_would_be_held() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("attachments.action", "\"quarantine\"");
    node.set("mx.sender_auth", "false");
    let file = node.dir().join("exe.eml");
    std::fs::write(
        &file,
        "From: a@remote.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
         --b\r\nContent-Type: application/octet-stream; name=run.exe\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AAA==\r\n--b--\r\n",
    )
    .unwrap();
    let out = node.cli_ok(&[
        "check",
        file.to_str().unwrap(),
        "--ip",
        "192.0.2.7",
        "--from",
        "a@remote.test",
        "--rcpt",
        "bob@example.test",
    ]);
    assert!(out.contains("attachments  hold"), "{out}");
    assert!(
        out.contains("result: held: Attachment refused: run.exe (executable)"),
        "{out}"
    );
}
