//! IMAP under abuse: what a client can make the server hold in memory, and
//! what password guessing costs the server and its other users. Real
//! clients (Python's imaplib, raw sockets) against the real binary.

use std::io::Write;

use havre_testkit::{Havre, dialogue, python_ok};

fn node() -> Havre {
    let mut node = Havre::init(env!("CARGO_BIN_EXE_havre"));
    node.add_user("alice@example.test");
    node.start();
    node
}

/// Python helpers: `tls(port, source)` opens an IMAPS connection (from the
/// loopback address `source`) and returns `(socket, reader)` after the
/// greeting; `line(f)` reads one response line; `mem()` is the server's
/// `(VmHWM, VmRSS)` in MiB, read from `/proc/<pid>/status` (`sys.argv[2]`).
const HELPERS: &str = r#"
import imaplib, re, socket, ssl, statistics, sys, threading, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
PORT = int(sys.argv[1])
def tls(source="127.0.0.1"):
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=60, source_address=(source, 0))
    s = ctx.wrap_socket(raw)
    f = s.makefile("rb")
    f.readline()
    return s, f
def line(f):
    return f.readline().decode("utf-8", "replace").strip()
def mem():
    status = open(f"/proc/{sys.argv[2]}/status").read()
    get = lambda key: int(re.search(key + r":\s+(\d+) kB", status).group(1)) / 1024
    return get("VmHWM"), get("VmRSS")
class Imaps(imaplib.IMAP4_SSL):
    def __init__(self):
        super().__init__("127.0.0.1", PORT, ssl_context=ctx, timeout=60)
"#;

fn script(node: &Havre, body: &str) -> String {
    let pid = node.pid().expect("serve is running").to_string();
    python_ok(
        &format!("{HELPERS}\n{body}"),
        &[&node.imaps_port.to_string(), &pid],
    )
}

/// The number after `key` in the script's output (printed: the test's
/// measurements are worth seeing when it passes too).
fn number(out: &str, key: &str) -> f64 {
    println!(
        "{}",
        out.lines().find(|l| l.starts_with(key)).unwrap_or(key)
    );
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

#[test]
fn an_append_before_login_is_refused_before_a_continuation_and_its_literal_never_read() {
    let node = node();
    let out = dialogue(
        node.imap_port,
        r#"
s, f = connect(); f.readline()
line = lambda: f.readline().decode("utf-8", "replace").strip()
s.sendall(b"a1 APPEND INBOX {20000000}\r\n"); print("synchronizing:", line())
s.sendall(b"a2 NOOP\r\n"); print("next:", line())
# A non-synchronizing literal is sent without waiting: the server refuses it
# and hangs up rather than read (or keep) 20 MB from a stranger.
s.sendall(b"a3 APPEND INBOX {20000000+}\r\n" + b"x" * 100)
rest = f.read().decode("utf-8", "replace")
print("non-synchronizing:", " | ".join(rest.split("\r\n")))
"#,
        &[],
    );
    assert!(out.contains("synchronizing: a1 BAD Log in first."), "{out}");
    assert!(out.contains("next: a2 OK"), "{out}");
    assert!(
        out.contains("non-synchronizing: a3 BAD Log in first. | * BYE"),
        "{out}"
    );
}

#[test]
fn an_over_long_command_line_gets_its_tag_and_bad_and_its_literal_is_skipped() {
    let node = node();
    let out = dialogue(
        node.imap_port,
        r#"
s, f = connect(); f.readline()
line = lambda: f.readline().decode("utf-8", "replace").strip()
s.sendall(b"a1 LOGIN " + b"x" * 100000 + b" {10+}\r\n0123456789\r\na2 NOOP\r\n")
print("long:", line())
print("next:", line())
"#,
        &[],
    );
    assert!(out.contains("long: a1 BAD Command too long"), "{out}");
    assert!(out.contains("next: a2 OK"), "{out}");
}

#[test]
fn three_failed_logins_close_the_connection_like_dovecot() {
    let node = node();
    let out = script(
        &node,
        r#"
s, f = tls()
for i in (1, 2, 3):
    s.sendall(f"a{i} LOGIN alice@example.test guess{i}\r\n".encode())
    print(f"try {i}:", line(f))
print("then:", line(f))
print("closed:", f.readline() == b"")
"#,
    );
    for i in 1..=3 {
        assert!(
            out.contains(&format!(
                "try {i}: a{i} NO [AUTHENTICATIONFAILED] Authentication failed."
            )),
            "{out}"
        );
    }
    assert!(
        out.contains("then: * BYE Too many authentication failures."),
        "{out}"
    );
    assert!(out.contains("closed: True"), "{out}");
    // The words fail2ban's dovecot filter looks for.
    let mut log = node.log();
    for _ in 0..50 {
        if log.contains("Too many authentication failures (") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        log = node.log();
    }
    assert!(
        log.contains("Disconnected: Too many authentication failures (auth failed, 3 attempts in ")
            && log.contains("secs): user=<alice@example.test>, method=LOGIN, rip=127.0.0.1"),
        "{log}"
    );
}

#[test]
fn many_guessing_connections_neither_take_the_memory_nor_starve_a_good_login() {
    // Loose bounds, on purpose: the machine running the tests is shared.
    let node = node();
    let out = script(
        &node,
        r#"
stop = threading.Event()
tries = [0]
def guess():
    # Another address than the user's: a guesser elsewhere on the Internet.
    while not stop.is_set():
        try:
            s, f = tls("127.0.0.2")
            while not stop.is_set():
                s.sendall(b"g LOGIN alice@example.test guess\r\n")
                reply = f.readline()
                tries[0] += 1
                if not reply.startswith(b"g NO"):
                    break
            s.close()
        except OSError:
            pass
good = Imaps(); good.logout()
hwm_before, rss_before = mem()
guessers = [threading.Thread(target=guess, daemon=True) for _ in range(32)]
for g in guessers:
    g.start()
time.sleep(3)
took = []
for _ in range(3):
    m = Imaps()
    start = time.monotonic()
    m.login("alice@example.test", "secret")
    took.append(time.monotonic() - start)
    m.logout()
    time.sleep(0.5)
hwm_after, rss_after = mem()
stop.set()
for g in guessers:
    g.join()
print("guesses:", tries[0])
print("good login ms:", statistics.median(took) * 1000)
print("rss before MiB:", rss_before)
print("peak during MiB:", hwm_after)
"#,
    );
    let guesses = number(&out, "guesses: ");
    let login_ms = number(&out, "good login ms: ");
    let before = number(&out, "rss before MiB: ");
    let peak = number(&out, "peak during MiB: ");
    assert!(guesses > 32.0, "the guessers did not get going: {out}");
    // Unbounded, 32 argon2id verifications of 19 MiB each ran at once.
    assert!(
        peak - before < 200.0,
        "guessing took the server from {before:.0} to {peak:.0} MiB"
    );
    assert!(
        login_ms < 2000.0,
        "a good login took {login_ms:.0} ms while others guessed"
    );
}

#[test]
fn fetching_a_100_mb_mailbox_streams_it_and_gives_the_memory_back() {
    // Loose bounds, on purpose: allocator and machine vary.
    let node = node();
    let inbox = node.maildir("alice@example.test");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(inbox.join(sub)).expect("maildir");
    }
    let line = "All work and no play makes Jack a dull boy, all work and no play.\n";
    let body = line.repeat(2 * 1024 * 1024 / line.len());
    for i in 0..50 {
        let path = inbox.join(format!("new/17000000{i:02}.M1P1.test"));
        let mut file = std::fs::File::create(path).expect("message file");
        write!(
            file,
            "From: bob@remote.test\nTo: alice@example.test\nSubject: big {i}\n\n{body}"
        )
        .expect("write message");
    }
    let out = script(
        &node,
        r#"
m = Imaps()
m.login("alice@example.test", "secret")
print("select:", m.select("INBOX"))
hwm_before, rss_before = mem()
typ, data = m.fetch("1:*", "(BODY.PEEK[])")
fetched = sum(len(d[1]) for d in data if isinstance(d, tuple))
hwm_after, rss_after = mem()
print("fetched MiB:", fetched / 1024 / 1024)
print("rss before MiB:", rss_before)
print("peak MiB:", hwm_after)
print("rss after MiB:", rss_after)
m.logout()
"#,
    );
    assert!(out.contains("select: ('OK', [b'50'])"), "{out}");
    let fetched = number(&out, "fetched MiB: ");
    let before = number(&out, "rss before MiB: ");
    let peak = number(&out, "peak MiB: ");
    let after = number(&out, "rss after MiB: ");
    assert!(fetched > 100.0, "{out}");
    assert!(
        peak - before < 40.0,
        "the server grew from {before:.0} to {peak:.0} MiB to send {fetched:.0} MiB"
    );
    assert!(
        after - before < 25.0,
        "the server kept {:.0} MiB after the FETCH",
        after - before
    );
}

#[test]
fn a_session_that_sent_a_big_literal_idles_on_a_small_buffer_and_still_works() {
    // In IDLE the connection's read buffer, grown to its maximum by the
    // literal, shrinks to a few bytes (havre-net's unit test checks the
    // sizes): the wake-up, DONE and a long command pipelined behind it must
    // all still go through.
    let node = node();
    let out = script(
        &node,
        r#"
s, f = tls()
def until(tag):
    while True:
        l = line(f)
        if l.startswith(tag + " ") or l.startswith("+"):
            return l
s.sendall(b"a1 LOGIN alice@example.test secret\r\n")
print("login:", until("a1"))
body = b"Subject: big\r\n\r\n" + b"x" * 1_000_000 + b"\r\n"
s.sendall(b"a2 APPEND INBOX {%d}\r\n" % len(body))
print("continuation:", until("a2"))
s.sendall(body + b"\r\n")
print("append:", until("a2"))
s.sendall(b"a3 SELECT INBOX\r\n")
print("select:", until("a3"))
s.sendall(b"a4 IDLE\r\n")
print("idle:", until("a4"))
m = Imaps()
m.login("alice@example.test", "secret")
m.append("INBOX", None, None, b"Subject: small\r\n\r\nhi\r\n")
m.logout()
print("pushed:", line(f))
s.sendall(b"DONE\r\na5 UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM TO DATE MESSAGE-ID)])\r\n")
print("done:", until("a4"))
print("fetch:", until("a5"))
"#,
    );
    assert!(out.contains("login: a1 OK"), "{out}");
    assert!(out.contains("continuation: +"), "{out}");
    assert!(out.contains("append: a2 OK [APPENDUID"), "{out}");
    assert!(out.contains("idle: + idling"), "{out}");
    assert!(out.contains("pushed: * 2 EXISTS"), "{out}");
    assert!(out.contains("done: a4 OK Idle completed."), "{out}");
    assert!(out.contains("fetch: a5 OK"), "{out}");
}
