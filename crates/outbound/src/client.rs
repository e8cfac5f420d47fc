//! The SMTP/LMTP client: one session with one server, and the delivery of
//! one message over it (RFC 5321, RFC 2033 for LMTP, RFC 2920 PIPELINING,
//! RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3207 STARTTLS).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use havre_net::Conn;
use smtp_proto::{
    EXT_8BIT_MIME, EXT_CHUNKING, EXT_DSN, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE,
    EXT_SMTP_UTF8, EXT_START_TLS,
};

use crate::message::{Body, Message};
use crate::outcome::{Detail, Failure, Progress, RecipientResult};
use crate::settings::{ClientSettings, Envelope, Timeouts};
use crate::tls;
use crate::wire::{Capabilities, DotStuffer, Peer, WireError, address_ok, read_reply};

/// File bytes read per block of DATA.
const BLOCK: usize = 64 * 1024;

/// Where a session goes: the name for messages and DSNs, and the socket.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) address: TargetAddress,
    pub(crate) lmtp: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum TargetAddress {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Target {
    fn peer(&self) -> Peer {
        let label = match &self.address {
            TargetAddress::Tcp(addr) => format!("{}[{}]", self.host, addr.ip()),
            TargetAddress::Unix(path) => format!("{}[{}]", self.host, path.display()),
        };
        let relay = match &self.address {
            TargetAddress::Tcp(addr) => format!("{label}:{}", addr.port()),
            TargetAddress::Unix(_) => label.clone(),
        };
        Peer {
            host: self.host.clone(),
            label,
            relay,
        }
    }

    fn connect_label(&self) -> String {
        match &self.address {
            TargetAddress::Tcp(addr) => format!("{}[{}]:{}", self.host, addr.ip(), addr.port()),
            TargetAddress::Unix(path) => path.display().to_string(),
        }
    }
}

/// Why a session could not be opened.
pub(crate) enum OpenError {
    /// No connection (refused, unreachable, timed out).
    Connect(Failure),
    /// The server answered but refused or broke the session (greeting,
    /// EHLO/HELO, lost connection). `permanent` for a 5xx.
    Session(Failure),
    /// The TLS handshake failed after the server accepted STARTTLS.
    Tls(Failure),
}

/// An open SMTP/LMTP session, ready for a transaction (possibly over TLS).
///
/// Returned by [`deliver_reusing`](crate::deliver_reusing) so the relay
/// can keep it for the next message to the same destination.
pub struct Connection {
    conn: Conn,
    peer: Peer,
    lmtp: bool,
    caps: Capabilities,
    tls: Option<String>,
    timeouts: Timeouts,
    established: Instant,
    transactions: u32,
    /// No transaction is half-done (MAIL given without an end).
    clean: bool,
    /// The connection failed; it must not be used again.
    broken: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer.label)
            .field("lmtp", &self.lmtp)
            .field("tls", &self.tls)
            .field("transactions", &self.transactions)
            .finish()
    }
}

impl Connection {
    /// Connects, reads the greeting, says EHLO (or LHLO), and upgrades to
    /// TLS when `try_tls` and the server offers STARTTLS.
    pub(crate) async fn open(
        target: &Target,
        settings: &ClientSettings,
        try_tls: bool,
    ) -> Result<Connection, OpenError> {
        let t = &settings.timeouts;
        let peer = target.peer();
        let connected = tokio::time::timeout(t.connect, async {
            match &target.address {
                TargetAddress::Tcp(addr) => {
                    let stream = tokio::net::TcpStream::connect(addr).await?;
                    let _ = stream.set_nodelay(true);
                    Ok::<Box<dyn havre_net::Io>, std::io::Error>(Box::new(stream))
                }
                TargetAddress::Unix(path) => {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok(Box::new(stream) as Box<dyn havre_net::Io>)
                }
            }
        })
        .await;
        let stream = match connected {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return Err(OpenError::Connect(Failure::local(
                    false,
                    "4.4.1",
                    format!("connect to {}: {}", target.connect_label(), io_text(&e)),
                    Some(&peer.host),
                )));
            }
            Err(_) => {
                return Err(OpenError::Connect(Failure::local(
                    false,
                    "4.4.1",
                    format!(
                        "connect to {}: Connection timed out",
                        target.connect_label()
                    ),
                    Some(&peer.host),
                )));
            }
        };
        let mut conn = Conn::new(stream, t.greeting);
        let greeting = read_reply(&mut conn).await.map_err(|e| {
            OpenError::Session(e.failure(&peer, "receiving the initial server greeting"))
        })?;
        if greeting.code != 220 {
            let text = format!(
                "host {} refused to talk to me: {}",
                peer.label,
                greeting.text()
            );
            return Err(OpenError::Session(Failure::remote(&peer, &greeting, text)));
        }
        let caps = hello(&mut conn, &peer, target.lmtp, settings)
            .await
            .map_err(OpenError::Session)?;
        let mut connection = Connection {
            conn,
            peer,
            lmtp: target.lmtp,
            caps,
            tls: None,
            timeouts: *t,
            established: Instant::now(),
            transactions: 0,
            clean: true,
            broken: false,
        };
        if try_tls && !target.lmtp && connection.caps.has(EXT_START_TLS) {
            connection = connection.starttls(target, settings).await?;
        }
        Ok(connection)
    }

    async fn starttls(
        mut self,
        target: &Target,
        settings: &ClientSettings,
    ) -> Result<Connection, OpenError> {
        let peer = self.peer.clone();
        self.conn.set_timeout(self.timeouts.starttls);
        let reply = async {
            self.conn.send(b"STARTTLS\r\n").await?;
            read_reply(&mut self.conn).await
        }
        .await
        .map_err(|e| OpenError::Session(e.failure(&peer, "sending STARTTLS")))?;
        if reply.code != 220 {
            // Opportunistic: go on in clear on this session.
            tracing::info!(
                "{}: STARTTLS refused ({}), continuing without TLS",
                peer.label,
                reply.text()
            );
            return Ok(self);
        }
        let ip = match &target.address {
            TargetAddress::Tcp(addr) => addr.ip(),
            TargetAddress::Unix(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        };
        let name = tls::server_name(&target.host, ip);
        // The plain stream's buffered input is dropped here: anything the
        // server sent after its 220 was not protected (CVE-2011-0411).
        let stream = self.conn.into_stream();
        let connector = tokio_rustls::TlsConnector::from(tls::opportunistic_config());
        let handshake =
            tokio::time::timeout(self.timeouts.starttls, connector.connect(name, stream)).await;
        let stream = match handshake {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return Err(OpenError::Tls(Failure::local(
                    false,
                    "4.7.5",
                    format!(
                        "Cannot start TLS with {}: handshake failure: {e}",
                        peer.label
                    ),
                    Some(&peer.host),
                )));
            }
            Err(_) => {
                return Err(OpenError::Tls(Failure::local(
                    false,
                    "4.7.5",
                    format!("Cannot start TLS with {}: handshake timed out", peer.label),
                    Some(&peer.host),
                )));
            }
        };
        let (_, session) = stream.get_ref();
        let description = format!(
            "{} with cipher {}",
            match session.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
                _ => "TLS",
            },
            session
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or("unknown")
        );
        tracing::info!(
            "Anonymous TLS connection established to {}: {description}",
            peer.label
        );
        let mut conn = Conn::new(Box::new(stream), self.timeouts.helo);
        self.caps = hello(&mut conn, &peer, false, settings)
            .await
            .map_err(OpenError::Session)?;
        self.conn = conn;
        self.tls = Some(description);
        Ok(self)
    }

    /// The server, as "mx1.example.org[192.0.2.1]".
    pub fn peer(&self) -> &str {
        &self.peer.label
    }

    /// "TLSv1.3 with cipher ..." when the session is encrypted.
    pub fn tls(&self) -> Option<&str> {
        self.tls.as_deref()
    }

    /// When the session was opened (for a reuse time limit).
    pub fn established(&self) -> Instant {
        self.established
    }

    /// Transactions completed on it (for a reuse count limit).
    pub fn transactions(&self) -> u32 {
        self.transactions
    }

    /// Whether another message may be sent on it.
    pub fn is_usable(&self) -> bool {
        !self.broken && self.clean
    }

    /// RSET: checks a kept connection is still alive before reusing it.
    pub async fn reset(&mut self) -> bool {
        if self.broken {
            return false;
        }
        self.conn.set_timeout(self.timeouts.rset);
        let reply = async {
            self.conn.send(b"RSET\r\n").await?;
            read_reply(&mut self.conn).await
        }
        .await;
        match reply {
            Ok(reply) if reply.is_positive() => {
                self.clean = true;
                true
            }
            _ => {
                self.broken = true;
                false
            }
        }
    }

    /// Sends one message on this session, whatever happens (no other
    /// server is tried): temporary failures are [`RecipientResult::TempFail`].
    pub async fn send<'m>(
        &mut self,
        envelope: &Envelope<'_>,
        message: impl Into<Message<'m>>,
    ) -> Vec<RecipientResult> {
        let message = message.into();
        let mut progress = Progress::new(envelope.recipients.len());
        let mut body = match Body::open(message).await {
            Ok(body) => body,
            Err((path, e)) => return progress.finish(Some(&message_file_failure(path, &e))),
        };
        self.run(envelope, &mut body, &mut progress).await;
        progress.finish(None)
    }

    /// QUIT, waiting for the reply at most the quit timeout.
    pub async fn quit(mut self) {
        if !self.broken {
            self.conn.set_timeout(self.timeouts.quit);
            if self.conn.send(b"QUIT\r\n").await.is_ok() {
                let _ = read_reply(&mut self.conn).await;
            }
        }
        self.conn.shutdown().await;
    }

    /// The pending recipients of `progress`, in as many transactions as
    /// the server needs (after a "452 too many recipients" the rest go in
    /// another transaction on the same session, RFC 5321 4.5.3.1.10).
    pub(crate) async fn run(
        &mut self,
        envelope: &Envelope<'_>,
        body: &mut Body<'_>,
        progress: &mut Progress,
    ) {
        let mut batch = progress.pending();
        while !batch.is_empty() && !self.broken {
            let outcome = self.transaction(envelope, body, &batch, progress).await;
            if !self.clean && !self.broken {
                self.reset().await;
            }
            match outcome {
                Some(rest) if !rest.is_empty() && !self.broken => batch = rest,
                _ => break,
            }
        }
    }

    /// One transaction. Returns the recipients the server turned away with
    /// 452 when at least one other was delivered (worth another
    /// transaction now), else None.
    async fn transaction(
        &mut self,
        envelope: &Envelope<'_>,
        body: &mut Body<'_>,
        batch: &[usize],
        progress: &mut Progress,
    ) -> Option<Vec<usize>> {
        let peer = self.peer.clone();
        let recipients = envelope.recipients;
        let needs_utf8 = envelope.smtputf8
            || !envelope.sender.is_ascii()
            || batch.iter().any(|&i| !recipients[i].is_ascii());

        // What we can tell without asking the server.
        if !address_ok(envelope.sender) {
            let failure = Failure::local(
                true,
                "5.1.7",
                format!(
                    "bad sender address syntax: <{}>",
                    envelope.sender.escape_debug()
                ),
                None,
            );
            progress.fail_all(batch, &failure);
            return None;
        }
        if needs_utf8 && !self.caps.has(EXT_SMTP_UTF8) {
            let failure = Failure::local(
                true,
                "5.6.7",
                format!(
                    "SMTPUTF8 is required, but was not offered by host {}",
                    peer.label
                ),
                Some(&peer.host),
            );
            progress.fail_all(batch, &failure);
            return None;
        }
        if self.caps.has(EXT_SIZE) && self.caps.size > 0 && envelope.size > self.caps.size {
            let failure = Failure::local(
                true,
                "5.3.4",
                format!(
                    "message size {} exceeds size limit {} of server {}",
                    envelope.size, self.caps.size, peer.label
                ),
                Some(&peer.host),
            );
            progress.fail_all(batch, &failure);
            return None;
        }
        let mut sendable = Vec::with_capacity(batch.len());
        for &i in batch {
            if address_ok(&recipients[i]) && !recipients[i].is_empty() {
                sendable.push(i);
            } else {
                let failure = Failure::local(
                    true,
                    "5.1.3",
                    format!(
                        "bad recipient address syntax: <{}>",
                        recipients[i].escape_debug()
                    ),
                    None,
                );
                progress.fail(i, &failure);
            }
        }
        if sendable.is_empty() {
            return None;
        }

        let mut mail = format!("MAIL FROM:<{}>", envelope.sender);
        if self.caps.has(EXT_SIZE) {
            mail.push_str(&format!(" SIZE={}", envelope.size));
        }
        if envelope.eight_bit && self.caps.has(EXT_8BIT_MIME) {
            mail.push_str(" BODY=8BITMIME");
        }
        if needs_utf8 {
            mail.push_str(" SMTPUTF8");
        }
        mail.push_str("\r\n");

        self.clean = false;
        let pipelining = self.caps.has(EXT_PIPELINING);
        let t = self.timeouts;

        // MAIL and RCPT: in one write with PIPELINING, else one by one.
        // `stage` names what was going on if the connection fails.
        let mut accepted = Vec::new();
        let mut too_many = Vec::new();
        let mut mail_failure: Option<Failure> = None;
        let result: Result<(), (WireError, &str)> = async {
            self.conn.set_timeout(t.mail);
            self.conn.queue(mail.as_bytes());
            if pipelining {
                for &i in &sendable {
                    self.conn
                        .queue(format!("RCPT TO:<{}>\r\n", recipients[i]).as_bytes());
                }
            }
            self.conn
                .flush()
                .await
                .map_err(|e| (e.into(), "sending MAIL FROM"))?;
            let reply = read_reply(&mut self.conn)
                .await
                .map_err(|e| (e, "sending MAIL FROM"))?;
            if !reply.is_positive() {
                mail_failure = Some(Failure::said(&peer, &reply, "MAIL FROM"));
                if !pipelining {
                    return Ok(());
                }
            }
            for &i in &sendable {
                self.conn.set_timeout(t.rcpt);
                if !pipelining {
                    self.conn
                        .send(format!("RCPT TO:<{}>\r\n", recipients[i]).as_bytes())
                        .await
                        .map_err(|e| (e.into(), "sending RCPT TO"))?;
                }
                let reply = read_reply(&mut self.conn)
                    .await
                    .map_err(|e| (e, "sending RCPT TO"))?;
                if mail_failure.is_some() {
                    continue;
                }
                if reply.is_positive() {
                    accepted.push(i);
                } else {
                    if reply.code == 452 {
                        too_many.push(i);
                    }
                    progress.fail(i, &Failure::said(&peer, &reply, "RCPT TO"));
                }
            }
            Ok(())
        }
        .await;
        if let Err((e, stage)) = result {
            self.broken = true;
            progress.fail_all(&sendable, &e.failure(&peer, stage));
            return None;
        }
        if let Some(failure) = mail_failure {
            progress.fail_all(&sendable, &failure);
            return None;
        }
        if accepted.is_empty() {
            return None;
        }

        // DATA.
        self.conn.set_timeout(t.data_init);
        let reply = async {
            self.conn.send(b"DATA\r\n").await?;
            read_reply(&mut self.conn).await
        }
        .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.broken = true;
                progress.fail_all(&accepted, &e.failure(&peer, "sending DATA command"));
                return None;
            }
        };
        if reply.code != 354 {
            progress.fail_all(&accepted, &Failure::said(&peer, &reply, "DATA"));
            return None;
        }
        if let Err(e) = self.send_body(body).await {
            self.broken = true;
            let failure = match e {
                BodyError::File(e) => Failure::local(
                    false,
                    "4.3.0",
                    format!("error reading the message file: {e}"),
                    None,
                ),
                BodyError::Wire(e) => e.failure(&peer, "sending message body"),
            };
            progress.fail_all(&accepted, &failure);
            return None;
        }

        // The end of data: one reply (SMTP) or one per accepted recipient
        // (LMTP, RFC 2033 4.2).
        self.conn.set_timeout(t.data_done);
        let replies = if self.lmtp { accepted.len() } else { 1 };
        let mut delivered = 0;
        for n in 0..replies {
            let reply = match read_reply(&mut self.conn).await {
                Ok(reply) => reply,
                Err(e) => {
                    self.broken = true;
                    let failure = e.failure(
                        &peer,
                        "sending end of data -- message may be sent more than once",
                    );
                    let rest = if self.lmtp {
                        &accepted[n..]
                    } else {
                        &accepted[..]
                    };
                    progress.fail_all(rest, &failure);
                    return None;
                }
            };
            let concerned = if self.lmtp {
                &accepted[n..=n]
            } else {
                &accepted[..]
            };
            if reply.is_positive() {
                let detail = Detail {
                    reply: reply.text(),
                    status: reply.status(),
                    remote_mta: Some(peer.host.clone()),
                    relay: Some(peer.relay.clone()),
                    diagnostic: Some(reply.text()),
                };
                for &i in concerned {
                    progress.done(i, RecipientResult::Delivered(detail.clone()));
                }
                delivered += concerned.len();
            } else {
                progress.fail_all(concerned, &Failure::said(&peer, &reply, "end of DATA"));
            }
        }
        self.clean = true;
        self.transactions += 1;
        (delivered > 0 && !too_many.is_empty()).then_some(too_many)
    }

    /// Streams the lines to prepend, then the body, dot-stuffed, a block at
    /// a time.
    async fn send_body(&mut self, body: &mut Body<'_>) -> Result<(), BodyError> {
        body.rewind().await.map_err(BodyError::File)?;
        self.conn.set_timeout(self.timeouts.data_block);
        let mut stuffer = DotStuffer::default();
        let mut block = vec![0u8; BLOCK];
        let mut out = Vec::with_capacity(BLOCK + BLOCK / 16);
        // Whole header lines: the stuffer is at a line start after them,
        // as the file's first byte expects.
        stuffer.encode(body.prepend, &mut out);
        self.conn.queue(&out);
        loop {
            let n = body.read(&mut block).await.map_err(BodyError::File)?;
            if n == 0 {
                break;
            }
            out.clear();
            stuffer.encode(&block[..n], &mut out);
            self.conn.queue(&out);
            self.conn
                .flush()
                .await
                .map_err(|e| BodyError::Wire(e.into()))?;
        }
        out.clear();
        stuffer.finish(&mut out);
        self.conn.queue(&out);
        self.conn
            .flush()
            .await
            .map_err(|e| BodyError::Wire(e.into()))
    }

    /// Whether the server offered these (for logs and tests).
    pub fn offers_pipelining(&self) -> bool {
        self.caps.has(EXT_PIPELINING)
    }

    pub fn offers_chunking(&self) -> bool {
        self.caps.has(EXT_CHUNKING)
    }

    pub fn offers_dsn(&self) -> bool {
        self.caps.has(EXT_DSN)
    }

    pub fn offers_enhanced_status_codes(&self) -> bool {
        self.caps.has(EXT_ENHANCED_STATUS_CODES)
    }
}

enum BodyError {
    File(std::io::Error),
    Wire(WireError),
}

/// EHLO (LHLO for LMTP); HELO when EHLO gets a 5xx.
async fn hello(
    conn: &mut Conn,
    peer: &Peer,
    lmtp: bool,
    settings: &ClientSettings,
) -> Result<Capabilities, Failure> {
    conn.set_timeout(settings.timeouts.helo);
    let verb = if lmtp { "LHLO" } else { "EHLO" };
    let stage = if lmtp {
        "performing the LHLO handshake"
    } else {
        "performing the EHLO handshake"
    };
    let command = format!("{verb} {}\r\n", settings.helo_name);
    let reply = async {
        conn.send(command.as_bytes()).await?;
        read_reply(conn).await
    }
    .await
    .map_err(|e| e.failure(peer, stage))?;
    if reply.code == 250 {
        return Ok(Capabilities::parse(&reply));
    }
    if lmtp || reply.code < 500 {
        return Err(Failure::said(peer, &reply, verb));
    }
    let command = format!("HELO {}\r\n", settings.helo_name);
    let reply = async {
        conn.send(command.as_bytes()).await?;
        read_reply(conn).await
    }
    .await
    .map_err(|e| e.failure(peer, "performing the HELO handshake"))?;
    if reply.code == 250 {
        Ok(Capabilities::default())
    } else {
        Err(Failure::said(peer, &reply, "HELO"))
    }
}

/// The error text Postfix logs ("Connection refused"), without Rust's
/// "(os error 111)".
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

pub(crate) fn message_file_failure(path: &Path, e: &std::io::Error) -> Failure {
    Failure::local(
        false,
        "4.3.0",
        format!(
            "cannot open the message file {}: {}",
            path.display(),
            io_text(e)
        ),
        None,
    )
}
