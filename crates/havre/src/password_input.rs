//! Reading a new password: from standard input (`--password-stdin`, for
//! scripts) or from the terminal with echo off, asked twice.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};

pub fn read(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        if !from_stdin {
            bail!(
                "standard input is not a terminal: pass --password-stdin to read the password from it"
            );
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        if password.is_empty() {
            bail!("empty password on standard input");
        }
        return Ok(password);
    }
    let first = prompt("New password: ")?;
    let second = prompt("Retype new password: ")?;
    if first != second {
        bail!("the passwords do not match");
    }
    if first.is_empty() {
        bail!("empty password");
    }
    Ok(first)
}

/// A password to check (`auth test`): the first line of standard input when
/// asked to or when it is not a terminal, else asked once on the terminal.
pub fn read_one(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    prompt("Password: ")
}

/// Reads one line from the terminal without echoing it.
fn prompt(text: &str) -> anyhow::Result<String> {
    eprint!("{text}");
    let _ = std::io::stderr().flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr/tcsetattr only read/write it for
    // our own terminal, and the previous settings are restored below.
    let mut original: libc::termios = unsafe { std::mem::zeroed() };
    let have_tty = unsafe { libc::tcgetattr(fd, &mut original) } == 0;
    if have_tty {
        let mut silent = original;
        silent.c_lflag &= !libc::ECHO;
        silent.c_lflag |= libc::ECHONL;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &silent) };
    }
    let mut line = String::new();
    let result = std::io::stdin().lock().read_line(&mut line);
    if have_tty {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &original) };
    }
    result.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
