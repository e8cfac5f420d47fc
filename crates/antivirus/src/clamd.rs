//! A clamd client for one thing: scanning bytes with `zINSTREAM`.
//!
//! The protocol (clamd(8)): the command `zINSTREAM\0`, then the data in
//! chunks, each preceded by its length as 4 bytes in network order, then a
//! chunk of length 0; clamd answers one NUL-terminated line and closes the
//! connection. clamd may answer before the end of the data (its
//! `StreamMaxLength` reached) and close: a failed write is then followed by
//! a read of that answer, which says more than "broken pipe".

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::{TcpStream, UnixStream};

use crate::reply::{self, Answer};

/// Bytes per INSTREAM chunk: large enough for few system calls, small
/// enough not to matter in memory.
const CHUNK: usize = 64 * 1024;

/// The longest answer read: one line per signature is a few dozen bytes.
const MAX_REPLY: u64 = 16 * 1024;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `host:port` (`TCPSocket`/`TCPAddr`), the host a name or an address
    /// (IPv6 in brackets), resolved at each connection.
    Tcp(String),
    /// A unix socket (`LocalSocket`, Debian's `/run/clamav/clamd.ctl`).
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(address) => f.write_str(address),
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Why a scan gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClamdError {
    #[error("cannot connect to clamd at {endpoint}: {source}")]
    Connect {
        endpoint: Endpoint,
        source: io::Error,
    },
    #[error("clamd at {endpoint}: {source}")]
    Io {
        endpoint: Endpoint,
        source: io::Error,
    },
    #[error("clamd at {endpoint} did not answer within {}s", .limit.as_secs_f64())]
    Timeout { endpoint: Endpoint, limit: Duration },
    /// clamd's own `... ERROR` answer.
    #[error("clamd at {endpoint} could not scan: {words}")]
    Refused { endpoint: Endpoint, words: String },
    #[error("clamd at {endpoint} gave no answer a scan gives: {reply:?}")]
    Unexpected { endpoint: Endpoint, reply: String },
}

impl ClamdError {
    /// A few words for a header of the message (the log line has the
    /// whole error): what the recipient may know of why it was not scanned.
    pub fn summary(&self) -> String {
        match self {
            ClamdError::Connect { .. } => "clamd unreachable".into(),
            ClamdError::Io { .. } => "clamd connection failed".into(),
            ClamdError::Timeout { .. } => "clamd timed out".into(),
            ClamdError::Refused { words, .. } => format!("clamd error: {words}"),
            ClamdError::Unexpected { .. } => "clamd answer not understood".into(),
        }
    }
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Clean,
    /// The signatures' names.
    Virus(Vec<String>),
}

/// A clamd server and how long a scan may take there.
#[derive(Debug, Clone)]
pub struct Clamd {
    endpoint: Endpoint,
    timeout: Duration,
}

impl Clamd {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Clamd {
        Clamd { endpoint, timeout }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Scans `data`: connection, sending and answer all within the
    /// timeout. clamd recognises a mail message itself (its `ScanMail`) and
    /// scans each decoded part.
    pub async fn scan(&self, data: &[u8]) -> Result<Found, ClamdError> {
        let reply = tokio::time::timeout(self.timeout, self.exchange(data))
            .await
            .map_err(|_| ClamdError::Timeout {
                endpoint: self.endpoint.clone(),
                limit: self.timeout,
            })??;
        match reply::parse(&reply) {
            Ok(Answer::Clean) => Ok(Found::Clean),
            Ok(Answer::Infected(names)) => Ok(Found::Virus(names)),
            Ok(Answer::Error(words)) => Err(ClamdError::Refused {
                endpoint: self.endpoint.clone(),
                words,
            }),
            Err(reply) => Err(ClamdError::Unexpected {
                endpoint: self.endpoint.clone(),
                reply,
            }),
        }
    }

    async fn exchange(&self, data: &[u8]) -> Result<Vec<u8>, ClamdError> {
        let connect = |source| ClamdError::Connect {
            endpoint: self.endpoint.clone(),
            source,
        };
        let result = match &self.endpoint {
            Endpoint::Tcp(address) => {
                let stream = TcpStream::connect(address.as_str())
                    .await
                    .map_err(connect)?;
                instream(stream, data).await
            }
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path).await.map_err(connect)?;
                instream(stream, data).await
            }
        };
        result.map_err(|source| ClamdError::Io {
            endpoint: self.endpoint.clone(),
            source,
        })
    }
}

/// One `zINSTREAM` exchange on `stream`: clamd's answer, as bytes.
async fn instream<S: AsyncRead + AsyncWrite>(stream: S, data: &[u8]) -> io::Result<Vec<u8>> {
    let (reader, writer) = tokio::io::split(stream);
    let sent = send(writer, data).await;
    let answer = read_answer(reader).await;
    match (sent, answer) {
        // clamd answered, perhaps before the end of the data (a limit).
        (_, Ok(answer)) if !answer.is_empty() => Ok(answer),
        (Err(e), _) => Err(e),
        (Ok(()), answer) => answer,
    }
}

async fn send<W: AsyncWrite + Unpin>(writer: W, data: &[u8]) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(CHUNK + 4, writer);
    out.write_all(b"zINSTREAM\0").await?;
    for chunk in data.chunks(CHUNK) {
        // CHUNK fits in 4 bytes.
        out.write_all(&(chunk.len() as u32).to_be_bytes()).await?;
        out.write_all(chunk).await?;
    }
    out.write_all(&[0; 4]).await?;
    out.flush().await
}

/// Everything clamd sends until it closes, at most [`MAX_REPLY`] bytes.
///
/// An error after some bytes came is the end of them: a clamd that closes
/// with our data still unread in its buffer resets the connection after
/// its answer.
async fn read_answer<R: AsyncRead + Unpin>(reader: R) -> io::Result<Vec<u8>> {
    let mut answer = Vec::new();
    let mut limited = reader.take(MAX_REPLY + 1);
    if let Err(e) = limited.read_to_end(&mut answer).await
        && answer.is_empty()
    {
        return Err(e);
    }
    if answer.len() as u64 > MAX_REPLY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an answer longer than {MAX_REPLY} bytes"),
        ));
    }
    Ok(answer)
}

/// What the real clamd of the tests (crates/antivirus/tests, the binary's
/// tests) does not show: its answers at a limit and misbehaving servers,
/// played by a fake on a unix socket.
#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A server on a unix socket that answers one connection with
    /// `serve`, and the client to it.
    async fn fake<F, Fut>(limit: Duration, serve: F) -> (Clamd, tempfile::TempDir)
    where
        F: FnOnce(UnixStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clamd.ctl");
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            serve(stream).await;
        });
        (Clamd::new(Endpoint::Unix(path), limit), dir)
    }

    #[tokio::test]
    async fn clamd_closing_at_its_stream_limit_is_heard_not_taken_for_a_broken_pipe() {
        let (client, _dir) = fake(Duration::from_secs(10), |mut s| async move {
            // clamd reads up to StreamMaxLength, answers and closes.
            let mut buf = vec![0; 64 * 1024];
            let _ = s.read_exact(&mut buf).await;
            s.write_all(b"INSTREAM size limit exceeded. ERROR\0")
                .await
                .unwrap();
        })
        .await;
        let err = client.scan(&vec![b'a'; 8 << 20]).await.unwrap_err();
        assert!(
            matches!(&err, ClamdError::Refused { words, .. } if words == "INSTREAM size limit exceeded"),
            "{err}"
        );
        assert_eq!(err.summary(), "clamd error: INSTREAM size limit exceeded");
    }

    #[tokio::test]
    async fn a_clamd_that_never_answers_is_given_up_at_the_time_limit() {
        let (client, _dir) = fake(Duration::from_millis(300), |mut s| async move {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        })
        .await;
        let started = std::time::Instant::now();
        let err = client.scan(b"hello").await.unwrap_err();
        assert!(matches!(err, ClamdError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(err.summary(), "clamd timed out");
    }

    #[tokio::test]
    async fn something_else_than_clamd_is_not_understood() {
        let (client, _dir) = fake(Duration::from_secs(10), |mut s| async move {
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                .await
                .unwrap();
        })
        .await;
        let err = client.scan(b"hello").await.unwrap_err();
        assert!(matches!(err, ClamdError::Unexpected { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_short() {
        let (client, _dir) = fake(Duration::from_secs(10), |mut s| async move {
            let line = vec![b'x'; 1 << 20];
            let _ = s.write_all(&line).await;
        })
        .await;
        let err = client.scan(b"hello").await.unwrap_err();
        assert!(
            matches!(&err, ClamdError::Io { source, .. } if source.kind() == io::ErrorKind::InvalidData),
            "{err}"
        );
    }
}
