//! POP3 on the real binary, next to IMAP on the same mailboxes.

use havre_testkit::{FROM_ADDRESS_PRELUDE, Havre, python_ok, swaks};

#[test]
fn pop3_and_imap_agree_on_the_mailbox_and_uidl_follows_imap_uids() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    for subject in ["one", "two"] {
        let out = swaks(&[
            "--server",
            &node.smtp_addr(),
            "--from",
            "b@remote.test",
            "--to",
            "alice@example.test",
            "--header",
            &format!("Subject: {subject}"),
        ]);
        assert!(out.status.success());
    }
    node.wait_for_empty_queue();
    let out = python_ok(
        r#"
import imaplib, poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[2])); m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
m.select("INBOX")
uidvalidity = int([r for r in m.untagged_responses["OK"] if r.startswith(b"[UIDVALIDITY")][0].split()[1].rstrip(b"]"))
uids = [int(u) for u in m.uid("SEARCH", "ALL")[1][0].split()]
print("expected:", " ".join(f"{u:08X}{uidvalidity:08X}" for u in uids))
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
try:
    p.user("alice@example.test")
except poplib.error_proto as e:
    print("before tls:", e)
p.stls(context=ctx)
p.user("alice@example.test"); p.pass_("secret")
print("stat:", p.stat())
print("uidl:", " ".join(x.decode().split()[1] for x in p.uidl()[1]))
print("subject:", [l for l in p.retr(2)[1] if l.startswith(b"Subject")])
p.dele(1)
p.quit()
m.noop()
print("imap after pop3 dele:", m.untagged_responses.get("EXPUNGE"), m.uid("SEARCH", "ALL")[1])
"#,
        &[&node.pop3_port.to_string(), &node.imap_port.to_string()],
    );
    let expected = out
        .lines()
        .find_map(|l| l.strip_prefix("expected: "))
        .unwrap();
    assert!(out.contains(&format!("uidl: {expected}")), "{out}");
    assert!(out.contains("before tls: b'-ERR"), "{out}");
    assert!(out.contains("stat: (2,"), "{out}");
    assert!(out.contains("subject: [b'Subject: two']"), "{out}");
    assert!(out.contains("imap after pop3 dele: [b'1'] [b'2']"), "{out}");
}

#[test]
fn only_a_director_may_name_the_client_it_logs_in_for() {
    // A backend whose director is 127.0.0.2; 127.0.0.3 is any client.
    let node = Havre::started_backend_of(env!("CARGO_BIN_EXE_havre"), "[\"127.0.0.2/32\"]");
    let script = &format!(
        "{FROM_ADDRESS_PRELUDE}{}",
        r#"
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = from_address(poplib.POP3, sys.argv[2])("127.0.0.1", int(sys.argv[1]))
p.stls(context=ctx)
try:
    print("xclient:", p._shortcmd("XCLIENT ADDR=192.0.2.7 PORT=4242"))
except poplib.error_proto as e:
    print("xclient:", e)
p.user("alice@example.test")
print(p.pass_("secret"))
p.quit()
"#
    );
    let port = node.pop3_port.to_string();
    let out = python_ok(script, &[&port, "127.0.0.3"]);
    assert!(
        out.contains("xclient: b'-ERR You are not from trusted IP.'"),
        "{out}"
    );
    let anyone = "Login: user=<alice@example.test>, method=PLAIN, rip=127.0.0.3,";
    let log = node.wait_for_log(anyone, 1);
    assert!(log.contains(anyone), "{log}");
    let out = python_ok(script, &[&port, "127.0.0.2"]);
    assert!(out.contains("xclient: b'+OK"), "{out}");
    let director = "Login: user=<alice@example.test>, method=PLAIN, rip=192.0.2.7,";
    let log = node.wait_for_log(director, 1);
    assert!(log.contains(director), "{log}");
}
