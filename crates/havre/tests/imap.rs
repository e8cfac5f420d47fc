//! IMAP with real clients: Python's imaplib and curl, against the real binary.

use std::time::Duration;

use havre_testkit::{FROM_ADDRESS_PRELUDE, Havre, python_ok, swaks};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

fn deliver(node: &Havre, subject: &str) {
    let out = swaks(&[
        "--server",
        &node.smtp_addr(),
        "--from",
        "bob@remote.test",
        "--to",
        "alice@example.test",
        "--header",
        &format!("Subject: {subject}"),
        "--body",
        &format!("Body of {subject}."),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// imaplib logged in over STARTTLS as alice, in `m`.
const LOGIN: &str = r#"
import imaplib, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def connect():
    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
    m.starttls(ssl_context=ctx)
    m.login("alice@example.test", "secret")
    return m
"#;

fn imap(node: &Havre, script: &str) -> String {
    python_ok(
        &format!("{LOGIN}\n{script}"),
        &[&node.imap_port.to_string()],
    )
}

#[test]
fn login_is_refused_before_tls_and_logindisabled_is_advertised() {
    let node = node();
    let out = python_ok(
        r#"
import imaplib, ssl, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
print("caps:", " ".join(m.capabilities))
try:
    m.login("alice@example.test", "secret")
except imaplib.IMAP4.error as e:
    print("refused:", e)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m.starttls(ssl_context=ctx)
print("after tls:", " ".join(m.capabilities))
try:
    m.login("alice@example.test", "wrong")
except imaplib.IMAP4.error as e:
    print("wrong:", e)
print(m.login("alice@example.test", "secret")[0])
"#,
        &[&node.imap_port.to_string()],
    );
    assert!(out.contains("LOGINDISABLED"), "{out}");
    assert!(out.contains("STARTTLS"), "{out}");
    assert!(out.contains("refused: b'[PRIVACYREQUIRED]"), "{out}");
    assert!(
        out.contains("after tls:") && out.contains("AUTH=PLAIN"),
        "{out}"
    );
    assert!(out.contains("wrong: b'[AUTHENTICATIONFAILED]"), "{out}");
    assert!(out.trim_end().ends_with("OK"), "{out}");
}

#[test]
fn implicit_tls_on_the_imaps_port_with_authenticate_plain() {
    let node = node();
    let out = python_ok(
        r#"
import imaplib, ssl, sys, base64
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
print(m.authenticate("PLAIN", lambda _: b"\0alice@example.test\0secret")[0])
print(m.select("INBOX")[0])
"#,
        &[&node.imaps_port.to_string()],
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), vec!["OK", "OK"], "{out}");
}

#[test]
fn a_new_user_sees_inbox_and_the_special_use_folders() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
for line in m.list()[1]: print(line.decode())
typ, data = m._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE STATUS (MESSAGES UIDNEXT))")
for line in m.untagged_responses.get("STATUS", []): print("status:", line.decode())
print(m.namespace()[1][0].decode())
"#,
    );
    for expected in [
        r#"(\HasNoChildren) "/" INBOX"#,
        r#"(\HasNoChildren \Drafts) "/" Drafts"#,
        r#"(\HasNoChildren \Sent) "/" Sent"#,
        r#"(\HasNoChildren \Trash) "/" Trash"#,
        r#"(\HasNoChildren \Junk) "/" Junk"#,
        r#"(\HasNoChildren \Archive) "/" Archive"#,
        "status: INBOX (MESSAGES 0 UIDNEXT 1)",
        r#"(("" "/")) NIL NIL"#,
    ] {
        assert!(out.contains(expected), "missing {expected}:\n{out}");
    }
}

#[test]
fn fetch_store_search_copy_move_expunge_with_uids() {
    let node = node();
    deliver(&node, "first");
    deliver(&node, "second");
    deliver(&node, "third");
    node.wait_for_messages("alice@example.test", 3);
    let out = imap(
        &node,
        r#"
m = connect()
typ, data = m.select("INBOX")
print("exists:", data[0].decode())
print("uidvalidity:", m.untagged_responses["OK"])
typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
for part in data:
    if isinstance(part, tuple): print("fetch:", part[0].decode(), part[1].decode().strip())
typ, data = m.fetch("2", "(BODY[TEXT])")
print("text:", data[0][1].decode().strip())
print("seen:", m.fetch("2", "(FLAGS)")[1][0].decode())
print("search subject:", m.uid("SEARCH", "SUBJECT", "third")[1][0].decode())
print("search unseen:", m.search(None, "UNSEEN")[1][0].decode())
print("store:", m.uid("STORE", "1", "+FLAGS", "(\\Flagged $Important)")[1][0].decode())
print("search flagged:", m.search(None, "FLAGGED KEYWORD $Important")[1][0].decode())
typ, data = m.uid("COPY", "1", "Archive")
print("copy:", typ, m.untagged_responses.pop("COPYUID", None))
typ, data = m.uid("MOVE", "3", "Trash")
print("move:", typ, m.untagged_responses.pop("COPYUID", None))
print("after move:", m.uid("SEARCH", "ALL")[1][0].decode())
m.store("1", "+FLAGS", "(\\Deleted)")
typ, data = m.expunge()
print("expunge:", data)
print("left:", m.uid("SEARCH", "ALL")[1][0].decode())
print("archive:", m.status("Archive", "(MESSAGES UIDNEXT)")[1][0].decode())
m.select("Archive")
print("archive flags:", m.fetch("1", "(FLAGS)")[1][0].decode())
print("esearch:", m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL"), m.untagged_responses.get("ESEARCH"))
"#,
    );
    assert!(out.contains("exists: 3"), "{out}");
    assert!(
        // imaplib is an IMAP4rev1 client: new messages are \Recent for the
        // session that saw them first.
        out.contains(r"fetch: 1 (UID 1 FLAGS (\Recent) RFC822.SIZE"),
        "{out}"
    );
    assert!(out.contains("Subject: first"), "{out}");
    assert!(out.contains("text: Body of second."), "{out}");
    assert!(out.contains(r"seen: 2 (FLAGS (\Seen \Recent))"), "{out}");
    assert!(out.contains("search subject: 3"), "{out}");
    assert!(out.contains("search unseen: 1 3"), "{out}");
    assert!(
        out.contains(r"store: 1 (UID 1 FLAGS (\Flagged \Recent $Important))"),
        "{out}"
    );
    assert!(out.contains("search flagged: 1"), "{out}");
    assert!(out.contains("copy: OK [b'"), "{out}");
    assert!(out.contains("move: OK"), "{out}");
    assert!(out.contains("after move: 1 2"), "{out}");
    // The MOVE's expunge (of message 3) was reported too; imaplib collects both.
    assert!(out.contains("expunge: [b'3', b'1']"), "{out}");
    assert!(out.contains("left: 2"), "{out}");
    assert!(
        out.contains("archive: Archive (MESSAGES 1 UIDNEXT 2)"),
        "{out}"
    );
    assert!(
        out.contains(r"archive flags: 1 (FLAGS (\Flagged \Recent $Important))"),
        "{out}"
    );
    assert!(out.contains("MIN 1 MAX 1 COUNT 1"), "{out}");
    // The Maildir file of the expunged message is gone too.
    assert_eq!(node.messages("alice@example.test").len(), 1);
}

#[test]
fn append_gives_appenduid_and_keeps_flags_and_date() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
msg = b"From: alice@example.test\r\nSubject: draft\r\n\r\nnot sent yet\r\n"
typ, data = m.append("Drafts", "(\\Draft \\Seen)", '"05-Feb-2024 10:00:00 +0000"', msg)
print("append:", typ, data[0].decode())
m.select("Drafts")
print(m.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE)")[1][0].decode())
print(m.fetch("1", "(BODY.PEEK[])")[1][0][1] == msg)
print("nowhere:", m.append("Nowhere", None, None, msg))
"#,
    );
    assert!(out.contains("append: OK [APPENDUID"), "{out}");
    assert!(
        out.contains(
            r#"FLAGS (\Draft \Seen \Recent) INTERNALDATE "05-Feb-2024 10:00:00 +0000" RFC822.SIZE 58"#
        ),
        "{out}"
    );
    assert!(out.contains("True"), "{out}");
    assert!(out.contains(r#"nowhere: ('NO', [b"[TRYCREATE]"#), "{out}");
}

#[test]
fn idle_pushes_a_delivery_and_another_sessions_flag_change_within_a_second() {
    let node = node();
    deliver(&node, "already there");
    node.wait_for_messages("alice@example.test", 1);
    let port = node.imap_port.to_string();
    let smtp = node.smtp_addr();
    let script = format!(
        r#"{LOGIN}
import subprocess, threading
m = connect()
m.select("INBOX")
other = connect()
other.select("INBOX")
tag = m._new_tag().decode()
m.send(f"{{tag}} IDLE\r\n".encode())
print("continuation:", m.readline().decode().strip())
def later():
    time.sleep(0.3)
    subprocess.run(["swaks", "--server", "{smtp}", "--from", "b@remote.test", "--to", "alice@example.test", "--header", "Subject: pushed"], capture_output=True)
    time.sleep(0.5)
    other.store("1", "+FLAGS", "(\\Flagged)")
threading.Thread(target=later).start()
start = time.time()
seen = []
while len(seen) < 2 and time.time() - start < 10:
    line = m.readline().decode().strip()
    if "EXISTS" in line or "FETCH" in line:
        seen.append((line, round(time.time() - start, 2)))
for line, at in seen: print("pushed:", line, "after", at)
m.send(b"DONE\r\n")
print("done:", m.readline().decode().strip())
"#
    );
    let out = python_ok(&script, &[&port]);
    assert!(out.contains("continuation: + idling"), "{out}");
    assert!(out.contains("pushed: * 2 EXISTS"), "{out}");
    assert!(
        out.contains(r"pushed: * 1 FETCH (UID 1 FLAGS (\Flagged \Recent))"),
        "{out}"
    );
    for line in out.lines().filter(|l| l.starts_with("pushed:")) {
        let at: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(at < 3.0, "pushed late: {line}");
    }
    assert!(out.contains("OK Idle completed."), "{out}");
}

#[test]
fn two_sessions_stay_in_sync_through_noop() {
    let node = node();
    deliver(&node, "one");
    node.wait_for_messages("alice@example.test", 1);
    let out = imap(
        &node,
        r#"
a = connect(); a.select("INBOX")
b = connect(); b.select("INBOX")
a.store("1", "+FLAGS", "(\\Seen \\Deleted)")
a.expunge()
typ, data = b.noop()
print("b sees:", b.untagged_responses)
"#,
    );
    assert!(out.contains("'EXPUNGE': [b'1']"), "{out}");
}

#[test]
fn condstore_and_qresync_report_changes_since_a_modseq() {
    let node = node();
    deliver(&node, "one");
    deliver(&node, "two");
    node.wait_for_messages("alice@example.test", 2);
    let out = imap(
        &node,
        r#"
m = connect()
print(m._simple_command("ENABLE", "QRESYNC"), m.untagged_responses.get("ENABLED"))
typ, data = m.select("INBOX")
hms = [r for r in m.untagged_responses["OK"] if r.startswith(b"[HIGHESTMODSEQ")][0]
modseq = int(hms.split()[1].rstrip(b"]"))
uidvalidity = int([r for r in m.untagged_responses["OK"] if r.startswith(b"[UIDVALIDITY")][0].split()[1].rstrip(b"]"))
m.store("1", "+FLAGS", "(\\Seen)")
m.store("2", "+FLAGS", "(\\Deleted)")
m.expunge()
typ, data = m.uid("FETCH", "1:*", f"(FLAGS) (CHANGEDSINCE {modseq})")
print("changed:", data)
m.close()
typ, data = m._simple_command("SELECT", "INBOX", f"(QRESYNC ({uidvalidity} {modseq}))")
print("vanished:", m.untagged_responses.get("VANISHED"))
print("fetch:", m.untagged_responses.get("FETCH"))
"#,
    );
    assert!(out.contains("[b'QRESYNC']"), "{out}");
    assert!(out.contains(r"UID 1 FLAGS (\\Seen) MODSEQ"), "{out}");
    assert!(out.contains("b'(EARLIER) 2'"), "{out}");
}

#[test]
fn sort_thread_and_getquota_answer() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    let out = node.cli_with_stdin(
        &[
            "user",
            "add",
            "alice@example.test",
            "--password-stdin",
            "--quota",
            "1M",
        ],
        "secret\n",
    );
    assert!(out.status.success());
    node.start();
    deliver(&node, "banana");
    deliver(&node, "Re: apple");
    deliver(&node, "apple");
    node.wait_for_messages("alice@example.test", 3);
    let out = imap(
        &node,
        r#"
m = connect()
m.select("INBOX")
print("sort:", m.sort("(SUBJECT)", "UTF-8", "ALL")[1][0].decode())
print("rsort:", m.sort("(REVERSE SIZE)", "UTF-8", "ALL")[1][0].decode())
print("thread:", m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1][0].decode())
print("quota:", m.getquotaroot("INBOX")[1])
"#,
    );
    assert!(
        out.contains("sort: 2 3 1") || out.contains("sort: 3 2 1"),
        "{out}"
    );
    assert!(out.contains("rsort: 2 1 3"), "{out}");
    assert!(
        out.contains("thread: (1)(2 3)") || out.contains("thread: (1)(3 2)"),
        "{out}"
    );
    // Three short messages, each with its trace and the mx's
    // Received-SPF: and Authentication-Results: headers: 3 KiB in all.
    assert!(out.contains("(STORAGE 3 1024)"), "{out}");
}

#[test]
fn curl_lists_and_fetches_over_imap() {
    let node = node();
    deliver(&node, "for curl");
    node.wait_for_messages("alice@example.test", 1);
    std::thread::sleep(Duration::from_millis(200));
    let url = format!("imap://127.0.0.1:{}/INBOX;UID=1", node.imap_port);
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--ssl-reqd",
            "-k",
            "-u",
            "alice@example.test:secret",
            &url,
        ])
        .output()
        .expect("curl (the test command installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Subject: for curl"), "{text}");
    let list = std::process::Command::new("curl")
        .args(["-s", "--ssl-reqd", "-k", "-u", "alice@example.test:secret"])
        .arg(format!("imap://127.0.0.1:{}/", node.imap_port))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("\"/\" Sent"), "{text}");
}

#[test]
fn malformed_commands_get_bad_and_the_session_goes_on() {
    let node = node();
    let out = havre_testkit::dialogue(
        node.imap_port,
        r#"
s, f = connect(); f.readline()
line = lambda: f.readline().decode("utf-8", "replace").strip()
s.sendall(b"a1 FROB\r\n"); print("unknown:", line())
s.sendall(b"\x00\xff garbage\r\n"); print("garbage:", line())
s.sendall(b"a2 SELECT INBOX\r\n"); print("not logged in:", line())
s.sendall(b"a3 LOGIN {5}\r\n"); print("literal:", line())
s.sendall(b"alice secret\r\n"); print("login:", line())
s.sendall(b"a4 " + b"x" * 100000 + b"\r\n"); print("too long:", line())
s.sendall(b"a5 CAPABILITY\r\n"); line(); print("still here:", line())
"#,
        &[],
    );
    assert!(out.contains("unknown: a1 BAD"), "{out}");
    assert!(out.contains("garbage: * BAD"), "{out}");
    assert!(out.contains("not logged in: a2 BAD"), "{out}");
    assert!(out.contains("literal: + "), "{out}");
    assert!(out.contains("login: a3 NO [PRIVACYREQUIRED]"), "{out}");
    assert!(out.contains("too long: a4 BAD Command too long"), "{out}");
    assert!(out.contains("still here: a5 OK"), "{out}");
}

#[test]
fn extensions_real_clients_use_answer_as_their_rfcs_say() {
    let node = node();
    deliver(&node, "hello");
    let out = imap(
        &node,
        r#"
m = connect()
print("id:", m.xatom("ID", '("name" "test-suite")'), m.untagged_responses.pop("ID", None))
print("enable:", m._simple_command("ENABLE", "CONDSTORE"), m.untagged_responses.pop("ENABLED", None))
m.select("INBOX")
typ, data = m.fetch("1", "(BINARY.PEEK[1] BINARY.SIZE[1])")
print("binary:", data[0][0].decode(), data[0][1].decode().strip())
print("unselect:", m._simple_command("UNSELECT"))
print("state after unselect:", m.state)
# LITERAL+: a non-synchronizing literal needs no continuation.
tag = m._new_tag().decode()
m.send(f'{tag} CREATE {{6+}}\r\nFolder\r\n'.encode())
print("literal+:", m.readline().decode().strip())
print("subscribe:", m.subscribe("Folder")[0], m.unsubscribe("Sent")[0])
typ, data = m._simple_command("LIST", "(SUBSCRIBED)", '""', '"*"')
print("subscribed:", sorted(x.decode() for x in m.untagged_responses.pop("LIST", [])))
print("rename:", m.rename("Folder", "Projects/2026")[0])
print("list:", [x.decode() for x in m.list('""', "Projects*")[1]])
print("delete:", m.delete("Projects/2026")[0])
print("lsub:", [x.decode() for x in m.lsub()[1]])
"#,
    );
    assert!(out.contains("(\"name\" \"havre\""), "{out}");
    assert!(
        out.contains("enable: ('OK', [b'Enabled.']) [b'CONDSTORE']"),
        "{out}"
    );
    // CONDSTORE is on, so every FETCH carries MODSEQ (RFC 7162 3.1.4).
    assert!(
        out.contains("binary: 1 (MODSEQ (2) BINARY[1] {20}"),
        "{out}"
    );
    assert!(out.contains("Body of hello."), "{out}");
    assert!(out.contains("unselect: ('OK'"), "{out}");
    assert!(
        out.contains("literal+: ") && out.contains("OK Create completed."),
        "{out}"
    );
    assert!(out.contains(r#""/" Folder"#), "{out}");
    assert!(!out.contains(r#"\\Sent \\Subscribed) "/" Sent"#), "{out}");
    assert!(out.contains("rename: OK"), "{out}");
    assert!(
        out.contains(r#"(\\HasChildren) "/" Projects', '(\\HasNoChildren) "/" Projects/2026"#),
        "{out}"
    );
    assert!(out.contains("delete: OK"), "{out}");
}

#[test]
fn sasl_ir_logs_in_with_the_initial_response_in_one_round_trip() {
    let node = node();
    let out = havre_testkit::dialogue(
        node.imaps_port,
        r#"
import ssl, base64
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s = ctx.wrap_socket(raw); f = s.makefile("rb")
f.readline()
ir = base64.b64encode(b"\0alice@example.test\0secret").decode()
s.sendall(f"a1 AUTHENTICATE PLAIN {ir}\r\n".encode())
print("auth:", f.readline().decode().strip())
"#,
        &[],
    );
    assert!(out.contains("auth: a1 OK [CAPABILITY IMAP4rev2"), "{out}");
}

#[test]
fn the_eleventh_session_of_a_user_is_refused_with_limit() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.set("imap.max_connections_per_user", "3");
    node.start();
    let out = imap(
        &node,
        r#"
sessions = [connect() for _ in range(3)]
try:
    connect()
except imaplib.IMAP4.error as e:
    print("fourth:", e)
sessions[0].logout()
connect()
print("after one left: ok")
"#,
    );
    assert!(out.contains("fourth: b'[LIMIT]"), "{out}");
    assert!(out.contains("after one left: ok"), "{out}");
}

#[test]
fn a_client_that_never_logs_in_is_dropped_after_the_login_timeout() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("imap.login_timeout", "\"1s\"");
    node.start();
    let out = havre_testkit::dialogue(
        node.imap_port,
        r#"
s, f = connect(); f.readline()
start = time.time()
print("bye:", f.readline().decode().strip(), int(time.time() - start))
"#,
        &[],
    );
    assert!(
        out.contains("bye: * BYE Disconnected for inactivity."),
        "{out}"
    );
}

#[test]
fn thread_references_groups_a_conversation_by_its_headers() {
    let node = node();
    let out = imap(
        &node,
        r#"
m = connect()
def add(mid, subject, refs=""):
    hdr = f"Message-ID: <{mid}@x>\r\nSubject: {subject}\r\n" + (f"References: {refs}\r\nIn-Reply-To: {refs.split()[-1]}\r\n" if refs else "")
    m.append("INBOX", None, None, (hdr + "\r\nbody\r\n").encode())
add("a", "plan")
add("b", "other topic")
add("c", "Re: plan", "<a@x>")
add("d", "Re: plan", "<a@x> <c@x>")
m.select("INBOX")
print("thread:", m.thread("REFERENCES", "UTF-8", "ALL")[1][0].decode())
"#,
    );
    assert!(out.contains("thread: (1 3 4)(2)"), "{out}");
}

#[test]
fn too_many_connections_from_one_address_get_bye_unavailable() {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.set("imap.max_connections_per_ip", "2");
    node.start();
    let out = havre_testkit::dialogue(
        node.imap_port,
        r#"
a = connect(); a[1].readline()
b = connect(); b[1].readline()
c = connect(); print("third:", c[1].readline().decode().strip())
"#,
        &[],
    );
    assert!(out.contains("third: * BYE [UNAVAILABLE]"), "{out}");
}

#[test]
fn only_a_director_may_name_the_client_it_logs_in_for() {
    // A backend whose director is 127.0.0.2; 127.0.0.3 is any client.
    let node = Havre::started_backend_of(env!("CARGO_BIN_EXE_havre"), "[\"127.0.0.2/32\"]");
    let script = &format!(
        "{FROM_ADDRESS_PRELUDE}{}",
        r#"
import imaplib, ssl, subprocess, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = from_address(imaplib.IMAP4, sys.argv[2])("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ctx)
print(m.xatom("ID", '("x-originating-ip" "192.0.2.7")'))
print(m.login("alice@example.test", "secret"))
# `havre who` while she is logged in.
who = subprocess.run([sys.argv[3], "--config", sys.argv[4], "who"], capture_output=True, text=True)
print("who:", who.stdout.strip().replace("\n", " | "))
m.logout()
"#
    );
    let port = node.imap_port.to_string();
    let (bin, config) = (env!("CARGO_BIN_EXE_havre"), node.config_path());
    let run = |source: &str| python_ok(script, &[&port, source, bin, config.to_str().unwrap()]);
    let out = run("127.0.0.3");
    assert!(
        out.contains("127.0.0.3") && !out.contains("192.0.2.7 "),
        "{out}"
    );
    let anyone = "Login: user=<alice@example.test>, method=LOGIN, rip=127.0.0.3,";
    let log = node.wait_for_log(anyone, 1);
    assert!(log.contains(anyone), "{log}");
    let out = run("127.0.0.2");
    let who = out
        .lines()
        .find(|l| l.starts_with("who:"))
        .unwrap_or_default();
    assert!(
        who.contains("alice@example.test") && who.contains("192.0.2.7"),
        "{out}"
    );
    let director = "Login: user=<alice@example.test>, method=LOGIN, rip=192.0.2.7,";
    let log = node.wait_for_log(director, 1);
    assert!(log.contains(director), "{log}");
    assert_eq!(log.matches("rip=192.0.2.7").count(), 1, "{log}");
}
