//! A real Postfix (Debian's package) for a test: its own configuration,
//! queue and data directories in a temporary directory, `postfix -c DIR
//! start`, an smtpd on a free loopback port, and `postfix -c DIR stop` when
//! dropped, whether the test passed or panicked. The system's Postfix
//! (`/etc/postfix`) is neither used nor started.
//!
//! Postfix starts as root and runs its daemons as the `postfix` account the
//! package creates: tests that use it run as root (as CI does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::free_port;

/// Where Debian puts the `postfix` command (not on every user's PATH).
const POSTFIX: &str = "/usr/sbin/postfix";

pub struct Postfix {
    dir: tempfile::TempDir,
    /// The smtpd's port on 127.0.0.1.
    pub port: u16,
}

/// The Postfix daemons a sending-and-relaying test needs, none chrooted (a
/// chroot would need copies of /etc files in the queue directory).
const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

impl Postfix {
    /// Starts a Postfix whose main.cf is a minimal one (loopback only,
    /// clients of 127.0.0.0/8 may relay, every message discarded) followed
    /// by `main_cf`, whose settings win. Waits until its smtpd greets.
    pub fn start(main_cf: &str) -> Postfix {
        // Seen in CI, twice: a master whose postlogd never ran, so nothing
        // was logged and every Postfix process that logged hung on the full
        // postlog socket: `postfix stop`, and smtpd before its greeting.
        // Such an instance (or one that never greets for another reason,
        // its port taken meanwhile) is killed and a new one started, on
        // another port.
        let first = Postfix::start_once(main_cf);
        if first.logs() && first.greets() {
            return first;
        }
        eprintln!(
            "postfix did not log or greet after its start: killed, started again\n{}",
            first.maillog()
        );
        drop(first);
        let second = Postfix::start_once(main_cf);
        assert!(
            second.logs(),
            "postfix logs nothing (postlogd does not run)"
        );
        assert!(
            second.greets(),
            "postfix did not greet on port {} in 30s: {}",
            second.port,
            second.maillog()
        );
        second
    }

    /// Whether the master's startup line reached `maillog_file`, through
    /// postlogd, within 10 s.
    fn logs(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.maillog().contains("daemon started") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn start_once(main_cf: &str) -> Postfix {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "a real Postfix starts as root: run this test as root (CI does)"
        );
        assert!(
            Path::new(POSTFIX).exists(),
            "{POSTFIX} is missing: install Debian's postfix package (scripts/test does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        // Postfix's daemons, running as `postfix`, must reach the queue.
        set_mode(&root, 0o755);
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir(root.join(sub)).expect("postfix directory");
        }
        chown_postfix(&root.join("data"));
        let port = free_port();
        let main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {root}/queue\n\
             data_directory = {root}/data\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             maillog_file_prefixes = {root}\n\
             maillog_file = {root}/maillog\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             myhostname = postfix.test\n\
             mydestination =\n\
             mynetworks = 127.0.0.0/8\n\
             smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
             default_transport = discard\n\
             relay_transport = discard\n\
             local_transport = discard\n\
             {main_cf}\n",
            root = root.display()
        );
        std::fs::write(root.join("etc/main.cf"), main).expect("main.cf");
        let master = format!("127.0.0.1:{port} inet n - n - - smtpd\n{MASTER_CF}");
        std::fs::write(root.join("etc/master.cf"), master).expect("master.cf");
        let postfix = Postfix { dir, port };
        for action in ["check", "start"] {
            let out = postfix.command(action);
            assert!(
                out.status.success(),
                "postfix {action} failed: {}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                postfix.maillog()
            );
        }
        postfix
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn command(&self, action: &str) -> std::process::Output {
        Command::new(POSTFIX)
            .arg("-c")
            .arg(self.config_dir())
            .arg(action)
            .output()
            .expect("run postfix")
    }

    /// `postfix ACTION`, given up (and killed) after `limit`: it logs, and
    /// logging blocks when postlogd does not read.
    fn command_within(&self, action: &str, limit: Duration) {
        let Ok(mut child) = Command::new(POSTFIX)
            .arg("-c")
            .arg(self.config_dir())
            .arg(action)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        else {
            return;
        };
        crate::tools::wait_or_kill(&mut child, limit);
    }

    /// Postfix's log (`maillog_file`).
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Waits until the log has `needle` on at least `count` lines; returns
    /// the log. Fails the test after 30 s without them.
    pub fn wait_for_log(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.maillog();
            let found = log.lines().filter(|l| l.contains(needle)).count();
            if found >= count {
                return log;
            }
            // A wait that ends without its line is the test's failure, not
            // a step to go on from.
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {count} log line(s) with {needle:?}, found {found}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether its smtpd greets within 30 s.
    fn greets(&self) -> bool {
        use std::io::Read;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut greeting = [0u8; 4];
                if s.read_exact(&mut greeting).is_ok() && &greeting == b"220 " {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The master daemon's pid, while it runs.
    fn master_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        self.command_within("stop", Duration::from_secs(15));
        // Its daemons must be gone before the directory is.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid.is_some_and(alive) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(pid) = pid.filter(|&pid| alive(pid)) {
            // The master leads its own process group, its daemons with it.
            // SAFETY: kill(2) with a negative pid signals that group only.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// Whether `pid` runs (a zombie waiting for its parent does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(state != 'Z')
        })
        .unwrap_or(false)
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn chown_postfix(path: &Path) {
    let status = Command::new("chown")
        .arg("postfix")
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown postfix {}", path.display());
}
