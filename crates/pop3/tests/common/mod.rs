//! A real POP3 server in-process on 127.0.0.1 (one port with STLS, one with
//! implicit TLS), a SQLite store in a temporary directory, a user
//! `alice@example.test` with password `secret`, messages delivered through
//! the real local delivery, and real clients (Python's poplib, curl) run as
//! child processes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use havre_directory::Directory;
use havre_mailbox::{DeliveryOutcome, DeliveryRequest, LocalDelivery, Mailboxes};
use havre_pop3::{MaildropLocks, Pop3Services, Pop3Settings};
use havre_store::{MailboxRecord, MessageRecord, NewUser, SqliteStore, Store};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

pub const USER: &str = "alice@example.test";
pub const PASSWORD: &str = "secret";

pub struct Server {
    pub dir: tempfile::TempDir,
    /// Port 110 style: plain, STLS offered.
    pub port: u16,
    /// Port 995 style: TLS from the first byte.
    pub tls_port: u16,
    pub store: Arc<dyn Store>,
    pub mailboxes: Mailboxes,
    delivered: AtomicU32,
    _stopper: havre_net::Stopper,
}

pub fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "mx.test".to_string()])
            .expect("self-signed certificate");
    let cert: CertificateDer<'static> = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("certificate and key");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Test settings: short failure delay so bad-password tests stay quick.
pub fn settings() -> Pop3Settings {
    let mut settings = Pop3Settings::new("mx.test");
    settings.auth_failure_delay = Duration::from_millis(100);
    settings
}

pub async fn start() -> Server {
    start_with(settings()).await
}

pub async fn start_with(settings: Pop3Settings) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("havre.db"))
            .await
            .expect("store"),
    );
    store.add_domain("example.test").await.expect("domain");
    // One argon2id hash for both users: hashing is slow in debug builds.
    let hash = havre_directory::password::hash_password(PASSWORD);
    for email in [USER, "bob@example.test"] {
        store
            .add_user(&NewUser {
                email: email.into(),
                password_hash: Some(hash.clone()),
                class: "staff".into(),
                quota: None,
            })
            .await
            .expect("user");
    }
    let mailboxes = Mailboxes::new(
        store.clone(),
        format!("{}/mail/%d/%n/Maildir", dir.path().display()),
        "mx.test",
    );
    let services = Arc::new(Pop3Services {
        settings,
        directory: Directory::new(store.clone(), "+"),
        mailboxes: mailboxes.clone(),
        tls: Some(tls_acceptor()),
        locks: MaildropLocks::new(),
        sessions: havre_net::Sessions::new(),
        guard: havre_guard::Guard::off(),
        events: havre_events::Events::disabled(),
        handoff: None,
    });
    let (stopper, stop) = havre_net::Stopper::new();
    let gate = havre_net::Gate::new("pop3", havre_net::Caps::UNLIMITED, stop);
    let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let implicit = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = plain.local_addr().expect("addr").port();
    let tls_port = implicit.local_addr().expect("addr").port();
    // The node's publisher of new services on reload; none here.
    let (_publisher, services) = tokio::sync::watch::channel(services);
    tokio::spawn(havre_pop3::serve(
        plain,
        false,
        services.clone(),
        gate.clone(),
    ));
    tokio::spawn(havre_pop3::serve(implicit, true, services, gate));
    Server {
        dir,
        port,
        tls_port,
        store,
        mailboxes,
        delivered: AtomicU32::new(0),
        _stopper: stopper,
    }
}

/// Three messages for alice: a plain one, one whose body lines start with
/// dots, a short one.
pub const MESSAGES: [&[u8]; 3] = [
    b"From: bob@remote.test\r\nSubject: one\r\n\r\nfirst line\r\nsecond line\r\nthird line\r\n",
    b"From: bob@remote.test\r\nSubject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n",
    b"From: bob@remote.test\r\nSubject: three\r\n\r\nbody three\r\n",
];

impl Server {
    /// Starts a server and delivers [`MESSAGES`] to alice.
    pub async fn with_messages() -> Server {
        let server = start().await;
        for message in MESSAGES {
            server.deliver(USER, message).await;
        }
        server
    }

    /// Delivers `message` through local delivery; returns its UID.
    pub async fn deliver(&self, user: &str, message: &[u8]) -> u32 {
        let n = self.delivered.fetch_add(1, Ordering::SeqCst);
        let path = self.dir.path().join(format!("incoming-{n}"));
        std::fs::write(&path, message).expect("write message");
        let outcome = LocalDelivery::new(self.mailboxes.clone())
            .deliver(DeliveryRequest {
                mailbox: user,
                sender: "bob@remote.test",
                message: &havre_mailbox::MessageSource::file(&path),
                message_id: &format!("TEST{n}X"),
                check_duplicate: false,
            })
            .await
            .expect("delivery");
        match outcome {
            DeliveryOutcome::Delivered(uid) | DeliveryOutcome::AlreadyDelivered(uid) => uid,
        }
    }

    pub async fn inbox(&self, user: &str) -> MailboxRecord {
        self.mailboxes
            .get(user, "INBOX")
            .await
            .expect("store")
            .expect("INBOX")
    }

    pub async fn messages(&self, user: &str) -> Vec<MessageRecord> {
        let inbox = self.inbox(user).await;
        self.store.message_list(inbox.id).await.expect("list")
    }

    pub async fn path_of(&self, user: &str, message: &MessageRecord) -> PathBuf {
        let inbox = self.inbox(user).await;
        self.mailboxes
            .message_path(user, &inbox, message)
            .expect("path")
    }

    /// What a client must receive for a message: its file with CRLF endings
    /// (wherever a login moved it: new/ -> cur/).
    pub async fn wire_bytes(&self, user: &str, message: &MessageRecord) -> Vec<u8> {
        let inbox = self.inbox(user).await;
        let bytes = self
            .mailboxes
            .read_message(user, &inbox, message)
            .await
            .expect("read message");
        crlf(&bytes)
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        self.mailboxes.root_of(user).root().to_path_buf()
    }

    /// Runs a poplib script; see [`PRELUDE`] for what it gets.
    pub async fn python(&self, script: &str) -> Vec<String> {
        let output = python(
            script,
            vec![
                self.port.to_string(),
                self.tls_port.to_string(),
                self.dir.path().display().to_string(),
            ],
        )
        .await;
        assert!(
            output.status.success(),
            "python failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A file written by a script into the test directory.
    pub fn out(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).expect("script output file")
    }
}

pub fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 20);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// The line of `lines` starting with `prefix` (the rest of it).
pub fn field<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {lines:#?}"))
}

/// Python helpers: `PORT`, `TLS_PORT`, `OUT` (the test directory);
/// `ctx()` an SSL context that does not verify; `pop()` a poplib session after
/// STLS; `pops()` one on the implicit-TLS port; `login(p)`; `fail(f, *args)`
/// the `-ERR` line a poplib call raised; `raw(tls=False)` a raw socket and its
/// reader (on the implicit-TLS port when `tls`); `line(f)` one response line;
/// `plain(user, pw)` a SASL PLAIN response.
pub const PRELUDE: &str = r#"
import base64, poplib, socket, ssl, sys, time
PORT, TLS_PORT, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
USER, PASSWORD = "alice@example.test", "secret"
def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c
def pop():
    p = poplib.POP3("127.0.0.1", PORT, timeout=30)
    p.stls(ctx())
    return p
def pops():
    return poplib.POP3_SSL("127.0.0.1", TLS_PORT, context=ctx(), timeout=30)
def login(p, user=USER, password=PASSWORD):
    p.user(user)
    p.pass_(password)
    return p
def login_retry(user=USER):
    for _ in range(100):
        p = pop()
        try:
            return login(p, user)
        except poplib.error_proto as e:
            if b"IN-USE" not in e.args[0]:
                raise
            p.close()
            time.sleep(0.05)
    raise SystemExit("maildrop never released")
def fail(f, *args):
    try:
        r = f(*args)
    except poplib.error_proto as e:
        return e.args[0].decode()
    raise SystemExit("expected -ERR, got %r" % (r,))
def raw(tls=False):
    s = socket.create_connection(("127.0.0.1", TLS_PORT if tls else PORT), timeout=30)
    if tls:
        s = ctx().wrap_socket(s)
    return s, s.makefile("rb")
def line(f):
    l = f.readline()
    return "<closed>" if not l else l.decode("latin-1").rstrip("\r\n")
def plain(user=USER, password=PASSWORD):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
def save(name, data):
    with open(OUT + "/" + name, "wb") as fh:
        fh.write(data)
def joined(lines):
    return b"".join(l + b"\r\n" for l in lines)
"#;

/// Runs `PRELUDE + script` with python3; `args` become `sys.argv[1:]`.
pub async fn python(script: &str, args: Vec<String>) -> Output {
    let script = format!("{PRELUDE}\n{script}");
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new("python3")
            .arg("-")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write script");
        child.wait_with_output().expect("python3 output")
    })
    .await
    .expect("python task")
}

/// Runs curl with `args`.
pub async fn curl(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(&args)
            .output()
            .expect("curl must be installed (apt-get install -y curl)")
    })
    .await
    .expect("curl task")
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
