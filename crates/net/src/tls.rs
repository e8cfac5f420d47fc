//! STARTTLS / implicit TLS on a connection, shared by every protocol.

use std::time::Duration;

use crate::conn::wait_limit;
use crate::{Conn, ConnError};

/// Runs the TLS handshake on `conn` (its buffered input is dropped: nothing
/// sent before TLS may count as sent over it). Returns the new connection and
/// a description for logs and `Received:` (`using TLSv1_3 with cipher ...`).
pub async fn accept_tls(
    conn: Conn,
    acceptor: &tokio_rustls::TlsAcceptor,
    timeout: Duration,
) -> Result<(Conn, String), ConnError> {
    let (stop, deadline) = conn.guard();
    let (limit, expired) = wait_limit(timeout, deadline)?;
    let stream = conn.into_stream();
    // The handshake's state (a whole rustls connection) is on the heap
    // while it lasts: the session's future, which every connection keeps
    // for its whole life, is not made that much bigger for it.
    let handshake = Box::pin(acceptor.accept(stream));
    let tls = match tokio::time::timeout(limit, handshake).await {
        Err(_) => return Err(expired),
        Ok(result) => result?,
    };
    let (_, session) = tls.get_ref();
    let version = session
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("TLS");
    let cipher = session
        .negotiated_cipher_suite()
        .map(|c| format!("{:?}", c.suite()))
        .unwrap_or_default();
    let description = format!("using {version} with cipher {cipher}");
    Ok((
        Conn::upgraded(stop, deadline, Box::new(tls), timeout),
        description,
    ))
}
