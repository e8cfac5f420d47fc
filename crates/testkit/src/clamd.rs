//! A real clamd (Debian's clamav-daemon) for a test: its own configuration,
//! signature database, log and sockets in a temporary directory, in the
//! foreground as a child of the test, stopped when dropped. The database
//! holds one signature written here, for the EICAR test file: no freshclam,
//! no download, and the system's clamd (`/etc/clamav`) is neither used nor
//! started.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// Where Debian puts clamd (not on every user's PATH).
const CLAMD: &str = "/usr/sbin/clamd";

/// The EICAR anti-virus test file (68 bytes): every scanner reports it,
/// and it does nothing.
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The name of the one signature of the test database. clamd reports it
/// with `.UNOFFICIAL` after it, as it does for every signature that is not
/// ClamAV's own: `Eicar-Test-Signature.UNOFFICIAL`.
pub const EICAR_SIGNATURE: &str = "Eicar-Test-Signature";

pub struct Clamd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// clamd's TCP port on 127.0.0.1.
    pub port: u16,
}

impl Clamd {
    /// Starts clamd with the EICAR signature only, listening on a free
    /// loopback port and on a unix socket; waits until it answers PING.
    ///
    /// The signature is a body signature (`.ndb`, any file type, anywhere
    /// in the file): however a mail client encodes the attachment, clamd
    /// decodes the MIME parts (`ScanMail`) and finds the bytes.
    pub fn start() -> Clamd {
        assert!(
            std::path::Path::new(CLAMD).exists(),
            "{CLAMD} is missing: install Debian's clamav-daemon package (scripts/test does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let db = root.join("db");
        std::fs::create_dir(&db).expect("database directory");
        let hex: String = EICAR.bytes().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            db.join("eicar.ndb"),
            format!("{EICAR_SIGNATURE}:0:*:{hex}\n"),
        )
        .expect("signature");
        std::fs::create_dir(root.join("tmp")).expect("temporary directory");
        let port = free_port();
        let conf = format!(
            "Foreground yes\n\
             TCPSocket {port}\n\
             TCPAddr 127.0.0.1\n\
             LocalSocket {root}/clamd.ctl\n\
             DatabaseDirectory {root}/db\n\
             TemporaryDirectory {root}/tmp\n\
             LogFile {root}/clamd.log\n\
             LogTime yes\n\
             PidFile {root}/clamd.pid\n\
             ScanMail yes\n\
             MaxThreads 4\n",
            root = root.display()
        );
        std::fs::write(root.join("clamd.conf"), conf).expect("clamd.conf");
        let output = std::fs::File::create(root.join("clamd.out")).expect("clamd.out");
        let child = Command::new(CLAMD)
            .arg("--config-file")
            .arg(root.join("clamd.conf"))
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("clamd.out"))
            .stderr(output)
            .spawn()
            .expect("start clamd");
        let mut clamd = Clamd {
            dir,
            child: Some(child),
            port,
        };
        clamd.wait_for_pong();
        clamd
    }

    /// `127.0.0.1:PORT`, the form of `antivirus.clamd`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// clamd's unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("clamd.ctl")
    }

    /// clamd's log and what it printed.
    pub fn log(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("clamd.log"), read("clamd.out"))
    }

    /// Stops clamd (SIGTERM, then SIGKILL after 10 s) and waits for it:
    /// its port refuses connections afterwards.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        crate::tools::wait_or_kill(&mut child, Duration::from_secs(10));
    }

    fn wait_for_pong(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.ping() {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("clamd exited ({status}) before answering:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "clamd did not answer PING on port {} in 60s:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut answer = Vec::new();
        s.write_all(b"zPING\0").is_ok() && s.read_to_end(&mut answer).is_ok() && answer == b"PONG\0"
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
    }
}
