//! What a hostile or broken client gets: `-ERR` for garbage and long lines
//! with the session still usable, a closed connection after too many errors
//! or too long a silence, and no command smuggled across STLS.

mod common;

use std::time::Duration;

use common::{Server, field};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_a_10_kb_line_get_err_and_the_server_keeps_serving() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
s, f = raw(tls=True)
print("GREETING", line(f))
s.sendall(b"\x00\x01\xff garbage\r\n")
print("GARBAGE", line(f))
s.sendall(b"NOOP " + b"x" * 10240 + b"\r\n")
print("LONG", line(f))
s.sendall(b"RETR 1\r\n")
print("EARLY", line(f))
s.sendall(b"\r\n")
print("EMPTY", line(f))
s.sendall(b"USER alice@example.test\r\nPASS secret\r\nSTAT\r\nXYZZY\r\nLIST 1 2 3\r\nTOP 1\r\n")
print("USER", line(f))
print("PASS", line(f))
print("STAT", line(f))
print("UNKNOWN", line(f))
print("ARGS", line(f))
print("TOP", line(f))
s.sendall(b"retr 3\r\n")
print("RETR", line(f))
while line(f) != ".":
    pass
s.sendall(b"QUIT\r\n")
print("QUIT", line(f))
print("EOF", line(f))
"#,
        )
        .await;
    assert!(field(&out, "GREETING ").starts_with("+OK"));
    assert_eq!(field(&out, "GARBAGE "), "-ERR Unknown command.");
    assert_eq!(field(&out, "LONG "), "-ERR Line too long.");
    assert_eq!(
        field(&out, "EARLY "),
        "-ERR Not logged in: use USER/PASS or AUTH first."
    );
    assert_eq!(field(&out, "EMPTY "), "-ERR Empty command line.");
    assert_eq!(field(&out, "USER "), "+OK");
    assert_eq!(field(&out, "PASS "), "+OK Logged in.");
    assert!(field(&out, "STAT ").starts_with("+OK 3 "));
    assert_eq!(field(&out, "UNKNOWN "), "-ERR Unknown command.");
    assert_eq!(field(&out, "ARGS "), "-ERR Too many arguments.");
    assert_eq!(
        field(&out, "TOP "),
        "-ERR Missing argument: number of lines."
    );
    assert!(field(&out, "RETR ").ends_with(" octets"));
    assert_eq!(field(&out, "QUIT "), "+OK Logging out.");
    assert_eq!(field(&out, "EOF "), "<closed>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_only_bad_commands_is_disconnected_after_ten() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
s, f = raw()
line(f)
s.sendall(b"FOO\r\n" * 12)
for i in range(10):
    print("BAD%d" % i, line(f))
print("LAST", line(f))
print("EOF", line(f))
s2, f2 = raw()
print("NEXT", line(f2))
"#,
        )
        .await;
    for i in 0..10 {
        assert_eq!(field(&out, &format!("BAD{i} ")), "-ERR Unknown command.");
    }
    assert_eq!(field(&out, "LAST "), "-ERR Too many bad commands.");
    assert_eq!(field(&out, "EOF "), "<closed>");
    assert!(field(&out, "NEXT ").starts_with("+OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_is_told_it_was_disconnected_for_inactivity_and_the_lock_goes() {
    let mut settings = common::settings();
    settings.idle_timeout = Duration::from_secs(1);
    let server = common::start_with(settings).await;
    server
        .deliver(common::USER, b"Subject: x\r\n\r\ny\r\n")
        .await;
    let out = server
        .python(
            r#"
s, f = raw(tls=True)
line(f)
s.sendall(b"USER alice@example.test\r\nPASS secret\r\n")
print("LOGIN", line(f), line(f))
start = time.time()
print("IDLE", line(f))
print("EOF", line(f))
print("WAITED", time.time() - start >= 0.9)
p = login(pops())
print("AGAIN", *p.stat())
p.quit()
"#,
        )
        .await;
    assert_eq!(field(&out, "LOGIN "), "+OK +OK Logged in.");
    assert_eq!(field(&out, "IDLE "), "-ERR Disconnected for inactivity.");
    assert_eq!(field(&out, "EOF "), "<closed>");
    assert_eq!(field(&out, "WAITED "), "True");
    assert!(field(&out, "AGAIN ").starts_with("1 "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_pipelined_after_stls_are_dropped_not_run_under_tls() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
s, f = raw()
line(f)
s.sendall(b"STLS\r\nCAPA\r\n")
print("STLS", line(f))
t = ctx().wrap_socket(s)
g = t.makefile("rb")
t.sendall(b"NOOP\r\n")
print("FIRST", line(g))
t.sendall(b"QUIT\r\n")
print("QUIT", line(g))
"#,
        )
        .await;
    assert_eq!(field(&out, "STLS "), "+OK Begin TLS negotiation now.");
    assert_eq!(field(&out, "FIRST "), "+OK");
    assert_eq!(field(&out, "QUIT "), "+OK Logging out.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_client_on_the_pop3s_port_does_not_get_a_greeting() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
s = socket.create_connection(("127.0.0.1", TLS_PORT), timeout=30)
s.sendall(b"USER alice@example.test\r\n")
data = s.recv(100)
print("GOT", data.startswith(b"+OK"))
"#,
        )
        .await;
    assert_eq!(field(&out, "GOT "), "False");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_in_the_middle_of_retr_is_dropped_and_frees_the_maildrop() {
    let mut settings = common::settings();
    settings.idle_timeout = Duration::from_secs(1);
    let server = common::start_with(settings).await;
    // Larger than what the socket buffers of both ends can hold.
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    let line = [b'x'; 998];
    while big.len() < 16 * 1024 * 1024 {
        big.extend_from_slice(&line);
        big.extend_from_slice(b"\r\n");
    }
    server.deliver(common::USER, &big).await;
    let out = server
        .python(
            r#"
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(30)
s.connect(("127.0.0.1", TLS_PORT))
s = ctx().wrap_socket(s)
f = s.makefile("rb")
line(f)
s.sendall(b"USER alice@example.test\r\nPASS secret\r\n")
line(f); line(f)
s.sendall(b"RETR 1\r\n")
time.sleep(3)
p = login(pops())
print("AGAIN", *p.stat())
p.quit()
"#,
        )
        .await;
    assert!(field(&out, "AGAIN ").starts_with("1 "));
}
