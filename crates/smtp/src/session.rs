//! One SMTP or LMTP session: the command state machine.
//!
//! The session decides what to answer; the directory says who exists, the
//! queue makes messages durable, local delivery writes mailboxes. Every
//! refusal is a reply while the client is connected: unknown user (550 5.1.1),
//! foreign domain (554 5.7.1), too big (552 5.3.4), too many recipients
//! (452 4.5.3), too many errors (421 4.7.0), idle client (421 4.4.2).

use std::net::SocketAddr;
use std::sync::Arc;

use havre_checks::{AddedHeaders, Facts, Stage};
use havre_directory::{Address, MailboxFacts, RelayVerdict, Resolution, Target};
use havre_events::{Event, Kind};
use havre_guard::{Offence, Service};
use havre_queue::{LookedUp, QueueError, SpoolFile, new_queue_id};
use havre_store::{AddressEntry, QueueEntry, QueueRecipient, RecipientStatus};
use smtp_proto::{MAIL_SMTPUTF8, Request};

use crate::data::{self, BodySink};
use crate::local::Caller;
use crate::partly_delivered::ContentDigest;
use crate::pipeline::{self, Held};
use crate::received::{ReceivedFields, local_received_header, protocol_keyword, received_header};
use crate::{Mode, Services};
use havre_net::{Conn, ConnError, Line, Peer, guard_command};
use havre_smtp_codec::headers::{from_addresses, header_end, message_id};
use havre_smtp_codec::{Reply, parse_command, qualify_path};

mod lmtp;

struct Transaction {
    id: String,
    sender: String,
    smtputf8: bool,
    /// The size announced with MAIL FROM SIZE= (0: none).
    size: u64,
    /// Headers the checks asked for, from connect to the end of DATA.
    added: AddedHeaders,
    /// As accepted at RCPT, with what they resolved to (used by LMTP).
    recipients: Vec<(String, Vec<Target>)>,
    /// What RCPT's lookups learnt of the mailboxes they lead to: quotas
    /// (LMTP checks the message against them before each copy), Sieve.
    facts: Vec<(String, MailboxFacts)>,
    /// When the first of those lookups was made.
    looked_up_at: Option<std::time::Instant>,
    /// An open BDAT body, between chunks.
    bdat: Option<BodyWriter>,
    /// A BDAT chunk was refused: the rest are consumed and refused too.
    bdat_failed: bool,
}

impl Transaction {
    /// The entries RCPT read of the mailboxes the message goes to, for the
    /// attempt that follows its queueing at once.
    fn looked_up(&self) -> LookedUp {
        let mailboxes = self.recipients.iter().flat_map(|(_, targets)| targets);
        LookedUp {
            at: self.looked_up_at,
            entries: mailboxes
                .filter_map(|target| match target {
                    Target::Mailbox(mailbox) => Some(mailbox),
                    _ => None,
                })
                .filter_map(|mailbox| {
                    let facts = self.facts_of(mailbox)?;
                    let entry = AddressEntry {
                        domain_local: true,
                        user: true,
                        quota: facts.quota,
                        sieve: facts.sieve,
                        aliases: Vec::new(),
                    };
                    Some((mailbox.clone(), entry))
                })
                .collect(),
        }
    }

    /// What RCPT learnt of `mailbox` (the latest lookup).
    fn facts_of(&self, mailbox: &str) -> Option<MailboxFacts> {
        self.facts
            .iter()
            .rev()
            .find(|(m, _)| m == mailbox)
            .map(|(_, facts)| *facts)
    }
}

/// Counts like Postfix's "disconnect from ... ehlo=1 mail=1 rcpt=2/3 ...".
#[derive(Default)]
struct Stats {
    commands: Vec<(&'static str, u32, u32)>,
}

impl Stats {
    fn count(&mut self, name: &'static str, ok: bool) {
        match self.commands.iter_mut().find(|(n, _, _)| *n == name) {
            Some(entry) => {
                entry.2 += 1;
                entry.1 += ok as u32;
            }
            None => self.commands.push((name, ok as u32, 1)),
        }
    }

    fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .commands
            .iter()
            .map(|(name, ok, all)| {
                if ok == all {
                    format!("{}={ok}", name.to_lowercase())
                } else {
                    format!("{}={ok}/{all}", name.to_lowercase())
                }
            })
            .collect();
        let ok: u32 = self.commands.iter().map(|c| c.1).sum();
        let all: u32 = self.commands.iter().map(|c| c.2).sum();
        parts.push(if ok == all {
            format!("commands={all}")
        } else {
            format!("commands={ok}/{all}")
        });
        parts.join(" ")
    }
}

pub(crate) struct Session {
    mode: Mode,
    services: Arc<Services>,
    peer: SocketAddr,
    client_name: String,
    helo: Option<String>,
    esmtp: bool,
    tls: Option<String>,
    tx: Option<Transaction>,
    errors: usize,
    stats: Stats,
    /// The user who authenticated (submission).
    auth: Option<havre_store::User>,
    /// The connection began with TLS (port 465).
    implicit_tls: bool,
    /// The local account on the other end (local submission).
    caller: Option<Caller>,
    /// Headers the checks asked for at connect and HELO, for every message
    /// of the session.
    session_headers: AddedHeaders,
    /// The connect checks refused the client (554 greeting): every command
    /// but QUIT gets 503 (RFC 5321 3.1).
    refused: bool,
}

/// The last words to a client whose command met a bug (the panic is logged):
/// try again later, the message was not taken.
const INTERNAL_ERROR: &[u8] = b"451 4.3.0 Error: internal error, try again later\r\n";

/// What the command loop does next.
enum Flow {
    Continue,
    Quit,
    StartTls,
}

impl Session {
    pub(crate) fn new(mode: Mode, services: Arc<Services>, peer: SocketAddr) -> Session {
        Session {
            mode,
            services,
            peer,
            // Reverse DNS comes with the resolver (outbound delivery); until then
            // clients are named as Postfix names them without it.
            client_name: "unknown".into(),
            helo: None,
            esmtp: false,
            tls: None,
            tx: None,
            errors: 0,
            stats: Stats::default(),
            auth: None,
            implicit_tls: false,
            caller: None,
            session_headers: AddedHeaders::new(),
            refused: false,
        }
    }

    /// A local submission from `caller` (on the Unix socket of `havre
    /// sendmail`); the loopback address stands for the peer.
    pub(crate) fn new_local(services: Arc<Services>, caller: Caller) -> Session {
        let mut session =
            Session::new(Mode::Local, services, SocketAddr::from(([127, 0, 0, 1], 0)));
        session.client_name = "localhost".into();
        session.caller = Some(caller);
        session
    }

    /// The program name of the session's log lines: Postfix's smtpd, under
    /// the service names its master.cf gives submission (587) and smtps
    /// (465), which pflogsumm and Fail2ban's postfix filter recognise; its
    /// pickup for local submission.
    fn role(&self) -> &'static str {
        match self.mode {
            Mode::Mx => "smtpd",
            Mode::Submission if self.implicit_tls => "smtps/smtpd",
            Mode::Submission => "submission/smtpd",
            Mode::Lmtp => "lmtp",
            Mode::Local => "pickup",
        }
    }

    fn client(&self) -> String {
        match &self.caller {
            Some(caller) => format!("uid={} ({})", caller.uid, caller.account),
            None => format!("{}[{}]", self.client_name, self.peer.ip()),
        }
    }

    pub(crate) async fn run(
        mut self,
        stream: Box<dyn havre_net::Io>,
        implicit_tls: bool,
        stop: havre_net::Stop,
    ) {
        let settings = self.services.settings.clone();
        self.implicit_tls = implicit_tls;
        self.name_client().await;
        tracing::info!(target: "smtp", role = self.role(), "connect from {}", self.client());
        self.services
            .events
            .record(Event::new(Kind::Connect, self.role()).client(self.client()));
        let mut conn = Conn::new(stream, settings.idle_timeout).with_stop(stop);
        conn.set_deadline(Some(std::time::Instant::now() + settings.session_deadline));
        if implicit_tls {
            match self.start_tls(conn).await {
                Some(c) => conn = c,
                None => return,
            }
        }
        let greeting = match self.check_connect().await {
            None => Reply::plain(
                220,
                vec![format!(
                    "{} {}",
                    settings.hostname,
                    match self.mode {
                        Mode::Mx | Mode::Submission | Mode::Local => settings.banner.as_str(),
                        Mode::Lmtp => "LMTP havre",
                    }
                )],
            ),
            // RFC 5321 4.2.2: a greeting is 220, 554, or 421 and goodbye.
            Some(refusal) if refusal.code < 500 => {
                let _ = send_reply(&mut conn, &Reply::plain(421, refusal.lines)).await;
                conn.shutdown().await;
                return self.disconnect();
            }
            Some(refusal) => {
                self.refused = true;
                refusal
            }
        };
        if send_reply(&mut conn, &greeting).await.is_err() {
            return;
        }
        loop {
            let client = self.client();
            let peer = Peer {
                role: self.role(),
                client: &client,
            };
            let next = guard_command(&mut conn, peer, INTERNAL_ERROR, async |conn| {
                self.next_command(conn).await
            })
            .await;
            let Some(next) = next else {
                return self.disconnect();
            };
            let flow = match next {
                Ok(flow) => flow,
                Err(ConnError::Timeout) => {
                    let reply = Reply::new(
                        421,
                        "4.4.2",
                        format!("{} Error: timeout exceeded", settings.hostname),
                    );
                    let _ = send_reply(&mut conn, &reply).await;
                    tracing::info!(target: "smtp", role = self.role(), "timeout after {} from {}", self.last_command_name(), self.client());
                    break;
                }
                Err(ConnError::Deadline) => {
                    let reply = Reply::new(
                        421,
                        "4.4.2",
                        format!("{} Error: session time limit exceeded", settings.hostname),
                    );
                    let _ = send_reply(&mut conn, &reply).await;
                    tracing::warn!(target: "smtp", role = self.role(), "session time limit exceeded after {} from {}", self.last_command_name(), self.client());
                    break;
                }
                Err(ConnError::Stopping) => {
                    // RFC 5321 3.8: a server that shuts down sends 421 first.
                    let reply = Reply::new(
                        421,
                        "4.3.2",
                        format!(
                            "{} Service shutting down, try again later",
                            settings.hostname
                        ),
                    );
                    let _ = send_reply(&mut conn, &reply).await;
                    tracing::info!(target: "smtp", role = self.role(), "shutting down: closing session after {} from {}", self.last_command_name(), self.client());
                    break;
                }
                Err(ConnError::Closed) => {
                    if self.tx.is_some() {
                        tracing::info!(target: "smtp", role = self.role(), "lost connection after {} from {}", self.last_command_name(), self.client());
                    }
                    break;
                }
                Err(ConnError::Io(err)) => {
                    tracing::info!(target: "smtp", role = self.role(), "connection error from {}: {err}", self.client());
                    break;
                }
            };
            match flow {
                Flow::Continue => {
                    if self.errors >= settings.hard_error_limit {
                        let reply = Reply::new(
                            421,
                            "4.7.0",
                            format!("{} Error: too many errors", settings.hostname),
                        );
                        let _ = send_reply(&mut conn, &reply).await;
                        tracing::warn!(target: "smtp", role = self.role(), "too many errors after {} from {}", self.last_command_name(), self.client());
                        break;
                    }
                    if !conn.has_buffered() && conn.flush().await.is_err() {
                        break;
                    }
                }
                Flow::Quit => {
                    let _ = conn.flush().await;
                    break;
                }
                Flow::StartTls => {
                    if conn.flush().await.is_err() {
                        break;
                    }
                    let dropped = conn.discard_buffered();
                    if dropped > 0 {
                        tracing::warn!(target: "smtp", role = self.role(), "{} sent {dropped} bytes after STARTTLS before the handshake; dropped", self.client());
                    }
                    match self.start_tls(conn).await {
                        Some(c) => conn = c,
                        None => return self.disconnect(),
                    }
                }
            }
        }
        conn.shutdown().await;
        self.disconnect();
    }

    fn disconnect(&mut self) {
        if let Some(tx) = self.tx.take()
            && let Some(body) = tx.bdat
        {
            tokio::spawn(body.discard());
        }
        tracing::info!(target: "smtp", role = self.role(), "disconnect from {} {}", self.client(), self.stats.summary());
    }

    fn last_command_name(&self) -> &'static str {
        self.stats.commands.last().map(|c| c.0).unwrap_or("CONNECT")
    }

    async fn start_tls(&mut self, conn: Conn) -> Option<Conn> {
        let acceptor = self.services.tls.clone()?;
        let timeout = self.services.settings.idle_timeout;
        match havre_net::accept_tls(conn, &acceptor, timeout).await {
            Ok((conn, description)) => {
                tracing::info!(target: "smtp", role = self.role(), "TLS established from {}: {description}", self.client());
                self.tls = Some(description);
                // RFC 3207 4.2: forget everything learnt before TLS.
                self.helo = None;
                self.esmtp = false;
                self.tx = None;
                Some(conn)
            }
            Err(err) => {
                tracing::info!(target: "smtp", role = self.role(), "TLS handshake failed from {}: {err}", self.client());
                None
            }
        }
    }

    fn reply(&mut self, conn: &mut Conn, name: &'static str, reply: Reply) {
        if reply.is_error() {
            self.errors += 1;
            self.tell_guard(&reply);
        }
        self.stats.count(name, !reply.is_error());
        queue_reply(conn, &reply);
    }

    /// Unknown recipients (a dictionary attack) and bad commands count
    /// against the client's address; LMTP and local clients are the node's own.
    fn tell_guard(&self, reply: &Reply) {
        if !matches!(self.mode, Mode::Mx | Mode::Submission) {
            return;
        }
        let offence = match (reply.code, reply.status) {
            (550, "5.1.1") => Offence::UnknownRecipient,
            (500..=504, _) => Offence::ProtocolError(Service::Smtp),
            _ => return,
        };
        self.services.guard.note(self.peer.ip(), offence);
    }

    async fn next_command(&mut self, conn: &mut Conn) -> Result<Flow, ConnError> {
        // A stopping node still finishes the transaction under way.
        if self.tx.is_none() {
            conn.wait_command().await?;
        }
        let limit = self.services.settings.line_length_limit;
        let line = match conn.read_line(limit).await? {
            Line::Complete(line) => line,
            Line::TooLong => {
                self.reply(
                    conn,
                    "UNKNOWN",
                    Reply::new(500, "5.5.2", "Error: line too long"),
                );
                return Ok(Flow::Continue);
            }
        };
        // Local programs write `root`, not `root@domain`: completed before
        // the parser, which wants a domain.
        let line = match self.mode {
            Mode::Local => qualify_path(&line, |name| self.services.local_submission.qualify(name))
                .unwrap_or(line),
            _ => line,
        };
        let command = match parse_command(&line) {
            Ok(command) => command,
            Err(err) => {
                let name = command_word(&line);
                self.reply(conn, name, err.reply());
                return Ok(Flow::Continue);
            }
        };
        let name = command.name();
        if self.refused && !matches!(command, Request::Quit) {
            // RFC 5321 3.1: after a 554 greeting, only QUIT.
            self.reply(
                conn,
                name,
                Reply::new(503, "5.5.1", "Error: access denied, send QUIT"),
            );
            return Ok(Flow::Continue);
        }
        match command {
            Request::Ehlo { host } | Request::Helo { host } if self.mode == Mode::Lmtp => {
                let _ = host;
                self.reply(
                    conn,
                    name,
                    Reply::new(500, "5.5.1", "Error: this is LMTP, say LHLO"),
                );
            }
            Request::Lhlo { .. } if self.mode != Mode::Lmtp => {
                self.reply(
                    conn,
                    name,
                    Reply::new(500, "5.5.2", "Error: command not recognized"),
                );
            }
            Request::Ehlo { host } | Request::Lhlo { host } => {
                let reply = self.ehlo(host, true).await;
                self.reply(conn, name, reply);
            }
            Request::Helo { host } => {
                let reply = self.ehlo(host, false).await;
                self.reply(conn, name, reply);
            }
            Request::Mail { from } => {
                let reply = self.mail(from.address, from.size, from.flags).await;
                self.reply(conn, name, reply);
            }
            Request::Rcpt { to } => {
                let before = self.tx.as_ref().map_or(0, |tx| tx.recipients.len());
                let reply = self.rcpt(to.address).await;
                if before == 0 {
                    self.log_client();
                }
                self.reply(conn, name, reply);
            }
            Request::Data => return self.data(conn).await,
            Request::Bdat {
                chunk_size,
                is_last,
            } => return self.bdat(conn, chunk_size, is_last).await,
            Request::Rset => {
                self.reset();
                self.reply(conn, name, Reply::new(250, "2.0.0", "Ok"));
            }
            Request::Noop { .. } => self.reply(conn, name, Reply::new(250, "2.0.0", "Ok")),
            Request::Quit => {
                self.stats.count(name, true);
                queue_reply(conn, &Reply::new(221, "2.0.0", "Bye"));
                return Ok(Flow::Quit);
            }
            Request::Vrfy { .. } => self.reply(
                conn,
                name,
                Reply::new(252, "2.0.0", "Cannot VRFY user, but will accept message"),
            ),
            Request::StartTls => {
                if self.services.tls.is_none() || matches!(self.mode, Mode::Lmtp | Mode::Local) {
                    self.reply(
                        conn,
                        name,
                        Reply::new(502, "5.5.1", "Error: command not implemented"),
                    );
                } else if self.tls.is_some() {
                    self.reply(
                        conn,
                        name,
                        Reply::new(554, "5.5.1", "Error: TLS already active"),
                    );
                } else {
                    self.stats.count(name, true);
                    queue_reply(conn, &Reply::new(220, "2.0.0", "Ready to start TLS"));
                    return Ok(Flow::StartTls);
                }
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => return self.auth(conn, mechanism, initial_response).await,
            Request::Help { .. } => self.reply(
                conn,
                name,
                Reply::new(
                    214,
                    "2.0.0",
                    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS",
                ),
            ),
            _ => self.reply(
                conn,
                name,
                Reply::new(502, "5.5.1", "Error: command not implemented"),
            ),
        }
        Ok(Flow::Continue)
    }

    /// AUTH PLAIN / LOGIN (RFC 4954), submission only, only under TLS.
    async fn auth(
        &mut self,
        conn: &mut Conn,
        mechanism: u64,
        initial: String,
    ) -> Result<Flow, ConnError> {
        use havre_directory::sasl;
        let refuse = if self.mode != Mode::Submission {
            Some(Reply::new(
                503,
                "5.5.1",
                "Error: authentication not enabled",
            ))
        } else if self.tls.is_none() {
            Some(Reply::new(
                538,
                "5.7.11",
                "Encryption required for requested authentication mechanism",
            ))
        } else if self.auth.is_some() {
            Some(Reply::new(503, "5.5.1", "Error: already authenticated"))
        } else if self.tx.is_some() {
            Some(Reply::new(
                503,
                "5.5.1",
                "Error: MAIL transaction in progress",
            ))
        } else {
            None
        };
        if let Some(reply) = refuse {
            self.reply(conn, "AUTH", reply);
            return Ok(Flow::Continue);
        }
        let initial = (!initial.is_empty()).then(|| {
            if initial == "=" {
                String::new()
            } else {
                initial
            }
        });
        let (method, credentials) = if mechanism == smtp_proto::AUTH_PLAIN {
            let response = match initial {
                Some(r) => r,
                None => match self.challenge(conn, "").await? {
                    Some(r) => r,
                    None => return Ok(Flow::Continue),
                },
            };
            (
                "PLAIN",
                sasl::decode_plain(&response)
                    .ok()
                    .map(|c| (c.user, c.password)),
            )
        } else if mechanism == smtp_proto::AUTH_LOGIN {
            let user = match initial {
                Some(r) => r,
                None => match self
                    .challenge(conn, &sasl::encode_base64(b"Username:"))
                    .await?
                {
                    Some(r) => r,
                    None => return Ok(Flow::Continue),
                },
            };
            let Some(password) = self
                .challenge(conn, &sasl::encode_base64(b"Password:"))
                .await?
            else {
                return Ok(Flow::Continue);
            };
            (
                "LOGIN",
                sasl::decode_login_step(&user)
                    .ok()
                    .zip(sasl::decode_login_step(&password).ok()),
            )
        } else {
            self.reply(
                conn,
                "AUTH",
                Reply::new(504, "5.5.4", "Unsupported authentication mechanism"),
            );
            return Ok(Flow::Continue);
        };
        let Some((user, password)) = credentials else {
            self.reply(
                conn,
                "AUTH",
                Reply::new(501, "5.5.2", "Invalid authentication data"),
            );
            return Ok(Flow::Continue);
        };
        match self
            .services
            .directory
            .authenticate_from(Some(self.peer.ip()), &user, &password)
            .await
        {
            Ok(Some(found)) => {
                tracing::info!(target: "smtp", role = self.role(), "{}: sasl_method={method}, sasl_username={}", self.client(), found.email);
                self.services.events.record(
                    Event::new(Kind::Login, self.role())
                        .client(self.client())
                        .recipient(found.email.as_str())
                        .reason(method),
                );
                self.auth = Some(found);
                self.reply(
                    conn,
                    "AUTH",
                    Reply::new(235, "2.7.0", "Authentication successful"),
                );
            }
            Ok(None) => {
                // Postfix's words, which Fail2ban's postfix[mode=auth] filter
                // matches: one line per failed AUTH.
                tracing::warn!(target: "smtp", role = self.role(), "{}: SASL {method} authentication failed: authentication failure, sasl_username={user}", self.client());
                self.services.events.record(
                    Event::new(Kind::LoginFailed, self.role())
                        .client(self.client())
                        .recipient(user.as_str())
                        .reason(method),
                );
                let ip = self.peer.ip();
                self.services
                    .guard
                    .record(ip, Offence::FailedLogin(Service::Smtp))
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                self.reply(
                    conn,
                    "AUTH",
                    Reply::new(535, "5.7.8", "Error: authentication failed"),
                );
            }
            Err(err) => {
                tracing::error!(target: "smtp", "directory error during AUTH: {err}");
                self.reply(
                    conn,
                    "AUTH",
                    Reply::new(454, "4.7.0", "Temporary authentication failure"),
                );
            }
        }
        Ok(Flow::Continue)
    }

    /// One `334` challenge; `None` when the client cancelled with `*`.
    async fn challenge(
        &mut self,
        conn: &mut Conn,
        text: &str,
    ) -> Result<Option<String>, ConnError> {
        send_reply(conn, &Reply::plain(334, vec![text.to_string()])).await?;
        let limit = self.services.settings.line_length_limit;
        let line = match conn.read_line(limit).await? {
            Line::Complete(line) => line,
            Line::TooLong => {
                self.reply(
                    conn,
                    "AUTH",
                    Reply::new(500, "5.5.6", "Authentication exchange line is too long"),
                );
                return Ok(None);
            }
        };
        let text = String::from_utf8_lossy(&line).trim().to_string();
        if text == "*" {
            self.reply(
                conn,
                "AUTH",
                Reply::new(501, "5.7.0", "Authentication aborted"),
            );
            return Ok(None);
        }
        Ok(Some(text))
    }

    /// Submission: every From: address must be the user's (unless its class
    /// may send as anyone).
    async fn owns_from_header(&self, head: &[u8]) -> bool {
        if self.auth.is_none() {
            return true;
        }
        for address in from_addresses(head) {
            if !self.owns(&address).await {
                return false;
            }
        }
        true
    }

    async fn ehlo(&mut self, host: String, esmtp: bool) -> Reply {
        let settings = self.services.settings.clone();
        self.reset();
        self.helo = Some(host);
        if let Some(refusal) = self.check(Stage::Helo).await {
            // Refused: the client may say HELO again.
            self.helo = None;
            return refusal;
        }
        self.esmtp = esmtp;
        if !esmtp {
            return Reply::plain(250, vec![settings.hostname.clone()]);
        }
        let mut lines = vec![settings.hostname.clone(), "PIPELINING".into()];
        lines.push(format!("SIZE {}", settings.message_size_limit));
        if !matches!(self.mode, Mode::Lmtp | Mode::Local)
            && self.services.tls.is_some()
            && self.tls.is_none()
        {
            lines.push("STARTTLS".into());
        }
        // AUTH only where passwords are welcome, and only once encrypted:
        // not even advertised before (RFC 4954 5; Postfix smtpd_tls_auth_only).
        if self.mode == Mode::Submission && self.tls.is_some() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        lines.extend(
            ["ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8", "CHUNKING"]
                .iter()
                .map(|s| s.to_string()),
        );
        Reply::plain(250, lines)
    }

    fn reset(&mut self) {
        if let Some(tx) = self.tx.take()
            && let Some(body) = tx.bdat
        {
            tokio::spawn(body.discard());
        }
    }

    /// May this client send to any domain (authenticated, or from an internal
    /// network)?
    fn may_relay(&self) -> bool {
        self.mode == Mode::Local
            || self.auth.is_some()
            || self
                .services
                .internal_networks
                .iter()
                .any(|n| n.contains(self.peer.ip()))
    }

    /// Is `address` the authenticated user's own, one of its sub-addresses,
    /// or an alias leading to it? Classes in `any_sender_classes` may send as
    /// anyone.
    async fn owns(&self, address: &str) -> bool {
        let Some(user) = &self.auth else {
            return true;
        };
        if self
            .services
            .any_sender_classes
            .iter()
            .any(|c| c == &user.class)
        {
            return true;
        }
        let Ok(parsed) = Address::parse(address) else {
            return false;
        };
        match self.services.directory.resolve(&parsed).await {
            Ok(Resolution::Deliver(targets)) => targets
                .iter()
                .any(|t| matches!(t, Target::Mailbox(m) if *m == user.email)),
            _ => false,
        }
    }

    async fn mail(&mut self, address: String, size: usize, flags: u64) -> Reply {
        if self.mode == Mode::Submission && !self.may_relay() {
            return Reply::new(530, "5.7.0", "Authentication required");
        }
        if self.helo.is_none() {
            return Reply::new(503, "5.5.1", "Error: send HELO/EHLO first");
        }
        if self.tx.is_some() {
            return Reply::new(503, "5.5.1", "Error: nested MAIL command");
        }
        if size as u64 > self.services.settings.message_size_limit {
            return Reply::new(552, "5.3.4", "Message size exceeds fixed limit");
        }
        if let Some(reply) = self.storage_check(size as u64) {
            return reply;
        }
        let smtputf8 = flags & MAIL_SMTPUTF8 != 0;
        if smtputf8 && !self.esmtp {
            return Reply::new(503, "5.5.1", "Error: SMTPUTF8 needs EHLO");
        }
        if !address.is_empty() {
            if Address::parse(&address).is_err() {
                return Reply::new(501, "5.1.7", "Bad sender address syntax");
            }
            if !smtputf8 && !address.is_ascii() {
                return Reply::new(553, "5.6.7", "Error: the sender address needs SMTPUTF8");
            }
        }
        if self.mode == Mode::Submission && !self.owns(&address).await {
            let user = self
                .auth
                .as_ref()
                .map(|u| u.email.clone())
                .unwrap_or_default();
            return Reply::new(
                553,
                "5.7.1",
                format!("<{address}>: Sender address rejected: not owned by user {user}"),
            );
        }
        // The checks of MAIL, before a queue id exists (Postfix's NOQUEUE).
        let mut facts = self.facts(Stage::Mail, None);
        facts.sender = Some(address.clone());
        facts.size = size as u64;
        let outcome = self.run_checks(&facts).await;
        if let Some(reply) = outcome.as_ref().and_then(|o| pipeline::refusal(o, &facts)) {
            return reply;
        }
        let mut added = self.session_headers.clone();
        if let Some(outcome) = &outcome {
            added.extend(outcome);
        }
        let id = new_queue_id();
        // A local caller hears what its address was completed to (`havre
        // sendmail` writes it in the From: header it adds), in Sendmail's words.
        let reply = if self.mode == Mode::Local {
            Reply::new(250, "2.1.0", format!("<{address}>... Sender ok"))
        } else {
            Reply::new(250, "2.1.0", "Ok")
        };
        self.tx = Some(Transaction {
            id,
            sender: address,
            smtputf8,
            size: size as u64,
            added,
            recipients: Vec::new(),
            facts: Vec::new(),
            looked_up_at: None,
            bdat: None,
            bdat_failed: false,
        });
        reply
    }

    /// Postfix's smtpd_check_queue: no MAIL while the queue's filesystem has
    /// less room than `queue.min_free_space`, 1.5 x the size limit, or 1.5 x
    /// the size the client announced.
    fn storage_check(&self, announced: u64) -> Option<Reply> {
        let settings = &self.services.settings;
        let needed = settings
            .min_free_space
            .max(settings.message_size_limit.saturating_mul(3) / 2)
            .max(announced.saturating_mul(3) / 2);
        let free = match self.services.queue.spool().free_space() {
            Ok(free) => free,
            Err(err) => {
                tracing::warn!(target: "smtp", "cannot tell the free space of the queue: {err}");
                return None;
            }
        };
        if free >= needed {
            return None;
        }
        tracing::warn!(target: "smtp", role = self.role(), "NOQUEUE: reject: MAIL from {}: 452 4.3.1 Insufficient system storage ({free} bytes free in the queue, {needed} needed)", self.client());
        Some(insufficient_storage())
    }

    /// Postfix's `client=` line, when the first recipient of a transaction
    /// is accepted (when Postfix's smtpd opens the queue file): pflogsumm
    /// counts a received message per such line, so a transaction whose every
    /// recipient is refused is not one. A local submission gets Postfix's
    /// pickup line instead (`uid=N from=<sender>`: who submitted, as the
    /// kernel said), which pflogsumm counts the same way.
    fn log_client(&self) {
        let Some(tx) = self.tx.as_ref().filter(|tx| !tx.recipients.is_empty()) else {
            return;
        };
        if let Some(caller) = &self.caller {
            tracing::info!(target: "smtp", role = self.role(), "{}: uid={} from=<{}>", tx.id, caller.uid, tx.sender);
            return;
        }
        match &self.auth {
            Some(user) => {
                tracing::info!(target: "smtp", role = self.role(), "{}: client={}, sasl_username={}", tx.id, self.client(), user.email)
            }
            None => {
                tracing::info!(target: "smtp", role = self.role(), "{}: client={}", tx.id, self.client())
            }
        }
    }

    /// Postfix's reject line: `NOQUEUE` until a recipient was accepted,
    /// then the queue id.
    fn noqueue(&self, reply: &Reply, rcpt: &str) {
        let tx = self.tx.as_ref();
        let id = tx
            .filter(|t| !t.recipients.is_empty())
            .map_or("NOQUEUE", |t| t.id.as_str());
        tracing::info!(
            target: "smtp",
            role = self.role(),
            "{id}: reject: RCPT from {}: {}; from=<{}> to=<{rcpt}> proto={} helo=<{}>",
            self.client(),
            reply.text(),
            tx.map(|t| t.sender.as_str()).unwrap_or(""),
            if self.esmtp { "ESMTP" } else { "SMTP" },
            self.helo.as_deref().unwrap_or("")
        );
        let mut event = Event::new(Kind::Reject, self.role())
            .client(self.client())
            .sender(tx.map(|t| t.sender.as_str()).unwrap_or(""))
            .recipient(rcpt)
            .check("recipient")
            .reason(reply.text());
        if id != "NOQUEUE" {
            event = event.queue_id(id);
        }
        self.services.events.record(event);
    }

    /// The event of an LMTP delivery's outcome for `mailbox` (RCPT'd as
    /// `rcpt`), recorded beside its log line.
    fn lmtp_event(&self, kind: Kind, tx: &Transaction, mailbox: &str, rcpt: &str) -> Event {
        let event = Event::new(kind, "lmtp")
            .queue_id(tx.id.as_str())
            .client(self.client())
            .sender(tx.sender.as_str())
            .recipient(mailbox)
            .relay("local");
        if rcpt.eq_ignore_ascii_case(mailbox) {
            event
        } else {
            event.original(rcpt)
        }
    }

    async fn rcpt(&mut self, address: String) -> Reply {
        let Some(tx) = self.tx.as_ref() else {
            return Reply::new(503, "5.5.1", "Error: need MAIL command");
        };
        if tx.recipients.len() >= self.services.settings.recipient_limit {
            return Reply::new(452, "4.5.3", "Error: too many recipients");
        }
        if !tx.smtputf8 && !address.is_ascii() {
            return Reply::new(
                553,
                "5.6.7",
                format!("<{address}>: the address needs SMTPUTF8"),
            );
        }
        let parsed = match Address::parse(&address) {
            Ok(a) => a,
            Err(_) if address.eq_ignore_ascii_case("postmaster") => match self.postmaster().await {
                Ok(postmaster) => postmaster,
                Err(reply) => return reply,
            },
            Err(err) => {
                let reply = Reply::new(
                    501,
                    "5.1.3",
                    format!("<{address}>: Bad recipient address syntax: {err}"),
                );
                self.noqueue(&reply, &address);
                return reply;
            }
        };
        let resolved = self.services.directory.resolve_for_delivery(&parsed).await;
        let resolved = resolved.map(|(resolution, facts)| {
            if let Some(tx) = self.tx.as_mut() {
                tx.looked_up_at.get_or_insert_with(std::time::Instant::now);
                tx.facts.extend(facts);
            }
            resolution
        });
        // A domain not ours may be a relay domain (a backup MX, a lab's
        // server) whose recipients are verified here.
        let relay = match &resolved {
            Ok(Resolution::NotLocal) if self.mode != Mode::Lmtp => {
                self.services.directory.relay_verdict(&address).await
            }
            _ => Ok(RelayVerdict::NotRelayed),
        };
        let resolved = resolved.and_then(|r| relay.map(|v| (r, v)));
        let reply = match resolved {
            Err(err) => {
                tracing::error!(target: "smtp", "directory lookup of {address} failed: {err}");
                Reply::new(
                    451,
                    "4.3.0",
                    format!("<{address}>: Temporary lookup failure"),
                )
            }
            Ok((Resolution::NotLocal, RelayVerdict::UnknownRecipient)) => Reply::new(
                550,
                "5.1.1",
                format!(
                    "<{address}>: Recipient address rejected: User unknown in relay recipient table"
                ),
            ),
            Ok((Resolution::NotLocal, relay))
                if self.mode != Mode::Lmtp
                    && (self.may_relay() || relay == RelayVerdict::Accepted) =>
            {
                if let Some(refusal) = self.check_recipient(&address).await {
                    return refusal;
                }
                if let Some(tx) = self.tx.as_mut() {
                    tx.recipients
                        .push((parsed.to_string(), vec![Target::Remote(parsed.to_string())]));
                }
                return self.recipient_ok(&address);
            }
            Ok((Resolution::NotLocal, _)) => {
                Reply::new(554, "5.7.1", format!("<{address}>: Relay access denied"))
            }
            Ok((Resolution::Disabled, _)) => Reply::new(
                550,
                "5.2.1",
                format!("<{address}>: Recipient address rejected: Mailbox disabled"),
            ),
            Ok((Resolution::UnknownUser, _)) => Reply::new(
                550,
                "5.1.1",
                format!("<{address}>: Recipient address rejected: User unknown"),
            ),
            // Accepting it would queue a message for nobody: refused while
            // the client can still tell its sender.
            Ok((Resolution::Loop, _)) => Reply::new(
                550,
                "5.4.6",
                format!("<{address}>: Recipient address rejected: mail forwarding loop"),
            ),
            Ok((Resolution::Deliver(targets), _)) => {
                if self.mode == Mode::Lmtp
                    && !targets.iter().any(|t| matches!(t, Target::Mailbox(_)))
                {
                    Reply::new(550, "5.1.1", format!("<{address}>: not a local mailbox"))
                } else if let Some(full) = self.full_mailbox(&targets) {
                    full
                } else {
                    if let Some(refusal) = self.check_recipient(&address).await {
                        return refusal;
                    }
                    if let Some(tx) = self.tx.as_mut() {
                        tx.recipients.push((parsed.to_string(), targets));
                    }
                    return self.recipient_ok(&address);
                }
            }
        };
        self.noqueue(&reply, &address);
        reply
    }

    /// A recipient that is one mailbox, already full (or too full for the
    /// size MAIL announced), is refused at RCPT, as Dovecot's LMTP does; an
    /// alias to several goes on (the relay tells about the full ones).
    fn full_mailbox(&self, targets: &[Target]) -> Option<Reply> {
        let tx = self.tx.as_ref()?;
        let [Target::Mailbox(mailbox)] = targets else {
            return None;
        };
        let quota = tx.facts_of(mailbox)?.quota?;
        let full = quota.used >= quota.limit || (tx.size > 0 && quota.exceeded_by(tx.size));
        full.then(|| self.over_quota(mailbox))
    }

    /// Dovecot's words for a full mailbox, permanent or not as configured.
    fn over_quota(&self, mailbox: &str) -> Reply {
        let text = format!("<{mailbox}>: Mailbox is full (quota exceeded)");
        if self.services.settings.quota_full_tempfail {
            Reply::new(452, "4.2.2", text)
        } else {
            Reply::new(552, "5.2.2", text)
        }
    }

    /// 250 to a RCPT; a local caller hears what its address was completed to.
    fn recipient_ok(&self, address: &str) -> Reply {
        if self.mode == Mode::Local {
            Reply::new(250, "2.1.5", format!("<{address}>... Recipient ok"))
        } else {
            Reply::new(250, "2.1.5", "Ok")
        }
    }

    /// `RCPT TO:<postmaster>` without a domain must be accepted (RFC 5321 4.5.1).
    async fn postmaster(&self) -> Result<Address, Reply> {
        match self
            .services
            .directory
            .postmaster(&self.services.settings.hostname)
            .await
        {
            Ok(Some(address)) => Ok(address),
            Ok(None) => Err(Reply::new(
                550,
                "5.1.1",
                "<postmaster>: Recipient address rejected: no local domain",
            )),
            Err(err) => {
                tracing::error!(target: "smtp", "directory lookup of postmaster failed: {err}");
                Err(Reply::new(
                    451,
                    "4.3.0",
                    "<postmaster>: Temporary lookup failure",
                ))
            }
        }
    }

    fn check_ready_for_body(&self) -> Option<Reply> {
        match &self.tx {
            None => Some(Reply::new(503, "5.5.1", "Error: need RCPT command")),
            Some(tx) if tx.recipients.is_empty() => {
                Some(Reply::new(554, "5.5.1", "Error: no valid recipients"))
            }
            _ => None,
        }
    }

    async fn open_body(&mut self) -> Result<BodyWriter, Reply> {
        let Some(tx) = self.tx.as_ref() else {
            return Err(Reply::new(503, "5.5.1", "Error: need RCPT command"));
        };
        let settings = &self.services.settings;
        // Checked roles hold the message until the end of DATA (what the
        // checks add goes on top); the others write the queue file now.
        let checked = matches!(self.mode, Mode::Mx | Mode::Submission);
        let file = if checked {
            None
        } else {
            match self.services.queue.spool().create(&tx.id).await {
                Ok(f) => Some(f),
                Err(err) => {
                    tracing::error!(target: "smtp", "{}: cannot create the queue file: {err}", tx.id);
                    return Err(write_error_reply(&err));
                }
            }
        };
        let protocol = protocol_keyword(
            self.mode == Mode::Lmtp,
            self.esmtp,
            self.tls.is_some(),
            tx.smtputf8,
            self.auth.is_some(),
        );
        let header = match &self.caller {
            Some(caller) => {
                local_received_header(&settings.hostname, caller.uid, &tx.id, chrono::Utc::now())
            }
            None => received_header(&ReceivedFields {
                helo: self.helo.as_deref().unwrap_or(""),
                client_name: &self.client_name,
                client_ip: self.peer.ip(),
                hostname: &settings.hostname,
                protocol: &protocol,
                queue_id: &tx.id,
                single_recipient: match tx.recipients.as_slice() {
                    [(only, _)] => Some(only.as_str()),
                    _ => None,
                },
                tls: self.tls.as_deref(),
                now: chrono::Utc::now(),
            }),
        };
        let mut body = BodyWriter {
            file,
            held: None,
            limit: settings.message_size_limit,
            size: 0,
            failed: None,
            protocol,
            head: Vec::new(),
            digest: (self.mode == Mode::Lmtp
                && tx.recipients.iter().any(|(_, t)| lmtp::several(t)))
            .then(ContentDigest::default),
        };
        // The trace header does not count against the client's size limit.
        if checked {
            let spool = self.services.queue.spool().clone();
            body.held = Some(Held::new(spool, &tx.id, header.into_bytes()));
        } else {
            body.write_raw(header.as_bytes()).await;
        }
        Ok(body)
    }

    async fn data(&mut self, conn: &mut Conn) -> Result<Flow, ConnError> {
        if let Some(reply) = self.check_ready_for_body() {
            self.reply(conn, "DATA", reply);
            return Ok(Flow::Continue);
        }
        if self.tx.as_ref().is_some_and(|t| t.bdat.is_some()) {
            self.reply(
                conn,
                "DATA",
                Reply::new(503, "5.5.1", "Error: DATA after BDAT"),
            );
            return Ok(Flow::Continue);
        }
        let mut body = match self.open_body().await {
            Ok(b) => b,
            Err(reply) => {
                self.reply(conn, "DATA", reply);
                return Ok(Flow::Continue);
            }
        };
        send_reply(
            conn,
            &Reply::new(354, "", "End data with <CR><LF>.<CR><LF>"),
        )
        .await?;
        let within = match data::read_data(conn, &mut body).await {
            Ok(within) => within,
            Err(err) => {
                body.discard().await;
                self.tx = None;
                return Err(err);
            }
        };
        self.finish_body(conn, "DATA", body, within).await;
        Ok(Flow::Continue)
    }

    async fn bdat(&mut self, conn: &mut Conn, size: usize, last: bool) -> Result<Flow, ConnError> {
        // RFC 3030: the chunk is read whatever the answer will be.
        if let Some(reply) = self.check_ready_for_body() {
            data::read_chunk::<BodyWriter>(conn, size, None).await?;
            if let Some(tx) = self.tx.as_mut() {
                tx.bdat_failed = true;
            }
            self.reply(conn, "BDAT", reply);
            return Ok(Flow::Continue);
        }
        let failed = self.tx.as_ref().is_some_and(|t| t.bdat_failed);
        let mut body = if failed {
            None
        } else {
            match self.tx.as_mut().and_then(|t| t.bdat.take()) {
                Some(body) => Some(body),
                None => match self.open_body().await {
                    Ok(b) => Some(b),
                    Err(reply) => {
                        data::read_chunk::<BodyWriter>(conn, size, None).await?;
                        self.reply(conn, "BDAT", reply);
                        self.tx = None;
                        return Ok(Flow::Continue);
                    }
                },
            }
        };
        let within = match data::read_chunk(conn, size, body.as_mut()).await {
            Ok(within) => within,
            Err(err) => {
                if let Some(body) = body {
                    body.discard().await;
                }
                self.tx = None;
                return Err(err);
            }
        };
        let Some(body) = body else {
            if last {
                self.tx = None;
            }
            self.reply(
                conn,
                "BDAT",
                Reply::new(554, "5.5.1", "Error: earlier BDAT chunk refused"),
            );
            return Ok(Flow::Continue);
        };
        if !last {
            if within && body.failed.is_none() {
                let size_now = body.size;
                if let Some(tx) = self.tx.as_mut() {
                    tx.bdat = Some(body);
                }
                self.reply(
                    conn,
                    "BDAT",
                    Reply::new(
                        250,
                        "2.0.0",
                        format!("{size} octets received ({size_now} so far)"),
                    ),
                );
            } else {
                let reply = match &body.failed {
                    Some(err) if within => write_error_reply(err),
                    _ => Reply::new(552, "5.3.4", "Error: message file too big"),
                };
                body.discard().await;
                if let Some(tx) = self.tx.as_mut() {
                    tx.bdat_failed = true;
                }
                self.reply(conn, "BDAT", reply);
            }
            return Ok(Flow::Continue);
        }
        self.finish_body(conn, "BDAT", body, within).await;
        Ok(Flow::Continue)
    }

    /// End of the body: make it durable (mx) or deliver it (LMTP), then answer.
    async fn finish_body(
        &mut self,
        conn: &mut Conn,
        name: &'static str,
        body: BodyWriter,
        within: bool,
    ) {
        let Some(tx) = self.tx.take() else {
            body.discard().await;
            return;
        };
        if !within {
            body.discard().await;
            tracing::info!(target: "smtp", role = self.role(), "{}: reject: {name} from {}: 552 5.3.4 message too big; from=<{}>", tx.id, self.client(), tx.sender);
            self.reply(
                conn,
                name,
                Reply::new(552, "5.3.4", "Error: message file too big"),
            );
            return;
        }
        if let Some(err) = &body.failed {
            tracing::error!(target: "smtp", "{}: queue file write error: {err}", tx.id);
            let reply = write_error_reply(err);
            body.discard().await;
            self.reply(conn, name, reply);
            return;
        }
        match self.mode {
            Mode::Submission if !self.owns_from_header(&body.head).await => {
                body.discard().await;
                let user = self
                    .auth
                    .as_ref()
                    .map(|u| u.email.clone())
                    .unwrap_or_default();
                tracing::info!(target: "smtp", role = self.role(), "{}: reject: {name} from {}: 553 5.7.1 From: header not owned by {user}", tx.id, self.client());
                self.reply(
                    conn,
                    name,
                    Reply::new(
                        553,
                        "5.7.1",
                        format!("From: header address not owned by user {user}"),
                    ),
                );
            }
            Mode::Mx | Mode::Submission | Mode::Local => {
                let reply = if body.held.is_some() {
                    self.finish_held(tx, body).await
                } else {
                    self.enqueue(tx, body).await
                };
                self.reply(conn, name, reply);
            }
            Mode::Lmtp => {
                let replies = self.deliver_lmtp(&tx, body).await;
                for reply in replies {
                    self.reply(conn, name, reply);
                }
            }
        }
    }

    async fn enqueue(&self, tx: Transaction, body: BodyWriter) -> Reply {
        let now = chrono::Utc::now().timestamp();
        let entry = QueueEntry {
            id: tx.id.clone(),
            sender: tx.sender.clone(),
            size: body.size,
            arrival: now,
            client: self.client(),
            protocol: body.protocol.clone(),
            attempts: 0,
            next_attempt: now,
            // A check asked to quarantine it: queued on hold, delivered
            // only when an operator releases it.
            hold: tx.added.hold().is_some(),
            hold_reason: tx.added.hold().map(|h| h.reason.clone()),
            warned: false,
            node: havre_queue::node_id(),
            recipients: expanded_recipients(&tx.recipients),
        };
        let Some(file) = body.file else {
            return Reply::new(451, "4.3.0", "Error: queue file write error");
        };
        if entry.recipients.is_empty() {
            // Every RCPT leads somewhere, so this is a bug: refuse rather than
            // say 250 for a message nobody would get.
            tracing::error!(target: "smtp", role = self.role(), "{}: no recipient after expansion; message refused", entry.id);
            file.discard().await;
            return Reply::new(451, "4.3.0", "Error: internal error, try again later");
        }
        // Postfix's cleanup line: the client's Message-ID next to our id.
        let client_message_id = message_id(&body.head);
        tracing::info!(
            target: "smtp",
            role = "cleanup",
            "{}: message-id={}",
            entry.id,
            client_message_id.as_deref().unwrap_or("<>")
        );
        let looked_up = tx.looked_up();
        match self
            .services
            .queue
            .enqueue_looked_up(file, &entry, looked_up)
            .await
        {
            Ok(()) => {
                if let Some(hold) = tx.added.hold() {
                    self.log_hold(&tx, hold);
                } else {
                    let mut event = Event::new(Kind::Accepted, self.role())
                        .queue_id(entry.id.as_str())
                        .client(self.client())
                        .sender(entry.sender.as_str())
                        .size(entry.size);
                    if let Some(id) = client_message_id {
                        event = event.message_id(id);
                    }
                    self.services.events.record(event);
                }
                Reply::new(250, "2.0.0", format!("Ok: queued as {}", entry.id))
            }
            Err(err) => {
                tracing::error!(target: "smtp", role = self.role(), "{}: cannot queue: {err}", entry.id);
                write_error_reply(&err)
            }
        }
    }

    /// Postfix's line for a message put on hold before the queue (as its
    /// cleanup logs a milter's or a header check's HOLD), with the check.
    fn log_hold(&self, tx: &Transaction, hold: &havre_checks::Hold) {
        tracing::info!(
            target: "smtp",
            role = "cleanup",
            "{}: hold: END-OF-MESSAGE from {}: {}; from=<{}> to=<{}> proto={} helo=<{}> check={}",
            tx.id,
            self.client(),
            hold.reason,
            tx.sender,
            tx.recipients.first().map_or("", |(r, _)| r.as_str()),
            if self.esmtp { "ESMTP" } else { "SMTP" },
            self.helo.as_deref().unwrap_or(""),
            hold.check
        );
    }
}

/// The session's side of the checks (see [`crate::pipeline`]).
impl Session {
    /// The pipeline of this session's role, if it runs one.
    fn pipeline(&self) -> Option<Arc<havre_checks::Pipeline>> {
        match self.mode {
            Mode::Mx => self.services.checks.mx.clone(),
            Mode::Submission => self.services.checks.submission.clone(),
            Mode::Lmtp | Mode::Local => None,
        }
    }

    /// mx and submission clients are named by their confirmed reverse
    /// name, before the greeting and the first log line (Postfix's order).
    async fn name_client(&mut self) {
        if !matches!(self.mode, Mode::Mx | Mode::Submission) {
            return;
        }
        if let Some(names) = self.services.checks.names.clone()
            && let Some(name) = names.confirmed_name(self.peer.ip()).await
        {
            self.client_name = name;
        }
    }

    /// What the checks know at `stage`, from the session and `tx`.
    fn facts(&self, stage: Stage, tx: Option<&Transaction>) -> Facts {
        let mut facts = Facts::new(self.peer.ip().to_canonical());
        facts.stage = stage;
        facts.client_name = (self.client_name != "unknown").then(|| self.client_name.clone());
        facts.helo = self.helo.clone();
        if let Some(user) = &self.auth {
            facts.sasl_login = Some(user.email.clone());
            facts.class = (!user.class.is_empty()).then(|| user.class.clone());
        }
        if let Some(tx) = tx {
            facts.sender = Some(tx.sender.clone());
            // As the logs name a transaction: NOQUEUE until a recipient
            // was accepted (Postfix opens its queue file then).
            facts.queue_id = (!tx.recipients.is_empty()).then(|| tx.id.clone());
            facts.recipients = tx.recipients.iter().map(|(r, _)| r.clone()).collect();
            facts.recipient_count = tx.recipients.len() as u32;
            facts.size = tx.size;
            facts.added = tx.added.headers().cloned().collect();
        } else {
            facts.added = self.session_headers.headers().cloned().collect();
        }
        facts
    }

    /// Runs the checks of `facts.stage`; `None` when none runs there.
    async fn run_checks(&self, facts: &Facts) -> Option<havre_checks::Outcome> {
        let pipeline = self.pipeline()?;
        if !pipeline.runs_at(facts.stage) {
            return None;
        }
        Some(pipeline.run(facts).await)
    }

    /// The checks of the connection (connect, HELO): their headers go on
    /// every message of the session; a refusal is the reply.
    async fn check(&mut self, stage: Stage) -> Option<Reply> {
        let facts = self.facts(stage, None);
        let outcome = self.run_checks(&facts).await?;
        let refusal = pipeline::refusal(&outcome, &facts);
        if refusal.is_none() {
            self.session_headers.extend(&outcome);
        }
        refusal
    }

    async fn check_connect(&mut self) -> Option<Reply> {
        self.check(Stage::Connect).await
    }

    /// The checks of one RCPT the directory accepted.
    async fn check_recipient(&mut self, address: &str) -> Option<Reply> {
        let mut facts = self.facts(Stage::Rcpt, self.tx.as_ref());
        facts.recipient = Some(address.to_owned());
        let outcome = self.run_checks(&facts).await?;
        let refusal = pipeline::refusal(&outcome, &facts);
        if refusal.is_none()
            && let Some(tx) = self.tx.as_mut()
        {
            tx.added.extend(&outcome);
        }
        refusal
    }

    /// The end of DATA of a checked role: the checks read the whole
    /// message, then it is written to the queue with what they added on
    /// top and what claimed to be ours left out.
    async fn finish_held(&self, mut tx: Transaction, mut body: BodyWriter) -> Reply {
        let Some(held) = body.held.take() else {
            return self.enqueue(tx, body).await;
        };
        let received = held.received.clone();
        let message = match held.message().await {
            Ok(message) => Arc::new(message),
            Err(err) => {
                tracing::error!(target: "smtp", "{}: cannot read the message back: {err}", tx.id);
                return write_error_reply(&err);
            }
        };
        let mut facts = self.facts(Stage::Data, Some(&tx));
        facts.size = body.size;
        facts.headers = Some(message[..header_end(&message)].to_vec());
        facts.message = Some(message.clone());
        if let Some(outcome) = self.run_checks(&facts).await {
            if let Some(refusal) = pipeline::refusal(&outcome, &facts) {
                return refusal;
            }
            tx.added.extend(&outcome);
        }
        let settings = &self.services.settings;
        let spool = self.services.queue.spool();
        match pipeline::store(
            spool,
            &tx.id,
            &received,
            &tx.added,
            &message,
            &settings.hostname,
        )
        .await
        {
            Ok((file, removed)) => {
                if removed > 0 {
                    tracing::info!(target: "smtp", role = self.role(), "{}: removed {removed} header field(s) claiming to be from {} (Authentication-Results:, X-Havre-Quarantine:)", tx.id, settings.hostname);
                }
                body.file = Some(file);
                self.enqueue(tx, body).await
            }
            Err(err) => {
                tracing::error!(target: "smtp", "{}: queue file write error: {err}", tx.id);
                write_error_reply(&err)
            }
        }
    }
}

fn insufficient_storage() -> Reply {
    Reply::new(452, "4.3.1", "Insufficient system storage")
}

/// A message that could not be made durable: a full disk is said as such
/// (the client retries later, as with Postfix), anything else is 451.
fn write_error_reply(err: &QueueError) -> Reply {
    if err.is_storage_full() {
        insufficient_storage()
    } else {
        Reply::new(451, "4.3.0", "Error: queue file write error")
    }
}

fn queue_reply(conn: &mut Conn, reply: &Reply) {
    let mut out = Vec::new();
    reply.write_to(&mut out);
    conn.queue(&out);
}

async fn send_reply(conn: &mut Conn, reply: &Reply) -> Result<(), ConnError> {
    queue_reply(conn, reply);
    conn.flush().await
}

/// One queue recipient per final destination, as Postfix's cleanup expands
/// virtual aliases before queueing: each mailbox or remote address then has
/// its own state, so a retry never sends again what was already delivered.
/// A destination reached through two RCPTs is queued once.
fn expanded_recipients(accepted: &[(String, Vec<Target>)]) -> Vec<QueueRecipient> {
    let mut out: Vec<QueueRecipient> = Vec::new();
    for (rcpt, targets) in accepted {
        for target in targets {
            let address = match target {
                Target::Mailbox(a) | Target::Remote(a) | Target::Unknown(a) => a.clone(),
            };
            if out.iter().any(|r| r.address.eq_ignore_ascii_case(&address)) {
                continue;
            }
            out.push(QueueRecipient {
                idx: out.len() as i64,
                orig: (!address.eq_ignore_ascii_case(rcpt)).then(|| rcpt.clone()),
                address,
                status: RecipientStatus::Pending,
                last_reply: None,
            });
        }
    }
    out
}

/// First word of a malformed line, for the disconnect statistics.
fn command_word(line: &[u8]) -> &'static str {
    let word: Vec<u8> = line
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    match word.as_slice() {
        b"MAIL" => "MAIL",
        b"RCPT" => "RCPT",
        b"EHLO" => "EHLO",
        b"HELO" => "HELO",
        b"LHLO" => "LHLO",
        b"BDAT" => "BDAT",
        _ => "UNKNOWN",
    }
}

/// The message body on its way to the spool, with the size limit applied.
pub(crate) struct BodyWriter {
    file: Option<SpoolFile>,
    /// mx and submission: the message held until its checks have run.
    held: Option<Held>,
    limit: u64,
    size: u64,
    failed: Option<QueueError>,
    protocol: String,
    /// The first bytes of the message, where the header is (for checks
    /// that read it, like the submission From: check).
    head: Vec<u8>,
    /// LMTP with an address of several mailboxes: the digest of what the
    /// client sent ([`crate::partly_delivered`]).
    digest: Option<ContentDigest>,
}

const HEAD_KEPT: usize = 64 * 1024;

impl BodyWriter {
    async fn write_raw(&mut self, bytes: &[u8]) {
        if let Some(file) = self.file.as_mut()
            && self.failed.is_none()
            && let Err(err) = file.write(bytes).await
        {
            self.failed = Some(err);
        }
    }

    async fn discard(self) {
        if let Some(file) = self.file {
            file.discard().await;
        }
    }
}

impl BodySink for BodyWriter {
    async fn accept(&mut self, bytes: &[u8]) -> bool {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            return false;
        }
        if let Some(digest) = self.digest.as_mut() {
            digest.update(bytes);
        }
        if self.head.len() < HEAD_KEPT {
            let room = HEAD_KEPT - self.head.len();
            self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        match self.held.as_mut() {
            Some(held) => {
                if self.failed.is_none()
                    && let Err(err) = held.write(bytes).await
                {
                    self.failed = Some(err);
                }
            }
            None => self.write_raw(bytes).await,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use havre_directory::Directory;
    use havre_mailbox::{LocalDelivery, Mailboxes};
    use havre_queue::{Queue, Spool};
    use havre_store::{SqliteStore, Store};
    use havre_testkit::faults::PanicOnRead;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::SmtpSettings;

    #[tokio::test]
    async fn a_session_whose_command_panics_answers_451_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("havre.db"))
                .await
                .unwrap(),
        );
        let mailboxes = Mailboxes::new(
            store.clone(),
            format!("{}/mail/%d/%n/Maildir", dir.path().display()),
            "mx.test",
        );
        let services = Arc::new(Services {
            settings: Arc::new(SmtpSettings {
                hostname: "mx.test".into(),
                banner: "ESMTP havre".into(),
                message_size_limit: 1 << 20,
                line_length_limit: 1000,
                recipient_limit: 10,
                hard_error_limit: 10,
                idle_timeout: Duration::from_secs(5),
                min_free_space: 0,
                session_deadline: Duration::from_secs(60),
                quota_full_tempfail: false,
            }),
            directory: Directory::new(store.clone(), "+"),
            queue: Arc::new(Queue::new(
                store.clone(),
                Spool::open(&dir.path().join("queue")).unwrap(),
            )),
            local: LocalDelivery::new(mailboxes),
            tls: None,
            internal_networks: Vec::new(),
            any_sender_classes: Vec::new(),
            local_submission: crate::LocalSettings::default(),
            checks: crate::SessionChecks::default(),
            guard: havre_guard::Guard::off(),
            events: havre_events::Events::disabled(),
            lmtp_forward: None,
            partly_delivered: crate::PartlyDelivered::off(),
        });
        let (server, mut client) = PanicOnRead::pair();
        let session = Session::new(Mode::Mx, services, "192.0.2.1:40000".parse().unwrap());
        session
            .run(Box::new(server), false, havre_net::Stop::never())
            .await;
        let mut seen = String::new();
        client.read_to_string(&mut seen).await.unwrap();
        assert_eq!(
            seen,
            "220 mx.test ESMTP havre\r\n451 4.3.0 Error: internal error, try again later\r\n"
        );
    }

    #[test]
    fn the_relay_is_handed_what_rcpt_read_of_each_mailbox_the_message_goes_to() {
        let alice = MailboxFacts {
            quota: Some(havre_store::QuotaUse {
                limit: 1000,
                used: 10,
            }),
            sieve: Some(7),
        };
        let at = std::time::Instant::now();
        let tx = Transaction {
            id: "0A".into(),
            sender: "s@remote.test".into(),
            smtputf8: false,
            size: 0,
            added: AddedHeaders::new(),
            // The alias's targets: alice here, somebody elsewhere.
            recipients: vec![(
                "team@example.test".into(),
                vec![
                    Target::Mailbox("alice@example.test".into()),
                    Target::Remote("x@remote.test".into()),
                ],
            )],
            facts: vec![
                ("bob@example.test".into(), MailboxFacts::default()),
                ("alice@example.test".into(), alice),
            ],
            looked_up_at: Some(at),
            bdat: None,
            bdat_failed: false,
        };
        let looked_up = tx.looked_up();
        assert_eq!(looked_up.at, Some(at));
        let expected = AddressEntry {
            domain_local: true,
            user: true,
            quota: alice.quota,
            sieve: Some(7),
            aliases: Vec::new(),
        };
        assert_eq!(
            looked_up.entries,
            vec![("alice@example.test".to_string(), expected)]
        );
    }
}
