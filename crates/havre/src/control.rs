//! The control socket: how the command line asks the running `havre serve`
//! about what only it knows (its sessions) and tells it what only it can do
//! (close them). Dovecot's doveadm talks to its anvil and master the same
//! way.
//!
//! The socket is `DATA_DIR/control.sock`, created by serve after it has
//! switched to `server.user`: it belongs to that account, mode 0600 (the
//! umask), in a directory only that account may enter, so root and
//! `server.user` reach it and nobody else; serve also refuses a peer whose
//! uid is neither. One request per connection: a JSON line, answered by a
//! JSON line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use havre_config::LoadedConfig;
use havre_net::{Phase, Sessions, Stop};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// What the command line may ask.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Request {
    /// The logged-in IMAP and POP3 sessions.
    Who,
    /// Close a user's sessions.
    Kick { user: String },
    /// Forget the directory's kept answers and logins (LDAP).
    FlushCache,
}

/// What serve answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Response {
    Sessions {
        sessions: Vec<Session>,
    },
    Kicked {
        count: usize,
    },
    /// Whether there was a cache to flush (an LDAP directory).
    Flushed {
        ldap: bool,
    },
    Error {
        message: String,
    },
}

/// One logged-in session, as `havre who` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    pub protocol: String,
    /// Unique while serve runs (doveadm who's pid column).
    pub session: u64,
    pub client: String,
    /// Unix seconds of the login.
    pub since: i64,
}

/// `DATA_DIR/control.sock`.
pub fn socket_path(config: &LoadedConfig) -> PathBuf {
    config.data_dir().join("control.sock")
}

/// Binds the control socket (serve, after the switch to `server.user`). A
/// socket left by a serve that died is replaced; one that answers belongs
/// to a running serve, and this one refuses to start.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    clear_stale(path, "the control socket")?;
    UnixListener::bind(path)
        .with_context(|| format!("cannot create the control socket {}", path.display()))
}

/// Removes a socket nobody listens on; refuses when somebody does, or when
/// `path` is something else than a socket.
pub fn clear_stale(path: &Path, what: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        bail!(
            "{what} {} exists and is not a socket; remove it or choose another path",
            path.display()
        );
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        bail!(
            "{what} {} is in use: another havre serve runs with this configuration",
            path.display()
        );
    }
    std::fs::remove_file(path)
        .with_context(|| format!("cannot remove the stale {what} {}", path.display()))
}

/// Answers requests until the node drains.
pub async fn serve(
    listener: UnixListener,
    sessions: Arc<Sessions>,
    directory: havre_directory::Directory,
    mut stop: Stop,
) {
    // SAFETY: getuid has no preconditions.
    let own = unsafe { libc::getuid() };
    loop {
        let stream = tokio::select! {
            biased;
            _ = stop.reached(Phase::Draining) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(target: "serve", "control socket: accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let allowed = stream
            .peer_cred()
            .is_ok_and(|c| c.uid() == 0 || c.uid() == own);
        if !allowed {
            tracing::warn!(target: "serve", "control socket: refused a client that is neither root nor server.user");
            continue;
        }
        let sessions = sessions.clone();
        let directory = directory.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                answer(stream, &sessions, &directory),
            )
            .await;
        });
    }
}

async fn answer(
    stream: UnixStream,
    sessions: &Sessions,
    directory: &havre_directory::Directory,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read.take(64 * 1024))
        .read_line(&mut line)
        .await?;
    let response = match serde_json::from_str::<Request>(&line) {
        Ok(Request::Who) => Response::Sessions {
            sessions: sessions
                .list()
                .into_iter()
                .map(|s| Session {
                    user: s.user,
                    protocol: s.protocol.to_string(),
                    session: s.id,
                    client: s.client.to_string(),
                    since: s.since,
                })
                .collect(),
        },
        Ok(Request::Kick { user }) => {
            let count = sessions.kick(&user);
            tracing::info!(target: "serve", "kick: user=<{user}>, {count} session(s) closed by the administrator");
            Response::Kicked { count }
        }
        Ok(Request::FlushCache) => {
            let ldap = directory.ldap().inspect(|l| l.flush()).is_some();
            tracing::info!(target: "serve", "directory cache flushed by the administrator");
            Response::Flushed { ldap }
        }
        Err(err) => Response::Error {
            message: format!("bad request: {err}"),
        },
    };
    let mut out = serde_json::to_vec(&response).map_err(std::io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

/// Asks the running serve; `None` when it does not run (no socket, or
/// nobody listening on it).
pub async fn ask(config: &LoadedConfig, request: &Request) -> anyhow::Result<Option<Response>> {
    let path = socket_path(config);
    let stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "cannot reach havre serve on {} (run this as root or as server.user)",
                    path.display()
                )
            });
        }
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        BufReader::new(read).read_line(&mut answer),
    )
    .await
    .context("havre serve did not answer on its control socket within 30s")??;
    let response: Response = serde_json::from_str(&answer)
        .with_context(|| format!("unexpected answer from havre serve: {answer:?}"))?;
    if let Response::Error { message } = &response {
        bail!("havre serve: {message}");
    }
    Ok(Some(response))
}

/// [`ask`], for commands that need serve running.
pub async fn ask_running(config: &LoadedConfig, request: &Request) -> anyhow::Result<Response> {
    ask(config, request).await?.with_context(|| {
        format!(
            "havre serve is not running (nothing listens on {})",
            socket_path(config).display()
        )
    })
}

/// Closes `user`'s sessions if serve runs: how many, or `None` when it
/// does not run (then there is nothing to close).
pub async fn kick_if_running(config: &LoadedConfig, user: &str) -> anyhow::Result<Option<usize>> {
    match ask(
        config,
        &Request::Kick {
            user: user.to_string(),
        },
    )
    .await?
    {
        Some(Response::Kicked { count }) => Ok(Some(count)),
        Some(other) => bail!("unexpected answer from havre serve: {other:?}"),
        None => Ok(None),
    }
}
