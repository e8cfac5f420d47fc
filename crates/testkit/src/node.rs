//! One havre node under test.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

pub struct Havre {
    dir: tempfile::TempDir,
    bin: PathBuf,
    child: Option<Child>,
    /// RLIMIT_NOFILE (soft and hard) `havre serve` starts under.
    open_files: Option<u64>,
    /// `HAVRE_FAULT` for the next start only (havre_queue::fault).
    fault: Option<String>,
    /// The node's own PostgreSQL schema (`storage.backend = "postgres"`),
    /// dropped after the node is killed.
    postgres: Option<crate::cluster::PostgresSchema>,
    pub smtp_port: u16,
    pub submission_port: u16,
    pub submissions_port: u16,
    pub lmtp_port: u16,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    pub managesieve_port: u16,
    /// The web role's (metrics, health, graphs).
    pub http_port: u16,
    pub domain: String,
}

impl Havre {
    /// `havre init --dev` for example.test in a fresh directory, with the
    /// listeners moved to free ports. Not started yet.
    pub fn init(bin: &str) -> Havre {
        let dir = tempfile::tempdir().expect("tempdir");
        let node_dir = dir.path().join("node");
        let out = Command::new(bin)
            .args(["init", "--dir"])
            .arg(&node_dir)
            .args([
                "--domain",
                "example.test",
                "--hostname",
                "mx.example.test",
                "--dev",
            ])
            .output()
            .expect("run havre init");
        assert!(
            out.status.success(),
            "havre init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut node = Havre {
            dir,
            bin: PathBuf::from(bin),
            child: None,
            open_files: None,
            fault: None,
            postgres: None,
            smtp_port: free_port(),
            submission_port: free_port(),
            submissions_port: free_port(),
            lmtp_port: free_port(),
            imap_port: free_port(),
            imaps_port: free_port(),
            pop3_port: free_port(),
            pop3s_port: free_port(),
            managesieve_port: free_port(),
            http_port: free_port(),
            domain: "example.test".into(),
        };
        node.write_ports();
        node.set("log.file", "havre.log");
        // Test clients connect from loopback: treat them as the Internet,
        // not as trusted networks (tests that want trust set it back).
        node.set("relay.internal_networks", "[]");
        // Tests wait seconds, not the production minutes.
        node.set("queue.retry_min", "\"1s\"");
        node.set("queue.retry_max", "\"2s\"");
        // The spam filter scores test messages that are short of the
        // headers real mail carries, and would tag them or file them into
        // Junk: tests of other features would see its marks. The spam
        // tests turn it on (`spam.enabled = true`).
        node.set("spam.enabled", "false");
        // Every lookup (SPF, DMARC, DNSBL, MX) goes to a server on loopback.
        let dns = crate::dns::quiet_dns();
        node.set("dns.nameservers", &format!("[\"{dns}\"]"));
        // The whole suite runs on PostgreSQL as well as on SQLite: the test
        // command runs the delivery, IMAP, POP3, queue and crash tests again
        // with HAVRE_TEST_STORAGE=postgres.
        if std::env::var("HAVRE_TEST_STORAGE").is_ok_and(|v| v == "postgres") {
            node.use_own_postgres();
        }
        node
    }

    /// Moves the node's store to a PostgreSQL schema of its own, with the
    /// node's domain in it (`havre init` put it in the SQLite file).
    pub fn use_own_postgres(&mut self) {
        let schema = crate::cluster::PostgresSchema::create_blocking()
            .expect("a PostgreSQL schema for the node");
        self.share_storage(schema.url());
        self.postgres = Some(schema);
    }

    /// Puts the node's store at the PostgreSQL `url` (shared with other
    /// nodes), with the node's domain in it.
    pub fn share_storage(&mut self, url: &str) {
        self.set("storage.url", &format!("\"{url}\""));
        self.set("storage.backend", "\"postgres\"");
        let out = self.cli(&["domain", "add", &self.domain.clone()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || stderr.contains("already exists"),
            "domain add on PostgreSQL: {stderr}"
        );
    }

    /// Makes the node one of a cluster: node `id` (host name
    /// `node<id>.example.test`), its store at the PostgreSQL `storage_url`,
    /// its state in the shared Redis under `prefix`, its mailboxes under
    /// `mail`.
    pub fn join_cluster(
        &mut self,
        id: u8,
        storage_url: &str,
        prefix: &str,
        mail: &std::path::Path,
    ) {
        self.set("server.node_id", &id.to_string());
        self.set("server.hostname", &format!("\"node{id}.example.test\""));
        self.set("state.url", &format!("{:?}", crate::cluster::redis_url()));
        self.set("state.backend", "\"redis\"");
        self.set("state.prefix", &format!("{prefix:?}"));
        self.share_storage(storage_url);
        self.set(
            "mailbox.maildir",
            &format!("\"{}/%d/%n/Maildir\"", mail.display()),
        );
    }

    fn write_ports(&mut self) {
        for (key, port) in [
            ("mx.listen", self.smtp_port),
            ("submission.listen", self.submission_port),
            ("submission.tls_listen", self.submissions_port),
            ("lmtp.listen", self.lmtp_port),
            ("imap.listen", self.imap_port),
            ("imap.tls_listen", self.imaps_port),
            ("pop3.listen", self.pop3_port),
            ("pop3.tls_listen", self.pop3s_port),
            ("managesieve.listen", self.managesieve_port),
            ("http.listen", self.http_port),
        ] {
            self.set(key, &format!("[\"127.0.0.1:{port}\"]"));
        }
    }

    /// New free ports for every listener (another test took one of ours
    /// between `free_port` and the bind).
    fn new_ports(&mut self) {
        self.smtp_port = free_port();
        self.submission_port = free_port();
        self.submissions_port = free_port();
        self.lmtp_port = free_port();
        self.imap_port = free_port();
        self.imaps_port = free_port();
        self.pop3_port = free_port();
        self.pop3s_port = free_port();
        self.managesieve_port = free_port();
        self.http_port = free_port();
        self.write_ports();
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("node")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("node/havre.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("node/data")
    }

    pub fn smtp_addr(&self) -> String {
        format!("127.0.0.1:{}", self.smtp_port)
    }

    /// Runs `havre --config <this node> ARGS`.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, "")
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(&self.bin)
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run havre");
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes());
        child.wait_with_output().expect("havre output")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "havre {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.cli_ok(&["config", "set", key, value]);
    }

    /// A running mailbox backend with alice (password "secret") whose
    /// directors are `networks` (a TOML list).
    pub fn started_backend_of(bin: &str, networks: &str) -> Havre {
        let mut node = Havre::init(bin);
        node.add_user("alice@example.test");
        node.be_backend_of(networks);
        node.start();
        node
    }

    /// Makes this node a mailbox backend whose directors are `networks`
    /// (a TOML list): a cluster secret file of its own and
    /// `director.trusted_networks`.
    pub fn be_backend_of(&mut self, networks: &str) {
        std::fs::write(
            self.dir().join("director.secret"),
            "0123456789abcdef0123456789abcdef\n",
        )
        .expect("director.secret");
        self.set("director.secret_file", "\"director.secret\"");
        self.set("director.trusted_networks", networks);
    }

    pub fn add_user(&self, email: &str) {
        let out = self.cli_with_stdin(&["user", "add", email, "--password-stdin"], "secret\n");
        assert!(
            out.status.success(),
            "user add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A node of `bin` with `users` (password `secret`), configured by
    /// `configure`, then started.
    pub fn started(bin: &str, users: &[&str], configure: impl FnOnce(&mut Havre)) -> Havre {
        let mut node = Havre::init(bin);
        for user in users {
            node.add_user(user);
        }
        configure(&mut node);
        node.start();
        node
    }

    /// An Internet client (from `x@remote.test`) sends to `to` over the
    /// mx with swaks: whether it was accepted, and swaks' transcript.
    pub fn send_to_mx(&self, to: &str) -> (bool, String) {
        let out = crate::swaks(&[
            "--server",
            &self.smtp_addr(),
            "--from",
            "x@remote.test",
            "--to",
            to,
        ]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// [`Havre::submit`] logging in as `login` with `password` (an LDAP
    /// account's uid, say), sending from `from`: whether it was accepted,
    /// and swaks' transcript.
    pub fn submit_as(&self, login: &str, password: &str, from: &str, to: &str) -> (bool, String) {
        let out = self.swaks_submission(login, password, from, to, &[]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// `user` (added by [`Havre::add_user`], password `secret`) sends to
    /// `to` over submission (465, TLS, AUTH PLAIN) with swaks, `extra`
    /// being more of its arguments (`--header`...). Panics unless the
    /// message is accepted; returns swaks' transcript.
    pub fn submit(&self, user: &str, to: &str, extra: &[&str]) -> String {
        let out = self.swaks_submission(user, "secret", user, to, extra);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        text
    }

    fn swaks_submission(
        &self,
        login: &str,
        password: &str,
        from: &str,
        to: &str,
        extra: &[&str],
    ) -> Output {
        let server = format!("127.0.0.1:{}", self.submissions_port);
        let mut args = vec![
            "--server",
            &server,
            "--tlsc",
            "--auth",
            "PLAIN",
            "--auth-user",
            login,
            "--auth-password",
            password,
            "--from",
            from,
            "--to",
            to,
        ];
        args.extend_from_slice(extra);
        crate::swaks(&args)
    }

    /// `havre serve`, waiting until the SMTP listener accepts.
    pub fn start(&mut self) {
        for _ in 0..3 {
            match self.try_start() {
                Ok(()) => return,
                Err(stderr) if stderr.contains("cannot listen on") => self.new_ports(),
                Err(stderr) => panic!("havre serve exited: {stderr}"),
            }
        }
        panic!("havre serve could not bind its ports: {}", self.stderr());
    }

    /// `havre serve` armed to kill itself at a fault point
    /// (`HAVRE_FAULT=<point>[:<n>]`, see havre_queue::fault); the next
    /// `start` runs without it.
    pub fn start_with_fault(&mut self, fault: &str) {
        self.fault = Some(fault.to_string());
        self.start();
        self.fault = None;
    }

    /// `havre serve` that must refuse to start; returns what it said.
    pub fn start_refused(&mut self) -> String {
        match self.try_start() {
            Ok(()) => panic!("havre serve started but should have refused"),
            Err(stderr) => stderr,
        }
    }

    /// `havre serve` under a lowered open-file limit (soft and hard), as
    /// `ulimit -n` would start it.
    pub fn start_with_open_files(&mut self, limit: u64) {
        self.open_files = Some(limit);
        self.start();
    }

    /// The pid of `havre serve`, while it runs (to signal it, or to read its
    /// memory in `/proc/<pid>/status`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Waits for `havre serve` to exit (after a signal someone else sent);
    /// false if it still runs after `within`.
    pub fn wait_for_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while let Some(child) = self.child.as_mut() {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    fn try_start(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "already started");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("node/serve.stderr"))
            .expect("stderr file");
        let mut command = Command::new(&self.bin);
        command
            .arg("--config")
            .arg(self.config_path())
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(fault) = &self.fault {
            command.env("HAVRE_FAULT", fault);
        }
        if let Some(limit) = self.open_files {
            use std::os::unix::process::CommandExt;
            let rlimit = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            // SAFETY: setrlimit is async-signal-safe; it only reads `rlimit`,
            // copied into the closure.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = command.spawn().expect("spawn havre serve");
        // Ready means our own process said so after binding every listener:
        // a port that answers could belong to another test's server.
        let ready = format!("havre/serve[{}]: havre ", child.id());
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.said_started(&ready) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("{status}: {}", self.stderr()));
            }
            assert!(
                Instant::now() < deadline,
                "havre serve did not listen in 30s: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn said_started(&self, ready: &str) -> bool {
        let log = self.log() + &self.stderr();
        log.lines()
            .any(|line| line.contains(ready) && line.contains(" started: roles "))
    }

    /// curl's status code and body for `path` on the node's web role
    /// (`http.listen`).
    pub fn http_get(&self, path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{}{path}", self.http_port))
            .output()
            .expect("curl must be installed (the test command installs it)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// SIGKILL: the crash the durability guarantees are about.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: a clean stop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// SIGHUP to `havre serve`: what logrotate and `havre reload` send.
    pub fn hup(&self) {
        let pid = self.pid().expect("havre serve is running");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    }

    /// Waits until the log file has `needle` on at least `count` lines;
    /// returns the log. Fails the test after 30 s without them.
    pub fn wait_for_log(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
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

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node/serve.stderr")).unwrap_or_default()
    }

    /// The log file (`log.file`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node/havre.log")).unwrap_or_default()
    }

    pub fn maildir(&self, email: &str) -> PathBuf {
        let (local, domain) = email.rsplit_once('@').expect("an address");
        self.data_dir()
            .join("mail")
            .join(domain)
            .join(local)
            .join("Maildir")
    }

    /// Contents of every message in the user's INBOX (new/ and cur/).
    pub fn messages(&self, email: &str) -> Vec<String> {
        let root = self.maildir(email);
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
                continue;
            };
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths {
                out.push(std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
        out
    }

    /// Waits until the user has at least `count` messages.
    pub fn wait_for_messages(&self, email: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let messages = self.messages(email);
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many files are in the spool's `tmp` (big bodies being received)
    /// or `msg` (queued bodies too big to be kept with their records)
    /// directory.
    pub fn spool_files(&self, which: &str) -> usize {
        std::fs::read_dir(self.data_dir().join("queue").join(which))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// How many messages are queued (`havre queue list`), wherever their
    /// bodies are kept.
    pub fn queued(&self) -> usize {
        self.cli_ok(&["queue", "list", "--json"])
            .matches("\"queue_id\"")
            .count()
    }

    /// Waits until the queue is empty (every message delivered or given up).
    pub fn wait_for_empty_queue(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = self.queued();
            if left == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{left} message(s) still queued after 60s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Havre {
    fn drop(&mut self) {
        self.kill9();
    }
}
