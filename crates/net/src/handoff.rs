//! The director role's sessions (`server.roles = ["director"]`): a client
//! logs in at the director as at any IMAP, POP3 or ManageSieve server (TLS,
//! the guard, the login lines), then the session hands over to the user's
//! backend, logged in there on her behalf ([`Handoff`]), and only relays
//! bytes both ways ([`relay`]): no per-message work at the director.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use havre_message::MessageSource;
use tokio::io::{AsyncWriteExt, copy_bidirectional_with_sizes};
use tokio::net::TcpStream;

use crate::conn::Conn;
use crate::stop::Phase;

/// The protocol a session hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Imap,
    Pop3,
    ManageSieve,
}

impl Protocol {
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::ManageSieve => "managesieve",
        }
    }
}

/// A connection to the user's backend, logged in there as her.
pub struct Backend {
    /// The backend's name, as `havre director status` shows it.
    pub address: String,
    pub stream: TcpStream,
    /// What the backend answered to the login, for the client's own answer
    /// (IMAP: its capabilities after login).
    pub answer: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// No backend can take the user now (the shared state cannot be
    /// reached, every backend is down, hers did not answer): the client is
    /// told to try again later.
    #[error("{0}")]
    Unavailable(String),
}

/// Where a director sends a logged-in user.
#[async_trait]
pub trait Handoff: Send + Sync {
    /// A connection to `user`'s backend for `protocol`, logged in as her;
    /// `client` is the address she connected from (the backend logs it).
    async fn open(
        &self,
        protocol: Protocol,
        user: &str,
        client: SocketAddr,
    ) -> Result<Backend, HandoffError>;

    /// A session of `user` proxied to `backend` ended: her assignment runs
    /// from now.
    async fn closed(&self, user: &str, backend: &str);
}

/// Where a director's LMTP listener sends each recipient's copy: to the
/// backend of her mailbox, over LMTP (RFC 2033), her own reply kept.
#[async_trait]
pub trait LmtpForward: Send + Sync {
    /// Delivers `message` from `sender` to each of `mailboxes` at its
    /// backend; one answer per mailbox, in order. A message in a file is
    /// streamed from it, never read whole into memory.
    async fn forward(
        &self,
        sender: &str,
        mailboxes: &[String],
        message: &MessageSource,
    ) -> Vec<Forwarded>;
}

/// A backend's answer for one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub code: u16,
    /// RFC 3463 status, like "2.0.0".
    pub status: String,
    /// The backend's reply, or why none came, for the log and the client.
    pub text: String,
    /// The backend, for the log's `relay=`.
    pub backend: String,
}

/// How a relay ended.
pub enum RelayEnd {
    /// One side closed, or failed (the error's text).
    Closed(Option<String>),
    /// The session's stop closed it (a kick, the node stopping): the
    /// client's connection is handed back for the protocol's last words.
    Stopped(Conn),
}

/// Memory per direction of a relayed connection: most are idle (IMAP IDLE),
/// and a director holds tens of thousands (bench/director: 2 KB each way
/// made a relayed idle session cost 11 KB at the director, over the 10 KB
/// aimed at). A big FETCH goes through in more reads, not more memory.
const RELAY_BUFFER: usize = 1024;

/// How long the protocol's last words to a relayed client may take.
const LAST_WORDS: Duration = Duration::from_secs(10);

/// Relays `user`'s logged-in session: flushes the login's answer, then
/// carries bytes between the client (`conn`, with what it sent ahead of
/// that answer) and her backend until either closes, or the session's stop
/// reaches [`Phase::Closing`]; then tells `handoff` the session ended (her
/// assignment runs from now). Returns the bytes carried from the client and
/// from the backend, and how it ended.
pub async fn relay(
    mut conn: Conn,
    backend: Backend,
    user: &str,
    handoff: &dyn Handoff,
) -> (u64, u64, RelayEnd) {
    let relayed = if let Err(e) = conn.flush().await {
        (0, 0, RelayEnd::Closed(Some(e.to_string())))
    } else {
        copy_both_ways(conn, backend.stream).await
    };
    handoff.closed(user, &backend.address).await;
    relayed
}

async fn copy_both_ways(conn: Conn, mut backend: TcpStream) -> (u64, u64, RelayEnd) {
    let (mut client, ahead, mut stop) = conn.into_relay_parts();
    if !ahead.is_empty()
        && let Err(e) = backend.write_all(&ahead).await
    {
        return (0, 0, RelayEnd::Closed(Some(e.to_string())));
    }
    let ahead = ahead.len() as u64;
    let copied = {
        let copy =
            copy_bidirectional_with_sizes(&mut client, &mut backend, RELAY_BUFFER, RELAY_BUFFER);
        tokio::select! {
            copied = copy => Some(copied),
            _ = stop.reached(Phase::Closing) => None,
        }
    };
    match copied {
        Some(Ok((up, down))) => (ahead + up, down, RelayEnd::Closed(None)),
        Some(Err(e)) => (ahead, 0, RelayEnd::Closed(Some(e.to_string()))),
        None => {
            let _ = tokio::time::timeout(Duration::from_secs(5), backend.shutdown()).await;
            (ahead, 0, RelayEnd::Stopped(Conn::new(client, LAST_WORDS)))
        }
    }
}

/// Connects to `address`:`port` within `timeout`.
pub async fn connect(address: &str, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect((address, port)))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}
