//! Several IMAP sessions on one mailbox, as a phone and a laptop share an
//! INBOX: every session must end up told of every change, and no change may
//! undo another. Raw sockets over implicit TLS, so the tests see exactly what
//! the server wrote and in which order.

use havre_testkit::{Havre, python_ok};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

/// `Session(name)`: logged in as alice. `s.show(command)` sends a command and
/// prints `>>> name command`, then each response line as `name line` (the
/// tagged one without its tag); it returns the untagged lines. `s.logout()` also prints, as `name after:
/// line`, whatever the server writes after LOGOUT's tagged response.
/// `append(s, flags, subject)` adds a message with LITERAL+.
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
        self.run("LOGIN alice@example.test secret")

    def line(self):
        return self.file.readline().decode().rstrip("\r\n")

    def run(self, command):
        self.tags += 1
        tag = "%s%d" % (self.name, self.tags)
        self.sock.sendall(("%s %s\r\n" % (tag, command)).encode())
        lines = []
        while True:
            line = self.line()
            if not line:
                raise SystemExit("%s: connection closed during %s" % (self.name, command))
            if line.startswith(tag + " "):
                return lines, line[len(tag) + 1:]
            lines.append(line)

    def show(self, command):
        print(">>> %s %s" % (self.name, command.split("\r\n")[0]))
        lines, done = self.run(command)
        for line in lines + [done]:
            print("%s %s" % (self.name, line))
        return lines

    def logout(self):
        self.show("LOGOUT")
        while True:
            line = self.line()
            if not line:
                break
            print("%s after: %s" % (self.name, line))

def append(s, flags, subject):
    body = "From: bob@remote.test\r\nSubject: %s\r\n\r\nBody of %s.\r\n" % (subject, subject)
    s.show("APPEND INBOX (%s) {%d+}\r\n%s" % (flags, len(body), body))
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

/// The number in `MODSEQ (n)` or `MODSEQ n` of a response line.
fn modseq_in(line: &str) -> u64 {
    let rest = line
        .split("MODSEQ ")
        .nth(1)
        .unwrap_or_else(|| panic!("no MODSEQ in {line:?}"));
    rest.trim_start_matches('(')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after MODSEQ in {line:?}"))
}

#[test]
fn a_flag_added_by_one_session_survives_a_flag_removed_by_another() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
append(a, "\\Seen", "one")
a.show("SELECT INBOX"); b.show("SELECT INBOX")
a.show("STORE 1 +FLAGS (\\Answered)")
b.show("STORE 1 -FLAGS (\\Seen)")
a.show("FETCH 1 FLAGS")
c = Session("C"); c.show("EXAMINE INBOX"); c.show("FETCH 1 FLAGS")
"#,
    );
    assert_eq!(
        answer(&out, r"A STORE 1 +FLAGS (\Answered)"),
        [
            // A selected first: the message is recent in A's session (rev1).
            r"* 1 FETCH (FLAGS (\Answered \Seen \Recent))",
            "OK Store completed."
        ],
        "{out}"
    );
    assert_eq!(
        answer(&out, r"B STORE 1 -FLAGS (\Seen)"),
        [r"* 1 FETCH (FLAGS (\Answered))", "OK Store completed."],
        "{out}"
    );
    // A hears of B's change (after what its view held, at the latest).
    let fetched = answer(&out, "A FETCH 1 FLAGS");
    let last = fetched.iter().rev().find(|l| l.starts_with("* 1 FETCH"));
    assert!(
        last.is_some_and(|l| l.ends_with(r"FLAGS (\Answered \Recent))")),
        "{out}"
    );
    assert!(
        answer(&out, "C FETCH 1 FLAGS").contains(&r"* 1 FETCH (FLAGS (\Answered))"),
        "{out}"
    );
}

#[test]
fn a_silent_store_still_reports_the_flags_another_session_set() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
append(a, "", "one")
a.show("SELECT INBOX"); b.show("SELECT INBOX")
a.show("STORE 1 +FLAGS.SILENT ($Label1)")
b.show("STORE 1 +FLAGS.SILENT (\\Flagged)")
b.show("NOOP")
"#,
    );
    let told: Vec<&str> = [
        answer(&out, r"B STORE 1 +FLAGS.SILENT (\Flagged)"),
        answer(&out, "B NOOP"),
    ]
    .concat();
    assert!(
        told.iter()
            .any(|l| l.starts_with("* 1 FETCH (") && l.contains(r"FLAGS (\Flagged $Label1)")),
        "{out}"
    );
}

#[test]
fn an_expunge_by_another_session_is_reported_after_this_sessions_own_store() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
for subject in ["one", "two", "three"]:
    append(a, "", subject)
a.show("SELECT INBOX"); b.show("SELECT INBOX")
a.show("STORE 2 +FLAGS.SILENT (\\Deleted)"); a.show("EXPUNGE")
b.show("STORE 1 +FLAGS (\\Flagged)")
b.show("STORE 2 +FLAGS (\\Seen)")
b.show("NOOP")
b.show("FETCH 1:* UID")
b.show("SEARCH ALL")
"#,
    );
    // Non-UID STORE may not shift sequence numbers: the expunge waits.
    assert_eq!(
        answer(&out, r"B STORE 1 +FLAGS (\Flagged)"),
        [r"* 1 FETCH (FLAGS (\Flagged))", "OK Store completed."],
        "{out}"
    );
    // The message another session expunged: no MODIFIED without UNCHANGEDSINCE.
    assert_eq!(
        answer(&out, r"B STORE 2 +FLAGS (\Seen)"),
        ["OK Store completed."],
        "{out}"
    );
    assert_eq!(
        answer(&out, "B NOOP"),
        ["* 2 EXPUNGE", "OK NOOP completed."],
        "{out}"
    );
    assert_eq!(
        answer(&out, "B FETCH 1:* UID"),
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 3)",
            "OK Fetch completed."
        ],
        "{out}"
    );
    assert_eq!(
        answer(&out, "B SEARCH ALL"),
        ["* SEARCH 1 2", "OK Search completed."],
        "{out}"
    );
}

#[test]
fn flags_and_messages_from_another_session_are_reported_after_this_sessions_own_store() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
for subject in ["one", "two"]:
    append(a, "", subject)
a.show("SELECT INBOX"); b.show("SELECT INBOX")
a.show("STORE 2 +FLAGS (\\Seen)")
append(a, "", "three")
b.show("STORE 1 +FLAGS (\\Flagged)")
b.show("NOOP")
"#,
    );
    let told: Vec<&str> = [
        answer(&out, r"B STORE 1 +FLAGS (\Flagged)"),
        answer(&out, "B NOOP"),
    ]
    .concat();
    assert!(told.contains(&r"* 2 FETCH (UID 2 FLAGS (\Seen))"), "{out}");
    assert!(told.contains(&"* 3 EXISTS"), "{out}");
}

#[test]
fn nothing_follows_the_tagged_ok_of_logout() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
for subject in ["one", "two"]:
    append(a, "", subject)
a.show("SELECT INBOX"); b.show("SELECT INBOX")
a.show("STORE 1 +FLAGS.SILENT (\\Deleted)"); a.show("EXPUNGE")
append(a, "", "three")
b.logout()
"#,
    );
    assert_eq!(
        answer(&out, "B LOGOUT"),
        ["* BYE Logging out", "OK Logout completed."],
        "{out}"
    );
    assert!(!out.contains("B after:"), "{out}");
}

#[test]
fn fetch_modseq_enables_condstore_and_store_then_reports_modseq() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
for subject in ["one", "two"]:
    append(a, "", subject)
a.show("SELECT INBOX"); b.show("SELECT INBOX")
b.show("STORE 2 +FLAGS (\\Seen)")
a.show("FETCH 1 (FLAGS MODSEQ)")
a.show("STORE 1 +FLAGS (\\Answered)")
b.show("NOOP")
"#,
    );
    let fetch = answer(&out, "A FETCH 1 (FLAGS MODSEQ)");
    let highest = fetch
        .iter()
        .find(|l| l.starts_with("* OK [HIGHESTMODSEQ "))
        .unwrap_or_else(|| panic!("no HIGHESTMODSEQ:\n{out}"));
    let first = modseq_in(fetch.iter().find(|l| l.starts_with("* 1 FETCH")).unwrap());
    // B's change, made before, is reported with its MODSEQ too.
    let seen = fetch
        .iter()
        .find(|l| l.starts_with("* 2 FETCH"))
        .unwrap_or_else(|| panic!("B's change not reported:\n{out}"));
    // Recent in A, which selected first (rev1).
    assert!(seen.contains(r"FLAGS (\Seen \Recent)"), "{out}");
    // What A had been told of: up to its SELECT, before B's change.
    let highest = modseq_in(highest);
    assert!(first <= highest && highest < modseq_in(seen), "{out}");
    let store = answer(&out, r"A STORE 1 +FLAGS (\Answered)");
    assert!(
        store[0].starts_with(r"* 1 FETCH (FLAGS (\Answered \Recent) MODSEQ ("),
        "{out}"
    );
    let stored = modseq_in(store[0]);
    assert!(stored > first && stored > modseq_in(seen), "{out}");
    // B did not ask for CONDSTORE: no MODSEQ for it.
    assert!(
        answer(&out, "B NOOP").contains(&r"* 1 FETCH (UID 1 FLAGS (\Answered))"),
        "{out}"
    );
}

#[test]
fn esearch_min_and_max_report_the_modseq_of_the_message_returned() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
for subject in ["one", "two", "three"]:
    append(a, "", subject)
b.show("SELECT INBOX")
b.show("STORE 3 +FLAGS (\\Flagged)")
b.show("STORE 1 +FLAGS (\\Seen)")
a.show("ENABLE CONDSTORE")
a.show("SELECT INBOX")
a.show("FETCH 1:3 MODSEQ")
a.show("SEARCH RETURN (MIN) MODSEQ 1")
a.show("SEARCH RETURN (MAX) MODSEQ 1")
a.show("SEARCH RETURN (MIN MAX) UNSEEN MODSEQ 1")
a.show("SEARCH RETURN (COUNT MIN) MODSEQ 1")
"#,
    );
    let fetched = answer(&out, "A FETCH 1:3 MODSEQ");
    let modseq = |seq: u32| {
        modseq_in(
            fetched
                .iter()
                .find(|l| l.starts_with(&format!("* {seq} FETCH")))
                .unwrap_or_else(|| panic!("no FETCH of {seq}:\n{out}")),
        )
    };
    let (one, two, three) = (modseq(1), modseq(2), modseq(3));
    assert!(three > two && one > three, "{out}");
    let esearch = |command: &str| {
        answer(&out, command)
            .into_iter()
            .find(|l| l.starts_with("* ESEARCH"))
            .unwrap_or_else(|| panic!("no ESEARCH for {command}:\n{out}"))
            .to_string()
    };
    let min = esearch("A SEARCH RETURN (MIN) MODSEQ 1");
    assert!(min.contains(" MIN 1 "), "{out}");
    assert_eq!(modseq_in(&min), one, "{out}");
    let max = esearch("A SEARCH RETURN (MAX) MODSEQ 1");
    assert!(max.contains(" MAX 3 "), "{out}");
    assert_eq!(modseq_in(&max), three, "{out}");
    // Unseen: 2 and 3; the higher of the two returned is 3's.
    let both = esearch("A SEARCH RETURN (MIN MAX) UNSEEN MODSEQ 1");
    assert!(both.contains(" MIN 2 MAX 3 "), "{out}");
    assert_eq!(modseq_in(&both), three, "{out}");
    // COUNT speaks of every match: the highest of all.
    let count = esearch("A SEARCH RETURN (COUNT MIN) MODSEQ 1");
    assert_eq!(modseq_in(&count), one, "{out}");
}

#[test]
fn a_conditional_store_leaves_a_message_another_session_changed_since() {
    let node = node();
    let out = run(
        &node,
        r#"
a = Session("A"); b = Session("B")
for subject in ["one", "two"]:
    append(a, "", subject)
selected = a.show("SELECT INBOX (CONDSTORE)")
known = [l for l in selected if "HIGHESTMODSEQ" in l][0].split("HIGHESTMODSEQ ")[1].split("]")[0]
b.show("SELECT INBOX")
b.show("STORE 1 +FLAGS ($Important)")
a.show("STORE 1:2 (UNCHANGEDSINCE %s) +FLAGS.SILENT (\\Deleted)" % known)
a.show("FETCH 1:2 FLAGS")
"#,
    );
    let store = answer(&out, "A STORE 1:2 (UNCHANGEDSINCE ");
    // Message 2 passed: reported with its new MODSEQ even though .SILENT
    // (RFC 7162 3.1.3); message 1 failed and is named in MODIFIED, and the
    // change that made it fail is reported, after FLAGS and PERMANENTFLAGS
    // announce its new keyword.
    assert_eq!(store.len(), 5, "{out}");
    assert!(store[0].starts_with("* 2 FETCH (MODSEQ ("), "{out}");
    assert!(
        store[1].starts_with("* FLAGS (") && store[1].contains("$Important"),
        "{out}"
    );
    assert!(store[2].starts_with("* OK [PERMANENTFLAGS ("), "{out}");
    assert!(
        store[3].starts_with(r"* 1 FETCH (UID 1 FLAGS (\Recent $Important) MODSEQ ("),
        "{out}"
    );
    assert_eq!(
        store[4], "OK [MODIFIED 1] Conditional STORE failed.",
        "{out}"
    );
    let fetched = answer(&out, "A FETCH 1:2 FLAGS").join("\n");
    // \Recent: A selected first (rev1).
    assert!(!fetched.contains(r"\Deleted \Recent $Important"), "{out}");
    assert!(fetched.contains(r"FLAGS (\Recent $Important)"), "{out}");
    assert!(
        fetched.contains(r"* 2 FETCH (FLAGS (\Deleted \Recent)"),
        "{out}"
    );
}
