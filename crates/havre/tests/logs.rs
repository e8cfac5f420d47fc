//! The mail log read by the tools that read Postfix's and Dovecot's:
//! pflogsumm's totals equal what happened, Fail2ban's stock postfix and
//! dovecot filters count every failed login, the operator's queue and user
//! changes are in it, and it can go to a syslog or journald socket.

use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use havre_testkit::imap::IMAPLIB_PRELUDE;
use havre_testkit::{Havre, SinkMode, SmtpSink, free_port, python_ok};

/// Mail from outside over port 25: three messages for bob, a recipient
/// refused before any was accepted (550 5.1.1, NOQUEUE) and one refused
/// after (554 5.7.1, under the message's id).
const FROM_OUTSIDE: &str = r#"
import smtplib, sys
port = int(sys.argv[1])
def session(rcpts, n):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("outside.test")
    s.mail("carol@outside.test")
    codes = [s.rcpt(r)[0] for r in rcpts]
    msg = (f"From: carol@outside.test\r\nTo: bob@example.test\r\nSubject: m{n}\r\n"
           f"Message-ID: <m{n}@outside.test>\r\n\r\nhello\r\n")
    print(n, codes, s.data(msg)[0])
    s.quit()
session(["ghost@example.test", "bob@example.test"], 1)
session(["bob@example.test", "nobody@elsewhere.test"], 2)
session(["bob@example.test"], 3)
"#;

/// Alice sends over 465 to the world: one recipient accepted remotely, one
/// refused remotely (the message bounces), one whose server is down.
const FROM_ALICE: &str = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=30)
s.login("alice@example.test", "secret")
for n, to in enumerate(["dave@far.test", "nobody@bad.test", "eve@slow.test"]):
    msg = (f"From: alice@example.test\r\nTo: {to}\r\nSubject: out{n}\r\n"
           f"Message-ID: <out{n}@example.test>\r\n\r\nhello\r\n")
    s.sendmail("alice@example.test", [to], msg)
s.quit()
print("sent")
"#;

/// pflogsumm's Grand Totals, by label (`received`, `delivered`, `deferred`,
/// `bounced`, `rejected`...).
fn pflogsumm(log: &Path) -> (HashMap<String, u64>, String) {
    // Debian puts it in /usr/sbin, which a user's PATH may lack.
    let program = if Path::new("/usr/sbin/pflogsumm").exists() {
        "/usr/sbin/pflogsumm"
    } else {
        "pflogsumm"
    };
    let out = Command::new(program)
        .arg("--syslog-name=havre")
        .arg(log)
        .output()
        .expect("run pflogsumm (Debian package pflogsumm)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (grand_totals(&text), text)
}

/// The first `NUMBER LABEL` line of each label: the grand totals of
/// pflogsumm's report, and of `havre report`'s, which lays them out alike.
fn grand_totals(text: &str) -> HashMap<String, u64> {
    let mut totals = HashMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some(n), Some(label)) = (words.next(), words.next())
            && let Ok(n) = n.parse::<u64>()
        {
            totals.entry(label.to_string()).or_insert(n);
        }
    }
    totals
}

/// Waits until `totals_now` gives the `expected` grand totals.
fn wait_for_totals(
    expected: &[(&str, u64)],
    mut totals_now: impl FnMut() -> (HashMap<String, u64>, String),
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (totals, text) = totals_now();
        let seen: Vec<(&str, u64)> = expected
            .iter()
            .map(|(label, _)| (*label, totals.get(*label).copied().unwrap_or(u64::MAX)))
            .collect();
        if seen == expected {
            println!("{text}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} totals {seen:?}, expected {expected:?}\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn pflogsumm_counts_what_was_received_delivered_deferred_bounced_and_rejected() {
    let accept = SmtpSink::start(SinkMode::Accept);
    let reject = SmtpSink::start(SinkMode::Reject);
    let down = free_port();
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.add_user("bob@example.test");
    for (domain, port) in [
        ("far.test", accept.port),
        ("bad.test", reject.port),
        ("slow.test", down),
    ] {
        node.set(
            &format!("relay.routes.\"{domain}\""),
            &format!("\"smtp:[127.0.0.1]:{port}\""),
        );
    }
    node.start();

    let out = python_ok(FROM_OUTSIDE, &[&node.smtp_port.to_string()]);
    assert!(out.contains("1 [550, 250] 250"), "{out}");
    assert!(out.contains("2 [250, 554] 250"), "{out}");
    let out = python_ok(FROM_ALICE, &[&node.submissions_port.to_string()]);
    assert!(out.contains("sent"), "{out}");
    // A script's mail through `havre sendmail` (Postfix's pickup).
    let out = node.cli_with_stdin(
        &["sendmail", "-i", "bob@example.test"],
        "Subject: nightly\nMessage-ID: <cron@example.test>\n\nall good\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(node.wait_for_messages("bob@example.test", 4).len(), 4);
    assert_eq!(accept.wait_for(1).len(), 1, "{}", node.log());
    let bounce = node.wait_for_messages("alice@example.test", 1);
    assert_eq!(bounce.len(), 1, "{}", node.log());

    // received: 3 from outside, 3 from alice, 1 by sendmail; delivered:
    // bob's 4, dave's and the bounce to alice; deferred: the message for
    // slow.test; bounced: nobody@bad.test; rejected: ghost and
    // nobody@elsewhere.
    let expected = [
        ("received", 7),
        ("delivered", 6),
        ("forwarded", 0),
        ("deferred", 1),
        ("bounced", 1),
        ("rejected", 2),
    ];
    let log = node.dir().join("havre.log");
    wait_for_totals(&expected, || pflogsumm(&log), "pflogsumm");
    // `havre report`, from the events recorded beside those lines, counts
    // the same.
    wait_for_totals(
        &expected,
        || {
            let text = node.cli_ok(&["report", "--since", "1h"]);
            (grand_totals(&text), text)
        },
        "havre report",
    );

    // The same in JSON, for scripts.
    let json: serde_json::Value =
        serde_json::from_str(&node.cli_ok(&["report", "--since", "1h", "--json"])).unwrap();
    for (key, n) in &expected {
        assert_eq!(json[*key], *n, "{key}: {json}");
    }
    assert_eq!(
        json["per_hour"].as_array().map(Vec::len),
        Some(24),
        "{json}"
    );
    assert!(
        json["reject_reasons"][0]["name"]
            .as_str()
            .unwrap()
            .contains("550 5.1.1"),
        "{json}"
    );
    let traced: serde_json::Value =
        serde_json::from_str(&node.cli_ok(&["trace", "<m1@outside.test>", "--json"])).unwrap();
    let kinds: Vec<&str> = traced
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["accepted", "delivered"], "{traced}");
    assert_eq!(traced[1]["recipient"], "bob@example.test", "{traced}");

    // `havre trace` follows a message from the mx to the mailbox...
    let trace = node.cli_ok(&["trace", "<m1@outside.test>"]);
    let steps: Vec<&str> = trace.lines().collect();
    assert_eq!(steps.len(), 2, "{trace}");
    assert!(steps[0].contains(" smtpd: ") && steps[0].contains(" accepted message-id=<m1@outside.test> client=localhost[127.0.0.1] from=<carol@outside.test>"), "{trace}");
    assert!(
        steps[1].contains(" local: ")
            && steps[1].contains(" delivered ")
            && steps[1].contains(" to=<bob@example.test>")
            && steps[1].contains("relay=local"),
        "{trace}"
    );
    // ...and a bounced one to its DSN, delivered to the sender.
    let trace = node.cli_ok(&["trace", "<out1@example.test>"]);
    let steps: Vec<&str> = trace.lines().collect();
    assert_eq!(steps.len(), 4, "{trace}");
    assert!(
        steps[0].contains(" accepted message-id=<out1@example.test>"),
        "{trace}"
    );
    assert!(
        steps[1].contains(" bounced ")
            && steps[1].contains(" to=<nobody@bad.test>")
            && steps[1].contains("5.1.1"),
        "{trace}"
    );
    assert!(
        steps[2].contains(" bounce: ") && steps[2].contains(" notice to=<alice@example.test> -> "),
        "{trace}"
    );
    let dsn = steps[2]
        .split(" -> ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(
        steps[3].contains(&format!(" {dsn} delivered "))
            && steps[3].contains(" to=<alice@example.test>"),
        "{trace}"
    );
    assert!(
        steps[3].split_whitespace().nth(2).unwrap().starts_with('+'),
        "{trace}"
    );
    // A trace of nothing says so, and fails.
    let out = node.cli(&["trace", "0123456789ABCDEF"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no event names 0123456789ABCDEF in the last 7d"),
        "{out:?}"
    );
    // A day without events says so.
    assert_eq!(
        node.cli_ok(&["report", "--day", "2000-01-01"]),
        "no events on 2000-01-01 (kept for events.retention = 31d)\n"
    );
    let out = node.cli(&["report", "--day", "yesterday"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--day \"yesterday\": expected YYYY-MM-DD"),
        "{out:?}"
    );
    let log = node.log();
    assert!(log.contains("havre/cleanup["), "{log}");
    assert!(log.contains("message-id=<m1@outside.test>"), "{log}");
    assert!(log.contains("havre/pickup["), "{log}");
    assert!(log.contains("message-id=<cron@example.test>"), "{log}");
    assert!(log.contains("havre/smtps/smtpd["), "{log}");
    assert!(
        log.contains(
            "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <ghost@example.test>"
        ),
        "{log}"
    );
    assert!(log.contains("relay=local, delay="), "{log}");
    assert!(log.contains("dsn=5.1.1, status=bounced (host "), "{log}");
    assert!(
        log.contains(&format!(
            "to=<dave@far.test>, relay=127.0.0.1[127.0.0.1]:{}, delay=",
            accept.port
        )),
        "{log}"
    );
    assert!(
        log.contains("to=<eve@slow.test>, relay=none, delay="),
        "{log}"
    );
    assert!(log.contains("sender non-delivery notification: "), "{log}");
}

/// Failed logins: three SMTP AUTH attempts over two connections (and a
/// good one); three IMAP connections that each fail once (two log out,
/// one just closes); two POP3 connections that each fail once; a client
/// that tries nothing.
const FAILED_LOGINS: &str = r#"
import poplib, smtplib, socket
imap_port, pop3s_port, smtps_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def smtp_failures(n):
    s = smtplib.SMTP_SSL("127.0.0.1", smtps_port, context=ctx, timeout=30)
    s.ehlo("guesser.test")
    s.user, s.password = "alice@example.test", "guess"
    for _ in range(n):
        try:
            s.auth("PLAIN", s.auth_plain)
            raise SystemExit("a guess logged in")
        except smtplib.SMTPAuthenticationError:
            pass
    s.quit()
smtp_failures(2); smtp_failures(1)
s = smtplib.SMTP_SSL("127.0.0.1", smtps_port, context=ctx, timeout=30)
s.login("alice@example.test", "secret"); s.quit()
def imap_failure(logout):
    m = imaplib.IMAP4("127.0.0.1", imap_port)
    m.starttls(ssl_context=ctx)
    try:
        m.login("alice@example.test", "guess")
        raise SystemExit("a guess logged in")
    except imaplib.IMAP4.error:
        pass
    if logout:
        m.logout()
    else:
        m.shutdown()
imap_failure(True); imap_failure(True); imap_failure(False)
connect().logout()
for _ in range(2):
    p = poplib.POP3_SSL("127.0.0.1", pop3s_port, context=ctx, timeout=30)
    p.user("alice@example.test")
    try:
        p.pass_("guess")
        raise SystemExit("a guess logged in")
    except poplib.error_proto:
        pass
    p.quit()
socket.create_connection(("127.0.0.1", imap_port)).close()
print("done")
"#;

/// How many lines of `log` the stock Fail2ban `filter` matches.
fn fail2ban_matches(log: &Path, filter: &str) -> (usize, String) {
    let out = Command::new("fail2ban-regex")
        .arg(log)
        .arg(filter)
        .output()
        .expect("run fail2ban-regex (Debian package fail2ban)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let matched = text
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("Lines: ")?;
            rest.split(", ")
                .find_map(|part| part.strip_suffix(" matched")?.parse().ok())
        })
        .unwrap_or_else(|| panic!("no count in fail2ban-regex's output:\n{text}"));
    (matched, text)
}

#[test]
fn fail2ban_s_stock_postfix_and_dovecot_filters_count_every_failed_login() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    let out = python_ok(
        &format!("{IMAPLIB_PRELUDE}\n{FAILED_LOGINS}"),
        &[
            &node.imap_port.to_string(),
            &node.pop3s_port.to_string(),
            &node.submissions_port.to_string(),
        ],
    );
    assert!(out.contains("done"), "{out}");
    let log = node.dir().join("havre.log");
    // The stock filters, told the program names (a jail's
    // `filter = postfix[mode=auth, _daemon=havre/\S+]`).
    let filters = [
        (r"postfix[mode=auth, _daemon=havre/\S+]", 3),
        (r"dovecot[_daemon=havre/\S+]", 5),
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    for (filter, expected) in filters {
        loop {
            // Sessions log their last line as they end, just after the client.
            let (matched, text) = fail2ban_matches(&log, filter);
            if matched == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{filter}: {matched} lines matched, {expected} failed logins\n{text}\n{}",
                node.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn queue_and_user_changes_are_logged_as_postsuper_logs_them() {
    let down = free_port();
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.set(
        "relay.routes.\"slow.test\"",
        &format!("\"smtp:[127.0.0.1]:{down}\""),
    );
    node.start();
    let out = python_ok(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=30)
s.login("alice@example.test", "secret")
print(s.sendmail("alice@example.test", ["eve@slow.test"], "From: alice@example.test\r\nSubject: x\r\n\r\nx\r\n"))
s.quit()
"#,
        &[&node.submissions_port.to_string()],
    );
    assert!(out.contains("{}"), "{out}");
    let id = node
        .log()
        .lines()
        .find_map(|l| {
            let rest = l.split("havre/qmgr[").nth(1)?;
            let id = rest.split("]: ").nth(1)?.split(':').next()?;
            rest.contains("from=<alice@example.test>")
                .then(|| id.to_string())
        })
        .expect("a queue active line");
    // ALL and `-` (ids on standard input, as mailq prints them) name each
    // message in the log, as postsuper does.
    node.cli_ok(&["queue", "hold", "ALL"]);
    let out = node.cli_with_stdin(&["queue", "release", "-"], &format!("{id}!\n"));
    assert!(out.status.success(), "{out:?}");
    node.cli_ok(&["queue", "requeue", &id]);
    node.cli_ok(&["queue", "delete", &id]);
    node.add_user("bob@example.test");
    node.cli_with_stdin(
        &["user", "passwd", "bob@example.test", "--password-stdin"],
        "other\n",
    );
    node.cli_ok(&[
        "user",
        "modify",
        "bob@example.test",
        "--quota",
        "10M",
        "--disable",
    ]);
    node.cli_ok(&["user", "remove", "bob@example.test"]);
    let log = node.log();
    for line in [
        "havre/postsuper[".to_string(),
        format!("]: {id}: placed on hold"),
        format!("]: {id}: released from hold"),
        format!("]: {id}: requeued"),
        format!("]: {id}: removed"),
        "havre/user[".to_string(),
        "]: bob@example.test: added, class=".to_string(),
        "]: bob@example.test: password changed".to_string(),
        "]: bob@example.test: modified, quota=".to_string(),
        ", login=disabled".to_string(),
        "]: bob@example.test: removed".to_string(),
    ] {
        assert!(log.contains(&line), "no {line:?} in\n{log}");
    }
    assert!(!log.contains("other"), "a password in the log:\n{log}");
}

/// Collects the datagrams sent to a socket bound by the test.
struct Listener {
    path: std::path::PathBuf,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    _dir: tempfile::TempDir,
}

impl Listener {
    fn bind() -> Listener {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            while let Ok(n) = socket.recv(&mut buf) {
                sink.lock().unwrap().push(buf[..n].to_vec());
            }
        });
        Listener {
            path,
            received,
            _dir: dir,
        }
    }

    /// Waits for a datagram containing `needle`.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let all: Vec<String> = self
                .received
                .lock()
                .unwrap()
                .iter()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .collect();
            if let Some(found) = all.iter().find(|d| d.contains(needle)) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no datagram with {needle:?} in {all:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn node_logging_to(output: &str, listener: &Listener) -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.set("log.output", &format!("\"{output}\""));
    node.set("log.socket", &format!("\"{}\"", listener.path.display()));
    node.start();
    node
}

/// One failed AUTH (a warning) and one message (info lines).
fn failed_auth_then_a_message(node: &Havre) {
    python_ok(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=30)
s.ehlo("client.test")
s.user, s.password = "alice@example.test", "guess"
try:
    s.auth("PLAIN", s.auth_plain)
except smtplib.SMTPAuthenticationError:
    pass
s.quit()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), timeout=30)
s.sendmail("carol@outside.test", ["alice@example.test"], "Subject: x\r\n\r\nx\r\n")
s.quit()
"#,
        &[
            &node.submissions_port.to_string(),
            &node.smtp_port.to_string(),
        ],
    );
}

#[test]
fn with_log_output_syslog_lines_go_to_the_syslog_socket_as_rfc_3164_mail_facility() {
    let listener = Listener::bind();
    let node = node_logging_to("syslog", &listener);
    failed_auth_then_a_message(&node);
    let pid = node.pid().unwrap();
    // <22>: facility mail (2) x 8 + info (6); <20>: warning (4).
    let client = listener.wait_for(": client=localhost[127.0.0.1]");
    assert!(client.starts_with("<22>"), "{client}");
    assert!(
        client.contains(&format!(" havre/smtpd[{pid}]: ")),
        "{client}"
    );
    // "Mmm dd hh:mm:ss " after the priority.
    let stamp = &client[4..20];
    assert!(
        stamp.as_bytes()[3] == b' ' && stamp.as_bytes()[6] == b' ' && &stamp[9..10] == ":",
        "{client}"
    );
    let warning = listener.wait_for("SASL PLAIN authentication failed");
    assert!(
        warning.starts_with("<20>")
            && warning.contains(&format!(
                " havre/smtps/smtpd[{pid}]: warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: "
            )),
        "{warning}"
    );
    // The file gets the same lines.
    assert!(node.log().contains("SASL PLAIN authentication failed"));
}

#[test]
fn with_log_output_journald_each_line_keeps_its_program_name_and_priority() {
    let listener = Listener::bind();
    let node = node_logging_to("journald", &listener);
    failed_auth_then_a_message(&node);
    let pid = node.pid().unwrap();
    let fields = |entry: &str| -> HashMap<String, String> {
        entry
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let client = fields(&listener.wait_for(": client=localhost[127.0.0.1]"));
    assert_eq!(client["SYSLOG_IDENTIFIER"], "havre/smtpd");
    assert_eq!(client["PRIORITY"], "6");
    assert_eq!(client["SYSLOG_FACILITY"], "2");
    assert_eq!(client["SYSLOG_PID"], pid.to_string());
    let warning = fields(&listener.wait_for("SASL PLAIN authentication failed"));
    assert_eq!(warning["SYSLOG_IDENTIFIER"], "havre/smtps/smtpd");
    assert_eq!(warning["PRIORITY"], "4");
    assert!(
        warning["MESSAGE"]
            .starts_with("warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: "),
        "{warning:?}"
    );
}

#[test]
fn a_reload_says_log_output_and_log_socket_need_a_restart_and_lines_keep_their_way() {
    let syslog = Listener::bind();
    let journald = Listener::bind();
    let mut node = node_logging_to("syslog", &syslog);
    syslog.wait_for(" started: roles ");
    node.set("log.output", "\"journald\"");
    node.set("log.socket", &format!("\"{}\"", journald.path.display()));
    node.set("log.level", "\"debug\"");
    let reload = node.cli(&["reload"]);
    assert!(reload.status.success(), "{reload:?}");
    let log = node.wait_for_log("reload: done", 1);
    for line in [
        "warning: reload: log.output needs a restart",
        "warning: reload: log.socket needs a restart",
        "reload: log.level changed",
    ] {
        assert!(log.contains(line), "no {line:?} in\n{log}");
    }
    failed_auth_then_a_message(&node);
    // Still RFC 3164 datagrams to the socket serve started with.
    let client = syslog.wait_for(": client=localhost[127.0.0.1]");
    assert!(client.starts_with("<22>"), "{client}");
    assert!(
        journald.received.lock().unwrap().is_empty(),
        "nothing goes to the new socket before a restart"
    );
}

/// Prints the text and the HTML part of the mail in `sys.argv[1]`, and its
/// subject, as a mail client decodes them.
const READ_REPORT: &str = r#"
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print("SUBJECT", m["Subject"])
print("FROM", m["From"])
print("TEXT", m.get_body(("plain",)).get_content())
print("HTML", m.get_body(("html",)).get_content())
"#;

#[test]
fn the_daily_report_reaches_the_postmasters_at_report_time_as_text_and_html() {
    let node = Havre::started(
        env!("CARGO_BIN_EXE_havre"),
        &["alice@example.test", "postmaster@example.test"],
        |n| {
            n.set("report.mail_to", "[\"postmaster@example.test\"]");
            // In a few seconds, local time.
            let at = chrono_like_now_plus(4);
            n.set("report.time", &format!("\"{at}\""));
        },
    );
    let (sent, out) = node.send_to_mx("alice@example.test");
    assert!(sent, "{out}");
    let (sent, out) = node.send_to_mx("ghost@example.test");
    assert!(!sent, "{out}");
    let reports = node.wait_for_messages("postmaster@example.test", 1);
    let path = node.dir().join("report.eml");
    std::fs::write(&path, &reports[0]).unwrap();
    let out = python_ok(READ_REPORT, &[path.to_str().unwrap()]);
    assert!(
        out.contains("SUBJECT Mail report of mx.example.test for the 24 hours up to "),
        "{out}"
    );
    assert!(
        out.contains("FROM Mail report <MAILER-DAEMON@mx.example.test>"),
        "{out}"
    );
    let text = out.split("HTML ").next().unwrap();
    assert!(text.contains("        1   received\n"), "{out}");
    assert!(text.contains("        1   rejected (50%)"), "{out}");
    assert!(out.contains("<h2 style=\"font-size:1.1em;border-bottom:1px solid #ccc;margin-top:1.4em\">Grand totals</h2>"), "{out}");
    assert!(
        out.contains("recipient: 550 5.1.1 &lt;ghost@example.test&gt;"),
        "{out}"
    );
    let log = node.wait_for_log("daily report to <postmaster@example.test> queued", 1);
    assert!(log.contains("havre/report["), "{log}");
    // The same HTML on the command line.
    let html = node.cli_ok(&["report", "--since", "1h", "--html"]);
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("Grand totals"),
        "{html}"
    );
}

#[test]
fn a_report_time_that_is_not_a_time_of_day_is_refused_by_config_check() {
    let node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    for (key, value, why) in [
        (
            "report.time",
            "\"25:00\"",
            "report.time: \"25:00\" is not a time of day",
        ),
        (
            "report.mail_to",
            "[\"postmaster\"]",
            "report.mail_to: \"postmaster\" is not a mail address",
        ),
    ] {
        let out = node.cli(&["config", "set", key, value]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("havre.toml:") && err.contains(why), "{err}");
    }
    node.cli_ok(&["config", "set", "report.time", "\"06:30\""]);
}

/// Local time `seconds` from now as HH:MM:SS (`date`, as the node's
/// clock reads it).
fn chrono_like_now_plus(seconds: u64) -> String {
    let out = Command::new("date")
        .arg(format!("--date=+{seconds} seconds"))
        .arg("+%H:%M:%S")
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
