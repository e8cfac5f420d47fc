//! A real Postfix (Debian's package, started by the test under a temporary
//! directory) with `check_policy_service` pointing at havre's policy
//! service: what Postfix tells an SMTP client follows havre's answers.

use std::io::Write;

use havre_testkit::{Havre, Postfix, free_port, python_ok};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

#[test]
fn a_postfix_asking_havre_refuses_greylists_then_accepts_and_adds_havres_header() {
    let mut node = Havre::init(BIN);
    let policy_port = free_port();
    node.set("policy.listen", &format!("[\"127.0.0.1:{policy_port}\"]"));
    node.set("greylist.enabled", "true");
    node.set("greylist.delay", "\"2s\"");
    // Postfix delivers into havre's mx from 127.0.0.1; the clients it asks
    // about come from 127.0.0.2.
    node.set("greylist.exempt", "[\"127.0.0.1\"]");
    node.add_user("alice@example.test");
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(node.config_path())
        .unwrap();
    writeln!(
        config,
        "\n[[policy.rules]]\nname = \"spammer\"\nsender = \"spammer@bad.test\"\naction = \"reject\"\ntext = \"Sender refused by havre\""
    )
    .unwrap();
    drop(config);
    node.start();
    node.wait_for_log(&format!("listening on 127.0.0.1:{policy_port}"), 1);
    let postfix = Postfix::start(&format!(
        "smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:{policy_port}, permit\n\
         default_transport = smtp:[127.0.0.1]:{mx}\n\
         relay_transport = smtp:[127.0.0.1]:{mx}\n",
        mx = node.smtp_port
    ));

    let out = python_ok(
        r#"
import smtplib, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60, source_address=("127.0.0.2", 0))
s.ehlo("client.example.net")
s.mail("spammer@bad.test")
print("spammer", *s.rcpt("alice@example.test"))
s.rset()
s.mail("friend@good.test")
print("first try", *s.rcpt("alice@example.test"))
s.rset()
time.sleep(3)
s.mail("friend@good.test")
print("retry", *s.rcpt("alice@example.test"))
print("data", s.data(b"From: friend@good.test\r\nTo: alice@example.test\r\nSubject: hello\r\n\r\nPassed greylisting.\r\n")[0])
s.quit()
"#,
        &[&postfix.port.to_string()],
    );
    let log = postfix.maillog();
    assert!(
        out.contains(
            "spammer 554 b'5.7.1 <alice@example.test>: Recipient address rejected: Sender refused by havre'"
        ),
        "{out}\n{log}"
    );
    assert!(
        out.contains(
            "first try 450 b'4.7.1 <alice@example.test>: Recipient address rejected: Greylisted, please try again in 2 seconds'"
        ),
        "{out}\n{log}"
    );
    assert!(out.contains("retry 250 b'2.1.5 Ok'"), "{out}\n{log}");
    assert!(out.contains("data 250"), "{out}\n{log}");
    let delivered = node.wait_for_messages("alice@example.test", 1);
    let message = &delivered[0];
    assert!(
        message.contains("X-Greylist: delayed ") && message.contains(" by havre-"),
        "Postfix added havre's header (PREPEND): {message}"
    );
    assert!(message.contains("by postfix.test (Postfix)"), "{message}");
    assert!(
        log.contains("NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1"),
        "Postfix logs the refusal as its own: {log}"
    );
}
