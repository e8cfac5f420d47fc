//! POP3 sessions driven by Python's poplib against a real server: logins
//! under TLS only, the maildrop as a snapshot of the INBOX, DELE/RSET/QUIT,
//! UIDLs, locking, dot-stuffing.

mod common;

use common::{MESSAGES, Server, USER, field};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_refused_before_stls_and_offered_after_it() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
p = poplib.POP3("127.0.0.1", PORT, timeout=30)
print("GREETING", p.getwelcome().decode())
print("CAPA", " ".join(sorted(p.capa())))
print("USER", fail(p.user, USER))
print("PASS", fail(p.pass_, PASSWORD))
print("AUTH", fail(p._shortcmd, "AUTH PLAIN " + plain()))
print("STAT", fail(p.stat))
p.stls(ctx())
caps = p.capa()
print("CAPA2", " ".join(sorted(caps)))
print("SASL", " ".join(caps["SASL"]))
print("STLS2", fail(p._shortcmd, "STLS"))
login(p)
print("LOGGED", *p.stat())
print("QUIT", p.quit().decode())
"#,
        )
        .await;
    assert_eq!(field(&out, "GREETING "), "+OK mx.test POP3 havre ready");
    assert_eq!(
        field(&out, "CAPA "),
        "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES STLS TOP UIDL"
    );
    let refused =
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";
    assert_eq!(field(&out, "USER "), refused);
    assert_eq!(field(&out, "PASS "), refused);
    assert_eq!(field(&out, "AUTH "), refused);
    assert!(field(&out, "STAT ").starts_with("-ERR Not logged in"));
    assert_eq!(
        field(&out, "CAPA2 "),
        "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER"
    );
    assert_eq!(field(&out, "SASL "), "PLAIN");
    assert_eq!(field(&out, "STLS2 "), "-ERR TLS is already active.");
    assert!(field(&out, "LOGGED ").starts_with("3 "));
    assert_eq!(field(&out, "QUIT "), "+OK Logging out.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reads_stat_list_uidl_top_and_retr_after_stls() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
p = login(pop())
print("STAT", *p.stat())
resp, listing, _ = p.list()
print("LISTHEAD", resp.decode())
print("LIST", ",".join(l.decode() for l in listing))
print("LIST2", p.list(2).decode())
resp, uidls, _ = p.uidl()
print("UIDL", ",".join(u.decode() for u in uidls))
print("UIDL3", p.uidl(3).decode())
resp, lines, _ = p.top(1, 1)
save("top1", joined(lines))
resp, lines, _ = p.top(1, 0)
save("top0", joined(lines))
for i in (1, 2, 3):
    resp, lines, _ = p.retr(i)
    print("RETR%d" % i, resp.decode())
    save("retr%d" % i, joined(lines))
print("NOSUCH", fail(p.retr, 4))
print("ZERO", fail(p.list, 0))
print("BADNUM", fail(p._shortcmd, "RETR x"))
print("NOOP", p.noop().decode())
p.quit()
"#,
        )
        .await;
    let messages = server.messages(USER).await;
    let inbox = server.inbox(USER).await;
    assert_eq!(messages.len(), 3);
    let total: u64 = messages.iter().map(|m| m.size).sum();
    assert_eq!(field(&out, "STAT "), format!("3 {total}"));
    assert_eq!(
        field(&out, "LISTHEAD "),
        format!("+OK 3 messages ({total} octets)")
    );
    let list: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}", i + 1, m.size))
        .collect();
    assert_eq!(field(&out, "LIST "), list.join(","));
    assert_eq!(field(&out, "LIST2 "), format!("+OK 2 {}", messages[1].size));
    let uidls: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {:08X}{:08X}", i + 1, m.uid, inbox.uidvalidity))
        .collect();
    assert_eq!(field(&out, "UIDL "), uidls.join(","));
    assert_eq!(field(&out, "UIDL3 "), format!("+OK {}", uidls[2]));
    for (i, message) in messages.iter().enumerate() {
        let wire = server.wire_bytes(USER, message).await;
        // The index size is the size the client receives.
        assert_eq!(wire.len() as u64, message.size);
        assert_eq!(
            field(&out, &format!("RETR{} ", i + 1)),
            format!("+OK {} octets", message.size)
        );
        assert_eq!(
            server.out(&format!("retr{}", i + 1)),
            wire,
            "message {}",
            i + 1
        );
        assert!(wire.ends_with(MESSAGES[i]));
    }
    let wire = server.wire_bytes(USER, &messages[0]).await;
    let header_end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut top1 = wire[..header_end].to_vec();
    top1.extend_from_slice(b"first line\r\n");
    assert_eq!(server.out("top1"), top1);
    assert_eq!(server.out("top0"), wire[..header_end].to_vec());
    assert_eq!(field(&out, "NOSUCH "), "-ERR There's no message 4.");
    assert_eq!(field(&out, "ZERO "), "-ERR There's no message 0.");
    assert_eq!(field(&out, "BADNUM "), "-ERR Invalid number: x");
    assert_eq!(field(&out, "NOOP "), "+OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dele_then_quit_removes_the_message_for_good() {
    let server = Server::with_messages().await;
    let before = server.messages(USER).await;
    let first_file = server.path_of(USER, &before[0]).await;
    assert!(first_file.exists());
    let out = server
        .python(
            r#"
p = login(pop())
print("DELE", p.dele(1).decode())
print("AGAIN", fail(p.dele, 1))
print("RETR", fail(p.retr, 1))
print("STAT", *p.stat())
print("LIST", ",".join(l.decode() for l in p.list()[1]))
print("QUIT", p.quit().decode())
p = login_retry()
print("STAT2", *p.stat())
print("UIDL2", ",".join(u.decode() for u in p.uidl()[1]))
p.quit()
"#,
        )
        .await;
    assert_eq!(field(&out, "DELE "), "+OK Message 1 marked to be deleted.");
    assert_eq!(field(&out, "AGAIN "), "-ERR Message 1 is deleted.");
    assert_eq!(field(&out, "RETR "), "-ERR Message 1 is deleted.");
    let rest = before[1].size + before[2].size;
    assert_eq!(field(&out, "STAT "), format!("2 {rest}"));
    // Message numbers do not move within the session.
    assert_eq!(
        field(&out, "LIST "),
        format!("2 {},3 {}", before[1].size, before[2].size)
    );
    assert_eq!(field(&out, "QUIT "), "+OK Logging out, messages deleted.");
    assert_eq!(field(&out, "STAT2 "), format!("2 {rest}"));
    let validity = server.inbox(USER).await.uidvalidity;
    assert_eq!(
        field(&out, "UIDL2 "),
        format!(
            "1 {:08X}{validity:08X},2 {:08X}{validity:08X}",
            before[1].uid, before[2].uid
        )
    );
    let after = server.messages(USER).await;
    assert_eq!(
        after.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![before[1].uid, before[2].uid]
    );
    assert!(
        !first_file.exists(),
        "{} is still there",
        first_file.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dele_then_rset_keeps_the_message_and_so_does_a_session_without_quit() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
p = login(pop())
p.dele(1)
p.dele(2)
print("STAT", *p.stat())
print("RSET", p.rset().decode())
print("STAT2", *p.stat())
p.quit()
p = login_retry()
print("STAT3", *p.stat())
p.dele(1)
p.close()          # no QUIT: no UPDATE state
p = login_retry()
print("STAT4", *p.stat())
p.quit()
"#,
        )
        .await;
    let messages = server.messages(USER).await;
    let total: u64 = messages.iter().map(|m| m.size).sum();
    assert_eq!(field(&out, "STAT "), format!("1 {}", messages[2].size));
    assert_eq!(
        field(&out, "RSET "),
        format!("+OK Maildrop has 3 messages ({total} octets).")
    );
    assert_eq!(field(&out, "STAT2 "), format!("3 {total}"));
    assert_eq!(field(&out, "STAT3 "), format!("3 {total}"));
    assert_eq!(field(&out, "STAT4 "), format!("3 {total}"));
    assert_eq!(messages.len(), 3);
    for message in &messages {
        assert!(server.path_of(USER, message).await.exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uidls_are_stable_across_sessions_and_match_imap_uids_and_uidvalidity() {
    let server = Server::with_messages().await;
    let script = r#"
for n in (1, 2):
    p = login_retry()
    print("UIDL%d" % n, ",".join(u.decode() for u in p.uidl()[1]))
    p.quit()
"#;
    let out = server.python(script).await;
    assert_eq!(field(&out, "UIDL1 "), field(&out, "UIDL2 "));
    let inbox = server.inbox(USER).await;
    let expected: Vec<String> = server
        .messages(USER)
        .await
        .iter()
        .enumerate()
        .map(|(i, m)| {
            // Dovecot's default pop3_uidl_format, %08Xu%08Xv.
            let uidl = format!("{:08X}{:08X}", m.uid, inbox.uidvalidity);
            format!("{} {uidl}", i + 1)
        })
        .collect();
    assert_eq!(field(&out, "UIDL1 "), expected.join(","));
    // A new message gets a new UIDL; the old ones stay.
    let uid = server.deliver(USER, b"Subject: four\r\n\r\nfour\r\n").await;
    let again = server.python(script).await;
    assert_eq!(
        field(&again, "UIDL1 "),
        format!(
            "{},4 {:08X}{:08X}",
            expected.join(","),
            uid,
            inbox.uidvalidity
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pop3_session_of_the_same_user_is_told_the_maildrop_is_in_use() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
a = login(pop())
b = pop()
b.user(USER)
print("SECOND", fail(b.pass_, PASSWORD))
print("SASL", fail(b._shortcmd, "AUTH PLAIN " + plain()))
bob = login(pop(), "bob@example.test")
print("BOB", *bob.stat())
bob.quit()
a.quit()
b.user(USER)
print("AFTER", b.pass_(PASSWORD).decode())
b.close()          # gone without QUIT: the lock must still go
c = login_retry()
print("THIRD", *c.stat())
c.quit()
"#,
        )
        .await;
    assert_eq!(
        field(&out, "SECOND "),
        "-ERR [IN-USE] Maildrop already locked."
    );
    assert_eq!(
        field(&out, "SASL "),
        "-ERR [IN-USE] Maildrop already locked."
    );
    assert_eq!(field(&out, "BOB "), "0 0");
    assert_eq!(field(&out, "AFTER "), "+OK Logged in.");
    assert!(field(&out, "THIRD ").starts_with("3 "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dot_at_the_start_of_a_body_line_is_stuffed_on_the_wire_and_poplib_gets_the_bytes_back() {
    let server = Server::with_messages().await;
    server
        .python(
            r#"
s, f = raw(tls=True)
assert line(f).startswith("+OK")
s.sendall(b"USER alice@example.test\r\nPASS secret\r\nRETR 2\r\n")
assert line(f) == "+OK"
assert line(f) == "+OK Logged in."
assert line(f).startswith("+OK ")
data = b""
while True:
    l = f.readline()
    if not l or l == b".\r\n":
        break
    data += l
save("wire2", data)
s.sendall(b"QUIT\r\n")
assert line(f).startswith("+OK")
p = login_retry()
save("poplib2", joined(p.retr(2)[1]))
p.quit()
"#,
        )
        .await;
    let messages = server.messages(USER).await;
    let file = server.wire_bytes(USER, &messages[1]).await;
    let wire = server.out("wire2");
    assert!(
        wire.ends_with(b"Subject: dots\r\n\r\n..starts with a dot\r\n...two dots\r\n..\r\nend\r\n"),
        "{}",
        String::from_utf8_lossy(&wire)
    );
    assert_eq!(wire.len(), file.len() + 3);
    assert_eq!(server.out("poplib2"), file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_failed_login_is_answered_then_the_guesser_must_reconnect() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
p = pop()
for n in (1, 2, 3):
    p.user(USER)
    print(f"TRY{n}", fail(p.pass_, f"guess{n}"))
try:
    p.user(USER)
    print("AFTER", "still open")
except (poplib.error_proto, OSError, EOFError) as e:
    print("AFTER", "closed")
login(pop()).quit()
print("RECONNECTED", "ok")
"#,
        )
        .await;
    for n in 1..=3 {
        assert_eq!(
            field(&out, &format!("TRY{n} ")),
            "-ERR [AUTH] Authentication failed.",
            "{out:?}"
        );
    }
    assert_eq!(field(&out, "AFTER "), "closed", "{out:?}");
    assert_eq!(field(&out, "RECONNECTED "), "ok", "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_get_the_auth_response_code_and_a_later_good_login_works() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
p = pop()
p.user(USER)
print("WRONG", fail(p.pass_, "guess"))
p.user("nobody@example.test")
print("UNKNOWN", fail(p.pass_, PASSWORD))
print("NOUSER", fail(p.pass_, PASSWORD))
print("APOP", fail(p._shortcmd, "APOP alice 0123456789abcdef0123456789abcdef"))
print("MECH", fail(p._shortcmd, "AUTH CRAM-MD5"))
login(p)
print("OK", *p.stat())
p.quit()
p = pop()
print("SASL", fail(p._shortcmd, "AUTH PLAIN " + plain(password="guess")))
print("PROXY", fail(p._shortcmd, "AUTH PLAIN " + base64.b64encode(b"bob@example.test\0alice@example.test\0secret").decode()))
login(p)
p.quit()
"#,
        )
        .await;
    assert_eq!(field(&out, "WRONG "), "-ERR [AUTH] Authentication failed.");
    assert_eq!(
        field(&out, "UNKNOWN "),
        "-ERR [AUTH] Authentication failed."
    );
    assert_eq!(field(&out, "SASL "), "-ERR [AUTH] Authentication failed.");
    assert_eq!(field(&out, "PROXY "), "-ERR [AUTH] Authentication failed.");
    assert_eq!(field(&out, "NOUSER "), "-ERR No username given.");
    assert_eq!(field(&out, "APOP "), "-ERR APOP is not supported.");
    assert_eq!(
        field(&out, "MECH "),
        "-ERR Unsupported authentication mechanism."
    );
    assert!(field(&out, "OK ").starts_with("3 "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_works_with_an_initial_response_or_after_a_continuation_and_star_cancels() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
p = pop()
print("LIST", ",".join(l.decode() for l in p._longcmd("AUTH")[1]))
print("CONT", p._shortcmd("AUTH PLAIN").decode())
print("CANCEL", fail(p._shortcmd, "*"))
print("CONT2", p._shortcmd("AUTH PLAIN").decode())
print("DONE", p._shortcmd(plain()).decode())
print("AGAIN", fail(p._shortcmd, "AUTH PLAIN " + plain()))
print("STAT", *p.stat())
p.quit()
q = login_retry("bob@example.test")
q.quit()
r = pop()
print("INITIAL", r._shortcmd("AUTH PLAIN " + plain("bob@example.test")).decode())
r.quit()
"#,
        )
        .await;
    assert_eq!(field(&out, "LIST "), "PLAIN");
    assert_eq!(field(&out, "CONT "), "+ ");
    assert_eq!(
        field(&out, "CANCEL "),
        "-ERR Authentication aborted by client."
    );
    assert_eq!(field(&out, "CONT2 "), "+ ");
    assert_eq!(field(&out, "DONE "), "+OK Logged in.");
    assert_eq!(field(&out, "AGAIN "), "-ERR Already logged in.");
    assert!(field(&out, "STAT ").starts_with("3 "));
    assert_eq!(field(&out, "INITIAL "), "+OK Logged in.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop3s_speaks_tls_from_the_first_byte() {
    let server = Server::with_messages().await;
    let out = server
        .python(
            r#"
p = pops()
print("GREETING", p.getwelcome().decode())
caps = p.capa()
print("CAPA", " ".join(sorted(caps)))
login(p)
print("STAT", *p.stat())
p.quit()
"#,
        )
        .await;
    assert_eq!(field(&out, "GREETING "), "+OK mx.test POP3 havre ready");
    assert_eq!(
        field(&out, "CAPA "),
        "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER"
    );
    assert!(field(&out, "STAT ").starts_with("3 "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieved_messages_are_seen_after_quit_and_topped_ones_are_not() {
    let server = Server::with_messages().await;
    server
        .python(
            r#"
p = login(pop())
p.retr(1)
p.top(2, 0)
p.retr(3)
p.dele(3)
p.quit()
"#,
        )
        .await;
    let messages = server.messages(USER).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].flags, vec!["\\Seen".to_string()]);
    assert!(messages[1].flags.is_empty(), "{:?}", messages[1].flags);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_dropped_into_the_maildir_by_another_program_are_seen_at_login() {
    let server = Server::with_messages().await;
    let dropped = server.maildir(USER).join("new/1700000000.M1P1.other");
    std::fs::write(&dropped, b"Subject: from elsewhere\n\n.dot\nbody\n").unwrap();
    let out = server
        .python(
            r#"
p = login(pop())
print("STAT", *p.stat())
save("retr4", joined(p.retr(4)[1]))
p.quit()
"#,
        )
        .await;
    assert!(field(&out, "STAT ").starts_with("4 "));
    assert_eq!(
        server.out("retr4"),
        b"Subject: from elsewhere\r\n\r\n.dot\r\nbody\r\n".to_vec()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_any_mail_yet_has_an_empty_maildrop() {
    let server = common::start().await;
    let out = server
        .python(
            r#"
p = login(pop(), "bob@example.test")
print("STAT", *p.stat())
print("LIST", p.list()[0].decode())
p.quit()
"#,
        )
        .await;
    assert_eq!(field(&out, "STAT "), "0 0");
    assert_eq!(field(&out, "LIST "), "+OK 0 messages (0 octets)");
}
