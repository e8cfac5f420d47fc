//! The log lines an operator greps: who logged in, how, from where, and what
//! the session did; failed logins; never a password.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, USER};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_and_logouts_are_logged_in_dovecots_spirit_without_passwords() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber per test binary");

    let server = Server::with_messages().await;
    server
        .python(
            r#"
p = pop()
p.user(USER)
fail(p.pass_, "wrong-guess")
p.quit()
p = login(pops())
p.retr(1)
p.top(2, 0)
p.dele(1)
p.quit()
"#,
        )
        .await;
    let messages_before: u64 = common::MESSAGES.len() as u64;
    let after = server.messages(USER).await;
    assert_eq!(after.len() as u64, messages_before - 1);

    // The logout line is written as the session task ends, just after QUIT.
    let mut logs = captured.text();
    for _ in 0..100 {
        if logs.contains("Disconnected: Logged out user=") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        logs = captured.text();
    }
    assert!(
        logs.contains(
            "auth failed: user=<alice@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS"
        ),
        "{logs}"
    );
    let failed = logs
        .lines()
        .find(|l| l.contains("Aborted login (auth failed, 1 attempts in "))
        .unwrap_or_else(|| panic!("no failed-session line in {logs}"));
    assert!(
        failed.contains(
            "secs): user=<alice@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS"
        ),
        "{failed}"
    );
    assert!(
        logs.contains(
            "Login: user=<alice@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS"
        ),
        "{logs}"
    );
    let logout = logs
        .lines()
        .find(|l| l.contains("Disconnected: Logged out user="))
        .unwrap_or_else(|| panic!("no logout line in {logs}"));
    // retr: the first message's bytes; top: the second one's header; del=1 of 3.
    assert!(
        logout.contains("user=<alice@example.test>, rip=127.0.0.1, lip=127.0.0.1, TLS, top=1/"),
        "{logout}"
    );
    assert!(logout.contains(", del=1/3, size="), "{logout}");
    assert!(!logs.contains("wrong-guess"), "{logs}");
    assert!(!logs.contains("secret"), "{logs}");
    assert!(logs.contains("pop3"), "{logs}");
    println!("{logs}");
}
