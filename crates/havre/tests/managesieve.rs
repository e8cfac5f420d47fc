//! ManageSieve (RFC 5804) on a running node, driven by real clients: a
//! small one in Python's standard library (every byte visible), Debian's
//! `sieve-connect` and Python's sievelib (the test command installs both). Scripts go in
//! over STARTTLS, are checked by the Sieve compiler, listed, fetched and
//! activated; wrong passwords are counted by the guard as IMAP's are.

use std::io::Write;
use std::process::{Command, Stdio};

use havre_testkit::{Havre, python_ok};

/// `Sieve(port, src)`: a ManageSieve client from `src`. `response()` reads
/// up to and with the next OK/NO/BYE (literals inlined); `command(text)`
/// sends and reads; `starttls()` returns the capabilities sent again;
/// `plain(user, password)`; `put(name, script)` uploads with a literal.
const CLIENT: &str = r#"
import base64, re, socket, ssl, sys
PORT = int(sys.argv[1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
class Sieve:
    def __init__(self, port=PORT, src="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0))
        self.f = self.sock.makefile("rb")
    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())
    def line(self):
        out = b""
        while True:
            l = self.f.readline()
            if not l:
                return (out + b"<closed>").decode()
            out += l
            m = re.search(rb"\{(\d+)\+?\}\r\n$", l)
            if not m:
                return out.decode()
            out += self.f.read(int(m.group(1)))
    def response(self):
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if re.match(r"(OK|NO|BYE)\b", l) or l.endswith("<closed>"):
                return "".join(lines)
    def command(self, text):
        self.send(text)
        return self.response()
    def starttls(self):
        r = self.command("STARTTLS\r\n")
        assert r.startswith("OK"), r
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.f = self.sock.makefile("rb")
        return self.response()
    def plain(self, user, password):
        b = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
        return self.command('AUTHENTICATE "PLAIN" "%s"\r\n' % b)
    def put(self, name, script):
        data = script.encode()
        return self.command(b'PUTSCRIPT "%s" {%d+}\r\n' % (name.encode(), len(data)) + data + b"\r\n")
"#;

const VACATION: &str = "require [\"vacation\"];\r\n\
    vacation :days 7 :subject \"Out of office\" \"I am away until Monday.\";\r\n";

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

fn client(node: &Havre, script: &str) -> String {
    python_ok(
        &format!("{CLIENT}\n{script}"),
        &[&node.managesieve_port.to_string()],
    )
}

#[test]
fn a_user_uploads_a_vacation_script_over_starttls_and_activates_it() {
    let node = node();
    let out = client(
        &node,
        &format!(
            r#"
s = Sieve()
print("GREETING", s.response())
print("AUTH-CLEAR", s.plain("alice@example.test", "secret"))
print("TLS", s.starttls())
print("AUTH", s.plain("alice@example.test", "secret"))
print("HAVESPACE", s.command('HAVESPACE "vacation" 200\r\n'))
print("PUT", s.put("vacation", {VACATION:?}))
print("ACTIVATE", s.command('SETACTIVE "vacation"\r\n'))
print("LIST", s.command("LISTSCRIPTS\r\n"))
print("GET", s.command('GETSCRIPT "vacation"\r\n'))
print("DELETE", s.command('DELETESCRIPT "vacation"\r\n'))
print("NOOP", s.command('NOOP "sync"\r\n'))
print("LOGOUT", s.command("LOGOUT\r\n"))
"#
        ),
    );
    let section = |name: &str| {
        let start = out
            .find(&format!("{name} "))
            .unwrap_or_else(|| panic!("{name} in {out}"));
        out[start + name.len() + 1..].to_string()
    };
    // Before TLS: STARTTLS offered, no mechanism, and no login.
    let greeting = section("GREETING");
    assert!(
        greeting.starts_with("\"IMPLEMENTATION\" \"havre\"\r\n"),
        "{out}"
    );
    assert!(greeting.contains("\"SASL\" \"\"\r\n"), "{out}");
    assert!(greeting.contains("\"STARTTLS\"\r\n"), "{out}");
    assert!(greeting.contains("\"VERSION\" \"1.0\"\r\n"), "{out}");
    assert!(
        section("AUTH-CLEAR").starts_with("NO (ENCRYPT-NEEDED) "),
        "{out}"
    );
    // After STARTTLS the capabilities again (RFC 5804 2.2).
    let tls = section("TLS");
    assert!(tls.contains("\"SASL\" \"PLAIN LOGIN\"\r\n"), "{out}");
    assert!(!tls.contains("\"STARTTLS\""), "{out}");
    let sieve = tls
        .lines()
        .find(|l| l.starts_with("\"SIEVE\""))
        .unwrap_or_default();
    for extension in ["fileinto", "vacation", "imap4flags", "variables", "body"] {
        assert!(
            sieve.split(['"', ' ']).any(|e| e == extension),
            "{extension}: {sieve}"
        );
    }
    assert!(tls.contains("\"MAXREDIRECTS\" \"4\"\r\n"), "{out}");
    assert!(section("AUTH").starts_with("OK"), "{out}");
    assert!(section("HAVESPACE").starts_with("OK"), "{out}");
    assert!(section("PUT").starts_with("OK"), "{out}");
    assert!(section("ACTIVATE").starts_with("OK"), "{out}");
    assert!(
        section("LIST").starts_with("\"vacation\" ACTIVE\r\nOK"),
        "{out}"
    );
    assert!(
        section("GET").starts_with(&format!("{{{}}}\r\n{VACATION}\r\nOK", VACATION.len())),
        "{out}"
    );
    assert!(section("DELETE").starts_with("NO (ACTIVE) "), "{out}");
    assert!(section("NOOP").starts_with("OK (TAG \"sync\") "), "{out}");
    assert!(section("LOGOUT").starts_with("OK"), "{out}");
    let log = node.wait_for_log("Login: user=<alice@example.test>", 1);
    assert!(
        log.lines().any(|l| l.contains(" havre/managesieve-login[")
            && l.ends_with(
                "]: Login: user=<alice@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS"
            )),
        "{log}"
    );
    assert!(log.contains("stored script \"vacation\""), "{log}");
}

#[test]
fn a_script_with_a_syntax_error_is_refused_with_its_line() {
    let node = node();
    let out = client(
        &node,
        r#"
s = Sieve()
s.response()
s.starttls()
assert s.plain("alice@example.test", "secret").startswith("OK")
bad = 'require "fileinto";\r\nif header :contains "subject" "x" {\r\n  fileinto "a"\r\n  stop;\r\n}\r\n'
print("PUT", s.put("broken", bad))
print("CHECK", s.command(b'CHECKSCRIPT {%d+}\r\n' % len(bad) + bad.encode() + b"\r\n"))
print("UNKNOWN", s.put("unknown", 'require "enotify";\r\nkeep;\r\n'))
print("LIST", s.command("LISTSCRIPTS\r\n"))
"#,
    );
    let put = out
        .lines()
        .find(|l| l.starts_with("PUT "))
        .unwrap_or_default();
    assert!(put.starts_with("PUT NO \"line 4, column 3: "), "{out}");
    let check = out
        .lines()
        .find(|l| l.starts_with("CHECK "))
        .unwrap_or_default();
    assert_eq!(&check["CHECK ".len()..], &put["PUT ".len()..], "{out}");
    let unknown = out
        .lines()
        .find(|l| l.starts_with("UNKNOWN "))
        .unwrap_or_default();
    assert!(unknown.starts_with("UNKNOWN NO \"line 1, column "), "{out}");
    assert!(unknown.contains("enotify"), "{out}");
    assert!(out.contains("LIST OK"), "nothing stored: {out}");
}

#[test]
fn a_login_with_a_wrong_password_is_refused_and_counted_by_the_guard() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    // Loopback is exempt by default; this client is the Internet.
    node.set("guard.exempt", "[]");
    node.set("guard.max_failures", "4");
    node.start();
    let out = client(
        &node,
        r#"
SRC = "127.0.0.7"
n = 0
while n < 4:
    s = Sieve(src=SRC)
    s.response()
    s.starttls()
    for _ in range(min(3, 4 - n)):
        print("FAIL", s.plain("alice@example.test", "wrong%d" % n).strip())
        n += 1
    if n == 3:
        print("THEN", s.response().strip())
print("BANNED", Sieve(src=SRC).response().strip())
print("OTHER", Sieve(src="127.0.0.8").response().splitlines()[0])
"#,
    );
    assert_eq!(
        out.lines()
            .filter(|l| *l == "FAIL NO \"Authentication failed.\"")
            .count(),
        4,
        "{out}"
    );
    assert!(
        out.contains("THEN BYE \"Too many authentication failures.\""),
        "{out}"
    );
    let banned = out
        .lines()
        .find(|l| l.starts_with("BANNED "))
        .unwrap_or_default();
    assert!(
        banned.starts_with("BANNED BYE \"Client [127.0.0.7] banned until "),
        "{out}"
    );
    assert!(out.contains("OTHER \"IMPLEMENTATION\" \"havre\""), "{out}");
    let log = node.wait_for_log("banned 127.0.0.7", 1);
    assert!(
        log.contains("banned 127.0.0.7 for 1h: 4 failed logins in 10m (managesieve 4)"),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l.contains(" havre/managesieve-login[")
            && l.contains(
                "]: Disconnected: Too many authentication failures (auth failed, 3 attempts in "
            )),
        "{log}"
    );
}

/// Runs sieve-connect against the node with alice's password on fd 0.
fn sieve_connect(node: &Havre, args: &[&str]) -> String {
    let mut child = Command::new("sieve-connect")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &node.managesieve_port.to_string(),
            "--user",
            "alice@example.test",
            "--passwordfd",
            "0",
            "--notlsverify",
            "--authmech",
            "PLAIN",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sieve-connect (Debian package sieve-connect; the test command installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"secret\n")
        .expect("password");
    let out = child.wait_with_output().expect("sieve-connect output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "sieve-connect {args:?} failed:\n{text}"
    );
    text
}

#[test]
fn sieve_connect_uploads_activates_lists_and_downloads_a_script() {
    let node = node();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("vacation.sieve");
    std::fs::write(&local, VACATION).unwrap();
    let local = local.to_str().unwrap();
    sieve_connect(
        &node,
        &[
            "--upload",
            "--localsieve",
            local,
            "--remotesieve",
            "vacation",
        ],
    );
    sieve_connect(&node, &["--activate", "--remotesieve", "vacation"]);
    let list = sieve_connect(&node, &["--list"]);
    assert!(
        list.lines().any(|l| l.trim() == "\"vacation\" ACTIVE"),
        "{list}"
    );
    let back = dir.path().join("back.sieve");
    sieve_connect(
        &node,
        &[
            "--download",
            "--remotesieve",
            "vacation",
            "--localsieve",
            back.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&back).unwrap(), VACATION);
}

/// Python's sievelib (Debian's python3-sievelib, for the system's python3:
/// the test command installs it), as webmails' Python back ends use it.
const SIEVELIB: &str = r#"
import sys
from sievelib.managesieve import Client
script = sys.argv[2].replace("\\r\\n", "\r\n")
c = Client("127.0.0.1", int(sys.argv[1]))
assert c.connect("alice@example.test", "secret", starttls=True, authmech="PLAIN"), c.errmsg
caps = c.get_sieve_capabilities()
print("vacation" in caps, "fileinto" in caps)
print("havespace", c.havespace("vacation", len(script)))
print("put", c.putscript("vacation", script))
print("active", c.setactive("vacation"))
print("list", c.listscripts())
# sievelib gives the lines back joined by LF, without the last one.
print("get", c.getscript("vacation") == script.replace("\r\n", "\n").rstrip("\n"))
print("delete", c.deletescript("vacation"), c.errcode)
print("check", c.checkscript("keep"))
c.logout()
"#;

#[test]
fn sievelib_uploads_activates_lists_and_fetches_a_script() {
    let node = node();
    let mut child = Command::new("/usr/bin/python3")
        .args([
            "-",
            &node.managesieve_port.to_string(),
            &VACATION.replace("\r\n", "\\r\\n"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the system's python3 (with python3-sievelib; the test command installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(SIEVELIB.as_bytes())
        .expect("script");
    let out = child.wait_with_output().expect("python3 output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "sievelib failed:\n{text}");
    assert_eq!(
        text,
        "True True\n\
         havespace True\n\
         put True\n\
         active True\n\
         list ('vacation', [])\n\
         get True\n\
         delete False b'ACTIVE'\n\
         check False\n",
        "{text}"
    );
}

#[test]
fn who_lists_a_managesieve_session_and_kick_closes_it() {
    let node = node();
    let script = format!(
        "{CLIENT}\ns = Sieve(); s.response(); s.starttls()\n\
         assert s.plain('alice@example.test', 'secret').startswith('OK')\n\
         print('logged in', flush=True)\n\
         print(s.response().strip(), flush=True)\n\
         print(s.line(), flush=True)\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script, &node.managesieve_port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut lines, &mut line).expect("client output");
    assert_eq!(line, "logged in\n");
    let who = node.cli_ok(&["who", "--json"]);
    assert!(who.contains("\"protocol\": \"managesieve\""), "{who}");
    assert_eq!(
        node.cli_ok(&["kick", "alice@example.test"]),
        "alice@example.test: 1 session(s) closed\n"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).expect("client output");
    let _ = child.wait();
    assert_eq!(
        rest,
        "BYE \"Disconnected by the administrator.\"\n<closed>\n",
        "{}",
        node.log()
    );
}

#[test]
fn a_script_uploaded_over_managesieve_files_the_next_list_message_into_a_folder_flagged() {
    let node = node();
    let script = "require [\"fileinto\", \"mailbox\", \"imap4flags\"];\r\n\
        if exists \"list-id\" { addflag \"$List\"; fileinto :create \"Lists\"; stop; }\r\n";
    let out = client(
        &node,
        &format!(
            r#"
s = Sieve()
s.response()
s.starttls()
print("AUTH", s.plain("alice@example.test", "secret"))
print("PUT", s.put("lists", {script:?}))
print("ACTIVATE", s.command('SETACTIVE "lists"\r\n'))
s.command("LOGOUT\r\n")
"#
        ),
    );
    assert!(
        out.contains("PUT OK") && out.contains("ACTIVATE OK"),
        "{out}"
    );
    // A message from a list, then one from a person, over LMTP.
    let sent = python_ok(
        r#"
import smtplib, sys
lmtp = smtplib.LMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
lmtp.sendmail("owner-team@lists.test", ["alice@example.test"],
    b"From: bob@lists.test\r\nList-Id: <team.lists.test>\r\nSubject: weekly\r\n\r\nagenda\r\n")
lmtp.sendmail("carol@remote.test", ["alice@example.test"],
    b"From: carol@remote.test\r\nSubject: lunch\r\n\r\nnoon?\r\n")
lmtp.quit()
print("SENT")
"#,
        &[&node.lmtp_port.to_string()],
    );
    assert!(sent.contains("SENT"), "{sent}");
    let lists = node.maildir("alice@example.test").join(".Lists");
    let filed: Vec<_> = ["new", "cur"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(lists.join(sub)).into_iter().flatten())
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(filed.len(), 1, "{filed:?}\n{}", node.log());
    assert!(
        std::fs::read_to_string(&filed[0])
            .unwrap()
            .contains("Subject: weekly")
    );
    // Flagged, as IMAP shows it.
    let flags = python_ok(
        r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.starttls(ssl_context=ctx)
m.login("alice@example.test", "secret")
m.select("Lists")
print(m.fetch("1", "(FLAGS)")[1][0].decode())
m.logout()
"#,
        &[&node.imap_port.to_string()],
    );
    assert!(flags.contains("$List"), "{flags}");
    // The other one stays in INBOX.
    let inbox = node.messages("alice@example.test");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(inbox[0].contains("Subject: lunch"));
}

#[test]
fn only_a_director_may_name_the_client_it_logs_in_for() {
    // A backend whose director is 127.0.0.2; 127.0.0.3 is any client.
    let node = Havre::started_backend_of(env!("CARGO_BIN_EXE_havre"), "[\"127.0.0.2/32\"]");
    let script = format!(
        "{CLIENT}\n{}",
        r#"
s = Sieve(src=sys.argv[2])
s.response()
s.starttls()
print("xclient:", s.command("XCLIENT ADDR=192.0.2.7 PORT=4242\r\n").strip())
print("login:", s.plain("alice@example.test", "secret").strip())
s.command("LOGOUT\r\n")
"#
    );
    let port = node.managesieve_port.to_string();
    let out = python_ok(&script, &[&port, "127.0.0.3"]);
    assert!(
        out.contains("xclient: NO \"You are not from trusted IP.\""),
        "{out}"
    );
    assert!(out.contains("login: OK"), "{out}");
    let anyone = "Login: user=<alice@example.test>, method=PLAIN, rip=127.0.0.3,";
    let log = node.wait_for_log(anyone, 1);
    assert!(log.contains(anyone), "{log}");
    let out = python_ok(&script, &[&port, "127.0.0.2"]);
    assert!(out.contains("xclient: OK"), "{out}");
    assert!(out.contains("login: OK"), "{out}");
    let director = "Login: user=<alice@example.test>, method=PLAIN, rip=192.0.2.7,";
    let log = node.wait_for_log(director, 1);
    assert!(log.contains(director), "{log}");
}
