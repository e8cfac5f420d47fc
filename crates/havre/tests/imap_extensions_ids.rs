//! Keywords announced before they are used, BINARY on messages with bare
//! LFs, SAVEDATE (RFC 8514) and OBJECTID (RFC 8474), each with real sessions
//! on raw TLS sockets so the tests see what the server wrote and in which
//! order.

use havre_testkit::{Havre, python_ok};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

/// `Session(name)`: logged in as alice. `s.show(command)` sends a command,
/// prints `>>> name command`, then each response line as `name line` (the
/// tagged one without its tag), and returns the untagged lines.
/// `s.append(flags, body)` adds `body` (bytes) to INBOX with LITERAL+.
const SESSIONS: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

class Session:
    def __init__(self, name):
        self.name = name
        raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
        self.sock = ctx.wrap_socket(raw)
        self.file = self.sock.makefile("rb")
        self.tags = 0
        self.file.readline()
        self.run(b"LOGIN alice@example.test secret")

    def run(self, command):
        self.tags += 1
        tag = ("%s%d" % (self.name, self.tags)).encode()
        self.sock.sendall(tag + b" " + command + b"\r\n")
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise SystemExit("%s: connection closed" % self.name)
            # A literal in a response: read its bytes as part of the line.
            while line.rstrip(b"\r\n").endswith(b"}") and b"{" in line:
                size = int(line.rstrip(b"\r\n").rsplit(b"{", 1)[1][:-1])
                line = line + self.file.read(size) + self.file.readline()
            if line.startswith(tag + b" "):
                return lines, line[len(tag) + 1:]
            lines.append(line)

    def show(self, command):
        if isinstance(command, str):
            command = command.encode()
        print(">>> %s %s" % (self.name, command.split(b"\r\n")[0].decode()))
        lines, done = self.run(command)
        for line in lines + [done]:
            print("%s %r" % (self.name, line.rstrip(b"\r\n").decode("latin-1")) if b"\r\n" in line.rstrip(b"\r\n") or b"\n" in line.rstrip(b"\r\n") else "%s %s" % (self.name, line.rstrip(b"\r\n").decode("latin-1")))
        return lines

    def append(self, flags, body, mailbox="INBOX"):
        return self.show(b"APPEND " + mailbox.encode() + b" (" + flags.encode() + b") {%d+}\r\n" % len(body) + body)

MESSAGE = b"From: bob@remote.test\r\nSubject: one\r\n\r\nBody.\r\n"
"#;

fn run(node: &Havre, script: &str) -> String {
    python_ok(
        &format!("{SESSIONS}\n{script}"),
        &[&node.imaps_port.to_string()],
    )
}

/// The lines that answered the first command starting with `command` (as
/// `>>> name command` echoed it), with the session's name taken off.
fn answer<'a>(transcript: &'a str, command: &str) -> Vec<&'a str> {
    let echo = format!(">>> {command}");
    let name = command.split(' ').next().unwrap_or("");
    let mut lines = transcript.lines();
    assert!(
        lines.any(|l| l.starts_with(&echo)),
        "no {echo:?} in the transcript:\n{transcript}"
    );
    lines
        .take_while(|l| !l.starts_with(">>> "))
        .filter_map(|l| l.strip_prefix(name).map(str::trim_start))
        .collect()
}

/// The index of the first line of `lines` that starts with `prefix` and
/// contains `part`.
fn position(lines: &[&str], prefix: &str, part: &str, out: &str) -> usize {
    lines
        .iter()
        .position(|l| l.starts_with(prefix) && l.contains(part))
        .unwrap_or_else(|| panic!("no {prefix:?} line with {part:?}:\n{out}"))
}

#[test]
fn a_keyword_set_by_another_session_is_announced_in_flags_before_the_fetch_that_shows_it() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
a.append("", MESSAGE)
a.show("SELECT INBOX"); b.show("SELECT INBOX")
b.show("STORE 1 +FLAGS ($Important)")
a.show("NOOP")
c = Session("C"); c.show("EXAMINE INBOX")
"#,
    );
    for (command, fetch) in [
        ("B STORE 1 +FLAGS ($Important)", "* 1 FETCH"),
        ("A NOOP", "* 1 FETCH"),
    ] {
        let lines = answer(&out, command);
        let flags = position(&lines, "* FLAGS (", "$Important", &out);
        let permanent = position(&lines, "* OK [PERMANENTFLAGS (", "$Important", &out);
        let shown = position(&lines, fetch, "$Important", &out);
        assert!(flags < shown && permanent < shown, "{command}:\n{out}");
        assert!(
            lines[permanent].contains(r"$Important \*)]"),
            "new keywords stay allowed: {out}"
        );
    }
    // A session selecting later hears of the mailbox's keywords at once.
    let examined = answer(&out, "C EXAMINE INBOX");
    position(&examined, "* FLAGS (", "$Important", &out);
}

#[test]
fn a_keyword_introduced_by_append_to_the_selected_mailbox_is_announced_in_the_append_response() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
a.append("", MESSAGE)
a.show("SELECT INBOX"); b.show("SELECT INBOX")
a.append("$Project", MESSAGE)
a.show("FETCH 2 FLAGS")
b.show("NOOP")
"#,
    );
    let appended = answer(&out, "A APPEND INBOX ($Project)");
    let flags = position(&appended, "* FLAGS (", "$Project", &out);
    let exists = position(&appended, "* 2 EXISTS", "", &out);
    assert!(flags < exists, "{out}");
    // The other session hears of the keyword with the new message.
    let noop = answer(&out, "B NOOP");
    let flags = position(&noop, "* FLAGS (", "$Project", &out);
    let exists = position(&noop, "* 2 EXISTS", "", &out);
    assert!(flags < exists, "{out}");
}

#[test]
fn binary_returns_a_binary_parts_bare_lfs_unchanged_and_the_message_keeps_its_size() {
    let node = node();
    let out = run(
        &node,
        r#"
part = b"a\nb\nc\nd"
message = (b"From: bob@remote.test\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
    b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    + part + b"\r\n--x--\r\n")
a = Session("A")
a.append("", message)
a.show("SELECT INBOX")
lines, done = a.run(b"FETCH 1 (RFC822.SIZE BINARY.SIZE[1] BINARY[1] BODY.PEEK[])")
fetched = b"".join(lines)
print("size", len(message), b"RFC822.SIZE %d " % len(message) in fetched)
print("binary.size", b"BINARY.SIZE[1] 7" in fetched)
print("binary", b"BINARY[1] {7}\r\n" + part in fetched or b"BINARY[1] ~{7}\r\n" + part in fetched)
print("body", (b"BODY[] {%d}\r\n" % len(message)) + message in fetched)
print(fetched)
"#,
    );
    for check in ["binary.size True", "binary True", "body True"] {
        assert!(out.contains(check), "{check}:\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("size ") && l.ends_with(" True")),
        "{out}"
    );
}

#[test]
fn objectid_and_savedate_give_stable_ids_that_survive_copy_and_rename() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A")
print("caps", b" ".join(a.run(b"CAPABILITY")[0]).decode())
a.show("CREATE Work")
a.append("", b"Message-ID: <root@x>\r\nSubject: q\r\n\r\nq\r\n")
a.append("", b"Message-ID: <re@x>\r\nReferences: <root@x>\r\nSubject: re\r\n\r\nr\r\n")
a.show("STATUS Work (MAILBOXID)")
a.show("SELECT INBOX")
a.show("FETCH 1:2 (EMAILID THREADID SAVEDATE)")
# A flag change renames the file (its flags are in its name): the date stays.
import time; time.sleep(1.1)
a.show("STORE 1 +FLAGS (\\Seen)")
a.show("FETCH 1 (SAVEDATE)")
a.show("COPY 1 Work")
a.show("RENAME Work Done")
a.show("STATUS Done (MAILBOXID)")
a.show("SELECT Done")
a.show("FETCH 1 (EMAILID)")
"#,
    );
    let caps = out.lines().find(|l| l.starts_with("caps ")).unwrap_or("");
    assert!(
        caps.contains(" OBJECTID") && caps.contains(" SAVEDATE"),
        "{out}"
    );
    let id_in = |line: &str, item: &str| -> String {
        let rest = line
            .split(&format!("{item} ("))
            .nth(1)
            .unwrap_or_else(|| panic!("no {item} in {line:?}"));
        rest.split(')').next().unwrap_or("").to_string()
    };
    let before = answer(&out, "A STATUS Work (MAILBOXID)");
    let after = answer(&out, "A STATUS Done (MAILBOXID)");
    assert_eq!(
        id_in(before[0], "MAILBOXID"),
        id_in(after[0], "MAILBOXID"),
        "{out}"
    );
    let selected = answer(&out, "A SELECT Done");
    position(
        &selected,
        "* OK [MAILBOXID (",
        &id_in(after[0], "MAILBOXID"),
        &out,
    );
    let fetched = answer(&out, "A FETCH 1:2 (EMAILID THREADID SAVEDATE)");
    let first = fetched[position(&fetched, "* 1 FETCH", "", &out)];
    let second = fetched[position(&fetched, "* 2 FETCH", "", &out)];
    assert_ne!(id_in(first, "EMAILID"), id_in(second, "EMAILID"), "{out}");
    assert_eq!(id_in(first, "THREADID"), id_in(second, "THREADID"), "{out}");
    assert!(first.contains("SAVEDATE \""), "{out}");
    let again = answer(&out, "A FETCH 1 (SAVEDATE)");
    let saved = |line: &str| line.split("SAVEDATE ").nth(1).unwrap_or("").to_string();
    assert_eq!(
        saved(again[position(&again, "* 1 FETCH", "", &out)]),
        saved(first),
        "{out}"
    );
    let copied = answer(&out, "A FETCH 1 (EMAILID)");
    assert_eq!(
        id_in(copied[position(&copied, "* 1 FETCH", "", &out)], "EMAILID"),
        id_in(first, "EMAILID"),
        "a copy keeps its EMAILID: {out}"
    );
}

#[test]
fn search_finds_messages_by_emailid_threadid_and_save_date() {
    let node = node();
    let out = run(
        &node,
        r#"
import re, time
a = Session("A")
a.append("", b"Message-ID: <root@x>\r\nSubject: q\r\n\r\nq\r\n")
a.append("", b"Message-ID: <re@x>\r\nReferences: <root@x>\r\nSubject: re\r\n\r\nr\r\n")
a.append("", b"Message-ID: <other@x>\r\nSubject: other\r\n\r\no\r\n")
a.show("SELECT INBOX")
fetched = b"".join(a.show("FETCH 1 (EMAILID THREADID)")).decode()
email = re.search(r"EMAILID \((\w+)\)", fetched).group(1)
thread = re.search(r"THREADID \((\w+)\)", fetched).group(1)
today = time.strftime("%d-%b-%Y", time.gmtime())
for command in ["SEARCH EMAILID " + email, "SEARCH THREADID " + thread,
                "SEARCH SAVEDSINCE " + today, "SEARCH SAVEDON " + today,
                "SEARCH SAVEDBEFORE 1-Jan-2000", "SEARCH SAVEDATESUPPORTED"]:
    lines = a.show(command)
    print("result", command.split()[1], b"".join(lines).decode().strip())
"#,
    );
    let result = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("result {key} ")))
            .unwrap_or_else(|| panic!("no result for {key}:\n{out}"))
            .to_string()
    };
    assert_eq!(result("EMAILID"), "* SEARCH 1", "{out}");
    assert_eq!(result("THREADID"), "* SEARCH 1 2", "{out}");
    assert_eq!(result("SAVEDSINCE"), "* SEARCH 1 2 3", "{out}");
    assert_eq!(result("SAVEDON"), "* SEARCH 1 2 3", "{out}");
    assert_eq!(result("SAVEDATESUPPORTED"), "* SEARCH 1 2 3", "{out}");
    assert!(
        out.lines().any(|l| l == "result SAVEDBEFORE * SEARCH"),
        "{out}"
    );
}
