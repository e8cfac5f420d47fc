//! A director's login at a backend on a user's behalf, in each protocol:
//! SASL PLAIN with the user as authorization identity and a signed token
//! ([`havre_directory::cluster`]). Lines are read without reading ahead:
//! once logged in, every byte that follows belongs to the client.

use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use havre_directory::cluster::DIRECTOR_LOGIN;
use havre_directory::sasl::encode_plain_behalf;
use havre_net::Protocol;

/// The longest line a backend may send during a login.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the backend answered {0:?}")]
    Refused(String),
}

/// Reads the backend's greeting on a new connection: what a login, or a
/// spare kept for one ([`crate::spares`]), starts with.
pub async fn greet(protocol: Protocol, stream: &mut TcpStream) -> Result<(), LoginError> {
    match protocol {
        Protocol::Imap => expect_greeting(stream, "* OK").await,
        Protocol::Pop3 => expect_greeting(stream, "+OK").await,
        // The greeting is the capability list, ended by an OK line.
        Protocol::ManageSieve => loop {
            let line = read_line(stream).await?;
            if line.starts_with("OK") {
                return Ok(());
            }
            if line.starts_with("NO") || line.starts_with("BYE") {
                return Err(LoginError::Refused(line));
            }
        },
    }
}

/// Logs in at the backend on `stream`, greeted already ([`greet`]), as
/// `user` with `token`, for a client at `client`; returns what the
/// client's own answer needs (IMAP: the capabilities after login).
pub async fn log_in(
    protocol: Protocol,
    stream: &mut TcpStream,
    user: &str,
    token: &str,
    client: IpAddr,
) -> Result<String, LoginError> {
    let plain = encode_plain_behalf(user, DIRECTOR_LOGIN, token);
    match protocol {
        Protocol::Imap => imap(stream, &plain, client).await,
        Protocol::Pop3 => pop3(stream, &plain, client).await,
        Protocol::ManageSieve => managesieve(stream, &plain, client).await,
    }
}

/// What ends a greeted connection that was never used, politely: the
/// backend logs a logout rather than a lost connection.
pub fn logout_line(protocol: Protocol) -> &'static [u8] {
    match protocol {
        Protocol::Imap => b"Z LOGOUT\r\n",
        Protocol::Pop3 => b"QUIT\r\n",
        Protocol::ManageSieve => b"LOGOUT\r\n",
    }
}

async fn imap(stream: &mut TcpStream, plain: &str, client: IpAddr) -> Result<String, LoginError> {
    // The client's address first, as Dovecot's proxy says it (ID, RFC 2971,
    // with `x-originating-ip`): the backend logs her address, not ours. Both
    // commands go in one write; the ID's answer is not waited for alone.
    send(
        stream,
        &format!("D0 ID (\"x-originating-ip\" \"{client}\")\r\nD1 AUTHENTICATE PLAIN {plain}\r\n"),
    )
    .await?;
    tagged(stream, "D0").await?;
    let answer = tagged(stream, "D1").await?;
    if !answer.starts_with("D1 OK") {
        return Err(LoginError::Refused(answer));
    }
    if let Some(capabilities) = capability_code(&answer) {
        return Ok(capabilities);
    }
    send(stream, "D2 CAPABILITY\r\n").await?;
    let mut capabilities = String::new();
    loop {
        let line = read_line(stream).await?;
        if let Some(list) = line.strip_prefix("* CAPABILITY ") {
            capabilities = list.to_string();
        } else if line.starts_with("D2 ") {
            return Ok(capabilities);
        }
    }
}

/// `[CAPABILITY ...]` in a tagged OK.
fn capability_code(line: &str) -> Option<String> {
    let start = line.find("[CAPABILITY ")? + "[CAPABILITY ".len();
    let end = start + line[start..].find(']')?;
    Some(line[start..end].to_string())
}

/// A probe's IMAP exchange: the greeting, a login as `user` with
/// `token`, a NOOP, then LOGOUT.
pub async fn probe_imap(stream: &mut TcpStream, user: &str, token: &str) -> Result<(), LoginError> {
    expect_greeting(stream, "* OK").await?;
    let plain = encode_plain_behalf(user, DIRECTOR_LOGIN, token);
    send(stream, &format!("P1 AUTHENTICATE PLAIN {plain}\r\n")).await?;
    let answer = tagged(stream, "P1").await?;
    if !answer.starts_with("P1 OK") {
        return Err(LoginError::Refused(answer));
    }
    send(stream, "P2 NOOP\r\n").await?;
    let answer = tagged(stream, "P2").await?;
    if !answer.starts_with("P2 OK") {
        return Err(LoginError::Refused(answer));
    }
    send(stream, "P3 LOGOUT\r\n").await?;
    Ok(())
}

async fn pop3(stream: &mut TcpStream, plain: &str, client: IpAddr) -> Result<String, LoginError> {
    // The client's address first (XCLIENT, as Dovecot's proxy says it to
    // a POP3 backend), in the same write as the login.
    send(
        stream,
        &format!("XCLIENT ADDR={client}\r\nAUTH PLAIN {plain}\r\n"),
    )
    .await?;
    read_line(stream).await?;
    let answer = read_line(stream).await?;
    if !answer.starts_with("+OK") {
        return Err(LoginError::Refused(answer));
    }
    Ok(String::new())
}

async fn managesieve(
    stream: &mut TcpStream,
    plain: &str,
    client: IpAddr,
) -> Result<String, LoginError> {
    // The client's address first (XCLIENT, which Pigeonhole's
    // managesieve-login takes from its trusted networks), in the same
    // write as the login; its answer does not stop the login.
    send(
        stream,
        &format!("XCLIENT ADDR={client}\r\nAUTHENTICATE \"PLAIN\" \"{plain}\"\r\n"),
    )
    .await?;
    let xclient = read_line(stream).await?;
    if xclient.starts_with("BYE") {
        return Err(LoginError::Refused(xclient));
    }
    loop {
        let line = read_line(stream).await?;
        if line.starts_with("OK") {
            return Ok(String::new());
        }
        if line.starts_with("NO") || line.starts_with("BYE") {
            return Err(LoginError::Refused(line));
        }
    }
}

async fn expect_greeting(stream: &mut TcpStream, ok: &str) -> Result<(), LoginError> {
    let greeting = read_line(stream).await?;
    if greeting.starts_with(ok) {
        Ok(())
    } else {
        Err(LoginError::Refused(greeting))
    }
}

/// Reads lines up to the tagged one of `tag`.
async fn tagged(stream: &mut TcpStream, tag: &str) -> Result<String, LoginError> {
    loop {
        let line = read_line(stream).await?;
        if line
            .strip_prefix(tag)
            .is_some_and(|rest| rest.starts_with(' '))
        {
            return Ok(line);
        }
    }
}

async fn send(stream: &mut TcpStream, line: &str) -> std::io::Result<()> {
    stream.write_all(line.as_bytes()).await
}

/// One line (without its CRLF), read up to its end and not a byte beyond:
/// what is seen with `peek` is taken only up to the newline.
async fn read_line(stream: &mut TcpStream) -> Result<String, LoginError> {
    let mut line = Vec::new();
    let mut seen = [0u8; 1024];
    loop {
        let n = stream.peek(&mut seen).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        let take = seen[..n]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(n, |at| at + 1);
        let start = line.len();
        line.resize(start + take, 0);
        stream.read_exact(&mut line[start..]).await?;
        if line.ends_with(b"\n") {
            let text = String::from_utf8_lossy(&line);
            return Ok(text.trim_end_matches(['\r', '\n']).to_string());
        }
        if line.len() > MAX_LINE {
            return Err(LoginError::Refused("a line too long".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capabilities_come_from_the_tagged_ok() {
        assert_eq!(
            capability_code("D1 OK [CAPABILITY IMAP4rev2 IDLE MOVE] Logged in").as_deref(),
            Some("IMAP4rev2 IDLE MOVE")
        );
        assert_eq!(capability_code("D1 OK Logged in"), None);
    }
}
