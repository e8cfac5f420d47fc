//! A node on PostgreSQL when PostgreSQL goes away: it does not start
//! without it, and while it runs a cut of every connection (what a restart
//! of the server does) costs no message that got 250, is answered 451 by
//! SMTP and `NO [UNAVAILABLE]` by IMAP meanwhile, and passes by itself.
//! The node reaches the machine's PostgreSQL through a proxy the test
//! cuts, so other tests sharing the server go on.

use std::path::Path;
use std::time::{Duration, Instant};

use havre_testkit::cluster::PostgresSchema;
use havre_testkit::{CutProxy, Havre};

const BIN: &str = env!("CARGO_BIN_EXE_havre");

/// A node with alice's account on a schema of its own, reached through a
/// proxy; not started.
fn node_behind_proxy() -> (Havre, CutProxy, PostgresSchema) {
    let schema = PostgresSchema::create_blocking().unwrap();
    let proxy = CutProxy::start(schema.server_address());
    let mut node = Havre::init(BIN);
    node.share_storage(&schema.url_through(proxy.port()));
    node.add_user("alice@example.test");
    (node, proxy, schema)
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never came", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_node_whose_postgresql_does_not_answer_does_not_start_and_says_which() {
    let (mut node, proxy, _schema) = node_behind_proxy();
    proxy.cut();
    let said = node.start_refused();
    assert!(
        said.contains("cannot open the PostgreSQL database at postgres://postgres@127.0.0.1:")
            && said.contains("(storage.url)"),
        "{said}"
    );
}

/// Four senders, each sending one message per connection until the file
/// `stop` exists; prints `<sender>.<n> <reply code> <text>` for each.
const LOAD: &str = r#"
import os, smtplib, sys, threading, time
port, stop = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
def sender(k):
    n = 0
    while not os.path.exists(stop):
        n += 1
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            s.ehlo()
            s.mail("bob@remote.test")
            code, text = s.rcpt("alice@example.test")
            if code == 250:
                code, text = s.data(b"Subject: load %d.%d\r\n\r\nbody\r\n" % (k, n))
            s.quit()
        except smtplib.SMTPResponseException as e:
            code, text = e.smtp_code, e.smtp_error
        except Exception as e:
            code, text = 0, str(e).encode()
        with lock:
            print(f"{k}.{n} {code} {text.decode(errors='replace')}", flush=True)
        time.sleep(0.05)
threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
"#;

#[test]
fn a_cut_of_every_postgresql_connection_during_a_load_loses_no_accepted_message() {
    let (mut node, proxy, _schema) = node_behind_proxy();
    node.start();
    let stop = node.dir().join("stop");
    let port = node.smtp_port.to_string();
    let script_stop = stop.display().to_string();
    let load = std::thread::spawn(move || havre_testkit::python(LOAD, &[&port, &script_stop]));
    std::thread::sleep(Duration::from_secs(2));
    proxy.cut();
    std::thread::sleep(Duration::from_secs(2));
    proxy.restore();
    // Long enough after the restore for every sender to have gone through
    // a few more messages on new connections.
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(&stop, "").unwrap();
    let out = load.join().unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();

    let replies: Vec<(&str, &str)> = out
        .lines()
        .filter_map(|line| line.split_once(' '))
        .collect();
    let accepted: Vec<&str> = replies
        .iter()
        .filter(|(_, reply)| reply.starts_with("250"))
        .map(|(id, _)| *id)
        .collect();
    let refused: Vec<&&str> = replies
        .iter()
        .filter(|(_, reply)| !reply.starts_with("250"))
        .map(|(_, reply)| reply)
        .collect();
    assert!(!refused.is_empty(), "the cut was not felt: {out}");
    for reply in &refused {
        assert!(
            reply.starts_with("451 ") || reply.starts_with("421 "),
            "only temporary refusals while the database is away: {out}"
        );
    }
    // Every sender was accepted again after the restore.
    for k in 0..4 {
        let last = replies
            .iter()
            .rfind(|(id, _)| id.starts_with(&format!("{k}.")))
            .unwrap_or_else(|| panic!("sender {k} sent nothing: {out}"));
        assert!(
            last.1.starts_with("250"),
            "sender {k} after the restore: {out}"
        );
    }
    // Each accepted message is in the Maildir, once.
    let messages = node.wait_for_messages("alice@example.test", accepted.len());
    for id in &accepted {
        let subject = format!("Subject: load {id}");
        let copies = messages
            .iter()
            .filter(|m| m.lines().any(|line| line.trim_end() == subject))
            .count();
        assert_eq!(copies, 1, "message {id}: {copies} copies; {out}");
    }
}

/// alice logged in, then SELECTs while the test cuts and restores the
/// database, told by files in the directory `argv[2]`.
const SELECT_ACROSS_A_CUT: &str = r#"
import imaplib, os, ssl, sys, time
port, dir = int(sys.argv[1]), sys.argv[2]
def wait(name):
    while not os.path.exists(os.path.join(dir, name)): time.sleep(0.02)
def tell(name):
    open(os.path.join(dir, name), "w").close()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", port)
m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
print("before:", m.select("INBOX"))
tell("logged-in"); wait("cut")
print("during:", m.select("INBOX"))
tell("tried"); wait("restored")
print("after:", m.select("INBOX"))
m.logout()
"#;

#[test]
fn imap_says_unavailable_while_postgresql_is_away_and_serves_again_after() {
    let (mut node, proxy, _schema) = node_behind_proxy();
    node.start();
    let signals = tempfile::tempdir().unwrap();
    let port = node.imap_port.to_string();
    let dir = signals.path().display().to_string();
    let session =
        std::thread::spawn(move || havre_testkit::python_ok(SELECT_ACROSS_A_CUT, &[&port, &dir]));
    wait_for_file(&signals.path().join("logged-in"));
    proxy.cut();
    std::fs::write(signals.path().join("cut"), "").unwrap();
    wait_for_file(&signals.path().join("tried"));
    proxy.restore();
    std::fs::write(signals.path().join("restored"), "").unwrap();
    let out = session.join().unwrap();
    assert!(out.contains("before: ('OK'"), "{out}");
    assert!(
        out.contains(
            "during: ('NO', [b'[UNAVAILABLE] Mail storage unavailable, try again later.'])"
        ),
        "{out}"
    );
    assert!(out.contains("after: ('OK'"), "{out}");
}

#[path = "support/student.rs"]
mod student;

#[test]
fn mail_goes_on_while_redis_is_away_and_the_shared_limits_come_back_with_it() {
    let redis: std::net::SocketAddr = "127.0.0.1:6379".parse().unwrap();
    let proxy = CutProxy::start(redis);
    let mut node = Havre::init(BIN);
    node.set(
        "state.url",
        &format!("\"redis://127.0.0.1:{}/0\"", proxy.port()),
    );
    node.set("state.backend", "\"redis\"");
    let prefix = havre_testkit::cluster::redis_prefix("away");
    node.set("state.prefix", &format!("{prefix:?}"));
    student::add_student(&node);
    node.add_user("alice@example.test");
    node.start();
    let port = node.submission_port.to_string();
    // Redis goes away: the student's mail is still taken (limits and
    // greylisting let mail through rather than refuse it all, as Postgrey
    // does without its database), and the node says why.
    proxy.cut();
    let during = havre_testkit::python_ok(student::SENDS, &[&port, "1", "3"]);
    for n in 1..=3 {
        assert!(during.contains(&format!("{n} 250 ")), "{during}");
    }
    node.wait_for_messages("alice@example.test", 3);
    // Back: the limit of 10 a minute holds again, by itself.
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut first = 4;
    loop {
        let after = havre_testkit::python_ok(student::SENDS, &[&port, &first.to_string(), "11"]);
        if after.contains(" 450 4.7.1 ") {
            let accepted = after.lines().filter(|l| l.contains(" 250 ")).count();
            assert!(
                accepted <= 10,
                "more than 10 a minute went through: {after}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the limit never came back: {after}"
        );
        first += 11;
        std::thread::sleep(Duration::from_secs(1));
    }
    let log = node.log();
    assert!(
        log.contains("warning: rule student-rate: redis: ") && log.contains("; not limiting"),
        "{log}"
    );
}
