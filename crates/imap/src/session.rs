//! One IMAP connection: reading commands (lines and literals), the states of
//! RFC 9051 3 (not authenticated, authenticated, selected, logout), TLS, login,
//! IDLE, and the untagged updates owed after each command.

use std::net::SocketAddr;

use havre_imap_proto::{
    AuthLine, Code, Command, CommandFramer, Framed, ParseOptions, Status, Writer, is_idle_done,
    parse_auth_line, parse_command_with,
};
use havre_mailbox::Change;
use havre_net::{Conn, ConnError, Io, Line};
use tokio::sync::broadcast;

use crate::Services;
use crate::limits::Slot;
use crate::view::{Update, View};

/// Extensions the client turned on with ENABLE (or implicitly, RFC 7162 3.1).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Enabled {
    pub condstore: bool,
    pub qresync: bool,
    pub rev2: bool,
    pub utf8: bool,
}

/// How a command ended: the tagged response.
pub(crate) enum Outcome {
    Ok(Option<Code>, String),
    No(Option<Code>, String),
    Bad(String),
}

impl Outcome {
    pub fn ok(text: &str) -> Outcome {
        Outcome::Ok(None, text.to_string())
    }
    pub fn no(text: impl Into<String>) -> Outcome {
        Outcome::No(None, text.into())
    }
    pub fn no_code(code: Code, text: impl Into<String>) -> Outcome {
        Outcome::No(Some(code), text.into())
    }
    pub fn bad(text: impl Into<String>) -> Outcome {
        Outcome::Bad(text.into())
    }
}

/// What the connection loop does after a command.
pub(crate) enum Next {
    Continue,
    Logout,
    StartTls,
    Idle,
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
}

pub(crate) struct Session {
    pub services: Services,
    pub peer: SocketAddr,
    pub local: Option<SocketAddr>,
    pub tls: bool,
    pub user: Option<String>,
    user_slot: Option<Slot>,
    pub selected: Option<View>,
    pub enabled: Enabled,
    /// SEARCHRES (`$`): UIDs of the last `SEARCH RETURN (SAVE)`.
    pub saved: Vec<u32>,
    changes: Option<broadcast::Receiver<Change>>,
    pub out: Writer,
    bad_commands: u32,
    /// The tag of the command being run.
    pub tag: String,
    counters: (u64, u64),
}

const MAX_BAD_COMMANDS: u32 = 20;

impl Session {
    pub(crate) fn new(services: Services, peer: SocketAddr, local: Option<SocketAddr>) -> Session {
        Session {
            services,
            peer,
            local,
            tls: false,
            user: None,
            user_slot: None,
            selected: None,
            enabled: Enabled::default(),
            saved: Vec::new(),
            changes: None,
            out: Writer::new(),
            bad_commands: 0,
            tag: String::new(),
            counters: (0, 0),
        }
    }

    pub(crate) fn user(&self) -> &str {
        self.user.as_deref().unwrap_or("")
    }

    pub(crate) async fn run(
        mut self,
        stream: Box<dyn Io>,
        implicit_tls: bool,
        stop: havre_net::Stop,
    ) {
        let settings = self.services.settings.clone();
        let mut conn = Conn::new(stream, settings.login_timeout).with_stop(stop);
        // As Dovecot's login processes: the login timeout runs from the
        // connection, not from the last byte, so a client dripping bytes
        // cannot hold a connection without logging in.
        conn.set_deadline(Some(std::time::Instant::now() + settings.login_timeout));
        if implicit_tls {
            match self.start_tls(conn).await {
                Some(c) => conn = c,
                None => return,
            }
        }
        let greeting = format!(
            "* OK [CAPABILITY {}] {} IMAP havre ready.\r\n",
            self.capabilities().join(" "),
            settings.hostname
        );
        if conn.send(greeting.as_bytes()).await.is_err() {
            return;
        }
        loop {
            let next = match self.next_command(&mut conn).await {
                Ok(next) => next,
                Err(ConnError::Timeout) => {
                    let _ = conn.send(b"* BYE Disconnected for inactivity.\r\n").await;
                    self.log_end("Disconnected for inactivity");
                    return;
                }
                Err(ConnError::Deadline) => {
                    // Dovecot's words when its login timeout ends a session.
                    let _ = conn.send(b"* BYE Disconnected for inactivity.\r\n").await;
                    self.log_end("Disconnected: login timeout");
                    return;
                }
                Err(ConnError::Stopping) => {
                    self.shutting_down(&mut conn).await;
                    return;
                }
                Err(_) => {
                    self.log_end("Connection closed");
                    return;
                }
            };
            let bytes = self.out.take();
            self.counters.1 += bytes.len() as u64;
            conn.queue(&bytes);
            match next {
                Next::Continue => {
                    if self.bad_commands >= MAX_BAD_COMMANDS {
                        conn.queue(b"* BYE Too many invalid IMAP commands.\r\n");
                        let _ = conn.flush().await;
                        self.log_end("Disconnected: Too many invalid commands");
                        return;
                    }
                    if !conn.has_buffered() && conn.flush().await.is_err() {
                        return;
                    }
                }
                Next::Logout => {
                    let _ = conn.flush().await;
                    conn.shutdown().await;
                    self.log_end("Logged out");
                    return;
                }
                Next::StartTls => {
                    if conn.flush().await.is_err() {
                        return;
                    }
                    // Input pipelined before the handshake must not count as
                    // sent over TLS (RFC 9051 6.2.1).
                    conn.discard_buffered();
                    match self.start_tls(conn).await {
                        Some(c) => conn = c,
                        None => return,
                    }
                }
                Next::Idle => {
                    if let Err(e) = self.idle(&mut conn).await {
                        if matches!(e, ConnError::Stopping) {
                            self.shutting_down(&mut conn).await;
                            return;
                        }
                        if matches!(e, ConnError::Timeout) {
                            let _ = conn.send(b"* BYE Disconnected for inactivity.\r\n").await;
                        }
                        self.log_end("Disconnected in IDLE");
                        return;
                    }
                }
                Next::Authenticate { mechanism, initial } => {
                    if let Err(e) = self.authenticate(&mut conn, &mechanism, initial).await {
                        tracing::debug!(target: "imap", "authenticate: {e}");
                        return;
                    }
                    let bytes = self.out.take();
                    conn.queue(&bytes);
                    if conn.flush().await.is_err() {
                        return;
                    }
                }
            }
            if self.user.is_some() {
                conn.set_timeout(settings.idle_timeout);
                conn.set_deadline(None);
            }
        }
    }

    /// The node stops: Dovecot's last words, then the connection ends.
    async fn shutting_down(&self, conn: &mut Conn) {
        let _ = conn.send(b"* BYE Server shutting down.\r\n").await;
        conn.shutdown().await;
        self.log_end("Disconnected: Server shutting down");
    }

    fn log_end(&self, why: &str) {
        match &self.user {
            Some(user) => {
                tracing::info!(target: "imap", role = "imap", "{why}: user=<{user}>, in={} out={}", self.counters.0, self.counters.1)
            }
            None => {
                tracing::info!(target: "imap", role = "imap-login", "{why} (no auth attempts): rip={}", self.peer.ip())
            }
        }
    }

    async fn start_tls(&mut self, conn: Conn) -> Option<Conn> {
        let acceptor = self.services.tls.clone()?;
        let timeout = self.services.settings.login_timeout;
        match havre_net::accept_tls(conn, &acceptor, timeout).await {
            Ok((conn, _)) => {
                self.tls = true;
                Some(conn)
            }
            Err(err) => {
                tracing::info!(target: "imap", role = "imap-login", "TLS handshake failed: rip={}: {err}", self.peer.ip());
                None
            }
        }
    }

    /// Reads one whole command (with its literals) and runs it.
    async fn next_command(&mut self, conn: &mut Conn) -> Result<Next, ConnError> {
        conn.wait_command().await?;
        let settings = &self.services.settings;
        let mut framer = CommandFramer::new(settings.max_command_length, settings.max_message_size)
            .literal_plus(true);
        let command = loop {
            let line = match conn.read_line(settings.max_command_length).await? {
                Line::Complete(line) => line,
                Line::TooLong => {
                    framer.reset();
                    self.bad_commands += 1;
                    self.out
                        .untagged(Status::Bad, None, "Command line too long");
                    return Ok(Next::Continue);
                }
            };
            self.counters.0 += line.len() as u64;
            let framed = match framer.push_line(&line) {
                Ok(f) => f,
                Err(_) => {
                    framer.reset();
                    continue;
                }
            };
            match framed {
                Framed::Complete(command) => break command,
                Framed::NeedLiteral {
                    size,
                    synchronizing,
                } => {
                    if synchronizing {
                        conn.send(b"+ Ready for literal data\r\n").await?;
                    }
                    conn.read_exact_with(size, |bytes| {
                        framer.push_literal(bytes);
                    })
                    .await?;
                    self.counters.0 += size;
                }
                Framed::Refused(refusal) => {
                    self.out.raw(&refusal.response());
                    if refusal.close {
                        self.out.raw(&refusal.bye());
                        return Ok(Next::Logout);
                    }
                    conn.read_exact_with(refusal.discard, |_| {}).await?;
                    return Ok(Next::Continue);
                }
                Framed::Skip { discard } => {
                    conn.read_exact_with(discard, |_| {}).await?;
                }
            }
        };
        let options = ParseOptions {
            utf8_mailboxes: self.enabled.utf8,
        };
        match parse_command_with(&command, &options) {
            Ok(command) => Ok(self.execute(command).await),
            Err(err) => {
                self.bad_commands += 1;
                self.out.raw(&err.response());
                Ok(Next::Continue)
            }
        }
    }

    /// Runs a parsed command: the command's own responses, then the updates
    /// the client is owed, then the tagged response.
    async fn execute(&mut self, command: Command) -> Next {
        self.tag = command.tag.clone();
        let allow_expunge = crate::command::allows_expunge(&command.body);
        let (next, outcome) = self.dispatch(command.body).await;
        if matches!(next, Next::Continue | Next::Logout) {
            if self.selected.is_some() {
                self.send_updates(allow_expunge).await;
            }
            self.finish(outcome);
        }
        next
    }

    pub(crate) fn finish(&mut self, outcome: Option<Outcome>) {
        let Some(outcome) = outcome else {
            return;
        };
        let tag = self.tag.clone();
        match outcome {
            Outcome::Ok(code, text) => self.out.tagged(&tag, Status::Ok, code.as_ref(), &text),
            Outcome::No(code, text) => self.out.tagged(&tag, Status::No, code.as_ref(), &text),
            Outcome::Bad(text) => {
                self.bad_commands += 1;
                self.out.tagged(&tag, Status::Bad, None, &text)
            }
        };
    }

    /// Writes what changed in the selected mailbox since the client last heard.
    pub(crate) async fn send_updates(&mut self, allow_expunge: bool) {
        let store = self.services.mailboxes.store().clone();
        let Some(view) = self.selected.as_mut() else {
            return;
        };
        let updates = match view.poll(store.as_ref(), allow_expunge).await {
            Ok(u) => u,
            Err(err) => {
                tracing::error!(target: "imap", "cannot read mailbox changes: {err}");
                return;
            }
        };
        let (condstore, qresync) = (self.enabled.condstore, self.enabled.qresync);
        let mut vanished = havre_imap_proto::RangeSet::new();
        for update in updates {
            match update {
                Update::Expunge { seq, uid } => {
                    if qresync {
                        vanished.insert(uid);
                    } else {
                        self.out.expunge(seq);
                    }
                }
                Update::Exists(n) => {
                    if !vanished.is_empty() {
                        self.out.vanished(false, &vanished);
                        vanished = havre_imap_proto::RangeSet::new();
                    }
                    self.out.exists(n);
                }
                Update::Flags {
                    seq,
                    uid,
                    flags,
                    modseq,
                } => {
                    if !vanished.is_empty() {
                        self.out.vanished(false, &vanished);
                        vanished = havre_imap_proto::RangeSet::new();
                    }
                    let flags = crate::command::wire_flags(&flags);
                    let mut fetch = self.out.fetch(seq);
                    fetch.uid(uid).flags(&flags);
                    if condstore {
                        fetch.modseq(modseq);
                    }
                }
            }
        }
        if !vanished.is_empty() {
            self.out.vanished(false, &vanished);
        }
    }

    /// Logs in: one slot per user, notifications, and the log line.
    pub(crate) fn logged_in(&mut self, user: String, method: &str) -> Result<(), Outcome> {
        let slot = self.services.limits.acquire(
            format!("user:{user}"),
            self.services.settings.max_connections_per_user,
        );
        let Some(slot) = slot else {
            tracing::warn!(target: "imap", role = "imap-login", "Maximum number of connections from user+IP exceeded: user=<{user}>, rip={}", self.peer.ip());
            return Err(Outcome::no_code(
                Code::Limit,
                "Maximum number of connections from user+IP exceeded",
            ));
        };
        tracing::info!(
            target: "imap",
            role = "imap-login",
            "Login: user=<{user}>, method={method}, rip={}, lip={}{}",
            self.peer.ip(),
            self.local.map(|l| l.ip().to_string()).unwrap_or_default(),
            if self.tls { ", TLS" } else { "" }
        );
        self.changes = Some(self.services.mailboxes.notifier().subscribe(&user));
        self.user = Some(user);
        self.user_slot = Some(slot);
        Ok(())
    }

    /// AUTHENTICATE PLAIN/LOGIN, with SASL-IR (RFC 4959).
    async fn authenticate(
        &mut self,
        conn: &mut Conn,
        mechanism: &str,
        initial: Option<String>,
    ) -> Result<(), ConnError> {
        use havre_directory::sasl;
        let mechanism = mechanism.to_ascii_uppercase();
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(r) => r,
                    None => match self.auth_step(conn, "").await? {
                        Some(r) => r,
                        None => return Ok(()),
                    },
                };
                sasl::decode_plain(&response)
                    .ok()
                    .map(|c| (c.user, c.password))
            }
            "LOGIN" => {
                let user = match initial {
                    Some(r) => r,
                    None => match self
                        .auth_step(conn, &sasl::encode_base64(b"Username:"))
                        .await?
                    {
                        Some(r) => r,
                        None => return Ok(()),
                    },
                };
                let Some(password) = self
                    .auth_step(conn, &sasl::encode_base64(b"Password:"))
                    .await?
                else {
                    return Ok(());
                };
                match (
                    sasl::decode_login_step(&user),
                    sasl::decode_login_step(&password),
                ) {
                    (Ok(u), Ok(p)) => Some((u, p)),
                    _ => None,
                }
            }
            _ => {
                self.finish(Some(Outcome::no("Unsupported authentication mechanism")));
                return Ok(());
            }
        };
        let outcome = match credentials {
            None => Outcome::bad("Invalid authentication data"),
            Some((user, password)) => self.check_password(&user, &password, &mechanism).await,
        };
        self.finish(Some(outcome));
        Ok(())
    }

    /// One challenge/response of AUTHENTICATE; `None` when the client cancelled.
    async fn auth_step(
        &mut self,
        conn: &mut Conn,
        challenge: &str,
    ) -> Result<Option<String>, ConnError> {
        self.out.continuation_raw(challenge);
        let bytes = self.out.take();
        conn.send(&bytes).await?;
        let line = match conn
            .read_line(self.services.settings.max_command_length)
            .await?
        {
            Line::Complete(line) => line,
            Line::TooLong => {
                self.finish(Some(Outcome::bad("Authentication response too long")));
                return Ok(None);
            }
        };
        match parse_auth_line(&line) {
            Ok(AuthLine::Response(r)) => Ok(Some(r)),
            Ok(AuthLine::Cancel) => {
                self.finish(Some(Outcome::bad("Authentication cancelled")));
                Ok(None)
            }
            Err(_) => {
                self.finish(Some(Outcome::bad(
                    "Invalid base64 in authentication response",
                )));
                Ok(None)
            }
        }
    }

    pub(crate) async fn check_password(
        &mut self,
        user: &str,
        password: &str,
        method: &str,
    ) -> Outcome {
        match self.services.directory.authenticate(user, password).await {
            Ok(Some(found)) => {
                if let Err(outcome) = self.logged_in(found.email.clone(), method) {
                    return outcome;
                }
                if let Err(err) = self.services.mailboxes.ensure_defaults(&found.email).await {
                    tracing::error!(target: "imap", "cannot prepare the mailboxes of {}: {err}", found.email);
                }
                Outcome::Ok(
                    Some(Code::Capability(self.capabilities())),
                    "Logged in".into(),
                )
            }
            Ok(None) => {
                tracing::info!(target: "imap", role = "imap-login", "Aborted login (auth failed, 1 attempts): user=<{user}>, method={method}, rip={}", self.peer.ip());
                // A failed login costs the client time, not the server.
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                Outcome::no_code(Code::AuthenticationFailed, "Authentication failed.")
            }
            Err(err) => {
                tracing::error!(target: "imap", "directory error during login: {err}");
                Outcome::no_code(Code::Unavailable, "Temporary authentication failure")
            }
        }
    }

    /// IDLE (RFC 2177): updates pushed as they happen until `DONE`.
    async fn idle(&mut self, conn: &mut Conn) -> Result<(), ConnError> {
        self.out.continuation("idling");
        let bytes = self.out.take();
        conn.send(&bytes).await?;
        conn.release_idle_memory();
        self.out = havre_imap_proto::Writer::with_utf8(self.enabled.utf8);
        // Changes made by other processes (the CLI, another node) are picked
        // up by a slower poll; this node's own changes arrive at once.
        let mut poll = tokio::time::interval(std::time::Duration::from_secs(5));
        poll.tick().await;
        loop {
            if conn.buffered().contains(&b'\n') {
                let line = match conn.read_line(64).await? {
                    Line::Complete(line) => line,
                    Line::TooLong => Vec::new(),
                };
                let outcome = if is_idle_done(&line) {
                    Outcome::ok("Idle completed.")
                } else {
                    Outcome::bad("Expected DONE.")
                };
                if self.selected.is_some() {
                    self.send_updates(true).await;
                }
                self.finish(Some(outcome));
                let bytes = self.out.take();
                conn.send(&bytes).await?;
                return Ok(());
            }
            let changes = self.changes.as_mut();
            tokio::select! {
                filled = conn.fill_unless_stopping() => { filled?; }
                _ = async {
                    match changes {
                        Some(rx) => { let _ = rx.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    self.push_updates(conn).await?;
                }
                _ = poll.tick() => {
                    self.push_updates(conn).await?;
                }
            }
        }
    }

    async fn push_updates(&mut self, conn: &mut Conn) -> Result<(), ConnError> {
        if self.selected.is_some() {
            self.send_updates(true).await;
            let bytes = self.out.take();
            if !bytes.is_empty() {
                conn.send(&bytes).await?;
            }
        }
        Ok(())
    }
}
