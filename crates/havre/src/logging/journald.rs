//! Lines to systemd-journald in its native protocol (one datagram of
//! `FIELD=value` lines per entry on `/run/systemd/journal/socket`), so each
//! line keeps its own program name (`SYSLOG_IDENTIFIER=havre/smtpd`), its
//! priority and facility mail: `journalctl -t havre/smtpd`, Fail2ban's
//! systemd backend and a syslog daemon reading the journal all see Postfix's
//! layout. Entries beyond a datagram's size are cut short (journald takes
//! larger ones only through a memfd, which no log line here needs).

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use super::line::Line;

/// The message kept when a whole entry does not fit in a datagram.
const TRUNCATED: usize = 16 * 1024;

pub(super) struct Journald {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Journald {
    pub fn new(path: PathBuf) -> anyhow::Result<Journald> {
        let socket = super::syslog::probe(&path)?;
        Ok(Journald { socket, path })
    }

    pub fn send(&self, program: &str, pid: u32, line: &Line) -> io::Result<()> {
        match self
            .socket
            .send_to(&entry(program, pid, line, &line.text), &self.path)
        {
            Err(err) if err.raw_os_error() == Some(libc::EMSGSIZE) => {
                let mut end = TRUNCATED.min(line.text.len());
                while !line.text.is_char_boundary(end) {
                    end -= 1;
                }
                let short = format!("{}...", &line.text[..end]);
                self.socket
                    .send_to(&entry(program, pid, line, &short), &self.path)?;
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }
}

fn entry(program: &str, pid: u32, line: &Line, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 128);
    field(&mut out, "MESSAGE", message);
    field(&mut out, "PRIORITY", &line.severity().to_string());
    field(&mut out, "SYSLOG_FACILITY", "2");
    field(&mut out, "SYSLOG_IDENTIFIER", program);
    field(&mut out, "SYSLOG_PID", &pid.to_string());
    out
}

/// `NAME=value\n`, or for a value with a newline the length-prefixed form
/// (`NAME\n`, the length as 64-bit little-endian, the value, `\n`).
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    if value.contains('\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn a_value_with_a_newline_is_length_prefixed() {
        let mut out = Vec::new();
        field(&mut out, "MESSAGE", "a\nb");
        assert_eq!(out, b"MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n");
        out.clear();
        field(&mut out, "PRIORITY", "6");
        assert_eq!(out, b"PRIORITY=6\n");
    }
}
