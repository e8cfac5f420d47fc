//! The attachment check in a pipeline: the reply a client gets, the hold of
//! the quarantine, and mail it has nothing against.

mod support;

use std::sync::Arc;

use havre_attachments::{Action, AttachmentCheck, Rules};
use havre_checks::{Action as Decision, Facts, Pipeline, Stage};
use support::{PDF, PE, message, zip};

fn pipeline(action: Action) -> Pipeline {
    let rules = Rules::new(["exe", "vbs"], ["application/x-msdownload"], true);
    Pipeline::new("test").with(Arc::new(AttachmentCheck::new(rules, action)))
}

fn end_of_data(raw: Vec<u8>) -> Facts {
    let mut f = Facts::new("192.0.2.7".parse().unwrap());
    f.stage = Stage::Data;
    f.sender = Some("alice@example.org".into());
    f.size = raw.len() as u64;
    f.message = Some(Arc::new(raw));
    f
}

#[tokio::test]
async fn a_refused_attachment_gets_554_naming_the_file() {
    let facts = end_of_data(message(&[("invoice.exe", "application/octet-stream", PE)]));
    let out = pipeline(Action::Reject).run(&facts).await;
    assert_eq!(
        out.reply_line(&facts).as_deref(),
        Some("554 5.7.1 Attachment refused: invoice.exe (executable)")
    );
    assert_eq!(out.decided_by().unwrap().check, "attachments");
    assert_eq!(out.hold(), None);
}

#[tokio::test]
async fn with_the_quarantine_the_message_is_accepted_and_held_with_the_reason() {
    let archive = zip(&[("setup.exe", PE)]);
    let facts = end_of_data(message(&[("docs.zip", "application/zip", &archive)]));
    let out = pipeline(Action::Quarantine).run(&facts).await;
    assert_eq!(out.action, Decision::Accept);
    let hold = out.hold().unwrap();
    assert_eq!(hold.check, "attachments");
    assert_eq!(
        hold.reason,
        "Attachment refused: setup.exe in docs.zip (executable)"
    );
}

#[tokio::test]
async fn a_non_ascii_file_name_is_written_in_ascii_in_the_reply_and_whole_in_the_reason() {
    let facts = end_of_data(message(&[("r\u{e9}sum\u{e9}.vbs", "text/plain", b"x")]));
    let out = pipeline(Action::Reject).run(&facts).await;
    assert_eq!(
        out.reply_line(&facts).as_deref(),
        Some("554 5.7.1 Attachment refused: r?sum?.vbs (.vbs file)")
    );
    let reason = out.decided_by().unwrap().verdict.reason.clone().unwrap();
    assert_eq!(
        reason,
        "Attachment refused: r\u{e9}sum\u{e9}.vbs (.vbs file)"
    );
}

#[tokio::test]
async fn documents_pass_and_a_stage_without_the_message_is_not_judged() {
    let facts = end_of_data(message(&[("thesis.pdf", "application/pdf", PDF)]));
    let out = pipeline(Action::Reject).run(&facts).await;
    assert_eq!(out.action, Decision::Accept);
    assert_eq!(out.hold(), None);
    // The Postfix policy service asks at END-OF-MESSAGE without the message.
    let mut policy = facts.clone();
    policy.message = None;
    assert_eq!(
        pipeline(Action::Reject).run(&policy).await.action,
        Decision::Accept
    );
}

#[tokio::test]
async fn a_mime_bomb_is_judged_quickly_and_without_failing() {
    // 50,000 multiparts nested in one another: bounded by the analysis.
    let mut bomb = String::from("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    for i in 0..50_000 {
        bomb.push_str(&format!(
            "--b\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n"
        ));
    }
    let started = std::time::Instant::now();
    let out = pipeline(Action::Reject)
        .run(&end_of_data(bomb.into_bytes()))
        .await;
    assert_eq!(out.action, Decision::Accept);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
