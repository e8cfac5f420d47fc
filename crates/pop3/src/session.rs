//! One POP3 session: the AUTHORIZATION / TRANSACTION / UPDATE state machine
//! of RFC 1939.
//!
//! The directory says whose password is right, the maildrop lock keeps a
//! second session of the user out, the mailbox service gives the INBOX's
//! index and expunges at QUIT. Every refusal is an `-ERR` line while the
//! client is connected; only a failure in the middle of a RETR or TOP (the
//! file cannot be read, the client stopped reading) closes the connection
//! without one, since the response could not be ended honestly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use havre_store::{MailboxRecord, MessageRecord};
use tokio::io::AsyncReadExt;

use havre_directory::sasl::{self, SaslError};
use havre_guard::{Offence, Service};
use havre_net::{Conn, ConnError, Io, Line, Peer, guard_command};

use crate::Pop3Services;
use crate::lock::MaildropGuard;
use crate::protocol::{
    self, BodyEncoder, CODE_AUTH, CODE_IN_USE, CODE_SYS_TEMP, CapaContext, Command, err, ok,
    printable,
};

const PLAINTEXT_DISABLED: &str =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/// Read size for message files.
/// The last words to a client whose command met a bug (the panic is logged),
/// as Dovecot words it, with RFC 3206's code for a temporary failure.
const INTERNAL_ERROR: &[u8] =
    b"-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information.\r\n";

const FILE_CHUNK: usize = 64 * 1024;

/// RETR output beyond this is written out at once, whatever is pipelined.
const FLUSH_AT: usize = 64 * 1024;

/// Counts for the logout line, as Dovecot's `pop3_logout_format`.
#[derive(Default)]
struct Stats {
    top: u32,
    top_bytes: u64,
    retr: u32,
    retr_bytes: u64,
    deleted: usize,
}

/// The TRANSACTION state: the locked maildrop and what the session did to it.
struct Maildrop {
    /// Held until UPDATE is over or the session ends.
    guard: Option<MaildropGuard>,
    user: String,
    inbox: MailboxRecord,
    messages: Vec<MessageRecord>,
    deleted: Vec<bool>,
    retrieved: Vec<bool>,
    stats: Stats,
}

impl Maildrop {
    /// The index of message `n`, or the `-ERR` text.
    fn index(&self, n: u32) -> Result<usize, String> {
        let idx = (n as usize).wrapping_sub(1);
        match self.deleted.get(idx) {
            None => Err(format!("There's no message {n}.")),
            Some(true) => Err(format!("Message {n} is deleted.")),
            Some(false) => Ok(idx),
        }
    }

    fn live(&self) -> impl Iterator<Item = (usize, &MessageRecord)> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted.get(*i).copied().unwrap_or(true))
    }

    fn size(&self) -> u64 {
        self.messages.iter().map(|m| m.size).sum()
    }
}

/// What the command loop does next.
enum Flow {
    Continue,
    Quit,
    StartTls,
}

pub(crate) struct Session {
    services: Arc<Pop3Services>,
    peer: SocketAddr,
    /// The client's address a director named before its login on her
    /// behalf (`XCLIENT ADDR=`, from `director.trusted_networks` only):
    /// the one logged. Trust and caps stay with `peer`.
    forwarded: Option<std::net::IpAddr>,
    local: SocketAddr,
    tls: bool,
    pending_user: Option<String>,
    maildrop: Option<Maildrop>,
    errors: usize,
    auth_attempts: u32,
    /// The name and method of the last login attempt, for the logs.
    last_login: Option<(String, &'static str)>,
    started: Instant,
    /// The session's line in `havre who`; a kick comes through its stop.
    entry: Option<havre_net::SessionEntry>,
    /// The director role: the user and backend the session is relayed to,
    /// once the login's answer is out.
    relay_to: Option<(String, havre_net::Backend)>,
}

impl Session {
    pub(crate) fn new(services: Arc<Pop3Services>, peer: SocketAddr, local: SocketAddr) -> Session {
        Session {
            services,
            peer,
            forwarded: None,
            local,
            tls: false,
            pending_user: None,
            maildrop: None,
            errors: 0,
            auth_attempts: 0,
            last_login: None,
            started: Instant::now(),
            entry: None,
            relay_to: None,
        }
    }

    /// TLS is on, or the client is a director of the cluster
    /// (`director.trusted_networks`), whose network is trusted.
    fn secure(&self) -> bool {
        self.tls || self.services.directory.trusts_director(self.peer.ip())
    }

    /// Lists the session in `havre who` once logged in (the connection
    /// follows the stop `Sessions::open` gave with `entry`).
    pub(crate) fn with_entry(mut self, entry: havre_net::SessionEntry) -> Session {
        self.entry = Some(entry);
        self
    }

    /// `rip=..., lip=...[, TLS]`, as Dovecot's login lines.
    fn endpoints(&self) -> String {
        format!(
            "rip={}, lip={}{}",
            self.client_ip(),
            self.local.ip(),
            if self.tls { ", TLS" } else { "" }
        )
    }

    /// The client's address as logs and `havre who` show it: the one a
    /// director named, else the connection's.
    fn client_ip(&self) -> std::net::IpAddr {
        self.forwarded.unwrap_or(self.peer.ip())
    }

    pub(crate) async fn run(
        mut self,
        stream: Box<dyn Io>,
        implicit_tls: bool,
        stop: havre_net::Stop,
    ) {
        let services = self.services.clone();
        let settings = &services.settings;
        let mut conn = Conn::new(stream, settings.idle_timeout).with_stop(stop);
        // Dovecot's login processes give a client this long from connecting
        // to logging in, however it trickles its bytes.
        conn.set_deadline(Some(self.started + settings.login_timeout));
        if implicit_tls {
            match self.start_tls(conn).await {
                Ok(c) => conn = c,
                Err(reason) => return self.log_end(&reason),
            }
        }
        let greeting = ok(&format!("{} POP3 havre ready", settings.hostname));
        if conn.send(greeting.as_bytes()).await.is_err() {
            return self.log_end("Connection closed");
        }
        let reason = loop {
            let client = self.peer.ip().to_string();
            let peer = Peer {
                role: "pop3",
                client: &client,
            };
            let next = guard_command(&mut conn, peer, INTERNAL_ERROR, async |conn| {
                self.next_command(conn).await
            })
            .await;
            // Nothing is deleted: only QUIT commits deletions.
            let Some(next) = next else {
                // The guard said goodbye and closed; the stream is not
                // touched again.
                if let Some(md) = self.maildrop.as_mut() {
                    md.guard = None;
                }
                return self.log_end("Disconnected: internal error");
            };
            let flow = match next {
                Ok(flow) => flow,
                Err(ConnError::Timeout) => {
                    let _ = conn
                        .send(err(None, "Disconnected for inactivity.").as_bytes())
                        .await;
                    break "Disconnected for inactivity".to_string();
                }
                Err(ConnError::Deadline) => {
                    // Dovecot's words when its login timeout ends a session.
                    let _ = conn
                        .send(err(None, "Disconnected for inactivity.").as_bytes())
                        .await;
                    break "Disconnected: login timeout".to_string();
                }
                Err(ConnError::Stopping) if self.entry.as_ref().is_some_and(|e| e.kicked()) => {
                    // Nothing is deleted: only QUIT commits deletions.
                    let _ = conn
                        .send(err(None, "Disconnected by the administrator.").as_bytes())
                        .await;
                    break "Kicked by the administrator".to_string();
                }
                Err(ConnError::Stopping) => {
                    let _ = conn
                        .send(err(Some(CODE_SYS_TEMP), "Server shutting down.").as_bytes())
                        .await;
                    break "Disconnected: Server shutting down".to_string();
                }
                Err(ConnError::Closed) => break "Connection closed".to_string(),
                Err(ConnError::Io(e)) => break format!("Connection closed: {e}"),
            };
            if let Some((user, backend)) = self.relay_to.take() {
                return self.relay(conn, user, backend).await;
            }
            match flow {
                Flow::Continue => {
                    if self.maildrop.is_none()
                        && self.auth_attempts >= havre_directory::MAX_AUTH_FAILURES
                    {
                        // As Dovecot's pop3-login: the failure is answered,
                        // then the guesser must reconnect.
                        let _ = conn.flush().await;
                        break "Too many authentication failures".to_string();
                    }
                    if self.errors >= self.services.settings.max_bad_commands {
                        let _ = conn
                            .send(err(None, "Too many bad commands.").as_bytes())
                            .await;
                        break "Too many bad commands".to_string();
                    }
                    if !conn.has_buffered() && conn.flush().await.is_err() {
                        break "Connection closed".to_string();
                    }
                }
                Flow::Quit => {
                    let _ = conn.flush().await;
                    break "Logged out".to_string();
                }
                Flow::StartTls => {
                    if conn.flush().await.is_err() {
                        break "Connection closed".to_string();
                    }
                    let dropped = conn.discard_buffered();
                    if dropped > 0 {
                        tracing::warn!(target: "pop3", role = "pop3", "{} sent {dropped} bytes after STLS before the handshake; dropped", self.peer.ip());
                    }
                    match self.start_tls(conn).await {
                        Ok(c) => conn = c,
                        Err(reason) => return self.log_end(&reason),
                    }
                }
            }
        };
        // The maildrop is free before the client can see the connection end.
        if let Some(md) = self.maildrop.as_mut() {
            md.guard = None;
        }
        conn.shutdown().await;
        self.log_end(&reason);
    }

    fn log_end(&mut self, reason: &str) {
        match self.maildrop.take() {
            Some(md) => {
                let s = &md.stats;
                tracing::info!(
                    target: "pop3",
                    role = "pop3",
                    "Disconnected: {reason} user=<{}>, {}, top={}/{}, retr={}/{}, del={}/{}, size={}",
                    md.user,
                    self.endpoints(),
                    s.top,
                    s.top_bytes,
                    s.retr,
                    s.retr_bytes,
                    s.deleted,
                    md.messages.len(),
                    md.size()
                );
            }
            None => {
                // Dovecot's words, which Fail2ban's dovecot filter counts.
                let line = havre_net::LoginEnd {
                    why: reason,
                    failures: self.auth_attempts,
                    secs: self.started.elapsed().as_secs(),
                    last: self
                        .last_login
                        .as_ref()
                        .map(|(user, method)| (user.as_str(), *method)),
                    remote: self.peer.ip(),
                    local: Some(self.local.ip()),
                    tls: self.tls,
                }
                .line();
                tracing::info!(target: "pop3", role = "pop3-login", "{line}");
            }
        }
    }

    async fn start_tls(&mut self, conn: Conn) -> Result<Conn, String> {
        let Some(acceptor) = self.services.tls.clone() else {
            return Err("TLS is not configured".into());
        };
        let timeout = self.services.settings.idle_timeout;
        match havre_net::accept_tls(conn, &acceptor, timeout).await {
            Ok((conn, description)) => {
                tracing::debug!(target: "pop3", role = "pop3", "TLS established from {}: {description}", self.peer.ip());
                self.tls = true;
                // RFC 2595 4: nothing from before TLS carries over.
                self.pending_user = None;
                Ok(conn)
            }
            Err(e) => Err(format!("TLS handshake failed: {e}")),
        }
    }

    /// Queues a response; `-ERR` ones count towards the bad-command limit.
    fn reply(&mut self, conn: &mut Conn, response: &str) {
        if response.starts_with("-ERR") {
            self.errors += 1;
        }
        conn.queue(response.as_bytes());
    }

    async fn next_command(&mut self, conn: &mut Conn) -> Result<Flow, ConnError> {
        conn.wait_command().await?;
        if self.maildrop.is_some() {
            conn.set_deadline(None);
        }
        let line = match conn.read_line(self.services.settings.max_line).await? {
            Line::Complete(line) => line,
            Line::TooLong => {
                self.services
                    .guard
                    .note(self.peer.ip(), Offence::ProtocolError(Service::Pop3));
                self.reply(conn, &err(None, "Line too long."));
                return Ok(Flow::Continue);
            }
        };
        let command = match protocol::parse_command(&line) {
            Ok(command) => command,
            Err(e) => {
                self.services
                    .guard
                    .note(self.peer.ip(), Offence::ProtocolError(Service::Pop3));
                self.reply(conn, &err(None, &e.message()));
                return Ok(Flow::Continue);
            }
        };
        match (&self.maildrop, command) {
            (_, Command::Capa) => {
                let lines = protocol::capabilities(CapaContext {
                    tls_available: self.services.tls.is_some(),
                    tls_active: self.tls,
                });
                self.reply(
                    conn,
                    &protocol::multiline("Capability list follows", &lines),
                );
            }
            (_, Command::Noop) => self.reply(conn, &ok("")),
            (None, Command::Quit) => {
                conn.queue(ok("Logging out.").as_bytes());
                return Ok(Flow::Quit);
            }
            (Some(_), Command::Quit) => {
                let response = self.update().await;
                conn.queue(response.as_bytes());
                return Ok(Flow::Quit);
            }
            (None, Command::Stls) => {
                if self.services.tls.is_none() {
                    self.reply(conn, &err(None, "TLS support isn't enabled."));
                } else if self.tls {
                    self.reply(conn, &err(None, "TLS is already active."));
                } else {
                    conn.queue(ok("Begin TLS negotiation now.").as_bytes());
                    return Ok(Flow::StartTls);
                }
            }
            (None, Command::User(name)) => {
                let response = if self.secure() {
                    self.pending_user = Some(name);
                    ok("")
                } else {
                    err(Some(CODE_AUTH), PLAINTEXT_DISABLED)
                };
                self.reply(conn, &response);
            }
            (None, Command::Pass(password)) => {
                let response = if !self.secure() {
                    err(Some(CODE_AUTH), PLAINTEXT_DISABLED)
                } else {
                    match self.pending_user.take() {
                        None => err(None, "No username given."),
                        Some(user) => self.login(&user, &password, "PLAIN").await,
                    }
                };
                self.reply(conn, &response);
            }
            (None, Command::Auth { mechanism, initial }) => {
                let response = self.auth(conn, mechanism, initial).await?;
                self.reply(conn, &response);
            }
            (None, Command::Xclient(attributes)) => {
                if !self.services.directory.trusts_director(self.peer.ip()) {
                    self.reply(conn, &err(None, "You are not from trusted IP."));
                } else {
                    if let Some(ip) = havre_net::xclient_address(&attributes) {
                        self.forwarded = Some(ip);
                        if let Some(entry) = &self.entry {
                            entry.on_behalf_of(ip);
                        }
                    }
                    self.reply(conn, &ok(""));
                }
            }
            (None, Command::Apop) => {
                self.reply(conn, &err(None, "APOP is not supported."));
            }
            (None, _) => {
                self.reply(
                    conn,
                    &err(None, "Not logged in: use USER/PASS or AUTH first."),
                );
            }
            (Some(_), Command::Stls) => self.reply(conn, &err(None, "TLS is already active.")),
            (
                Some(_),
                Command::User(_)
                | Command::Pass(_)
                | Command::Auth { .. }
                | Command::Apop
                | Command::Xclient(_),
            ) => self.reply(conn, &err(None, "Already logged in.")),
            (Some(md), Command::Stat) => {
                let (count, size) = md
                    .live()
                    .fold((0u64, 0u64), |(c, s), (_, m)| (c + 1, s + m.size));
                self.reply(conn, &ok(&format!("{count} {size}")));
            }
            (Some(md), Command::List(None)) => {
                let (count, size) = md
                    .live()
                    .fold((0u64, 0u64), |(c, s), (_, m)| (c + 1, s + m.size));
                let lines: Vec<String> = md
                    .live()
                    .map(|(i, m)| format!("{} {}", i + 1, m.size))
                    .collect();
                let response =
                    protocol::multiline(&format!("{count} messages ({size} octets)"), &lines);
                self.reply(conn, &response);
            }
            (Some(md), Command::List(Some(n))) => {
                let response = match md.index(n) {
                    Ok(i) => ok(&format!("{n} {}", md.messages[i].size)),
                    Err(text) => err(None, &text),
                };
                self.reply(conn, &response);
            }
            (Some(md), Command::Uidl(None)) => {
                let validity = md.inbox.uidvalidity;
                let lines: Vec<String> = md
                    .live()
                    .map(|(i, m)| format!("{} {}", i + 1, protocol::uidl(m.uid, validity)))
                    .collect();
                self.reply(conn, &protocol::multiline("", &lines));
            }
            (Some(md), Command::Uidl(Some(n))) => {
                let response = match md.index(n) {
                    Ok(i) => ok(&format!(
                        "{n} {}",
                        protocol::uidl(md.messages[i].uid, md.inbox.uidvalidity)
                    )),
                    Err(text) => err(None, &text),
                };
                self.reply(conn, &response);
            }
            (Some(_), Command::Retr(n)) => self.send_message(conn, n, None).await?,
            (Some(_), Command::Top(n, lines)) => self.send_message(conn, n, Some(lines)).await?,
            (Some(md), Command::Dele(n)) => {
                let response = match md.index(n) {
                    Ok(i) => {
                        if let Some(md) = self.maildrop.as_mut()
                            && let Some(flag) = md.deleted.get_mut(i)
                        {
                            *flag = true;
                        }
                        ok(&format!("Message {n} marked to be deleted."))
                    }
                    Err(text) => err(None, &text),
                };
                self.reply(conn, &response);
            }
            (Some(_), Command::Rset) => {
                let response = match self.maildrop.as_mut() {
                    Some(md) => {
                        md.deleted.iter_mut().for_each(|d| *d = false);
                        ok(&format!(
                            "Maildrop has {} messages ({} octets).",
                            md.messages.len(),
                            md.size()
                        ))
                    }
                    None => err(None, "Not logged in."),
                };
                self.reply(conn, &response);
            }
        }
        Ok(Flow::Continue)
    }

    /// AUTH (RFC 5034): the mechanism list, or a PLAIN exchange.
    async fn auth(
        &mut self,
        conn: &mut Conn,
        mechanism: Option<String>,
        initial: Option<String>,
    ) -> Result<String, ConnError> {
        let Some(mechanism) = mechanism else {
            let lines: Vec<String> = if self.secure() {
                protocol::SASL_MECHANISMS
                    .iter()
                    .map(|m| m.to_string())
                    .collect()
            } else {
                Vec::new()
            };
            return Ok(protocol::multiline("", &lines));
        };
        if !self.secure() {
            return Ok(err(Some(CODE_AUTH), PLAINTEXT_DISABLED));
        }
        if !protocol::SASL_MECHANISMS.contains(&mechanism.as_str()) {
            return Ok(err(None, "Unsupported authentication mechanism."));
        }
        let response = match initial {
            Some(initial) => initial,
            None => {
                conn.send(b"+ \r\n").await?;
                match conn.read_line(self.services.settings.max_line).await? {
                    Line::TooLong => return Ok(err(None, "Authentication response too long.")),
                    Line::Complete(line) => String::from_utf8_lossy(&line).trim().to_string(),
                }
            }
        };
        if response == "*" {
            return Ok(err(None, "Authentication aborted by client."));
        }
        match sasl::decode_plain_any(&response) {
            Ok(sasl::Plain::Own(credentials)) => Ok(self
                .login(&credentials.user, &credentials.password, "PLAIN")
                .await),
            Ok(sasl::Plain::Behalf(behalf))
                if behalf.login == havre_directory::cluster::DIRECTOR_LOGIN =>
            {
                Ok(self.login_director(&behalf.user, &behalf.password).await)
            }
            Err(SaslError::Base64 | SaslError::Malformed) => {
                Ok(err(None, "Invalid SASL PLAIN response."))
            }
            Ok(sasl::Plain::Behalf(_)) | Err(SaslError::ProxyNotAllowed) => {
                self.auth_attempts += 1;
                let ip = self.peer.ip();
                self.services
                    .guard
                    .record(ip, Offence::FailedLogin(Service::Pop3))
                    .await;
                tokio::time::sleep(self.services.settings.auth_failure_delay).await;
                Ok(err(Some(CODE_AUTH), "Authentication failed."))
            }
        }
    }

    /// Checks the password, locks the maildrop and takes its snapshot.
    async fn login(&mut self, name: &str, password: &str, method: &'static str) -> String {
        let verdict = self
            .services
            .directory
            .authenticate_from(Some(self.peer.ip()), name, password)
            .await;
        self.login_verdict(verdict, name, method).await
    }

    /// A director's login on `name`'s behalf (the backend of a director).
    async fn login_director(&mut self, name: &str, token: &str) -> String {
        let verdict = self
            .services
            .directory
            .authenticate_director(self.peer.ip(), name, token)
            .await;
        self.login_verdict(verdict, name, "director").await
    }

    async fn login_verdict(
        &mut self,
        verdict: Result<Option<havre_store::User>, havre_directory::DirectoryError>,
        name: &str,
        method: &'static str,
    ) -> String {
        self.auth_attempts += 1;
        let shown = printable(name, 100);
        self.last_login = Some((shown.clone(), method));
        let user = match verdict {
            Ok(Some(user)) => user,
            Ok(None) => {
                let ip = self.peer.ip();
                self.services
                    .guard
                    .record(ip, Offence::FailedLogin(Service::Pop3))
                    .await;
                tokio::time::sleep(self.services.settings.auth_failure_delay).await;
                tracing::info!(target: "pop3", role = "pop3-login", "auth failed: user=<{shown}>, method={method}, {}", self.endpoints());
                self.services.events.record(
                    havre_events::Event::new(havre_events::Kind::LoginFailed, "pop3-login")
                        .client(format!("[{}]", self.peer.ip()))
                        .recipient(shown.as_str())
                        .reason(method),
                );
                return err(Some(CODE_AUTH), "Authentication failed.");
            }
            Err(e) => {
                tracing::error!(target: "pop3", role = "pop3", "directory lookup of {shown} failed: {e}");
                return err(Some(CODE_SYS_TEMP), "Temporary authentication failure.");
            }
        };
        if let Some(handoff) = self.services.handoff.clone() {
            return self.hand_off(&*handoff, user.email, method).await;
        }
        let Some(guard) = self.services.locks.try_lock(&user.email) else {
            tracing::info!(target: "pop3", role = "pop3", "maildrop in use: user=<{}>, method={method}, {}", user.email, self.endpoints());
            return err(Some(CODE_IN_USE), "Maildrop already locked.");
        };
        match self.open_maildrop(&user.email).await {
            Ok((inbox, mut messages)) => {
                messages.sort_by_key(|m| m.uid);
                let n = messages.len();
                tracing::info!(target: "pop3", role = "pop3-login", "Login: user=<{}>, method={method}, {}", user.email, self.endpoints());
                self.services.events.record(
                    havre_events::Event::new(havre_events::Kind::Login, "pop3-login")
                        .client(format!("[{}]", self.client_ip()))
                        .recipient(user.email.as_str())
                        .reason(method),
                );
                if let Some(entry) = &self.entry {
                    entry.logged_in(&user.email);
                }
                self.auth_attempts = 0;
                self.maildrop = Some(Maildrop {
                    guard: Some(guard),
                    user: user.email,
                    inbox,
                    messages,
                    deleted: vec![false; n],
                    retrieved: vec![false; n],
                    stats: Stats::default(),
                });
                ok("Logged in.")
            }
            Err(e) => {
                tracing::error!(target: "pop3", role = "pop3", "cannot open the INBOX of {}: {e}", user.email);
                err(
                    Some(CODE_SYS_TEMP),
                    "Cannot open the maildrop, try again later.",
                )
            }
        }
    }

    /// The director role: `user`'s session goes to her backend, logged
    /// in there as her; the relay starts once the `+OK` is out.
    async fn hand_off(
        &mut self,
        handoff: &dyn havre_net::Handoff,
        user: String,
        method: &'static str,
    ) -> String {
        match handoff
            .open(havre_net::Protocol::Pop3, &user, self.peer)
            .await
        {
            Ok(backend) => {
                tracing::info!(target: "pop3", role = "pop3-login", "Login: user=<{user}>, method={method}, {}", self.endpoints());
                tracing::info!(target: "pop3", role = "pop3-login", "proxy: user=<{user}>, rip={}: started proxying to {}", self.peer.ip(), backend.address);
                self.services.events.record(
                    havre_events::Event::new(havre_events::Kind::Login, "pop3-login")
                        .client(format!("[{}]", self.peer.ip()))
                        .recipient(user.as_str())
                        .reason(method),
                );
                if let Some(entry) = &self.entry {
                    entry.logged_in(&user);
                    entry.relayed_to(&backend.address);
                }
                self.auth_attempts = 0;
                self.relay_to = Some((user, backend));
                ok("Logged in.")
            }
            Err(e) => {
                tracing::warn!(target: "pop3", role = "pop3-login", "proxy: user=<{user}>, rip={}: {e}", self.peer.ip());
                err(Some(CODE_SYS_TEMP), "Account is temporarily unavailable.")
            }
        }
    }

    /// Relays the logged-in session to its backend until either side ends
    /// it, or a kick or the node's stop does.
    async fn relay(&mut self, conn: Conn, user: String, backend: havre_net::Backend) {
        let Some(handoff) = self.services.handoff.clone() else {
            return;
        };
        let (up, down, end) = havre_net::relay(conn, backend, &user, &*handoff).await;
        let why = match end {
            havre_net::RelayEnd::Closed(None) => "Disconnected".to_string(),
            havre_net::RelayEnd::Closed(Some(e)) => format!("Disconnected: {e}"),
            havre_net::RelayEnd::Stopped(mut conn) => {
                let kicked = self.entry.as_ref().is_some_and(|e| e.kicked());
                let (line, why) = if kicked {
                    (
                        err(None, "Disconnected by the administrator."),
                        "Kicked by the administrator",
                    )
                } else {
                    (
                        err(Some(CODE_SYS_TEMP), "Server shutting down."),
                        "Disconnected: Server shutting down",
                    )
                };
                let _ = conn.send(line.as_bytes()).await;
                conn.shutdown().await;
                why.to_string()
            }
        };
        tracing::info!(target: "pop3", role = "pop3", "{why}: user=<{user}>, {}, in={up} out={down}", self.endpoints());
    }

    async fn open_maildrop(
        &self,
        user: &str,
    ) -> Result<(MailboxRecord, Vec<MessageRecord>), havre_mailbox::MailboxError> {
        let mailboxes = &self.services.mailboxes;
        let inbox = match mailboxes.get(user, "INBOX").await? {
            Some(inbox) => inbox,
            None => {
                // A user who never received mail: their folders appear now.
                mailboxes.ensure_defaults(user).await?;
                mailboxes
                    .get(user, "INBOX")
                    .await?
                    .ok_or_else(|| havre_mailbox::MailboxError::NoSuchMailbox("INBOX".into()))?
            }
        };
        mailboxes.sync(user, &inbox).await?;
        // The session holds the maildrop: its messages are seen, and move
        // from new/ to cur/ as Dovecot's POP3 moves them.
        mailboxes.seen_by_client(user, &inbox).await?;
        let messages = mailboxes.store().message_list(inbox.id).await?;
        Ok((inbox, messages))
    }

    /// RETR (`lines` is `None`) or TOP. The file is opened before the `+OK`,
    /// so a missing file is an `-ERR`; a read error after it closes the
    /// connection, since the response cannot be ended truthfully.
    async fn send_message(
        &mut self,
        conn: &mut Conn,
        n: u32,
        lines: Option<u64>,
    ) -> Result<(), ConnError> {
        let Some(md) = self.maildrop.as_ref() else {
            self.reply(conn, &err(None, "Not logged in."));
            return Ok(());
        };
        let idx = match md.index(n) {
            Ok(i) => i,
            Err(text) => {
                self.reply(conn, &err(None, &text));
                return Ok(());
            }
        };
        let record = &md.messages[idx];
        // Opened wherever a flag change or another program moved it.
        let size = record.size;
        let (mut file, path) = match self
            .services
            .mailboxes
            .open_message(&md.user, &md.inbox, record)
            .await
        {
            Ok((file, path)) => (tokio::fs::File::from_std(file), path),
            Err(
                havre_mailbox::MailboxError::Expunged(_)
                | havre_mailbox::MailboxError::MissingFile(_),
            ) => {
                tracing::warn!(target: "pop3", role = "pop3", "user=<{}>: message {n} (uid {}) is gone", md.user, record.uid);
                self.reply(conn, &err(None, "Message is no longer available."));
                return Ok(());
            }
            Err(havre_mailbox::MailboxError::Io { path, source })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                tracing::warn!(target: "pop3", role = "pop3", "user=<{}>: message {n} (uid {}) is gone: {}", md.user, record.uid, path.display());
                self.reply(conn, &err(None, "Message is no longer available."));
                return Ok(());
            }
            Err(e) => {
                tracing::error!(target: "pop3", role = "pop3", "user=<{}>: message {n} (uid {}): {e}", md.user, record.uid);
                self.reply(conn, &err(Some(CODE_SYS_TEMP), "Cannot read the message."));
                return Ok(());
            }
        };
        let user = md.user.clone();
        let mut encoder = match lines {
            None => {
                conn.queue(ok(&format!("{size} octets")).as_bytes());
                BodyEncoder::message()
            }
            Some(lines) => {
                conn.queue(ok("").as_bytes());
                BodyEncoder::top(lines)
            }
        };
        let mut buf = vec![0u8; FILE_CHUNK];
        let mut pending = Vec::with_capacity(FLUSH_AT + FILE_CHUNK * 2);
        while !encoder.is_done() {
            let read = match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) => {
                    tracing::error!(target: "pop3", role = "pop3", "user=<{user}>: reading {} failed: {e}", path.display());
                    return Err(ConnError::Io(e));
                }
            };
            encoder.encode(&buf[..read], &mut pending);
            if pending.len() >= FLUSH_AT {
                conn.queue(&pending);
                pending.clear();
                conn.flush().await.map_err(stalled_writer)?;
            }
        }
        encoder.finish(&mut pending);
        conn.queue(&pending);
        if let Some(md) = self.maildrop.as_mut() {
            match lines {
                None => {
                    md.stats.retr += 1;
                    md.stats.retr_bytes += encoder.written();
                    if let Some(flag) = md.retrieved.get_mut(idx) {
                        *flag = true;
                    }
                }
                Some(_) => {
                    md.stats.top += 1;
                    md.stats.top_bytes += encoder.written();
                }
            }
        }
        Ok(())
    }

    /// The UPDATE state (RFC 1939 6): expunge what DELE marked, mark what
    /// RETR fetched as seen, answer QUIT.
    async fn update(&mut self) -> String {
        let Some(md) = self.maildrop.as_mut() else {
            return ok("Logging out.");
        };
        let mailboxes = &self.services.mailboxes;
        let doomed: Vec<MessageRecord> = md
            .messages
            .iter()
            .zip(&md.deleted)
            .filter(|(_, d)| **d)
            .map(|(m, _)| m.clone())
            .collect();
        let mut failed = false;
        if !doomed.is_empty() {
            match mailboxes.expunge(&md.user, &md.inbox, &doomed).await {
                Ok(_) => md.stats.deleted = doomed.len(),
                Err(e) => {
                    tracing::error!(target: "pop3", role = "pop3", "user=<{}>: cannot expunge {} message(s): {e}", md.user, doomed.len());
                    failed = true;
                }
            }
        }
        let fetched: Vec<u32> = md
            .messages
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                md.retrieved.get(*i).copied().unwrap_or(false)
                    && !md.deleted.get(*i).copied().unwrap_or(false)
            })
            .map(|(_, m)| m.uid)
            .collect();
        if !fetched.is_empty()
            && let Err(e) = mark_seen(mailboxes, &md.user, &md.inbox, &fetched).await
        {
            tracing::warn!(target: "pop3", role = "pop3", "user=<{}>: cannot mark retrieved messages seen: {e}", md.user);
        }
        // RFC 1939 6: the lock goes before the answer, so a client that
        // logs in again at once after QUIT finds the maildrop free.
        md.guard = None;
        if failed {
            err(
                Some(CODE_SYS_TEMP),
                "Some deleted messages were not removed.",
            )
        } else if md.stats.deleted > 0 {
            ok("Logging out, messages deleted.")
        } else {
            ok("Logging out.")
        }
    }
}

/// A client that stops reading in the middle of a response: the session
/// ends without a last `-ERR`, which would wait another idle timeout and land
/// in the middle of the message anyway.
fn stalled_writer(e: ConnError) -> ConnError {
    match e {
        ConnError::Timeout => ConnError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "client stopped reading",
        )),
        other => other,
    }
}

/// Adds `\Seen` to the messages `uids`, to the flags the store holds then,
/// so a flag change another session made meanwhile stays (their files are
/// renamed for it, and the user's sessions told).
async fn mark_seen(
    mailboxes: &havre_mailbox::Mailboxes,
    user: &str,
    inbox: &MailboxRecord,
    uids: &[u32],
) -> Result<(), havre_mailbox::MailboxError> {
    let seen = ["\\Seen".to_string()];
    mailboxes
        .update_flags(user, inbox, uids, havre_store::FlagMode::Add, &seen, None)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use havre_directory::Directory;
    use havre_mailbox::Mailboxes;
    use havre_store::{SqliteStore, Store};
    use havre_testkit::faults::PanicOnRead;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::{MaildropLocks, Pop3Settings};

    #[tokio::test]
    async fn a_session_whose_command_panics_says_err_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("havre.db"))
                .await
                .unwrap(),
        );
        let services = Arc::new(Pop3Services {
            settings: Pop3Settings::new("mx.test"),
            directory: Directory::new(store.clone(), "+"),
            mailboxes: Mailboxes::new(store, format!("{}/%d/%n", dir.path().display()), "mx.test"),
            tls: None,
            locks: MaildropLocks::new(),
            sessions: havre_net::Sessions::new(),
            guard: havre_guard::Guard::off(),
            events: havre_events::Events::disabled(),
            handoff: None,
        });
        let peer = "192.0.2.1:40000".parse().unwrap();
        let local = "127.0.0.1:110".parse().unwrap();
        let (server, mut client) = PanicOnRead::pair();
        Session::new(services, peer, local)
            .run(Box::new(server), false, havre_net::Stop::never())
            .await;
        let mut seen = String::new();
        client.read_to_string(&mut seen).await.unwrap();
        assert_eq!(
            seen,
            "+OK mx.test POP3 havre ready\r\n\
             -ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information.\r\n"
        );
    }
}
