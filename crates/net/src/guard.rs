//! A bug met while serving one client ends that client's session, and only it,
//! in the open: the panic is logged as an error naming the role and the
//! client, and the client gets the protocol's last words (SMTP `451`, IMAP
//! `* BYE`, POP3 `-ERR`) instead of a bare EOF. Each session runs its commands
//! through [`guard_command`]; what a session acknowledged earlier is already
//! durable, and what the failed command had half-written (a spool file) is
//! removed when it is dropped.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::task::Poll;

use crate::Conn;

/// Polls `future` to its end; a panic while it is polled becomes `Err` with
/// the panic's message. The future is never polled again after a panic: its
/// state is not trusted.
///
/// The caller pins the future where it keeps it (`pin!`): an async fn that
/// took it by value would hold it twice, as its argument and as the local it
/// pins, and a session's command future is kilobytes.
pub async fn catch_panic<F: Future>(mut future: Pin<&mut F>) -> Result<F::Output, String> {
    // Unwind safety: on a panic the future is never polled again, and the
    // caller treats whatever it borrowed as broken (the session ends).
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        },
    )
    .await
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic without a message".to_string()
    }
}

/// Who a session serves, for the log line of a failure.
pub struct Peer<'a> {
    /// The program name of the log line (`mx`, `submission`, `imap`...).
    pub role: &'a str,
    /// The client as the role's other log lines name it.
    pub client: &'a str,
}

/// Runs one command of a session on `conn`. `None` when handling it panicked:
/// the panic was logged as an error, `farewell` (a complete protocol line) was
/// sent, and the session must end without answering anything more.
pub async fn guard_command<T>(
    conn: &mut Conn,
    peer: Peer<'_>,
    farewell: &[u8],
    command: impl AsyncFnOnce(&mut Conn) -> T,
) -> Option<T> {
    let outcome = {
        let command = pin!(command(&mut *conn));
        catch_panic(command).await
    };
    match outcome {
        Ok(output) => Some(output),
        Err(message) => {
            tracing::error!(
                target: "net",
                role = peer.role,
                "internal error while serving {}: {message}; disconnected",
                peer.client
            );
            // The stream itself may be what is broken: a second panic while
            // saying goodbye ends the session just the same.
            let _ = catch_panic(pin!(async {
                let _ = conn.send(farewell).await;
                conn.shutdown().await;
            }))
            .await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::AsyncReadExt;

    use super::*;

    /// Log lines written while a test runs, as a subscriber formats them.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    fn pair() -> (Conn, tokio::io::DuplexStream) {
        let (server, client) = tokio::io::duplex(4096);
        (Conn::new(Box::new(server), Duration::from_secs(5)), client)
    }

    #[tokio::test]
    async fn a_command_that_panics_is_logged_and_the_client_gets_the_farewell() {
        let (log, _guard) = capture();
        let (mut conn, mut client) = pair();
        let served: Option<()> = guard_command(
            &mut conn,
            Peer {
                role: "mx",
                client: "unknown[192.0.2.1]",
            },
            b"451 4.3.0 Error: internal error\r\n",
            async |conn: &mut Conn| {
                // A pipelined reply answered before the failure still goes out.
                conn.queue(b"250 2.1.0 Ok\r\n");
                let header = "abcdé: x";
                let _ = &header[..5];
            },
        )
        .await;
        assert!(served.is_none());
        let mut seen = String::new();
        client.read_to_string(&mut seen).await.unwrap();
        assert_eq!(seen, "250 2.1.0 Ok\r\n451 4.3.0 Error: internal error\r\n");
        let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("ERROR"), "{log}");
        assert!(
            log.contains("internal error while serving unknown[192.0.2.1]: end byte index 5 is not a char boundary"),
            "{log}"
        );
    }

    #[tokio::test]
    async fn a_command_that_returns_is_passed_through_and_the_connection_stays() {
        let (mut conn, mut client) = pair();
        let served = guard_command(
            &mut conn,
            Peer {
                role: "imap",
                client: "192.0.2.1",
            },
            b"* BYE\r\n",
            async |conn: &mut Conn| conn.send(b"* OK still here\r\n").await.map(|_| 7),
        )
        .await;
        assert_eq!(served.unwrap().unwrap(), 7);
        let mut line = [0u8; 17];
        client.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"* OK still here\r\n");
    }

    #[tokio::test]
    async fn a_guarded_command_is_held_once_not_twice() {
        const STATE: usize = 8 * 1024;
        let (mut conn, _client) = pair();
        let guarded = guard_command(
            &mut conn,
            Peer {
                role: "imap",
                client: "192.0.2.1",
            },
            b"* BYE\r\n",
            // A command whose state across an await is big (a FETCH batch).
            async |_conn: &mut Conn| {
                let state = [1u8; STATE];
                tokio::task::yield_now().await;
                state.iter().map(|&b| u32::from(b)).sum::<u32>()
            },
        );
        let size = std::mem::size_of_val(&guarded);
        assert!(
            size < STATE + 1024,
            "guard_command's future is {size} bytes for a command of {STATE}"
        );
        assert_eq!(guarded.await, Some(STATE as u32));
    }

    #[tokio::test]
    async fn a_panic_after_an_await_is_caught_too() {
        let result = catch_panic(pin!(async {
            tokio::task::yield_now().await;
            panic!("{}", String::from("late"));
        }))
        .await;
        let () = match result {
            Ok(never) => never,
            Err(message) => assert_eq!(message, "late"),
        };
    }
}
