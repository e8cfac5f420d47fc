//! A remote SMTP server for tests of outbound delivery: a small Python
//! program that answers by a script and keeps what it receives.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the sink answers RCPT.
#[derive(Debug, Clone, Copy)]
pub enum SinkMode {
    /// 250 to everything.
    Accept,
    /// 451 to the very first RCPT, then 250.
    DeferOnce,
    /// 550 to every RCPT.
    Reject,
}

const SINK: &str = r#"
import os, socketserver, sys, threading
lock = threading.Lock()
port_file, outdir, mode = sys.argv[1], sys.argv[2], sys.argv[3]
state = {"rcpt": 0}
class Session(socketserver.StreamRequestHandler):
    def handle(self):
        def say(text):
            self.wfile.write(text.encode() + b"\r\n"); self.wfile.flush()
        with open(os.path.join(outdir, "..", "connections"), "a") as f:
            f.write("1\n")
        say("220 sink.test ESMTP")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").strip(); verb = line.upper()
            if verb.startswith("EHLO"):
                say("250-sink.test"); say("250-PIPELINING"); say("250-8BITMIME"); say("250 SMTPUTF8")
            elif verb.startswith("HELO"):
                say("250 sink.test")
            elif verb.startswith("MAIL"):
                say("250 2.1.0 Ok")
            elif verb.startswith("RCPT"):
                state["rcpt"] += 1
                addr = line.split(":", 1)[1].strip().strip("<>")
                if mode == "reject":
                    say(f"550 5.1.1 <{addr}>: Recipient address rejected: no such user here")
                elif mode == "defer-once" and state["rcpt"] == 1:
                    say("451 4.3.0 Temporary local problem, try again")
                else:
                    say("250 2.1.5 Ok")
            elif verb == "DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while True:
                    l = self.rfile.readline()
                    if l in (b".\r\n", b""):
                        break
                    body.append(l[1:] if l.startswith(b"..") else l)
                # Written beside the mail directory, then renamed into it:
                # a reader listing the directory never sees a half-written file.
                with lock:
                    n = len(os.listdir(outdir))
                    tmp = os.path.join(outdir, "..", f"m{n:04}.tmp")
                    with open(tmp, "wb") as f:
                        f.write(b"".join(body))
                    os.rename(tmp, os.path.join(outdir, f"m{n:04}.eml"))
                say("250 2.0.0 Ok: queued")
            elif verb == "RSET" or verb == "NOOP":
                say("250 2.0.0 Ok")
            elif verb == "QUIT":
                say("221 2.0.0 Bye"); return
            else:
                say("502 5.5.2 Error: command not recognized")
class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
srv = Server(("127.0.0.1", 0), Session)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
"#;

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start(mode: SinkMode) -> SmtpSink {
        let dir = tempfile::tempdir().expect("tempdir");
        let port_file = dir.path().join("port");
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).expect("mail dir");
        let mode = match mode {
            SinkMode::Accept => "accept",
            SinkMode::DeferOnce => "defer-once",
            SinkMode::Reject => "reject",
        };
        let script = dir.path().join("sink.py");
        std::fs::write(&script, SINK).expect("sink script");
        let child = Command::new("python3")
            .arg(&script)
            .arg(&port_file)
            .arg(&mail)
            .arg(mode)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().parse().expect("port");
            }
            assert!(Instant::now() < deadline, "the SMTP sink did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        SmtpSink { child, port, dir }
    }

    /// Messages received so far, in arrival order.
    pub fn messages(&self) -> Vec<String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned())
            .collect()
    }

    /// How many connections the sink accepted so far.
    pub fn connections(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("connections"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// Waits until `count` messages arrived (or 30 s).
    pub fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
