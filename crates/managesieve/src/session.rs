//! One ManageSieve session (RFC 5804 2): not authenticated, then
//! authenticated as one user whose scripts every command works on.
//!
//! The directory says whose password is right, the guard counts failures,
//! the store keeps the scripts and havre-sieve says whether one compiles.
//! Every refusal is a `NO` while the client is connected; `BYE` ends the
//! session (LOGOUT's answer is `OK`, then the connection closes).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use havre_directory::sasl::{self, SaslError};
use havre_guard::{Offence, Service};
use havre_net::{Conn, ConnError, Io, LineEnds, Peer, guard_command};
use havre_store::{SieveDeleted, SieveRenamed};

use crate::ManageSieveServices;
use crate::proto::{
    Code, Command, Framed, Framer, Status, literal, name_problem, parse_command,
    parse_sasl_response, response, string,
};

/// The last words to a client whose command met a bug (the panic is logged).
const INTERNAL_ERROR: &[u8] =
    b"BYE \"Internal error occurred. Refer to server log for more information.\"\r\n";

const PLAINTEXT_DISABLED: &str =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/// SASL mechanisms, offered once TLS is on.
const MECHANISMS: &str = "PLAIN LOGIN";

/// Octets of a too-long line kept to read a literal announcement at its end.
const KEEP_ENDS: usize = 32;

/// What the command loop does next.
enum Flow {
    Continue,
    Logout,
    StartTls,
    /// Close after what was queued (too many failures, a literal too large).
    Close(&'static str),
}

/// A command as read from the connection.
enum Input {
    Command(Vec<u8>),
    Refused { response: Vec<u8>, close: bool },
}

pub(crate) struct Session {
    services: Arc<ManageSieveServices>,
    peer: SocketAddr,
    local: SocketAddr,
    tls: bool,
    user: Option<String>,
    errors: usize,
    auth_failures: u32,
    /// The name and method of the last login attempt, for the logs.
    last_login: Option<(String, &'static str)>,
    started: Instant,
    /// The session's line in `havre who`; a kick comes through its stop.
    entry: Option<havre_net::SessionEntry>,
    /// The director role: the backend the session is relayed to, once the
    /// login's answer is out.
    relay_to: Option<havre_net::Backend>,
    /// The client's address when a director logs in on her behalf
    /// (`XCLIENT ADDR=`, from `director.trusted_networks` only): logs,
    /// events and `havre who` show it; trust and the guard stay with the
    /// connection's.
    forwarded: Option<std::net::IpAddr>,
}

impl Session {
    pub(crate) fn new(
        services: Arc<ManageSieveServices>,
        peer: SocketAddr,
        local: SocketAddr,
        entry: Option<havre_net::SessionEntry>,
    ) -> Session {
        Session {
            services,
            peer,
            local,
            tls: false,
            user: None,
            errors: 0,
            auth_failures: 0,
            last_login: None,
            started: Instant::now(),
            entry,
            relay_to: None,
            forwarded: None,
        }
    }

    /// TLS is on, or the client is a director of the cluster
    /// (`director.trusted_networks`), whose network is trusted.
    fn secure(&self) -> bool {
        self.tls || self.services.directory.trusts_director(self.peer.ip())
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

    pub(crate) async fn run(&mut self, stream: Box<dyn Io>, stop: havre_net::Stop) {
        let settings = self.services.settings.clone();
        let mut conn = Conn::new(stream, settings.idle_timeout).with_stop(stop);
        conn.set_deadline(Some(self.started + settings.login_timeout));
        let greeting = self.greeting(&format!("{} havre ManageSieve ready.", settings.hostname));
        if conn.send(&greeting).await.is_err() {
            return self.log_end("Connection closed");
        }
        let client = self.peer.ip().to_string();
        let reason = loop {
            let peer = Peer {
                role: "managesieve",
                client: &client,
            };
            let next = guard_command(&mut conn, peer, INTERNAL_ERROR, async |conn| {
                self.next_command(conn).await
            })
            .await;
            let Some(next) = next else {
                return self.log_end("Disconnected: internal error");
            };
            let flow = match next {
                Ok(flow) => flow,
                Err(ConnError::Timeout) => {
                    let bye = response(Status::Bye, None, "Disconnected for inactivity.");
                    let _ = conn.send(&bye).await;
                    break "Disconnected for inactivity";
                }
                Err(ConnError::Deadline) => {
                    let bye = response(Status::Bye, None, "Disconnected for inactivity.");
                    let _ = conn.send(&bye).await;
                    break "Disconnected: login timeout";
                }
                Err(ConnError::Stopping) if self.entry.as_ref().is_some_and(|e| e.kicked()) => {
                    let bye = response(Status::Bye, None, "Disconnected by the administrator.");
                    let _ = conn.send(&bye).await;
                    break "Kicked by the administrator";
                }
                Err(ConnError::Stopping) => {
                    let bye = response(Status::Bye, Some(&Code::TryLater), "Server shutting down.");
                    let _ = conn.send(&bye).await;
                    break "Disconnected: Server shutting down";
                }
                Err(ConnError::Closed) => break "Connection closed",
                Err(ConnError::Io(_)) => break "Connection closed",
            };
            if let Some(backend) = self.relay_to.take() {
                return self.relay(conn, backend).await;
            }
            match flow {
                Flow::Continue => {
                    if self.user.is_none()
                        && self.auth_failures >= havre_directory::MAX_AUTH_FAILURES
                    {
                        let bye = response(Status::Bye, None, "Too many authentication failures.");
                        conn.queue(&bye);
                        let _ = conn.flush().await;
                        break "Disconnected: Too many authentication failures";
                    }
                    if self.errors >= self.services.settings.max_bad_commands {
                        let bye = response(Status::Bye, None, "Too many invalid commands.");
                        conn.queue(&bye);
                        let _ = conn.flush().await;
                        break "Disconnected: Too many invalid commands";
                    }
                    if !conn.has_buffered() && conn.flush().await.is_err() {
                        break "Connection closed";
                    }
                }
                Flow::Logout => {
                    let _ = conn.flush().await;
                    break "Logged out";
                }
                Flow::Close(why) => {
                    let _ = conn.flush().await;
                    break why;
                }
                Flow::StartTls => {
                    if conn.flush().await.is_err() {
                        break "Connection closed";
                    }
                    let dropped = conn.discard_buffered();
                    if dropped > 0 {
                        tracing::warn!(target: "managesieve", role = "managesieve", "{} sent {dropped} bytes after STARTTLS before the handshake; dropped", self.peer.ip());
                    }
                    let acceptor = self.services.tls.clone();
                    let Some(acceptor) = acceptor else {
                        return self.log_end("TLS is not configured");
                    };
                    match havre_net::accept_tls(conn, &acceptor, settings.login_timeout).await {
                        Ok((upgraded, _)) => {
                            conn = upgraded;
                            self.tls = true;
                            // RFC 5804 2.2: the capabilities again, then OK.
                            let caps = self.greeting("TLS negotiation successful.");
                            if conn.send(&caps).await.is_err() {
                                return self.log_end("Connection closed");
                            }
                        }
                        Err(e) => {
                            tracing::info!(target: "managesieve", role = "managesieve-login", "TLS handshake failed: rip={}: {e}", self.peer.ip());
                            return self.log_end("Disconnected: TLS handshake failed");
                        }
                    }
                }
            }
        };
        conn.shutdown().await;
        self.log_end(reason);
    }

    /// Relays the logged-in session to its backend until either side ends
    /// it, or a kick or the node's stop does.
    async fn relay(&mut self, conn: Conn, backend: havre_net::Backend) {
        let (Some(handoff), Some(user)) = (self.services.handoff.clone(), self.user.clone()) else {
            return;
        };
        let (_, _, end) = havre_net::relay(conn, backend, &user, &*handoff).await;
        match end {
            havre_net::RelayEnd::Closed(None) => self.log_end("Disconnected"),
            havre_net::RelayEnd::Closed(Some(e)) => self.log_end(&format!("Disconnected: {e}")),
            havre_net::RelayEnd::Stopped(mut conn) => {
                let kicked = self.entry.as_ref().is_some_and(|e| e.kicked());
                let (bye, why) = if kicked {
                    (
                        response(Status::Bye, None, "Disconnected by the administrator."),
                        "Kicked by the administrator",
                    )
                } else {
                    (
                        response(Status::Bye, Some(&Code::TryLater), "Server shutting down."),
                        "Disconnected: Server shutting down",
                    )
                };
                let _ = conn.send(&bye).await;
                conn.shutdown().await;
                self.log_end(why);
            }
        }
    }

    fn log_end(&self, reason: &str) {
        match &self.user {
            Some(user) => {
                tracing::info!(target: "managesieve", role = "managesieve", "{reason}: user=<{user}>, {}", self.endpoints());
            }
            None => {
                // Dovecot's words, which Fail2ban's dovecot filter counts.
                let line = havre_net::LoginEnd {
                    why: reason,
                    failures: self.auth_failures,
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
                tracing::info!(target: "managesieve", role = "managesieve-login", "{line}");
            }
        }
    }

    /// The capability lines (RFC 5804 1.7), then `OK text`.
    fn greeting(&self, text: &str) -> Vec<u8> {
        let mut out = self.capabilities();
        out.extend_from_slice(&response(Status::Ok, None, text));
        out
    }

    fn capabilities(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut line = |name: &str, value: Option<&str>| {
            string(&mut out, name.as_bytes());
            if let Some(value) = value {
                out.push(b' ');
                string(&mut out, value.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        };
        line("IMPLEMENTATION", Some("havre"));
        // Empty until TLS: RFC 5804 1.7 allows it only beside STARTTLS.
        line("SASL", Some(if self.secure() { MECHANISMS } else { "" }));
        line(
            "SIEVE",
            Some(&havre_sieve::supported_extensions().join(" ")),
        );
        let limits = havre_sieve::Limits::default();
        line("MAXREDIRECTS", Some(&limits.max_redirects.to_string()));
        if !self.tls && self.user.is_none() && self.services.tls.is_some() {
            line("STARTTLS", None);
        }
        if let Some(user) = &self.user {
            line("OWNER", Some(user));
        }
        line("VERSION", Some("1.0"));
        out
    }

    /// Queues a response.
    fn reply(&mut self, conn: &mut Conn, bytes: &[u8]) {
        conn.queue(bytes);
    }

    /// The next command's bytes: lines and literals, within the limits of
    /// the session's state (no script before login).
    async fn read_input(&mut self, conn: &mut Conn) -> Result<Input, ConnError> {
        let settings = &self.services.settings;
        let (limit, skip) = if self.user.is_some() {
            let limit = settings.max_line + settings.max_script_size;
            (limit, 4 * limit as u64)
        } else {
            // Before login: no literal longer than a line, none skipped.
            (settings.max_line, 0)
        };
        let mut framer = Framer::new(limit, skip);
        loop {
            let framed = match conn
                .read_line_keeping_ends(settings.max_line, KEEP_ENDS)
                .await?
            {
                LineEnds::Complete(line) => framer.line(&line),
                LineEnds::TooLong { head, tail } => framer.line_too_long(&head, &tail),
            };
            match framed {
                Framed::Complete(bytes) => return Ok(Input::Command(bytes)),
                Framed::Refused { response, close } => {
                    return Ok(Input::Refused { response, close });
                }
                Framed::Literal(n) => conn.read_exact_with(n, |b| framer.literal(b)).await?,
            }
        }
    }

    async fn next_command(&mut self, conn: &mut Conn) -> Result<Flow, ConnError> {
        conn.wait_command().await?;
        if self.user.is_some() {
            conn.set_deadline(None);
        }
        let bytes = match self.read_input(conn).await? {
            Input::Command(bytes) => bytes,
            Input::Refused { response, close } => {
                self.protocol_error();
                self.reply(conn, &response);
                return Ok(if close {
                    Flow::Close("Disconnected: literal too large")
                } else {
                    Flow::Continue
                });
            }
        };
        let command = match parse_command(&bytes) {
            Ok(command) => command,
            Err(e) => {
                self.protocol_error();
                self.reply(conn, &e.response());
                return Ok(Flow::Continue);
            }
        };
        if self.user.is_none() && !command.before_login() {
            self.errors += 1;
            self.reply(
                conn,
                &response(Status::No, None, "Authenticate first (AUTHENTICATE)."),
            );
            return Ok(Flow::Continue);
        }
        match command {
            Command::Capability => {
                let caps = self.greeting("Capability completed.");
                conn.queue(&caps);
            }
            Command::Noop { tag } => {
                let code = tag.map(Code::Tag);
                conn.queue(&response(Status::Ok, code.as_ref(), "NOOP completed."));
            }
            Command::Logout => {
                conn.queue(&response(Status::Ok, None, "Logout completed."));
                return Ok(Flow::Logout);
            }
            Command::StartTls => {
                if self.services.tls.is_none() {
                    self.reply(
                        conn,
                        &response(Status::No, None, "TLS support isn't enabled."),
                    );
                } else if self.tls {
                    self.reply(conn, &response(Status::No, None, "TLS is already active."));
                } else if self.user.is_some() {
                    self.reply(conn, &response(Status::No, None, "Already authenticated."));
                } else {
                    conn.queue(&response(Status::Ok, None, "Begin TLS negotiation now."));
                    return Ok(Flow::StartTls);
                }
            }
            Command::Xclient(attributes) => {
                let answer = self.xclient(&attributes);
                self.reply(conn, &answer);
            }
            // Boxed: a session waiting for its next command keeps only
            // that wait, not the biggest state of a login or a store call.
            Command::Authenticate { mechanism, initial } => {
                let answer = Box::pin(self.authenticate(conn, &mechanism, initial)).await?;
                self.reply(conn, &answer);
            }
            command => {
                let answer = Box::pin(self.scripts(command)).await;
                self.reply(conn, &answer);
            }
        }
        Ok(Flow::Continue)
    }

    /// XCLIENT from a director, before its login on the client's behalf.
    fn xclient(&mut self, attributes: &[(String, String)]) -> Vec<u8> {
        if !self.services.directory.trusts_director(self.peer.ip()) {
            return response(Status::No, None, "You are not from trusted IP.");
        }
        if self.user.is_some() {
            return response(Status::No, None, "Already authenticated.");
        }
        if let Some(ip) = havre_net::xclient_address(attributes) {
            self.forwarded = Some(ip);
            if let Some(entry) = &self.entry {
                entry.on_behalf_of(ip);
            }
        }
        response(Status::Ok, None, "Updated.")
    }

    /// A command the session could not take: it counts towards
    /// [`crate::ManageSieveSettings::max_bad_commands`] and in the guard.
    fn protocol_error(&mut self) {
        self.errors += 1;
        self.services
            .guard
            .note(self.peer.ip(), Offence::ProtocolError(Service::ManageSieve));
    }

    /// AUTHENTICATE (RFC 5804 2.1) with PLAIN or LOGIN.
    async fn authenticate(
        &mut self,
        conn: &mut Conn,
        mechanism: &str,
        initial: Option<String>,
    ) -> Result<Vec<u8>, ConnError> {
        if self.user.is_some() {
            return Ok(response(Status::No, None, "Already authenticated."));
        }
        if !self.secure() {
            return Ok(response(
                Status::No,
                Some(&Code::EncryptNeeded),
                PLAINTEXT_DISABLED,
            ));
        }
        let method: &'static str = if mechanism.eq_ignore_ascii_case("PLAIN") {
            "PLAIN"
        } else if mechanism.eq_ignore_ascii_case("LOGIN") {
            "LOGIN"
        } else {
            return Ok(response(
                Status::No,
                None,
                "Unsupported authentication mechanism.",
            ));
        };
        let aborted = || response(Status::No, None, "Authentication aborted by client.");
        let (user, password) = if method == "PLAIN" {
            let encoded = match initial {
                Some(initial) => initial,
                None => match self.challenge(conn, "").await? {
                    Ok(Some(answer)) => answer,
                    Ok(None) => return Ok(aborted()),
                    Err(refusal) => return Ok(refusal),
                },
            };
            match sasl::decode_plain_any(&encoded) {
                Ok(sasl::Plain::Own(credentials)) => (credentials.user, credentials.password),
                Ok(sasl::Plain::Behalf(behalf))
                    if behalf.login == havre_directory::cluster::DIRECTOR_LOGIN =>
                {
                    let found = self
                        .services
                        .directory
                        .authenticate_director(self.peer.ip(), &behalf.user, &behalf.password)
                        .await;
                    return Ok(self.login_verdict(found, &behalf.user, "director").await);
                }
                Err(SaslError::Base64 | SaslError::Malformed) => {
                    return Ok(response(Status::No, None, "Invalid SASL PLAIN response."));
                }
                Ok(sasl::Plain::Behalf(_)) | Err(SaslError::ProxyNotAllowed) => {
                    return Ok(self.failed("(proxy)", method).await);
                }
            }
        } else {
            let user = match initial {
                Some(initial) => initial,
                None => match self.challenge(conn, "Username:").await? {
                    Ok(Some(answer)) => answer,
                    Ok(None) => return Ok(aborted()),
                    Err(refusal) => return Ok(refusal),
                },
            };
            let password = match self.challenge(conn, "Password:").await? {
                Ok(Some(answer)) => answer,
                Ok(None) => return Ok(aborted()),
                Err(refusal) => return Ok(refusal),
            };
            match (
                sasl::decode_login_step(&user),
                sasl::decode_login_step(&password),
            ) {
                (Ok(user), Ok(password)) => (user, password),
                _ => return Ok(response(Status::No, None, "Invalid SASL LOGIN response.")),
            }
        };
        Ok(self.login(&user, &password, method).await)
    }

    /// Sends a server challenge (a string: RFC 5804 2.1) and reads the
    /// client's string; `Ok(None)` when it aborts with `"*"`.
    async fn challenge(
        &mut self,
        conn: &mut Conn,
        text: &str,
    ) -> Result<Result<Option<String>, Vec<u8>>, ConnError> {
        let mut out = Vec::new();
        string(&mut out, sasl::encode_base64(text.as_bytes()).as_bytes());
        out.extend_from_slice(b"\r\n");
        conn.send(&out).await?;
        let bytes = match self.read_input(conn).await? {
            Input::Command(bytes) => bytes,
            Input::Refused { response, .. } => return Ok(Err(response)),
        };
        Ok(parse_sasl_response(&bytes).map_err(|e| e.response()))
    }

    async fn login(&mut self, name: &str, password: &str, method: &'static str) -> Vec<u8> {
        let found = self
            .services
            .directory
            .authenticate_from(Some(self.peer.ip()), name, password)
            .await;
        self.login_verdict(found, name, method).await
    }

    async fn login_verdict(
        &mut self,
        found: Result<Option<havre_store::User>, havre_directory::DirectoryError>,
        name: &str,
        method: &'static str,
    ) -> Vec<u8> {
        match found {
            Ok(Some(user)) => {
                let backend = match self.services.handoff.clone() {
                    Some(handoff) => match handoff
                        .open(havre_net::Protocol::ManageSieve, &user.email, self.peer)
                        .await
                    {
                        Ok(backend) => Some(backend),
                        Err(e) => {
                            tracing::warn!(target: "managesieve", role = "managesieve-login", "proxy: user=<{}>, rip={}: {e}", user.email, self.peer.ip());
                            return response(
                                Status::No,
                                Some(&Code::TryLater),
                                "Account is temporarily unavailable.",
                            );
                        }
                    },
                    None => None,
                };
                self.user = Some(user.email.clone());
                self.auth_failures = 0;
                if let Some(entry) = &self.entry {
                    entry.logged_in(&user.email);
                }
                tracing::info!(target: "managesieve", role = "managesieve-login", "Login: user=<{}>, method={method}, {}", user.email, self.endpoints());
                self.services.events.record(
                    havre_events::Event::new(havre_events::Kind::Login, "managesieve-login")
                        .client(format!("[{}]", self.client_ip()))
                        .recipient(user.email.as_str())
                        .reason(method),
                );
                if let Some(backend) = backend {
                    tracing::info!(target: "managesieve", role = "managesieve-login", "proxy: user=<{}>, rip={}: started proxying to {}", user.email, self.peer.ip(), backend.address);
                    if let Some(entry) = &self.entry {
                        entry.relayed_to(&backend.address);
                    }
                    self.relay_to = Some(backend);
                }
                response(Status::Ok, None, "Logged in.")
            }
            Ok(None) => self.failed(name, method).await,
            Err(e) => {
                tracing::error!(target: "managesieve", role = "managesieve", "directory error during login: {e}");
                response(
                    Status::No,
                    Some(&Code::TryLater),
                    "Temporary authentication failure.",
                )
            }
        }
    }

    /// A wrong user or password: counted by the guard, answered late.
    async fn failed(&mut self, name: &str, method: &'static str) -> Vec<u8> {
        self.auth_failures += 1;
        let ip = self.peer.ip();
        self.services
            .guard
            .record(ip, Offence::FailedLogin(Service::ManageSieve))
            .await;
        let shown = havre_net::shown_user(name);
        // One line per attempt, in words the dovecot filter does not count:
        // it counts the connection's last line, as Dovecot's.
        tracing::info!(target: "managesieve", role = "managesieve-login", "auth failed: user=<{shown}>, method={method}, rip={ip}, attempt {}", self.auth_failures);
        self.services.events.record(
            havre_events::Event::new(havre_events::Kind::LoginFailed, "managesieve-login")
                .client(format!("[{ip}]"))
                .recipient(shown.as_str())
                .reason(method),
        );
        self.last_login = Some((shown, method));
        tokio::time::sleep(self.services.settings.auth_failure_delay).await;
        response(Status::No, None, "Authentication failed.")
    }

    /// The commands of the authenticated state.
    async fn scripts(&mut self, command: Command) -> Vec<u8> {
        let Some(user) = self.user.clone() else {
            return response(Status::No, None, "Authenticate first (AUTHENTICATE).");
        };
        match self.script_command(&user, command).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::error!(target: "managesieve", role = "managesieve", "user=<{user}>: store error: {e}");
                response(
                    Status::No,
                    Some(&Code::TryLater),
                    "Internal error, try again later.",
                )
            }
        }
    }

    async fn script_command(
        &mut self,
        user: &str,
        command: Command,
    ) -> Result<Vec<u8>, havre_store::StoreError> {
        let store = self.services.store.clone();
        let no = |code: Option<Code>, text: &str| response(Status::No, code.as_ref(), text);
        Ok(match command {
            Command::HaveSpace { name, size } => {
                if let Some(problem) = name_problem(&name) {
                    return Ok(no(None, problem));
                }
                match self.room(user, &name, size).await? {
                    Some(refusal) => refusal,
                    None => response(Status::Ok, None, "Putscript would succeed."),
                }
            }
            Command::PutScript { name, script } => {
                if let Some(problem) = name_problem(&name) {
                    return Ok(no(None, problem));
                }
                if let Some(refusal) = self.room(user, &name, script.len() as u64).await? {
                    return Ok(refusal);
                }
                let source = match self.checked(script) {
                    Ok(source) => source,
                    Err(refusal) => return Ok(refusal),
                };
                store.sieve_put(user, &name, &source).await?;
                tracing::info!(target: "managesieve", role = "managesieve", "user=<{user}>: stored script {:?} ({} bytes)", name, source.len());
                response(Status::Ok, None, "PUTSCRIPT completed.")
            }
            Command::CheckScript { script } => {
                if script.len() > self.services.settings.max_script_size {
                    return Ok(self.too_large());
                }
                match self.checked(script) {
                    Ok(_) => response(Status::Ok, None, "Script is valid."),
                    Err(refusal) => refusal,
                }
            }
            Command::ListScripts => {
                let mut out = Vec::new();
                for script in store.sieve_list(user).await? {
                    string(&mut out, script.name.as_bytes());
                    if script.active {
                        out.extend_from_slice(b" ACTIVE");
                    }
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(&response(Status::Ok, None, "Listscripts completed."));
                out
            }
            Command::SetActive { name } => {
                if name.is_empty() {
                    store.sieve_activate(user, None).await?;
                    tracing::info!(target: "managesieve", role = "managesieve", "user=<{user}>: no script active");
                    return Ok(response(Status::Ok, None, "No script is active."));
                }
                if store.sieve_activate(user, Some(&name)).await? {
                    tracing::info!(target: "managesieve", role = "managesieve", "user=<{user}>: activated script {name:?}");
                    response(Status::Ok, None, "Setactive completed.")
                } else {
                    no(Some(Code::NonExistent), "There is no script by that name.")
                }
            }
            Command::GetScript { name } => match store.sieve_get(user, &name).await? {
                Some(script) => {
                    let mut out = Vec::with_capacity(script.source.len() + 32);
                    literal(&mut out, script.source.as_bytes());
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(&response(Status::Ok, None, "Getscript completed."));
                    out
                }
                None => no(Some(Code::NonExistent), "There is no script by that name."),
            },
            Command::DeleteScript { name } => match store.sieve_delete(user, &name).await? {
                SieveDeleted::Deleted => {
                    tracing::info!(target: "managesieve", role = "managesieve", "user=<{user}>: deleted script {name:?}");
                    response(Status::Ok, None, "Deletescript completed.")
                }
                SieveDeleted::NoSuchScript => {
                    no(Some(Code::NonExistent), "There is no script by that name.")
                }
                SieveDeleted::Active => no(
                    Some(Code::Active),
                    "You may not delete an active script (SETACTIVE \"\" first).",
                ),
            },
            Command::RenameScript { from, to } => {
                if let Some(problem) = name_problem(&to) {
                    return Ok(no(None, problem));
                }
                match store.sieve_rename(user, &from, &to).await? {
                    SieveRenamed::Renamed => {
                        tracing::info!(target: "managesieve", role = "managesieve", "user=<{user}>: renamed script {from:?} to {to:?}");
                        response(Status::Ok, None, "Renamescript completed.")
                    }
                    SieveRenamed::NoSuchScript => {
                        no(Some(Code::NonExistent), "There is no script by that name.")
                    }
                    SieveRenamed::NameTaken => no(
                        Some(Code::AlreadyExists),
                        "A script with that name already exists.",
                    ),
                }
            }
            // Answered before the authenticated state's commands.
            other => no(None, &format!("{} is not allowed here.", other.name())),
        })
    }

    fn too_large(&self) -> Vec<u8> {
        response(
            Status::No,
            Some(&Code::QuotaMaxSize),
            &format!(
                "Script is too large (at most {} bytes).",
                self.services.settings.max_script_size
            ),
        )
    }

    /// Whether the user may store `size` octets as `name`: `None` when so,
    /// else the refusal (HAVESPACE and PUTSCRIPT alike).
    async fn room(
        &self,
        user: &str,
        name: &str,
        size: u64,
    ) -> Result<Option<Vec<u8>>, havre_store::StoreError> {
        let settings = &self.services.settings;
        if size > settings.max_script_size as u64 {
            return Ok(Some(self.too_large()));
        }
        if settings.max_scripts == 0 && settings.quota == 0 {
            return Ok(None);
        }
        let scripts = self.services.store.sieve_list(user).await?;
        let existing = scripts.iter().find(|s| s.name == name);
        if existing.is_none()
            && settings.max_scripts > 0
            && scripts.len() as u64 >= u64::from(settings.max_scripts)
        {
            return Ok(Some(response(
                Status::No,
                Some(&Code::QuotaMaxScripts),
                &format!(
                    "Too many scripts (at most {}): delete one first.",
                    settings.max_scripts
                ),
            )));
        }
        if settings.quota > 0 {
            let used: u64 = scripts.iter().map(|s| s.size).sum();
            let after = used.saturating_sub(existing.map_or(0, |s| s.size)) + size;
            if after > settings.quota {
                return Ok(Some(response(
                    Status::No,
                    Some(&Code::Quota),
                    &format!(
                        "Script storage quota exceeded ({after} of {} bytes).",
                        settings.quota
                    ),
                )));
            }
        }
        Ok(None)
    }

    /// The script as text if it compiles, else the `NO` listing every
    /// error with its line and column (one per line).
    fn checked(&self, script: Vec<u8>) -> Result<String, Vec<u8>> {
        let source = String::from_utf8(script)
            .map_err(|_| response(Status::No, None, "Script is not valid UTF-8."))?;
        let limits = havre_sieve::Limits {
            max_script_size: self.services.settings.max_script_size,
            ..havre_sieve::Limits::default()
        };
        let errors = havre_sieve::check(&source, &limits);
        if errors.is_empty() {
            return Ok(source);
        }
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        Err(response(Status::No, None, &text.join("\r\n")))
    }
}

#[cfg(test)]
mod tests;
