//! Real clients, run as child processes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// A loopback port that no other test of this machine will be given while
/// this test process lives, and that nobody listens on right now.
///
/// Ports come from below the kernel's ephemeral range (so a client socket of
/// another test cannot be sitting on one) and each is claimed with a lock file
/// held until the process exits: nextest runs tests as separate processes, and
/// two of them must never both believe a port is theirs.
pub fn free_port() -> u16 {
    use std::os::fd::AsRawFd;
    use std::sync::Mutex;
    static CLAIMED: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("havre-testkit-ports");
    std::fs::create_dir_all(&dir).expect("port lock directory");
    let (low, high) = (20_000u16, 32_000u16);
    for _ in 0..10_000 {
        let port = rand::random_range(low..high);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
            .expect("port lock file");
        // SAFETY: flock(2) on a descriptor we own; the lock lives as long as the file.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        CLAIMED.lock().expect("port claims").push(lock);
        return port;
    }
    panic!("no free loopback port between {low} and {high}");
}

/// Runs `script` with python3; `args` become `sys.argv[1:]`.
pub fn python(script: &str, args: &[&str]) -> Output {
    let mut child = Command::new("python3")
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed (the test command installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    child.wait_with_output().expect("python3 output")
}

/// Runs swaks with `args`; its transcript is in stdout.
pub fn swaks(args: &[&str]) -> Output {
    Command::new("swaks")
        .args(args)
        .output()
        .expect("swaks must be installed (the test command installs it)")
}

/// Python: `from_address(client, source)` is `client` (imaplib.IMAP4,
/// poplib.POP3, ...) connecting from the loopback address `source`, as a
/// client behind a director, or anyone, is seen from a backend.
pub const FROM_ADDRESS_PRELUDE: &str = r#"
import socket
def from_address(client, source):
    class From(client):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout, (source, 0))
    return From
"#;

/// Python helpers for raw SMTP/LMTP dialogues, prepended by [`dialogue`]:
/// `connect()` opens a session to the port in `sys.argv[1]` and returns
/// `(socket, reader)`; `reply(f)` reads one (multi-line) reply as a list of
/// lines, `["<closed>"]` when the server hung up; `last(f)` is its last line.
pub const DIALOGUE_PRELUDE: &str = r#"
import socket, sys, time
def connect(port=None):
    s = socket.create_connection(("127.0.0.1", int(port or sys.argv[1])), timeout=30)
    return s, s.makefile("rb")
def reply(f):
    lines = []
    while True:
        line = f.readline().decode("utf-8", "replace")
        if not line:
            lines.append("<closed>")
            return lines
        lines.append(line.strip())
        if len(line) < 4 or line[3] == " ":
            return lines
def last(f):
    return reply(f)[-1]
"#;

/// Runs a raw dialogue `script` (with [`DIALOGUE_PRELUDE`]) against `port`;
/// returns what it printed. Fails the test if the script fails.
pub fn dialogue(port: u16, script: &str, args: &[&str]) -> String {
    let port = port.to_string();
    let mut all = vec![port.as_str()];
    all.extend_from_slice(args);
    let out = python(&format!("{DIALOGUE_PRELUDE}\n{script}"), &all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dialogue script failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// [`python`] that must succeed; returns what the script printed.
pub fn python_ok(script: &str, args: &[&str]) -> String {
    let out = python(script, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python script failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Waits up to `limit` for `child` to end, then kills it; reaped either way.
pub(crate) fn wait_or_kill(child: &mut std::process::Child, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
