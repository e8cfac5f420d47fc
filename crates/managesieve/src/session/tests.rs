//! Sessions in process, over a pipe. TLS is pretended (the end-to-end
//! tests in crates/havre speak it for real): these check the commands.

use std::sync::Arc;
use std::time::Duration;

use havre_directory::Directory;
use havre_store::{NewUser, SqliteStore, Store};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

use super::*;
use crate::ManageSieveSettings;
use crate::proto;

const USER: &str = "alice@example.test";
const PASSWORD: &str = "correct horse";

struct Client {
    io: BufReader<DuplexStream>,
}

impl Client {
    async fn send(&mut self, text: &str) {
        self.io.get_mut().write_all(text.as_bytes()).await.unwrap();
    }

    /// Lines (literals included) up to and with the next OK/NO/BYE.
    async fn response(&mut self) -> String {
        let mut out = String::new();
        loop {
            // One logical line: a literal continues it.
            let mut logical = String::new();
            loop {
                let mut raw = Vec::new();
                let n = tokio::time::timeout(
                    Duration::from_secs(10),
                    self.io.read_until(b'\n', &mut raw),
                )
                .await
                .expect("an answer in time")
                .unwrap();
                if n == 0 {
                    out.push_str(&logical);
                    out.push_str("<closed>");
                    return out;
                }
                logical.push_str(&String::from_utf8_lossy(&raw));
                match proto::announced_literal(&raw) {
                    Some(Ok(n)) => {
                        let mut buf = vec![0; n as usize];
                        self.io.read_exact(&mut buf).await.unwrap();
                        logical.push_str(&String::from_utf8_lossy(&buf));
                    }
                    _ => break,
                }
            }
            out.push_str(&logical);
            if ["OK", "NO", "BYE"].iter().any(|s| {
                logical.starts_with(&format!("{s} ")) || logical.starts_with(&format!("{s}\r"))
            }) {
                return out;
            }
        }
    }

    async fn command(&mut self, text: &str) -> String {
        self.send(text).await;
        self.response().await
    }
}

async fn store(dir: &std::path::Path) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("havre.db")).await.unwrap());
    store.add_domain("example.test").await.unwrap();
    store
        .add_user(&NewUser {
            email: USER.into(),
            password_hash: Some(havre_directory::password::hash_password(PASSWORD)),
            class: "staff".into(),
            quota: None,
        })
        .await
        .unwrap();
    store
}

/// A session whose client reads the greeting; `tls` pretends STARTTLS.
async fn start(
    settings: ManageSieveSettings,
    tls: bool,
) -> (Client, Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let services = Arc::new(ManageSieveServices {
        settings,
        directory: Directory::new(store.clone(), "+"),
        store: store.clone(),
        tls: None,
        sessions: havre_net::Sessions::new(),
        guard: havre_guard::Guard::off(),
        events: havre_events::Events::disabled(),
        handoff: None,
    });
    let (server, client) = tokio::io::duplex(64 * 1024);
    let mut session = Session::new(
        services,
        "192.0.2.1:40000".parse().unwrap(),
        "192.0.2.2:4190".parse().unwrap(),
        None,
    );
    session.tls = tls;
    tokio::spawn(async move {
        session
            .run(Box::new(server), havre_net::Stop::never())
            .await;
    });
    let mut client = Client {
        io: BufReader::new(client),
    };
    let greeting = client.response().await;
    assert!(
        greeting.contains("\"IMPLEMENTATION\" \"havre\"\r\n"),
        "{greeting}"
    );
    (client, store, dir)
}

fn settings() -> ManageSieveSettings {
    let mut settings = ManageSieveSettings::new("mx.example.test");
    settings.auth_failure_delay = Duration::from_millis(10);
    settings
}

fn plain(user: &str, password: &str) -> String {
    sasl::encode_base64(format!("\0{user}\0{password}").as_bytes())
}

async fn logged_in(settings: ManageSieveSettings) -> (Client, Arc<dyn Store>, tempfile::TempDir) {
    let (mut c, store, dir) = start(settings, true).await;
    let answer = c
        .command(&format!(
            "AUTHENTICATE \"PLAIN\" \"{}\"\r\n",
            plain(USER, PASSWORD)
        ))
        .await;
    assert_eq!(answer, "OK \"Logged in.\"\r\n");
    (c, store, dir)
}

#[tokio::test]
async fn before_tls_no_mechanism_is_offered_and_authenticate_needs_encryption() {
    let (mut c, _store, _dir) = start(settings(), false).await;
    let caps = c.command("CAPABILITY\r\n").await;
    assert!(caps.contains("\"SASL\" \"\"\r\n"), "{caps}");
    assert!(caps.contains("\"VERSION\" \"1.0\"\r\n"), "{caps}");
    assert!(caps.contains("\"SIEVE\" \"fileinto "), "{caps}");
    let answer = c
        .command(&format!(
            "AUTHENTICATE \"PLAIN\" \"{}\"\r\n",
            plain(USER, PASSWORD)
        ))
        .await;
    assert!(answer.starts_with("NO (ENCRYPT-NEEDED) "), "{answer}");
    let answer = c.command("LISTSCRIPTS\r\n").await;
    assert!(answer.starts_with("NO "), "{answer}");
    assert_eq!(
        c.command("LOGOUT\r\n").await,
        "OK \"Logout completed.\"\r\n"
    );
}

#[tokio::test]
async fn a_script_is_put_listed_activated_fetched_renamed_and_deleted() {
    let (mut c, store, _dir) = logged_in(settings()).await;
    let caps = c.command("CAPABILITY\r\n").await;
    assert!(caps.contains("\"OWNER\" \"alice@example.test\""), "{caps}");
    assert!(caps.contains("\"SASL\" \"PLAIN LOGIN\""), "{caps}");
    let script = "require \"vacation\";\r\nvacation :days 7 \"Away\";\r\n";
    let answer = c
        .command(&format!(
            "PUTSCRIPT \"away\" {{{}+}}\r\n{script}\r\n",
            script.len()
        ))
        .await;
    assert_eq!(answer, "OK \"PUTSCRIPT completed.\"\r\n");
    assert_eq!(
        c.command("LISTSCRIPTS\r\n").await,
        "\"away\"\r\nOK \"Listscripts completed.\"\r\n"
    );
    assert!(c.command("SETACTIVE \"away\"\r\n").await.starts_with("OK"));
    assert_eq!(
        c.command("LISTSCRIPTS\r\n").await,
        "\"away\" ACTIVE\r\nOK \"Listscripts completed.\"\r\n"
    );
    assert_eq!(
        store.sieve_active(USER).await.unwrap().unwrap().source,
        script
    );
    assert_eq!(
        c.command("GETSCRIPT \"away\"\r\n").await,
        format!(
            "{{{}}}\r\n{script}\r\nOK \"Getscript completed.\"\r\n",
            script.len()
        )
    );
    let answer = c.command("DELETESCRIPT \"away\"\r\n").await;
    assert!(answer.starts_with("NO (ACTIVE) "), "{answer}");
    let answer = c.command("GETSCRIPT \"nope\"\r\n").await;
    assert!(answer.starts_with("NO (NONEXISTENT) "), "{answer}");
    let answer = c.command("SETACTIVE \"nope\"\r\n").await;
    assert!(answer.starts_with("NO (NONEXISTENT) "), "{answer}");
    c.command("PUTSCRIPT \"other\" \"keep;\"\r\n").await;
    let answer = c.command("RENAMESCRIPT \"away\" \"other\"\r\n").await;
    assert!(answer.starts_with("NO (ALREADYEXISTS) "), "{answer}");
    let answer = c.command("RENAMESCRIPT \"away\" \"holidays\"\r\n").await;
    assert!(answer.starts_with("OK"), "{answer}");
    assert!(c.command("SETACTIVE \"\"\r\n").await.starts_with("OK"));
    assert!(store.sieve_active(USER).await.unwrap().is_none());
    let answer = c.command("DELETESCRIPT \"holidays\"\r\n").await;
    assert!(answer.starts_with("OK"), "{answer}");
    assert_eq!(
        c.command("NOOP \"sync-1\"\r\n").await,
        "OK (TAG \"sync-1\") \"NOOP completed.\"\r\n"
    );
}

#[tokio::test]
async fn a_script_with_errors_is_refused_with_every_line_and_not_stored() {
    let (mut c, store, _dir) = logged_in(settings()).await;
    let script = "require \"fileinto\";\r\nif true {\r\n  filein \"x\";\r\n}\r\nredirect \"not an address\";\r\n";
    let answer = c
        .command(&format!(
            "PUTSCRIPT \"bad\" {{{}+}}\r\n{script}\r\n",
            script.len()
        ))
        .await;
    assert!(answer.starts_with("NO {"), "{answer}");
    assert!(answer.contains("line 3, column 3: "), "{answer}");
    assert!(answer.contains("line 5, column "), "{answer}");
    assert!(store.sieve_list(USER).await.unwrap().is_empty());
    let answer = c.command("CHECKSCRIPT \"keep\"\r\n").await;
    assert!(answer.starts_with("NO \"line 1, column "), "{answer}");
    let answer = c.command("CHECKSCRIPT \"keep;\"\r\n").await;
    assert!(answer.starts_with("OK"), "{answer}");
    c.io.get_mut()
        .write_all(b"PUTSCRIPT \"x\" {5+}\r\nk\xffep;\r\n")
        .await
        .unwrap();
    let answer = c.response().await;
    assert!(answer.contains("UTF-8"), "{answer}");
}

#[tokio::test]
async fn the_quota_answers_havespace_and_putscript_alike() {
    let mut s = settings();
    s.max_script_size = 100;
    s.max_scripts = 2;
    s.quota = 150;
    let (mut c, _store, _dir) = logged_in(s).await;
    let answer = c.command("HAVESPACE \"a\" 101\r\n").await;
    assert!(answer.starts_with("NO (QUOTA/MAXSIZE) "), "{answer}");
    assert!(c.command("HAVESPACE \"a\" 100\r\n").await.starts_with("OK"));
    let big = format!("keep;{}", " ".repeat(95));
    let put =
        |name: &str, body: &str| format!("PUTSCRIPT \"{name}\" {{{}+}}\r\n{body}\r\n", body.len());
    assert!(c.command(&put("a", &big)).await.starts_with("OK"));
    // Replacing a counts its new size, not both.
    assert!(c.command(&put("a", &big)).await.starts_with("OK"));
    let answer = c.command(&put("b", &big)).await;
    assert!(answer.starts_with("NO (QUOTA) "), "{answer}");
    assert!(c.command(&put("b", "keep;")).await.starts_with("OK"));
    let answer = c.command("HAVESPACE \"c\" 1\r\n").await;
    assert!(answer.starts_with("NO (QUOTA/MAXSCRIPTS) "), "{answer}");
    let answer = c.command(&put("c", "keep;")).await;
    assert!(answer.starts_with("NO (QUOTA/MAXSCRIPTS) "), "{answer}");
    // A literal beyond the command limit: dropped, refused, the session goes on.
    let huge = "x".repeat(9000);
    let answer = c.command(&put("d", &huge)).await;
    assert!(answer.starts_with("NO (QUOTA/MAXSIZE) "), "{answer}");
    assert!(c.command("NOOP\r\n").await.starts_with("OK"));
}

#[tokio::test]
async fn bad_names_are_refused() {
    let (mut c, _store, _dir) = logged_in(settings()).await;
    for name in ["\"\"", "{3+}\r\na\tb", "\"a\u{2028}b\""] {
        let answer = c.command(&format!("PUTSCRIPT {name} \"keep;\"\r\n")).await;
        assert!(answer.starts_with("NO \"Script name"), "{name:?}: {answer}");
    }
}

#[tokio::test]
async fn login_mechanism_and_failures_end_the_connection_after_three() {
    let (mut c, _store, _dir) = start(settings(), true).await;
    c.send("AUTHENTICATE \"LOGIN\"\r\n").await;
    let mut line = String::new();
    c.io.read_line(&mut line).await.unwrap();
    assert_eq!(line, "\"VXNlcm5hbWU6\"\r\n");
    c.send(&format!("\"{}\"\r\n", sasl::encode_base64(USER.as_bytes())))
        .await;
    line.clear();
    c.io.read_line(&mut line).await.unwrap();
    assert_eq!(line, "\"UGFzc3dvcmQ6\"\r\n");
    c.send(&format!("{{4+}}\r\n{}\r\n", sasl::encode_base64(b"bad")))
        .await;
    let answer = c.response().await;
    assert!(
        answer.starts_with("NO \"Authentication failed.\""),
        "{answer}"
    );
    for _ in 0..2 {
        let answer = c
            .command(&format!(
                "AUTHENTICATE \"PLAIN\" \"{}\"\r\n",
                plain(USER, "wrong")
            ))
            .await;
        assert!(
            answer.starts_with("NO \"Authentication failed.\""),
            "{answer}"
        );
    }
    let bye = c.response().await;
    assert!(
        bye.starts_with("BYE \"Too many authentication failures.\""),
        "{bye}"
    );
    let mut rest = String::new();
    c.io.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "");
}

#[tokio::test]
async fn garbage_gets_no_then_bye_never_a_panic() {
    let (mut c, _store, _dir) = start(settings(), true).await;
    for bad in [
        "FROB\r\n",
        "PUTSCRIPT\r\n",
        "\"\r\n",
        "{3+}\r\nabc\r\n",
        "NOOP \"x\" \"y\"\r\n",
        "HAVESPACE \"a\" 1\r\n",
        "\x00\x01\x02\r\n",
    ] {
        let answer = c.command(bad).await;
        assert!(answer.starts_with("NO "), "{bad:?}: {answer}");
    }
    // Before login a literal longer than a line closes the connection.
    let answer = c.command("AUTHENTICATE \"PLAIN\" {100000+}\r\n").await;
    assert!(answer.starts_with("BYE "), "{answer}");
}

#[tokio::test]
async fn a_client_that_does_not_log_in_in_time_is_told_and_closed() {
    let mut s = settings();
    s.login_timeout = Duration::from_millis(300);
    let (mut c, _store, _dir) = start(s, false).await;
    let bye = c.response().await;
    assert_eq!(bye, "BYE \"Disconnected for inactivity.\"\r\n");
    assert_eq!(c.response().await, "<closed>");
}

#[tokio::test]
async fn a_line_too_long_is_refused_and_the_session_goes_on() {
    let (mut c, _store, _dir) = start(settings(), false).await;
    let long = format!("NOOP \"{}\"\r\n", "x".repeat(9000));
    assert_eq!(c.command(&long).await, "NO \"Line too long.\"\r\n");
    let answer = c.command("STARTTLS\r\n").await;
    assert_eq!(answer, "NO \"TLS support isn't enabled.\"\r\n");
    assert!(c.command("NOOP\r\n").await.starts_with("OK"));
}
