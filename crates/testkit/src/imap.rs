//! IMAP scenarios with Python's imaplib against a node under test.

use crate::{Havre, python_ok};

/// Python helpers prepended by [`imaplib`]: `connect()` gives an imaplib
/// session logged in over STARTTLS as alice@example.test (password
/// "secret"); `until(m, tag)` reads every line up to the tagged result;
/// `raw(m, line)` sends one command (str or bytes) and returns those lines,
/// decoded.
pub const IMAPLIB_PRELUDE: &str = r#"
import imaplib, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def connect():
    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
    m.starttls(ssl_context=ctx)
    m.login("alice@example.test", "secret")
    return m
def until(m, tag):
    out = []
    while True:
        got = m._get_line()
        out.append(got.decode(errors="replace"))
        if got.startswith(tag + b" "):
            return out
def raw(m, line):
    tag = m._new_tag()
    m.send(tag + b" " + (line if isinstance(line, bytes) else line.encode()) + b"\r\n")
    return until(m, tag)
"#;

/// Runs `script` after [`IMAPLIB_PRELUDE`] against the node's STARTTLS IMAP
/// port; returns what it printed.
pub fn imaplib(node: &Havre, script: &str) -> String {
    python_ok(
        &format!("{IMAPLIB_PRELUDE}\n{script}"),
        &[&node.imap_port.to_string()],
    )
}

/// The printed lines that start with `prefix`.
pub fn lines_with<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(prefix)).collect()
}
