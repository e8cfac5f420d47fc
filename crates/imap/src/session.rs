//! One IMAP connection: reading commands (lines and literals), the states of
//! RFC 9051 3 (not authenticated, authenticated, selected, logout), TLS, login,
//! IDLE, and the untagged updates owed after each command.

use std::net::SocketAddr;

use havre_guard::{Offence, Service};
use havre_imap_proto::{
    AuthLine, Code, Command, CommandFramer, Framed, ParseOptions, Status, Writer, is_idle_done,
    parse_auth_line, parse_command_with,
};
use havre_mailbox::Change;
use havre_net::{
    Backend, Conn, ConnError, Io, Line, LineEnds, Peer, Protocol, RelayEnd, guard_command,
};
use tokio::sync::broadcast;

use crate::Services;
use crate::limits::Slot;
use crate::view::{Allow, Update, View};

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
    /// Close after the responses written so far, for this reason (logged).
    Disconnect(&'static str),
    StartTls,
    /// Compress the connection once the tagged OK is out (RFC 4978).
    Compress,
    Idle,
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
}

pub(crate) struct Session {
    pub services: Services,
    pub peer: SocketAddr,
    /// The client's address a director forwarded before its login on her
    /// behalf (`ID ("x-originating-ip" ...)`, from `director.trusted_networks`
    /// only): the one logged. Trust and caps stay with `peer`.
    pub(crate) forwarded: Option<std::net::IpAddr>,
    pub local: Option<SocketAddr>,
    pub tls: bool,
    pub user: Option<String>,
    user_slot: Option<Slot>,
    /// The session's line in `havre who`; a kick comes through its stop.
    entry: Option<havre_net::SessionEntry>,
    pub selected: Option<View>,
    /// The messages of `selected` that are `\Recent` in this session.
    pub(crate) recent: crate::recent::Recent,
    pub enabled: Enabled,
    /// SEARCHRES (`$`): UIDs of the last `SEARCH RETURN (SAVE)`.
    pub saved: Vec<u32>,
    /// COMPRESS DEFLATE is on (RFC 4978: once per connection).
    pub compressed: bool,
    /// The user's changes (IDLE wakes on them, NOTIFY reports them).
    pub(crate) changes: Option<broadcast::Receiver<Change>>,
    /// A wait on `changes` found that changes were lost (NOTIFY overflow).
    pub(crate) lagged: bool,
    /// What NOTIFY asked for; `None`: no notifications (NOTIFY NONE).
    pub(crate) notify: Option<crate::notify::Notify>,
    pub out: Writer,
    bad_commands: u32,
    /// Failed LOGIN/AUTHENTICATE attempts (they count as bad commands too).
    auth_failures: u32,
    /// The method and user of the last failed login, for the last log line.
    last_login: Option<(String, String)>,
    /// The client stopped reading while a response was being streamed.
    write_error: Option<ConnError>,
    /// Assembles commands from lines and literals; kept between commands
    /// while it skips what is left of a refused one.
    framer: CommandFramer,
    /// The tag of the command being run.
    pub tag: String,
    /// The backend a director relays this session to, once the login's
    /// answer is out.
    relay_to: Option<Backend>,
    counters: (u64, u64),
    started: std::time::Instant,
}

/// Dovecot's `CLIENT_MAX_BAD_COMMANDS` of a logged-in session.
const MAX_BAD_COMMANDS: u32 = 20;
/// A failed login costs the client this long before its answer.
const AUTH_FAILURE_DELAY: std::time::Duration = std::time::Duration::from_millis(500);
/// The head of an over-long command line kept for its tag, and its tail
/// kept for a literal announcement.
const LONG_LINE_ENDS: usize = 256;
/// A response is sent once this much of it is written: a FETCH of a whole
/// mailbox goes out message by message instead of being built in memory.
const STREAM_CHUNK: usize = 64 * 1024;

/// The framer for a session logged in or not.
fn new_framer(settings: &crate::ImapSettings, logged_in: bool) -> CommandFramer {
    let framer = CommandFramer::new(settings.max_command_length, settings.max_message_size)
        .literal_plus(true)
        .append_allowed(logged_in);
    if logged_in {
        framer
    } else {
        // Nothing big is read before login, not even to be dropped.
        framer.max_discard(settings.max_command_length as u64)
    }
}

/// The last words to a client whose command met a bug (the panic is logged),
/// as Dovecot words it, with RFC 5530's code.
const INTERNAL_ERROR: &[u8] =
    b"* BYE [SERVERBUG] Internal error occurred. Refer to server log for more information.\r\n";

impl Session {
    pub(crate) fn new(services: Services, peer: SocketAddr, local: Option<SocketAddr>) -> Session {
        let framer = new_framer(&services.settings, false);
        Session {
            services,
            peer,
            forwarded: None,
            local,
            tls: false,
            user: None,
            user_slot: None,
            entry: None,
            selected: None,
            recent: Default::default(),
            enabled: Enabled::default(),
            saved: Vec::new(),
            compressed: false,
            changes: None,
            lagged: false,
            notify: None,
            out: Writer::new(),
            bad_commands: 0,
            auth_failures: 0,
            last_login: None,
            write_error: None,
            framer,
            tag: String::new(),
            relay_to: None,
            counters: (0, 0),
            started: std::time::Instant::now(),
        }
    }

    /// Lists the session in `havre who` once logged in (the connection
    /// follows the stop `Sessions::open` gave with `entry`).
    pub(crate) fn with_entry(mut self, entry: havre_net::SessionEntry) -> Session {
        self.entry = Some(entry);
        self
    }

    /// TLS is on, or the client is a director of the cluster
    /// (`director.trusted_networks`), whose network is trusted as
    /// Dovecot's `login_trusted_networks`.
    pub(crate) fn secure(&self) -> bool {
        self.tls || self.services.directory.trusts_director(self.peer.ip())
    }

    pub(crate) fn user(&self) -> &str {
        self.user.as_deref().unwrap_or("")
    }

    /// Serves the connection to its end. By `&mut self`: an async fn that
    /// took the session by value would keep it twice for the connection's
    /// whole life, as its argument and as the binding it moves it to.
    pub(crate) async fn run(
        &mut self,
        stream: Box<dyn Io>,
        implicit_tls: bool,
        stop: havre_net::Stop,
    ) {
        let login_timeout = self.services.settings.login_timeout;
        let mut conn = Conn::new(stream, login_timeout).with_stop(stop);
        // As Dovecot's login processes: the login timeout runs from the
        // connection, not from the last byte, so a client dripping bytes
        // cannot hold a connection without logging in.
        conn.set_deadline(Some(std::time::Instant::now() + login_timeout));
        if implicit_tls {
            match self.start_tls(conn).await {
                Some(c) => conn = c,
                None => return,
            }
        }
        if self.greet(&mut conn).await.is_err() {
            return;
        }
        loop {
            let Some(next) = self.guarded_command(&mut conn).await else {
                self.log_end("Disconnected: internal error");
                return;
            };
            let next = match next {
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
            if self.queue_output(&mut conn).await.is_err() {
                self.log_end("Connection closed");
                return;
            }
            match next {
                Next::Continue => {
                    if self.close_for_errors(&mut conn).await {
                        return;
                    }
                    if !conn.has_buffered() && conn.flush().await.is_err() {
                        self.log_end("Connection closed");
                        return;
                    }
                }
                Next::Logout | Next::Disconnect(_) => {
                    let _ = conn.flush().await;
                    conn.shutdown().await;
                    self.log_end(match next {
                        Next::Disconnect(why) => why,
                        _ => "Logged out",
                    });
                    return;
                }
                Next::StartTls => {
                    if conn.flush().await.is_err() {
                        self.log_end("Connection closed");
                        return;
                    }
                    // Input pipelined before the handshake must not count as
                    // sent over TLS (RFC 9051 6.2.1).
                    conn.discard_buffered();
                    self.framer.reset();
                    match self.start_tls(conn).await {
                        Some(c) => conn = c,
                        None => return,
                    }
                }
                Next::Compress => {
                    // The OK goes out uncompressed; everything after it,
                    // both ways, is deflated.
                    if conn.flush().await.is_err() {
                        self.log_end("Connection closed");
                        return;
                    }
                    conn.start_deflate();
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
                    // On the heap, as a command: the session's future stays small.
                    let authenticated = Box::pin(self.authenticate(&mut conn, &mechanism, initial));
                    if let Err(e) = authenticated.await {
                        tracing::debug!(target: "imap", "authenticate: {e}");
                        return;
                    }
                    let bytes = self.out.take();
                    conn.queue(&bytes);
                    if self.close_for_errors(&mut conn).await {
                        return;
                    }
                    if conn.flush().await.is_err() {
                        self.log_end("Connection closed");
                        return;
                    }
                }
            }
            if let Some(backend) = self.relay_to.take() {
                self.relay(conn, backend).await;
                return;
            }
            if self.user.is_some() {
                conn.set_timeout(self.services.settings.idle_timeout);
                conn.set_deadline(None);
            }
        }
    }

    /// The next command, run under [`guard_command`]: `None` when it
    /// panicked (logged, and the client told).
    async fn guarded_command(&mut self, conn: &mut Conn) -> Option<Result<Next, ConnError>> {
        let client = self.peer.ip().to_string();
        let peer = Peer {
            role: "imap",
            client: &client,
        };
        guard_command(conn, peer, INTERNAL_ERROR, async |conn| {
            self.next_command(conn).await
        })
        .await
    }

    /// The greeting, with the capabilities before login. Its own function so
    /// that the text is dropped once sent, not kept for the session's life.
    async fn greet(&self, conn: &mut Conn) -> Result<(), ConnError> {
        let greeting = format!(
            "* OK [CAPABILITY {}] {} IMAP havre ready.\r\n",
            self.capabilities().join(" "),
            self.services.settings.hostname
        );
        conn.send(greeting.as_bytes()).await
    }

    /// Hands what the command wrote to the connection: queued when small
    /// (pipelined replies go out together), sent at once when big, so it is
    /// not copied into the output buffer.
    async fn queue_output(&mut self, conn: &mut Conn) -> Result<(), ConnError> {
        let bytes = self.out.take();
        self.counters.1 += bytes.len() as u64;
        if bytes.len() < STREAM_CHUNK {
            conn.queue(&bytes);
            return Ok(());
        }
        conn.send(&bytes).await
    }

    /// Sends what a long response (FETCH) wrote so far, once it is a lot.
    /// `false` when the client is gone: the command should stop.
    pub(crate) async fn stream(&mut self, conn: &mut Conn) -> bool {
        if self.out.len() < STREAM_CHUNK {
            return true;
        }
        match self.queue_output(conn).await {
            Ok(()) => true,
            Err(err) => {
                self.write_error = Some(err);
                false
            }
        }
    }

    /// Closes a connection that sent too many bad commands or failed to log
    /// in too often, as Dovecot does; `true` when closed.
    async fn close_for_errors(&mut self, conn: &mut Conn) -> bool {
        let (bye, why) = if self.auth_failures >= havre_directory::MAX_AUTH_FAILURES {
            (
                &b"* BYE Too many authentication failures.\r\n"[..],
                "Disconnected: Too many authentication failures",
            )
        } else if self.bad_commands >= MAX_BAD_COMMANDS {
            (
                &b"* BYE Too many invalid IMAP commands.\r\n"[..],
                "Disconnected: Too many invalid commands",
            )
        } else {
            return false;
        };
        conn.queue(bye);
        let _ = conn.flush().await;
        conn.shutdown().await;
        self.log_end(why);
        true
    }

    /// The node stops, or an operator kicked the user: Dovecot's last
    /// words, then the connection ends.
    async fn shutting_down(&self, conn: &mut Conn) {
        if self.entry.as_ref().is_some_and(|e| e.kicked()) {
            let _ = conn
                .send(b"* BYE Disconnected by the administrator.\r\n")
                .await;
            conn.shutdown().await;
            self.log_end("Disconnected: Kicked by the administrator");
            return;
        }
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
                // Dovecot's words, which Fail2ban's dovecot filter counts.
                let line = havre_net::LoginEnd {
                    why,
                    failures: self.auth_failures,
                    secs: self.started.elapsed().as_secs(),
                    last: self
                        .last_login
                        .as_ref()
                        .map(|(user, method)| (user.as_str(), method.as_str())),
                    remote: self.peer.ip(),
                    local: self.local.map(|l| l.ip()),
                    tls: self.tls,
                }
                .line();
                tracing::info!(target: "imap", role = "imap-login", "{line}")
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

    /// Waits for the client's next command, then reads it whole and runs it.
    async fn next_command(&mut self, conn: &mut Conn) -> Result<Next, ConnError> {
        self.wait_command(conn).await?;
        // A command's future is as big as the biggest command's (FETCH,
        // SEARCH, APPEND: kilobytes). It lives on the heap while the command
        // runs, so the session's own future, which every connection holds
        // for its whole life, is only as big as its waits.
        Box::pin(self.read_and_run_command(conn)).await
    }

    /// Reads one whole command (with its literals) and runs it.
    async fn read_and_run_command(&mut self, conn: &mut Conn) -> Result<Next, ConnError> {
        let settings = &self.services.settings;
        // A framer skipping the rest of a refused command lives on; an idle
        // one is made anew for the session's state.
        if self.framer.is_idle() {
            self.framer = new_framer(settings, self.user.is_some());
        }
        let framer = &mut self.framer;
        let command = loop {
            let framed = match conn
                .read_line_keeping_ends(settings.max_command_length, LONG_LINE_ENDS)
                .await?
            {
                LineEnds::Complete(line) => {
                    self.counters.0 += line.len() as u64;
                    framer.push_line(&line)
                }
                LineEnds::TooLong { head, tail } => framer.push_truncated_line(&head, &tail),
            };
            let framed = match framed {
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
                    self.bad_commands += 1;
                    self.services
                        .guard
                        .note(self.peer.ip(), Offence::ProtocolError(Service::Imap));
                    self.out.raw(&refusal.response());
                    if refusal.close {
                        self.out.raw(&refusal.bye());
                        return Ok(Next::Disconnect("Disconnected: Literal too big to skip"));
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
            Ok(command) => {
                let next = self.execute(conn, command).await;
                match self.write_error.take() {
                    Some(err) => Err(err),
                    None => Ok(next),
                }
            }
            Err(err) => {
                if !err.is_refusal() {
                    self.bad_commands += 1;
                    self.services
                        .guard
                        .note(self.peer.ip(), Offence::ProtocolError(Service::Imap));
                }
                self.out.raw(&err.response());
                Ok(Next::Continue)
            }
        }
    }

    /// Runs a parsed command: the command's own responses, then the updates
    /// the client is owed, then the tagged response.
    async fn execute(&mut self, conn: &mut Conn, command: Command) -> Next {
        self.tag = command.tag.clone();
        let allow_expunge = crate::command::allows_expunge(&command.body);
        let (next, outcome) = self.dispatch(conn, command.body).await;
        if matches!(next, Next::Continue | Next::Logout) {
            // Nothing may follow LOGOUT's tagged OK (RFC 9051 6.1.3): its
            // updates are no longer owed.
            if self.selected.is_some() && matches!(next, Next::Continue) {
                self.send_updates(allow_expunge).await;
            }
            if self.notify.is_some() && matches!(next, Next::Continue) {
                self.notify_changes(None).await;
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
                self.services
                    .guard
                    .note(self.peer.ip(), Offence::ProtocolError(Service::Imap));
                self.out.tagged(&tag, Status::Bad, None, &text)
            }
        };
    }

    /// Turns CONDSTORE on for a command that implies it (RFC 7162 3.1); the
    /// first time, with a mailbox selected, the client learns the mailbox's
    /// mod-sequence as far as it has been told of its changes.
    pub(crate) fn enable_condstore(&mut self) {
        if self.enabled.condstore {
            return;
        }
        self.enabled.condstore = true;
        if let Some(view) = &self.selected {
            let code = Code::HighestModSeq(view.known_modseq);
            self.out.untagged(Status::Ok, Some(&code), "Highest");
        }
    }

    /// Writes what changed in the selected mailbox since the client last heard.
    pub(crate) async fn send_updates(&mut self, allow_expunge: bool) {
        self.send_updates_with(Allow {
            expunge: allow_expunge,
            flags: true,
        })
        .await
    }

    /// [`Session::send_updates`] with what may be reported now.
    pub(crate) async fn send_updates_with(&mut self, allow: Allow) {
        let services = self.services.clone();
        let Some(view) = self.selected.as_mut() else {
            return;
        };
        let updates = match view.poll(&services.mailboxes, allow).await {
            Ok(u) => u,
            Err(err) => {
                tracing::error!(target: "imap", "cannot read mailbox changes: {err}");
                return;
            }
        };
        // Updated searches lose these messages while their numbers hold.
        let gone: Vec<(u32, u32)> = updates
            .iter()
            .filter_map(|u| match u {
                Update::Expunge { seq, uid } => Some((*seq, *uid)),
                _ => None,
            })
            .collect();
        if !gone.is_empty() {
            self.context_removals(&gone);
        }
        if updates.iter().any(|u| matches!(u, Update::Exists(_))) {
            self.claim_recent().await;
        }
        let (condstore, qresync) = (self.enabled.condstore, self.enabled.qresync);
        let mut vanished = havre_imap_proto::RangeSet::new();
        for update in updates {
            match update {
                Update::Keywords => self.write_flags(),
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
                    if !self.enabled.rev2 {
                        let recent = self.recent_count();
                        self.out.recent(recent);
                    }
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
                    let flags = self.shown_flags(uid, &flags);
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
        self.refresh_contexts().await;
    }

    /// Waits for the client's next command; under NOTIFY, writes the
    /// notifications due meanwhile (RFC 5465 3: not only in IDLE).
    async fn wait_command(&mut self, conn: &mut Conn) -> Result<(), ConnError> {
        loop {
            if self.notify.is_none() || self.changes.is_none() || conn.has_buffered() {
                return conn.wait_command().await;
            }
            if conn.stopping() {
                return Err(ConnError::Stopping);
            }
            let Some(changes) = self.changes.as_mut() else {
                return conn.wait_command().await;
            };
            tokio::select! {
                filled = conn.fill_unless_stopping() => {
                    filled?;
                    return Ok(());
                }
                got = changes.recv() => {
                    let first = self.received(got);
                    // On the heap, as a command: the wait stays small.
                    Box::pin(self.push_notifications(conn, first)).await;
                    if let Some(err) = self.write_error.take() {
                        return Err(err);
                    }
                    let bytes = self.out.take();
                    if !bytes.is_empty() {
                        conn.send(&bytes).await?;
                    }
                }
            }
        }
    }

    /// One change off the channel, or `None` when some were lost (noted
    /// for NOTIFY) or the channel is gone (then no more waits on it).
    fn received(&mut self, got: Result<Change, broadcast::error::RecvError>) -> Option<Change> {
        match got {
            Ok(change) => Some(change),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                self.lagged = true;
                None
            }
            Err(broadcast::error::RecvError::Closed) => {
                self.changes = None;
                None
            }
        }
    }

    /// The client's address as logs and `havre who` show it: the one a
    /// director forwarded, else the connection's.
    pub(crate) fn client_ip(&self) -> std::net::IpAddr {
        self.forwarded.unwrap_or(self.peer.ip())
    }

    /// A director's `ID` before its login on a client's behalf names the
    /// client (Dovecot's `x-originating-ip`); taken from a trusted director
    /// only, and only before the login.
    pub(crate) fn take_forwarded(&mut self, params: &[(String, Option<String>)]) {
        if self.user.is_some() || !self.services.directory.trusts_director(self.peer.ip()) {
            return;
        }
        let named = params.iter().find_map(|(key, value)| {
            key.eq_ignore_ascii_case("x-originating-ip")
                .then_some(value.as_deref())
                .flatten()
        });
        if let Some(ip) = named.and_then(|v| v.parse::<std::net::IpAddr>().ok()) {
            self.forwarded = Some(ip);
            if let Some(entry) = &self.entry {
                entry.on_behalf_of(ip);
            }
        }
    }

    /// Logs in: one slot per user, notifications, and the log line.
    /// One of `user`'s sessions (`imap.max_connections_per_user`), or the
    /// refusal when she has them all.
    fn user_slot(&self, user: &str) -> Result<Slot, Outcome> {
        let slot = self.services.limits.acquire(
            format!("user:{user}"),
            self.services.settings.max_connections_per_user,
        );
        slot.ok_or_else(|| {
            tracing::warn!(target: "imap", role = "imap-login", "Maximum number of connections from user+IP exceeded: user=<{user}>, rip={}", self.peer.ip());
            Outcome::no_code(
                Code::Limit,
                "Maximum number of connections from user+IP exceeded",
            )
        })
    }

    /// `user` logged in, holding `slot` ([`Session::user_slot`]).
    fn logged_in(&mut self, user: String, method: &str, slot: Slot) {
        tracing::info!(
            target: "imap",
            role = "imap-login",
            "Login: user=<{user}>, method={method}, rip={}, lip={}{}",
            self.client_ip(),
            self.local.map(|l| l.ip().to_string()).unwrap_or_default(),
            if self.tls { ", TLS" } else { "" }
        );
        if self.services.handoff.is_none() {
            self.changes = Some(self.services.mailboxes.notifier().subscribe(&user));
        }
        if let Some(entry) = &self.entry {
            entry.logged_in(&user);
        }
        self.user = Some(user);
        self.user_slot = Some(slot);
    }

    /// The login's answer when the session is relayed to `backend` (the
    /// director role): its capabilities after login are the backend's. The
    /// relay starts once the answer is out.
    fn relay_later(&mut self, backend: Backend) -> Outcome {
        tracing::info!(target: "imap", role = "imap-login", "proxy: user=<{}>, rip={}: started proxying to {}", self.user(), self.peer.ip(), backend.address);
        if let Some(entry) = &self.entry {
            entry.relayed_to(&backend.address);
        }
        let capabilities = backend
            .answer
            .split_whitespace()
            .map(str::to_string)
            .collect();
        self.relay_to = Some(backend);
        Outcome::Ok(Some(Code::Capability(capabilities)), "Logged in".into())
    }

    /// Relays the logged-in session to its backend until either side ends
    /// it, or a kick or the node's stop does.
    async fn relay(&mut self, conn: Conn, backend: Backend) {
        let Some(handoff) = self.services.handoff.clone() else {
            return;
        };
        // Held for the relay's whole life: what the login's commands grew
        // is given back first.
        self.out = havre_imap_proto::Writer::new();
        self.framer = new_framer(&self.services.settings, false);
        let user = self.user().to_string();
        let (up, down, end) = havre_net::relay(conn, backend, &user, &*handoff).await;
        self.counters.0 += up;
        self.counters.1 += down;
        match end {
            RelayEnd::Closed(None) => self.log_end("Disconnected"),
            RelayEnd::Closed(Some(err)) => self.log_end(&format!("Disconnected: {err}")),
            RelayEnd::Stopped(mut conn) => self.shutting_down(&mut conn).await,
        }
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
                match sasl::decode_plain_any(&response) {
                    Ok(sasl::Plain::Own(c)) => Some((c.user, c.password)),
                    Ok(sasl::Plain::Behalf(behalf))
                        if behalf.login == havre_directory::cluster::DIRECTOR_LOGIN =>
                    {
                        let outcome = if behalf.user == havre_directory::cluster::PROBE_LOGIN {
                            self.answer_probe(&behalf.password).await
                        } else {
                            self.check_director(&behalf.user, &behalf.password).await
                        };
                        self.finish(Some(outcome));
                        return Ok(());
                    }
                    Ok(sasl::Plain::Behalf(_)) | Err(_) => None,
                }
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
        let verdict = self
            .services
            .directory
            .authenticate_from(Some(self.peer.ip()), user, password)
            .await;
        self.login_verdict(verdict, user, method, None).await
    }

    /// A director's login on `user`'s behalf (the backend of a director):
    /// her folders are read while her account is, once the token is good.
    async fn check_director(&mut self, user: &str, token: &str) -> Outcome {
        let services = &self.services;
        let (verdict, looked) = services
            .directory
            .authenticate_director_with(self.peer.ip(), user, token, services.mailboxes.look(user))
            .await;
        self.login_verdict(verdict, user, "director", looked.and_then(Result::ok))
            .await
    }

    /// A director's probe ([`havre_directory::cluster::PROBE_LOGIN`]): OK,
    /// the session still not logged in, once its token is a director's and
    /// the directory and the mail storage answer; NO [UNAVAILABLE] when
    /// either does not, and the probing director marks this backend down.
    /// Anyone else's attempt is refused (the directory logs why), and not
    /// counted by the guard: the token is a signature, nothing to guess,
    /// and a director whose network is not trusted here (a mistake in the
    /// configuration) must not be banned for its probes.
    async fn answer_probe(&mut self, token: &str) -> Outcome {
        let client = self.peer.ip();
        let services = self.services.clone();
        let failing = match services.directory.answer_probe(client, token).await {
            Ok(false) => {
                return Outcome::no_code(Code::AuthenticationFailed, "Authentication failed.");
            }
            Err(err) => format!("the directory: {err}"),
            Ok(true) => match services.mailboxes.storage_answers().await {
                Ok(()) => return Outcome::ok("Probe answered: directory and mail storage ready"),
                Err(err) => format!("the mail storage: {err}"),
            },
        };
        tracing::warn!(target: "imap", role = "imap-login", "director probe from {client}: {failing}: answered unavailable");
        Outcome::no_code(Code::Unavailable, format!("Probe failed: {failing}"))
    }

    /// `looked`: her folders, read already.
    async fn login_verdict(
        &mut self,
        verdict: Result<Option<havre_store::User>, havre_directory::DirectoryError>,
        user: &str,
        method: &str,
        looked: Option<havre_mailbox::Looked>,
    ) -> Outcome {
        match verdict {
            Ok(Some(found)) => {
                // Her slot first: a director opens no session at her
                // backend for a login it must refuse.
                let slot = match self.user_slot(&found.email) {
                    Ok(slot) => slot,
                    Err(outcome) => return outcome,
                };
                let backend = match self.services.handoff.clone() {
                    Some(handoff) => {
                        match handoff.open(Protocol::Imap, &found.email, self.peer).await {
                            Ok(backend) => Some(backend),
                            Err(err) => {
                                tracing::warn!(target: "imap", role = "imap-login", "proxy: user=<{}>, rip={}: {err}", found.email, self.peer.ip());
                                return Outcome::no_code(
                                    Code::Unavailable,
                                    "Account is temporarily unavailable.",
                                );
                            }
                        }
                    }
                    None => None,
                };
                self.logged_in(found.email.clone(), method, slot);
                self.services.events.record(
                    havre_events::Event::new(havre_events::Kind::Login, "imap-login")
                        .client(format!("[{}]", self.client_ip()))
                        .recipient(found.email.as_str())
                        .reason(method),
                );
                if let Some(backend) = backend {
                    return self.relay_later(backend);
                }
                let prepared = match looked {
                    Some(looked) => {
                        self.services
                            .mailboxes
                            .ensure_defaults_from(&found.email, looked)
                            .await
                    }
                    None => self.services.mailboxes.ensure_defaults(&found.email).await,
                };
                if let Err(err) = prepared {
                    tracing::error!(target: "imap", "cannot prepare the mailboxes of {}: {err}", found.email);
                }
                Outcome::Ok(
                    Some(Code::Capability(self.capabilities())),
                    "Logged in".into(),
                )
            }
            Ok(None) => {
                self.auth_failures += 1;
                self.bad_commands += 1;
                let ip = self.peer.ip();
                self.services
                    .guard
                    .record(ip, Offence::FailedLogin(Service::Imap))
                    .await;
                let shown = havre_net::shown_user(user);
                // One line per attempt, in words the dovecot filter does not
                // count: it counts the connection's last line, as Dovecot's.
                tracing::info!(target: "imap", role = "imap-login", "auth failed: user=<{shown}>, method={method}, rip={}, attempt {}", self.peer.ip(), self.auth_failures);
                self.services.events.record(
                    havre_events::Event::new(havre_events::Kind::LoginFailed, "imap-login")
                        .client(format!("[{}]", self.peer.ip()))
                        .recipient(shown.as_str())
                        .reason(method),
                );
                self.last_login = Some((shown, method.to_string()));
                // A failed login costs the client time, not the server.
                tokio::time::sleep(AUTH_FAILURE_DELAY).await;
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
        while !conn.buffered().contains(&b'\n') {
            let changes = self.changes.as_mut();
            let first = tokio::select! {
                filled = conn.fill_unless_stopping() => {
                    filled?;
                    continue;
                }
                got = async {
                    match changes {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => self.received(got),
                _ = poll.tick() => None,
            };
            // On the heap while it runs, as a command: what an idling
            // session holds is only its wait.
            Box::pin(self.push_updates(conn, first)).await?;
        }
        Box::pin(self.end_idle(conn)).await
    }

    /// The line that ends IDLE (`DONE`; anything else is BAD), the updates
    /// owed, and the tagged response.
    async fn end_idle(&mut self, conn: &mut Conn) -> Result<(), ConnError> {
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
        conn.send(&bytes).await
    }

    /// In IDLE: every update of the selected mailbox, and under NOTIFY the
    /// other notifications (`first`: a change already read).
    async fn push_updates(
        &mut self,
        conn: &mut Conn,
        first: Option<Change>,
    ) -> Result<(), ConnError> {
        if self.notify.is_some() {
            self.notify_changes(first).await;
        }
        if self.selected.is_some() {
            self.send_updates(true).await;
        }
        let bytes = self.out.take();
        if !bytes.is_empty() {
            conn.send(&bytes).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use havre_testkit::faults::PanicOnRead;
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn a_session_whose_command_panics_says_bye_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        let services = crate::testing::services(dir.path()).await;
        let (server, mut client) = PanicOnRead::pair();
        let mut session = Session::new(services, "192.0.2.1:40000".parse().unwrap(), None);
        session
            .run(Box::new(server), false, havre_net::Stop::never())
            .await;
        let mut seen = String::new();
        client.read_to_string(&mut seen).await.unwrap();
        let lines: Vec<&str> = seen.lines().collect();
        assert!(lines[0].starts_with("* OK "), "{seen:?}");
        assert_eq!(
            lines[1..],
            [
                "* BYE [SERVERBUG] Internal error occurred. Refer to server log for more information."
            ]
        );
    }
}
