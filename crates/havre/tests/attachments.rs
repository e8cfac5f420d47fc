//! Attachment rules at the end of DATA, with the real binary and Python's
//! email package and smtplib: executables are refused while the client is
//! connected, in archives and under false names too; documents pass.

use havre_testkit::{Havre, python_ok};

const SEND_FILES: &str = include_str!("support/send_files.py");

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("bob@example.test");
    node.add_user("alice@example.test");
    node.start();
    node
}

/// Sends `attachments` (JSON list) to bob at the mx; the reply to DATA.
fn send(node: &Havre, attachments: &str) -> String {
    let spec = format!(r#"{{"subject": "files", "attachments": {attachments}}}"#);
    let port = node.smtp_port.to_string();
    python_ok(SEND_FILES, &[&port, "bob@example.test", &spec])
        .trim()
        .to_owned()
}

fn assert_refused_and_not_queued(node: &Havre, reply: &str, expected: &str) {
    assert_eq!(reply, expected);
    let log = node.wait_for_log("check=attachments", 1);
    assert!(
        log.lines()
            .any(|l| l.contains("reject: END-OF-MESSAGE") && l.contains("check=attachments")),
        "{log}"
    );
    assert_eq!(node.queued(), 0, "nothing queued");
    assert!(node.messages("bob@example.test").is_empty());
}

#[test]
fn an_exe_attachment_is_refused_at_the_mx_with_554_naming_the_file() {
    let node = node();
    let reply = send(
        &node,
        r#"[{"name": "invoice.exe", "type": "application/octet-stream", "content": "pe"}]"#,
    );
    assert_refused_and_not_queued(
        &node,
        &reply,
        "554 5.7.1 Attachment refused: invoice.exe (executable)",
    );
}

#[test]
fn an_exe_inside_a_zip_archive_is_refused() {
    let node = node();
    let reply = send(
        &node,
        r#"[{"name": "documents.zip", "type": "application/zip", "content": "zip",
             "entries": [{"name": "minutes.txt", "content": "text"},
                         {"name": "setup.exe", "content": "pe"}]}]"#,
    );
    assert_refused_and_not_queued(
        &node,
        &reply,
        "554 5.7.1 Attachment refused: setup.exe in documents.zip (executable)",
    );
}

#[test]
fn an_executable_disguised_as_a_pdf_is_refused_for_what_it_is() {
    let node = node();
    let reply = send(
        &node,
        r#"[{"name": "invoice.pdf", "type": "application/pdf", "content": "pe"}]"#,
    );
    assert_refused_and_not_queued(
        &node,
        &reply,
        "554 5.7.1 Attachment refused: invoice.pdf (executable sent as application/pdf)",
    );
}

#[test]
fn a_pdf_and_a_zip_of_documents_are_accepted_and_delivered() {
    let node = node();
    let reply = send(
        &node,
        r#"[{"name": "thesis.pdf", "type": "application/pdf", "content": "pdf"},
            {"name": "chapters.zip", "type": "application/zip", "content": "zip",
             "entries": [{"name": "one.pdf", "content": "pdf"},
                         {"name": "notes.txt", "content": "text"}]}]"#,
    );
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    let delivered = node.wait_for_messages("bob@example.test", 1);
    assert_eq!(delivered.len(), 1, "{}", node.log());
    assert!(delivered[0].contains("thesis.pdf") && delivered[0].contains("chapters.zip"));
}

#[test]
fn a_user_submitting_a_script_attachment_is_refused_at_submission() {
    let node = node();
    let spec = r#"{"subject": "script", "attachments":
        [{"name": "run.vbs", "type": "text/plain", "content": "text"}]}"#;
    let port = node.submission_port.to_string();
    let reply = python_ok(
        SEND_FILES,
        &[&port, "bob@example.test", spec, "alice@example.test:secret"],
    );
    assert_eq!(
        reply.trim(),
        "554 5.7.1 Attachment refused: run.vbs (.vbs file)"
    );
    assert_eq!(node.queued(), 0);
}

#[test]
fn with_the_rules_off_an_exe_is_delivered() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("bob@example.test");
    node.set("attachments.enabled", "false");
    node.start();
    let reply = send(
        &node,
        r#"[{"name": "tool.exe", "type": "application/octet-stream", "content": "pe"}]"#,
    );
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(node.wait_for_messages("bob@example.test", 1).len(), 1);
}
