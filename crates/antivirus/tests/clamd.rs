//! The client and the check against a real clamd (testkit's, whose only
//! signature is EICAR's), over TCP and its unix socket.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use havre_antivirus::{
    Antivirus, Clamd, ClamdError, Endpoint, Found, NOT_SCANNED_HEADER, OnError, SCANNED_HEADER,
    Settings,
};
use havre_checks::{Action, Check, Facts, Stage};
use havre_testkit::{EICAR, EICAR_SIGNATURE};

const LIMIT: Duration = Duration::from_secs(30);

/// A message as a mail client sends it: text, and `attachment` as a base64
/// file.
fn message_with_attachment(attachment: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(attachment);
    format!(
        "From: alice@example.org\r\n\
         To: bob@example.net\r\n\
         Subject: the file\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         Here it is.\r\n\
         --b1\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"eicar.com\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {encoded}\r\n\
         --b1--\r\n"
    )
    .into_bytes()
}

fn plain_message() -> Vec<u8> {
    b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\nJust text.\r\n"
        .to_vec()
}

fn is_eicar(found: &Found) -> bool {
    matches!(found, Found::Virus(names) if names.len() == 1 && names[0].starts_with(EICAR_SIGNATURE))
}

#[tokio::test]
async fn clamd_names_eicar_in_a_base64_attachment_and_finds_plain_mail_clean() {
    let clamd = havre_testkit::Clamd::start();
    let client = Clamd::new(Endpoint::Tcp(clamd.address()), LIMIT);
    let found = client.scan(EICAR.as_bytes()).await.unwrap();
    assert!(is_eicar(&found), "{found:?}");
    let found = client
        .scan(&message_with_attachment(EICAR.as_bytes()))
        .await
        .unwrap();
    assert!(is_eicar(&found), "{found:?}\n{}", clamd.log());
    assert_eq!(client.scan(&plain_message()).await.unwrap(), Found::Clean);
    assert_eq!(
        client
            .scan(&message_with_attachment(b"an ordinary file"))
            .await
            .unwrap(),
        Found::Clean
    );
}

#[tokio::test]
async fn clamd_is_reached_on_its_unix_socket_too() {
    let clamd = havre_testkit::Clamd::start();
    let client = Clamd::new(Endpoint::Unix(clamd.socket()), LIMIT);
    let found = client.scan(EICAR.as_bytes()).await.unwrap();
    assert!(is_eicar(&found), "{found:?}");
}

#[tokio::test]
async fn a_big_message_crosses_clamd_in_many_chunks() {
    let clamd = havre_testkit::Clamd::start();
    let client = Clamd::new(Endpoint::Tcp(clamd.address()), LIMIT);
    // 3 MiB of text, then the virus: found past the first chunks.
    let mut big = vec![b'a'; 3 << 20];
    big.extend_from_slice(b"\r\n");
    big.extend_from_slice(&message_with_attachment(EICAR.as_bytes()));
    let found = client.scan(&big).await.unwrap();
    assert!(is_eicar(&found), "{found:?}");
}

#[tokio::test]
async fn a_stopped_clamd_is_an_error_that_says_so() {
    let mut clamd = havre_testkit::Clamd::start();
    let client = Clamd::new(Endpoint::Tcp(clamd.address()), LIMIT);
    clamd.stop();
    let err = client.scan(EICAR.as_bytes()).await.unwrap_err();
    assert!(matches!(err, ClamdError::Connect { .. }), "{err}");
    assert_eq!(err.summary(), "clamd unreachable");
    let missing = Clamd::new(Endpoint::Unix(clamd.socket()), LIMIT);
    let err = missing.scan(EICAR.as_bytes()).await.unwrap_err();
    assert!(matches!(err, ClamdError::Connect { .. }), "{err}");
}

fn settings(clamd: Endpoint, on_error: OnError) -> Settings {
    Settings {
        clamd,
        timeout: LIMIT,
        max_size: 1 << 20,
        on_error,
        hostname: "mx.example.org".into(),
    }
}

fn data_facts(message: Vec<u8>) -> Facts {
    let mut facts = Facts::new("192.0.2.7".parse().unwrap());
    facts.stage = Stage::Data;
    facts.queue_id = Some("4Hq3zT1kLmz9".into());
    facts.size = message.len() as u64;
    facts.message = Some(Arc::new(message));
    facts
}

#[tokio::test]
async fn the_check_refuses_a_virus_by_name_and_marks_clean_mail() {
    let clamd = havre_testkit::Clamd::start();
    let check = Antivirus::new(settings(Endpoint::Tcp(clamd.address()), OnError::Defer));
    let facts = data_facts(message_with_attachment(EICAR.as_bytes()));
    let verdict = check.check(&facts).await;
    let Action::Reject(reply) = &verdict.action else {
        panic!("{verdict:?}");
    };
    assert_eq!(
        reply.line(&facts),
        format!("554 5.7.1 Virus found: {EICAR_SIGNATURE}.UNOFFICIAL")
    );
    assert!(
        verdict.reason.as_deref().unwrap().contains(EICAR_SIGNATURE),
        "{verdict:?}"
    );

    let verdict = check.check(&data_facts(plain_message())).await;
    assert_eq!(verdict.action, Action::Accept);
    assert_eq!(verdict.headers.len(), 1);
    assert_eq!(
        verdict.headers[0].to_string(),
        format!("{SCANNED_HEADER}: ClamAV at mx.example.org")
    );
}

#[tokio::test]
async fn a_message_beyond_max_size_has_its_start_scanned_and_says_so() {
    let clamd = havre_testkit::Clamd::start();
    let mut settings = settings(Endpoint::Tcp(clamd.address()), OnError::Defer);
    settings.max_size = 4096;
    let check = Antivirus::new(settings);
    // The virus is past the bytes sent: not seen, and the header tells.
    let mut message = plain_message();
    message.resize(8000, b'a');
    message.extend_from_slice(b"\r\n");
    message.extend_from_slice(EICAR.as_bytes());
    let total = message.len();
    let verdict = check.check(&data_facts(message)).await;
    assert_eq!(verdict.action, Action::Accept, "{verdict:?}");
    assert_eq!(
        verdict.headers[0].to_string(),
        format!("{SCANNED_HEADER}: ClamAV at mx.example.org (first 4096 of {total} bytes)")
    );
    // Within the bytes sent, it is found.
    let mut message = plain_message();
    message.extend_from_slice(EICAR.as_bytes());
    message.resize(8000, b'a');
    let verdict = check.check(&data_facts(message)).await;
    assert!(matches!(verdict.action, Action::Reject(_)), "{verdict:?}");
}

#[tokio::test]
async fn clamd_away_defers_or_accepts_with_a_warning_header_as_configured() {
    let mut clamd = havre_testkit::Clamd::start();
    let endpoint = Endpoint::Tcp(clamd.address());
    clamd.stop();
    let facts = data_facts(plain_message());

    let defer = Antivirus::new(settings(endpoint.clone(), OnError::Defer));
    let verdict = defer.check(&facts).await;
    let Action::Defer(reply) = &verdict.action else {
        panic!("{verdict:?}");
    };
    assert_eq!(
        reply.line(&facts),
        "451 4.7.0 Virus scanner unavailable, try again later"
    );
    assert!(verdict.headers.is_empty());

    let accept = Antivirus::new(settings(endpoint, OnError::Accept));
    let verdict = accept.check(&facts).await;
    assert_eq!(verdict.action, Action::Accept);
    assert_eq!(
        verdict.headers[0].to_string(),
        format!("{NOT_SCANNED_HEADER}: not scanned (clamd unreachable)")
    );
}
