//! Submission: authenticated users send mail (587 STARTTLS, 465 TLS).

use havre_testkit::{Havre, python_ok, swaks};

fn node(configure: impl FnOnce(&mut Havre)) -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    node.cli_ok(&["alias", "add", "info@example.test", "alice@example.test"]);
    // Only authenticated clients may relay in these tests.
    node.set("relay.internal_networks", "[]");
    configure(&mut node);
    node.start();
    node
}

fn swaks_text(args: &[&str]) -> (bool, String) {
    let out = swaks(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn auth_is_neither_offered_nor_accepted_before_starttls() {
    let node = node(|_| {});
    let port = node.submission_port.to_string();
    let out = python_ok(
        r#"
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("laptop.test")
print("before:", sorted(s.esmtp_features))
code, msg = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=")
print("auth before tls:", code, msg.decode())
code, msg = s.docmd("MAIL", "FROM:<alice@example.test>")
print("mail before auth:", code, msg.decode())
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx); s.ehlo("laptop.test")
print("after:", s.esmtp_features.get("auth"))
try:
    s.login("alice@example.test", "wrong")
except smtplib.SMTPAuthenticationError as e:
    print("wrong password:", e.smtp_code, e.smtp_error.decode())
print("login:", s.login("alice@example.test", "secret"))
"#,
        &[&port],
    );
    assert!(out.contains("before:") && !out.contains("'auth'"), "{out}");
    assert!(out.contains("'starttls'"), "{out}");
    assert!(out.contains("auth before tls: 538 5.7.11"), "{out}");
    assert!(
        out.contains("mail before auth: 530 5.7.0 Authentication required"),
        "{out}"
    );
    assert!(
        out.contains("after:  PLAIN LOGIN") || out.contains("after: PLAIN LOGIN"),
        "{out}"
    );
    assert!(out.contains("wrong password: 535 5.7.8"), "{out}");
    assert!(
        out.contains("login: (235, b'2.7.0 Authentication successful')"),
        "{out}"
    );
}

#[test]
fn an_authenticated_user_sends_to_a_local_user_and_the_world_over_465() {
    let dead = havre_testkit::free_port();
    let node = node(|n| {
        n.set(
            "relay.routes",
            &format!("{{ \"far.test\" = \"smtp:[127.0.0.1]:{dead}\" }}"),
        )
    });
    let (ok, text) = swaks_text(&[
        "--server",
        &format!("127.0.0.1:{}", node.submissions_port),
        "--tlsc",
        "--auth",
        "LOGIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "secret",
        "--from",
        "alice@example.test",
        "--to",
        "bob@example.test,someone@far.test",
        "--header",
        "From: Alice <alice@example.test>",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("<~  235 2.7.0"), "{text}");
    assert!(text.contains("<~  250 2.0.0 Ok: queued as"), "{text}");
    let messages = node.wait_for_messages("bob@example.test", 1);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("with ESMTPSA id"), "{}", messages[0]);
    // The remote recipient waits in the queue for outbound delivery.
    assert!(node.cli_ok(&["queue", "list"]).contains("someone@far.test"));
}

#[test]
fn no_relay_without_auth_and_internal_networks_may_relay() {
    let node = node(|_| {});
    let (ok, text) = swaks_text(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "x@example.test",
        "--to",
        "someone@far.test",
    ]);
    assert!(!ok);
    assert!(
        text.contains("<** 554 5.7.1 <someone@far.test>: Relay access denied"),
        "{text}"
    );
    let trusted = self::node(|n| n.set("relay.internal_networks", "[\"127.0.0.0/8\"]"));
    let (ok, text) = swaks_text(&[
        "--server",
        &trusted.smtp_addr(),
        "--from",
        "app@example.test",
        "--to",
        "someone@far.test",
    ]);
    assert!(ok, "an internal client relays without AUTH: {text}");
}

#[test]
fn a_user_may_send_only_as_herself_or_her_aliases() {
    let node = node(|_| {});
    let server = format!("127.0.0.1:{}", node.submission_port);
    let send = |from: &str, header_from: &str| {
        swaks_text(&[
            "--server",
            &server,
            "-tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice@example.test",
            "--auth-password",
            "secret",
            "--from",
            from,
            "--to",
            "bob@example.test",
            "--header",
            &format!("From: {header_from}"),
        ])
    };
    let (ok, text) = send("alice@example.test", "alice@example.test");
    assert!(ok, "{text}");
    let (ok, text) = send("info@example.test", "Info <info@example.test>");
    assert!(ok, "an alias of hers: {text}");
    let (ok, text) = send("alice+news@example.test", "alice@example.test");
    assert!(ok, "a sub-address of hers: {text}");
    let (ok, text) = send("bob@example.test", "alice@example.test");
    assert!(!ok);
    assert!(text.contains("553 5.7.1 <bob@example.test>: Sender address rejected: not owned by user alice@example.test"), "{text}");
    let (ok, text) = send("alice@example.test", "Bob <bob@example.test>");
    assert!(!ok);
    assert!(
        text.contains("553 5.7.1 From: header address not owned by user alice@example.test"),
        "{text}"
    );
}

#[test]
fn a_class_allowed_to_send_as_anyone_may() {
    let node = node(|n| {
        n.set("submission.any_sender_classes", "[\"staff\"]");
        let out = n.cli_with_stdin(
            &[
                "user",
                "add",
                "desk@example.test",
                "--password-stdin",
                "--class",
                "staff",
            ],
            "secret\n",
        );
        assert!(out.status.success());
    });
    let (ok, text) = swaks_text(&[
        "--server",
        &format!("127.0.0.1:{}", node.submission_port),
        "-tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "desk@example.test",
        "--auth-password",
        "secret",
        "--from",
        "noreply@example.test",
        "--to",
        "bob@example.test",
        "--header",
        "From: noreply@example.test",
    ]);
    assert!(ok, "{text}");
}

#[test]
fn eight_bit_header_lines_from_an_authenticated_user_get_a_reply_and_leave_no_spool_file() {
    let node = node(|_| {});
    let port = node.submissions_port.to_string();
    let out = python_ok(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
headers = [b"abcd\xc3\xa9: x", b"abc\xe9: x", b"abcd\xe9: x", b"From: al\xe9ce@example.test"]
for i, header in enumerate(headers):
    with smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=30) as s:
        s.login("alice@example.test", "secret")
        msg = b"From: alice@example.test\r\n" + header + b"\r\nSubject: eight-bit %d\r\n\r\nbody\r\n" % i
        try:
            s.sendmail("alice@example.test", ["bob@example.test"], msg)
            print("SENT", i)
        except smtplib.SMTPDataError as e:
            print("REFUSED", i, e.smtp_code, e.smtp_error.decode())
"#,
        &[&port],
    );
    // A header name with 8-bit bytes is just not From:; an 8-bit From:
    // address is not hers. Either way a reply, never a dropped connection.
    assert_eq!(
        out,
        "SENT 0\nSENT 1\nSENT 2\n\
         REFUSED 3 553 5.7.1 From: header address not owned by user alice@example.test\n",
        "{}",
        node.log()
    );
    assert_eq!(node.wait_for_messages("bob@example.test", 3).len(), 3);
    assert_eq!(node.spool_files("tmp"), 0);
    assert!(!node.log().contains("panic"), "{}", node.log());
}
