//! The guard (Fail2ban's job): addresses that guess passwords, harvest
//! recipients, send garbage or connect too often are banned on every
//! protocol; `havre ban` lists, adds and lifts bans; bans outlast a restart
//! and end by themselves. Clients connect from 127.0.0.2-9 (their sockets
//! bound to that address), so the test's own 127.0.0.1 is never affected.

use std::time::{Duration, Instant};

use havre_testkit::{Havre, python_ok};

/// Python clients whose sockets are bound to `SRC` (`sys.argv[1]`):
/// `greeting(port)` is the first line a new connection reads;
/// `smtp_fail(n)`, `imap_fail(n)`, `pop3_fail(n)` fail n logins (after
/// STARTTLS/STLS, reconnecting when the server hangs up after three).
const CLIENTS: &str = r#"
import base64, imaplib, poplib, smtplib, socket, ssl, sys
SRC = sys.argv[1]
MX, SUB, IMAP_PORT, POP3_PORT = (int(p) for p in sys.argv[2:6])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def sock(port):
    return socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(SRC, 0))
class IMAP(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(SRC, 0))
class POP3(poplib.POP3):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(SRC, 0))
def greeting(port):
    s = sock(port)
    line = s.makefile("rb").readline().decode(errors="replace").strip()
    s.close()
    return line or "<closed>"
def smtp_fail(n):
    # One AUTH each (smtplib's login() would try PLAIN, then LOGIN).
    s = smtplib.SMTP("127.0.0.1", SUB, timeout=30, source_address=(SRC, 0))
    s.starttls(context=ctx); s.ehlo("guesser.test")
    for i in range(n):
        plain = base64.b64encode(("\0alice@example.test\0wrong%d" % i).encode()).decode()
        print("smtp:", s.docmd("AUTH", "PLAIN " + plain)[0])
    s.quit()
def imap_fail(n):
    while n > 0:
        m = IMAP("127.0.0.1", IMAP_PORT); m.starttls(ssl_context=ctx)
        for _ in range(min(3, n)):
            try:
                m.login("alice@example.test", "wrong")
            except imaplib.IMAP4.error as e:
                print("imap:", e)
            n -= 1
        try:
            m.logout()
        except Exception:
            pass
def pop3_fail(n):
    while n > 0:
        p = POP3("127.0.0.1", POP3_PORT); p.stls(context=ctx)
        for _ in range(min(3, n)):
            try:
                p.user("alice@example.test"); p.pass_("wrong")
            except poplib.error_proto as e:
                print("pop3:", e)
            n -= 1
        try:
            p.quit()
        except Exception:
            pass
"#;

fn node(configure: impl FnOnce(&mut Havre)) -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    // Loopback is exempt by default; these tests are the Internet.
    node.set("guard.exempt", "[]");
    configure(&mut node);
    node
}

/// Runs `script` (after [`CLIENTS`]) from `src`; returns what it printed.
fn from(node: &Havre, src: &str, script: &str) -> String {
    let ports = [
        node.smtp_port,
        node.submission_port,
        node.imap_port,
        node.pop3_port,
    ]
    .map(|p| p.to_string());
    python_ok(
        &format!("{CLIENTS}\n{script}"),
        &[src, &ports[0], &ports[1], &ports[2], &ports[3]],
    )
}

/// The greetings of every listener to `src`, one line per port:
/// `mx: ...`, `submission: ...`, `submissions: ...`, `imap: ...`,
/// `imaps: ...`, `pop3: ...`, `pop3s: ...` (refusals come in clear, even
/// on the TLS ports).
fn greetings(node: &Havre, src: &str) -> String {
    from(
        node,
        src,
        &format!(
            r#"
for name, port in [("mx", MX), ("submission", SUB), ("submissions", {}), ("imap", IMAP_PORT),
                   ("imaps", {}), ("pop3", POP3_PORT), ("pop3s", {})]:
    print(name + ":", greeting(port))
"#,
            node.submissions_port, node.imaps_port, node.pop3s_port
        ),
    )
}

fn mx_greeting(node: &Havre, src: &str) -> String {
    from(node, src, "print(greeting(MX))").trim().to_string()
}

/// Waits (up to 15 s: the running serve reads the state file every 2 s)
/// until the mx greeting to `src` starts with `prefix`.
fn wait_for_greeting(node: &Havre, src: &str, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let greeting = mx_greeting(node, src);
        if greeting.starts_with(prefix) || Instant::now() > deadline {
            return greeting;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_refused_everywhere(node: &Havre, src: &str) {
    let out = greetings(node, src);
    let banned = format!("[{src}] banned until ");
    for (name, refusal) in [
        ("mx", "554 5.7.1 Service unavailable; client"),
        ("submission", "554 5.7.1 Service unavailable; client"),
        ("submissions", "554 5.7.1 Service unavailable; client"),
        ("imap", "* BYE [UNAVAILABLE] Client"),
        ("imaps", "* BYE [UNAVAILABLE] Client"),
        ("pop3", "-ERR [SYS/PERM] Client"),
        ("pop3s", "-ERR [SYS/PERM] Client"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap_or_default();
        assert!(
            line.starts_with(&format!("{name}: {refusal} {banned}"))
                && (line.ends_with(" UTC") || line.ends_with(" UTC.")),
            "{name} refuses {src}: {out}"
        );
    }
}

#[test]
fn repeated_failed_logins_on_smtp_auth_and_imap_get_the_address_banned_on_every_protocol() {
    let mut node = node(|_| {});
    node.start();
    let out = from(&node, "127.0.0.5", "smtp_fail(4)\nimap_fail(5)");
    assert_eq!(out.matches("smtp: 535").count(), 4, "{out}");
    assert_eq!(out.matches("AUTHENTICATIONFAILED").count(), 5, "{out}");
    assert!(
        mx_greeting(&node, "127.0.0.5").starts_with("220 "),
        "9 failures are not enough"
    );
    from(&node, "127.0.0.5", "imap_fail(1)");

    assert_refused_everywhere(&node, "127.0.0.5");
    let log = node.log();
    assert!(
        log.lines().any(|l| l.contains("havre/guard[")
            && l.ends_with("banned 127.0.0.5 for 1h: 10 failed logins in 10m (smtp 4, imap 6)")),
        "{log}"
    );
    // Other clients are not affected.
    assert!(mx_greeting(&node, "127.0.0.1").starts_with("220 "));
    assert!(mx_greeting(&node, "127.0.0.4").starts_with("220 "));
    let list = node.cli_ok(&["ban", "list"]);
    assert!(
        list.lines().any(|l| l.starts_with("127.0.0.5 ")
            && l.ends_with("10 failed logins in 10m (smtp 4, imap 6)")),
        "{list}"
    );
}

#[test]
fn havre_ban_remove_lets_a_banned_address_back() {
    let mut node = node(|n| n.set("guard.max_failures", "4"));
    node.start();
    from(&node, "127.0.0.6", "pop3_fail(2)\nsmtp_fail(2)");
    assert!(mx_greeting(&node, "127.0.0.6").starts_with("554 5.7.1 "));
    node.wait_for_log(
        "banned 127.0.0.6 for 1h: 4 failed logins in 10m (smtp 2, pop3 2)",
        1,
    );

    assert_eq!(
        node.cli_ok(&["ban", "remove", "127.0.0.6"]),
        "unbanned 127.0.0.6\n"
    );
    let greeting = wait_for_greeting(&node, "127.0.0.6", "220 ");
    assert!(greeting.starts_with("220 "), "{greeting}");
    let log = node.wait_for_log("unbanned 127.0.0.6: its ban was removed", 1);
    assert!(
        log.contains("unbanned 127.0.0.6: its ban was removed"),
        "serve's line: {log}"
    );
    assert!(
        log.contains("havre/ban[")
            && log.contains("unbanned 127.0.0.6: removed by havre ban remove"),
        "the command's line: {log}"
    );
    // Its count starts again: one more failure does not ban it.
    from(&node, "127.0.0.6", "smtp_fail(1)");
    assert!(mx_greeting(&node, "127.0.0.6").starts_with("220 "));

    // And the running serve takes a ban added by hand too.
    node.cli_ok(&["ban", "add", "127.0.0.6"]);
    let greeting = wait_for_greeting(&node, "127.0.0.6", "554 ");
    assert!(greeting.starts_with("554 5.7.1 "), "{greeting}");
}

#[test]
fn bans_survive_a_restart() {
    let mut node = node(|n| n.set("guard.max_failures", "3"));
    node.start();
    from(&node, "127.0.0.7", "imap_fail(3)");
    assert!(mx_greeting(&node, "127.0.0.7").starts_with("554 5.7.1 "));
    node.stop();
    node.start();
    assert_refused_everywhere(&node, "127.0.0.7");
    assert!(mx_greeting(&node, "127.0.0.1").starts_with("220 "));
}

#[test]
fn a_ban_expires() {
    let mut node = node(|_| {});
    let out = node.cli_ok(&["ban", "add", "127.0.0.8", "--for", "4s"]);
    assert!(out.starts_with("banned 127.0.0.8 for 4s, until "), "{out}");
    node.start();
    assert!(mx_greeting(&node, "127.0.0.8").starts_with("554 5.7.1 "));
    let greeting = wait_for_greeting(&node, "127.0.0.8", "220 ");
    assert!(greeting.starts_with("220 "), "{greeting}");
    let log = node.wait_for_log("ban of 127.0.0.8 expired", 1);
    assert!(log.contains("ban of 127.0.0.8 expired"), "{log}");
    assert_eq!(node.cli_ok(&["ban", "list", "--json"]).trim(), "[]");
}

#[test]
fn an_exempt_network_is_never_banned() {
    let mut node = node(|n| {
        n.set("guard.exempt", "[\"127.0.0.9/32\"]");
        n.set("guard.max_failures", "3");
    });
    node.start();
    let out = from(&node, "127.0.0.9", "smtp_fail(6)");
    assert_eq!(out.matches("smtp: 535").count(), 6, "{out}");
    assert!(mx_greeting(&node, "127.0.0.9").starts_with("220 "));
    assert!(!node.log().contains("banned 127.0.0.9"));
    let refused = node.cli(&["ban", "add", "127.0.0.9"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("127.0.0.9 is exempt (guard.exempt"), "{err}");
    // The default exemption: loopback and relay.internal_networks.
    node.cli_ok(&["config", "unset", "guard.exempt"]);
    let refused = node.cli(&["ban", "add", "127.0.0.2"]);
    assert!(!refused.status.success(), "loopback is exempt by default");
}

#[test]
fn a_dictionary_attack_and_bad_commands_get_an_address_banned() {
    let mut node = node(|n| {
        n.set("guard.max_unknown_recipients", "3");
        n.set("guard.max_protocol_errors", "3");
    });
    node.start();
    let out = from(
        &node,
        "127.0.0.4",
        r#"
s = smtplib.SMTP("127.0.0.1", MX, timeout=30, source_address=(SRC, 0))
s.ehlo("harvester.test")
s.mail("x@elsewhere.test")
for name in ["adam", "bill", "carl"]:
    print("rcpt:", s.rcpt(name + "@example.test")[0])
"#,
    );
    assert_eq!(out.matches("rcpt: 550").count(), 3, "{out}");
    let greeting = wait_for_greeting(&node, "127.0.0.4", "554 ");
    assert!(greeting.starts_with("554 5.7.1 "), "{greeting}");
    node.wait_for_log("banned 127.0.0.4 for 1h: 3 unknown recipients in 10m", 1);

    from(
        &node,
        "127.0.0.3",
        r#"
s = sock(IMAP_PORT); f = s.makefile("rb"); f.readline()
for line in [b"a1 FROB\r\n", b"a2 LOGIN\r\n", b"garbage\r\n"]:
    s.sendall(line); print(f.readline())
"#,
    );
    let greeting = wait_for_greeting(&node, "127.0.0.3", "554 ");
    assert!(greeting.starts_with("554 5.7.1 "), "{greeting}");
    node.wait_for_log("banned 127.0.0.3 for 1h: 3 bad commands in 10m (imap 3)", 1);
}

#[test]
fn too_many_connections_in_an_hour_log_a_warning_then_ban() {
    let mut node = node(|n| {
        n.set("guard.connections_warn", "3");
        n.set("guard.connections_ban", "6");
    });
    node.start();
    for _ in 0..6 {
        assert!(mx_greeting(&node, "127.0.0.2").starts_with("220 "));
    }
    let greeting = wait_for_greeting(&node, "127.0.0.2", "554 ");
    assert!(greeting.starts_with("554 5.7.1 "), "{greeting}");
    let log = node.wait_for_log("banned 127.0.0.2 for 1h: 6 connections in 1h", 1);
    assert!(
        log.contains("warning: 3 connections from 127.0.0.2 within 1h (guard.connections_warn 3)"),
        "{log}"
    );
}

#[test]
fn a_backend_never_bans_its_director_however_many_sessions_it_relays() {
    // A mailbox backend: directors log in here on users' behalf from
    // 127.0.0.2, each login a connection of its own; 127.0.0.3 is anyone.
    let mut node = node(|n| {
        n.be_backend_of("[\"127.0.0.2/32\"]");
        n.set("guard.connections_warn", "0");
        n.set("guard.connections_ban", "4");
    });
    node.start();
    for _ in 0..8 {
        assert!(mx_greeting(&node, "127.0.0.2").starts_with("220 "));
    }
    for _ in 0..4 {
        assert!(mx_greeting(&node, "127.0.0.3").starts_with("220 "));
    }
    let greeting = wait_for_greeting(&node, "127.0.0.3", "554 ");
    assert!(greeting.starts_with("554 5.7.1 "), "{greeting}");
    let director = mx_greeting(&node, "127.0.0.2");
    assert!(
        director.starts_with("220 "),
        "the director was banned: {director}"
    );
    let banned = "banned 127.0.0.3 for 1h: 4 connections in 1h";
    let log = node.wait_for_log(banned, 1);
    assert!(log.contains(banned), "{log}");
    assert!(!log.contains("banned 127.0.0.2"), "{log}");
}

#[test]
fn havre_ban_add_list_and_remove() {
    let node = node(|_| {});
    let out = node.cli_ok(&["ban", "add", "192.0.2.1", "--for", "2h"]);
    assert!(out.starts_with("banned 192.0.2.1 for 2h, until "), "{out}");
    node.cli_ok(&["ban", "add", "2001:db8::1"]);
    let list = node.cli_ok(&["ban", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("address "), "{list}");
    assert!(lines[1].starts_with("192.0.2.1 "), "{list}");
    assert!(lines[1].ends_with("UTC  added by havre ban add"), "{list}");
    assert!(lines[2].starts_with("2001:db8::1 "), "{list}");

    let json: serde_json::Value =
        serde_json::from_str(&node.cli_ok(&["ban", "list", "--json"])).unwrap();
    let bans = json.as_array().unwrap();
    assert_eq!(bans.len(), 2);
    assert_eq!(bans[0]["address"], "192.0.2.1");
    assert_eq!(bans[0]["reason"], "added by havre ban add");
    let (since, until) = (
        bans[0]["since"].as_str().unwrap(),
        bans[0]["until"].as_str().unwrap(),
    );
    assert!(
        since.ends_with('Z') && until.ends_with('Z') && until > since,
        "{json}"
    );

    assert_eq!(
        node.cli_ok(&["ban", "remove", "192.0.2.1"]),
        "unbanned 192.0.2.1\n"
    );
    let again = node.cli(&["ban", "remove", "192.0.2.1"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("192.0.2.1 is not banned"));
    for (args, says) in [
        (
            &["ban", "add", "mail.example.org"][..],
            "is not an IP address",
        ),
        (
            &["ban", "add", "192.0.2.2", "--for", "soon"][..],
            "--for: expected a duration",
        ),
        (
            &["ban", "add", "192.0.2.2", "--for", "0s"][..],
            "must last longer than 0s",
        ),
    ] {
        let out = node.cli(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let list = node.cli_ok(&["ban", "list"]);
    assert_eq!(list.lines().count(), 2, "{list}");
}
