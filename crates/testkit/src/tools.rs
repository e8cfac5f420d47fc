//! Real clients, run as child processes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    socket.local_addr().expect("local addr").port()
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
