//! Antivirus with ClamAV: a real clamd (testkit's, whose only signature is
//! EICAR's) scans what mx and submission receive, while the client waits.

use havre_testkit::{Clamd, EICAR, EICAR_SIGNATURE, Havre, python};

/// A node whose `antivirus.clamd` is `clamd` (set as the operator does,
/// with `havre config set`), with users alice and bob, started.
fn node(clamd: &Clamd, configure: impl FnOnce(&mut Havre)) -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    node.set("antivirus.clamd", &clamd.address());
    configure(&mut node);
    node.start();
    node
}

/// Python that sends one message with smtplib, as a mail client does: the
/// text, and a file attached in base64 when `attach` is `eicar` or
/// `harmless`. `sys.argv`: port, mode (`mx`, or `submission` with STARTTLS
/// and alice's login), sender, subject, attach. Prints `accepted` or
/// `refused CODE TEXT`.
const SEND: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
port, mode, sender, subject, attach = sys.argv[1:6]
msg = EmailMessage()
msg["From"] = sender
msg["To"] = "bob@example.test"
msg["Subject"] = subject
msg.set_content("The file you asked for.\n")
if attach == "eicar":
    # A name the attachment rules let through (they refuse .com), so that
    # the virus scanner is what refuses it.
    msg.add_attachment(sys.argv[6].encode(), maintype="application",
                       subtype="octet-stream", filename="eicar.txt")
elif attach == "harmless":
    msg.add_attachment(b"just a report\n" * 100, maintype="application",
                       subtype="octet-stream", filename="report.bin")
s = smtplib.SMTP("127.0.0.1", int(port), timeout=60)
s.ehlo("laptop.test")
if mode == "submission":
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx); s.ehlo("laptop.test")
    s.login("alice@example.test", "secret")
try:
    s.send_message(msg)
    print("accepted")
except smtplib.SMTPDataError as e:
    print("refused", e.smtp_code, e.smtp_error.decode())
s.quit()
"#;

fn send(port: u16, mode: &str, sender: &str, subject: &str, attach: &str) -> String {
    let port = port.to_string();
    let out = python(SEND, &[&port, mode, sender, subject, attach, EICAR]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "smtplib failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.trim().to_owned()
}

fn submit(node: &Havre, subject: &str, attach: &str) -> String {
    send(
        node.submission_port,
        "submission",
        "alice@example.test",
        subject,
        attach,
    )
}

fn to_mx(node: &Havre, subject: &str, attach: &str) -> String {
    send(node.smtp_port, "mx", "carol@outside.test", subject, attach)
}

/// Whether `message` (as stored: LF line ends) has the line `line`.
fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

/// The name clamd gives the test signature (not one of ClamAV's own).
fn virus() -> String {
    format!("{EICAR_SIGNATURE}.UNOFFICIAL")
}

/// The log line of the refusal: it names the virus and the message's
/// queue id (the id of the transaction, not NOQUEUE).
fn assert_refusal_logged(node: &Havre, role: &str) {
    let needle = format!("Virus found: {}", virus());
    let log = node.wait_for_log(&needle, 1);
    let line = log
        .lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    assert!(line.contains(&format!("havre/{role}[")), "{line}");
    assert!(line.contains("reject: END-OF-MESSAGE from"), "{line}");
    assert!(line.contains("check=antivirus"), "{line}");
    let queue_id = line
        .split(": reject:")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .unwrap();
    assert!(
        queue_id.len() >= 10 && queue_id.chars().all(|c| c.is_ascii_alphanumeric()),
        "{line}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains(queue_id) && l.contains("from=<")),
        "the queue id {queue_id} is the transaction's:\n{log}"
    );
}

#[test]
fn a_message_carrying_eicar_is_refused_at_submission_with_the_virus_name() {
    let clamd = Clamd::start();
    let node = node(&clamd, |_| {});
    assert_eq!(
        submit(&node, "infected", "eicar"),
        format!("refused 554 5.7.1 Virus found: {}", virus())
    );
    assert_refusal_logged(&node, "submission/smtpd");
    // Clean mail passes, marked as scanned; the infected one never arrived.
    assert_eq!(submit(&node, "clean", "harmless"), "accepted");
    let messages = node.wait_for_messages("bob@example.test", 1);
    assert_eq!(messages.len(), 1, "{}", node.log());
    assert!(messages[0].contains("Subject: clean"), "{}", messages[0]);
    assert!(
        has_line(&messages[0], "X-Virus-Scanned: ClamAV at mx.example.test"),
        "{}",
        messages[0]
    );
}

#[test]
fn a_message_carrying_eicar_is_refused_at_the_mx_and_clean_mail_passes() {
    let clamd = Clamd::start();
    let node = node(&clamd, |_| {});
    assert_eq!(
        to_mx(&node, "infected", "eicar"),
        format!("refused 554 5.7.1 Virus found: {}", virus())
    );
    assert_refusal_logged(&node, "smtpd");
    assert_eq!(to_mx(&node, "plain", "none"), "accepted");
    assert_eq!(to_mx(&node, "with a file", "harmless"), "accepted");
    let messages = node.wait_for_messages("bob@example.test", 2);
    assert_eq!(messages.len(), 2, "{}", node.log());
    for message in &messages {
        assert!(
            has_line(message, "X-Virus-Scanned: ClamAV at mx.example.test"),
            "{message}"
        );
        assert!(!message.contains("Subject: infected"), "{message}");
    }
}

#[test]
fn clamd_stopped_defers_the_message_with_451() {
    let mut clamd = Clamd::start();
    let node = node(&clamd, |_| {});
    clamd.stop();
    assert_eq!(
        to_mx(&node, "while clamd is away", "none"),
        "refused 451 4.7.0 Virus scanner unavailable, try again later"
    );
    assert_eq!(
        submit(&node, "while clamd is away", "harmless"),
        "refused 451 4.7.0 Virus scanner unavailable, try again later"
    );
    let log = node.wait_for_log("451 4.7.0 Virus scanner unavailable", 2);
    assert!(
        log.contains(&format!(
            "reason=\"cannot connect to clamd at {}",
            clamd.address()
        )),
        "{log}"
    );
    assert!(node.messages("bob@example.test").is_empty());
}

#[test]
fn with_on_error_accept_a_message_passes_unscanned_with_a_warning_header() {
    let mut clamd = Clamd::start();
    let node = node(&clamd, |n| n.set("antivirus.on_error", "accept"));
    clamd.stop();
    assert_eq!(to_mx(&node, "unscanned", "none"), "accepted");
    let messages = node.wait_for_messages("bob@example.test", 1);
    assert_eq!(messages.len(), 1, "{}", node.log());
    assert!(
        has_line(
            &messages[0],
            "X-Virus-Scan: not scanned (clamd unreachable)"
        ),
        "{}",
        messages[0]
    );
    assert!(!messages[0].contains("X-Virus-Scanned:"), "{}", messages[0]);
    let log = node.log();
    assert!(
        log.contains("antivirus: message accepted without a scan (antivirus.on_error = accept): cannot connect to clamd"),
        "{log}"
    );
}

#[test]
fn naming_clamd_and_reloading_starts_scanning_without_a_restart() {
    let clamd = Clamd::start();
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("bob@example.test");
    node.start();
    assert_eq!(to_mx(&node, "before", "eicar"), "accepted");
    node.set("antivirus.clamd", &clamd.address());
    node.hup();
    let log = node.wait_for_log("reload: done", 1);
    assert!(log.contains("reload: antivirus.clamd changed"), "{log}");
    assert_eq!(
        to_mx(&node, "after", "eicar"),
        format!("refused 554 5.7.1 Virus found: {}", virus())
    );
}

#[test]
fn havre_check_shows_the_virus_a_stored_message_carries() {
    let clamd = Clamd::start();
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("bob@example.test");
    node.set("antivirus.clamd", &clamd.address());
    let message = format!(
        "From: carol@outside.test\r\nTo: bob@example.test\r\nSubject: raw\r\n\r\n{EICAR}\r\n"
    );
    let file = node.dir().join("infected.eml");
    std::fs::write(&file, message).unwrap();
    let out = node.cli_ok(&[
        "check",
        file.to_str().unwrap(),
        "--ip",
        "192.0.2.7",
        "--from",
        "carol@outside.test",
        "--rcpt",
        "bob@example.test",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let verdict = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["check"] == "antivirus")
        .unwrap_or_else(|| panic!("no antivirus verdict in {report}"));
    assert_eq!(verdict["stage"], "data", "{report}");
    assert_eq!(
        verdict["action"],
        format!("reject 554 5.7.1 Virus found: {}", virus()),
        "{report}"
    );
    assert_eq!(
        report["result"],
        format!("554 5.7.1 Virus found: {}", virus()),
        "{report}"
    );
}
