//! Lines to the local syslog daemon: RFC 3164 datagrams on `/dev/log`
//! (`<PRI>Mmm dd hh:mm:ss havre/smtpd[pid]: text`), facility mail as
//! Postfix's, so the daemon files them with the rest of the mail log
//! (`/var/log/mail.log` on Debian) and adds the host name itself.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::line::Line;

/// LOG_MAIL (RFC 5424 6.2.1).
const FACILITY_MAIL: u8 = 2;

/// A daemon that does not take a line within this long is given up on for
/// that line (it goes to stderr instead): logging never stalls mail for long.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

pub(super) struct Syslog {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Syslog {
    /// Checks that `path` takes datagrams now; each line is then sent to the
    /// path anew, so a restarted daemon (a new socket) gets the next line.
    pub fn new(path: PathBuf) -> anyhow::Result<Syslog> {
        let socket = probe(&path)?;
        Ok(Syslog { socket, path })
    }

    pub fn send(&self, program: &str, pid: u32, line: &Line) -> io::Result<()> {
        let datagram = format!(
            "<{}>{} {program}[{pid}]: {}",
            FACILITY_MAIL * 8 + line.severity(),
            chrono::Local::now().format("%b %e %H:%M:%S"),
            line.text
        );
        self.socket.send_to(datagram.as_bytes(), &self.path)?;
        Ok(())
    }
}

/// An unbound datagram socket with the send timeout, once `path` was seen
/// to accept datagrams.
pub(super) fn probe(path: &PathBuf) -> anyhow::Result<UnixDatagram> {
    let probe = UnixDatagram::unbound().context("log.output: cannot create a socket")?;
    probe
        .connect(path)
        .with_context(|| format!("log.socket: cannot reach {}", path.display()))?;
    let socket = UnixDatagram::unbound().context("log.output: cannot create a socket")?;
    socket
        .set_write_timeout(Some(SEND_TIMEOUT))
        .context("log.output: cannot set the send timeout")?;
    Ok(socket)
}
