//! SIGTERM while clients are busy: what is under way finishes within
//! `server.shutdown_grace`, everyone else is told, the process exits.

use std::time::Duration;

use havre_testkit::{Havre, python_ok};

#[test]
fn sigterm_during_data_lets_the_message_finish_tells_the_others_and_exits_within_grace() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.set("server.shutdown_grace", "\"4s\"");
    node.start();
    let pid = node.pid().expect("running").to_string();
    let out = python_ok(
        r#"
import imaplib, os, poplib, signal, socket, ssl, sys, time
pid, mx, imap, pop3 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def smtp(lines):
    s = socket.create_connection(("127.0.0.1", mx), timeout=15)
    f = s.makefile("rb")
    f.readline()
    for line in lines:
        s.sendall(line)
        while True:
            reply = f.readline()
            if reply[3:4] != b"-":
                break
    return s, f
envelope = [b"EHLO client.test\r\n", b"MAIL FROM:<bob@remote.test>\r\n",
            b"RCPT TO:<alice@example.test>\r\n", b"DATA\r\n"]
# One client in the middle of DATA that will finish, one that never will,
# one between transactions.
finishing, ff = smtp(envelope)
finishing.sendall(b"Subject: mid-data\r\n\r\nfirst half\r\n")
stuck, sf = smtp(envelope)
stuck.sendall(b"Subject: never finished\r\n\r\nfirst half\r\n")
idle, idf = smtp([b"EHLO client.test\r\n"])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", imap); m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret"); m.select("INBOX")
p = poplib.POP3("127.0.0.1", pop3); p.stls(context=ctx)
p.user("alice@example.test"); p.pass_("secret")

os.kill(pid, signal.SIGTERM)
start = time.time()
time.sleep(0.3)
finishing.sendall(b"second half\r\n.\r\n")
print("data:", ff.readline().decode().strip())
idle.sendall(b"MAIL FROM:<bob@remote.test>\r\n")
print("new command:", idf.readline().decode().strip())
print("imap:", m.readline().decode().strip())
print("pop3:", p.file.readline().decode().strip())
try:
    socket.create_connection(("127.0.0.1", mx), timeout=5)
    print("listener: open")
except OSError:
    print("listener: closed")
print("stuck:", sf.readline().decode().strip(), "| after", round(time.time() - start, 1))
"#,
        &[
            &pid,
            &node.smtp_port.to_string(),
            &node.imap_port.to_string(),
            &node.pop3_port.to_string(),
        ],
    );
    assert!(out.contains("data: 250 2.0.0 Ok: queued as"), "{out}");
    assert!(
        out.contains("new command: 421 4.3.2 mx.example.test Service shutting down"),
        "{out}"
    );
    assert!(out.contains("imap: * BYE Server shutting down."), "{out}");
    assert!(
        out.contains("pop3: -ERR [SYS/TEMP] Server shutting down."),
        "{out}"
    );
    assert!(out.contains("listener: closed"), "{out}");
    let stuck = out.lines().find(|l| l.starts_with("stuck:")).unwrap();
    assert!(
        stuck.starts_with("stuck: 421 4.3.2 mx.example.test Service shutting down"),
        "{out}"
    );
    let after: f64 = stuck.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (3.5..6.0).contains(&after),
        "the unfinished DATA is closed when the 4s grace is over: {stuck}"
    );
    assert!(
        node.wait_for_exit(Duration::from_secs(3)),
        "exited right after the grace period"
    );
    // The message that got its 250 is on disk: the next start delivers it.
    node.start();
    let delivered = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].contains("Subject: mid-data"));
    assert!(delivered[0].contains("second half"));
}
